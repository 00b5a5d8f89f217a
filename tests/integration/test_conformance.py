"""The right official rules for each document, and conversions that lose nothing silently
(issue "Conformance II"): each case names the rule set that must run or the loss that must be listed."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from lxml import etree

from facteur.cli import main
from facteur.controls.document import check_read
from facteur.controls.official import check
from facteur.conversion import convert
from facteur.formats import cii
from facteur.formats.reader import read_document
from facteur.formats.unread import unread

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT.parent / "shared" / "corpus"
EXTERNAL = ROOT / "tests" / "fixtures" / "external"
CEN_CII_REFUSED_BEFORE = ["CII_example5.xml", "CII_business_example_02.xml", "CII_business_example_Z.xml",
                          "CII-BR-CO-10-RoundingIssue.xml", "XRechnung-O.xml", "huf_example_cii.xml"]


def _ids(checked) -> list[str]:
    return [r.id for r in checked.rule_sets]


def _blocking(findings) -> set[str]:
    return {f.rule for f in findings if f.blocking}


# --- 1. rule sets follow the document -------------------------------------------------------

@pytest.mark.parametrize("name", CEN_CII_REFUSED_BEFORE)
def test_standalone_cen_cii_is_checked_with_the_cen_cii_rules_not_facturx(name):
    checked = check((CORPUS / "cen" / "cii" / name).read_bytes())
    assert _ids(checked)[:2] == ["cii-d16b-xsd", "en16931-cii"] and not any(i.startswith("facturx") for i in _ids(checked))
    assert checked.blocking == []


def test_the_cen_cii_rules_run_and_name_their_rule_set():
    """CII-SR rules exist only in the CEN CII artefacts: a CII with two TaxPointDates is caught there."""
    xml = (CORPUS / "cen" / "cii" / "CII_example2.xml").read_bytes()
    root = etree.fromstring(xml)
    taxes = root.findall(".//{*}ApplicableHeaderTradeSettlement/{*}ApplicableTradeTax")
    assert len(taxes) >= 2
    ram = etree.QName(taxes[0]).namespace
    for tax in taxes:  # the defect the writer had: one TaxPointDate per VAT breakdown (XSD-valid, CII-SR-461)
        if tax.find(f"{{{ram}}}TaxPointDate") is None:
            tpd = etree.Element(f"{{{ram}}}TaxPointDate")
            etree.SubElement(tpd, "{urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100}DateString",
                             format="102").text = "20130630"
            tax.find(f"{{{ram}}}RateApplicablePercent").addprevious(tpd)
    findings = check(etree.tostring(root)).findings
    hit = [f for f in findings if f.rule == "CII-SR-461"]
    assert hit and hit[0].source == "en16931-cii"


def test_a_facturx_pdf_gets_its_profile_rules_and_the_container_checks():
    read = read_document((CORPUS / "pdf" / "zugferd_2p1_EXTENDED_PDFA-3A.pdf").read_bytes())
    checked = check_read(read)
    assert _ids(checked) == ["facturx-extended-xsd", "facturx-extended", "facturx-pdf"] and checked.blocking == []


def test_a_cii_declaring_a_facturx_profile_gets_that_profile_rules():
    assert _ids(check((CORPUS / "facturx-lib" / "factur-x-basic.xml").read_bytes(), fr=False)) == ["facturx-basic-xsd", "facturx-basic"]


def test_xrechnung_gets_its_cius_rules_in_both_syntaxes():
    cii_checked = check((EXTERNAL / "xrechnung" / "01.01a-INVOICE_uncefact.xml").read_bytes())
    ubl_checked = check((EXTERNAL / "xrechnung" / "01.10a-INVOICE_ubl.xml").read_bytes())
    assert _ids(cii_checked) == ["cii-d16b-xsd", "en16931-cii", "xrechnung-cii"] and cii_checked.blocking == []
    assert _ids(ubl_checked) == ["ubl-invoice-xsd", "en16931-ubl", "xrechnung-ubl"] and ubl_checked.blocking == []


def test_a_document_claiming_peppol_is_held_to_the_peppol_rules():
    assert _ids(check((EXTERNAL / "peppol" / "base-example.xml").read_bytes()))[-1] == "peppol-bis3-ubl"
    refused = check((CORPUS / "cen" / "ubl" / "issue116.xml").read_bytes())
    assert {f.source for f in refused.blocking} == {"peppol-bis3-ubl"}


def test_brfr_for_french_sellers_or_on_request():
    fr_seller = (CORPUS / "facturx-lib" / "factur-x-en16931.xml").read_bytes()
    assert "br-fr-cii" in _ids(check(fr_seller)) and "br-fr-cii" not in _ids(check(fr_seller, fr=False))
    german = (CORPUS / "cen" / "cii" / "CII_example1.xml").read_bytes()
    assert "br-fr-cii" not in _ids(check(german)) and "br-fr-cii" in _ids(check(german, fr=True))


def test_check_json_lists_the_rule_sets_and_each_finding_names_its_own(capsys):
    assert main(["check", "--json", str(CORPUS / "cen" / "ubl" / "issue116.xml")]) == 1
    (entry,) = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in entry["rule_sets"]] == ["ubl-invoice-xsd", "en16931-ubl", "peppol-bis3-ubl"]
    assert entry["rule_sets"][2]["title"].startswith("Peppol BIS Billing 3.0")
    assert {f["source"] for f in entry["findings"]} == {"peppol-bis3-ubl"}


def test_check_on_a_directory_prints_one_line_per_file_and_a_summary(tmp_path, capsys):
    for name in ("CII_example1.xml", "CII_example2.xml"):
        (tmp_path / name).write_bytes((CORPUS / "cen" / "cii" / name).read_bytes())
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "issue116.xml").write_bytes((CORPUS / "cen" / "ubl" / "issue116.xml").read_bytes())
    (tmp_path / "sub" / "notes.txt").write_text("not an invoice")
    assert main(["check", str(tmp_path)]) == 2
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 5 and lines[-1] == "4 files: 2 conformant, 1 not conformant, 1 unreadable"
    assert sum(": conformant [" in line for line in lines) == 2
    assert main(["check", "--json", str(tmp_path)]) == 2
    assert len(json.loads(capsys.readouterr().out)) == 4  # still one JSON list, machine-readable


# --- 3. valid invoices read ----------------------------------------------------------------

def test_a_contact_with_a_person_and_a_department_is_read_and_kept():
    xml = (CORPUS / "cen" / "cii" / "CII_example1.xml").read_bytes().replace(
        b"<ram:PersonName>Dhr. J BLOKKER</ram:PersonName>",
        b"<ram:PersonName>Dhr. J BLOKKER</ram:PersonName><ram:DepartmentName>Inkoop</ram:DepartmentName>")
    inv = read_document(xml).invoice
    assert (inv.buyer.contacts[0].name, inv.buyer.contacts[0].department) == ("Dhr. J BLOKKER", "Inkoop")
    out = convert(inv, "cii")
    assert b"<ram:DepartmentName>Inkoop</ram:DepartmentName>" in out.data and out.lost == [] and out.blocking == []
    to_ubl = convert(inv, "ubl")  # UBL has one contact name: the department is reported, not dropped silently
    assert to_ubl.lost == ["BG-7.contacts.0.department: 'Inkoop'"]


def test_a_department_alone_stays_a_department():
    inv = read_document((EXTERNAL / "xrechnung" / "01.04_comprehensive_test_uncefact.xml").read_bytes()).invoice
    assert inv.seller.contacts[0].name == "Testorganisation"  # BT-41 either way; the factur-x parser gives no role
    assert convert(inv, "cii").blocking == []


def test_several_payment_terms_with_a_discount_are_read_and_carried_in_extended():
    read = read_document((CORPUS / "pdf" / "EXTENDED_Fremdwaehrung_wdis_fx-pdfa4.pdf").read_bytes())
    inv = read.invoice
    assert [(t.description, str(t.due_date)) for t in inv.payment_terms_detail] == \
        [("Zahlbar ohne Abschlag bis", "2025-12-31"), ("Zahlbar mit 2% Skonto bis", "2025-12-14")]
    assert str(inv.due_date) == "2025-12-31"  # BT-9: the due date of the full amount
    ext = read_document((CORPUS / "pdf" / "zugferd_2p1_EXTENDED_PDFA-3A.pdf").read_bytes()).invoice
    (term,) = ext.payment_terms_detail
    assert term.discount is not None and (term.discount.period, term.discount.period_unit, term.discount.percent) == (14, "DAY", 2)
    again = convert(ext, "cii")
    assert again.blocking == [] and not [item for item in again.lost if "payment_terms" in item]
    to_ubl = convert(ext, "ubl")  # UBL EN 16931 has no structured discount: listed
    assert any(item.startswith("payment_terms_detail.0.discount.percent") for item in to_ubl.lost)


def test_extended_parties_travel_extended_to_extended():
    inv = read_document((CORPUS / "pdf" / "zugferd_2p1_EXTENDED_PDFA-3A.pdf").read_bytes()).invoice
    assert inv.extensions["EXT-FR-FE-BG-04"]["name"] == "MUSTER-KUNDE GMBH"  # the invoicee
    for fmt in ("facturx", "cii"):
        out = convert(inv, fmt)
        assert out.blocking == [] and not [item for item in out.lost if "EXT-FR-FE-BG-04" in item], out.lost
    assert [item for item in convert(inv, "facturx", profile="en16931").lost if "EXT-FR-FE-BG-04.name" in item]


@pytest.mark.parametrize("name", ["pdf/zugferd_2p1_EXTENDED_PDFA-3A.pdf", "facturx-lib/factur-x-extended.xml",
                                  "pdf/EXTENDED_Fremdwaehrung_wdis_fx-pdfa4.pdf"])
def test_extended_to_extended_carries_everything(name):
    """Structured discount terms, invoicee, delivery note, product components, package quantities,
    VAT basis amounts and currency exchange, document name, note codes: all read, all written back."""
    read = read_document((CORPUS / name).read_bytes())
    assert read.invoice.profile == "extended"
    assert unread(read.xml, read.syntax, read.invoice) == []
    for fmt in ("facturx", "cii"):
        out = convert(read.invoice, fmt, supplier_pdf=read.pdf)
        assert out.blocking == [] and out.lost == [], (fmt, out.lost)


def test_extended_sub_lines_are_read_and_carried_in_extended():
    """tests/fixtures/extended-sub-lines.cii.xml: the factur-x package's EXTENDED sample with its three
    lines put under a GROUP line G1 (DETAIL, ParentLineID G1) and an INFORMATION line I1 without
    quantity, price, VAT or amount, as Factur-X EXTENDED allows (the official rules accept it)."""
    src = (ROOT / "tests" / "fixtures" / "extended-sub-lines.cii.xml").read_bytes()
    assert check(src, fr=False).blocking == []
    inv = read_document(src).invoice
    assert [(ln.id, ln.parent_id, ln.status_reason) for ln in inv.lines] == [
        ("G1", None, "GROUP"), ("1", "G1", "DETAIL"), ("2", "G1", "DETAIL"), ("3", "G1", "DETAIL"), ("I1", "G1", "INFORMATION")]
    assert [ln.id for ln in inv.billed_lines] == ["1", "2", "3"] and inv.lines[-1].quantity is None
    for fmt in ("facturx", "cii"):
        out = convert(inv, fmt)
        assert out.blocking == [] and not [i for i in out.lost if i.startswith("BG-25")], (fmt, out.lost)
    for fmt, profile in (("ubl", None), ("facturx", "en16931")):  # EN 16931 has no sub-lines: left out and listed
        out = convert(inv, fmt, profile=profile)
        assert out.blocking == [] and "BG-25.G1.BT-153: 'Lot 1 : fournitures'" in out.lost
        assert "BG-25.I1.EXT-FR-FE-163: 'INFORMATION'" in out.lost


def test_legacy_zugferd1_is_read_and_converted(capsys):
    read = read_document((CORPUS / "pdf" / "zugferd_invoice.pdf").read_bytes())
    assert read.invoice.number and read.invoice.lines
    assert any("BT-118 VAT category S" in w for w in read.warnings)  # what was derived is said
    out = convert(read.invoice, "facturx", supplier_pdf=read.pdf)
    assert out.blocking == []
    assert main(["check", str(CORPUS / "facturx-lib" / "zugferd-comfort.xml")]) == 1
    assert "ZUGFERD1" in capsys.readouterr().out


# --- 4. the loss report -----------------------------------------------------------------------

def test_xrechnung_sub_lines_are_reported_not_dropped(tmp_path, capsys):
    src = EXTERNAL / "xrechnung" / "04.01a-INVOICE_ubl.xml"
    read = read_document(src.read_bytes())
    missing = unread(read.xml, read.syntax, read.invoice)
    assert any(item.startswith("InvoiceLine/SubInvoiceLine/ID: '1 1', '1 2', '2 1', '2 2'") for item in missing)
    assert any(item.startswith("InvoiceLine/SubInvoiceLine/SubInvoiceLine/ID:") and "(+4 more)" in item for item in missing)
    assert main(["convert", str(src), "--to", "cii", "-o", str(tmp_path / "x.xml")]) == 0
    assert "not carried: input InvoiceLine/SubInvoiceLine/Item/Name" in capsys.readouterr().out
    assert main(["convert", str(src), "--to", "cii", "--lossless", "-o", str(tmp_path / "y.xml")]) == 1
    assert not (tmp_path / "y.xml").exists() and "NOT written (--lossless)" in capsys.readouterr().err


def test_the_xrechnung_identifier_is_kept_in_cii_and_reported_in_facturx():
    inv = read_document((EXTERNAL / "xrechnung" / "01.01a-INVOICE_uncefact.xml").read_bytes()).invoice
    out = convert(inv, "cii")
    assert b"urn:xeinkauf.de:kosit:xrechnung_3.0" in out.data and "xrechnung-cii" in _ids(out.checked)
    assert out.blocking == [] and out.lost == []
    fx = convert(inv, "facturx")
    assert fx.blocking == [] and fx.lost == [
        "BT-24 specification identifier 'urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0' "
        "(a Factur-X declares its profile)"]


def test_skonto_lines_keep_their_final_line_break():
    inv = read_document((EXTERNAL / "xrechnung" / "01.10a-INVOICE_ubl.xml").read_bytes()).invoice
    for fmt in ("cii", "ubl"):
        out = convert(inv, fmt)
        assert out.blocking == [], (fmt, _blocking(out.blocking))


def test_several_seller_ids_of_no_scheme_are_all_kept():
    inv = read_document((EXTERNAL / "xrechnung" / "01.01a-INVOICE_uncefact.xml").read_bytes()).invoice
    xml = cii.write(inv, standalone=True).replace(b"</ram:SellerTradeParty>", b"</ram:SellerTradeParty>", 1)
    root = etree.fromstring(xml)
    seller = root.find(".//{*}SellerTradeParty")
    ram = etree.QName(seller).namespace
    for value in ("LOCAL-1", "LOCAL-2"):
        el = etree.Element(f"{{{ram}}}ID")
        el.text = value
        seller.insert(0, el)
    read = read_document(etree.tostring(root))
    ids = [i.value for i in read.invoice.seller.identifiers if not i.scheme]
    assert {"LOCAL-1", "LOCAL-2"} <= set(ids), ids


# --- 5. Peppol claimed only when it holds ------------------------------------------------------

def test_ubl_claims_peppol_only_when_the_peppol_rules_pass():
    good = read_document((EXTERNAL / "peppol" / "base-example.xml").read_bytes()).invoice
    out = convert(good, "ubl")
    assert out.notes == {"peppol": "claimed"} and b"poacc:billing:3.0" in out.data
    assert "peppol-bis3-ubl" in _ids(out.checked) and out.blocking == []
    french = read_document((ROOT / "demo" / "inbox" / "FA-2026-1202.xml").read_bytes()).invoice  # three notes, BT-23 M1
    french = french.model_copy(update={"seller": french.seller.model_copy(update={"electronic_address": "123456789",
                                                                                  "electronic_address_scheme": "0225"}),
                                       "buyer": french.buyer.model_copy(update={"electronic_address": "987654321",
                                                                                "electronic_address_scheme": "0225"})})
    out = convert(french, "ubl")
    assert out.notes["peppol"]["claimed"] is False and "PEPPOL-EN16931-R002" in out.notes["peppol"]["refused_by"]
    assert b"poacc:billing:3.0" not in out.data and out.blocking == []


# --- 6. UBL credit notes, buyer FC --------------------------------------------------------------

def test_a_cii_credit_note_becomes_a_valid_ubl_credit_note():
    inv = read_document((CORPUS / "cen" / "ubl" / "ubl-tc434-creditnote1.xml").read_bytes()).invoice
    as_cii = read_document(cii.write(inv, standalone=True)).invoice  # through CII and back to UBL
    out = convert(as_cii, "ubl")
    assert out.data.lstrip().startswith(b"<?xml") and b"<CreditNote" in out.data and b"CreditNoteLine" in out.data
    assert _ids(out.checked)[0] == "ubl-creditnote-xsd" and out.blocking == []


def test_a_buyer_tax_registration_does_not_break_facturx():
    inv = read_document((EXTERNAL / "xrechnung" / "01.21a-INVOICE_uncefact.xml").read_bytes()).invoice
    assert inv.buyer.tax_registration_id == "04523249415"
    out = convert(inv, "facturx")
    assert out.blocking == [] and "BG-7.tax_identifier: '04523249415'" in out.lost
    assert convert(inv, "cii").lost == []  # CII D16B holds it


# --- 8. PDF/A ----------------------------------------------------------------------------------

def test_facturx_outputs_have_rdf_about_on_every_xmp_description():
    import io

    from pypdf import PdfReader

    out = convert(read_document((CORPUS / "facturx-lib" / "factur-x-en16931.xml").read_bytes()).invoice, "facturx")
    xmp = PdfReader(io.BytesIO(out.data)).trailer["/Root"]["/Metadata"].get_object().get_data().decode()
    descriptions = re.findall(r"<rdf:Description[^>]*>", xmp)
    assert descriptions and all('rdf:about=""' in d for d in descriptions)
    assert "PDFA-XMP-ABOUT" not in _blocking(out.blocking)
