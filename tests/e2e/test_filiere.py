"""The filière: who receives what and when, what must not leave, and how a customer wants its
e-mails — all data in the directory — on template.yaml on the embedded runtime.

Given Groupe Rivage, whose validator receives every invoice on issue, whose central purchasing
receives only those of 1,000 EUR or more, whose payer receives an invoice once it is approved (205),
and who wants `[PO {BT-13}] Facture {BT-1}` as subject, a line of its own first, and links only;
and two customers whose invoices must not leave (a blocked one, one above an approval threshold)."""
from __future__ import annotations

import json
import uuid

import pytest

from tests.e2e.helpers import ROOT, SUPPLIER, api, demo_runtime

DIRECTORY = SUPPLIER + """    groups:
      hotellerie:                         # a hotel chain: its central purchasing receives every invoice of its hotels
        recipients:
          - {id: hl-centrale, name: Centrale d'achats, role: central_purchasing, email: centrale@hotellerie.example}
        hold: {approval_above: "100.00"}
    customers:
      - id: groupe-rivage
        name: Groupe Rivage SAS
        siren: "552100554"
        vat_id: FR96552100554
        formats: [facturx]
        recipients:
          - {id: gr-valid, name: Valideur, role: validator, email: valideur@rivage.example}
          - {id: gr-achats, name: Achats centraux, role: central_purchasing, email: achats@rivage.example}
          - {id: gr-compta, name: Comptabilité, role: payer, email: compta@rivage.example}
        distribution:
          - {roles: [validator], when: issue}
          - {roles: [central_purchasing], when: issue, min_amount: "1000.00"}
          - {roles: [payer], when: approved}
        email: {subject: "[PO {BT-13}] Facture {BT-1}", intro: "Merci de valider la facture {BT-1} sous 10 jours.",
                link_only: true}
      - id: client-bloque
        name: Client Bloqué SARL
        siren: "812345619"
        vat_id: FR42812345619
        hold: {blocked: "impayés 2025 en contentieux"}
        recipients:
          - {id: cb-compta, name: Comptabilité, role: payer, email: compta@client-bloque.example}
      - id: client-plafond
        name: Client Plafond SA
        siren: "812345627"
        vat_id: FR66812345627
        hold: {approval_above: "100.00"}
        recipients:
          - {id: cp-compta, name: Comptabilité, role: payer, email: compta@client-plafond.example}
      - id: hotel-bellevue
        name: Hôtel Bellevue SAS
        group: hotellerie
        siren: "443061841"
        vat_id: FR64443061841
        recipients:
          - {id: hb-compta, name: Réception comptable, role: payer, email: compta@hotel-bellevue.example}
"""


@pytest.fixture(scope="module")
def rt(tmp_path_factory):
    with demo_runtime(tmp_path_factory, "filiere", DIRECTORY) as runtime:
        yield runtime


def post(rt, siren: str | None = None, vat: str | None = None) -> tuple[str, str]:
    data = json.loads((ROOT / "demo" / "inbox" / "FA-2026-1204.json").read_text())
    number = f"FI-{uuid.uuid4().hex[:6]}"
    data.update({"BT-1": number, "BT-13": "PO-77"})
    if siren:
        data["BG-7"].update({"legal_identifier": siren, "vat_identifier": vat, "einvoicing_addr": siren})
    res = api(rt, "POST", "/invoices", data=json.dumps(data), headers={"Content-Type": "application/json"})
    assert res.status_code == 202, res.text
    rt.settle()
    return res.json()["invoice_id"], number


def mails(rt, iid: str, since: int = 0) -> list:
    return [m for m in rt.outbox.mails[since:] if m.tags.get("invoice_id") == iid]


def test_each_role_receives_what_its_rules_say_when_they_say(rt):
    iid, number = post(rt)
    (first,) = mails(rt, iid)  # 180.00: the validator only (central purchasing from 1,000; the payer once approved)
    assert first.to == ["valideur@rivage.example"]
    assert first.subject == f"[PO PO-77] Facture {number}"
    assert first.text().split("\n\n")[1] == f"Merci de valider la facture {number} sous 10 jours."
    assert first.attachments() == [] and "/d/" in first.text()  # links only
    n = len(rt.outbox.mails)
    assert api(rt, "POST", f"/invoices/{iid}/events", json={"kind": "approved"}).status_code == 200
    rt.settle()
    (to_payer,) = mails(rt, iid, n)  # approved: now the payer gets the invoice
    assert to_payer.to == ["compta@rivage.example"] and to_payer.subject == f"[PO PO-77] Facture {number}"
    sent = [e for e in api(rt, "GET", f"/invoices/{iid}/timeline").json()["events"] if e["kind"] == "sent"]
    assert [e["recipient_id"] for e in sent] == ["gr-valid", "gr-compta"]


@pytest.mark.parametrize("siren,vat,rule,why", [
    ("812345619", "FR42812345619", "HOLD-BLOCKED", "blocked: impayés 2025 en contentieux"),
    ("812345627", "FR66812345627", "HOLD-APPROVAL", "above 100.00: it waits for your approval"),
])
def test_what_must_not_leave_is_held_until_released(rt, siren, vat, rule, why):
    iid, _ = post(rt, siren, vat)
    inv = api(rt, "GET", f"/invoices/{iid}").json()
    assert inv["status"] == "held" and mails(rt, iid) == []
    (finding,) = [f for f in inv["findings"] if f["rule"] == rule]
    assert why in finding["message"]
    assert api(rt, "POST", f"/invoices/{iid}/release", json={"reason": "validé par la direction"}).status_code in (200, 202)
    rt.settle()
    assert api(rt, "GET", f"/invoices/{iid}").json()["status"] in ("sent", "delivered") and len(mails(rt, iid)) == 1


def test_a_groups_rules_and_recipients_apply_to_each_of_its_customers(rt):
    """The chain's hold rule holds the hotel's invoice; once released, the hotel's payer and the
    chain's central purchasing both receive it; the hotel's own record (GET /customers) is unchanged."""
    iid, _ = post(rt, "443061841", "FR64443061841")
    inv = api(rt, "GET", f"/invoices/{iid}").json()
    assert inv["status"] == "held" and [f["rule"] for f in inv["findings"] if f["severity"] == "error"] == ["HOLD-APPROVAL"]
    assert api(rt, "POST", f"/invoices/{iid}/release", json={"reason": "accord de la centrale"}).status_code in (200, 202)
    rt.settle()
    assert sorted(m.to[0] for m in mails(rt, iid)) == ["centrale@hotellerie.example", "compta@hotel-bellevue.example"]
    own = api(rt, "GET", "/customers/hotel-bellevue").json()
    assert [r["id"] for r in own["recipients"]] == ["hb-compta"] and "hold" not in own
