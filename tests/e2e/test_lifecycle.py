"""The French lifecycle through the API, on template.yaml on the embedded runtime.

Given an invoice sent by the demo supplier,
when its platform forwards the buyer's statuses (JSON or CDAR messages),
then each is checked against the lifecycle table (who may set it, after what), recorded with its
code separately from Facteur's own milestones, and a CDAR message is kept as received, even one
that is about another invoice."""
from __future__ import annotations

import json
import uuid

import pytest

from facteur.formats import cdar
from facteur.formats.reader import read_document
from tests.e2e.helpers import ROOT, api, demo_runtime


@pytest.fixture(scope="module")
def rt(tmp_path_factory):
    with demo_runtime(tmp_path_factory, "lifecycle") as runtime:
        yield runtime


def sent_invoice(rt) -> tuple[str, dict]:
    data = json.loads((ROOT / "demo" / "inbox" / "FA-2026-1204.json").read_text())
    data["BT-1"] = f"LC-{uuid.uuid4().hex[:8]}"
    res = api(rt, "POST", "/invoices", data=json.dumps(data), headers={"Content-Type": "application/json"})
    assert res.status_code == 202, res.text
    rt.settle()
    return res.json()["invoice_id"], data


def lifecycle(rt, iid, **body):
    return api(rt, "POST", f"/invoices/{iid}/lifecycle", json=body)


def codes(rt, iid) -> list[tuple[str, int | None]]:
    events = api(rt, "GET", f"/invoices/{iid}/timeline").json()["events"]
    return [(e["kind"], e.get("lifecycle_code")) for e in events]


def test_facteur_milestones_carry_no_reform_status(rt):
    iid, _ = sent_invoice(rt)
    timeline = codes(rt, iid)
    assert ("deposited", None) in timeline and ("sent", None) in timeline  # Facteur's checks and its e-mail: not 200/201
    assert not [c for _, c in timeline if c]


def test_buyer_statuses_forwarded_as_json_follow_the_table(rt):
    iid, _ = sent_invoice(rt)
    assert lifecycle(rt, iid, code=203, source="platform").status_code == 200
    res = lifecycle(rt, iid, code=204, source="seller")  # only the buyer takes an invoice in charge
    assert res.status_code == 422 and "set by the buyer" in res.json()["message"]
    assert lifecycle(rt, iid, code=204).status_code == 200  # the buyer by default: its only issuer
    res = lifecycle(rt, iid, code=208)
    assert res.status_code == 422 and "needs a reason" in res.json()["message"]
    res = lifecycle(rt, iid, code=208, reason_code="JUSTIF_ABS", reason="Bon de livraison manquant")
    assert res.status_code == 200 and res.json()["status"] == "suspended"
    res = lifecycle(rt, iid, code=209, reference="completed-1")
    assert res.status_code == 200, res.text  # the seller completed it: resumes
    assert lifecycle(rt, iid, code=209, reference="completed-1").status_code == 200  # the same message again: once
    assert lifecycle(rt, iid, code=205).status_code == 200
    res = lifecycle(rt, iid, code=212, amount=180.0)
    assert res.status_code == 422  # money is a decimal string
    res = lifecycle(rt, iid, code=212, amount="100.00", reference="VIR-7")
    assert res.status_code == 200 and res.json()["status"] != "paid"  # partial
    assert lifecycle(rt, iid, code=212, amount="80.00", reference="VIR-8").json()["status"] == "paid"
    res = lifecycle(rt, iid, code=210, reason="trop tard")
    assert res.status_code == 409 and "cashed (212) in full" in res.json()["message"]
    assert [c for _, c in codes(rt, iid) if c] == [203, 204, 208, 209, 205, 212, 212]


def test_a_cdar_refusal_from_the_buyer_is_recorded_and_ends_the_lifecycle(rt):
    iid, data = sent_invoice(rt)
    inv = read_document(json.dumps(data).encode()).invoice
    msg = cdar.message_for(inv, 210, reason_code="TX_TVA_ERR", reason="Taux de TVA erroné",
                           at=rt.now(), message_id=f"CDV-{uuid.uuid4().hex[:6]}")
    res = api(rt, "POST", f"/invoices/{iid}/lifecycle", data=cdar.write(msg), headers={"Content-Type": "application/xml"})
    assert res.status_code == 200 and res.json()["status"] == "refused", res.text
    events = api(rt, "GET", f"/invoices/{iid}/timeline").json()["events"]
    refused = next(e for e in events if e.get("lifecycle_code") == 210)
    assert refused["detail"]["source"] == "buyer" and refused["detail"]["reason_code"] == "TX_TVA_ERR"
    assert refused["detail"]["cdar_key"].startswith("lifecycle/") and "cdar_findings" not in refused["detail"]
    res = lifecycle(rt, iid, code=205)
    assert res.status_code == 409 and "only a corrected invoice goes on" in res.json()["message"]


def test_a_cdar_about_another_invoice_is_kept_and_reported(rt):
    iid, _ = sent_invoice(rt)
    sample = (ROOT / "tests" / "fixtures" / "cdar" / "status-210-gobl-sample.xml").read_bytes()
    res = api(rt, "POST", f"/invoices/{iid}/lifecycle", data=sample, headers={"Content-Type": "application/xml"})
    assert res.status_code == 422 and res.json()["error"] == "cdar_other_invoice"
    assert "F202500003" in res.json()["message"] and "kept as lifecycle/" in res.json()["message"]
    assert not [c for _, c in codes(rt, iid) if c]  # nothing recorded on this invoice


@pytest.mark.parametrize("body", [b"<not-xml", b"<x/>", b'{"code": "deux-cent"}', b"[]"])
def test_malformed_lifecycle_bodies_are_a_4xx(rt, body):
    iid, _ = sent_invoice(rt)
    res = api(rt, "POST", f"/invoices/{iid}/lifecycle", data=body, headers={"Content-Type": "application/json"})
    assert res.status_code in (400, 422), res.text
