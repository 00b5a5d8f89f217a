"""An invoice followed longer than a Standard execution may last (a year): its execution hands over
to a new one of the same state machine, which goes straight back to the milestone loop; nothing is
done twice and the payment still ends the path at once. Run on template.yaml on the embedded
runtime with the hand-over brought forward to 5 days (CONTINUE_AFTER_DAYS) instead of 330."""
from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest

from facteur.settings import clear_settings
from tests.e2e.helpers import ROOT, api, demo_runtime


@pytest.fixture(scope="module")
def rt(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("CONTINUE_AFTER_DAYS", "5")
    clear_settings()
    try:
        with demo_runtime(tmp_path_factory, "continuation") as runtime:
            yield runtime
    finally:
        mp.undo()
        clear_settings()


def execution(rt, name: str) -> dict:
    arn = rt.outputs["StateMachineArn"].replace(":stateMachine:", ":execution:") + f":{name}"
    return rt.client("stepfunctions").describe_execution(executionArn=arn)


def test_an_old_execution_continues_as_a_new_one(rt):
    data = json.loads((ROOT / "demo" / "inbox" / "FA-2026-1204.json").read_text())
    data["BT-1"] = f"CN-{uuid.uuid4().hex[:6]}"
    res = api(rt, "POST", "/invoices", data=json.dumps(data), headers={"Content-Type": "application/json"})
    iid = res.json()["invoice_id"]
    rt.settle()
    # Boulangerie Martin: "not opened" reminders at 48 h and 96 h... nobody opens it; day 6 is past
    # the (shortened) limit: the wake-up after it hands over
    rt.advance(timedelta(days=7))
    assert execution(rt, iid)["status"] == "SUCCEEDED" and execution(rt, f"{iid}-c1")["status"] == "RUNNING"
    # the new execution follows on: the overdue day (31 Dec) wakes it, and it hands over again
    rt.advance(timedelta(days=28))
    assert execution(rt, f"{iid}-c1")["status"] == "SUCCEEDED" and execution(rt, f"{iid}-c2")["status"] == "RUNNING"
    events = api(rt, "GET", f"/invoices/{iid}/timeline").json()["events"]
    kinds = [e["kind"] for e in events]
    assert kinds.count("continued") == 2 and kinds.count("overdue") == 1
    steps = [e["detail"]["rule"] for e in events if e["kind"] == "scenario_step"]
    assert len(steps) == len(set(steps)) and len(steps) == 3  # the three "not opened" reminders, each once
    # the payment wakes the current execution: the path ends at once
    assert api(rt, "POST", f"/invoices/{iid}/events", json={"kind": "paid"}).status_code == 200
    rt.settle()
    assert execution(rt, f"{iid}-c2")["status"] == "SUCCEEDED"
    assert not [e for e in rt.executions("RUNNING") if e["name"].startswith(iid)]
