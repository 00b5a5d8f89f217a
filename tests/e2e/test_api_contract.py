"""The API's contract under malformed and hostile requests, and the rules of reported events.

Given the demo supplier on the embedded runtime (API served on 127.0.0.1),
when a caller sends what it should not (crafted cursors, non-object bodies, huge fields,
events in the wrong state, floats for money, dates in 1999),
then it gets a 4xx that says why — never a 5xx — and nothing is recorded."""
from __future__ import annotations

import base64
import json
import uuid

import pytest
import requests

from tests.e2e.helpers import KEY, OTHER, ROOT, api, demo_runtime


@pytest.fixture(scope="module")
def rt(tmp_path_factory):
    with demo_runtime(tmp_path_factory, "contract", OTHER) as runtime:
        yield runtime


def sent_invoice(rt) -> str:
    data = json.loads((ROOT / "demo" / "inbox" / "FA-2026-1204.json").read_text())
    data["BT-1"] = f"AC-{uuid.uuid4().hex[:8]}"
    res = api(rt, "POST", "/invoices", data=json.dumps(data), headers={"Content-Type": "application/json"})
    assert res.status_code == 202, res.text
    rt.settle()
    return res.json()["invoice_id"]


def report(rt, iid, **body):
    return api(rt, "POST", f"/invoices/{iid}/events", json=body)


@pytest.mark.parametrize("cursor", [
    "!!!not-base64!!!",
    base64.urlsafe_b64encode(b"[1, 2, 3]").decode(),
    base64.urlsafe_b64encode(b'{"GSI1PK": {"S": "SUP#other-supplier"}, "GSI1SK": {"S": "x"}, "PK": {"S": "a"}, "SK": {"S": "b"}}').decode(),
    base64.urlsafe_b64encode(b'{"GSI1PK": {"N": "1"}}').decode(),
    "A" * 5000,
], ids=["garbage", "a-list", "another-tenant", "wrong-type", "huge"])
def test_a_crafted_cursor_is_a_4xx(rt, cursor):
    res = api(rt, "GET", "/invoices", params={"cursor": cursor})
    assert res.status_code in (400, 422), res.text
    assert res.json()["error"] in ("invalid_cursor", "bad_request")


@pytest.mark.parametrize("params", [{"limit": "lots"}, {"limit": "0"}, {"limit": "100000"}, {"status": "x" * 500}])
def test_list_parameters_are_checked(rt, params):
    assert api(rt, "GET", "/invoices", params=params).status_code == 422


@pytest.mark.parametrize("body", ["[1, 2]", '"paid"', "42", "null", "{not json"])
def test_non_object_bodies_are_a_4xx(rt, body):
    iid = sent_invoice(rt)
    res = api(rt, "POST", f"/invoices/{iid}/events", data=body, headers={"Content-Type": "application/json"})
    assert res.status_code in (400, 422), res.text


def test_a_450_kb_reason_is_refused_before_anything_is_stored(rt):
    iid = sent_invoice(rt)
    res = report(rt, iid, kind="disputed", reason="x" * 450_000)
    assert res.status_code == 413, res.text
    res = report(rt, iid, kind="disputed", reason="x" * 3000)
    assert res.status_code == 422
    kinds = [e["kind"] for e in api(rt, "GET", f"/invoices/{iid}/timeline").json()["events"]]
    assert "disputed" not in kinds


@pytest.mark.parametrize("body, error", [
    ({"kind": "paid", "amount": "-5"}, "invalid"),
    ({"kind": "paid", "amount": "lots"}, "invalid"),
    ({"kind": "paid", "amount": 180.0}, "invalid"),
    ({"kind": "paid", "amount": "1e400"}, "invalid"),
    ({"kind": "paid", "at": "1999-01-01T00:00:00+00:00"}, "date_out_of_range"),
    ({"kind": "paid", "at": "2030-01-01T00:00:00+00:00"}, "date_out_of_range"),
    ({"kind": "paid", "at": "2026-12-05T10:00:00"}, "invalid"),
    ({"kind": "paid", "amount": "181.00"}, "overpayment"),
    ({"kind": "paid", "currency": "USD"}, "currency_mismatch"),
    ({"kind": "refused"}, "reason_required"),
    ({"kind": "sent"}, "not_reportable"),
    ({"kind": "paid", "unknown": 1}, "invalid"),
], ids=["negative", "lots", "float", "huge", "1999", "future", "naive-date", "overpaid", "currency", "no-reason",
        "not-reportable", "extra-field"])
