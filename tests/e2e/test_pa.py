"""A buyer reached through the French network, on template.yaml on the embedded runtime, against
the loopback PA (local/pa.py, the AFNOR XP Z12-013 flow and directory contracts).

Given Hôtels du Rhône, whose paying office receives through the supplier's PA and whose payer by
e-mail, when the supplier sends invoices to it, then:
- an invoice whose buyer address is not in the French directory is held before anything leaves;
- one that is: the Factur-X is submitted as a flow (its answer lost once: not submitted twice);
  the sweep applies what the PA says (200, then the buyer's 203 = the PA recipient's delivery,
  205), each once; the supplier's payment goes back to the PA as a valid CDAR 212, once;
- a refusal (210) by CDAR ends the path with the buyer's reason; the platform's own refusal of the
  file (acknowledgement Error) is its rejection (213) with the platform's reasons;
- a lifecycle message about an invoice Facteur does not know is kept and reported, never dropped."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest

from facteur_local.pa import Line, PaFake
from tests.e2e.helpers import SUPPLIER, api, demo_runtime, post_invoice

SIREN = "443061841"


@pytest.fixture(scope="module")
def pa():
    fake = PaFake(lines={SIREN: Line(SIREN, SIREN, "Hôtels du Rhône SA"),
                         f"{SIREN}_ANCIEN": Line(f"{SIREN}_ANCIEN", SIREN, "Hôtels du Rhône SA", enabled=False)})
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def rt(tmp_path_factory, pa):
    directory = SUPPLIER + f"""    pa: {{name: PA Exemple, secret_id: facteur/pa/atelier-dupont, token_url: "{pa.url}/token",
         flow_api: "{pa.url}/flow-service", directory_api: "{pa.url}/directory-service"}}
    customers:
      - id: hotels-du-rhone
        name: Hôtels du Rhône SA
        siren: "{SIREN}"
        vat_id: FR64443061841
        formats: [facturx]
        recipients:
          - {{id: hr-compta, name: Comptabilité, role: payer, email: compta@hotels-du-rhone.example}}
          - {{id: hr-pa, name: Hôtels du Rhône (PA), role: paying_office, channel: pa}}
