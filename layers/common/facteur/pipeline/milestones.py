"""What the invoice's path does next, decided from facts alone (no I/O): `plan_next` is the
pure planner the state machine's milestone step executes. Due dates are calendar days in
Europe/Paris (an invoice due on the 31st is overdue from 1st 00:00 Paris time)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ..model.directory import Milestones
from ..model.lifecycle import EventKind, Status

PARIS = ZoneInfo("Europe/Paris")


def start_of_day(day: date) -> datetime:
    """00:00 Europe/Paris on `day`, as an aware instant."""
    return datetime.combine(day, time(0), tzinfo=PARIS)


@dataclass(frozen=True)
class Facts:
    status: Status
    due: date
    downloaded: bool
    overdue_recorded: bool
    reminders: int


@dataclass(frozen=True)
class Plan:
    outcome: str  # paid | closed | remind | wait
    wait_seconds: int
    next_due_at: datetime | None
    record: list[tuple[EventKind, dict[str, Any]]] = field(default_factory=list)

    def result(self, reminders: int) -> dict[str, Any]:
        return {"outcome": self.outcome, "wait_seconds": self.wait_seconds, "reminders": reminders}


def plan_next(facts: Facts, m: Milestones, now: datetime) -> Plan:
    """paid -> end; refused (210/213) or horizon passed -> closed; not downloaded after the deadline
    -> remind (up to the customer's maximum, never while disputed or suspended: 207/208 pause, 209
    resumes); otherwise wait until the next thing that can happen."""
    if facts.status is Status.PAID:
        return Plan("paid", 1, None)
    if facts.status is Status.REFUSED:  # 210 by the buyer or 213 by a platform: a corrected invoice starts its own path
        return Plan("closed", 1, None, [(EventKind.CLOSED, {"reason": "refused: the lifecycle of this invoice ended"})])
    horizon = start_of_day(facts.due + timedelta(days=m.horizon_days_after_due))
    if now >= horizon:
        return Plan("closed", 1, None, [(EventKind.CLOSED, {"reason": "tracking horizon passed without payment"})])
    record: list[tuple[EventKind, dict[str, Any]]] = []
    overdue_from = start_of_day(facts.due + timedelta(days=1))
    if now >= overdue_from and not facts.overdue_recorded:
        record.append((EventKind.OVERDUE, {"due_date": facts.due.isoformat()}))
    paused = facts.status in (Status.DISPUTED, Status.SUSPENDED)  # 207 / 208: no reminder until 209 or a decision
    if not paused and not facts.downloaded and facts.reminders < m.max_download_reminders:
        wait = m.remind_every_hours * 3600
        return Plan("remind", wait, now + timedelta(seconds=wait), record)
    # Downloaded (or reminders exhausted): check for payment periodically until the horizon,
    # waking on the day it becomes overdue.
    nxt = min(now + timedelta(hours=m.payment_check_every_hours), horizon)
    if now < overdue_from:
        nxt = min(nxt, overdue_from)
    # Rounded up: waking a fraction of a second early would miss the milestone being waited for.
    return Plan("wait", max(1, math.ceil((nxt - now).total_seconds())), nxt, record)
