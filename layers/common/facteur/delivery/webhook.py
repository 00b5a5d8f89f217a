"""The webhook channel: an HTTPS push to a customer's or a portal's API, signed the Standard
Webhooks way (standardwebhooks.com): headers `webhook-id` (the delivery's own id: the same on
every retry, so that the receiver can drop a duplicate), `webhook-timestamp` (epoch seconds) and
`webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">` keyed with the endpoint's
`whsec_` secret; during a rotation both the new and the previous secret sign (space-separated).

The receiver's 2xx is the delivery. 429, 5xx, timeouts and connection failures are retryable (the
state machine retries with backoff); any other answer is a refusal, recorded with its status."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any
from urllib.parse import urlparse

from ..errors import PermanentError, RetryableError

TIMEOUT_SECONDS = 10
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def secret_bytes(secret: str) -> bytes:
    """A `whsec_<base64>` secret's key bytes."""
    if not secret.startswith("whsec_"):
        raise PermanentError("a webhook signing secret starts with whsec_", code="webhook_secret_invalid")
    try:
        return base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except ValueError as exc:
        raise PermanentError("the webhook signing secret is not base64 after whsec_", code="webhook_secret_invalid") from exc


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret_bytes(secret), f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def headers(secrets: list[str], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {"content-type": "application/json", "webhook-id": msg_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": " ".join(sign(s, msg_id, timestamp, body) for s in secrets)}


def verify(secret: str, hdrs: dict[str, str], body: bytes) -> bool:
    """What a receiver does (the loopback fake and the tests use it)."""
    low = {k.lower(): v for k, v in hdrs.items()}
    expected = sign(secret, low.get("webhook-id", ""), int(low.get("webhook-timestamp", "0")), body)
    return any(hmac.compare_digest(expected, given) for given in low.get("webhook-signature", "").split())


def check_url(url: str) -> str:
    """HTTPS only; plain HTTP to a loopback address for local receivers (tests, `facteur local up`)."""
    u = urlparse(url)
    if u.scheme == "https" and u.hostname:
        return url
    if u.scheme == "http" and u.hostname in LOOPBACK:
        return url
    raise ValueError(f"a webhook endpoint is an https:// URL (got {url[:80]!r})")


def secrets_of(value: str) -> list[str]:
    """A Secrets Manager value: `whsec_...`, or JSON {"current": ..., "previous": ...} during a rotation."""
    value = value.strip()
    if value.startswith("{"):
        data = json.loads(value)
        return [s for s in (data.get("current"), data.get("previous")) if s]
    return [value]


def post(url: str, body: bytes, hdrs: dict[str, str]) -> str:
    """Push; the webhook id when the receiver took it (2xx), else a classified error."""
    import requests

    try:
        res = requests.post(check_url(url), data=body, headers=hdrs, timeout=TIMEOUT_SECONDS, allow_redirects=False)
    except requests.Timeout as exc:
        raise RetryableError(f"webhook: no answer within {TIMEOUT_SECONDS} s", code="webhook_timeout") from exc
    except requests.ConnectionError as exc:
        raise RetryableError("webhook: the endpoint could not be reached", code="webhook_unreachable") from exc
    if 200 <= res.status_code < 300:
        return hdrs["webhook-id"]
    said = " ".join(res.text.split())[:200]
    if res.status_code == 429 or res.status_code >= 500:
        raise RetryableError(f"webhook: HTTP {res.status_code} {said}".strip(), code=f"http_{res.status_code}")
    raise PermanentError(f"webhook: the endpoint refused it, HTTP {res.status_code} {said}".strip(), code=f"http_{res.status_code}")


def payload(*, event: str, invoice: dict[str, Any], link: str, link_expires: str) -> bytes:
    return json.dumps({"type": event, "data": {**invoice, "download_url": link, "download_expires": link_expires}},
                      ensure_ascii=False, sort_keys=True).encode()
