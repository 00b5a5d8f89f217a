"""A customer's reminder scenario, run by the invoice's own state machine on template.yaml
(embedded runtime, virtual clock): every action on its date, once, with the amounts of the
statutory interest; a dispute pauses it, its resolution resumes it; a formal notice PDF; the
hand-off to a collection agency stops the dunning; a payment ends the execution at once.

Given the issue's standard scenario for the customer group `cafes`
(tests/fixtures/directories/scenarios.yaml) and invoice FA-2026-1204 (180.00 EUR, issued
1 Dec 2026, due 31 Dec 2026) to Café Lumière (payer and validator by e-mail)."""
from __future__ import annotations

import io
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import requests

from tests.e2e.helpers import ROOT, api, demo_runtime

SCENARIOS = ROOT / "tests" / "fixtures" / "directories" / "scenarios.yaml"
PAYER, VALIDATOR = "compta@cafe-lumiere.example", "ines@cafe-lumiere.example"
AGENCY, DESK = "dossiers@recouvreur-sud.example", "tresorerie@atelier-dupont.example"


@pytest.fixture(scope="module")
def rt(tmp_path_factory):
    with demo_runtime(tmp_path_factory, "scenarios", SCENARIOS) as runtime:
        yield runtime


def paris(day: str, hour: int = 9) -> datetime:
    """`hour` o'clock in Paris (UTC+1 in winter) on `day`."""
    return datetime.fromisoformat(f"{day}T{hour - 1:02d}:00:00+00:00").astimezone(UTC)


def post(rt, buyer: dict | None = None) -> str:
    data = json.loads((ROOT / "demo" / "inbox" / "FA-2026-1204.json").read_text())
    issued = rt.now().astimezone(UTC).date()  # issued the day it is sent, due 30 days later
    data.update({"BT-1": f"SC-{uuid.uuid4().hex[:8]}", "BT-2": issued.isoformat(),
                 "BT-9": (issued + timedelta(days=30)).isoformat()})
    if buyer:
        data["BG-7"] = {**data["BG-7"], **buyer}
    res = api(rt, "POST", "/invoices", data=json.dumps(data), headers={"Content-Type": "application/json"})
    assert res.status_code == 202, res.text
    rt.settle()
    return res.json()["invoice_id"]


def mails(rt, iid: str, since: int = 0) -> list:
    return [m for m in rt.outbox.mails[since:] if m.tags.get("invoice_id") == iid]


def steps(rt, iid: str) -> list[dict]:
    events = api(rt, "GET", f"/invoices/{iid}/timeline").json()["events"]
    return [e["detail"] for e in events if e["kind"] == "scenario_step"]


def execution_status(rt, iid: str) -> str:
    arn = rt.outputs["StateMachineArn"].replace(":stateMachine:", ":execution:") + f":{iid}"
    return rt.client("stepfunctions").describe_execution(executionArn=arn)["status"]


