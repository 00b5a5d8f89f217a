"""The pipeline's check and convert steps and the loss report, against in-memory fakes of the ports.

Given an XRechnung with sub-lines (which Facteur's model does not hold yet) from a German supplier,
when its customer requires lossless conversions, then the invoice is held with one finding per value
not read; when the customer does not, it leaves, and the timeline says what was not read and what
each format could not carry."""
from __future__ import annotations

from pathlib import Path

import pytest

from facteur.context import Context
from facteur.model.directory import Customer, Supplier
from facteur.model.lifecycle import EventKind
from facteur.pipeline import steps
from facteur.pipeline.intake import ingest
from facteur.settings import Settings
from tests.fakes import FakeDirectory, FakeDocuments, FakeInvoices

ROOT = Path(__file__).resolve().parents[2]
SUB_LINES = ROOT / "tests" / "fixtures" / "external" / "xrechnung" / "04.01a-INVOICE_ubl.xml"


def _ctx(lossless: bool) -> Context:
    c = Context(settings=Settings(invoices_table="t", directory_table="d", inbound_bucket="i", documents_bucket="b"))
    supplier = Supplier(id="meier-handwerk", name="M. Meier Handwerk GbR", vat_id="DE/12/345/67890", country="DE")
    customer = Customer.model_validate({"id": "beispielkunde", "name": "Beispielkunde", "identifiers": ["345LA5324"],
                                        "formats": ["facturx", "cii"], "lossless": lossless,
                                        "recipients": [{"id": "ap", "name": "AP", "email": "ap@beispiel.example"}]})
    c.__dict__.update(store=FakeInvoices(), directory=FakeDirectory([supplier], {"meier-handwerk": [customer]}),
                      documents=FakeDocuments())
    return c


def _received(ctx: Context) -> str:
    res = ingest(ctx, supplier_id="meier-handwerk", data=SUB_LINES.read_bytes(), filename="in/meier-handwerk/04.01a.xml",
                 source="s3", origin="s3:b:04.01a:v1", start_workflow=lambda *a, **k: None)
    assert res.status == "received" and ctx.store.get(res.invoice_id).customer_id == "beispielkunde"
    return res.invoice_id


def test_a_lossless_customer_gets_the_invoice_held_with_what_was_not_read():
    ctx = _ctx(lossless=True)
    invoice_id = _received(ctx)
    assert steps.check(ctx, invoice_id)["verdict"] == "held"
    held = [e for e in ctx.store.timeline(invoice_id) if e.kind is EventKind.HELD][-1]
    assert held.detail["rules"] == ["LOSSLESS"]
    assert any(item.startswith("InvoiceLine/SubInvoiceLine/Item/Name:") for item in held.detail["not_read"])
    findings = ctx.store.get(invoice_id).findings
    assert {f["rule"] for f in findings if f["severity"] == "error"} == {"LOSSLESS"}
    assert any("SubInvoiceLine" in f["message"] for f in findings)


def test_otherwise_it_leaves_and_the_timeline_says_what_was_not_read_and_not_carried():
    ctx = _ctx(lossless=False)
    invoice_id = _received(ctx)
    assert steps.check(ctx, invoice_id)["verdict"] == "ok"
    deposited = [e for e in ctx.store.timeline(invoice_id) if e.kind is EventKind.DEPOSITED][-1]
    assert any("SubInvoiceLine" in item for item in deposited.detail["not_read"])
    assert steps.convert(ctx, invoice_id) == {"formats": ["cii", "facturx"]}
    converted = [e for e in ctx.store.timeline(invoice_id) if e.kind is EventKind.CONVERTED][-1]
    # the XRechnung identifier stays in the CII; the Factur-X declares its profile and says so
    assert list(converted.detail["not_carried"]) == ["facturx"]
    assert converted.detail["not_carried"]["facturx"][0].startswith("BT-24 specification identifier")
    cii = ctx.documents.get(ctx.store.get(invoice_id).documents["cii"])
    assert b"urn:xeinkauf.de:kosit:xrechnung_3.0" in cii


@pytest.mark.parametrize("lossless", [True, False])
def test_a_plain_en16931_invoice_is_never_held_for_losses(lossless):
    """A customer's lossless requirement holds only what would really be lost."""
    from facteur.conversion import convert
    from facteur.formats.reader import read_document

    inv = read_document((ROOT.parent / "shared" / "corpus" / "cen" / "cii" / "CII_example1.xml").read_bytes()).invoice
    assert steps._losses(inv, Customer(id="c", name="C", lossless=lossless), []) == []
    assert convert(inv, "cii").lost == []
