"""The milestone loop's wake-ups on template.yaml (embedded runtime, virtual clock): one state
parked with its task token, woken by an EventBridge Scheduler one-time schedule at the planned
time or by the event that moves the invoice; a lost schedule made up for by the state's watchdog
timeout; a throttled Scheduler retried by the path. What an invoice's path costs in transitions is
asserted exactly (the figures of `make bench`'s cost line come from these histories).

One customer, one payer by e-mail, "not opened within 48 h -> one reminder"."""
from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, time, timedelta

import pytest
import requests

from bench.cost import ONE_RECIPIENT as DIRECTORY  # the path `make bench` prices
from facteur_local.runtime import LocalRuntime
from tests.e2e.helpers import ROOT, api, local_url

GROUP = "facteur-dev"


@pytest.fixture(scope="module")
def rt(tmp_path_factory):
    out = tmp_path_factory.mktemp("wakeups")
    with LocalRuntime(out_dir=out, log_file=out / "lambda.jsonl") as runtime:
        runtime.load_directory(DIRECTORY)
        yield runtime


@pytest.fixture(autouse=True)
def disarmed(rt):
    yield
    requests.delete(f"{local_url(rt)}/faults", timeout=30)


def post(rt, **buyer: str) -> str:
    data = json.loads((ROOT / "demo" / "inbox" / "FA-2026-1204.json").read_text())
    data["BT-1"] = f"WK-{uuid.uuid4().hex[:8]}"
    data["BG-7"] = {**data["BG-7"], **buyer}
    res = api(rt, "POST", "/invoices", data=json.dumps(data), headers={"Content-Type": "application/json"})
    assert res.status_code == 202, res.text
    rt.settle()
    return res.json()["invoice_id"]


def schedule(rt, iid: str) -> dict | None:
    try:
        return rt.client("scheduler").get_schedule(Name=f"wake-{iid}", GroupName=GROUP)
    except rt.client("scheduler").exceptions.ResourceNotFoundException:
        return None


def history(rt, execution: str) -> tuple[str, list[str]]:
    arn = rt.outputs["StateMachineArn"].replace(":stateMachine:", ":execution:") + f":{execution}"
    sfn = rt.client("stepfunctions")
    events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    entered = [e["stateEnteredEventDetails"]["name"] for e in events if e["type"].endswith("StateEntered")]
    return sfn.describe_execution(executionArn=arn)["status"], entered


def reminders(rt, iid: str) -> list:
    return [m for m in rt.outbox.mails if m.tags.get("invoice_id") == iid and m.tags.get("purpose", "").startswith("sc-")]


def test_woken_by_its_schedule_then_ended_by_the_payment_in_six_transitions(rt):
    iid = post(rt)
    t0 = rt.now()
    s = schedule(rt, iid)
    assert s is not None and s["ActionAfterCompletion"] == "NONE"  # kept after firing: the next park updates it
    at = s["ScheduleExpression"]  # the 48 h "not opened" milestone, to the second
    assert at.startswith(f"at({(t0 + timedelta(hours=48)).strftime('%Y-%m-%dT%H:%M')}"), at
    rt.advance(timedelta(hours=50))
    (reminder,) = reminders(rt, iid)
    assert abs(reminder.sent_at - (t0 + timedelta(hours=48))) < timedelta(minutes=1)
    assert [f["outcome"] for f in rt.one_time.fired if f["name"] == f"wake-{iid}"] == ["ok"]
    assert history(rt, iid) == ("RUNNING", ["Check", "Dispatch", "Milestones", "Milestones"])
    parked = schedule(rt, iid)  # parked again: its next planned check, a new schedule of the same name
    assert parked is not None and parked["ScheduleExpression"] != at

    assert api(rt, "POST", f"/invoices/{iid}/events", json={"kind": "paid"}).status_code == 200
    rt.settle()  # no clock: the payment hands the token back, the execution ends at once
    status, entered = history(rt, iid)
    assert (status, entered[-2:], len(entered)) == ("SUCCEEDED", ["Milestones", "Paid"], 6)
    assert schedule(rt, iid) is None  # nothing left to fire


