"""Nothing lost, nothing stuck: every input ends as an invoice that moves on, a held invoice
with reasons or a rejected one with its reason — never `received` for ever, never burning the
invoice number — whatever the file and whatever AWS does on the way in.

Given the demo supplier on the embedded runtime,
when hostile or broken files arrive, or Step Functions throttles,
then each ends with a precise, human-readable reason and its original kept."""
from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest

from tests.e2e.helpers import ROOT, api, demo_runtime, disarmed  # noqa: F401 - disarmed is a fixture

SUPPLIER = "atelier-dupont"


@pytest.fixture(scope="module")
def rt(tmp_path_factory):
    with demo_runtime(tmp_path_factory, "lost") as runtime:
        yield runtime


def martin_json(number: str | None = None, **changes) -> dict:
    data = json.loads((ROOT / "demo" / "inbox" / "FA-2026-1204.json").read_text())
    data["BT-1"] = number or f"NL-{uuid.uuid4().hex[:8]}"
    data.update(changes)
    return data


def dropped(rt, name: str) -> dict:
    invoices = api(rt, "GET", "/invoices", params={"limit": 200}).json()["invoices"]
    return next(i for i in invoices if i["original_name"] == name)


def original_kept(rt, inv: dict) -> bool:
    s3 = rt.client("s3")
    head = s3.head_object(Bucket=rt.outputs["DocumentsBucketName"], Key=inv["original_key"])
    return head["ContentLength"] > 0


@pytest.mark.parametrize("body, code", [
    (b"UNA:+.? '", "unreadable"),
    (b"UNB+", "unreadable"),
    (b"[" * 100_000 + b"]" * 100_000, "too_deep"),
], ids=["edifact-una-only", "edifact-unb-only", "json-nested-100000"])
def test_files_that_crash_a_reader_are_rejected_with_a_reason(rt, body, code):
    name = f"hostile-{uuid.uuid4().hex[:6]}.txt"
    rt.drop(SUPPLIER, body, name)
    rt.settle()
    inv = dropped(rt, name)
    assert inv["status"] == "rejected", inv
    assert inv["reason_code"] == code and inv["reason"]
    assert "Traceback" not in inv["reason"] and "/" not in inv["reason"].split("(")[0]
    assert original_kept(rt, inv)


def test_an_amount_with_200_digits_is_rejected_and_the_number_stays_free(rt):
    number = f"NL-{uuid.uuid4().hex[:8]}"
    bad = martin_json(number)
    bad["BT-115"] = "9" * 200
    res = api(rt, "POST", "/invoices", data=json.dumps(bad), headers={"Content-Type": "application/json"})
    assert res.status_code == 422, res.text
    assert res.json()["status"] == "rejected" and "BT-115" in res.json()["reason"]
    # The corrected resend with the same number is accepted (the number was not burnt)
    good = api(rt, "POST", "/invoices", data=json.dumps(martin_json(number)), headers={"Content-Type": "application/json"})
    assert good.status_code == 202 and good.json()["status"] == "received", good.text


def test_an_invoice_number_of_3000_characters_is_rejected(rt):
    res = api(rt, "POST", "/invoices", data=json.dumps(martin_json("N" * 3000)),
              headers={"Content-Type": "application/json", "Idempotency-Key": uuid.uuid4().hex})
    assert res.status_code == 422 and res.json()["reason"].startswith("the invoice number (BT-1) is 3000 characters")
    # An Idempotency-Key is at most 255 characters (it names a request, it is not a payload)
    res = api(rt, "POST", "/invoices", data=json.dumps(martin_json()),
              headers={"Content-Type": "application/json", "Idempotency-Key": "k" * 3000})
    assert res.status_code == 422 and res.json()["error"] == "invalid_idempotency_key"


def test_step_functions_throttling_on_the_api_answers_503_and_the_same_key_resumes_the_invoice(rt):
    rt.faults.arm({"target": "states:StartExecution", "error": "ThrottlingException", "times": 10})
    body = json.dumps(martin_json())
    headers = {"Content-Type": "application/json", "Idempotency-Key": f"erp-{uuid.uuid4().hex}"}
    first = api(rt, "POST", "/invoices", data=body, headers=headers)
    assert first.status_code == 503, first.text
    rt.faults.clear()
    again = api(rt, "POST", "/invoices", data=body, headers=headers)
    assert again.status_code == 200, again.text  # the same invoice, resumed: not a duplicate of itself
    iid = again.json()["invoice_id"]
    rt.settle()
    assert api(rt, "GET", f"/invoices/{iid}").json()["status"] in ("sent", "delivered")


def test_an_s3_drop_whose_path_could_not_start_is_re_driven_by_the_sweep(rt):
    rt.faults.arm({"target": "states:StartExecution", "error": "ThrottlingException", "times": 30})
    name = f"stuck-{uuid.uuid4().hex[:6]}.json"
    rt.drop(SUPPLIER, json.dumps(martin_json()).encode(), name)
    rt.settle()
    inv = dropped(rt, name)
    assert inv["status"] == "received"  # S3 -> Lambda gave up for now; the record exists with its deadline
    rt.faults.clear()
    rt.advance(timedelta(days=1, hours=1))  # the daily sweep passes
    inv = dropped(rt, name)
    assert inv["status"] in ("sent", "delivered", "downloaded"), inv
    kinds = [e["kind"] for e in api(rt, "GET", f"/invoices/{inv['invoice_id']}/timeline").json()["events"]]
    assert "redriven" in kinds


