"""Pure decisions: who receives what (plan_dispatch) and which reported event is allowed when
(one table, model/lifecycle.py)."""
from __future__ import annotations

import pytest

from facteur.model.directory import Customer
from facteur.model.lifecycle import REPORTABLE, EventKind, Status, report_refusal
from facteur.pipeline.dispatch import plan_dispatch


def customer() -> Customer:
    return Customer.model_validate({"id": "c", "name": "C", "recipients": [
        {"id": "a", "name": "A", "email": "a@c.example"},
        {"id": "b", "name": "B", "channel": "peppol", "endpoint": "0225:552100554"},
        {"id": "h", "name": "H", "channel": "http", "endpoint": "https://c.example/hook"},  # no signing secret
        {"id": "n", "name": "N"},
    ]})


def test_plan_dispatch_lists_the_unreachable_with_the_reason():
    plan = plan_dispatch(customer())
    assert [p.recipient.id for p in plan.deliveries] == ["a"]
    assert dict(plan.unreachable) == {"b": "channel 'peppol' is not available yet", "n": "no e-mail address",
                                      "h": "a webhook needs its endpoint URL and its signing secret (secret_id)"}
    assert plan_dispatch(customer(), skip=frozenset({"a"})).deliveries == []


@pytest.mark.parametrize("status", [Status.RECEIVED, Status.HELD, Status.REJECTED, Status.DUPLICATE, Status.FAILED,
                                    Status.DEPOSITED])
def test_no_payment_before_the_invoice_left(status):
    assert report_refusal(status, EventKind.PAID) == f"'paid' cannot be reported on an invoice that is {status.value}"


def test_paid_twice_and_not_reportable_kinds():
    assert report_refusal(Status.PAID, EventKind.PAID) == "this invoice is already paid"
    assert report_refusal(Status.SENT, EventKind.SENT) == "'sent' cannot be reported through the API"
    assert report_refusal(Status.DELIVERED, EventKind.PAID) is None
    assert report_refusal(Status.CLOSED, EventKind.PAID) is None  # a late payment after the horizon still counts


def test_completed_or_resolved_only_after_a_suspension_or_dispute():
    assert report_refusal(Status.SUSPENDED, EventKind.COMPLETED) is None
    assert report_refusal(Status.DELIVERED, EventKind.COMPLETED) is not None
    assert report_refusal(Status.DISPUTED, EventKind.RESOLVED) is None
    assert report_refusal(Status.DOWNLOADED, EventKind.RESOLVED) == "'resolved' cannot be reported on an invoice that is downloaded"
    assert set(REPORTABLE) == {EventKind.APPROVED, EventKind.PARTIALLY_APPROVED, EventKind.DISPUTED, EventKind.SUSPENDED,
                               EventKind.COMPLETED, EventKind.RESOLVED, EventKind.REFUSED, EventKind.PAYMENT_SENT,
                               EventKind.PAID}


def test_event_payloads_are_typed_per_kind():
    from datetime import UTC, datetime

    from pydantic import ValidationError

    from facteur.model.records import Event, PaymentDetail

    at = datetime(2026, 12, 7, tzinfo=UTC)
    ev = Event(invoice_id="inv_1", kind=EventKind.PAID, at=at, detail={"amount": "180.00", "currency": "EUR"})
    assert isinstance(ev.typed_detail, PaymentDetail) and str(ev.typed_detail.amount) == "180.00"
    with pytest.raises(ValidationError):
        Event(invoice_id="inv_1", kind=EventKind.PAID, at=at, detail={"amount": "lots"})
    with pytest.raises(ValidationError):
        Event(invoice_id="inv_1", kind=EventKind.SENT, at=at, detail={"message_id": "m"})  # which channel?
    with pytest.raises(ValidationError):
        Event(invoice_id="inv_1", kind=EventKind.REJECTED, at=at, detail={})  # a rejection says why
    assert Event(invoice_id="inv_1", kind=EventKind.CONVERTED, at=at, detail={"anything": 1}).typed_detail is None


def test_a_webhook_endpoint_must_be_https():
    with pytest.raises(ValueError, match="https"):
        Customer.model_validate({"id": "c", "name": "C", "recipients": [
            {"id": "h", "name": "H", "channel": "http", "endpoint": "http://c.example/hook", "secret_id": "facteur/webhooks/s/h"}]})
