"""Milestones that arrive from outside: SES delivery events, events reported by the supplier
(payment, approval, dispute...), and recipients opening their signed download links."""
from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from botocore.exceptions import ClientError
from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field

from .. import clock
from ..context import Context
from ..delivery import links
from ..errors import Conflict, Forbidden, InvalidInput, NotFound
from ..model.lifecycle import LIFECYCLE, REASON_REQUIRED, REPORTABLE, EventKind, Source, Status, lifecycle_refusal, report_refusal
from ..observability import logger
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
        info["bounce_subtype"] = section.get("bounceSubType")
        info["diagnostic"] = ((section.get("bouncedRecipients") or [{}])[0]).get("status")
        if str(section.get("bounceSubType") or "") in ("OnAccountSuppressionList", "Suppressed"):
            info["suppressed"] = True  # SES did not even try: the address is on the suppression list
    message_id = info["message_id"]
    purpose = (tags.get("purpose") or [None])[0]
    if purpose and recipient_id:  # the channel's own word settles a delivery whose sender died
        DeliveryStore(ctx.settings.require("invoices_table"), ctx.client("dynamodb")).confirm(invoice_id, purpose, recipient_id,
                                                                                   "email", message_id)
    apply_event(ctx.store, invoice_id, Event(invoice_id=invoice_id, kind=kind, at=at, actor="ses",
                                             recipient_id=recipient_id, detail=info,
                                             id=f"ses:{message_id}:{event_type}" if message_id else None))
    return {"recorded": kind.value, "invoice_id": invoice_id}


def _no_float(v: Any) -> Any:
    if isinstance(v, float):
        raise ValueError("give amounts as decimal strings (\"180.00\"), not floating-point numbers")
    return v


def _plausible(v: Decimal | None) -> Decimal | None:
    if v is not None and (not v.is_finite() or v <= 0 or v >= Decimal("1e15") or -v.as_tuple().exponent > 4):  # type: ignore[operator]
        raise ValueError("an amount is positive, below 10^15, with at most 4 decimals")
    return v


Amount = Annotated[Decimal | None, BeforeValidator(_no_float), AfterValidator(_plausible)]


class ReportedEvent(BaseModel):
    """POST /invoices/{id}/events: what the supplier (or its ERP) reports."""

    model_config = ConfigDict(extra="forbid")

    kind: EventKind
    at: AwareDatetime | None = Field(None, description="When it happened (with a time zone); default: now")
    amount: Amount = Field(None, description="Payment amount (a decimal string); default: what is outstanding")
    currency: str | None = Field(None, pattern=r"^[A-Z]{3}$", description="ISO 4217; must be the invoice's")
    reason: str | None = Field(None, max_length=2000)
    reason_code: str | None = Field(None, max_length=50)
    reference: str | None = Field(None, max_length=200, description="The payment's or message's own id: reported once")


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
        kind, mutate = _payment(rec, body.kind, body.amount, body.currency, at, body.reference, detail)
    event_id = f"supplier:{body.kind.value}:{body.reference}" if body.reference else None
    updated = apply_event(ctx.store, invoice_id, Event(invoice_id=invoice_id, kind=kind, at=at, id=event_id,
                                                       actor=f"supplier:{supplier_id}", detail=detail), mutate=mutate)
    if kind in WAKING:
        wake(ctx, invoice_id, kind.value)
    return updated.public()


def _payment(rec, kind: EventKind, amount: Decimal | None, currency: str | None, at, reference: str | None,
             detail: dict[str, Any]):
    """A payment (212, paid) or a payment order (211): checked against what is outstanding, in the
    invoice's currency; a payment below it is partial. Returns the event kind and the projection's change."""
    currency = currency or rec.currency or "EUR"
    if rec.currency and currency != rec.currency:
        raise InvalidInput(f"the invoice is in {rec.currency}, not {currency}", code="currency_mismatch")
    if amount is None and kind is not EventKind.PAID:
        return kind, None
    outstanding = rec.outstanding
    amount = amount if amount is not None else outstanding
    if amount is None:
        raise InvalidInput("this invoice has no amount due: give the amount", code="amount_required")
    if outstanding is not None and amount > outstanding:
        raise InvalidInput(f"{amount} {currency} is more than the {outstanding} {currency} outstanding", code="overpayment")
    detail.update(amount=str(amount), currency=currency)
    if kind is not EventKind.PAID:
        return kind, None
    payment = Payment(amount=amount, currency=currency, at=at, reference=reference)
    if outstanding is not None and amount < outstanding:
        kind = EventKind.PARTIALLY_PAID
        detail["outstanding"] = str(outstanding - amount)

    def mutate(r):
        r.payments = [*r.payments, payment]

    return kind, mutate


