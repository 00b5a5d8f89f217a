"""Every file of the shared corpus, through read -> check -> write, the outputs checked with the
same official rules (XSD + EN 16931 + Factur-X schematron, in-process).

Each file either becomes an invoice whose Factur-X PDF, CII and UBL outputs pass, or is
rejected with a precise reason. The few outputs the official rules refuse are listed below
with why: they are facts about the standards, and the test fails if they change."""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from facteur.controls.official import check_xml
from facteur.controls.pdfa import check_facturx_pdf
from facteur.errors import RejectedInput
from facteur.formats import cii, facturx, ubl
from facteur.formats.detect import Kind
from facteur.formats.reader import read_document

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"
FILES = sorted(str(p.relative_to(CORPUS)) for folder in ("cen/cii", "cen/ubl", "facturx-lib", "pdf", "cen/edifact")
               for p in (CORPUS / folder).glob("*")
               if p.suffix.lower() in (".xml", ".pdf", ".txt") and not (folder == "cen/edifact" and p.suffix == ".xml"))

# Outputs the official rules refuse, and why (rule ids are exact).
KNOWN = {
    # Factur-X code lists are narrower than EN 16931: Italian split payment (VAT category B) and
    # a German exemption reason code have no Factur-X equivalent. UBL carries them.
    "cen/ubl/FT_G2G_TD01_con_Allegato_Bonifico_e_Split_Payment.xml": {"cii": {"FX-SCH-A-000587", "FX-SCH-A-000619"},
                                                                       "facturx": {"FX-SCH-A-000587", "FX-SCH-A-000619"}},
    "cen/cii/XRechnung-O.xml": {"cii": {"FX-SCH-A-000589"}, "facturx": {"FX-SCH-A-000589"}},
    # CEN EDIFACT samples whose own data break a rule: Norwegian VAT numbers without the NO prefix
    # (BR-CO-09); a credit transfer (58) with no seller IBAN and a placeholder attachment (5).
    "cen/edifact/EDIFACT_EXAMPLE2.TXT": {f: {"BR-CO-09"} for f in ("cii", "facturx", "ubl")},
    "cen/edifact/EDIFACT_EXAMPLE6.TXT": {f: {"BR-CO-09"} for f in ("cii", "facturx", "ubl")},
    "cen/edifact/EDIFACT_EXAMPLE5.TXT": {"cii": {"CII-SR-470", "FX-SCH-A-000287"},
                                         "facturx": {"CII-SR-470", "FX-SCH-A-000287"}, "ubl": {"BR-61", "BR-CL-24"}},
}
# Why the other files are not invoices (reader codes).
REJECTED = {
    "facturx-lib/order-x-basic.xml": "not_an_invoice", "facturx-lib/order-x-comfort.xml": "not_an_invoice",
    "pdf/ORDER-X_EX01_ORDER_FULL_DATA-COMFORT.pdf": "pdf_no_invoice_xml",
}


def _blocking(findings) -> set[str]:
    return {f.rule for f in findings if f.blocking}


@pytest.mark.parametrize("name", FILES)
def test_corpus_file_is_converted_or_rejected_with_a_reason(name):
    data = (CORPUS / name).read_bytes()
    try:
        read = read_document(data, filename=name)
    except RejectedInput as exc:
        assert exc.message and exc.code
        if name in REJECTED:
            assert exc.code == REJECTED[name]
        else:  # legacy ZUGFeRD 1, plain, broken or incomplete files: each says why
            assert exc.code in {"zugferd1", "pdf_plain", "pdf_corrupt", "incomplete_invoice", "pdf_no_invoice_xml"}, exc.code
        return
    assert name not in REJECTED
    inv = read.invoice
    profile = inv.profile
    known = KNOWN.get(name, {})
    got = {}
    cii_xml = cii.write(inv, profile=profile)
    got["cii"] = _blocking(check_xml(cii_xml, Kind.CII, profile))
    pdf = facturx.generate(inv, profile=profile, pdf=read.pdf, xml=cii_xml)
    got["facturx"] = _blocking(check_facturx_pdf(pdf, expected_profile=profile)) | _blocking(
        check_xml(read_document(pdf).xml, Kind.CII, profile))
    if inv.lines:  # UBL needs lines (BR-16); MINIMUM / BASIC WL have none: the customer check holds those
        kind = Kind.UBL_CREDIT_NOTE if inv.is_credit_note else Kind.UBL_INVOICE
        got["ubl"] = _blocking(check_xml(ubl.write(inv), kind, "en16931"))
    for fmt, rules in got.items():
        assert rules == known.get(fmt, set()), f"{name} -> {fmt}: {sorted(rules)}"
    # what we wrote reads back to the same business values
    back = read_document(cii_xml).invoice
    assert (back.number, back.issue_date, back.amount_due, back.tax_inclusive_amount, len(back.lines)) == \
        (inv.number, inv.issue_date, inv.amount_due, inv.tax_inclusive_amount, len(inv.lines))


def test_the_corpus_is_all_there():
    assert len(FILES) >= 75


@pytest.mark.parametrize("name", [f for f in FILES if f.endswith(".TXT") and (CORPUS / f).with_suffix(".xml").exists()])
def test_edifact_reading_agrees_with_the_cen_xml_view(name):
    """The CEN examples come with an XML view of the same INVOIC: number, lines and amount due agree."""
    from lxml import etree

    inv = read_document((CORPUS / name).read_bytes()).invoice
    view = etree.parse(str((CORPUS / name).with_suffix(".xml")))
    assert inv.number == view.findtext("S_BGM/C_C106/D_1004").strip()
    due = [m.findtext("D_5004") for m in view.iter("C_C516") if m.findtext("D_5025") == "9"]
    assert due and Decimal(due[-1]) == inv.amount_due
    assert len(inv.lines) == len(list(view.iter("S_LIN")))
