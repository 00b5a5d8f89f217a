"""End to end on the embedded runtime: template.yaml deployed on moto, the real handlers, the
state machine run by moto's interpreter, the API served on 127.0.0.1, the virtual clock.

Given a supplier and its customers in the directory,
when the supplier's billing system drops files or posts to the API,
then each ends as an invoice followed to its last milestone, or as a held/duplicate/rejected
record with its reason — and the original is always kept."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
import requests

from tests.e2e.helpers import INBOX, OTHER, ROOT, api, demo_runtime


@pytest.fixture(scope="module")
def rt(tmp_path_factory):
    with demo_runtime(tmp_path_factory, "e2e", OTHER) as runtime:
        yield runtime
    failed = [name for name, ok in runtime.registry.invocations if not ok]
    assert not failed, f"Lambda invocations failed: {failed}"


def by_name(rt, name):
    invoices = api(rt, "GET", "/invoices", params={"limit": 100}).json()["invoices"]
    return next(i for i in invoices if i["original_name"] == name)


def kinds(rt, invoice_id):
    return [e["kind"] for e in api(rt, "GET", f"/invoices/{invoice_id}/timeline").json()["events"]]


def execution(rt, invoice_id):
    return next(e for e in rt.executions() if e["name"] == invoice_id)


def test_a_file_dropped_in_s3_is_followed_to_its_last_milestone(rt):
    # Given a CII invoice for Nordwind (download expected within 48 h, reminders every 48 h)
    rt.drop("atelier-dupont", INBOX / "FA-2026-1202.xml")
    rt.settle()
    inv = by_name(rt, "FA-2026-1202.xml")
    iid = inv["invoice_id"]
    # Then it was checked, converted to the customer's formats, sent and delivered
    assert inv["status"] == "delivered"
    assert set(inv["documents"]) == {"facturx", "ubl", "cii"}
    mails = [m for m in rt.outbox.mails if m.tags.get("invoice_id") == iid]
    assert len(mails) == 1 and mails[0].to == ["ap@nordwind.example"] and mails[0].events == ["Delivery"]
    assert mails[0].path.exists() and mails[0].path.suffix == ".eml"
    assert [n for n, _ in mails[0].attachments()] == ["FA-2026-1202.pdf", "FA-2026-1202.ubl.xml"]
    assert execution(rt, iid)["status"] == "RUNNING"

    # When nobody downloads it within 48 h, a reminder goes out (the state machine's Wait fired)
    rt.advance(timedelta(hours=47))
    assert "reminded" not in kinds(rt, iid)
    rt.advance(timedelta(hours=2))
    reminders = [m for m in rt.outbox.mails if m.tags.get("invoice_id") == iid][1:]
    assert len(reminders) == 1 and reminders[0].subject.startswith("Reminder")
    assert "reminded" in kinds(rt, iid)

    # When the recipient follows the reminder's signed link through the API
    link = reminders[0].links()[0]
    assert link.startswith(rt.api_url + "/d/")
    hop = requests.get(link, allow_redirects=False, timeout=30)
    assert hop.status_code == 302 and hop.headers["Cache-Control"] == "no-store"
    pdf = requests.get(hop.headers["Location"], timeout=30)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF") and pdf.content == mails[0].attachments()[0][1]
    # ...and a tampered token is refused
    assert requests.get(link[:-3] + "AAA", allow_redirects=False, timeout=30).status_code == 403
    # ...and a mail scanner opening it five more times adds no milestone
    for _ in range(5):
        assert requests.get(link, allow_redirects=False, timeout=30).status_code == 302

    # When the supplier reports the payment, the parked machine is woken and ends at once: no
    # polling, no virtual time passes
    assert execution(rt, iid)["status"] == "RUNNING"
    res = api(rt, "POST", f"/invoices/{iid}/events", json={"kind": "paid", "amount": "756.00", "reference": "VIR-1"})
    assert res.status_code == 200 and res.json()["status"] == "paid"
    before = rt.now()
    rt.settle()
    assert execution(rt, iid)["status"] == "SUCCEEDED" and rt.now() - before < timedelta(seconds=60)
    timeline = api(rt, "GET", f"/invoices/{iid}/timeline").json()["events"]
    assert [e["kind"] for e in timeline] == ["received", "deposited", "converted", "sent", "delivered", "reminded", "scenario_step",
                                             "delivered", "downloaded", "paid"]
    # Facteur's own milestones (its checks, its e-mail, SES's delivery, a link opened) are not the
    # reform's statuses, which platforms and the buyer set; the supplier's payment is its 212
    assert [e.get("lifecycle_code") for e in timeline if e["kind"] in ("deposited", "sent", "delivered", "downloaded", "paid")] \
        == [None, None, None, None, None, 212]
    ats = [e["at"] for e in timeline]
    assert ats == sorted(ats) and ats[0].startswith("2026-12-01")  # virtual timestamps, in order
    # the schedules ran on the virtual clock meanwhile
    assert {name.split("-", 1)[1] for name, _, ok in rt.fired if ok} >= {"ReminderSweepFunctionDaily"}


def test_api_post_is_idempotent_and_tenant_isolated(rt):
    body = (INBOX / "FA-2026-1204.json").read_bytes()
    headers = {"Content-Type": "application/json", "Idempotency-Key": "e2e-1204"}
    first = api(rt, "POST", "/invoices", data=body, headers=dict(headers))
    again = api(rt, "POST", "/invoices", data=body, headers=dict(headers))
    assert first.status_code == 202 and again.status_code == 200
    assert again.json()["invoice_id"] == first.json()["invoice_id"] and again.json()["replayed"] is True
    other_body = api(rt, "POST", "/invoices", data=body.replace(b"FA-2026-1204", b"FA-2026-9999"), headers=dict(headers))
    assert other_body.status_code == 409
    iid = first.json()["invoice_id"]
    rt.settle()
    assert api(rt, "GET", f"/invoices/{iid}").json()["status"] == "delivered"
    # no key: 401 from the gateway; unknown key: 403 from the authorizer; other tenant: 404
    assert api(rt, "GET", f"/invoices/{iid}", key=None).status_code == 401
    assert api(rt, "GET", f"/invoices/{iid}", key="not-a-key").status_code == 403
    assert api(rt, "GET", f"/invoices/{iid}", key="key-of-another-tenant").status_code == 404
    assert api(rt, "GET", "/invoices", key="key-of-another-tenant").json()["invoices"] == []
    assert api(rt, "POST", f"/invoices/{iid}/events", key="key-of-another-tenant", json={"kind": "paid"}).status_code == 404


def test_binary_upload_through_the_api(rt):
    pdf = (INBOX / "FA-2026-1201.pdf").read_bytes()
    res = api(rt, "POST", "/invoices", data=pdf, headers={"Content-Type": "application/pdf", "X-Filename": "FA-2026-1201.pdf"})
    assert res.status_code == 202, res.text
    rt.settle()
    inv = api(rt, "GET", f"/invoices/{res.json()['invoice_id']}").json()
    assert inv["input_kind"] == "pdf" and inv["status"] == "delivered"
    kept = rt.client("s3").get_object(Bucket=rt.outputs["DocumentsBucketName"], Key=inv["original_key"])["Body"].read()
    assert kept == pdf


def test_a_failing_invoice_is_held_with_its_reasons_and_never_sent(rt):
    before = len(rt.outbox.mails)
    rt.drop("atelier-dupont", INBOX / "FA-2026-1205.ubl.xml")
    rt.settle()
    inv = by_name(rt, "FA-2026-1205.ubl.xml")
    assert inv["status"] == "held"
    assert [f["rule"] for f in inv["findings"] if f["severity"] == "error"] == ["CUST-PO"]
    assert len(rt.outbox.mails) == before
    assert execution(rt, inv["invoice_id"])["status"] == "SUCCEEDED"  # the path ends at Held
    held = api(rt, "GET", "/invoices", params={"status": "held"}).json()["invoices"]
    assert inv["invoice_id"] in [i["invoice_id"] for i in held]


def ensure_dropped(rt, name: str) -> None:
    """Tests do not depend on each other's order: the file a test builds on is dropped if absent."""
    invoices = api(rt, "GET", "/invoices", params={"limit": 500}).json()["invoices"]
    if not any(i["original_name"] == name for i in invoices):
        rt.drop("atelier-dupont", INBOX / name)
        rt.settle()


