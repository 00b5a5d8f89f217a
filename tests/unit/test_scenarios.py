"""Reminder scenarios as data, the pure planner, and the statutory late-payment interest.

Given the issue's scenario exactly as written (tests/fixtures/scenarios/standard.yaml), three
invoices and what happened to them (one ignored, one disputed then resolved then paid, one
partially paid), when the scenario is simulated, then every action comes on its date with the
amount due, and formal notices and hand-offs carry the interest and the 40 EUR indemnity,
exact to the cent."""
from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from facteur.cli import main
from facteur.errors import InvalidInput
from facteur.model.scenario import for_customer, load
from facteur.reminders.interest import RateTable, late_interest
from facteur.reminders.planner import PARIS, Happening, OpenInvoice, plan_next, start_of_day

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "scenarios"
STANDARD = (FIXTURES / "standard.yaml").read_text()
ECB = RateTable.ecb()


def test_the_issue_example_is_accepted_exactly_as_written():
    s = load(STANDARD)["standard"]
    assert s.applies_to.default and [m.expect for m in s.milestones] == ["delivered", "downloaded", "approved"]
    assert [m.within for m in s.milestones] == [timedelta(hours=1), timedelta(hours=48), timedelta(days=10)]
    assert [(st.at, st.action, st.to, st.agency) for st in s.steps][-1] == ("due+30d", "hand_off", [], "recouvreur-sud")
    assert s.pause_on == ["disputed", "suspended"] and s.stop_on == ["paid", "refused", "cancelled"]
    assert for_customer(load(STANDARD), "anyone") == s


@pytest.mark.parametrize("change,message", [
    (("action: reminder,", "action: remindr,"), "unknown action 'remindr'"),
    (("within: 48h", "within: 2 days"), "'2 days' is not a delay"),
    (("at: due-5d", "at: sometime-5d"), "'sometime-5d' is not a step date"),
    (("action: hand_off,          agency: recouvreur-sud", "action: hand_off"), "a hand_off names its agency"),
    (("pause_on: [disputed, suspended]", "pause_on: [rainy]"), "cannot pause on rainy"),
    (("to: [payer, validator]", "to: [boss]"), "unknown role(s) boss"),
])
def test_a_wrong_scenario_is_refused_naming_the_scenario_and_the_field(change, message):
    with pytest.raises(InvalidInput) as exc:
        load(STANDARD.replace(*change))
    assert exc.value.message.startswith("scenario 'standard', ") and message in exc.value.message


def test_statutory_interest_takes_each_half_years_rate():
    # due 25 June 2025: 5 days at 3.15 + 10 (the rate on 1 January), 5 days at 2.15 + 10 (on 1 July)
    assert ECB.statutory(date(2025, 6, 30)) == Decimal("13.15") and ECB.statutory(date(2025, 7, 1)) == Decimal("12.15")
    assert late_interest(Decimal("1000.00"), date(2025, 6, 25), date(2025, 7, 5), ECB) == Decimal("3.47")
    assert late_interest(Decimal("1000.00"), date(2025, 6, 25), date(2025, 6, 25), ECB) == Decimal("0.00")
    # a contractual rate replaces the statutory one; a payment reduces the amount from its day
    assert late_interest(Decimal("1000.00"), date(2025, 6, 25), date(2025, 7, 5), ECB, contractual_rate=Decimal("36.5")) \
        == Decimal("10.00")
    assert late_interest(Decimal("1000.00"), date(2025, 6, 25), date(2025, 7, 5), ECB,
                         payments=[(date(2025, 6, 26), Decimal("1000.00"))]) == Decimal("0.00")


def test_a_rates_file_replaces_the_shipped_table(tmp_path):
    rates = RateTable.parse("from,rate_percent\n2026-01-01,5.00\n")
    assert late_interest(Decimal("365.00"), date(2026, 12, 31), date(2027, 1, 10), rates) == Decimal("1.50")  # 10 d x 15 %
    with pytest.raises(InvalidInput):
        RateTable.parse("date;rate\n2026-01-01;5\n")


