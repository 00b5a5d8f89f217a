"""The unhappy paths on the embedded runtime, through its public fault control
(`POST /_local/faults`): throttling bursts, a permanent refusal of one recipient, crashes after
a side effect, duplicated channel events. Each invoice is its own (fresh number), so the tests
do not depend on each other's order.

Given a supplier whose customer Boulangerie Martin has two e-mail recipients,
when AWS misbehaves while an invoice travels,
then every recipient gets the invoice exactly once, or a recorded reason why not."""
from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
import requests

from tests.e2e.helpers import ROOT, api, demo_runtime, disarmed, local_url  # noqa: F401 - disarmed is a fixture

MARTIN = ["compta@boulangerie-martin.example", "claire.martin@boulangerie-martin.example"]


@pytest.fixture(scope="module")
def rt(tmp_path_factory):
    with demo_runtime(tmp_path_factory, "faults") as runtime:
        yield runtime


def arm(rt, **spec) -> None:
    res = requests.post(f"{local_url(rt)}/faults", json=spec, timeout=10)
    assert res.status_code == 201, res.text


def post_martin_invoice(rt) -> tuple[str, str]:
    """A new invoice for Boulangerie Martin (two recipients); returns (invoice id, number)."""
    data = json.loads((ROOT / "demo" / "inbox" / "FA-2026-1204.json").read_text())
    number = f"FT-{uuid.uuid4().hex[:8]}"
    data["BT-1"] = number
    res = api(rt, "POST", "/invoices", data=json.dumps(data), headers={"Content-Type": "application/json"})
    assert res.status_code == 202, res.text
    return res.json()["invoice_id"], number


def mails_for(rt, invoice_id: str, reminder: bool = False) -> list:
    return [m for m in rt.outbox.mails if m.tags.get("invoice_id") == invoice_id
            and m.tags.get("purpose", "initial").startswith("reminder") == reminder]


def timeline(rt, invoice_id: str) -> list[dict]:
    return api(rt, "GET", f"/invoices/{invoice_id}/timeline").json()["events"]


def test_a_throttling_burst_is_retried_until_every_recipient_has_the_invoice_once(rt):
    # Given SES answers TooManyRequests six times in a row
    arm(rt, target="sesv2:SendEmail", error="TooManyRequestsException", times=6)
    # When an invoice is dispatched
    iid, _ = post_martin_invoice(rt)
    rt.settle()
    rt.advance(timedelta(minutes=30))  # the state machine's backoff runs on the virtual clock
    # Then both recipients got it exactly once and the invoice moved on (not failed)
    assert sorted(m.to[0] for m in mails_for(rt, iid)) == sorted(MARTIN)
    inv = api(rt, "GET", f"/invoices/{iid}").json()
    assert inv["status"] in ("sent", "delivered"), inv
    sent = [e for e in timeline(rt, iid) if e["kind"] == "sent"]
    assert sorted(e["recipient_id"] for e in sent) == ["bm-compta", "bm-gerant"]
    fired = requests.get(f"{local_url(rt)}/faults", timeout=10).json()["fired"]
    assert len([f for f in fired if f["target"] == "sesv2:SendEmail"]) >= 6


def test_a_permanent_refusal_of_one_recipient_does_not_stop_the_others(rt):
    # Given SES rejects the first message (MessageRejected is permanent)
    arm(rt, target="sesv2:SendEmail", error="MessageRejected", times=1)
    iid, _ = post_martin_invoice(rt)
    rt.settle()
    # Then the other recipient has it, the invoice is sent, and the refusal is on the timeline
    assert [m.to[0] for m in mails_for(rt, iid)] == [MARTIN[1]]
    inv = api(rt, "GET", f"/invoices/{iid}").json()
    assert inv["status"] in ("sent", "delivered")
    refused = [e for e in timeline(rt, iid) if e["kind"] == "bounced" and e["detail"].get("stage") == "send"]
    assert [(e["recipient_id"], e["detail"]["error"]) for e in refused] == [("bm-compta", "MessageRejected")]


def test_every_recipient_refused_fails_the_invoice_with_the_reasons_and_retry_runs_it_again(rt):
    arm(rt, target="sesv2:SendEmail", error="MessageRejected", times=2)
    iid, _ = post_martin_invoice(rt)
    rt.settle()
    inv = api(rt, "GET", f"/invoices/{iid}").json()
    assert inv["status"] == "failed"
    failed = [e for e in timeline(rt, iid) if e["kind"] == "failed"]
    assert "bm-compta" in failed[-1]["detail"]["cause"] and "Traceback" not in json.dumps(failed)
    # When the supplier fixed the cause and asks for a retry, the path runs again and sends
    res = api(rt, "POST", f"/invoices/{iid}/retry")
    assert res.status_code == 202, res.text
    rt.settle()
    assert sorted(m.to[0] for m in mails_for(rt, iid)) == sorted(MARTIN)
    assert api(rt, "GET", f"/invoices/{iid}").json()["status"] in ("sent", "delivered")
    # A retry of an invoice that is not failed is refused
    assert api(rt, "POST", f"/invoices/{iid}/retry").status_code == 409


def test_a_crash_after_ses_accepted_never_sends_twice(rt):
    # Given the dispatch Lambda dies right after SES accepted the first message
    arm(rt, target="sesv2:SendEmail", crash="after_side_effect", times=1)
    iid, _ = post_martin_invoice(rt)
    rt.settle()
    rt.advance(timedelta(minutes=30))  # retries wait for the dead sender's lease to expire
    # Then each recipient received exactly one e-mail, and the invoice moved on
    assert sorted(m.to[0] for m in mails_for(rt, iid)) == sorted(MARTIN)
    inv = api(rt, "GET", f"/invoices/{iid}").json()
    assert inv["status"] in ("sent", "delivered"), inv
    assert rt.registry.crashes, "the crash was injected"
    # The claim the dead sender left became `unconfirmed`, then SES's own Delivery event settled it
    from facteur.tracking.deliveries import DeliveryState, DeliveryStore

    records = DeliveryStore(rt.outputs["InvoicesTableName"], rt.client("dynamodb")).all(iid)
    assert sorted(d.recipient_id for d in records) == ["bm-compta", "bm-gerant"]
    assert {d.state for d in records} == {DeliveryState.SENT} and all(d.message_id for d in records)
    sent = [e for e in api(rt, "GET", f"/invoices/{iid}/timeline").json()["events"] if e["kind"] == "sent"]
    assert sorted(e["recipient_id"] for e in sent) == ["bm-compta", "bm-gerant"]  # each milestone once


def test_a_dispatch_function_crash_after_its_work_is_retried_without_a_second_send(rt):
    arm(rt, target="function:DispatchFunction", crash="after_side_effect", times=1)
    iid, _ = post_martin_invoice(rt)
    rt.settle()
    rt.advance(timedelta(minutes=5))
    assert sorted(m.to[0] for m in mails_for(rt, iid)) == sorted(MARTIN)
    kinds = [e["kind"] for e in timeline(rt, iid)]
    assert kinds.count("sent") == 2 and "failed" not in kinds


def test_a_redelivered_ses_event_is_recorded_once(rt):
    iid, _ = post_martin_invoice(rt)
    rt.settle()
    before = [e for e in timeline(rt, iid) if e["kind"] == "delivered"]
    assert len(before) == 2
    # When EventBridge delivers the same SES events again (at-least-once)
    for mail in mails_for(rt, iid):
        rt.relay.redeliver(mail)
    rt.settle()
    assert len([e for e in timeline(rt, iid) if e["kind"] == "delivered"]) == 2
