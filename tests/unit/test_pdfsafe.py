"""Hostile PDFs: embedded-file budgets and the active content PDF/A-3 forbids (ISO 19005-3 6.6)."""
from __future__ import annotations

import io
import zlib
from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter
from pypdf.generic import ArrayObject, DictionaryObject, NameObject, TextStringObject
from reportlab.pdfgen import canvas

from facteur.errors import RejectedInput
from facteur.formats import pdfsafe

ROOT = Path(__file__).resolve().parents[2]


def plain_pdf() -> bytes:
    buf = io.BytesIO()
    c = canvas.Canvas(buf)
    c.setFont("Helvetica", 12)  # a base-14 font: reportlab does not embed it
    c.drawString(72, 720, "Facture FA-1")
    c.save()
    return buf.getvalue()


def with_files(files: dict[str, bytes]) -> PdfReader:
    w = PdfWriter(clone_from=PdfReader(io.BytesIO(plain_pdf())))
    for name, data in files.items():
        w.add_attachment(name, data)
    out = io.BytesIO()
    w.write(out)
    return PdfReader(io.BytesIO(out.getvalue()))


def hostile_writer() -> PdfWriter:
    w = PdfWriter(clone_from=PdfReader(io.BytesIO(plain_pdf())))
    js = w._add_object(DictionaryObject({NameObject("/S"): NameObject("/JavaScript"),
                                         NameObject("/JS"): TextStringObject("app.alert('pwned');")}))
    w._root_object[NameObject("/Names")] = DictionaryObject({NameObject("/JavaScript"): DictionaryObject(
        {NameObject("/Names"): ArrayObject([TextStringObject("open"), js])})})
    launch = DictionaryObject({NameObject("/S"): NameObject("/Launch"), NameObject("/F"): TextStringObject("calc.exe")})
    w._root_object[NameObject("/OpenAction")] = w._add_object(launch)
    w.pages[0][NameObject("/AA")] = DictionaryObject({NameObject("/O"): w._add_object(DictionaryObject(
        {NameObject("/S"): NameObject("/JavaScript"), NameObject("/JS"): TextStringObject("x()")}))})
    return w


def test_embedded_files_are_read_within_the_budget():
    reader = with_files({"a.xml": b"<a/>", "b.pdf": b"%PDF"})
    assert pdfsafe.embedded_files(reader) == {"a.xml": b"<a/>", "b.pdf": b"%PDF"}
    with pytest.raises(RejectedInput) as exc:
        pdfsafe.embedded_files(with_files({f"f{i}.txt": b"x" for i in range(5)}), max_files=3)
    assert exc.value.code == "pdf_too_many_files"


def test_a_bomb_of_compressed_zeros_stops_at_the_total_budget():
    zeros = b"\0" * (3 * 1024 * 1024)
    assert len(zlib.compress(zeros)) < 10_000  # megabytes of content in kilobytes of PDF
    reader = with_files({f"z{i}.bin": zeros for i in range(4)})
    with pytest.raises(RejectedInput) as exc:
        pdfsafe.embedded_files(reader, budget=10 * 1024 * 1024)
    assert exc.value.code == "pdf_too_large_inflated"


def test_a_file_spec_without_ef_is_skipped_not_a_crash():
    reader = with_files({"real.xml": b"<r/>"})
    tree = reader.trailer["/Root"]["/Names"]["/EmbeddedFiles"]
    names = tree["/Names"]
    names.append(TextStringObject("ghost.xml"))
    names.append(DictionaryObject({NameObject("/Type"): NameObject("/Filespec"), NameObject("/F"): TextStringObject("ghost.xml")}))
    assert pdfsafe.embedded_files(reader) == {"real.xml": b"<r/>"}


def test_javascript_launch_and_additional_actions_are_stripped():
    w = hostile_writer()
    removed = pdfsafe.strip_active_content(w)
    assert set(removed) >= {"document JavaScript", "open action /Launch", "page 1 additional actions"}
    out = io.BytesIO()
    w.write(out)
    data = out.getvalue()
    assert b"/JavaScript" not in data and b"/Launch" not in data and b"calc.exe" not in data
    assert pdfsafe.strip_active_content(PdfWriter(clone_from=PdfReader(io.BytesIO(data)))) == []


def test_a_rerendered_facturx_carries_the_suppliers_pdf_and_its_annex_once():
    """A supplier PDF that cannot be a PDF/A-3 (Helvetica not embedded) with a delivery note
    attached: the Factur-X is rendered from the data, the supplier's PDF travels beside it cleaned
    of its attachments, and the delivery note travels once (not once more inside that PDF)."""
    from facteur.controls.pdfa import check_facturx_pdf
    from facteur.formats.reader import read_document
    from facteur.pipeline.steps import _facturx

    inv = read_document((ROOT / "demo" / "inbox" / "FA-2026-1204.json").read_bytes()).invoice
    annex = b"%PDF-1.4 delivery note " + b"x" * 200_000
    out = io.BytesIO()
    PdfWriter(clone_from=with_files({"bon-de-livraison.pdf": annex})).write(out)
    pdf, notes, checked = _facturx(inv, "en16931", out.getvalue(), "fr")
    assert "PDFA-FONT" in notes["rerendered"]["why"] and check_facturx_pdf(pdf, expected_profile="en16931") == []
    files = PdfReader(io.BytesIO(pdf)).attachments
    assert sorted(files) == sorted(["factur-x.xml", "bon-de-livraison.pdf", f"{inv.number}-original.pdf"])
    assert files["bon-de-livraison.pdf"] == [annex]
    original = PdfReader(io.BytesIO(files[f"{inv.number}-original.pdf"][0]))
    assert not original.attachments  # the annex is not inside the supplier's PDF a second time
    assert len(pdf) < len(annex) * 1.5