def test_the_standard_scenario_from_issue_to_hand_off(rt):
    iid = post(rt)
    first = mails(rt, iid)
    assert sorted(m.to[0] for m in first) == [PAYER, VALIDATOR]
    # Nobody opens it within 48 h: "not opened" reminder to each recipient
    rt.advance_to(paris("2026-12-03", 12))
    assert sorted((m.to[0], m.subject.split(" :")[0]) for m in mails(rt, iid)[2:]) == [(PAYER, "Rappel"), (VALIDATOR, "Rappel")]
    # The payer opens the reminder's link; the validator never does
    link = [m for m in mails(rt, iid) if m.to[0] == PAYER][-1].links()[0]
    assert requests.get(link, allow_redirects=False, timeout=30).status_code == 302
    # 10 days without approval: the validator is asked
    n = len(rt.outbox.mails)
    rt.advance_to(paris("2026-12-12"))
    assert [(m.to[0], m.subject.split(" :")[0]) for m in mails(rt, iid, n)] == [(VALIDATOR, "Validation attendue")]
    # due-5d: courtesy reminder to the payer, stating the amount due
    n = len(rt.outbox.mails)
    rt.advance_to(paris("2026-12-26", 12))
    (courtesy,) = mails(rt, iid, n)
    # in the supplier's own wording (its `messages` in the directory)
    assert courtesy.to == [PAYER] and courtesy.subject.startswith("Petit rappel : facture") and "le 31/12/2026" in courtesy.subject
    assert "(180,00 EUR restant dû) arrive à échéance le 31/12/2026. Merci !" in courtesy.text()

    # 29 Dec: the buyer disputes it (207): the due+1d reminder waits...
    res = api(rt, "POST", f"/invoices/{iid}/events", json={"kind": "disputed", "reason": "Livraison incomplète"})
    assert res.status_code == 200 and res.json()["status"] == "disputed"
    n = len(rt.outbox.mails)
    rt.advance_to(paris("2027-01-04", 10))
    assert mails(rt, iid, n) == []
    # ...and runs as soon as the dispute is resolved (dated that day)
    assert api(rt, "POST", f"/invoices/{iid}/events", json={"kind": "resolved", "reason": "avoir partiel accepté"}).status_code == 200
    rt.settle()
    (late,) = mails(rt, iid, n)
    assert late.to == [PAYER] and late.subject.startswith("Relance") and "180,00 EUR" in late.text()
    assert steps(rt, iid)[-1]["deferred"]

    # 5 Jan: 100.00 paid; due+8d: reminder to payer and validator for the 80.00 left
    rt.advance_to(paris("2027-01-05"))
    assert api(rt, "POST", f"/invoices/{iid}/events",
               json={"kind": "paid", "amount": "100.00", "reference": "VIR-PART-1"}).json()["status"] == "downloaded"
    n = len(rt.outbox.mails)
    rt.advance_to(paris("2027-01-08", 12))
    assert sorted(m.to[0] for m in mails(rt, iid, n)) == [PAYER, VALIDATOR]
    assert all("80,00 EUR" in m.text() for m in mails(rt, iid, n))

    # due+15d: formal notice, PDF attached and kept, with the statutory interest (ECB 2.15 % on
    # 1 January 2027 + 10 points): 4 days on 180.00 (1-4 Jan) + 11 days on 80.00 (5-15 Jan)
    # = 0.2397 + 0.2929 = 0.53, and the 40.00 indemnity
    n = len(rt.outbox.mails)
    rt.advance_to(paris("2027-01-15", 12))
    (notice,) = mails(rt, iid, n)
    assert notice.to == [PAYER] and notice.subject.startswith("Mise en demeure")
    pdf = dict(notice.attachments())[next(name for name, _ in notice.attachments() if name.startswith("mise-en-demeure"))]
    from pypdf import PdfReader

    text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    assert "MISE EN DEMEURE DE PAYER" in text and "0,53 EUR" in text and "40,00 EUR" in text and "120,53 EUR" in text
    step = steps(rt, iid)[-1]
    assert (step["action"], step["amount_due"], step["interest"], step["indemnity"]) == ("formal_notice", "80.00", "0.53", "40.00")
    assert "formal_notice" in api(rt, "GET", f"/invoices/{iid}").json()["documents"]

    # due+30d: handed to the collection agency with the case and its documents: 4 days on 180.00
    # + 26 days on 80.00 = 0.93
    n = len(rt.outbox.mails)
    rt.advance_to(paris("2027-01-30", 12))
    (case_mail,) = mails(rt, iid, n)
    assert case_mail.to == [AGENCY]
    files = dict(case_mail.attachments())
    case = json.loads(next(v for k, v in files.items() if k.endswith(".json")))
    claim = case["invoices"][0]
    assert (claim["principal"], claim["interest"], claim["indemnity"], claim["total"]) == ("80.00", "0.93", "40.00", "120.93")
    assert case["debtor"]["siren"] == "552100554" and len(files) == 3  # case, Factur-X, formal notice
    assert "handed_off" in [e["kind"] for e in api(rt, "GET", f"/invoices/{iid}/timeline").json()["events"]]

    # The agency holds it: nothing more from Facteur; the payment ends the execution at once
    n = len(rt.outbox.mails)
    rt.advance_to(paris("2027-02-20"))
    assert mails(rt, iid, n) == [] and execution_status(rt, iid) == "RUNNING"
    before = rt.now()
    assert api(rt, "POST", f"/invoices/{iid}/events", json={"kind": "paid", "reference": "AGENCE-1"}).json()["status"] == "paid"
    rt.settle()
    assert execution_status(rt, iid) == "SUCCEEDED" and rt.now() - before < timedelta(minutes=1)
    # Each action once, in order
    assert [s["action"] for s in steps(rt, iid)] == ["remind_not_opened", "ask_validator", "courtesy_reminder", "reminder",
                                                     "reminder", "formal_notice", "hand_off"]


