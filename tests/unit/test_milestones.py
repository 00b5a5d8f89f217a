"""The pure planner of the invoice's path (pipeline/milestones.py): what happens next, from
facts alone, on Europe/Paris calendar days."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from facteur.model.directory import Milestones
from facteur.model.lifecycle import EventKind, Status
from facteur.pipeline.milestones import PARIS, Facts, plan_next, start_of_day

M = Milestones(download_within_hours=48, remind_every_hours=48, max_download_reminders=2,
               payment_check_every_hours=72, horizon_days_after_due=90)
DUE = date(2026, 12, 31)


def facts(**kw) -> Facts:
    base = {"status": Status.DELIVERED, "due": DUE, "downloaded": False, "overdue_recorded": False, "reminders": 0}
    return Facts(**{**base, **kw})


def test_paid_ends_the_path():
    plan = plan_next(facts(status=Status.PAID), M, datetime(2026, 12, 5, tzinfo=UTC))
    assert plan.outcome == "paid" and plan.next_due_at is None and not plan.record


def test_not_downloaded_is_reminded_until_the_customers_maximum():
    now = datetime(2026, 12, 3, 8, tzinfo=UTC)
    plan = plan_next(facts(reminders=1), M, now)
    assert plan.outcome == "remind" and plan.wait_seconds == 48 * 3600 and plan.next_due_at == now + timedelta(hours=48)
    assert plan_next(facts(reminders=2), M, now).outcome == "wait"


def test_downloaded_waits_for_payment_and_wakes_when_it_becomes_overdue():
    now = datetime(2026, 12, 30, 12, tzinfo=UTC)
    plan = plan_next(facts(downloaded=True), M, now)
    # 1 Jan 00:00 Paris is 31 Dec 23:00 UTC: sooner than the 72 h payment check
    assert plan.outcome == "wait" and plan.next_due_at == start_of_day(date(2027, 1, 1))
    assert plan.next_due_at.astimezone(UTC) == datetime(2026, 12, 31, 23, tzinfo=UTC)


def test_overdue_is_recorded_once_from_the_day_after_the_due_date_in_paris():
    just_before = datetime(2026, 12, 31, 22, 59, tzinfo=UTC)  # 23:59 in Paris: still due today
    assert plan_next(facts(downloaded=True), M, just_before).record == []
    just_after = datetime(2026, 12, 31, 23, 0, tzinfo=UTC)  # 00:00 in Paris on 1 January
    assert [k for k, _ in plan_next(facts(downloaded=True), M, just_after).record] == [EventKind.OVERDUE]
    assert plan_next(facts(downloaded=True, overdue_recorded=True), M, just_after).record == []


def test_the_horizon_closes_the_path():
    horizon = start_of_day(DUE + timedelta(days=90))
    plan = plan_next(facts(downloaded=True, overdue_recorded=True), M, horizon)
    assert plan.outcome == "closed" and [k for k, _ in plan.record] == [EventKind.CLOSED]
    before = plan_next(facts(downloaded=True, overdue_recorded=True), M, horizon - timedelta(hours=1))
    assert before.outcome == "wait" and before.next_due_at == horizon


def test_wait_is_never_zero():
    plan = plan_next(facts(downloaded=True), M, start_of_day(date(2027, 1, 1)) - timedelta(microseconds=10))
    assert plan.wait_seconds >= 1 and plan.next_due_at is not None and plan.next_due_at.tzinfo is not None
    assert str(PARIS) == "Europe/Paris"


def test_a_refused_invoice_ends_its_path():
    plan = plan_next(facts(status=Status.REFUSED), M, datetime(2026, 12, 5, tzinfo=UTC))
    assert plan.outcome == "closed" and plan.record == [(EventKind.CLOSED, {"reason": "refused: the lifecycle of this invoice ended"})]


def test_a_dispute_or_suspension_pauses_the_reminders():
    now = datetime(2026, 12, 3, 8, tzinfo=UTC)
    for status in (Status.DISPUTED, Status.SUSPENDED):
        assert plan_next(facts(status=status), M, now).outcome == "wait"
    assert plan_next(facts(status=Status.DOWNLOADED), M, now).outcome == "remind"  # 209 resumes (COMPLETED -> downloaded)