def test_reported_events_that_break_the_rules_are_a_422_with_the_reason(rt, body, error):
    iid = sent_invoice(rt)
    res = report(rt, iid, **body)
    assert res.status_code == 422, res.text
    assert res.json()["error"] == error
    assert api(rt, "GET", f"/invoices/{iid}").json()["status"] != "paid"


def test_a_partial_payment_is_recorded_as_such_and_the_rest_settles_it(rt):
    iid = sent_invoice(rt)
    part = report(rt, iid, kind="paid", amount="1.00", reference="VIR-1")
    assert part.status_code == 200, part.text
    inv = part.json()
    assert inv["status"] != "paid" and inv["amount_paid"] == "1.00" and inv["outstanding"] == "179.00"
    again = report(rt, iid, kind="paid", amount="1.00", reference="VIR-1")  # the same transfer reported twice
    assert again.json()["amount_paid"] == "1.00"
    rest = report(rt, iid, kind="paid", reference="VIR-2")  # no amount: what is outstanding
    assert rest.json()["status"] == "paid" and rest.json()["outstanding"] == "0.00"
    events = api(rt, "GET", f"/invoices/{iid}/timeline").json()["events"]
    assert [e["kind"] for e in events if "paid" in e["kind"]] == ["partially_paid", "paid"]
    assert [e.get("lifecycle_code") for e in events if e["kind"] == "paid"] == [212]
    # Paid twice: refused
    twice = report(rt, iid, kind="paid", amount="1.00", reference="VIR-3")
    assert twice.status_code == 409 and twice.json()["error"] == "not_allowed_now"


def test_no_payment_on_a_rejected_invoice(rt):
    res = api(rt, "POST", "/invoices", data=b"<not-an-invoice/>", headers={"Content-Type": "application/xml"})
    assert res.status_code == 422
    res = report(rt, res.json()["invoice_id"], kind="paid", amount="1.00")
    assert res.status_code == 409 and "rejected" in res.json()["message"]


def test_a_body_over_the_documented_limit_is_413_and_large_files_go_through_a_presigned_upload(rt):
    big = b"%PDF-1.7\n" + b"0" * (4 * 1024 * 1024 + 1)
    res = api(rt, "POST", "/invoices", data=big, headers={"Content-Type": "application/pdf"})
    assert res.status_code == 413 and "/uploads" in res.json()["message"]
    up = api(rt, "POST", "/uploads", json={"filename": "FA-big.json"})
    assert up.status_code == 200, up.text
    ticket = up.json()
    assert ticket["key"].startswith("in/atelier-dupont/uploads/") and ticket["max_bytes"] == 20 * 1024 * 1024
    data = json.loads((ROOT / "demo" / "inbox" / "FA-2026-1204.json").read_text())
    data["BT-1"] = f"UP-{uuid.uuid4().hex[:8]}"
    posted = requests.post(ticket["url"], data=ticket["fields"], files={"file": ("FA-big.json", json.dumps(data))},
                           timeout=30)
    assert posted.status_code in (200, 201, 204), posted.text
    rt.settle()
    invoices = api(rt, "GET", "/invoices", params={"limit": 500}).json()["invoices"]
    mine = [i for i in invoices if i.get("number") == data["BT-1"]]
    assert mine and mine[0]["status"] in ("sent", "delivered"), mine


def test_the_authorizer_reads_only_the_authorization_header(rt):
    res = api(rt, "GET", "/invoices", key=None, headers={"Authorization": "junk", "x-api-key": KEY})
    assert res.status_code in (401, 403)
    res = api(rt, "GET", "/invoices", key=None, headers={"x-api-key": KEY})
    assert res.status_code == 401


def test_a_supplier_cannot_send_an_invoice_in_another_companys_name(rt):
    data = json.loads((ROOT / "demo" / "inbox" / "FA-2026-1204.json").read_text())
    data["BT-1"] = f"AC-{uuid.uuid4().hex[:8]}"
    data["BG-4"].update(name="Boulangerie Martin SAS", legal_identifier="552100554", vat_identifier="FR96552100554")
    res = api(rt, "POST", "/invoices", data=json.dumps(data), headers={"Content-Type": "application/json"})
    rt.settle()
    inv = api(rt, "GET", f"/invoices/{res.json()['invoice_id']}").json()
    assert inv["status"] == "held"
    assert "SELLER-NOT-SUPPLIER" in {f["rule"] for f in inv["findings"]}
    assert not [m for m in rt.outbox.mails if m.tags.get("invoice_id") == inv["invoice_id"]]


