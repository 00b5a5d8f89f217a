"""The French lifecycle: CDAR D22B messages written and read, each written one checked with the
official CDAR XSD and BR-FR-CDV Schematron (../shared/rules/france-rfe-1.4/CDAR, shipped in the
layer), and the lifecycle table that says who may set which status after what."""
from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from facteur.cli import main
from facteur.controls.official import check
from facteur.errors import RejectedInput
from facteur.formats import cdar
from facteur.formats.reader import read_document
from facteur.model.lifecycle import LIFECYCLE, Source, lifecycle_refusal

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT.parent / "shared" / "corpus"
AT = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
# a reason code each status accepts (BR-FR-CDV-CL-09)
REASONS = {206: "AUTRE", 207: "TX_TVA_ERR", 208: "JUSTIF_ABS", 210: "TX_TVA_ERR", 213: "DOUBLON"}


@pytest.fixture(scope="module")
def invoice():
    return read_document((ROOT / "demo" / "inbox" / "FA-2026-1204.json").read_bytes()).invoice


@pytest.mark.parametrize("code", sorted(LIFECYCLE))
def test_every_status_is_written_as_a_message_the_official_rules_accept(invoice, code):
    rule = LIFECYCLE[code]
    msg = cdar.message_for(invoice, code, reason_code=REASONS.get(code), reason="Motif" if code in REASONS else None,
                           amount=invoice.amount_due if "amount" in rule.needs or code == 211 else None,
                           at=AT, message_id=f"CDV-{code}")
    data = cdar.write(msg)
    checked = check(data)
    assert [r.id for r in checked.rule_sets] == ["cdar-d22b-xsd", "br-fr-cdv"]
    assert checked.blocking == [], [(f.rule, f.message[:200]) for f in checked.blocking]
    back = cdar.read(data)
    (st,) = back.statuses
    assert (st.invoice_number, st.invoice_date, st.code, st.label, st.reason_code) == \
        (invoice.number, invoice.issue_date, code, rule.label_fr, REASONS.get(code))
    assert back.type_code == ("305" if Source.PLATFORM in rule.issuers else "23")
    assert back.source == next(iter(rule.issuers)).value and back.issued_at == AT
    if code == 212:
        assert st.amount == invoice.amount_due


def test_a_cashed_amount_is_split_over_the_vat_rates_to_the_cent():
    inv = read_document((CORPUS / "cen" / "cii" / "CII_example2.xml").read_bytes()).invoice
    assert len({vb.rate for vb in inv.vat_breakdown}) >= 2
    msg = cdar.message_for(inv, 212, amount=Decimal("1000.01"), at=AT, message_id="CDV-212-split")
    data = cdar.write(msg)
    assert check(data).blocking == []
    (detail,) = cdar.read(data).statuses[0].details
    assert sum(a.amount for a in detail.amounts) == Decimal("1000.01")
    assert all(a.type_code == "MEN" and a.percent is not None for a in detail.amounts)
    assert {a.percent for a in detail.amounts} == {vb.rate for vb in inv.vat_breakdown if vb.taxable_amount + vb.tax_amount}


def test_the_documented_sample_reads_and_its_gaps_are_named():
    data = (ROOT / "tests" / "fixtures" / "cdar" / "status-210-gobl-sample.xml").read_bytes()
    msg = cdar.read(data)
    (st,) = msg.statuses
    assert (msg.source, st.invoice_number, st.code, st.reason_code, st.reason) == \
        ("buyer", "F202500003", 210, "TX_TVA_ERR", "Taux TVA erroné")
    assert sorted(f.rule for f in check(data).blocking) == ["BR-FR-CDV-08_MDT-73", "BR-FR-CDV-16_MDT-124-2"]


@pytest.mark.parametrize("data,code", [
    (b"<Invoice xmlns='urn:oasis:names:specification:ubl:schema:xsd:Invoice-2'/>", "not_a_cdar"),
    (b"<rsm:CrossDomainAcknowledgementAndResponse xmlns:rsm='urn:un:unece:uncefact:data:standard:CrossDomainAcknowledgementAndResponse:100'/>",
     "cdar_incomplete"),
    (b"<!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]><x>&e;</x>", None),
])
def test_what_is_not_a_lifecycle_message_is_refused_with_a_reason(data, code):
    with pytest.raises(RejectedInput) as exc:
        cdar.read(data)
    assert exc.value.message and (code is None or exc.value.code == code)


# --- the lifecycle table ----------------------------------------------------------------------

B, S, P = Source.BUYER, Source.SELLER, Source.PLATFORM


@pytest.mark.parametrize("history,code,source,kw,refused", [
    ([], 204, S, {}, "set by the buyer, not the seller"),  # a mail scanner or the supplier cannot take it in charge
    ([203], 204, B, {}, None),
    ([203], 210, B, {}, "needs a reason"),
    ([203], 210, B, {"reason": "TVA"}, None),
    ([203], 209, S, {}, "cannot follow 203"),  # 209 completes a 207/208
    ([203, 208], 209, S, {}, None),
    ([203, 207], 205, B, {}, None),
    ([203, 210], 205, B, {}, "refusée (210): only a corrected invoice"),
    ([200, 213], 203, P, {}, "rejetée (213)"),
    ([203, 205], 213, P, {"reason": "x"}, "cannot follow 205"),
    ([203, 205], 212, S, {}, "needs an amount"),
    ([203, 205, 211], 212, S, {"amount": Decimal(1)}, None),
    ([203, 205, 212], 212, S, {"amount": Decimal(1)}, None),  # a second partial payment
    ([203, 205, 212], 205, B, {"amount": None, "fully_paid": True}, "cashed (212) in full"),
    ([], 205, P, {}, "set by the buyer, not the platform"),
    ([], 215, B, {}, "not a lifecycle status"),
    ([204, 203], 202, P, {}, None),  # the platform's statuses may arrive late, in any order
])
def test_who_may_set_which_status_after_what(history, code, source, kw, refused):
    why = lifecycle_refusal(history, code, source, reason=kw.get("reason"), amount=kw.get("amount"),
                            fully_paid=kw.get("fully_paid", False))
    assert (why is None) if refused is None else (why is not None and refused in why), why


def test_cdar_cli_reads_and_writes(tmp_path, capsys):
    out = tmp_path / "212.xml"
    assert main(["cdar", "write", "--invoice", str(ROOT / "demo" / "inbox" / "FA-2026-1204.json"), "--code", "212",
                 "-o", str(out)]) == 0
    assert main(["cdar", "read", str(out)]) == 0
    assert "212 Encaissée (message 23, from the seller) amount=180" in capsys.readouterr().out
    assert main(["cdar", "write", "--invoice", str(ROOT / "demo" / "inbox" / "FA-2026-1204.json"), "--code", "210",
                 "-o", str(tmp_path / "x.xml")]) == 2  # a refusal needs its reason
    assert "needs --reason-code" in capsys.readouterr().err
    assert main(["cdar", "read", "--json", str(ROOT / "tests" / "fixtures" / "cdar" / "status-210-gobl-sample.xml")]) == 1
