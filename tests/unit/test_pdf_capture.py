"""Plain PDFs: extraction templates, and profile downgrades of the CII writer."""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from facteur.controls.official import check_xml
from facteur.errors import RejectedInput
from facteur.formats import cii
from facteur.formats.pdf_capture import capture, pdf_text, to_invoice_data
from facteur.formats.reader import read_document
from facteur.model.directory import PdfTemplate
from facteur.model.invoice import Invoice

ROOT = Path(__file__).resolve().parents[2]
BLANKO = ROOT.parent / "shared" / "corpus" / "pdf" / "MustangGnuaccountingBeispielRE-20170509_505blanko.pdf"
TEMPLATE = PdfTemplate(name="gnuaccounting", match="Powered by GnuAccounting", date_format="%d.%m.%Y", fields={
    "BT-1": r"Rechnung # (\S+)", "BT-2": r"Rechnung # \S+ von (\d{2}\.\d{2}\.\d{4})",
    "BT-109": r"Nettobetrag: ([\d.,]+)", "BT-110": r"USt\. Gesamt: ([\d.,]+)", "BT-112": r"Gesamtbetrag: ([\d.,]+)"})
SELLER = {"name": "Bei Spiel GmbH", "vat_identifier": "DE136695976", "country_code": "DE"}
BUYER = {"name": "Theodor Est"}


def test_template_reads_the_header_and_the_result_is_a_conformant_minimum():
    t, found = capture(pdf_text(BLANKO.read_bytes()), [PdfTemplate(name="other", match="Nope", fields={}), TEMPLATE])
    assert t.name == "gnuaccounting"
    inv = Invoice.model_validate(to_invoice_data(t, found, SELLER, BUYER))
    assert (inv.number, inv.issue_date.isoformat(), inv.tax_exclusive_amount, inv.tax_amount, inv.amount_due) == \
        ("RE-20170509/505", "2017-05-09", Decimal("496.00"), Decimal("75.04"), Decimal("571.04"))
    assert inv.profile == "minimum"
    assert [f.rule for f in check_xml(cii.write(inv)) if f.blocking] == []


def test_no_matching_template_and_incomplete_templates_say_why():
    assert capture("some other layout", [TEMPLATE]) is None
    t, found = capture("Powered by GnuAccounting Rechnung # A-1 von 01.02.2026", [TEMPLATE])
    with pytest.raises(RejectedInput, match="BT-109, BT-112") as exc:
        to_invoice_data(t, found, SELLER, BUYER)
    assert exc.value.code == "template_incomplete"
    bad = {**found, "BT-109": "100,00", "BT-110": "20,00", "BT-112": "150,00"}
    with pytest.raises(RejectedInput, match="do not add up"):
        to_invoice_data(t, bad, SELLER, BUYER)


def test_plain_pdf_without_templates_is_refused_with_the_reason():
    with pytest.raises(RejectedInput) as exc:
        read_document(BLANKO.read_bytes())
    assert exc.value.code == "pdf_plain"
    with pytest.raises(RejectedInput) as exc:
        read_document(BLANKO.read_bytes(), pdf_capture=lambda text: None)
    assert exc.value.code == "pdf_plain" and "none of the supplier's extraction templates" in exc.value.message


@pytest.mark.parametrize("profile", ["minimum", "basicwl"])
def test_a_richer_invoice_written_in_a_lower_profile_passes_that_profiles_rules(profile):
    inv = read_document((ROOT / "demo" / "inbox" / "FA-2026-1202.xml").read_bytes()).invoice
    assert [f.rule for f in check_xml(cii.write(inv, profile=profile)) if f.blocking] == []
