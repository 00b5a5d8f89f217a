"""The scenario planner, pure (no I/O): from an invoice, what has happened to it and its scenario,
every action the scenario takes and when. `schedule` lays them all out (the simulation and the
back-test read it whole); `plan_next` gives the engine what is due now and when to wake up next.

Rules (issue "Milestones, reminder scenarios and collection"):
- a step runs at 00:00 Europe/Paris on its date (`due-5d`...), or at its milestone's instant plus
  its delay when anchored on a milestone (`downloaded+3d`); a milestone rule (`expect downloaded
  within 48h`) is counted from the invoice's sending (its issue date when it was never sent) and,
  when missed, its `else` actions run at the deadline;
- a pause (`pause_on`: disputed 207, suspended 208) holds every action until the matching
  resolution (`resolved`, `completed` 209, or an approval 205): an action whose time passes while
  paused runs on resumption, dated that day; a stop (`stop_on`: paid in full, refused, cancelled)
  ends everything after it; so does a hand-off to a collection agency (the agency holds the
  dunning from then on), planned by the scenario or made by hand (`handed_off`);
- the amount due is what remains after the payments made so far; a formal notice and a hand-off
  carry the late-payment interest and the 40 EUR recovery indemnity (`interest.py`), reminders 0.00.
Events given with a date only take effect from 00:00 Europe/Paris that day."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from ..model.scenario import Scenario, delay_text
from .interest import INDEMNITY, RateTable, late_interest

PARIS = ZoneInfo("Europe/Paris")
RESUMES = {"disputed": "resolved", "suspended": "completed"}
ELSE_TO = {"remind_not_opened": ("payer",), "ask_validator": ("validator",), "fallback_channel": ("payer",),
           "alert": ("supplier",)}
WITH_INTEREST = {"formal_notice", "hand_off"}
KINDS = {"sent", "delivered", "downloaded", "approved", "disputed", "resolved", "suspended", "completed", "refused",
         "paid", "partially_paid", "cancelled", "handed_off", "paused", "resumed"}
ENDS_PAUSE = {"resolved", "completed", "approved"}  # 209, a resolution, or an approval (205) after a dispute
# `paused` / `resumed`: the supplier's own hold on the scenario (a mass action), whatever the scenario says


@dataclass(frozen=True)
class OpenInvoice:
    id: str
    number: str
    customer: str
    issue_date: date
    due_date: date
    amount_due: Decimal
    currency: str = "EUR"
    contractual_rate: Decimal | None = None


@dataclass(frozen=True)
class Happening:
    at: datetime
    kind: str
    amount: Decimal | None = None


@dataclass(frozen=True)
class Action:
    invoice: str
    at: datetime
    action: str
    to: tuple[str, ...]
    channel: str
    amount_due: Decimal
    interest: Decimal = Decimal("0.00")
    indemnity: Decimal = Decimal("0.00")
    rule: str = ""  # the step (`due+15d`) or milestone (`downloaded within 2 days, 0:00:00`) that asked for it
    deferred: bool = False  # its time passed during a pause: run on resumption

    @property
    def key(self) -> str:
        """What identifies the action across runs (the engine records it once)."""
        return f"{self.rule}:{self.action}"

    def public(self) -> dict:
        return {"invoice": self.invoice, "date": self.at.astimezone(PARIS).date().isoformat(), "action": self.action,
                "to": list(self.to), "channel": self.channel, "amount_due": f"{self.amount_due:.2f}",
                "interest": f"{self.interest:.2f}", "indemnity": f"{self.indemnity:.2f}"}


def start_of_day(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=PARIS)


@dataclass
class _Life:
    """What the happenings say over time: when the scenario stops, its pauses, first milestones, payments."""

    stop_at: datetime | None = None
    pauses: list[tuple[datetime, datetime | None]] = field(default_factory=list)
    first: dict[str, datetime] = field(default_factory=dict)
    payments: list[tuple[datetime, Decimal]] = field(default_factory=list)


def _life(inv: OpenInvoice, happenings: Iterable[Happening], scenario: Scenario) -> _Life:
    life = _Life()
    paid = Decimal(0)
    open_pause: tuple[datetime, str] | None = None
    for h in sorted(happenings, key=lambda h: h.at):
        life.first.setdefault(h.kind, h.at)
        if h.kind in ("paid", "partially_paid"):
            amount = h.amount if h.amount is not None else (inv.amount_due - paid if h.kind == "paid" else Decimal(0))
            paid += amount
            life.payments.append((h.at, amount))
            if paid >= inv.amount_due:
                life.first.setdefault("paid", h.at)
                if "paid" in scenario.stop_on and life.stop_at is None:
                    life.stop_at = h.at
        elif (h.kind in scenario.stop_on or h.kind == "handed_off") and life.stop_at is None:
            life.stop_at = h.at
        if (h.kind in scenario.pause_on or h.kind == "paused") and open_pause is None:
            open_pause = (h.at, RESUMES.get(h.kind, "resumed"))
        elif open_pause is not None and h.kind in (ENDS_PAUSE if open_pause[1] != "resumed" else set()) | {
                open_pause[1], "resumed"}:
            life.pauses.append((open_pause[0], h.at))
            open_pause = None
    if open_pause is not None:
        life.pauses.append((open_pause[0], None))
    return life


def _candidates(inv: OpenInvoice, scenario: Scenario, life: _Life) -> list[tuple[datetime, str, tuple[str, ...], str]]:
    """(instant, action, recipients, rule) of every step and missed milestone, before pauses and stops."""
    out = []
    for step in scenario.steps:
        if step.anchor in ("issue", "due"):
            base = start_of_day(inv.issue_date if step.anchor == "issue" else inv.due_date)
        elif step.anchor in life.first:
            base = life.first[step.anchor]
        else:
            continue  # anchored on a milestone that has not happened
        to = (step.agency,) if step.action == "hand_off" and step.agency else tuple(step.to)
        out.append((base + step.offset, step.action, to, step.at))
    origin = life.first.get("sent", start_of_day(inv.issue_date))
    for rule in scenario.milestones:
        met = life.first.get(rule.expect)
        for n in range(rule.repeat):
            deadline = origin + rule.within + n * (rule.every or timedelta(0))
            if met is not None and met <= deadline:
                break
            name = f"{rule.expect} within {delay_text(rule.within)}" + (f" #{n + 1}" if n else "")
            for action in rule.otherwise:
                out.append((deadline, action, ELSE_TO.get(action, ("payer",)), name))
    return sorted(out, key=lambda c: c[0])



def schedule(inv: OpenInvoice, happenings: Iterable[Happening], scenario: Scenario, rates: RateTable) -> list[Action]:
    """Every action the scenario takes on this invoice given what happened, in time order. Actions
    held by a pause that has not ended are left out (they are not due yet)."""
    life = _life(inv, happenings, scenario)
    actions = []
    for at, action, to, rule in _candidates(inv, scenario, life):
        deferred = False
        for start, end in life.pauses:
            if start <= at and (end is None or at < end):
                if end is None:
                    at = None  # type: ignore[assignment]
                    break
                at, deferred = end, True
        if at is None or (life.stop_at is not None and life.stop_at <= at):
            continue
        paid = sum((a for when, a in life.payments if when <= at), Decimal(0))
        amount_due = inv.amount_due - paid
        interest = indemnity = Decimal("0.00")
        if action in WITH_INTEREST:
            day = at.astimezone(PARIS).date()
            payments = [(when.astimezone(PARIS).date(), a) for when, a in life.payments]
            interest = late_interest(inv.amount_due, inv.due_date, day, rates, payments=payments,
                                     contractual_rate=inv.contractual_rate)
            indemnity = INDEMNITY if day > inv.due_date else Decimal("0.00")  # owed from the first day late
        channel = "agency" if action == "hand_off" else "email"
        actions.append(Action(invoice=inv.id, at=at, action=action, to=to, channel=channel, amount_due=amount_due,
                              interest=interest, indemnity=indemnity, rule=rule, deferred=deferred))
    actions.sort(key=lambda a: a.at)
    handed = next((a.at for a in actions if a.action == "hand_off"), None)  # the agency holds it from then on
    return [a for a in actions if handed is None or a.at <= handed]


def plan_next(inv: OpenInvoice, happenings: Iterable[Happening], scenario: Scenario, now: datetime, rates: RateTable,
              done: set[str]) -> tuple[list[Action], datetime | None]:
    """What is due at `now` and not done yet, and when to wake up next (None: nothing more is planned,
    or the scenario is paused until an event resumes it)."""
    planned = [a for a in schedule(inv, [h for h in happenings if h.at <= now], scenario, rates) if a.key not in done]
    due = [a for a in planned if a.at <= now]
    later = [a.at for a in planned if a.at > now]
    return due, min(later) if later else None