# --- the French lifecycle (200-213), as JSON or as a CDAR message -------------------------------

class LifecycleStatus(BaseModel):
    """POST /invoices/{id}/lifecycle as JSON: a status the supplier's platform forwarded (or its own)."""

    model_config = ConfigDict(extra="forbid")

    code: int = Field(..., description="200-213")
    source: Source | None = Field(None, description="platform, buyer or seller; default: the status's only issuer")
    reason_code: str | None = Field(None, max_length=50)
    reason: str | None = Field(None, max_length=2000)
    amount: Amount = Field(None, description="206: the amount approved; 211/212: the amount paid (decimal string)")
    currency: str | None = Field(None, pattern=r"^[A-Z]{3}$")
    at: AwareDatetime | None = None
    reference: str | None = Field(None, max_length=200, description="the message's own id: recorded once")


def record_lifecycle(ctx: Context, supplier_id: str, invoice_id: str, body: bytes, content_type: str = "") -> dict:
    """A lifecycle status for one invoice, from JSON or a CDAR message. A CDAR is kept as received
    (whatever follows); its statuses for other invoices are reported back, never dropped."""
    rec = ctx.store.get(invoice_id)
    if rec.supplier_id != supplier_id:
        raise NotFound(f"invoice {invoice_id} not found")
    if body.lstrip()[:1] == b"<" or "xml" in content_type:
        return _record_cdar(ctx, supplier_id, rec, body)
    try:
        payload = json.loads(body.decode("utf-8") or "{}")
    except ValueError as exc:
        raise ValueError("the body is neither a CDAR message nor valid JSON") from exc
    if not isinstance(payload, dict):
        raise InvalidInput("the body must be a JSON object or a CDAR message", code="not_an_object")
    st = LifecycleStatus.model_validate(payload)
    return _apply_status(ctx, supplier_id, rec, st.code, st.source, reason_code=st.reason_code, reason=st.reason,
                         amount=st.amount, currency=st.currency, at=st.at, reference=st.reference, extra={})


def _record_cdar(ctx: Context, supplier_id: str, rec, body: bytes) -> dict:
    from ..controls.official import check
    from ..formats import cdar

    key = ctx.documents.put(f"lifecycle/{supplier_id}/{rec.invoice_id}/{clock.now().strftime('%Y%m%dT%H%M%S%f')}.xml",
                            body, "application/xml")  # kept as received, before anything can refuse it
    msg = cdar.read(body)
    findings = sorted({f.rule for f in check(body).blocking})  # the form (BR-FR-CDV): recorded, the sense decides
    mine = [st for st in msg.statuses if st.invoice_number == rec.number]
    others = [st.invoice_number for st in msg.statuses if st.invoice_number != rec.number]
    if not mine:
        raise InvalidInput(f"this CDAR message is about {', '.join(others)[:200]}, not invoice {rec.number} "
                           f"(kept as {key})", code="cdar_other_invoice")
    source = Source(msg.source) if msg.source else None
    results = []
    for st in mine:
        extra = {"message_id": msg.id, "cdar_key": key, **({"cdar_findings": findings} if findings else {})}
        if st.reason_code:
            extra["reason_code"] = st.reason_code
        results.append(_apply_status(ctx, supplier_id, rec, st.code, source, reason_code=st.reason_code, reason=st.reason,
                                     amount=st.amount, currency=None, at=msg.issued_at,
                                     reference=f"{msg.id}:{st.code}" if msg.id else None, extra=extra))
        rec = ctx.store.get(rec.invoice_id)
    out = results[-1]
    if others:
        out = {**out, "not_this_invoice": others, "kept_as": key}
    return out


