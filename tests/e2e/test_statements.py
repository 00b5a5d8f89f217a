"""Statements of account and the supplier's daily digest, on template.yaml on the embedded runtime.

Given Épicerie Fine, a customer of the `cafes` group that prefers one statement of account to a
reminder per invoice (tests/fixtures/directories/scenarios.yaml), and two of its invoices due on
31 December and 15 January, when the scenario's reminders fall due, then the customer gets one
statement (e-mail + PDF listing every open invoice with what is still due and the days late) on
the next daily run instead of a mail per invoice, and each listed invoice's timeline says so;
the supplier gets one daily digest of what needs a person."""
from __future__ import annotations

import io
import json
import uuid
from datetime import UTC, datetime

import pytest
import requests
from pypdf import PdfReader

from tests.e2e.helpers import ROOT, api, demo_runtime

SCENARIOS = ROOT / "tests" / "fixtures" / "directories" / "scenarios.yaml"
PAYER, DESK = "compta@epicerie-fine.example", "tresorerie@atelier-dupont.example"


@pytest.fixture(scope="module")
def rt(tmp_path_factory):
    with demo_runtime(tmp_path_factory, "statements", SCENARIOS) as runtime:
        yield runtime


def post(rt, due: str) -> tuple[str, str]:
    data = json.loads((ROOT / "demo" / "inbox" / "FA-2026-1204.json").read_text())
    number = f"EF-{uuid.uuid4().hex[:6]}"
    data.update({"BT-1": number, "BT-9": due})
    data["BG-7"].update({"name": "Épicerie Fine Lumière SARL", "legal_identifier": "812345619",
                         "vat_identifier": "FR42812345619", "einvoicing_addr": "812345619"})
    res = api(rt, "POST", "/invoices", data=json.dumps(data), headers={"Content-Type": "application/json"})
    assert res.status_code == 202, res.text
    return res.json()["invoice_id"], number


def test_one_statement_instead_of_a_reminder_per_invoice_and_a_daily_digest(rt):
    (first, n1), (second, n2) = post(rt, "2026-12-31"), post(rt, "2027-01-15")
    rt.settle()
    # the payer opens both, and approves: only the due-date steps remain
    for iid in (first, second):
        link = [m for m in rt.outbox.mails if m.tags.get("invoice_id") == iid and PAYER in m.to][0].links()[0]

        assert requests.get(link, allow_redirects=False, timeout=30).status_code == 302
        assert api(rt, "POST", f"/invoices/{iid}/events", json={"kind": "approved"}).status_code == 200
    start = len(rt.outbox.mails)
    rt.advance_to(datetime(2026, 12, 27, 12, tzinfo=UTC))  # due-5d of the first: 26 Dec 00:00 Paris; the daily run at 06:00 UTC
    new = rt.outbox.mails[start:]
    assert [m.to for m in new if m.tags.get("invoice_id") in (first, second)] == []  # no mail per invoice
    (statement,) = [m for m in new if m.to == [PAYER]]
    assert statement.subject.startswith("Relevé de compte au 26/12/2026 : 360,00 EUR restant dû (2 facture(s))")
    assert statement.sent_at.hour == 6  # the 06:00 UTC schedule
    name, pdf = statement.attachments()[0]
    text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    assert name.startswith("releve-epicerie-fine") and n1 in text and n2 in text and "RELEVÉ DE COMPTE" in text
    for iid in (first, second):
        events = api(rt, "GET", f"/invoices/{iid}/timeline").json()["events"]
        assert [e["detail"]["purpose"] for e in events if e["kind"] == "reminded"] == ["statement-2026-12-26"]
    steps = [e["detail"] for e in api(rt, "GET", f"/invoices/{first}/timeline").json()["events"] if e["kind"] == "scenario_step"]
    assert [(s["action"], s.get("grouped")) for s in steps] == [("courtesy_reminder", "statement of account")]

    # A dispute puts the second invoice on the worklist: the supplier's digest lists it the next morning, once
    assert api(rt, "POST", f"/invoices/{second}/events", json={"kind": "disputed", "reason": "Colis abîmé"}).status_code == 200
    start = len(rt.outbox.mails)
    rt.advance_to(datetime(2026, 12, 29, 12, tzinfo=UTC))
    digests = [m for m in rt.outbox.mails[start:] if m.to == [DESK]]
    assert len(digests) == 2 and all("facture(s) à traiter" in m.subject for m in digests)  # the 28th and the 29th
    assert n2 in digests[0].text() and "Colis abîmé" in digests[0].text()
    # Due+1d of the first (1 January): one statement that morning, the disputed one still listed as open
    start = len(rt.outbox.mails)
    rt.advance_to(datetime(2027, 1, 2, 12, tzinfo=UTC))
    statements = [m for m in rt.outbox.mails[start:] if m.to == [PAYER]]
    assert [m.subject.split(" :")[0] for m in statements] == ["Relevé de compte au 01/01/2027"]
    text = PdfReader(io.BytesIO(statements[0].attachments()[0][1])).pages[0].extract_text()
    assert "dont échu" in text and "180,00 EUR" in text
