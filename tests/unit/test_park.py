"""The parked milestone loop against in-memory fakes: its token is kept apart from the invoice,
handed back once by the event that changes the invoice's course, and a loop that parks after such
an event wakes itself."""
from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from botocore.exceptions import ClientError

from facteur.context import Context
from facteur.model.lifecycle import EventKind, Status
from facteur.model.records import Event, InvoiceRecord
from facteur.pipeline.tracker import park, wake
from facteur.settings import Settings
from tests.fakes import FakeDirectory, FakeDocuments, FakeInvoices

NOW = datetime(2026, 12, 10, tzinfo=UTC)


class FakeStepFunctions:
    def __init__(self, fail: str | None = None):
        self.woken: list[tuple[str, dict]] = []
        self.fail = fail

    def send_task_success(self, taskToken: str, output: str) -> dict:
        if self.fail:
            raise ClientError({"Error": {"Code": self.fail, "Message": "x"}}, "SendTaskSuccess")
        self.woken.append((taskToken, json.loads(output)))
        return {}


@pytest.fixture
def ctx():
    c = Context(settings=Settings(invoices_table="t", directory_table="d", inbound_bucket="i", documents_bucket="b"))
    c.__dict__.update(store=FakeInvoices(), directory=FakeDirectory(), documents=FakeDocuments())
    c.clients["stepfunctions"] = FakeStepFunctions()
    return c


def _invoice(ctx, status: Status) -> str:
    rec = InvoiceRecord(invoice_id="inv_1", supplier_id="s", status=status, source="api", original_key="o",
                        created_at=NOW, updated_at=NOW)
    ctx.store.create(rec, Event(invoice_id="inv_1", kind=EventKind.RECEIVED, at=NOW))
    return "inv_1"


def test_the_token_is_handed_back_once(ctx):
    iid = _invoice(ctx, Status.DELIVERED)
    assert park(ctx, iid, "token-1") == {"parked": iid} and ctx.clients["stepfunctions"].woken == []
    assert wake(ctx, iid, "paid") is True and wake(ctx, iid, "paid") is False  # once
    assert ctx.clients["stepfunctions"].woken == [("token-1", {"woken_by": "paid"})]


def test_a_loop_parking_after_the_payment_wakes_itself(ctx):
    iid = _invoice(ctx, Status.PAID)  # paid while the loop was planning its wait
    park(ctx, iid, "token-2")
    assert ctx.clients["stepfunctions"].woken == [("token-2", {"woken_by": "paid"})]


def test_a_token_that_expired_never_fails_the_event(ctx):
    iid = _invoice(ctx, Status.DELIVERED)
    park(ctx, iid, "token-3")
    ctx.clients["stepfunctions"].fail = "TaskTimedOut"
    assert wake(ctx, iid, "disputed") is False  # the planned check still comes
    assert ctx.store.take_wait_token(iid) is None  # and the stale token is gone
