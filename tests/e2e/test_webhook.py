"""The webhook channel on template.yaml on the embedded runtime, against a real receiver on loopback.

Given a customer whose validator takes invoices on its own API (Standard Webhooks, signed with
the endpoint's secret kept in Secrets Manager) and whose payer takes them by e-mail,
when an invoice is sent and the endpoint answers 503 five times before 200,
then the invoice is pushed until it is taken, received once with a valid signature and one
webhook id, the 2xx recorded as the validator's delivery; an endpoint that refuses (410) is
recorded with its answer, the e-mail recipient unaffected; a secret of another supplier is refused."""
from __future__ import annotations

import base64
import json
import secrets
import uuid
from datetime import timedelta

import pytest

from facteur_local.webhooks import WebhookReceiver
from tests.e2e.helpers import ROOT, SUPPLIER, api, demo_runtime

SECRET = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def directory(url: str, secret_id: str) -> str:
    return SUPPLIER + f"""    customers:
      - id: portail-client
        name: Portail Client SA
        siren: "130005481"
        vat_id: FR54130005481
        formats: [facturx, ubl]
        recipients:
          - {{id: pc-ap, name: Comptabilité, role: payer, email: ap@portail-client.example}}
          - {{id: pc-api, name: API achats, role: validator, channel: http, endpoint: "{url}/invoices", secret_id: {secret_id}}}
"""


@pytest.fixture(scope="module")
def receiver():
    r = WebhookReceiver(secret=SECRET)
    yield r
    r.stop()


@pytest.fixture(scope="module")
def rt(tmp_path_factory, receiver):
    secret_id = "facteur/webhooks/atelier-dupont/portail-client"
    path = tmp_path_factory.mktemp("webhook-dir") / "directory.yaml"
    path.write_text(directory(receiver.url, secret_id))
    with demo_runtime(tmp_path_factory, "webhook") as runtime:
        runtime.client("secretsmanager").create_secret(Name=secret_id, SecretString=SECRET)
        runtime.load_directory(path)
        yield runtime


def send(rt, wait: timedelta = timedelta(hours=6)) -> tuple[str, str]:
    data = json.loads((ROOT / "demo" / "inbox" / "FA-2026-1204.json").read_text())
    number = f"WH-{uuid.uuid4().hex[:8]}"
    data.update({"BT-1": number})
    data["BG-7"] = {**data["BG-7"], "name": "Portail Client SA", "legal_identifier": "130005481", "vat_identifier": "FR54130005481",
                    "einvoicing_addr": "130005481"}
    res = api(rt, "POST", "/invoices", data=json.dumps(data), headers={"Content-Type": "application/json"})
    assert res.status_code == 202, res.text
    rt.advance(wait)  # a receiver that is down is retried by the invoice's path on the virtual clock
    return res.json()["invoice_id"], number


def test_an_endpoint_failing_five_times_gets_the_invoice_once(rt, receiver):
    receiver.script[:] = [503] * 5
    before = len(receiver.requests)
    iid, number = send(rt)
    mine = [r for r in receiver.requests[before:] if r.json["data"]["number"] == number]
    assert [r.status for r in mine] == [503] * 5 + [200] and all(r.valid for r in mine)
    # backing off: 1 min, 5 min, 15 min, 1 h, 3 h after each refusal (the e-mail recipient had it at once)
    at = [int(r.headers["webhook-timestamp"]) for r in mine]  # signed with the (virtual) time of each attempt
    gaps = [round((b - a) / 60) for a, b in zip(at, at[1:], strict=False)]
    assert gaps == [1, 5, 15, 60, 180], gaps
    assert len({r.headers["webhook-id"] for r in mine}) == 1  # the same delivery, retried
    (taken,) = [r for r in receiver.accepted() if r.json["data"]["number"] == number]
    data = taken.json["data"]
    assert taken.json["type"] == "invoice.issued" and data["role"] == "validator" and data["amount_due"] == "180.00"
    assert data["download_url"].startswith("http") and "/d/v1." in data["download_url"]
    events = api(rt, "GET", f"/invoices/{iid}/timeline").json()["events"]
    by = {(e["kind"], e.get("recipient_id")) for e in events}
    assert {("sent", "pc-api"), ("delivered", "pc-api"), ("sent", "pc-ap")} <= by
    assert [e["kind"] for e in events if e.get("recipient_id") == "pc-api"].count("sent") == 1
    assert api(rt, "GET", f"/invoices/{iid}").json()["status"] in ("sent", "delivered")


