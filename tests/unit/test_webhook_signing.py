"""Standard Webhooks signing (delivery/webhook.py): the specification's own test vector, two
signatures during a secret rotation, and only HTTPS endpoints (plain HTTP on loopback only)."""
from __future__ import annotations

import json

import pytest

from facteur.delivery import webhook
from facteur.errors import PermanentError

# The test vector of the Standard Webhooks specification (standard-webhooks, svix)
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MSG_ID, TIMESTAMP, BODY = "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}'


def test_the_specifications_vector():
    assert webhook.sign(SECRET, MSG_ID, TIMESTAMP, BODY) == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_during_a_rotation_both_secrets_sign_and_either_verifies():
    new = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo="
    value = json.dumps({"current": new, "previous": SECRET})
    hdrs = webhook.headers(webhook.secrets_of(value), MSG_ID, TIMESTAMP, BODY)
    assert len(hdrs["webhook-signature"].split()) == 2
    assert webhook.verify(SECRET, hdrs, BODY) and webhook.verify(new, hdrs, BODY)
    assert not webhook.verify(new, hdrs, BODY + b" ")  # a changed body fails


@pytest.mark.parametrize("url,ok", [("https://api.client.example/invoices", True), ("http://127.0.0.1:8080/x", True),
                                    ("http://api.client.example/invoices", False), ("ftp://x", False),
                                    ("https://", False)])
def test_endpoints_are_https(url, ok):
    if ok:
        assert webhook.check_url(url) == url
    else:
        with pytest.raises(ValueError):
            webhook.check_url(url)


def test_a_secret_that_is_not_whsec_is_refused():
    with pytest.raises(PermanentError):
        webhook.sign("not-a-secret", MSG_ID, TIMESTAMP, BODY)


def test_a_supplier_cannot_sign_with_another_suppliers_secret():
    from datetime import UTC, datetime
    from pathlib import Path

    from facteur.formats.reader import read_document
    from facteur.model.directory import Recipient
    from facteur.model.records import InvoiceRecord
    from facteur.pipeline.outbound import send_webhook

    inv = read_document((Path(__file__).resolve().parents[2] / "demo" / "inbox" / "FA-2026-1204.json").read_bytes()).invoice
    rec = InvoiceRecord(invoice_id="inv_1", supplier_id="atelier-dupont", status="deposited", source="api", original_key="o",
                        created_at=datetime.now(UTC), updated_at=datetime.now(UTC))
    other = Recipient(id="api", name="API", channel="http", endpoint="https://api.client.example/x",
                      secret_id="facteur/webhooks/another-supplier/their-endpoint")
    with pytest.raises(PermanentError) as exc:
        send_webhook(None, rec, inv, other, "https://link", "2027-01-01", purpose="initial")  # type: ignore[arg-type]
    assert exc.value.code == "webhook_secret_forbidden"
