"""A trading partner reached by EDI over AS2, on template.yaml on the embedded runtime: the template's
Transfer Family connector (`EdiConnector`, deployed locally with a loopback partner) sends the
EANCOM INVOIC that Facteur puts in its EDI outbox; the local runtime plays the partner (local/as2.py:
the file kept, the MDN written, Transfer Family's EventBridge event published).

Given Metro Cash & Carry, whose accounts payable take invoices by EDI:
- the invoice leaves as an EANCOM INVOIC through the connector; the partner's MDN (`processed`) is
  the recipient's delivery, recorded once;
- an MDN saying `processed/error`, or a payload the partner never took, is a refusal for that
  recipient with the partner's words;
- throttling of StartFileTransfer is retried; a sender that dies after the connector took the file
  never sends it twice: the MDN settles the delivery."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
import requests

from tests.e2e.helpers import SUPPLIER, api, demo_runtime, local_url, post_invoice


@pytest.fixture(scope="module")
def rt(tmp_path_factory):
    with demo_runtime(tmp_path_factory, "edi") as runtime:
        connector = runtime.outputs["EdiConnectorId"]
        runtime.load_directory(SUPPLIER + f"""    customers:
      - id: metro
        name: Metro Cash & Carry France
        siren: "399315613"
        vat_id: FR75399315613
        formats: [facturx, edifact]
        recipients:
          - {{id: mt-edi, name: Metro (EDI), role: payer, channel: edi, endpoint: "{connector}"}}
          - {{id: mt-ap, name: Comptabilité, role: payer, email: ap@metro.example, fallback_only: true}}
""")
        yield runtime


@pytest.fixture(autouse=True)
def disarmed(rt):
    yield
    requests.delete(f"{local_url(rt)}/faults", timeout=10)


def post(rt) -> tuple[str, str]:
    return post_invoice(rt, "ED", {"name": "Metro Cash & Carry France", "legal_identifier": "399315613",
                                   "vat_identifier": "FR75399315613", "einvoicing_addr": "399315613"})


def events(rt, iid: str, kind: str) -> list[dict]:
    return [e for e in api(rt, "GET", f"/invoices/{iid}/timeline").json()["events"]
            if e["kind"] == kind and e.get("recipient_id") == "mt-edi"]


def transfers(rt, number: str) -> list:
    return [t for t in rt.as2.transfers if f"/{number}.edi" in t.key]


def test_the_invoic_leaves_through_the_connector_and_the_mdn_is_the_delivery(rt):
    iid, number = post(rt)
    (t,) = transfers(rt, number)
    assert t.connector_id == rt.outputs["EdiConnectorId"] and t.key.startswith(f"edi-outbox/atelier-dupont/{iid}/initial/")
    assert t.data.startswith(b"UNA:+.? '") and b"INVOIC:D:96A:UN:EAN008" in t.data and number.encode() in t.data
    (sent,) = events(rt, iid, "sent")
    assert sent["detail"]["channel"] == "edi" and sent["detail"]["message_id"] == t.transfer_id
    (delivered,) = events(rt, iid, "delivered")
    assert delivered["actor"] == "as2" and delivered["detail"]["disposition"].endswith("processed")
    mdn = rt.client("s3").get_object(Bucket=rt.outputs["DocumentsBucketName"], Key=delivered["detail"]["mdn_key"])
    assert b"Disposition: automatic-action/MDN-sent-automatically; processed" in mdn["Body"].read()


@pytest.mark.parametrize("answer,why", [("processed/error: unexpected-processing-error", "processed/error"),
                                        ("send_failed", "HTTP_ERROR_RESPONSE_FROM_PARTNER")])
def test_a_partner_that_does_not_take_the_file_is_a_refusal_with_its_words(rt, answer, why):
    rt.as2.partners[rt.outputs["EdiConnectorId"]] = [answer]
    iid, _ = post(rt)
    (bounced,) = events(rt, iid, "bounced")
    assert why in json.dumps(bounced["detail"]) and not events(rt, iid, "delivered")


def test_throttling_is_retried_and_a_crash_after_the_transfer_never_sends_twice(rt):
    arm = f"{local_url(rt)}/faults"
    requests.post(arm, json={"target": "transfer:StartFileTransfer", "error": "ThrottlingException", "times": 2}, timeout=10)
    iid, number = post(rt)
    assert len(transfers(rt, number)) == 1 and len(events(rt, iid, "delivered")) == 1
    assert [f["error"] for f in requests.get(arm, timeout=10).json()["fired"]] == ["ThrottlingException"] * 2
    requests.delete(arm, timeout=10)
    requests.post(arm, json={"target": "transfer:StartFileTransfer", "crash": "after_side_effect", "times": 1}, timeout=10)
    iid, number = post(rt)
    rt.advance(timedelta(minutes=10))  # the dispatch step is retried; the dead sender's claim expires (5 min)
    assert [f["crash"] for f in requests.get(arm, timeout=10).json()["fired"] if f["crash"]] == ["after_side_effect"]
    assert len(transfers(rt, number)) == 1  # taken by the connector once
    assert len(events(rt, iid, "delivered")) == 1  # the MDN settled the delivery whose sender died
