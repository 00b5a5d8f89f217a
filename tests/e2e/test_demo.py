"""`make demo` in-process: it must succeed and leave what the README promises in its folder."""
from __future__ import annotations

import email
import email.policy
import json

from facteur_local.demo import run


def test_demo_runs_the_whole_job_and_leaves_its_outputs(tmp_path, capsys):
    out = tmp_path / "demo-out"
    assert run(out) == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    assert "demo OK" in printed and "FA-2026-1205" in printed
    timeline = json.loads((out / "timeline.json").read_text())
    assert len(timeline) >= 7
    for entry in timeline.values():
        ats = [m["at"] for m in entry["milestones"]]
        assert ats == sorted(ats)
    assert timeline["FA-2026-1202"]["milestones"][-1]["kind"] == "paid"
    pdfs = sorted(p.name for p in (out / "documents").glob("*.pdf"))
    assert pdfs == ["FA-2026-1201.pdf", "FA-2026-1202.pdf", "FA-2026-1203.pdf", "FA-2026-1204.pdf"]
    emls = sorted((out / "mail").glob("*.eml"))
    assert len(emls) >= 8
    msg = email.message_from_bytes(emls[0].read_bytes(), policy=email.policy.default)
    assert "/d/" in msg.get_body(preferencelist=("plain",)).get_content()
    # the demo can run again over its own output folder
    assert run(out) == 0
