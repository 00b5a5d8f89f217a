"""Mass actions (POST /actions, the jobs state machine, `facteur actions`) on template.yaml on the
embedded runtime.

Given three invoices to Café Lumière (group `cafes`, the standard scenario of
tests/fixtures/directories/scenarios.yaml), when the supplier acts on many invoices at once, then
a dry run only says what would happen; a job acts on each matching invoice once, however often it
is posted; a paused invoice gets no reminder until resumed, and then what fell due runs at once;
a hand-off sends the case to the agency and is not repeated; another tenant sees none of it."""
from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from facteur.cli import main
from tests.e2e.helpers import OTHER, ROOT, api, demo_runtime

SCENARIOS = ROOT / "tests" / "fixtures" / "directories" / "scenarios.yaml"
PAYER, AGENCY = "compta@cafe-lumiere.example", "dossiers@recouvreur-sud.example"


@pytest.fixture(scope="module")
def rt(tmp_path_factory):
    with demo_runtime(tmp_path_factory, "actions", SCENARIOS, OTHER) as runtime:
        yield runtime


@pytest.fixture(scope="module")
def invoices(rt) -> list[str]:
    data = json.loads((ROOT / "demo" / "inbox" / "FA-2026-1204.json").read_text())
    ids = []
    for _ in range(3):
        data["BT-1"] = f"MA-{uuid.uuid4().hex[:8]}"
        res = api(rt, "POST", "/invoices", data=json.dumps(data), headers={"Content-Type": "application/json"})
        assert res.status_code == 202, res.text
        ids.append(res.json()["invoice_id"])
    rt.settle()
    return ids


def mails_for(rt, iid: str, since: int = 0) -> list:
    return [m for m in rt.outbox.mails[since:] if m.tags.get("invoice_id") == iid]


def kinds(rt, iid: str) -> list[str]:
    return [e["kind"] for e in api(rt, "GET", f"/invoices/{iid}/timeline").json()["events"]]


def run_job(rt, body: dict, key: str | None = None) -> dict:
    res = api(rt, "POST", "/actions", json=body, headers={"Idempotency-Key": key} if key else {})
    assert res.status_code in (200, 202), res.text
    rt.settle()
    job = api(rt, "GET", f"/actions/{res.json()['job_id']}").json()
    assert job["status"] == "succeeded" and job["done"] == job["total"], job
    return job


def test_a_dry_run_says_what_would_happen_and_does_nothing(rt, invoices):
    before = len(rt.outbox.mails)
    res = api(rt, "POST", "/actions", json={"action": "remind", "filter": {"group": "cafes"}, "dry_run": True})
    assert res.status_code == 200
    body = res.json()
    assert body["matched"] == 3 and body["would_act_on"] == 3 and {i["invoice_id"] for i in body["invoices"]} == set(invoices)
    assert all(i["would"] == "remind" and i["outstanding"] == "180.00" for i in body["invoices"])
    assert len(rt.outbox.mails) == before
    # a filter that matches nothing, and one a supplier cannot use to reach another tenant
    assert api(rt, "POST", "/actions", json={"action": "remind", "filter": {"group": "nobody"}, "dry_run": True}).json()["matched"] == 0
    other = api(rt, "POST", "/actions", key="key-of-another-tenant", json={
        "action": "remind", "filter": {"invoice_ids": invoices}, "dry_run": True})
    assert other.status_code == 200 and other.json()["matched"] == 0


def test_a_remind_job_reminds_each_invoice_once_however_often_it_is_posted(rt, invoices):
    before = len(rt.outbox.mails)
    body = {"action": "remind", "filter": {"invoice_ids": invoices[:2]}, "reason": "relance de fin de mois"}
    job = run_job(rt, body, key="month-end-1")
    again = api(rt, "POST", "/actions", json=body, headers={"Idempotency-Key": "month-end-1"})
    assert again.status_code == 200 and again.json()["job_id"] == job["job_id"]
    rt.settle()
    assert job["counts"] == {"done": 2} and [r["outcome"] for r in job["results"]] == ["done", "done"]
    for iid in invoices[:2]:
        (m,) = mails_for(rt, iid, before)  # to the payer only, once
        assert m.to == [PAYER] and "180,00 EUR" in m.text()
    assert mails_for(rt, invoices[2], before) == []
    # the same key for another request is refused; another tenant cannot read the job
    assert api(rt, "POST", "/actions", json={**body, "action": "resend"},
               headers={"Idempotency-Key": "month-end-1"}).status_code == 409
    assert api(rt, "GET", f"/actions/{job['job_id']}", key="key-of-another-tenant").status_code == 404


