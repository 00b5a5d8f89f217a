"""Golden files, named after the official rule they break (tests/fixtures/rules/<RULE>.<syntax>.xml):
each is a conformant demo invoice with one defect, and the in-process checker must name that rule."""
from __future__ import annotations

from pathlib import Path

import pytest

from facteur.cli import main
from facteur.controls.official import check_xml

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "rules"
FILES = sorted(GOLDEN.glob("*.xml"))


def test_there_are_golden_files():
    assert len(FILES) >= 8


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_the_named_rule_is_reported(path, capsys):
    rule = path.name.split(".")[0]
    findings = [f for f in check_xml(path.read_bytes(), fr=True) if f.blocking]
    assert rule in {f.rule for f in findings}
    hit = next(f for f in findings if f.rule == rule)
    assert hit.message and hit.message_fr and hit.location  # both languages and where
    assert main(["check", "--fr", str(path)]) == 1 and rule in capsys.readouterr().out
