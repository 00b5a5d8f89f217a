"""A buyer on a procurement network (cXML over HTTPS: SAP Ariba, Coupa), on template.yaml on the
embedded runtime, against the loopback network (local/procurement.py, which checks every document
against the cXML DTD, the shared secret and the buyer).

Given Groupe Hexa's validator on its Ariba-like network and its purchasing desk by e-mail:
- the invoice is posted as a valid cXML InvoiceDetailRequest; the network's status 200 is the
  recipient's delivery; a transient status (560) and an HTTP 503 are retried by the path (1 min,
  then 5 min later) with the same payloadID, and it is taken once;
- a wrong shared secret (401) is a permanent refusal for that recipient only, with the network's
  text, while the e-mail still goes;
- a network down for hours is retried by the path (deferred), then delivered once."""
from __future__ import annotations

from datetime import timedelta

import pytest

from facteur_local.procurement import CxmlNetwork
from tests.e2e.helpers import ROOT, SUPPLIER, api, demo_runtime, post_invoice

DTD = ROOT / "tests" / "fixtures" / "external" / "cxml" / "InvoiceDetail-1.2.037.dtd"
SECRET = "facteur/cxml/atelier-dupont/hexa-ariba"


@pytest.fixture(scope="module")
def network():
    net = CxmlNetwork(shared_secret="abracadabra", buyers={"AN02000000002"}, dtd=DTD)
    yield net
    net.stop()


@pytest.fixture(scope="module")
def rt(tmp_path_factory, network):
    directory = SUPPLIER + f"""    customers:
      - id: hexa-ariba
        name: Groupe Hexa SA
        siren: "542051180"
        vat_id: FR59542051180
        formats: [facturx]
        recipients:
          - {{id: hx-desk, name: Achats, role: central_purchasing, email: achats@groupe-hexa.example}}
          - {{id: hx-ariba, name: Hexa (Ariba), role: validator, channel: cxml, endpoint: "{network.url}",
             secret_id: {SECRET}, cxml: {{from_identity: AN01000000001, to_identity: AN02000000002}}}}
"""
    with demo_runtime(tmp_path_factory, "cxml", directory) as runtime:
        runtime.client("secretsmanager").create_secret(Name=SECRET, SecretString="abracadabra")
        yield runtime


def post(rt) -> tuple[str, str]:
    return post_invoice(rt, "CX", {"name": "Groupe Hexa SA", "legal_identifier": "542051180",
                                   "vat_identifier": "FR59542051180", "einvoicing_addr": "542051180"}, **{"BT-13": "HX-PO-4471"})


def events(rt, iid: str, kind: str, rid: str = "hx-ariba") -> list[dict]:
    return [e for e in api(rt, "GET", f"/invoices/{iid}/timeline").json()["events"]
            if e["kind"] == kind and e.get("recipient_id") == rid]


def test_posted_as_valid_cxml_retried_on_transient_errors_and_taken_once(rt, network):
    network.script = [560, ("http", 503)]
    iid, number = post(rt)
    rt.advance(timedelta(minutes=10))  # deferred by the path: 1 min, then 5 min later
    assert network.script == []
    mine = [r for r in network.requests if r.invoice_id == number]
    assert [r.status for r in mine] == [560, 503, 200]
    assert len({r.payload_id for r in mine}) == 1  # the same document each time
    (sent,) = events(rt, iid, "sent")
    assert sent["detail"]["channel"] == "cxml" and sent["detail"]["message_id"] == mine[0].payload_id
    assert len(events(rt, iid, "delivered")) == 1  # the network's 200 is the delivery
    doc = network.documents[mine[0].payload_id]
    assert b"<OrderIDInfo orderID=\"HX-PO-4471\"/>" in doc and number.encode() in doc


def test_a_refusal_by_the_network_is_that_recipients_only(rt, network):
    network.shared_secret = "changed-on-the-network-side"
    try:
        iid, _ = post(rt)
    finally:
        network.shared_secret = "abracadabra"
    (bounced,) = events(rt, iid, "bounced")
    assert bounced["detail"]["channel"] == "cxml" and bounced["detail"]["error"] == "cxml_401"
    assert events(rt, iid, "sent", rid="hx-desk")  # the e-mail went
    assert api(rt, "GET", f"/invoices/{iid}").json()["status"] in ("sent", "delivered")


def test_a_network_down_for_hours_is_retried_by_the_path_then_delivered_once(rt, network):
    network.script = [("http", 503)] * 4
    iid, number = post(rt)
    assert not events(rt, iid, "delivered")
    rt.advance(timedelta(hours=2))  # deferred: 1, 5, 15, 60 min
    assert network.script == []
    assert len(events(rt, iid, "delivered")) == 1
    assert [r.status for r in network.requests if r.invoice_id == number] == [503, 503, 503, 503, 200]