def test_an_endpoint_that_refuses_is_recorded_and_the_email_still_goes(rt, receiver):
    receiver.script[:] = [410]
    iid, number = send(rt)
    events = api(rt, "GET", f"/invoices/{iid}/timeline").json()["events"]
    bounced = [e for e in events if e["kind"] == "bounced" and e.get("recipient_id") == "pc-api"]
    assert bounced and bounced[0]["detail"]["error"] == "http_410"
    assert ("sent", "pc-ap") in {(e["kind"], e.get("recipient_id")) for e in events}
    assert not [r for r in receiver.accepted() if r.json["data"]["number"] == number]


def test_an_endpoint_down_for_a_day_is_given_up_then_redriven(rt, receiver):
    receiver.script[:] = [503] * 30
    before = len(receiver.requests)
    iid, number = send(rt, wait=timedelta(hours=30))
    mine = [r for r in receiver.requests[before:] if r.json["data"]["number"] == number]
    span = int(mine[-1].headers["webhook-timestamp"]) - int(mine[0].headers["webhook-timestamp"])
    assert mine and all(r.status == 503 for r in mine) and 24 * 3600 <= span <= 30 * 3600
    events = api(rt, "GET", f"/invoices/{iid}/timeline").json()["events"]
    (gave_up,) = [e for e in events if e["kind"] == "bounced" and e.get("recipient_id") == "pc-api"]
    assert gave_up["detail"]["gave_up"].startswith("gave up after 24 h")
    assert api(rt, "GET", f"/invoices/{iid}").json()["status"] in ("sent", "delivered")  # the e-mail went: not failed
    # the receiver is back: the supplier redrives it, delivered once
    receiver.script[:] = []
    res = api(rt, "POST", f"/invoices/{iid}/redeliver")
    assert res.status_code == 200 and res.json()["redelivering"] == 1, res.text
    rt.settle()
    taken = [r for r in receiver.accepted() if r.json["data"]["number"] == number]
    assert len(taken) == 1 and ("delivered", "pc-api") in {
        (e["kind"], e.get("recipient_id")) for e in api(rt, "GET", f"/invoices/{iid}/timeline").json()["events"]}
    assert api(rt, "POST", f"/invoices/{iid}/redeliver").status_code == 409  # nothing left to redeliver


def test_a_reminder_to_an_endpoint_that_is_down_is_retried_by_the_path_not_lost(rt, receiver):
    iid, number = send(rt, wait=timedelta(hours=1))  # taken at once
    receiver.script_for[f'"number": "{number}"'] = [503] * 3  # down when the "not opened" reminder falls due (72 h)
    before = len(receiver.requests)
    rt.advance(timedelta(hours=73))
    mine = [r for r in receiver.requests[before:] if r.json["data"]["number"] == number]
    assert [r.status for r in mine] == [503] * 3 + [200] and mine[-1].json["type"] == "invoice.reminder"
    assert len({r.headers["webhook-id"] for r in mine}) == 1  # one delivery of one message
    events = api(rt, "GET", f"/invoices/{iid}/timeline").json()["events"]
    reminded = [e for e in events if e["kind"] == "reminded" and e.get("recipient_id") == "pc-api"]
    assert len(reminded) == 1
    (step,) = [e for e in events if e["kind"] == "scenario_step"]
    assert step["detail"]["deferred_to"] == ["pc-api"] and "pc-ap" in step["detail"]["sent_to"]
    assert api(rt, "GET", f"/invoices/{iid}").json()["status"] not in ("failed",)
