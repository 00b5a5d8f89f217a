"""Every file of the shared corpus: read (or rejected with a precise reason), checked with the rule
sets it declares (the verdict pinned below, rule by rule), then converted to Factur-X, CII and UBL,
each output checked with the official rules of what *it* declares.

The verdicts below are the official ones: the CEN EN 16931 examples all pass; the PDFs pass or fail
as the independent checker of ../shared/corpus/README.md says, plus the French reform rules (BR-FR)
for the two French sellers' PDFs of 2018, which predate them. The test fails if any verdict moves."""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from facteur.controls.document import check_read
from facteur.conversion import convert
from facteur.errors import RejectedInput
from facteur.formats.reader import read_document

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"
FILES = sorted(str(p.relative_to(CORPUS)) for folder in ("cen/cii", "cen/ubl", "facturx-lib", "pdf", "cen/edifact")
               for p in (CORPUS / folder).glob("*")
               if p.suffix.lower() in (".xml", ".pdf", ".txt") and not (folder == "cen/edifact" and p.suffix == ".xml"))

# Why the files that are not invoices, or cannot be read, are refused (reader codes).
REJECTED = {
    "facturx-lib/order-x-basic.xml": "not_an_invoice", "facturx-lib/order-x-comfort.xml": "not_an_invoice",
    "pdf/ORDER-X_EX01_ORDER_FULL_DATA-COMFORT.pdf": "pdf_no_invoice_xml",
    "facturx-lib/zugferd-extended.xml": "invalid_date",  # BillingSpecifiedPeriod 20139102: month 91
    **{f"pdf/{n}.pdf": "pdf_plain" for n in (  # no embedded XML at all (the "blanko" PDFs before embedding)
        "MustangGnuaccountingBeispielRE-20170509_505PDF14", "MustangGnuaccountingBeispielRE-20170509_505PDFA3",
        "MustangGnuaccountingBeispielRE-20170509_505blanko", "MustangGnuaccountingBeispielRE-20171118_506blanko",
        "MustangGnuaccountingBeispielRE-20190610_507blanko", "MustangGnuaccountingBeispielRE-20201121_508blanko",
        "MustangGnuaccountingBeispielRE-20201121_508blankoA3", "corruptedV2PDF", "veraPDFtestsuite6-7-11-t01-fail-a")},
}
BR_FR_2018 = ["BR-FR-05_BT-22_AAB", "BR-FR-05_BT-22_PMD", "BR-FR-05_BT-22_PMT", "BR-FR-08_BT-23", "BR-FR-10_BT-30", "BR-FR-32-LEGALID"]
# `facteur check`'s verdict on the inputs the official rules refuse: the blocking rules, exactly.
REFUSED = {
    # CEN EDIFACT samples whose own data break a rule: Norwegian VAT numbers without the NO prefix
    # (BR-CO-09); a credit transfer (58) with no seller IBAN and a placeholder attachment.
    "cen/edifact/EDIFACT_EXAMPLE2.TXT": ["BR-CO-09"], "cen/edifact/EDIFACT_EXAMPLE6.TXT": ["BR-CO-09"],
    "cen/edifact/EDIFACT_EXAMPLE5.TXT": ["BR-CL-24", "CII-SR-470"],
    "cen/ubl/issue116.xml": ["PEPPOL-COMMON-R049"],  # claims Peppol BIS 3, fails it
    # legacy ZUGFeRD 1.0: read (outputs below), but the document is neither EN 16931 nor Factur-X
    "facturx-lib/zugferd-basic.xml": ["ZUGFERD1"], "facturx-lib/zugferd-comfort.xml": ["ZUGFERD1"],
    "pdf/MustangGnuaccountingBeispielRE-20170509_505.pdf": ["FX-ATTACHMENT", "FX-XMP-NS", "ZUGFERD1"],
    "pdf/zugferd_invoice.pdf": ["FX-ATTACHMENT", "FX-XMP-NS", "ZUGFERD1"],
    "pdf/validV1WithAdditionalData.pdf": ["FX-ATTACHMENT", "FX-XMP-NS", "PDFA-OUTPUTINTENT", "ZUGFERD1"],
    # wrong containers (corpus README): AFRelationship Unspecified + octet-stream (+ XMP without rdf:about),
    # PDF/A-4 claimed, ZUGFeRD 2.0 XMP, no output intent
    "pdf/103767-Invoice-2026-03-24-1.pdf": ["FX-AFREL", "FX-MIME", "PDFA-XMP-ABOUT"],
    "pdf/EXTENDED_Fremdwaehrung_wdis_fx-pdfa4.pdf": ["FX-MIME", "PDFA-XMP-PART"],
    "pdf/attributeBasedXMP_zugferd_2p0_EN16931_Einfach.pdf": ["FX-ATTACHMENT", "FX-XMP-NS", "PDFA-OUTPUTINTENT"],
    "pdf/invalidPDF.pdf": ["PDFA-OUTPUTINTENT"],
    # ZUGFeRD 2.0 / XRechnung 1.2 profile URNs that Factur-X rejects, broken XMP, XSD error
    "pdf/invalidXMP-ParseError.pdf": ["FX-SCH-A-000556", "FX-XMP-LEVEL"], "pdf/invalidXMP.pdf": ["FX-SCH-A-000556", "FX-XMP-LEVEL"],
    "pdf/invalidXRechnung.pdf": ["FX-PROFILE", "FX-SCH-A-000556", "FX-XMP-LEVEL"],
    "pdf/validXRechnung.pdf": ["FX-PROFILE", "FX-SCH-A-000556", "FX-XMP-LEVEL"],
    "pdf/validV2PDF.pdf": ["FX-SCH-A-000556"], "pdf/XMLinvalidV2PDF.pdf": ["XSD"],
    "pdf/ZTESTZUGFERD_1_INVDSS_012015738820PDF-1.pdf": ["FX-ATTACHMENT", "FX-SCH-A-000420", "FX-SCH-A-000453", "FX-SCH-A-000872",
                                                        "FX-SCH-A-001014", "FX-XMP-NS", "PDFA-FONT", "PDFA-OUTPUTINTENT", "SCHEMATRON"],
    # French sellers, 2018: EN 16931 + Factur-X conformant, not to the 2026 reform rules
    "pdf/Facture_F20180027.pdf": sorted([*BR_FR_2018, "BR-FR-17_BT-123"]),
    "pdf/validAvoir_FR_type380_BASICWL.pdf": sorted([*BR_FR_2018, "BR-FR-12_BT-49", "BR-FR-13_BT-34"]),
}
# Outputs the official rules of what they declare refuse, and why. Everything else passes.
FAILING_OUTPUTS = {
    # the inputs' own data errors travel on
    "cen/edifact/EDIFACT_EXAMPLE2.TXT": {f: ["BR-CO-09"] for f in ("facturx", "cii", "ubl")},
    "cen/edifact/EDIFACT_EXAMPLE6.TXT": {f: ["BR-CO-09"] for f in ("facturx", "cii", "ubl")},
    "cen/edifact/EDIFACT_EXAMPLE5.TXT": {"facturx": ["CII-SR-470", "FX-SCH-A-000287"], "cii": ["BR-CL-24", "CII-SR-470"],
                                         "ubl": ["BR-61", "BR-CL-24"]},
    "pdf/ZTESTZUGFERD_1_INVDSS_012015738820PDF-1.pdf": {
        "facturx": ["BR-FXEXT-02", "FX-SCH-A-000697", "FX-SCH-A-000821", "FX-SCH-A-000873", "FX-SCH-A-001014", "PDFA-FONT"],
        "cii": ["BR-FXEXT-02", "FX-SCH-A-000697", "FX-SCH-A-000821", "FX-SCH-A-000873", "FX-SCH-A-001014"],
        "ubl": ["BR-17", "BR-CL-10", "BR-CL-26", "UBL-SR-19", "UBL-SR-20", "UBL-SR-21"]},
    # Factur-X code lists are narrower than EN 16931: Italian split payment (VAT category B) and its
    # exemption code have no Factur-X equivalent. CII and UBL carry them.
    "cen/ubl/FT_G2G_TD01_con_Allegato_Bonifico_e_Split_Payment.xml": {"facturx": ["FX-SCH-A-000587", "FX-SCH-A-000619"]},
}


