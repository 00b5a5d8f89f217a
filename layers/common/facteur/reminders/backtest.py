"""Back-testing a scenario on what really happened: each invoice's real timeline (sending,
downloads, approvals, disputes, payments) replayed through the planner with the scenario under
test, to say what it would have sent, and how long invoices took to be paid when they were
reminded and when they were not.

Facteur's own past actions (reminders, notices, steps) are left out of the replay: the question is
what *this* scenario would have done given what customers did. Days to pay are counted from the
issue date to the payment that settled the invoice; invoices still open are counted apart."""
from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from ..model.scenario import Scenario
from .interest import RateTable
from .planner import KINDS, Action, Happening, OpenInvoice, schedule

# Timeline kinds (GET /invoices/{id}/timeline) -> what the planner calls them; Facteur's own
# actions (reminded, formal_notice, scenario_step, handed_off by a scenario) are not replayed.
REPLAYED = {"sent": "sent", "delivered": "delivered", "downloaded": "downloaded", "approved": "approved",
            "partially_approved": "approved", "disputed": "disputed", "suspended": "suspended", "completed": "completed",
            "resolved": "resolved", "refused": "refused", "platform_rejected": "refused", "paid": "paid",
            "partially_paid": "partially_paid"}
REMINDING = {"reminded", "formal_notice", "scenario_step"}


@dataclass
class Replayed:
    invoice: OpenInvoice
    happenings: list[Happening]
    reminded: bool  # Facteur really reminded it (any reminder, notice or scenario step)
    paid_on: date | None
    would: list[Action] = field(default_factory=list)

    @property
    def days_to_pay(self) -> int | None:
        return (self.paid_on - self.invoice.issue_date).days if self.paid_on else None


def from_timeline(inv: OpenInvoice, events: list[dict[str, Any]]) -> Replayed:
    """One invoice and its timeline as the API gives it."""
    happenings, paid_on, reminded = [], None, False
    for e in events:
        kind = e["kind"]
        if kind in REMINDING:
            reminded = True
        mapped = REPLAYED.get(kind)
        if mapped is None or mapped not in KINDS:
            continue
        at = datetime.fromisoformat(e["at"])
        amount = (e.get("detail") or {}).get("amount")
        happenings.append(Happening(at=at, kind=mapped, amount=Decimal(amount) if amount else None))
        if kind == "paid":
            paid_on = at.date()
    return Replayed(inv, happenings, reminded, paid_on)


def _stats(days: list[int]) -> dict[str, Any]:
    if not days:
        return {"invoices": 0}
    return {"invoices": len(days), "mean_days_to_pay": round(statistics.fmean(days), 1),
            "median_days_to_pay": statistics.median(days)}


def run(replays: list[Replayed], scenario: Scenario, rates: RateTable, until: datetime) -> dict[str, Any]:
    """What the scenario would have done on each invoice up to `until`, and days to pay by group."""
    for r in replays:
        r.would = [a for a in schedule(r.invoice, [h for h in r.happenings if h.at <= until], scenario, rates)
                   if a.at <= until]
    would = Counter(a.action for r in replays for a in r.would)
    paid = [r for r in replays if r.days_to_pay is not None]
    return {
        "scenario": scenario.name, "invoices": len(replays), "paid": len(paid), "open": len(replays) - len(paid),
        "would_send": dict(sorted(would.items())),
        "invoices_with_actions": sum(1 for r in replays if r.would),
        "days_to_pay": {"reminded": _stats([r.days_to_pay for r in paid if r.reminded and r.days_to_pay is not None]),
                        "not_reminded": _stats([r.days_to_pay for r in paid if not r.reminded and r.days_to_pay is not None]),
                        "all": _stats([r.days_to_pay for r in paid if r.days_to_pay is not None])},
        "actions": [a.public() for r in replays for a in r.would],
    }
