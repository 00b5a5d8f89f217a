"""GET /worklist on template.yaml on the embedded runtime: only what needs a person, with why.

Given a held invoice (Groupe Hexa requires a PO), a refused one (the buyer's 210) and one paid,
when the supplier asks for its worklist,
then it gets the held and the refused invoices with their reasons and what to do, not the paid one;
another tenant gets nothing of them."""
from __future__ import annotations

import json
import uuid

import pytest

from tests.e2e.helpers import OTHER, ROOT, api, demo_runtime


@pytest.fixture(scope="module")
def rt(tmp_path_factory):
    with demo_runtime(tmp_path_factory, "worklist", OTHER) as runtime:
        yield runtime


def post(rt, **changes) -> str:
    data = json.loads((ROOT / "demo" / "inbox" / "FA-2026-1204.json").read_text())
    data.update({"BT-1": f"WL-{uuid.uuid4().hex[:8]}", **changes})
    res = api(rt, "POST", "/invoices", data=json.dumps(data), headers={"Content-Type": "application/json"})
    assert res.status_code == 202, res.text
    rt.settle()
    return res.json()["invoice_id"]


def test_the_worklist_has_only_what_needs_a_person(rt):
    hexa = {"name": "Groupe Hexa SA", "legal_identifier": "542051180", "legal_identifier_schemeid": "0002",
            "vat_identifier": "FR59542051180", "country_code": "FR"}
    held = post(rt, **{"BG-7": hexa})  # no purchase order: Groupe Hexa requires one
    refused = post(rt)
    assert api(rt, "POST", f"/invoices/{refused}/lifecycle",
               json={"code": 210, "reason_code": "TX_TVA_ERR", "reason": "Taux de TVA erroné"}).status_code == 200
    paid = post(rt)
    assert api(rt, "POST", f"/invoices/{paid}/events", json={"kind": "paid"}).status_code == 200
    res = api(rt, "GET", "/worklist")
    assert res.status_code == 200
    items = {i["invoice_id"]: i for i in res.json()["items"] if "invoice_id" in i}
    assert held in items and refused in items and paid not in items
    assert items[held]["status"] == "held" and "CUST-PO" in items[held]["why"] and "release" in items[held]["what_to_do"]
    assert items[refused]["status"] == "refused" and "Taux de TVA erroné" in items[refused]["why"]
    assert items[refused]["tried"].get("sent", 0) >= 1 and "credit note" in items[refused]["what_to_do"]
    other = api(rt, "GET", "/worklist", key="key-of-another-tenant").json()
    assert other == {"count": 0, "items": []}