def test_a_file_over_the_limit_is_rejected_from_the_event_without_being_downloaded(rt):
    # Were the handler to download it, this GetObject fault would fail the ingest
    rt.faults.arm({"target": "s3:GetObject", "error": "AccessDenied", "times": 1})
    name = f"huge-{uuid.uuid4().hex[:6]}.pdf"
    rt.drop(SUPPLIER, b"%PDF-1.7\n" + b"0" * (20 * 1024 * 1024 + 10), name)
    rt.settle()
    inv = dropped(rt, name)
    assert inv["status"] == "rejected" and inv["reason_code"] == "too_large"
    assert original_kept(rt, inv)
    assert rt.faults.public()["armed"], "the object was never downloaded"


def test_twenty_concurrent_posts_with_one_key_make_one_invoice(rt):
    from concurrent.futures import ThreadPoolExecutor

    body = json.dumps(martin_json())
    headers = {"Content-Type": "application/json", "Idempotency-Key": f"burst-{uuid.uuid4().hex}"}
    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(lambda _: api(rt, "POST", "/invoices", data=body, headers=headers), range(20)))
    assert all(a.status_code in (200, 202, 409) for a in answers), [a.text for a in answers]
    ids = {a.json()["invoice_id"] for a in answers if a.status_code in (200, 202)}
    assert len(ids) == 1, ids
    rt.settle()
    (iid,) = ids
    assert api(rt, "GET", f"/invoices/{iid}").json()["status"] in ("sent", "delivered")
    assert len([m for m in rt.outbox.mails if m.tags.get("invoice_id") == iid]) == 2  # each recipient once


def test_twenty_concurrent_drops_are_twenty_invoices(rt):
    from concurrent.futures import ThreadPoolExecutor

    names = [f"burst-{uuid.uuid4().hex[:6]}-{i}.json" for i in range(20)]
    with ThreadPoolExecutor(max_workers=20) as pool:
        list(pool.map(lambda n: rt.drop(SUPPLIER, json.dumps(martin_json()).encode(), n), names))
    rt.settle()
    statuses = [dropped(rt, n)["status"] for n in names]
    assert all(s in ("sent", "delivered") for s in statuses), statuses


def hostile_facturx(number: str) -> bytes:
    """A Factur-X as billing tools make them, plus what attackers add: Helvetica not embedded,
    document JavaScript and a Launch action on opening."""
    import io

    from facturx import generate_from_binary
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import ArrayObject, DictionaryObject, NameObject, TextStringObject
    from reportlab.pdfgen import canvas

    from facteur.formats import cii
    from facteur.model.invoice import Invoice

    inv = Invoice.model_validate(martin_json(number))
    buf = io.BytesIO()
    c = canvas.Canvas(buf)
    c.setFont("Helvetica", 12)
    c.drawString(72, 720, f"Facture {number}")
    c.save()
    w = PdfWriter(clone_from=PdfReader(io.BytesIO(buf.getvalue())))
    js = w._add_object(DictionaryObject({NameObject("/S"): NameObject("/JavaScript"),
                                         NameObject("/JS"): TextStringObject("app.launchURL('http://evil.example');")}))
    w._root_object[NameObject("/Names")] = DictionaryObject({NameObject("/JavaScript"): DictionaryObject(
        {NameObject("/Names"): ArrayObject([TextStringObject("open"), js])})})
    w._root_object[NameObject("/OpenAction")] = w._add_object(DictionaryObject(
        {NameObject("/S"): NameObject("/Launch"), NameObject("/F"): TextStringObject("calc.exe")}))
    w.pages[0][NameObject("/AA")] = DictionaryObject({NameObject("/O"): js})
    out = io.BytesIO()
    w.write(out)
    pdf = generate_from_binary(out.getvalue(), cii.write(inv, profile="en16931"), flavor="factur-x", level="en16931",
                               check_xsd=False)
    assert b"/JavaScript" in pdf and b"/Launch" in pdf
    return pdf


def test_a_hostile_facturx_leaves_stripped_and_conformant_not_failed(rt):
    from facteur.controls.pdfa import check_facturx_pdf

    number = f"NL-{uuid.uuid4().hex[:8]}"
    name = f"{number}.pdf"
    rt.drop(SUPPLIER, hostile_facturx(number), name)
    rt.settle()
    inv = dropped(rt, name)
    assert inv["status"] in ("sent", "delivered"), (inv["status"], inv.get("reason"))
    sent = rt.client("s3").get_object(Bucket=rt.outputs["DocumentsBucketName"], Key=inv["documents"]["facturx"])["Body"].read()
    assert b"/JavaScript" not in sent and b"/Launch" not in sent and b"calc.exe" not in sent
    assert check_facturx_pdf(sent, expected_profile="en16931") == []
    converted = [e for e in api(rt, "GET", f"/invoices/{inv['invoice_id']}/timeline").json()["events"]
                 if e["kind"] == "converted"][0]["detail"]
    assert {"page 1 additional actions", "open action /Launch"} <= set(converted["removed_from_pdf"])
    assert "PDFA-FONT" in converted["rerendered"]["why"]