def test_a_paused_invoice_gets_nothing_until_resumed(rt, invoices):
    paused, running = invoices[0], invoices[1]
    run_job(rt, {"action": "pause", "filter": {"invoice_ids": [paused]}, "reason": "litige commercial en cours"})
    assert "paused" in kinds(rt, paused)
    before = len(rt.outbox.mails)
    rt.advance_to(datetime(2026, 12, 26, 12, tzinfo=UTC))  # not opened, not approved, due-5d: the scenario acts
    subjects = sorted(m.subject.split(" :")[0] for m in mails_for(rt, running, before))
    # (the courtesy reminder in the supplier's own wording, its `messages` in the directory)
    assert mails_for(rt, paused, before) == [] and subjects == ["Petit rappel", "Rappel", "Rappel", "Validation attendue"]
    resumed = run_job(rt, {"action": "resume", "filter": {"invoice_ids": [paused, running]}})
    assert [r["outcome"] for r in resumed["results"]] == ["done", "skipped"] and resumed["results"][1]["why"] == "not paused"
    rt.settle()
    # what fell due while paused runs on resumption, dated that day
    late = sorted(m.subject.split(" :")[0].split(" FA-")[0].split(" MA-")[0] for m in mails_for(rt, paused, before))
    assert late == ["Petit rappel", "Rappel", "Rappel", "Validation attendue"]
    assert all(m.sent_at >= datetime(2026, 12, 26, 12, tzinfo=UTC) for m in mails_for(rt, paused, before))


def test_a_hand_off_sends_the_case_once(rt, invoices):
    assert api(rt, "POST", "/actions", json={"action": "hand_off", "agency": "nobody",
                                             "filter": {"invoice_ids": invoices[2:]}}).status_code == 422
    rt.advance_to(datetime(2027, 1, 10, 12, tzinfo=UTC))
    before = len(rt.outbox.mails)
    job = run_job(rt, {"action": "hand_off", "agency": "recouvreur-sud", "filter": {"invoice_ids": invoices[2:]}})
    # 10 days late on 180.00 at 12.15 % = 0.60, plus the 40.00 indemnity
    assert job["results"][0]["claimed"] == "220.60"
    (case,) = [m for m in rt.outbox.mails[before:] if m.to == [AGENCY]]
    assert "220.60 EUR" in case.subject and "handed_off" in kinds(rt, invoices[2])
    again = run_job(rt, {"action": "hand_off", "agency": "recouvreur-sud", "filter": {"invoice_ids": invoices[2:]},
                         "reason": "second try"})
    assert again["results"][0] == {"invoice_id": invoices[2], "outcome": "skipped", "why": "already handed off"}


def test_the_cli_follows_a_job_with_a_progress_bar(rt, invoices, capsys):
    code = main(["actions", "run", "resend", "--invoice", invoices[0], "--invoice", invoices[1], "--api", rt.api_url,
                 "--key", "demo-key-atelier-dupont", "--poll", "0.2", "--idempotency-key", f"cli-{uuid.uuid4().hex}"])
    out = capsys.readouterr()
    assert code == 0 and "] 2/2 done 2" in out.err and out.out.count(" done ") == 2
    code = main(["actions", "run", "remind", "--group", "cafes", "--dry-run", "--api", rt.api_url,
                 "--key", "demo-key-atelier-dupont"])
    assert code == 0 and "3 matched" in capsys.readouterr().out


def test_the_agency_reports_back_on_its_cases_only(rt, invoices):
    """After the hand-off above: the agency sees its case, reports a partial then the final
    collection (the path ends), and reaches nothing else; the supplier's key does not reach /cases."""
    handed = invoices[2]
    agency = "key-recouvreur-sud"
    listed = api(rt, "GET", "/cases", key=agency)
    assert listed.status_code == 200 and [c["invoice_id"] for c in listed.json()["cases"]] == [handed]
    assert api(rt, "GET", "/invoices", key=agency).status_code == 403  # an agency key reaches /cases only
    assert api(rt, "GET", "/cases").status_code == 403  # and a supplier key does not reach /cases
    assert api(rt, "POST", f"/cases/{invoices[0]}/updates", key=agency, json={"kind": "note", "note": "?"}).status_code == 404
    part = api(rt, "POST", f"/cases/{handed}/updates", key=agency,
               json={"kind": "payment", "amount": "100.00", "reference": "RS-1", "note": "premier versement"})
    assert part.status_code == 200 and part.json() == {"invoice_id": handed, "status": part.json()["status"], "outstanding": "80.00"}
    again = api(rt, "POST", f"/cases/{handed}/updates", key=agency, json={"kind": "payment", "amount": "100.00", "reference": "RS-1"})
    assert again.json()["outstanding"] == "80.00"  # the same reference: recorded once
    done = api(rt, "POST", f"/cases/{handed}/updates", key=agency, json={"kind": "payment", "reference": "RS-2"})
    assert done.json()["status"] == "paid"
    rt.settle()
    arn = rt.outputs["StateMachineArn"].replace(":stateMachine:", ":execution:") + f":{handed}"
    assert rt.client("stepfunctions").describe_execution(executionArn=arn)["status"] == "SUCCEEDED"
    actors = [e["actor"] for e in api(rt, "GET", f"/invoices/{handed}/timeline").json()["events"] if e["kind"] in ("paid", "partially_paid")]
    assert actors == ["agency:recouvreur-sud", "agency:recouvreur-sud"]