def test_duplicates_and_unreadable_files_are_recorded_with_the_original_kept(rt):
    ensure_dropped(rt, "FA-2026-1202.xml")
    before = len(rt.outbox.mails)
    rt.drop("atelier-dupont", INBOX / "FA-2026-1202-export2.xml")
    hostile = (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
               b'<rsm:CrossIndustryInvoice xmlns:rsm="urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100">&x;'
               b'</rsm:CrossIndustryInvoice>')
    rt.drop("atelier-dupont", hostile, "xxe.xml")
    rt.drop("atelier-dupont", INBOX / "export-truncated.xml")
    rt.drop("nobody-knows-me", INBOX / "FA-2026-1203.ubl.xml")
    rt.settle()
    dup = by_name(rt, "FA-2026-1202-export2.xml")
    assert dup["status"] == "duplicate" and dup["duplicate_of"] == by_name(rt, "FA-2026-1202.xml")["invoice_id"]
    xxe = by_name(rt, "xxe.xml")
    assert xxe["status"] == "rejected" and "DTD" in xxe["reason"]
    truncated = by_name(rt, "export-truncated.xml")
    assert truncated["status"] == "rejected" and "not well-formed" in truncated["reason"]
    assert len(rt.outbox.mails) == before  # nothing sent twice, nothing sent for rejects
    s3 = rt.client("s3")
    for inv in (dup, xxe, truncated):
        assert s3.get_object(Bucket=rt.outputs["DocumentsBucketName"], Key=inv["original_key"])["Body"].read()
    # a file under an unknown supplier prefix is kept and recorded as rejected too (no API tenant sees it)
    table = rt.outputs["InvoicesTableName"]
    ddb = rt.client("dynamodb")
    entries = ddb.query(TableName=table, IndexName="GSI1", KeyConditionExpression="GSI1PK = :p",
                        ExpressionAttributeValues={":p": {"S": "SUP#nobody-knows-me"}})["Items"]
    assert len(entries) == 1  # the index holds keys only: the record is read by its key
    item = ddb.get_item(TableName=table, Key={"PK": entries[0]["PK"], "SK": entries[0]["SK"]})["Item"]
    assert item["status"]["S"] == "rejected" and "unknown supplier" in item["reason"]["S"]


