"""The scenario engine's pure parts and the directory's validation of scenarios, agencies and
fallbacks: repeated milestone actions, what a hand-off stops, what resumes a dispute, the
customer's `milestones` settings as a scenario, and clear errors for a wrong directory."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from facteur.errors import InvalidInput
from facteur.model.directory import Customer, Milestones, Supplier
from facteur.model.scenario import load
from facteur.pipeline.dunning import default_scenario, happenings, scenario_for
from facteur.reminders.interest import RateTable
from facteur.reminders.planner import PARIS, Happening, OpenInvoice, plan_next, schedule, start_of_day
from facteur.routing.directory import parse_yaml

ECB = RateTable.ecb()
INV = OpenInvoice(id="X", number="X", customer="c", issue_date=date(2026, 12, 1), due_date=date(2026, 12, 31),
                  amount_due=Decimal("100.00"))
SENT = datetime(2026, 12, 1, 8, tzinfo=PARIS)
SCENARIOS = Path(__file__).resolve().parents[1] / "fixtures" / "directories" / "scenarios.yaml"


def at(day: int, month: int = 12, year: int = 2026) -> datetime:
    return start_of_day(date(year, month, day))


def test_the_customers_milestones_settings_are_a_scenario():
    s = default_scenario(Milestones(download_within_hours=48, remind_every_hours=48, max_download_reminders=2))
    actions = schedule(INV, [Happening(SENT, "sent")], s, ECB)
    assert [(a.action, a.at) for a in actions] == [("remind_not_opened", SENT + timedelta(hours=48)),
                                                  ("remind_not_opened", SENT + timedelta(hours=96))]
    # downloaded between the two: only the first
    opened = [Happening(SENT, "sent"), Happening(SENT + timedelta(hours=50), "downloaded")]
    assert [a.action for a in schedule(INV, opened, s, ECB)] == ["remind_not_opened"]
    assert default_scenario(Milestones(max_download_reminders=0)).milestones == []


def test_a_dispute_pauses_and_an_approval_or_resolution_resumes():
    s = load("s:\n  applies_to: {default: true}\n  steps: [{at: due+1d, action: reminder, to: [payer]}]\n"
             "  pause_on: [disputed]\n")["s"]
    disputed = [Happening(SENT, "sent"), Happening(at(30), "disputed")]
    assert plan_next(INV, disputed, s, at(5, 1, 2027), ECB, set()) == ([], None)  # paused: an event wakes it
    for resumes in ("resolved", "approved", "completed"):
        due, _ = plan_next(INV, [*disputed, Happening(at(5, 1, 2027), resumes)], s, at(5, 1, 2027), ECB, set())
        assert [(a.action, a.at, a.deferred) for a in due] == [("reminder", at(5, 1, 2027), True)], resumes


def test_nothing_follows_a_hand_off():
    s = load((Path(__file__).resolve().parents[1] / "fixtures" / "scenarios" / "standard.yaml").read_text())["standard"]
    s = s.model_copy(update={"steps": [*s.steps, s.steps[1].model_copy(update={"at": "due+40d"})]})
    done = [Happening(SENT, k) for k in ("sent", "delivered", "downloaded", "approved")]
    actions = schedule(INV, done, s, ECB)
    assert actions[-1].action == "hand_off" and "due+40d" not in [a.rule for a in actions]
    # handed off by hand (mass action, "from issue"): the scenario stops there too
    by_hand = schedule(INV, [*done, Happening(at(2, 1, 2027), "handed_off")], s, ECB)
    assert [a.action for a in by_hand] == ["courtesy_reminder", "reminder"]


def test_partial_payments_from_the_timeline_reduce_the_amount_due():
    from facteur.model.lifecycle import EventKind
    from facteur.model.records import Event

    ev = [Event(invoice_id="X", kind=EventKind.SENT, at=SENT, detail={"channel": "email"}),
          Event(invoice_id="X", kind=EventKind.PARTIALLY_PAID, at=at(2, 1, 2027), detail={"amount": "30.00"}),
          Event(invoice_id="X", kind=EventKind.CONVERTED, at=SENT)]
    assert [(h.kind, h.amount) for h in happenings(ev)] == [("sent", None), ("partially_paid", Decimal("30.00"))]


def test_repeated_rules_round_trip_through_the_directory():
    (sup, _, customers, _), *_ = parse_yaml(SCENARIOS.read_text())
    again = Supplier.model_validate(sup.model_dump(mode="json"))
    assert again == sup and again.scenarios["standard"].milestones[0].within == timedelta(hours=1)
    assert scenario_for(sup, customers[0]).name == "standard"
    assert scenario_for(sup, Customer(id="x", name="X")).name == "milestones"  # no scenario applies: its settings


@pytest.mark.parametrize("change,message", [
    (("agency: recouvreur-sud}", "agency: recouvreur-nord}"),
     "scenario 'standard' hands off to 'recouvreur-nord', which is not one of the supplier's agencies (recouvreur-sud)"),
    (("fallback: bg-new}", "fallback: bg-newer}"),
     "customer 'bistrot-gare': recipient 'bg-old': its fallback 'bg-newer' is not another recipient"),
    (("group: cafes\n        siren: \"552100554\"", "scenario: gentle\n        siren: \"552100554\""),
     "customer 'cafe-lumiere': scenario 'gentle' is not one of the supplier's (standard)"),
    (("within: 48h, else", "within: 48h, repeat: 3, else"), "a repeated milestone says how often: every: 72h"),
    (("email: dossiers@recouvreur-sud.example", "channel: http"), "agency 'recouvreur-sud' on http needs endpoint"),
    (("courtesy: {subject_fr", "courtoisie: {subject_fr"), "unknown message(s) courtoisie"),
    (("à régler le {due}", "à régler le {echeance}"), "unknown field {echeance}"),
])
def test_a_wrong_directory_is_refused_naming_where(change, message):
    text = SCENARIOS.read_text()
    assert change[0] in text
    with pytest.raises(InvalidInput) as exc:
        parse_yaml(text.replace(*change))
    assert exc.value.message.startswith("supplier 'atelier-dupont'") and message in exc.value.message, exc.value.message


def test_a_hand_off_from_issue_claims_no_interest_nor_indemnity_before_the_due_date():
    s = load("s:\n  applies_to: {default: true}\n  steps: [{at: issue+0d, action: hand_off, agency: a}]\n")["s"]
    (action,) = schedule(INV, [Happening(SENT, "sent")], s, ECB)
    assert (action.action, action.at, action.interest, action.indemnity) == ("hand_off", at(1), Decimal("0.00"), Decimal("0.00"))


def test_delivered_is_when_every_recipient_has_it_and_platforms_are_not_waited_for():
    from facteur.model.lifecycle import EventKind
    from facteur.tracking.store import Event

    def ev(kind, hours, rid, channel):
        return Event(invoice_id="X", kind=kind, at=SENT + timedelta(hours=hours), recipient_id=rid,
                     detail={"channel": channel, "purpose": "initial"})

    mail, hook = ev(EventKind.SENT, 0, "ap", "email"), ev(EventKind.SENT, 0, "api", "http")
    pa = ev(EventKind.SENT, 0, "pa", "pa")
    quick = ev(EventKind.DELIVERED, 0.01, "ap", "email")
    late = ev(EventKind.DELIVERED, 4, "api", "http")
    delivered = lambda tl: [h.at for h in happenings(tl) if h.kind == "delivered"]
    assert delivered([mail, hook, quick]) == []  # the webhook never confirmed: "delivered within 1h" is missed
    assert delivered([mail, hook, quick, late]) == [late.at]  # the invoice is delivered when the last one is
    assert delivered([mail, pa, quick]) == [quick.at]  # a platform's 203 comes on the buyer's side: not waited for
    assert delivered([pa, ev(EventKind.DELIVERED, 30, "pa", "pa")]) == [SENT + timedelta(hours=30)]
    # the standard rule on the late webhook: fallback and alert at sent + 1 h
    standard = load((SCENARIOS.parent.parent / "scenarios" / "standard.yaml").read_text())["standard"]
    missed = [a for a in schedule(INV, happenings([mail, hook, quick, late]), standard, ECB) if "delivered" in a.rule]
    assert [(a.action, a.at) for a in missed] == [("fallback_channel", SENT + timedelta(hours=1)),
                                                   ("alert", SENT + timedelta(hours=1))]


def test_without_a_scenario_a_customer_with_a_fallback_gets_the_bounce_rule():
    supplier = Supplier(id="acme", name="Acme")
    plain = Customer.model_validate({"id": "c", "name": "C", "recipients": [{"id": "a", "name": "A", "email": "a@c.example"}]})
    backed = Customer.model_validate({"id": "c", "name": "C", "recipients": [
        {"id": "a", "name": "A", "email": "a@c.example", "fallback": "b"},
        {"id": "b", "name": "B", "email": "b@c.example", "fallback_only": True}]})
    assert [r.expect for r in scenario_for(supplier, plain).milestones] == ["downloaded"]
    (bounce, downloaded) = scenario_for(supplier, backed).milestones
    assert (bounce.expect, bounce.within, bounce.otherwise) == ("delivered", timedelta(hours=1), ["fallback_channel", "alert"])
    actions = schedule(INV, [Happening(SENT, "sent")], scenario_for(supplier, backed), ECB)
    assert [(a.action, a.at) for a in actions][:2] == [("fallback_channel", SENT + timedelta(hours=1)),
                                                       ("alert", SENT + timedelta(hours=1))]
