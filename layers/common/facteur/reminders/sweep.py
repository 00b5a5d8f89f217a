"""The scheduled reminder sweep: invoices whose next milestone is due (GSI3, no scans) and
whose due date has passed unpaid are marked overdue once; the state machine owns the
per-invoice reminders, the sweep catches what is due across all suppliers."""
from __future__ import annotations

from datetime import date

from .. import clock
from ..context import Context
from ..model.lifecycle import EventKind, Status
from ..tracking.store import Event, apply_event

OPEN = {Status.SENT, Status.DELIVERED, Status.DOWNLOADED, Status.APPROVED, Status.DISPUTED, Status.SUSPENDED,
        Status.PAYMENT_SENT}


def sweep(ctx: Context) -> dict:
    now = clock.now()
    overdue = checked = 0
    for supplier_id in ctx.directory.suppliers():
        for rec in ctx.store.due(supplier_id, now):
            checked += 1
            if rec.status not in OPEN or not rec.due_date or date.fromisoformat(rec.due_date) >= now.date():
                continue
            if any(e.kind is EventKind.OVERDUE for e in ctx.store.timeline(rec.invoice_id)):
                continue
            apply_event(ctx.store, rec.invoice_id, Event(invoice_id=rec.invoice_id, kind=EventKind.OVERDUE, at=now,
                                                         detail={"due_date": rec.due_date, "by": "sweep"}))
            overdue += 1
    return {"checked": checked, "overdue": overdue}