"""
    with demo_runtime(tmp_path_factory, "pa", directory) as runtime:
        pa.now = runtime.now
        runtime.client("secretsmanager").create_secret(Name="facteur/pa/atelier-dupont", SecretString=json.dumps({
            "client_id": pa.client_id, "client_secret": pa.client_secret}))
        yield runtime


def post(rt, address: str = SIREN) -> tuple[str, str]:
    return post_invoice(rt, "PA", {"name": "Hôtels du Rhône SA", "legal_identifier": SIREN,
                                   "vat_identifier": "FR64443061841", "einvoicing_addr": address})


def timeline(rt, iid: str) -> list[dict]:
    return api(rt, "GET", f"/invoices/{iid}/timeline").json()["events"]


def sweep(rt) -> None:
    rt.advance(timedelta(hours=6, minutes=5))


def pa_codes(rt, iid: str) -> list[int]:
    return [e["lifecycle_code"] for e in timeline(rt, iid) if e.get("detail", {}).get("platform") == "pa"]


def test_an_address_the_directory_does_not_route_holds_the_invoice_before_anything_leaves(rt, pa):
    before = len(pa.flows)
    for address, why in ((f"{SIREN}_ANCIEN", "no platform receives"), ("999999999", "not in the French")):
        iid, _ = post(rt, address)
        inv = api(rt, "GET", f"/invoices/{iid}").json()
        assert inv["status"] == "held"
        (finding,) = [f for f in inv["findings"] if f["rule"] == "PA-DIRECTORY"]
        assert why in finding["message"] and finding["bt"] == "BT-49"
    assert len(pa.flows) == before


def test_submitted_once_followed_by_the_sweep_and_the_payment_reported_back(rt, pa):
    pa.script = [("POST /flow-service/v1/flows", "lose_answer")]  # the PA takes the first submission and its answer is lost: retried, found by tracking id
    iid, number = post(rt)
    rt.advance(timedelta(minutes=2))  # the path's retry (RetryableError: 5 s, then backoff)
    assert pa.script == []  # the lost answer happened
    invoices = [f for f in pa.flows if f.number == number and f.info["flowType"] == "CustomerInvoice"]
    assert len(invoices) == 1 and invoices[0].info["flowSyntax"] == "Factur-X" and invoices[0].info["flowProfile"] == "CIUS"
    sent = {e["recipient_id"]: e["detail"] for e in timeline(rt, iid) if e["kind"] == "sent"}
    assert sent["hr-pa"]["channel"] == "pa" and sent["hr-pa"]["message_id"] == invoices[0].id
    assert sent["hr-compta"]["channel"] == "email"
    pa.respond(number, 202)
    pa.respond(number, 203)
    sweep(rt)
    pa.respond(number, 205)
    sweep(rt)
    sweep(rt)  # a pass that sees nothing new records nothing
    assert pa_codes(rt, iid) == [200, 202, 203, 205]
    delivered = [e for e in timeline(rt, iid) if e["kind"] == "delivered" and e["recipient_id"] == "hr-pa"]
    assert len(delivered) == 1 and delivered[0]["actor"] == "platform:pa"
    assert api(rt, "GET", f"/invoices/{iid}").json()["status"] == "approved"
    # the supplier cashes it: 212 goes to the PA as a CDAR message, valid by the official rules, once
    assert api(rt, "POST", f"/invoices/{iid}/events", json={"kind": "paid", "reference": "VIR-1"}).json()["status"] == "paid"
    rt.settle()
    assert (number, 212) in pa.received_statuses()
    out = [f for f in pa.flows if f.number == number and f.info["flowDirection"] == "Out" and f.info["flowSyntax"] == "CDAR"]
    assert len(out) == 1 and out[0].info["acknowledgement"] == {"status": "Ok"}
    from facteur.controls.official import check

    assert check(out[0].data).blocking == []
    reported = [e for e in timeline(rt, iid) if e["kind"] == "status_reported"]
    assert [(e["recipient_id"], e["detail"]["status_code"]) for e in reported] == [("hr-pa", 212)]


def test_a_refusal_by_cdar_ends_the_path_with_the_buyers_reason(rt, pa):
    iid, number = post(rt)
    pa.respond(number, 210, reason_code="TX_TVA_ERR", reason="Taux de TVA erroné")
    sweep(rt)
    inv = api(rt, "GET", f"/invoices/{iid}").json()
    assert inv["status"] == "refused"
    (refusal,) = [e for e in timeline(rt, iid) if e.get("lifecycle_code") == 210]
    assert refusal["detail"]["reason"] == "Taux de TVA erroné" and refusal["detail"]["reason_code"] == "TX_TVA_ERR"
    assert refusal["detail"]["cdar_key"].startswith("lifecycle/atelier-dupont/pa/")


def test_the_platforms_refusal_of_the_file_is_its_rejection(rt, pa):
    pa.reject_next = "Destinataire inconnu de la plateforme"
    iid, _ = post(rt)
    sweep(rt)
    inv = api(rt, "GET", f"/invoices/{iid}").json()
    assert inv["status"] == "refused"  # 213 ends the path as 210 does: only a corrected invoice goes on
    (rejection,) = [e for e in timeline(rt, iid) if e.get("lifecycle_code") == 213]
    assert "Destinataire inconnu de la plateforme" in rejection["detail"]["reason"]


def test_a_lifecycle_message_about_an_unknown_invoice_is_kept_and_reported(rt, pa):
    iid, number = post(rt)
    flow = pa.respond(number, 204, notify=False)
    flow.number = None
    flow.data = flow.data.replace(number.encode(), b"INCONNUE-1")
    pa.notify(flow)
    rt.settle()
    s3 = rt.client("s3")
    bucket = rt.outputs["DocumentsBucketName"]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="lifecycle/atelier-dupont/not-applied/")
            .get("Contents", [])]
    (key,) = [k for k in keys if flow.id in k]
    report = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    assert "INCONNUE-1" in report["why"] and report["kept_as"].startswith("lifecycle/atelier-dupont/pa/")
    assert 204 not in [e.get("lifecycle_code") for e in timeline(rt, iid)]


def test_the_pas_webhook_brings_a_status_within_seconds_and_strangers_cannot_ring(rt, pa):
    import requests

    iid, number = post(rt)
    sweep(rt)  # the scheduled pass keeps the supplier's webhook registered at the PA (once)
    (hook,) = pa.webhooks.values()
    assert hook["callbackUrl"].startswith(f"{rt.api_url}/pa/events/atelier-dupont/")
    assert set(hook["flowTypes"]) == {"CustomerInvoice", "CustomerInvoiceLC"}
    pa.respond(number, 203)  # the PA rings: the supplier's sweep runs now, not in six hours
    rt.settle()
    assert pa_codes(rt, iid)[-1] == 203
    wrong = requests.post(f"{rt.api_url}/pa/events/atelier-dupont/not-the-token", json={}, timeout=30)
    other = requests.post(f"{rt.api_url}/pa/events/other-supplier/{hook['callbackUrl'].rsplit('/', 1)[1]}", json={},
                          timeout=30)
    assert (wrong.status_code, other.status_code) == (404, 404)
    sweep(rt)
    assert len(pa.webhooks) == 1  # still registered, not twice
