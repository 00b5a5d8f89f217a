"""The command line: facteur convert and facteur check, their outputs and exit codes."""
from __future__ import annotations

import base64
import json
import warnings
from pathlib import Path

import pytest

from facteur.cli import main
from facteur.formats.reader import read_document

ROOT = Path(__file__).resolve().parents[2]
INBOX = ROOT / "demo" / "inbox"
CORPUS = ROOT.parent / "shared" / "corpus"


@pytest.mark.parametrize("to", ["facturx", "cii", "ubl", "edifact"])
def test_convert_many_inputs_to_each_format(tmp_path, to, capsys):
    inputs = [str(INBOX / "FA-2026-1202.xml"), str(INBOX / "FA-2026-1203.ubl.xml"), str(INBOX / "FA-2026-1201.pdf")]
    assert main(["convert", *inputs, "--to", to, "--out-dir", str(tmp_path)]) == 0, capsys.readouterr()
    outs = sorted(p.name for p in tmp_path.iterdir())
    lines = capsys.readouterr().out.splitlines()
    assert len(outs) == 3 and sum("-> " in line for line in lines) == 3
    assert all(line.startswith(("  not carried: ", "  declared EN 16931")) for line in lines if "-> " not in line)  # the reports
    if to in ("facturx", "cii", "ubl"):
        for p in tmp_path.iterdir():
            assert read_document(p.read_bytes()).invoice.number.startswith("FA-2026-12")


def test_edifact_output_is_a_consistent_eancom_invoic(tmp_path):
    from pydifact.segmentcollection import Interchange

    out = tmp_path / "x.edi"
    assert main(["convert", str(CORPUS / "facturx-lib" / "factur-x-en16931.xml"), "--to", "edifact", "-o", str(out)]) == 0
    text = out.read_bytes().decode("latin-1")  # UNOC
    assert text.startswith("UNA:+.? '\nUNB+UNOC:3+")
    inv = read_document((CORPUS / "facturx-lib" / "factur-x-en16931.xml").read_bytes()).invoice
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        (msg,) = list(Interchange.from_str(text).get_messages())
        segs = list(msg.segments)
    tags = [s.tag for s in segs]
    assert tags[0] == "BGM" and segs[0].elements[1] == inv.number
    assert tags.count("LIN") == len(inv.lines)
    assert tags.index("UNS") > max(i for i, t in enumerate(tags) if t == "LIN")
    moa = {s.elements[0][0]: s.elements[0][1] for s in segs[tags.index("UNS"):] if s.tag == "MOA"}
    assert moa["9"] == str(inv.amount_due) and moa["77"] == str(inv.tax_inclusive_amount)
    unt = int(text.split("\nUNT+")[1].split("+")[0])
    assert unt == len(segs) + 2  # UNT counts UNH through UNT
    # and it reads back (EDIFACT is an input too)
    back = read_document(out.read_bytes()).invoice
    assert (back.number, back.issue_date, back.amount_due, back.tax_amount, len(back.lines)) == \
        (inv.number, inv.issue_date, inv.amount_due, inv.tax_amount, len(inv.lines))
    assert [(ln.name[:35], ln.quantity, ln.net_amount) for ln in back.lines] == [(ln.name[:35], ln.quantity, ln.net_amount) for ln in inv.lines]


def test_chorus_payload_carries_the_facturx(tmp_path):
    out = tmp_path / "c.json"
    assert main(["convert", str(INBOX / "FA-2026-1201.pdf"), "--to", "chorus", "--chorus-user", "4242", "-o", str(out)]) == 0
    payload = json.loads(out.read_text())
    assert payload["syntaxeFlux"] == "IN_DP_E2_CII_FACTURX" and payload["idUtilisateurCourant"] == 4242
    pdf = base64.b64decode(payload["fichierFlux"])
    assert read_document(pdf).invoice.number == "FA-2026-1201" and payload["nomFichier"] == "FA-2026-1201.pdf"


def test_convert_bad_input_is_one_line_and_exit_2(tmp_path, capsys):
    code = main(["convert", str(CORPUS / "facturx-lib" / "zugferd-extended.xml"), str(INBOX / "export-truncated.xml"),
                 "--to", "cii", "--out-dir", str(tmp_path)])
    err = capsys.readouterr().err.splitlines()
    assert code == 2 and len(err) == 2 and "invalid date '20139102'" in err[0] and "not well-formed" in err[1]
    assert "Traceback" not in "".join(err)


def test_minimum_profile_cannot_become_ubl(tmp_path, capsys):
    code = main(["convert", str(CORPUS / "facturx-lib" / "factur-x-minimum.xml"), "--to", "ubl", "--out-dir", str(tmp_path)])
    assert code == 2 and "needs invoice lines (BR-16)" in capsys.readouterr().err


def test_check_exit_codes_and_customer_expectations(capsys):
    assert main(["check", str(INBOX / "FA-2026-1203.ubl.xml"), "--customer", "groupe-hexa",
                 "--directory", str(ROOT / "config" / "demo-directory.yaml")]) == 0
    assert main(["check", str(INBOX / "FA-2026-1205.ubl.xml"), "--customer", "groupe-hexa",
                 "--directory", str(ROOT / "config" / "demo-directory.yaml")]) == 1
    assert "CUST-PO" in capsys.readouterr().out
    assert main(["check", str(INBOX / "export-truncated.xml")]) == 2
    capsys.readouterr()
    assert main(["check", str(INBOX / "FA-2026-1202.xml"), "--json"]) == 0
    (report,) = json.loads(capsys.readouterr().out)
    assert report["conformant"] is True and report["findings"] == []


def test_out_dir_gives_distinct_inputs_distinct_outputs(tmp_path):
    from facteur.cli import output_name

    taken: set = set()
    names = [output_name(Path(n), tmp_path, ".cii.xml", taken)
             for n in ("a/XRechnung.UBL.01.xml", "a/XRechnung.UBL.02.xml", "a/inv.xml", "b/inv.xml", "noext")]
    assert [p.name for p in names] == ["XRechnung.UBL.01.cii.xml", "XRechnung.UBL.02.cii.xml", "inv.cii.xml",
                                       "inv-2.cii.xml", "noext.cii.xml"]


def test_one_tax_point_date_in_cii_whatever_the_number_of_vat_rates(corpus):
    from lxml import etree

    from facteur.formats import cii
    from facteur.formats.reader import read_document

    inv = read_document((corpus / "cen" / "cii" / "CII_example2.xml").read_bytes()).invoice
    assert inv.tax_point_date and len(inv.vat_breakdown) >= 2
    root = etree.fromstring(cii.write(inv, profile="en16931"))
    ns = {"ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"}
    assert len(root.findall(".//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax/ram:TaxPointDate", ns)) == 1  # CII-SR-461
