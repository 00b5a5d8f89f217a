"""The daily sweep against in-memory fakes of the ports: it reads every due invoice (all pages, not
the first 100), acts once, and moves what it handled out of the due range, so that the next pass
reads only what is due then; invoices with nothing left to watch leave the due index."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from facteur import clock
from facteur.context import Context
from facteur.model.directory import Supplier
from facteur.model.lifecycle import EventKind, Status
from facteur.model.records import Event, InvoiceRecord
from facteur.reminders.sweep import sweep
from facteur.settings import Settings
from tests.fakes import FakeDirectory, FakeDocuments, FakeInvoices

NOW = datetime(2027, 1, 5, 6, tzinfo=UTC)


@pytest.fixture
def ctx():
    c = Context(settings=Settings(invoices_table="t", directory_table="d", inbound_bucket="i", documents_bucket="b"))
    c.__dict__.update(store=FakeInvoices(), directory=FakeDirectory([Supplier(id="atelier-dupont", name="Atelier")]),
                      documents=FakeDocuments())
    clock.set_provider(lambda: NOW)
    yield c
    clock.set_provider(None)


def _add(ctx, n: int, status: Status, next_due_at: datetime | None, due: date = date(2026, 12, 31)) -> str:
    iid = f"inv_{status.value}_{n:04d}"
    rec = InvoiceRecord(invoice_id=iid, supplier_id="atelier-dupont", status=status, source="s3", original_key=f"originals/{iid}",
                        created_at=NOW - timedelta(days=40),
                        updated_at=NOW - timedelta(days=40), due_date=due, next_due_at=next_due_at)
    ctx.store.create(rec, Event(invoice_id=iid, kind=EventKind.RECEIVED, at=NOW - timedelta(days=40)))
    return iid


def test_every_due_invoice_is_handled_once_and_the_next_pass_reads_none_of_them(ctx):
    late = [_add(ctx, i, Status.DELIVERED, NOW - timedelta(hours=1)) for i in range(250)]  # more than a page
    paid = _add(ctx, 0, Status.PAID, NOW - timedelta(days=3))  # left in the index by an ended path
    waiting = _add(ctx, 1, Status.DOWNLOADED, NOW + timedelta(days=2))  # its path wakes later: not due
    first = sweep(ctx)
    assert first == {"checked": 251, "overdue": 250, "redriven": 0, "rechecked": 0}
    assert all(ctx.store.has_event(i, "milestone:overdue") for i in late)
    assert all(ctx.store.get(i).next_due_at == NOW + timedelta(days=1) for i in late)  # back tomorrow, not today
    assert ctx.store.get(paid).next_due_at is None  # nothing left to watch
    assert ctx.store.get(waiting).next_due_at == NOW + timedelta(days=2)
    assert sweep(ctx) == {"checked": 0, "overdue": 0, "redriven": 0, "rechecked": 0}  # items read = items due


def test_overdue_is_recorded_once_across_daily_passes(ctx):
    iid = _add(ctx, 0, Status.DELIVERED, NOW - timedelta(minutes=5))
    sweep(ctx)
    clock.set_provider(lambda: NOW + timedelta(days=1, minutes=1))
    assert sweep(ctx) == {"checked": 1, "overdue": 0, "redriven": 0, "rechecked": 0}
    assert [e.kind for e in ctx.store.timeline(iid)].count(EventKind.OVERDUE) == 1


def test_an_invoice_not_yet_due_is_only_moved_to_the_next_pass(ctx):
    iid = _add(ctx, 0, Status.SENT, NOW - timedelta(minutes=5), due=date(2027, 2, 28))
    assert sweep(ctx) == {"checked": 1, "overdue": 0, "redriven": 0, "rechecked": 0}
    assert ctx.store.get(iid).next_due_at == NOW + timedelta(days=1)


class _Starts:
    class exceptions:  # boto3's shape
        class ExecutionAlreadyExists(Exception):
            pass

    def __init__(self) -> None:
        self.started: list[str] = []

    def start_execution(self, stateMachineArn: str, name: str, input: str) -> dict:
        self.started.append(name)
        return {}


def test_an_invoice_held_only_until_its_customer_s_date_runs_again_that_morning(ctx):
    ctx.clients["stepfunctions"] = starts = _Starts()
    ctx.settings.state_machine_arn = "arn:aws:states:eu-west-3:1:stateMachine:facteur-invoice-dev"
    dated = _add(ctx, 0, Status.HELD, NOW - timedelta(hours=7))  # held until today (00:00 Paris)
    other = _add(ctx, 1, Status.HELD, NOW - timedelta(hours=7))  # held for another reason too, meanwhile
    hold = {"rule": "HOLD-NOT-BEFORE", "severity": "error"}
    for iid, findings in ((dated, [hold]), (other, [hold, {"rule": "BR-FR-12", "severity": "fatal"}])):
        rec = ctx.store.get(iid)
        rec.findings = findings
        ctx.store.save(rec, None, rec.version)
    assert sweep(ctx) == {"checked": 2, "overdue": 0, "redriven": 0, "rechecked": 1}
    assert starts.started == [f"{dated}-2"]  # its second run: checked again (nothing overridden)
    assert [e.detail["run"] for e in ctx.store.timeline(dated) if e.kind is EventKind.REDRIVEN] == [2]
    assert ctx.store.get(dated).next_due_at is None and ctx.store.get(other).next_due_at is None
    assert sweep(ctx)["checked"] == 0  # once