def test_a_recipients_links_can_be_revoked(rt):
    iid = sent_invoice(rt)
    mails = {m.to[0]: m for m in rt.outbox.mails if m.tags.get("invoice_id") == iid}
    compta = mails["compta@boulangerie-martin.example"].links()[0]
    gerant = mails["claire.martin@boulangerie-martin.example"].links()[0]
    res = api(rt, "POST", f"/invoices/{iid}/links/revoke", json={"recipient_id": "bm-compta"})
    assert res.status_code == 200, res.text
    refused = requests.get(compta, allow_redirects=False, timeout=30)
    assert refused.status_code == 403 and refused.json()["error"] == "link_revoked"
    assert requests.get(gerant, allow_redirects=False, timeout=30).status_code == 302
    assert api(rt, "POST", f"/invoices/{iid}/links/revoke", json={"recipient_id": "nobody"}).status_code == 422


def test_links_survive_a_rotation_of_the_link_key(rt):
    from datetime import timedelta

    def link_of(iid):
        mail = next(m for m in rt.outbox.mails if m.tags.get("invoice_id") == iid)
        return mail.links()[0]

    before = link_of(sent_invoice(rt))
    (secret, rotation), = rt.deployer.rotations.items()
    assert rotation["rules"] == {"AutomaticallyAfterDays": 35}
    sm = rt.client("secretsmanager")
    sm.rotate_secret(SecretId=secret, RotationLambdaARN=rotation["lambda"], RotationRules=rotation["rules"],
                     RotateImmediately=True)
    rt.advance(timedelta(minutes=10))  # warm functions re-read their keys every 5 minutes
    after = link_of(sent_invoice(rt))
    kid = lambda link: link.rsplit("/d/", 1)[1].split(".")[1]
    assert kid(before) != kid(after)  # new links are signed with the new key...
    assert requests.get(before, allow_redirects=False, timeout=30).status_code == 302  # ...old ones still open
    assert requests.get(after, allow_redirects=False, timeout=30).status_code == 302
    stages = sm.describe_secret(SecretId=secret)["VersionIdsToStages"]
    current = next(v for v, st in stages.items() if "AWSCURRENT" in st)
    previous = next(v for v, st in stages.items() if "AWSPREVIOUS" in st)
    assert current != previous and all("AWSPENDING" not in st or v == current for v, st in stages.items())


def test_customers_are_data_edited_through_the_api_validated_whole_and_per_tenant(rt):
    """GET/PUT /customers: the directory as data; what breaks the model is a 422 that names the
    field, an identifier of another customer a 409, another supplier's key sees nothing; the change
    applies to the next invoice (a new recipient receives it)."""
    listed = api(rt, "GET", "/customers").json()["customers"]
    assert {"id": "boulangerie-martin", "name": "Boulangerie Martin SAS", "group": None, "channels": ["email"]} in listed
    bm = api(rt, "GET", "/customers/boulangerie-martin").json()
    bm["recipients"].append({"id": "bm-erp", "name": "ERP", "role": "other", "email": "erp@boulangerie-martin.example",
                             "formats": ["ubl"]})
    bad = json.loads(json.dumps(bm))
    bad["recipients"][-1]["fallback"] = "nobody"
    res = api(rt, "PUT", "/customers/boulangerie-martin", json=bad)
    assert res.status_code == 422 and "fallback 'nobody'" in res.text
    taken = {**bm, "identifiers": ["FR42812345619"]}  # Café Lumière's VAT id
    assert api(rt, "PUT", "/customers/boulangerie-martin", json=taken).status_code == 409
    assert api(rt, "PUT", "/customers/boulangerie-martin", json={**bm, "id": "other"}).status_code == 422
    assert api(rt, "GET", "/customers/boulangerie-martin", key="key-of-another-tenant").status_code == 404
    res = api(rt, "PUT", "/customers/boulangerie-martin", json=bm)
    assert res.status_code == 200 and res.json()["recipients"][-1]["formats"] == ["ubl"]
    iid = sent_invoice(rt)
    mail = next(m for m in rt.outbox.mails if m.tags.get("invoice_id") == iid and m.to == ["erp@boulangerie-martin.example"])
    assert [name for name, _ in mail.attachments()] == [f"{api(rt, 'GET', f'/invoices/{iid}').json()['number']}.ubl.xml"]