def test_the_simulation_gives_every_action_on_its_date(capsys):
    args = ["scenario", "simulate", "--scenario", str(FIXTURES / "standard.yaml"), "--invoices", str(FIXTURES / "invoices.json"),
            "--events", str(FIXTURES / "events.jsonl"), "--until", "2027-02-28", "--json"]
    assert main(args) == 0
    got = [(a["date"], a["invoice"], a["action"], a["to"], a["amount_due"], a["interest"], a["indemnity"])
           for a in json.loads(capsys.readouterr().out)]
    assert got == [
        ("2026-12-01", "INV-C", "fallback_channel", ["payer"], "1200.00", "0.00", "0.00"),  # delivered after 3 h, not 1 h
        ("2026-12-01", "INV-C", "alert", ["supplier"], "1200.00", "0.00", "0.00"),
        ("2026-12-03", "INV-B", "remind_not_opened", ["payer"], "480.00", "0.00", "0.00"),  # never opened within 48 h
        ("2026-12-11", "INV-B", "ask_validator", ["validator"], "480.00", "0.00", "0.00"),  # not approved within 10 days
        ("2026-12-26", "INV-A", "courtesy_reminder", ["payer"], "1200.00", "0.00", "0.00"),
        ("2026-12-26", "INV-B", "courtesy_reminder", ["payer"], "480.00", "0.00", "0.00"),
        ("2026-12-26", "INV-C", "courtesy_reminder", ["payer"], "1200.00", "0.00", "0.00"),
        ("2027-01-01", "INV-A", "reminder", ["payer"], "1200.00", "0.00", "0.00"),
        ("2027-01-01", "INV-C", "reminder", ["payer"], "1200.00", "0.00", "0.00"),
        ("2027-01-05", "INV-B", "reminder", ["payer"], "480.00", "0.00", "0.00"),  # disputed on 28 Dec: runs on resolution
        ("2027-01-08", "INV-A", "reminder", ["payer", "validator"], "1200.00", "0.00", "0.00"),
        ("2027-01-08", "INV-B", "reminder", ["payer", "validator"], "480.00", "0.00", "0.00"),
        ("2027-01-08", "INV-C", "reminder", ["payer", "validator"], "600.00", "0.00", "0.00"),  # 600 paid on 3 Jan
        # 15 days x 1200 x 12.15 % / 365 (2.15 % in force on 1 January 2027 + 10 points)
        ("2027-01-15", "INV-A", "formal_notice", ["payer"], "1200.00", "5.99", "40.00"),
        # 2 days on 1200 + 13 days on 600
        ("2027-01-15", "INV-C", "formal_notice", ["payer"], "600.00", "3.40", "40.00"),
        ("2027-01-30", "INV-A", "hand_off", ["recouvreur-sud"], "1200.00", "11.98", "40.00"),
        ("2027-01-30", "INV-C", "hand_off", ["recouvreur-sud"], "600.00", "6.39", "40.00"),
    ]  # INV-B, paid on 10 January, gets nothing more


def test_plan_next_gives_what_is_due_now_and_when_to_wake_up():
    scenario = load(STANDARD)["standard"]
    inv = OpenInvoice(id="X", number="X", customer="c", issue_date=date(2026, 12, 1), due_date=date(2026, 12, 31),
                      amount_due=Decimal("100.00"))
    sent = [Happening(at=datetime(2026, 12, 1, 8, tzinfo=PARIS), kind=k) for k in ("sent", "delivered", "downloaded", "approved")]
    due, wake = plan_next(inv, sent, scenario, datetime(2026, 12, 20, tzinfo=PARIS), ECB, done=set())
    assert due == [] and wake == start_of_day(date(2026, 12, 26))
    due, wake = plan_next(inv, sent, scenario, start_of_day(date(2026, 12, 26)), ECB, done=set())
    assert [a.action for a in due] == ["courtesy_reminder"] and wake == start_of_day(date(2027, 1, 1))
    done = {a.key for a in due}
    assert plan_next(inv, sent, scenario, start_of_day(date(2026, 12, 26)), ECB, done)[0] == []  # done once
    disputed = [*sent, Happening(at=datetime(2026, 12, 27, tzinfo=PARIS), kind="disputed")]
    assert plan_next(inv, disputed, scenario, start_of_day(date(2027, 1, 2)), ECB, done) == ([], None)  # paused: woken by an event
    paid = [*sent, Happening(at=datetime(2026, 12, 30, tzinfo=PARIS), kind="paid")]
    assert plan_next(inv, paid, scenario, start_of_day(date(2027, 1, 2)), ECB, done) == ([], None)  # stopped
