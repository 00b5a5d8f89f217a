"""The collection agency's side: the cases a supplier handed to it, and its updates accepted back.

An agency authenticates with its own API key (directory: `agencies[].api_keys`); it sees only the
invoices handed to it (a `handed_off` event naming it) and can only report on them: a payment
collected (full or partial, in the invoice's currency, recorded once by its reference; a payment
in full ends the invoice's path), a note, the case given back, or closed as uncollectable (the
path ends). Facteur's own dunning stays stopped while the agency holds the case."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from .. import clock
from ..context import Context
from ..errors import Conflict, InvalidInput, NotFound
from ..model.lifecycle import EventKind, Status
from ..tracking.store import Event, apply_event
from .tracker import WAKING, Amount, _payment, wake


class AgencyUpdate(BaseModel):
    """POST /cases/{invoice_id}/updates."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["payment", "note", "returned", "closed"]
    amount: Amount = Field(None, description="payment: what was collected (a decimal string); default: all outstanding")
    currency: str | None = Field(None, pattern=r"^[A-Z]{3}$")
    reference: str | None = Field(None, max_length=200, description="the agency's own id of the update: recorded once")
    note: str | None = Field(None, max_length=2000)
    at: AwareDatetime | None = None


def _handed_to(ctx: Context, invoice_id: str, supplier_id: str, agency_id: str):
    rec = ctx.store.get(invoice_id)
    timeline = ctx.store.timeline(invoice_id)
    if rec.supplier_id != supplier_id or not any(e.kind is EventKind.HANDED_OFF and e.detail.get("agency") == agency_id
                                                 for e in timeline):
        raise NotFound(f"case {invoice_id} not found")  # never confirm another agency's or supplier's invoice
    return rec, timeline


def cases(ctx: Context, supplier_id: str, agency_id: str) -> dict[str, Any]:
    """The invoices handed to this agency that are still open (their records, what is outstanding)."""
    out = []
    for status in (Status.SENT, Status.DELIVERED, Status.DOWNLOADED, Status.APPROVED, Status.DISPUTED,
                   Status.SUSPENDED, Status.PAYMENT_SENT, Status.CLOSED):
        cursor = None
        while True:
            page, cursor = ctx.store.by_supplier(supplier_id, status.value, 500, cursor)
            for rec in page:
                handed = [e for e in ctx.store.timeline(rec.invoice_id)
                          if e.kind is EventKind.HANDED_OFF and e.detail.get("agency") == agency_id]
                if handed and rec.status is not Status.CLOSED:
                    out.append({"invoice_id": rec.invoice_id, "number": rec.number, "customer_id": rec.customer_id,
                                "status": rec.status.value, "currency": rec.currency,
                                "outstanding": str(rec.outstanding) if rec.outstanding is not None else None,
                                "handed_off_at": clock.iso(handed[0].at)})
            if not cursor:
                break
    return {"agency": agency_id, "count": len(out), "cases": out}


def update(ctx: Context, supplier_id: str, agency_id: str, invoice_id: str, body: AgencyUpdate) -> dict[str, Any]:
    rec, _ = _handed_to(ctx, invoice_id, supplier_id, agency_id)
    event_id = f"agency:{agency_id}:{body.reference}" if body.reference else None
    if event_id and ctx.store.has_event(invoice_id, event_id):  # the same update again: answered the same
        return {"invoice_id": invoice_id, "status": rec.status.value,
                "outstanding": str(rec.outstanding) if rec.outstanding is not None else None}
    if rec.status in (Status.PAID, Status.CLOSED):
        raise Conflict(f"case {invoice_id} is {rec.status.value}: nothing more to report", code="case_closed")
    now = clock.now()
    at = body.at or now
    if at > now:
        raise InvalidInput("'at' is in the future", code="date_out_of_range")
    actor = f"agency:{agency_id}"
    detail: dict[str, Any] = {k: v for k, v in {"agency": agency_id, "note": body.note, "reference": body.reference}.items() if v}
    if body.kind == "payment":
        kind, mutate = _payment(rec, EventKind.PAID, body.amount, body.currency, at, body.reference, detail)
    elif body.kind == "closed":
        if not (body.note or "").strip():
            raise InvalidInput("closing a case as uncollectable needs a note saying why", code="reason_required")
        kind, mutate = EventKind.CLOSED, None
        detail["reason"] = f"closed by the collection agency {agency_id}: {body.note}"
    else:  # a note, or the case given back to the supplier (Facteur's dunning does not resume by itself)
        kind, mutate = EventKind.AGENCY_UPDATE, None
        detail["update"] = body.kind
    updated = apply_event(ctx.store, invoice_id, Event(invoice_id=invoice_id, kind=kind, at=at, actor=actor, id=event_id,
                                                       detail=detail), mutate=mutate)
    if kind in WAKING or kind is EventKind.CLOSED:
        wake(ctx, invoice_id, kind.value)  # paid in full or closed: its path ends at once
    return {"invoice_id": invoice_id, "status": updated.status.value,
            "outstanding": str(updated.outstanding) if updated.outstanding is not None else None}