def test_a_bounced_copy_address_is_recorded(rt):
    rt.drop("atelier-dupont", INBOX / "FA-2026-1203.ubl.xml")
    rt.settle()
    inv = by_name(rt, "FA-2026-1203.ubl.xml")
    events = api(rt, "GET", f"/invoices/{inv['invoice_id']}/timeline").json()["events"]
    bounced = [e for e in events if e["kind"] == "bounced"]
    assert len(bounced) == 1 and bounced[0]["recipient_id"] == "hx-archive"
    assert bounced[0]["detail"]["bounce_type"] == "Permanent"


def test_local_control_routes(rt):
    ensure_dropped(rt, "FA-2026-1202.xml")
    base = rt.api_url.rsplit("/", 1)[0]
    clock = requests.get(f"{base}/_local/clock", timeout=30).json()
    assert clock["schedules"]
    before = rt.now()
    assert requests.post(f"{base}/_local/advance", params={"by": "1h"}, timeout=120).status_code == 200
    assert rt.now() - before >= timedelta(hours=1)
    mails = requests.get(f"{base}/_local/mail", timeout=30).json()["mails"]
    assert mails and all(m["file"].endswith(".eml") for m in mails)
    assert json.loads(requests.get(f"{rt.api_url}/nope", timeout=30).text)["message"] == "Missing Authentication Token"


BEI_SPIEL = r"""
suppliers:
  - id: bei-spiel
    name: Bei Spiel GmbH
    vat_id: DE136695976
    country: DE
    mail_from: rechnung@bei-spiel.example
    api_keys: [key-bei-spiel]
    pdf_templates:
      - name: gnuaccounting
        match: "Powered by GnuAccounting"
        date_format: "%d.%m.%Y"
        decimal_comma: true
        fields:
          BT-1: "Rechnung # (\\S+)"
          BT-2: "Rechnung # \\S+ von (\\d{2}\\.\\d{2}\\.\\d{4})"
          BT-9: "bis zum (\\d{2}\\.\\d{2}\\.\\d{4})"
          BT-109: "Nettobetrag: ([\\d.,]+)"
          BT-110: "USt\\. Gesamt: ([\\d.,]+)"
          BT-112: "Gesamtbetrag: ([\\d.,]+)"
          buyer_id: "Kundennummer:\\s*(\\S+)"
    customers:
      - id: theodor-est
        name: Theodor Est
        identifiers: ["2"]
        language: en
        formats: [facturx]
        recipients:
          - {id: te, name: Theodor Est, email: theodor@est.example, language: en}
"""
CORPUS = ROOT.parent / "shared" / "corpus"