def _rules(findings) -> list[str]:
    return sorted({f.rule for f in findings if f.blocking})


@pytest.mark.parametrize("name", FILES)
def test_corpus_file_is_checked_with_its_rules_and_converted(name):
    data = (CORPUS / name).read_bytes()
    try:
        read = read_document(data, filename=name)
    except RejectedInput as exc:
        assert exc.message and REJECTED.get(name) == exc.code, (exc.code, exc.message)
        return
    assert name not in REJECTED
    checked = check_read(read)
    assert checked.rule_sets and all(f.source for f in checked.findings)
    assert _rules(checked.findings) == REFUSED.get(name, []), name
    inv = read.invoice
    for fmt in ("facturx", "cii", "ubl"):
        if fmt == "ubl" and not inv.lines:  # UBL needs lines (BR-16); MINIMUM / BASIC WL have none
            continue
        out = convert(inv, fmt, supplier_pdf=read.pdf)
        assert _rules(out.blocking) == FAILING_OUTPUTS.get(name, {}).get(fmt, []), f"{name} -> {fmt}"
        assert all(isinstance(item, str) and item for item in out.lost)
    # what we wrote reads back to the same business values
    from facteur.formats import cii

    back = read_document(cii.write(inv, standalone=True)).invoice
    assert (back.number, back.issue_date, back.amount_due, back.tax_inclusive_amount, len(back.lines)) == \
        (inv.number, inv.issue_date, inv.amount_due, inv.tax_inclusive_amount, len(inv.lines))


def test_the_corpus_is_all_there():
    assert len(FILES) >= 75
    assert set(REFUSED) | set(REJECTED) <= set(FILES)


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