def test_a_lost_schedule_is_made_up_for_by_the_watchdog(rt):
    iid = post(rt)
    t0 = rt.now()
    rt.client("scheduler").delete_schedule(Name=f"wake-{iid}", GroupName=GROUP)  # lost (deleted by hand)
    rt.advance(timedelta(days=36))
    (reminder,) = reminders(rt, iid)  # late, but it came: the state's 35-day timeout woke the loop
    assert timedelta(days=35) - timedelta(minutes=1) < reminder.sent_at - t0 < timedelta(days=35, minutes=1)
    status, entered = history(rt, iid)
    assert status == "RUNNING" and entered[-2:] == ["Milestones", "Milestones"]
    assert schedule(rt, iid) is not None  # and it plans with a schedule again


def test_a_throttled_scheduler_is_retried_by_the_path(rt):
    res = requests.post(f"{local_url(rt)}/faults", json={"target": "scheduler:UpdateSchedule",
                                                         "error": "ThrottlingException", "times": 2}, timeout=30)
    assert res.status_code == 201
    iid = post(rt)
    faults = requests.get(f"{local_url(rt)}/faults", timeout=30).json()
    assert sum(1 for f in faults["fired"] if f["target"] == "scheduler:UpdateSchedule") == 2
    assert schedule(rt, iid) is not None
    status, entered = history(rt, iid)
    assert status == "RUNNING" and entered == ["Check", "Dispatch", "Milestones"]  # retried within the state
    t0 = rt.now()
    rt.advance(timedelta(hours=49))
    (reminder,) = reminders(rt, iid)
    assert reminder.sent_at - t0 < timedelta(hours=48, minutes=1)


def test_a_held_invoice_goes_through_dispatch_unsent_and_its_path_ends_held(rt):
    iid = post(rt, name="Inconnue SARL", legal_identifier="443061841", vat_identifier="FR81443061841",
               einvoicing_addr="443061841")
    invoice = api(rt, "GET", f"/invoices/{iid}").json()
    assert invoice["status"] == "held" and invoice["findings"]
    assert history(rt, iid) == ("SUCCEEDED", ["Check", "Dispatch", "Milestones", "Held"])
    assert [m for m in rt.outbox.mails if m.tags.get("invoice_id") == iid] == []  # never left
    assert schedule(rt, iid) is None


def test_an_invoice_held_until_the_customer_s_date_is_checked_again_and_sent_that_morning(rt):
    from zoneinfo import ZoneInfo

    paris = ZoneInfo("Europe/Paris")
    day = (rt.now().astimezone(paris) + timedelta(days=3)).date()  # the customer's year-end closing ends then
    customer = {"name": "Cave Leroy SARL", "siren": "542051180", "vat_id": "FR59542051180", "formats": ["facturx"],
                "recipients": [{"id": "cl-compta", "name": "Comptabilité", "role": "payer", "email": "compta@cave-leroy.example"}],
                "hold": {"not_before": day.isoformat()}}
    assert api(rt, "PUT", "/customers/cave-leroy", json=customer).status_code == 200
    iid = post(rt, name="Cave Leroy SARL", legal_identifier="542051180", vat_identifier="FR59542051180",
               einvoicing_addr="542051180")
    held = api(rt, "GET", f"/invoices/{iid}").json()
    assert held["status"] == "held" and [f["rule"] for f in held["findings"] if f["severity"] in ("fatal", "error")] == ["HOLD-NOT-BEFORE"]
    assert held["next_due_at"].startswith(f"{day - timedelta(days=1)}T23:00")  # that day's start in Paris (UTC+1)
    mails = lambda: [m for m in rt.outbox.mails if m.tags.get("invoice_id") == iid]
    rt.advance_to(datetime.combine(day, time(5, 59), tzinfo=UTC))
    assert mails() == []  # nothing leaves before the date
    rt.advance_to(datetime.combine(day, time(8), tzinfo=UTC))
    (mail,) = mails()  # the daily sweep (06:00 UTC) checked it again: it passed, it left
    assert mail.to == ["compta@cave-leroy.example"] and mail.sent_at.astimezone(paris).date() == day
    events = api(rt, "GET", f"/invoices/{iid}/timeline").json()["events"]
    kinds = [e["kind"] for e in events]
    assert kinds.index("redriven") < kinds.index("deposited") < kinds.index("sent")
    (redriven,) = [e for e in events if e["kind"] == "redriven"]
    assert redriven["detail"]["run"] == 2
    assert history(rt, f"{iid}-2") == ("RUNNING", ["Check", "Dispatch", "Milestones"])  # its second run, now following it
