"""Milestones that arrive from outside: SES delivery events, events reported by the supplier
(payment, approval, dispute...), and recipients opening their signed download links."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from .. import clock
from ..context import Context
from ..delivery import links
from ..errors import Forbidden, NotFound
from ..model.lifecycle import EventKind
from ..tracking.deliveries import DeliveryStore
from ..tracking.store import Event, apply_event

SES_KINDS = {"Delivery": EventKind.DELIVERED, "Bounce": EventKind.BOUNCED, "Reject": EventKind.BOUNCED,
             "Complaint": EventKind.BOUNCED}


def record_ses_event(ctx: Context, detail: dict[str, Any]) -> dict:
    """An SES event (EventBridge `detail`); correlated through the EmailTags we set when sending."""
    event_type = detail.get("eventType") or detail.get("notificationType")
    kind = SES_KINDS.get(event_type or "")
    tags = (detail.get("mail") or {}).get("tags") or {}
    invoice_id = (tags.get("invoice_id") or [None])[0]
    recipient_id = (tags.get("recipient_id") or [None])[0]
    if kind is None or not invoice_id:
        return {"ignored": event_type or "unknown"}
    section = detail.get(event_type[0].lower() + event_type[1:], {}) if event_type else {}
    at = clock.parse_iso(section["timestamp"]) if section.get("timestamp") else clock.now()
    info: dict[str, Any] = {"channel": "email", "ses_event": event_type,
                            "message_id": (detail.get("mail") or {}).get("messageId")}
    if event_type == "Bounce":
        info["bounce_type"] = section.get("bounceType")
        info["diagnostic"] = ((section.get("bouncedRecipients") or [{}])[0]).get("status")
    message_id = info["message_id"]
    purpose = (tags.get("purpose") or [None])[0]
    if purpose and recipient_id:  # the channel's own word settles a delivery whose sender died
        DeliveryStore(ctx.settings.invoices_table, ctx.client("dynamodb")).confirm(invoice_id, purpose, recipient_id,
                                                                                   "email", message_id)
    apply_event(ctx.store, invoice_id, Event(invoice_id=invoice_id, kind=kind, at=at, actor="ses",
                                             recipient_id=recipient_id, detail=info,
                                             id=f"ses:{message_id}:{event_type}" if message_id else None))
    return {"recorded": kind.value, "invoice_id": invoice_id}


class ReportedEvent(BaseModel):
    """POST /invoices/{id}/events: what the supplier (or its ERP) reports."""

    kind: EventKind
    at: datetime | None = None
    amount: str | None = Field(None, description="Paid amount (Decimal as string) for payment events")
    reason: str | None = None
    reference: str | None = None


REPORTABLE = {EventKind.PAID, EventKind.PAYMENT_SENT, EventKind.APPROVED, EventKind.PARTIALLY_APPROVED,
              EventKind.DISPUTED, EventKind.SUSPENDED, EventKind.COMPLETED, EventKind.REFUSED}


def record_reported_event(ctx: Context, supplier_id: str, invoice_id: str, body: ReportedEvent) -> dict:
    rec = ctx.store.get(invoice_id)
    if rec.supplier_id != supplier_id:
        raise NotFound(f"invoice {invoice_id} not found")  # tenant isolation: never confirm existence
    if body.kind not in REPORTABLE:
        raise Forbidden(f"event '{body.kind.value}' cannot be reported through the API", code="not_reportable")
    if body.kind is EventKind.REFUSED and not body.reason:
        raise Forbidden("a refusal (210) needs a reason", code="reason_required")
    at = body.at or clock.now()
    if at.tzinfo is None:
        raise Forbidden("'at' must carry a time zone", code="naive_datetime")
    detail = {k: v for k, v in {"amount": body.amount, "reason": body.reason, "reference": body.reference}.items() if v}
    updated = apply_event(ctx.store, invoice_id, Event(invoice_id=invoice_id, kind=body.kind, at=at,
                                                       actor=f"supplier:{supplier_id}", detail=detail))
    return updated.public()


def open_link(ctx: Context, token: str) -> str:
    """Verify a download link, record the download, return a short-lived presigned URL."""
    claims = links.verify(ctx.link_key, token, clock.now())
    rec = ctx.store.get(claims.invoice_id)
    key = rec.documents.get(claims.document)
    if not key:
        raise NotFound("document not available")
    apply_event(ctx.store, claims.invoice_id, Event(invoice_id=claims.invoice_id, kind=EventKind.DOWNLOADED,
                                                    at=clock.now(), actor=f"recipient:{claims.recipient_id}",
                                                    recipient_id=claims.recipient_id, detail={"document": claims.document}))
    filename = f"{rec.number or claims.invoice_id}.pdf" if claims.document == "facturx" else key.rsplit("/", 1)[-1]
    return ctx.documents.presign(key, ctx.settings.presigned_ttl_seconds, filename)
