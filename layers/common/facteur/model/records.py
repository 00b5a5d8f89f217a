"""The tracking domain: an invoice's projection (what the supplier sees) and the events of its
timeline. Pure models: the DynamoDB adapter (tracking/store.py) stores them."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .. import clock
from .lifecycle import FRENCH_CODE, EventKind, Status


class _Detail(BaseModel):
    """Typed payloads of the timeline's events: the fields each kind must carry are checked when
    the event is made; other facts may ride along (extra allowed, e.g. a channel's own ids)."""

    model_config = ConfigDict(extra="allow")


class DeliveryDetail(_Detail):  # sent, reminded, delivered, bounced
    channel: str
    role: str | None = None
    purpose: str | None = None
    message_id: str | None = None
    unconfirmed: bool | None = None
    error: str | None = None


class PaymentDetail(_Detail):  # paid, partially_paid, payment_sent (amount optional there)
    amount: Decimal | None = None
    currency: str | None = Field(None, pattern=r"^[A-Z]{3}$")
    reference: str | None = None
    outstanding: Decimal | None = None


class ReasonDetail(_Detail):  # rejected, refused, closed...
    reason: str = Field(..., min_length=1)
    code: str | None = None


class LifecycleDetail(_Detail):  # platform_status (200-203), taken_in_charge (204)
    lifecycle_code: int = Field(..., ge=200, le=213)
    source: str


class FailureDetail(_Detail):  # failed
    error: str
    cause: str = ""


class DownloadDetail(_Detail):  # downloaded
    document: str


class OverdueDetail(_Detail):  # overdue
    due_date: date


class StepDetail(_Detail):  # scenario_step: one action of the customer's scenario
    action: str
    rule: str
    amount_due: Decimal
    sent_to: list[str] = Field(default_factory=list)
    interest: Decimal | None = None
    indemnity: Decimal | None = None


DETAILS: dict[EventKind, type[_Detail]] = {
    EventKind.SENT: DeliveryDetail, EventKind.REMINDED: DeliveryDetail, EventKind.DELIVERED: DeliveryDetail,
    EventKind.BOUNCED: DeliveryDetail, EventKind.PAID: PaymentDetail, EventKind.PARTIALLY_PAID: PaymentDetail,
    EventKind.PAYMENT_SENT: PaymentDetail, EventKind.REJECTED: ReasonDetail, EventKind.REFUSED: ReasonDetail,
    EventKind.CLOSED: ReasonDetail, EventKind.FAILED: FailureDetail, EventKind.DOWNLOADED: DownloadDetail,
    EventKind.OVERDUE: OverdueDetail, EventKind.PLATFORM_STATUS: LifecycleDetail, EventKind.TAKEN_IN_CHARGE: LifecycleDetail,
    EventKind.FORMAL_NOTICE: DeliveryDetail, EventKind.HANDED_OFF: DeliveryDetail, EventKind.ALERTED: DeliveryDetail,
    EventKind.SCENARIO_STEP: StepDetail, EventKind.STATUS_REPORTED: DeliveryDetail,
}


class Event(BaseModel):
    invoice_id: str
    kind: EventKind
    at: datetime  # when it happened (occurred_at): a payment date, an SES delivery time...
    recorded_at: datetime | None = None  # when Facteur learnt it (set by the store)
    actor: str = "facteur"  # facteur | supplier:{id} | recipient:{id} | ses | buyer
    recipient_id: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict)
    # Deterministic id `{source}:{external id}` (an SES message event, a delivery, a payment
    # reference...): an event with an id is recorded once, however often it is delivered.
    id: str | None = None

    @model_validator(mode="after")
    def _typed_detail(self) -> Event:
        model = DETAILS.get(self.kind)
        if model is not None:
            model.model_validate(self.detail)  # raises on a missing or mistyped field
        return self

    @property
    def typed_detail(self) -> _Detail | None:
        model = DETAILS.get(self.kind)
        return model.model_validate(self.detail) if model is not None else None

    @property
    def occurred_at(self) -> datetime:
        return self.at

    @property
    def french_code(self) -> int | None:
        """The lifecycle status (200-213) this event is, if any: a platform's 200-203 carry theirs."""
        if isinstance(self.detail.get("lifecycle_code"), int):
            return int(self.detail["lifecycle_code"])
        code = FRENCH_CODE.get(self.kind)
        return int(code) if code else None

    def public(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind.value, "at": clock.iso(self.at), "actor": self.actor}
        if self.recorded_at and self.recorded_at != self.at:
            out["recorded_at"] = clock.iso(self.recorded_at)
        if self.recipient_id:
            out["recipient_id"] = self.recipient_id
        if self.french_code:
            out["lifecycle_code"] = self.french_code
        if self.detail:
            out["detail"] = self.detail
        return out


class PaymentTerm(BaseModel):
    """One instalment of what is due: by a date, an amount (or a percent of the total) and an
    early-payment discount. Invoices with one due date have one term; EXTENDED invoices and
    contracts may have several (room for reminders per instalment)."""

    due_date: date
    amount: Decimal | None = None
    percent: Decimal | None = None
    discount_percent: Decimal | None = None
    discount_until: date | None = None
    description: str | None = None


class Payment(BaseModel):
    """A payment the supplier reported (212 when it settles the amount due, partial otherwise)."""

    amount: Decimal
    currency: str
    at: datetime
    reference: str | None = None


class InvoiceRecord(BaseModel):
    """The projection: what the supplier sees of one invoice."""

    invoice_id: str
    supplier_id: str
    status: Status
    version: int = 0
    created_at: datetime
    updated_at: datetime
    source: str  # s3 | api
    original_key: str
    original_name: str = ""
    input_kind: str | None = None
    number: str | None = None
    customer_id: str | None = None
    issue_date: date | None = None
    due_date: date | None = None  # the last instalment's due date (Europe/Paris calendar day)
    currency: str | None = None
    amount_due: Decimal | None = None
    canonical_key: str | None = None
    documents: dict[str, str] = Field(default_factory=dict)
    findings: list[dict[str, Any]] = Field(default_factory=list)
    reason: str | None = None
    reason_code: str | None = None
    duplicate_of: str | None = None
    next_due_at: datetime | None = None
    recipients: dict[str, dict[str, Any]] = Field(default_factory=dict)  # per-recipient milestone state
    payment_terms: list[PaymentTerm] = Field(default_factory=list)
    payments: list[Payment] = Field(default_factory=list)
    revoked_links: dict[str, datetime] = Field(default_factory=dict)  # recipient -> links issued before are void

    @property
    def amount_paid(self) -> Decimal:
        return sum((p.amount for p in self.payments), Decimal("0"))

    @property
    def outstanding(self) -> Decimal | None:
        return None if self.amount_due is None else self.amount_due - self.amount_paid

    def public(self) -> dict[str, Any]:
        data = self.model_dump(mode="json", exclude={"version", "canonical_key"})
        data["amount_paid"] = str(self.amount_paid)
        if self.outstanding is not None:
            data["outstanding"] = str(self.outstanding)
        data["created_at"] = clock.iso(self.created_at)
        data["updated_at"] = clock.iso(self.updated_at)
        if self.next_due_at:
            data["next_due_at"] = clock.iso(self.next_due_at)
        return data
