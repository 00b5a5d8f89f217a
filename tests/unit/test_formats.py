"""Read -> write -> official rules, on the official corpus."""
import pytest

from facteur.controls.official import check_xml
from facteur.controls.pdfa import check_facturx_pdf
from facteur.errors import RejectedInput
from facteur.formats import cii, facturx, ubl
from facteur.formats.detect import Kind
from facteur.formats.reader import read_document

CLEAN = ["facturx-lib/factur-x-en16931.xml", "cen/cii/CII_example1.xml", "cen/cii/CII_example3.xml",
         "cen/ubl/ubl-tc434-example1.xml", "cen/ubl/ubl-tc434-creditnote1.xml", "cen/ubl/BIS3_Invoice_positive.XML"]


@pytest.mark.parametrize("name", CLEAN)
def test_official_example_converts_to_cii_and_ubl_passing_official_rules(corpus, name):
    inv = read_document((corpus / name).read_bytes()).invoice
    cii_xml = cii.write(inv, profile="en16931")
    assert [f.rule for f in check_xml(cii_xml, fr=False) if f.blocking] == []
    assert [f.rule for f in check_xml(ubl.write(inv), fr=False) if f.blocking] == []
    # the CII we wrote reads back to the same business values
    again = read_document(cii_xml).invoice
    assert (again.number, again.amount_due, len(again.lines)) == (inv.number, inv.amount_due, len(inv.lines))


def test_facturx_pdf_is_structurally_pdfa3_and_reads_back(corpus):
    inv = read_document((corpus / "facturx-lib/factur-x-en16931.xml").read_bytes()).invoice
    pdf = facturx.generate(inv, profile="en16931")
    assert check_facturx_pdf(pdf, expected_profile="en16931") == []
    back = read_document(pdf)
    assert back.kind is Kind.PDF and back.invoice.number == inv.number and back.invoice.amount_due == inv.amount_due


def test_structural_check_catches_a_plain_pdf(corpus):
    from facteur.formats.render import render_pdf

    inv = read_document((corpus / "cen/cii/CII_example1.xml").read_bytes()).invoice
    rules = {f.rule for f in check_facturx_pdf(render_pdf(inv))}
    assert {"FX-ATTACHMENT", "PDFA-OUTPUTINTENT", "PDFA-XMP-PART"} <= rules


def test_schematron_reports_a_broken_total(corpus):
    xml = (corpus / "facturx-lib/factur-x-en16931.xml").read_bytes()
    broken = xml.replace(b"<ram:GrandTotalAmount>", b"<ram:GrandTotalAmount>9", 1)
    rules = {f.rule for f in check_xml(broken) if f.blocking}
    assert "BR-CO-15" in rules


@pytest.mark.parametrize("data,code", [
    (b"", "empty"),
    (b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'aaaa'>]><x>&a;</x>", "xml_dtd_refused"),
    (b"<Invoice><unclosed></Invoice>", "xml_malformed"),
    (b"<note xmlns='urn:x'>hello</note>", "not_an_invoice"),
    (b"{not json", "json_malformed"),
    (b"\x00\x01\x02garbage", "unknown_format"),
])
def test_bad_input_is_rejected_with_a_reason(data, code):
    with pytest.raises(RejectedInput) as exc:
        read_document(data)
    assert exc.value.code == code and exc.value.message


@pytest.mark.parametrize("name,code", [
    ("facturx-lib/zugferd-extended.xml", "invalid_date"),
    ("facturx-lib/order-x-basic.xml", "not_an_invoice"),
    ("pdf/corruptedV2PDF.pdf", None),
])
def test_corpus_non_invoices_are_rejected_precisely(corpus, name, code):
    with pytest.raises(RejectedInput) as exc:
        read_document((corpus / name).read_bytes())
    assert exc.value.message
    if code:
        assert exc.value.code == code


def test_oversized_input_is_rejected():
    with pytest.raises(RejectedInput) as exc:
        read_document(b"<x/>" * 100, max_bytes=10)
    assert exc.value.code == "too_large"


def test_supplier_pdf_keeps_its_other_embedded_files():
    import io
    from pathlib import Path

    from pypdf import PdfReader, PdfWriter

    src = (Path(__file__).resolve().parents[2] / "demo" / "inbox" / "FA-2026-1201.pdf").read_bytes()
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(src)))
    writer.add_attachment("timesheet.csv", b"day;hours\n1;8\n")
    buf = io.BytesIO()
    writer.write(buf)
    read = read_document(buf.getvalue())
    out = facturx.generate(read.invoice, pdf=read.pdf)
    files = PdfReader(io.BytesIO(out)).attachments
    assert sorted(files) == ["factur-x.xml", "timesheet.csv"] and files["timesheet.csv"][0] == b"day;hours\n1;8\n"
    assert check_facturx_pdf(out, expected_profile="en16931") == []


def test_encrypted_pdf_is_rejected_with_a_reason(tmp_path):
    import io
    from pathlib import Path

    from pypdf import PdfReader, PdfWriter

    from facteur.cli import main

    src = (Path(__file__).resolve().parents[2] / "demo" / "inbox" / "FA-2026-1201.pdf").read_bytes()
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(src)))
    writer.encrypt("secret")
    buf = io.BytesIO()
    writer.write(buf)
    with pytest.raises(RejectedInput) as exc:
        read_document(buf.getvalue())
    assert exc.value.code == "pdf_encrypted"
    (tmp_path / "locked.pdf").write_bytes(buf.getvalue())
    assert main(["convert", str(tmp_path / "locked.pdf"), "--to", "ubl", "--out-dir", str(tmp_path)]) == 2


def test_entity_expansion_is_refused():
    bomb = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
            b'<rsm:CrossIndustryInvoice xmlns:rsm="urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100">'
            b'&lol2;</rsm:CrossIndustryInvoice>')
    with pytest.raises(RejectedInput) as exc:
        read_document(bomb)
    assert exc.value.code == "xml_dtd_refused"


# --- read once: the check step reopens the document without mapping it again ----------------

@pytest.mark.parametrize("path", ["facturx-lib/factur-x-en16931.xml", "facturx-lib/ubl-21-en16931.xml",
                                  "facturx-lib/zugferd-comfort.xml", "pdf/EN16931_Einfach.pdf",
                                  "cen/edifact/EDIFACT_EXAMPLE1.TXT"])
def test_a_document_reopened_with_its_canonical_invoice_is_not_mapped_again(corpus, monkeypatch, path):
    import facturx.parse_xml

    from facteur.formats import reader

    data = (corpus / path).read_bytes()
    first = reader.read_document(data)
    canonical = first.invoice.model_copy()

    def not_again(*a, **k):
        raise AssertionError("mapped a second time")

    monkeypatch.setattr(facturx.parse_xml, "parse_ubl_cii_xml", not_again)
    monkeypatch.setattr(reader, "_read_edifact", not_again)
    again = reader.read_document(data, invoice=canonical)
    assert again.invoice is canonical
    assert (again.kind, again.syntax, again.xml, again.pdf) == (first.kind, first.syntax, first.xml, first.pdf)
