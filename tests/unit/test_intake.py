"""Intake against in-memory fakes of the ports (no moto): resumable, precise rejections, the
number never burnt, duplicates recognised.

Given a supplier and its customer in the directory,
when files arrive (twice, broken, hostile),
then each ends as one invoice, a duplicate or a rejection with its reason."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from facteur.context import Context
from facteur.errors import RetryableError
from facteur.model.directory import Customer, Supplier
from facteur.pipeline.intake import ingest
from facteur.settings import Settings
from tests.fakes import FakeDirectory, FakeDocuments, FakeInvoices

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def ctx() -> Context:
    c = Context(settings=Settings(invoices_table="t", directory_table="d", inbound_bucket="i", documents_bucket="b"))
    supplier = Supplier(id="atelier-dupont", name="Atelier Dupont SARL", siren="732829320", vat_id="FR44732829320")
    martin = Customer.model_validate({"id": "boulangerie-martin", "name": "Boulangerie Martin SAS", "siren": "552100554",
                                      "vat_id": "FR96552100554",
                                      "recipients": [{"id": "bm", "name": "Compta", "email": "compta@bm.example"}]})
    c.__dict__.update(store=FakeInvoices(), directory=FakeDirectory([supplier], {"atelier-dupont": [martin]}),
                      documents=FakeDocuments())
    return c


def invoice_json(number: str = "FA-1", **changes) -> bytes:
    data = json.loads((ROOT / "demo" / "inbox" / "FA-2026-1204.json").read_text())
    data.update({"BT-1": number, **changes})
    return json.dumps(data).encode()


class Starts:
    def __init__(self, fail: int = 0):
        self.started: list[str] = []
        self.fail = fail

    def __call__(self, ctx, invoice_id, supplier_id, run=0):
        if self.fail:
            self.fail -= 1
            raise RetryableError("StartExecution: ThrottlingException (retryable)")
        self.started.append(invoice_id)


def test_a_valid_file_is_received_described_and_started(ctx):
    starts = Starts()
    res = ingest(ctx, supplier_id="atelier-dupont", data=invoice_json(), filename="in/atelier-dupont/a.json", source="s3",
                 origin="s3:b:a.json:v1", start_workflow=starts)
    rec = ctx.store.get(res.invoice_id)
    assert res.status == "received" and starts.started == [res.invoice_id]
    assert rec.number == "FA-1" and rec.customer_id == "boulangerie-martin" and str(rec.amount_due) == "180.00"
    assert [t.due_date.isoformat() for t in rec.payment_terms] == ["2026-12-31"]
    assert ctx.documents.get(rec.original_key) == invoice_json()


def test_a_retry_after_a_throttled_start_continues_the_same_invoice(ctx):
    starts = Starts(fail=1)
    with pytest.raises(RetryableError):
        ingest(ctx, supplier_id="atelier-dupont", data=invoice_json(), filename="a.json", source="s3",
               origin="s3:b:a.json:v1", start_workflow=starts)
    again = ingest(ctx, supplier_id="atelier-dupont", data=invoice_json(), filename="a.json", source="s3",
                   origin="s3:b:a.json:v1", start_workflow=starts)
    assert again.status == "received" and again.replayed and starts.started == [again.invoice_id]
    assert len(ctx.store.records) == 1  # one invoice, not a duplicate of itself


def test_the_same_number_from_another_file_is_a_duplicate(ctx):
    first = ingest(ctx, supplier_id="atelier-dupont", data=invoice_json(), filename="a.json", source="s3",
                   origin="s3:b:a.json:v1", start_workflow=Starts())
    second = ingest(ctx, supplier_id="atelier-dupont", data=invoice_json(), filename="b.json", source="s3",
                    origin="s3:b:b.json:v1", start_workflow=Starts())
    assert second.status == "duplicate" and second.duplicate_of == first.invoice_id


@pytest.mark.parametrize("data, code", [
    (b"UNB+", "unreadable"),
    (b"[" * 50_000 + b"]" * 50_000, "too_deep"),
    (invoice_json("N" * 500), "number_too_long"),
    (invoice_json(**{"BT-115": "9" * 60}), "amount_out_of_range"),
    (b"", "empty"),
])
def test_broken_and_hostile_files_are_rejected_with_their_reason(ctx, data, code):
    res = ingest(ctx, supplier_id="atelier-dupont", data=data, filename="x", source="api", start_workflow=Starts())
    rec = ctx.store.get(res.invoice_id)
    assert res.status == "rejected" and rec.reason_code == code and rec.reason
    assert rec.next_due_at is None  # not watched as stuck: it has its verdict


def test_an_unknown_supplier_is_rejected_and_the_original_kept(ctx):
    res = ingest(ctx, supplier_id="nobody", data=invoice_json(), filename="a.json", source="s3", start_workflow=Starts())
    rec = ctx.store.get(res.invoice_id)
    assert rec.reason_code == "unknown_supplier" and ctx.documents.get(rec.original_key)
