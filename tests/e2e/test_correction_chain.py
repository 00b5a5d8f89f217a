"""The correction path after a refusal, on template.yaml on the embedded runtime: a refused (210)
invoice is corrected by a new invoice pointing at it (BG-3), the two linked both ways; a chain
refused again and again stops (held) instead of looping; an accepted invoice is reissued only after
a credit note cancelled it (the credit note ends the first invoice's path at once)."""
from __future__ import annotations

import json
import uuid

import pytest

from tests.e2e.helpers import ROOT, api, demo_runtime


@pytest.fixture(scope="module")
def rt(tmp_path_factory):
    with demo_runtime(tmp_path_factory, "corrections") as runtime:
        yield runtime


def post(rt, refers_to: str | None = None, type_code: str = "380") -> tuple[str, str]:
    data = json.loads((ROOT / "demo" / "inbox" / "FA-2026-1204.json").read_text())
    number = f"CO-{uuid.uuid4().hex[:6]}"
    # BT-26 with BT-25: the French rules (BR-FR-CO-05) want the preceding invoice's date on a credit note
    data.update({"BT-1": number, "BT-3": type_code,
                 "BG-3": [{"BT-25": refers_to, "BT-26": data["BT-2"]}] if refers_to else []})
    res = api(rt, "POST", "/invoices", data=json.dumps(data), headers={"Content-Type": "application/json"})
    assert res.status_code == 202, res.text
    rt.settle()
    return res.json()["invoice_id"], number


def refuse(rt, iid: str) -> None:
    res = api(rt, "POST", f"/invoices/{iid}/lifecycle", json={"code": 210, "reason_code": "TX_TVA_ERR", "reason": "Taux erroné"})
    assert res.status_code == 200 and res.json()["status"] == "refused", res.text
    rt.settle()


def kinds(rt, iid: str) -> list[str]:
    return [e["kind"] for e in api(rt, "GET", f"/invoices/{iid}/timeline").json()["events"]]


def status(rt, iid: str) -> dict:
    return api(rt, "GET", f"/invoices/{iid}").json()


def test_a_refused_invoice_is_corrected_and_a_chain_that_keeps_being_refused_stops(rt):
    first, number = post(rt)
    refuse(rt, first)
    on_worklist = {i["invoice_id"] for i in api(rt, "GET", "/worklist").json()["items"] if "invoice_id" in i}
    assert first in on_worklist  # refused: the supplier must issue a correction
    chain = [(first, number)]
    for depth in (1, 2, 3):
        iid, num = post(rt, refers_to=chain[-1][1])
        assert status(rt, iid)["status"] in ("sent", "delivered"), status(rt, iid)
        corrects = [e for e in api(rt, "GET", f"/invoices/{iid}/timeline").json()["events"] if e["kind"] == "corrects"]
        assert [(c["detail"]["invoice_id"], c["detail"]["depth"]) for c in corrects] == [(chain[-1][0], depth)]
        assert "superseded" in kinds(rt, chain[-1][0])
        refuse(rt, iid)
        chain.append((iid, num))
    on_worklist = {i["invoice_id"] for i in api(rt, "GET", "/worklist").json()["items"] if "invoice_id" in i}
    assert first not in on_worklist and chain[-1][0] in on_worklist  # corrected ones are settled; the last is not
    fourth, _ = post(rt, refers_to=chain[-1][1])
    inv = status(rt, fourth)
    assert inv["status"] == "held"
    (loop,) = [f for f in inv["findings"] if f["rule"] == "CORRECTION-LOOP"]
    assert "refused 3 times already" in loop["message"]


def test_an_accepted_invoice_is_reissued_only_after_a_credit_note(rt):
    accepted, number = post(rt)
    reissue, _ = post(rt, refers_to=number)
    inv = status(rt, reissue)
    assert inv["status"] == "held" and "CORRECTION-NO-CREDIT-NOTE" in {f["rule"] for f in inv["findings"]}
    # the credit note cancels it in full: its scenario stops and its path ends at once
    credit, _ = post(rt, refers_to=number, type_code="381")
    assert status(rt, credit)["status"] in ("sent", "delivered")
    assert status(rt, accepted)["status"] == "closed" and "cancelled" in kinds(rt, accepted)
    arn = rt.outputs["StateMachineArn"].replace(":stateMachine:", ":execution:") + f":{accepted}"
    assert rt.client("stepfunctions").describe_execution(executionArn=arn)["status"] == "SUCCEEDED"
    # now the new invoice goes
    again, _ = post(rt, refers_to=number)
    assert status(rt, again)["status"] in ("sent", "delivered")
