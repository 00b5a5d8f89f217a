"""French reform: BR-FR rules in the checks, findings in both languages, opt-in auto-completion."""
from __future__ import annotations

from pathlib import Path

from facteur.controls.french import auto_complete, french_rules_apply
from facteur.controls.official import check_xml
from facteur.formats import cii
from facteur.formats.reader import read_document
from facteur.model.directory import Supplier

ROOT = Path(__file__).resolve().parents[2]


def _bare():
    inv = read_document((ROOT / "demo" / "inbox" / "FA-2026-1202.xml").read_bytes()).invoice
    return inv.model_copy(update={"notes": [], "process_type": None})


def test_br_fr_rules_catch_missing_mentions_in_french_and_english():
    inv = _bare()
    assert french_rules_apply(inv)
    findings = [f for f in check_xml(cii.write(inv), fr=True) if f.blocking]
    assert {f.rule for f in findings} == {"BR-FR-05_BT-22_PMT", "BR-FR-05_BT-22_PMD", "BR-FR-05_BT-22_AAB", "BR-FR-08_BT-23"}
    pmt = next(f for f in findings if f.rule.endswith("PMT"))
    assert "frais de recouvrement" in pmt.message_fr and pmt.message.startswith("French reform rule") and pmt.bt == "BT-22"
    assert not [f for f in check_xml(cii.write(inv), fr=False) if f.blocking]


def test_english_rules_have_a_french_message_naming_the_rule():
    xml = (ROOT / "demo" / "inbox" / "FA-2026-1202.xml").read_bytes().replace(b"<ram:GrandTotalAmount>", b"<ram:GrandTotalAmount>9", 1)
    f = next(f for f in check_xml(xml) if f.rule == "BR-CO-15")
    assert f.message_fr.startswith("Règle officielle BR-CO-15 non respectée") and f.location


def test_auto_completion_is_opt_in_and_never_overwrites():
    inv = _bare()
    assert auto_complete(inv, Supplier(id="s1", name="S"))[1] == {}
    sup = Supplier(id="s1", name="S", auto_complete_notes=True, default_process_type="S1",
                   default_notes={"PMD": "Pénalités : 3 fois le taux légal."})
    done, added = auto_complete(inv, sup)
    assert set(added) == {"BT-22/PMT", "BT-22/PMD", "BT-22/AAB", "BT-23"} and added["BT-22/PMD"].startswith("Pénalités")
    assert not [f for f in check_xml(cii.write(done), fr=True) if f.blocking]
    full = read_document((ROOT / "demo" / "inbox" / "FA-2026-1202.xml").read_bytes()).invoice
    assert auto_complete(full, sup) == (full, {})
