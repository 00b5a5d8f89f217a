"""Milestones that arrive from outside: SES delivery events, events reported by the supplier
(payment, approval, dispute...), and recipients opening their signed download links."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from .. import clock
from ..context import Context
from ..delivery import links
from ..errors import Conflict, Forbidden, InvalidInput, NotFound
from ..model.lifecycle import REASON_REQUIRED, REPORTABLE, EventKind, report_refusal
from ..tracking.deliveries import DeliveryStore
from ..tracking.store import Event, Payment, apply_event

PARIS = ZoneInfo("Europe/Paris")
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
        DeliveryStore(ctx.settings.require("invoices_table"), ctx.client("dynamodb")).confirm(invoice_id, purpose, recipient_id,
                                                                                   "email", message_id)
    apply_event(ctx.store, invoice_id, Event(invoice_id=invoice_id, kind=kind, at=at, actor="ses",
                                             recipient_id=recipient_id, detail=info,
                                             id=f"ses:{message_id}:{event_type}" if message_id else None))
    return {"recorded": kind.value, "invoice_id": invoice_id}


class ReportedEvent(BaseModel):
    """POST /invoices/{id}/events: what the supplier (or its ERP) reports."""

    model_config = ConfigDict(extra="forbid")

    kind: EventKind
    at: AwareDatetime | None = Field(None, description="When it happened (with a time zone); default: now")
    amount: Decimal | None = Field(None, description="Payment amount (a decimal string); default: what is outstanding")
    currency: str | None = Field(None, pattern=r"^[A-Z]{3}$", description="ISO 4217; must be the invoice's")
    reason: str | None = Field(None, max_length=2000)
    reason_code: str | None = Field(None, max_length=50)
    reference: str | None = Field(None, max_length=200, description="The payment's or message's own id: reported once")

    @field_validator("amount", mode="before")
    @classmethod
    def _decimal_only(cls, v: Any) -> Any:
        if isinstance(v, float):
            raise ValueError("give amounts as decimal strings (\"180.00\"), not floating-point numbers")
        return v

    @field_validator("amount")
    @classmethod
    def _plausible(cls, v: Decimal | None) -> Decimal | None:
        if v is not None and (not v.is_finite() or v <= 0 or v >= Decimal("1e15") or -v.as_tuple().exponent > 4):  # type: ignore[operator]
            raise ValueError("an amount is positive, below 10^15, with at most 4 decimals")
        return v


CLOCK_SKEW = timedelta(minutes=5)


def record_reported_event(ctx: Context, supplier_id: str, invoice_id: str, body: ReportedEvent) -> dict:
    rec = ctx.store.get(invoice_id)
    if rec.supplier_id != supplier_id:
        raise NotFound(f"invoice {invoice_id} not found")  # tenant isolation: never confirm existence
    why = report_refusal(rec.status, body.kind)
    if why:
        raise (Conflict if body.kind in REPORTABLE else InvalidInput)(why, code="not_allowed_now" if body.kind in REPORTABLE
                                                                       else "not_reportable")
    if body.kind in REASON_REQUIRED and not (body.reason or "").strip():
        raise InvalidInput(f"'{body.kind.value}' needs a reason", code="reason_required")
    now = clock.now()
    at = body.at or now
    if at > now + CLOCK_SKEW:
        raise InvalidInput("'at' is in the future", code="date_out_of_range")
    if rec.issue_date and at.astimezone(PARIS).date() < rec.issue_date:
        raise InvalidInput(f"'at' is before the invoice's issue date ({rec.issue_date})", code="date_out_of_range")
    detail: dict[str, Any] = {k: v for k, v in {"reason": body.reason, "reason_code": body.reason_code,
                                                 "reference": body.reference}.items() if v}
    kind, mutate = body.kind, None
    if body.kind in (EventKind.PAID, EventKind.PAYMENT_SENT):
        currency = body.currency or rec.currency or "EUR"
        if rec.currency and currency != rec.currency:
            raise InvalidInput(f"the invoice is in {rec.currency}, not {currency}", code="currency_mismatch")
        if body.amount is not None or body.kind is EventKind.PAID:
            outstanding = rec.outstanding
            amount = body.amount if body.amount is not None else outstanding
            if amount is None:
                raise InvalidInput("this invoice has no amount due: give the amount", code="amount_required")
            if outstanding is not None and amount > outstanding:
                raise InvalidInput(f"{amount} {currency} is more than the {outstanding} {currency} outstanding",
                                   code="overpayment")
            detail.update(amount=str(amount), currency=currency)
            if body.kind is EventKind.PAID:
                payment = Payment(amount=amount, currency=currency, at=at, reference=body.reference)
                if outstanding is not None and amount < outstanding:
                    kind = EventKind.PARTIALLY_PAID
                    detail["outstanding"] = str(outstanding - amount)

                def mutate(r):
                    r.payments = [*r.payments, payment]
    event_id = f"supplier:{body.kind.value}:{body.reference}" if body.reference else None
    updated = apply_event(ctx.store, invoice_id, Event(invoice_id=invoice_id, kind=kind, at=at, id=event_id,
                                                       actor=f"supplier:{supplier_id}", detail=detail), mutate=mutate)
    return updated.public()


def revoke_links(ctx: Context, supplier_id: str, invoice_id: str, recipient_id: str) -> dict:
    """Every link issued so far to this recipient for this invoice stops working (a new e-mail
    or reminder carries a new one)."""
    rec = ctx.store.get(invoice_id)
    if rec.supplier_id != supplier_id:
        raise NotFound(f"invoice {invoice_id} not found")
    if recipient_id not in {e.recipient_id for e in ctx.store.timeline(invoice_id) if e.kind is EventKind.SENT}:
        raise InvalidInput(f"no link was sent to '{recipient_id[:64]}' for this invoice", code="unknown_recipient")
    now = clock.now()
    updated = apply_event(ctx.store, invoice_id, Event(invoice_id=invoice_id, kind=EventKind.LINK_REVOKED, at=now,
                                                       actor=f"supplier:{supplier_id}", recipient_id=recipient_id),
                          mutate=lambda r: r.revoked_links.update({recipient_id: now}))
    return updated.public()


def open_link(ctx: Context, token: str) -> str:
    """Verify a download link, record the download, return a short-lived presigned URL."""
    claims = links.verify(ctx.link_keys, token, clock.now())
    rec = ctx.store.get(claims.invoice_id)
    revoked = rec.revoked_links.get(claims.recipient_id)
    if revoked is not None and claims.issued_at <= revoked:
        raise Forbidden("this link was revoked by the sender", code="link_revoked")
    key = rec.documents.get(claims.document)
    if not key:
        raise NotFound("document not available")
    # The first opening per recipient and document is the milestone; later ones (mail scanners,
    # a second look) are not recorded again. A GET is not the buyer's word: no lifecycle status.
    apply_event(ctx.store, claims.invoice_id, Event(invoice_id=claims.invoice_id, kind=EventKind.DOWNLOADED,
                                                    at=clock.now(), actor=f"recipient:{claims.recipient_id}",
                                                    recipient_id=claims.recipient_id,
                                                    id=f"link:{claims.recipient_id}:{claims.document}",
                                                    detail={"document": claims.document}))
    filename = f"{rec.number or claims.invoice_id}.pdf" if claims.document == "facturx" else key.rsplit("/", 1)[-1]
    return ctx.documents.presign(key, ctx.settings.presigned_ttl_seconds, filename)
