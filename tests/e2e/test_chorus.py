"""A public buyer on Chorus Pro, on template.yaml on the embedded runtime, against the loopback
Chorus Pro (local/chorus.py, the PISTE contract).

Given the Mairie de Lyon, reached through Chorus Pro (its structure requires a service code, BT-10),
when the supplier sends invoices to it, then one without an active service code is held with
Chorus Pro's reason before anything is sent; one with it is deposited as a Factur-X E2 flow; the
status sweep then records what Chorus Pro says, mapped to the lifecycle (200, 203 = delivered to
the buyer, 211 payment sent, 208 suspended with the buyer's comment), each once."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest

from facteur_local.chorus import ChorusFake, Structure
from tests.e2e.helpers import SUPPLIER, api, demo_runtime, post_invoice

SIRET = "21690000100018"


@pytest.fixture(scope="module")
def chorus():
    fake = ChorusFake(structures={SIRET: Structure(SIRET, 4242, "Mairie de Lyon", service_code_required=True,
                                                   services={"SERV-TECH": True, "ANCIEN": False})})
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def rt(tmp_path_factory, chorus):
    directory = SUPPLIER + f"""    chorus: {{secret_id: facteur/chorus/atelier-dupont, token_url: "{chorus.url}/oauth/token", api_base: "{chorus.url}/cpro"}}
    customers:
      - id: mairie-de-lyon
        name: Mairie de Lyon
        siren: "216900001"
        vat_id: FR56216900001
        public_sector: true
        formats: [facturx]
        recipients:
          - {{id: ml-chorus, name: Mairie de Lyon (Chorus Pro), role: paying_office, channel: chorus_pro, endpoint: "{SIRET}"}}
"""
    with demo_runtime(tmp_path_factory, "chorus", directory) as runtime:
        chorus.now = runtime.now
        runtime.client("secretsmanager").create_secret(Name="facteur/chorus/atelier-dupont", SecretString=json.dumps({
            "client_id": chorus.client_id, "client_secret": chorus.client_secret, "login": chorus.login,
            "password": chorus.password, "user_id": 12345}))
        yield runtime


def post(rt, service_code: str | None) -> tuple[str, str]:
    return post_invoice(rt, "CP", {"name": "Mairie de Lyon", "legal_identifier": "216900001",
                                   "vat_identifier": "FR56216900001", "einvoicing_addr": "216900001"},
                        **({"BT-10": service_code} if service_code else {}))


def timeline(rt, iid: str) -> list[dict]:
    return api(rt, "GET", f"/invoices/{iid}/timeline").json()["events"]


@pytest.mark.parametrize("code,why", [(None, "requires a service code"), ("ANCIEN", "not an active service")])
def test_the_public_buyers_rules_hold_an_invoice_before_anything_is_sent(rt, chorus, code, why):
    before = len(chorus.deposits)
    iid, _ = post(rt, code)
    inv = api(rt, "GET", f"/invoices/{iid}").json()
    assert inv["status"] == "held" and len(chorus.deposits) == before
    (finding,) = [f for f in inv["findings"] if f["rule"] == "CHORUS-SERVICE"]
    assert why in finding["message"] and finding["bt"] == "BT-10"


def test_deposited_on_chorus_pro_then_followed_by_the_sweep(rt, chorus):
    iid, number = post(rt, "SERV-TECH")
    (deposit,) = [d for d in chorus.deposits if d.number == number]
    sent = [e for e in timeline(rt, iid) if e["kind"] == "sent"]
    assert [(e["recipient_id"], e["detail"]["channel"], e["detail"]["message_id"]) for e in sent] == \
        [("ml-chorus", "chorus_pro", deposit.flow)]
    assert api(rt, "GET", f"/invoices/{iid}").json()["status"] == "sent"
    # the 6-hourly sweep sees it deposited; the buyer's platform makes it available, then puts it
    # in payment (the sweep reads each invoice's current status: one seen per pass)
    rt.advance(timedelta(hours=7))
    chorus.advance(number, "MISE_A_DISPOSITION")
    rt.advance(timedelta(hours=7))
    chorus.advance(number, "MISE_EN_PAIEMENT")
    rt.advance(timedelta(hours=7))
    rt.advance(timedelta(hours=7))  # a pass that sees nothing new records nothing
    events = timeline(rt, iid)
    codes = [e.get("lifecycle_code") for e in events if e.get("detail", {}).get("platform") == "chorus_pro"]
    assert codes == [200, 203, 211]
    assert [e["recipient_id"] for e in events if e["kind"] == "delivered"] == ["ml-chorus"]
    assert api(rt, "GET", f"/invoices/{iid}").json()["status"] == "payment_sent"
    # the supplier's own 212 ends the path
    assert api(rt, "POST", f"/invoices/{iid}/events", json={"kind": "paid"}).json()["status"] == "paid"


def test_a_suspension_carries_the_buyers_comment(rt, chorus):
    iid, number = post(rt, "SERV-TECH")
    chorus.advance(number, "SUSPENDUE", "Bon de livraison manquant")
    rt.advance(timedelta(hours=7))
    inv = api(rt, "GET", f"/invoices/{iid}").json()
    assert inv["status"] == "suspended"
    (susp,) = [e for e in timeline(rt, iid) if e.get("lifecycle_code") == 208]
    assert susp["detail"]["reason"] == "Bon de livraison manquant" and susp["detail"]["chorus_status"] == "SUSPENDUE"