def test_a_bounce_goes_to_the_fallback_address_and_alerts_the_supplier(rt):
    bistrot = {"name": "Bistrot de la Gare SAS", "legal_identifier": "542051180", "vat_identifier": "FR59542051180",
               "einvoicing_addr": "542051180", "addr_l1": "1 place de la Gare"}
    start = len(rt.outbox.mails)
    iid = post(rt, bistrot)
    assert [m.to[0] for m in mails(rt, iid, start)] == ["bounce@simulator.amazonses.com"]  # the fallback waits
    rt.advance(timedelta(hours=1, minutes=5))
    after = mails(rt, iid, start)[1:]
    assert sorted(m.to[0] for m in after) == ["factures@bistrot-gare.example", DESK]
    alert = next(m for m in after if m.to[0] == DESK)
    assert "delivered within 1h" in alert.subject and "bounced (bg-old) - 5.1.1" in alert.text()
    again = next(m for m in after if m.to[0] != DESK)
    assert again.subject.startswith("Facture") and again.attachments()
    assert [s["action"] for s in steps(rt, iid)] == ["fallback_channel", "alert"]


def test_a_scenario_is_backtested_on_the_real_timelines(rt, capsys):
    """After the two stories above: the standard scenario replayed on what customers really did."""
    from facteur.cli import main

    args = ["scenario", "backtest", "--scenario", str(ROOT / "tests" / "fixtures" / "scenarios" / "standard.yaml"),
            "--since", "2026-11-01", "--until", "2027-03-01", "--api", rt.api_url, "--key", "demo-key-atelier-dupont"]
    assert main([*args, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["invoices"] >= 2 and report["paid"] >= 1
    # the café's invoice: the same actions as it really had (the payment after the hand-off ends them)
    assert report["would_send"]["formal_notice"] >= 1 and report["would_send"]["hand_off"] >= 1
    cafe = [a for a in report["actions"] if a["action"] == "formal_notice"][0]
    assert (cafe["amount_due"], cafe["interest"], cafe["indemnity"]) == ("80.00", "0.53", "40.00")
    # days to pay, for the invoices really reminded (the café's: issued 1 Dec, paid 20 Feb)
    assert report["days_to_pay"]["reminded"]["invoices"] >= 1
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "would have sent:" in out and "days to pay, reminded:" in out


def test_an_address_that_bounced_for_good_gets_no_further_message_its_fallback_does(rt):
    """SES's suppression list (and any hard bounce) is respected: the reminders that follow go to the
    recipient's fallback, never again to the suppressed address."""
    bistrot = {"name": "Bistrot de la Gare SAS", "legal_identifier": "542051180", "vat_identifier": "FR59542051180",
               "einvoicing_addr": "542051180", "addr_l1": "1 place de la Gare"}
    start = len(rt.outbox.mails)
    iid = post(rt, bistrot)
    rt.advance(timedelta(days=45))  # courtesy reminder, reminders after the due date, formal notice...
    sent = mails(rt, iid, start)
    to_bounced = [m for m in sent if m.to[0] == "bounce@simulator.amazonses.com"]
    assert len(to_bounced) == 1  # the invoice itself, once: then never again
    later = [m for m in sent[1:] if m.to[0] == "factures@bistrot-gare.example"]
    assert len(later) >= 3 and any(m.subject.lower().startswith(("rappel", "relance", "petit rappel")) for m in later)
    (bounce,) = [e for e in api(rt, "GET", f"/invoices/{iid}/timeline").json()["events"] if e["kind"] == "bounced"]
    assert bounce["detail"]["bounce_type"] == "Permanent" and bounce["detail"]["bounce_subtype"] == "General"
