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
    assert pdfs == ["FA-2026-1201.pdf", "FA-2026-1202.pdf", "FA-2026-1203.pdf", "FA-2026-1204.pdf",
                    "FA-2026-1206-formal_notice.pdf", "FA-2026-1206.pdf", "FA-2026-1207.pdf", "FA-2026-1208.pdf",
                    "FA-2026-1209.pdf", "FA-2026-1210.pdf", "FA-2026-1211.pdf"]
    assert any((out / "chorus").glob("CPP*.pdf"))  # the flow deposited on Chorus Pro
    # the PA: the two invoices submitted, the buyer's refusal (210) in, the seller's 212 out
    assert len(list((out / "pa").glob("out-*.pdf"))) == 2 and len(list((out / "pa").glob("out-*212.xml"))) == 1
    assert any((out / "pa").glob("in-*FA-2026-1210-210.xml"))
    assert [p.name.split("-", 1)[1] for p in (out / "cxml").glob("*.xml")] == ["FA-2026-1203-200.xml"]  # Ariba, once
    (invoic,) = (out / "edi").glob("c-*/*-FA-2026-1202.edi")  # through the template's AS2 connector
    assert b"INVOIC:D:96A:UN:EAN008" in invoic.read_bytes() and invoic.with_name(invoic.name + ".mdn").exists()
    hotels = timeline["FA-2026-1211"]
    assert {r: v["channel"] for r, v in hotels["recipients"].items()} == {"hr-compta": "email", "hr-api": "http", "hr-pa": "pa"}
    assert [x["code"] for x in hotels["lifecycle"]] == [200, 202, 203, 205, 212]
    assert [m["kind"] for m in hotels["recipients"]["hr-pa"]["milestones"]] == ["sent", "delivered", "status_reported"]
    case = json.loads((out / "documents" / "FA-2026-1206-collection_case.json").read_text())
    assert case["invoices"][0]["total"] == "465.09"  # 420.00 still due + 5.09 interest + 40.00 indemnity
    cost = json.loads((out / "cost.json").read_text())
    paid_early = cost["per_invoice"]["FA-2026-1201"]
    assert paid_early["transitions"] > 0 and paid_early["ses_messages"] == 2 and paid_early["usd_per_1000"]["total"] > 0
    # the path with six scenario actions costs more than a path with none, by what it did
    assert cost["per_invoice"]["FA-2026-1206"]["ses_messages"] == 9
    emls = sorted((out / "mail").glob("*.eml"))
    assert len(emls) >= 8
    msg = email.message_from_bytes(emls[0].read_bytes(), policy=email.policy.default)
    assert "/d/" in msg.get_body(preferencelist=("plain",)).get_content()
    # the demo can run again over its own output folder
    assert run(out) == 0
