"""Signed, expiring download links: an HMAC-SHA256 token bound to the invoice, the recipient,
the document and the expiry. Nothing secret is in the token; it cannot be forged or extended
without the key (kept in Secrets Manager), and comparisons are constant-time."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from ..errors import Forbidden


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class LinkClaims:
    invoice_id: str
    recipient_id: str
    document: str  # facturx | ubl | cii
    expires: int  # epoch seconds

    @property
    def expires_at(self) -> datetime:
        return datetime.fromtimestamp(self.expires, UTC)


def sign(key: bytes, claims: LinkClaims) -> str:
    body = _b64(json.dumps({"i": claims.invoice_id, "r": claims.recipient_id, "d": claims.document,
                            "e": claims.expires}, separators=(",", ":")).encode())
    mac = hmac.new(key, body.encode(), hashlib.sha256).digest()
    return f"{body}.{_b64(mac)}"


def verify(key: bytes, token: str, now: datetime) -> LinkClaims:
    try:
        body, mac = token.split(".", 1)
        expected = hmac.new(key, body.encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, _unb64(mac)):
            raise Forbidden("invalid link signature", code="link_invalid")
        data = json.loads(_unb64(body))
        claims = LinkClaims(invoice_id=data["i"], recipient_id=data["r"], document=data["d"], expires=int(data["e"]))
    except Forbidden:
        raise
    except (ValueError, KeyError, TypeError) as exc:
        raise Forbidden("malformed link", code="link_invalid") from exc
    if now.timestamp() > claims.expires:
        raise Forbidden("this link has expired", code="link_expired")
    return claims