def _apply_status(ctx: Context, supplier_id: str, rec, code: int, source: Source | None, *, reason_code: str | None,
                  reason: str | None, amount: Decimal | None, currency: str | None, at, reference: str | None,
                  extra: dict[str, Any]) -> dict:
    rule = LIFECYCLE.get(code)
    if rule is None:
        raise InvalidInput(f"{code} is not a lifecycle status (200-213)", code="unknown_status")
    if source is None:
        if len(rule.issuers) != 1:
            raise InvalidInput(f"say who set {code}: 'source'", code="source_required")
        (source,) = rule.issuers
    event_id = f"lifecycle:{reference}" if reference else None
    if event_id and ctx.store.has_event(rec.invoice_id, event_id):
        return rec.public()  # the same message again: recorded once, answered the same
    history = [c for c in (e.french_code for e in ctx.store.timeline(rec.invoice_id)) if c]
    fully_paid = rec.status is Status.PAID
    why = lifecycle_refusal(history, code, source, reason=reason or reason_code, amount=amount
                            if code != 212 else (amount if amount is not None else rec.outstanding), fully_paid=fully_paid)
    if why:
        form = any(w in why for w in ("not a lifecycle", "is set by", "needs"))
        raise (InvalidInput if form else Conflict)(why, code="lifecycle_invalid" if form else "lifecycle_not_now")
    now = clock.now()
    at = at or now
    if at > now + CLOCK_SKEW:
        raise InvalidInput("'at' is in the future", code="date_out_of_range")
    detail: dict[str, Any] = {"lifecycle_code": code, "source": source.value, **extra,
                              **{k: v for k, v in {"reason": reason or (reason_code and f"code {reason_code}"),
                                                   "reason_code": reason_code}.items() if v}}
    kind, mutate = rule.kind, None
    if code in (211, 212):
        kind, mutate = _payment(rec, rule.kind, amount, currency, at, reference, detail)
    elif code == 206 and amount is not None:
        detail["amount"] = str(amount)
    updated = apply_event(ctx.store, rec.invoice_id, Event(invoice_id=rec.invoice_id, kind=kind, at=at, id=event_id,
                                                           actor=f"{source.value}:via:{supplier_id}", detail=detail),
                          mutate=mutate)
    if kind in WAKING:
        wake(ctx, rec.invoice_id, kind.value)
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


def redeliver_failed(ctx: Context, supplier_id: str, invoice_id: str) -> dict:
    """The redrive: deliveries of the invoice that were given up (a receiver down for 24 h, a
    refusal since fixed) are tried again now, with a new 24 h window; the parked path does it."""
    rec = ctx.store.get(invoice_id)
    if rec.supplier_id != supplier_id:
        raise NotFound(f"invoice {invoice_id} not found")
    n = DeliveryStore(ctx.settings.require("invoices_table"), ctx.client("dynamodb")).reopen_failed(invoice_id, "initial")
    if n == 0:
        raise Conflict("no failed delivery of this invoice to send again", code="nothing_to_redeliver")
    apply_event(ctx.store, invoice_id, Event(invoice_id=invoice_id, kind=EventKind.REDRIVEN, at=clock.now(),
                                             actor=f"supplier:{supplier_id}", detail={"deliveries": n, "why": "redeliver"}))
    woken = wake(ctx, invoice_id, "redeliver")
    return {**ctx.store.get(invoice_id).public(), "redelivering": n, "woken": woken}


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


# --- the parked milestone loop ----------------------------------------------------------------
# The state machine parks each invoice with a task token until its next planned check; the events
# that change what it must do hand the token back so that it acts at once (a payment ends it).

# What changes the plan's next wake-up: an end (paid, refused), a pause (207, 208) or a resumption
# (209, resolved, 205). Downloads and deliveries do not wake it: at its planned time the planner
# sees them and skips what they fulfilled (one wake-up either way, none when nothing was planned).
WAKING = frozenset({EventKind.PAID, EventKind.REFUSED, EventKind.PLATFORM_REJECTED, EventKind.DISPUTED,
                    EventKind.SUSPENDED, EventKind.COMPLETED, EventKind.RESOLVED, EventKind.APPROVED,
                    EventKind.PARTIALLY_APPROVED})


def wake(ctx: Context, invoice_id: str, why: str) -> bool:
    """Hand the parked loop its token back (once). Never fails the caller: if the loop moved on
    (token expired, execution ended) or the call fails, its planned check still comes."""
    token = ctx.store.take_wait_token(invoice_id)
    if not token:
        return False
    try:
        ctx.client("stepfunctions").send_task_success(taskToken=token, output=json.dumps({"woken_by": why}))
        return True
    except ClientError as exc:
        logger.warning("could not wake the invoice's path", extra={"invoice_id": invoice_id,
                                                                   "error": exc.response["Error"]["Code"]})
        return False