def test_a_plain_pdf_is_captured_by_the_suppliers_template_or_held(rt):
    rt.load_directory(BEI_SPIEL)
    blanko = CORPUS / "pdf" / "MustangGnuaccountingBeispielRE-20170509_505blanko.pdf"
    rt.drop("bei-spiel", blanko)
    rt.drop("atelier-dupont", blanko, "scan-without-xml.pdf")  # this supplier has no template
    rt.settle()
    invoices = api(rt, "GET", "/invoices", key="key-bei-spiel").json()["invoices"]
    (inv,) = [i for i in invoices if i["original_name"] == blanko.name]
    assert inv["status"] == "delivered", (inv.get("reason"), inv["findings"])
    assert inv["number"] == "RE-20170509/505" and inv["amount_due"] == "571.04"
    assert inv["customer_id"] == "theodor-est" and inv["due_date"] == "2017-05-30"
    pdf = rt.client("s3").get_object(Bucket=rt.outputs["DocumentsBucketName"], Key=inv["documents"]["facturx"])["Body"].read()
    from facteur.formats.reader import read_document

    back = read_document(pdf)  # the supplier's own PDF, now a Factur-X MINIMUM
    assert back.invoice.profile == "minimum" and back.invoice.tax_inclusive_amount == back.invoice.amount_due
    held = by_name(rt, "scan-without-xml.pdf")
    assert held["status"] == "held" and held["reason_code"] == "pdf_plain"
    assert held["findings"][0]["rule"] == "PDF-PLAIN" and "modèle d'extraction" in held["findings"][0]["message_fr"]


def test_a_held_invoice_is_patched_or_released_and_then_leaves(rt):
    # held for a missing PO (Groupe Hexa requires BT-13)
    body = (INBOX / "FA-2026-1205.ubl.xml").read_bytes()
    for number, name in (("FA-2026-7001", "patch-me.xml"), ("FA-2026-7002", "release-me.xml"), ("FA-2026-7003", "fix-me.xml")):
        rt.drop("atelier-dupont", body.replace(b"FA-2026-1205", number.encode()), name)
    rt.settle()
    patch_me, release_me, fix_me = (by_name(rt, n) for n in ("patch-me.xml", "release-me.xml", "fix-me.xml"))
    assert {patch_me["status"], release_me["status"], fix_me["status"]} == {"held"}
    # other tenants cannot touch it; a patch may not change the amounts; a release needs a reason
    assert api(rt, "PATCH", f"/invoices/{patch_me['invoice_id']}", key="key-of-another-tenant",
               json={"fields": {"BT-13": "X"}}).status_code == 404
    assert api(rt, "PATCH", f"/invoices/{patch_me['invoice_id']}", json={"fields": {"BT-112": "1"}}).status_code == 422
    assert api(rt, "POST", f"/invoices/{release_me['invoice_id']}/release", json={}).status_code == 422

    res = api(rt, "PATCH", f"/invoices/{patch_me['invoice_id']}", json={"fields": {"BT-13": "HX-PO-9001"}})
    assert res.status_code == 200, res.text
    res = api(rt, "POST", f"/invoices/{release_me['invoice_id']}/release",
              json={"reason": "PO agreed by phone with Hexa purchasing (M. Roux)"})
    assert res.status_code == 200, res.text
    fixed = body.replace(b"FA-2026-1205", b"FA-2026-7003").replace(
        b"<cac:AccountingSupplierParty>", b"<cac:OrderReference><cbc:ID>HX-PO-9003</cbc:ID></cac:OrderReference>"
                                          b"<cac:AccountingSupplierParty>")
    res = api(rt, "PUT", f"/invoices/{fix_me['invoice_id']}/document", data=fixed,
              headers={"Content-Type": "application/xml", "X-Filename": "FA-2026-7003-fixed.xml"})
    assert res.status_code == 200, res.text
    rt.settle()
    for inv, kind in ((patch_me, "corrected"), (release_me, "released"), (fix_me, "corrected")):
        now = api(rt, "GET", f"/invoices/{inv['invoice_id']}").json()
        assert now["status"] == "delivered", (inv["original_name"], now["status"], now["findings"])
        events = api(rt, "GET", f"/invoices/{inv['invoice_id']}/timeline").json()["events"]
        kinds_ = [e["kind"] for e in events]
        assert kinds_[:4] == ["received", "held", kind, "deposited"] and "sent" in kinds_
    patched = api(rt, "GET", f"/invoices/{patch_me['invoice_id']}/timeline").json()["events"][2]
    assert patched["detail"]["patched"]["BT-13"] == {"to": "HX-PO-9001"}  # "from" was empty
    released = api(rt, "GET", f"/invoices/{release_me['invoice_id']}/timeline").json()["events"]
    assert released[2]["detail"]["overridden"] == ["CUST-PO"] and released[3]["detail"]["released"] is True
    assert api(rt, "POST", f"/invoices/{release_me['invoice_id']}/release", json={"reason": "again"}).status_code == 409
