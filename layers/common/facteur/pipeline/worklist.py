"""The worklist: only the invoices that need a person now, each with why and what was tried.

Everything else runs on its own (checks, sending, reminders, lifecycle); what lands here is what
the automatic path could not settle: held by the checks, failed, refused or rejected, disputed or
suspended by the buyer, closed unpaid after every reminder (a refused or closed invoice that a
correction or a credit note supersedes is settled). Read through the supplier's status
index (GSI1), newest first, a bounded page per status."""
from __future__ import annotations

from typing import Any

from ..context import Context
from ..model.lifecycle import EVENT_STATUS, EventKind, Status

# status -> what to do, in the order a person should look at them
NEEDS_A_PERSON: dict[Status, str] = {
    Status.FAILED: "its path failed: fix the cause, then POST /invoices/{id}/retry",
    Status.HELD: "held by the checks: correct it (PATCH /invoices/{id}, PUT /invoices/{id}/document) or release it",
    Status.REFUSED: "refused by the buyer (210) or rejected by a platform (213): issue a corrected invoice or a credit note",
    Status.DISPUTED: "disputed by the buyer (207): answer the dispute, then report the outcome",
    Status.SUSPENDED: "suspended by the buyer (208): send what is asked, then report 209",
    Status.CLOSED: "tracking ended unpaid after every reminder: call the customer or hand the invoice to collection",
}
TRIED = {EventKind.SENT: "sent", EventKind.REMINDED: "reminders", EventKind.BOUNCED: "bounces",
         EventKind.RETRIED: "retries", EventKind.REDRIVEN: "redrives", EventKind.RELEASED: "releases",
         EventKind.CORRECTED: "corrections", EventKind.OVERDUE: "overdue"}


def worklist(ctx: Context, supplier_id: str, per_status: int = 50) -> dict[str, Any]:
    items: list[dict[str, Any]] = []
    for status, action in NEEDS_A_PERSON.items():
        records, more = ctx.store.by_supplier(supplier_id, status.value, per_status)
        for rec in records:
            timeline = ctx.store.timeline(rec.invoice_id)
            if status in (Status.REFUSED, Status.CLOSED) and any(e.kind is EventKind.SUPERSEDED for e in timeline):
                continue  # the supplier already issued its correction (or credit note): nothing left to do here
            tried: dict[str, int] = {}
            for e in timeline:
                if e.kind in TRIED:
                    tried[TRIED[e.kind]] = tried.get(TRIED[e.kind], 0) + 1
            items.append({"invoice_id": rec.invoice_id, "number": rec.number, "customer_id": rec.customer_id,
                          "status": status.value, "since": rec.updated_at.isoformat(), "why": _why(rec, timeline),
                          "what_to_do": action.replace("{id}", rec.invoice_id), "tried": tried,
                          "amount_due": str(rec.amount_due) if rec.amount_due is not None else None,
                          "outstanding": str(rec.outstanding) if rec.outstanding is not None else None})
        if more:
            items.append({"status": status.value, "more": True,
                          "note": f"more than {per_status} {status.value} invoices: GET /invoices?status={status.value}"})
    return {"count": sum(1 for i in items if "invoice_id" in i), "items": items}


def _why(rec, timeline) -> str:
    """The invoice's own words for what stopped it: its reason, its blocking findings, or the last
    event that moved it to this state."""
    if rec.reason:
        return rec.reason
    blocking = [f for f in rec.findings if f.get("severity") in ("error", "fatal")]
    if blocking:
        shown = "; ".join(f"{f.get('rule')}: {f.get('message', '')}"[:200] for f in blocking[:5])
        return shown + (f" (+{len(blocking) - 5} more)" if len(blocking) > 5 else "")
    # the event that put it in this state first (a refusal's reason, not the closing note after it)
    ordered = sorted(reversed(timeline), key=lambda e: EVENT_STATUS.get(e.kind) is not rec.status)
    for e in ordered:
        detail = e.detail or {}
        text = detail.get("reason") or detail.get("cause") or detail.get("error")
        if text:
            return f"{e.kind.value}: {text}"
    return rec.status.value
