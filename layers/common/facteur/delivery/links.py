"""Signed, expiring download links: an HMAC-SHA256 token bound to the invoice, the recipient,
the document, the issue time and the expiry. Nothing secret is in the token; it cannot be
forged or extended without the key (kept in Secrets Manager), comparisons are constant-time.

    v1.{key id}.{claims, base64url JSON}.{HMAC-SHA256, base64url}

The key id names the key that signed it, so the key can rotate: links signed with the
previous key (Secrets Manager's AWSPREVIOUS version) stay valid until they expire. Decoding is
strict: one alphabet, bounded sizes, typed claims; anything else is refused before any JSON is
parsed. The issue time lets a supplier revoke the links of one recipient (those issued before)."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from ..errors import Forbidden

DOCUMENTS = frozenset({"facturx", "ubl", "cii"})
_TOKEN = re.compile(r"v1\.([0-9a-f]{8})\.([A-Za-z0-9_-]{16,600})\.([A-Za-z0-9_-]{43})")
_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def key_id(key: bytes) -> str:
    """A short public name for a key (not a secret: a hash prefix)."""
    return hashlib.sha256(b"facteur-link-key:" + key).hexdigest()[:8]


@dataclass(frozen=True)
class LinkClaims:
    invoice_id: str
    recipient_id: str
    document: str  # facturx | ubl | cii
    expires: int  # epoch seconds
    issued: int = 0  # epoch seconds

    @property
    def expires_at(self) -> datetime:
        return datetime.fromtimestamp(self.expires, UTC)

    @property
    def issued_at(self) -> datetime:
        return datetime.fromtimestamp(self.issued, UTC)


def sign(key: bytes, claims: LinkClaims) -> str:
    body = _b64(json.dumps({"i": claims.invoice_id, "r": claims.recipient_id, "d": claims.document,
                            "e": claims.expires, "t": claims.issued}, separators=(",", ":")).encode())
    kid = key_id(key)
    mac = hmac.new(key, f"v1.{kid}.{body}".encode(), hashlib.sha256).digest()
    return f"v1.{kid}.{body}.{_b64(mac)}"


def verify(keys: bytes | dict[str, bytes], token: str, now: datetime) -> LinkClaims:
    """The claims of a valid, unexpired token signed by one of `keys` ({key id: key})."""
    if isinstance(keys, bytes):
        keys = {key_id(keys): keys}
    m = _TOKEN.fullmatch(token or "")
    if not m:
        raise Forbidden("malformed link", code="link_invalid")
    kid, body, mac = m.groups()
    key = keys.get(kid)
    if key is None:
        raise Forbidden("this link was signed with a retired key", code="link_invalid")
    expected = hmac.new(key, f"v1.{kid}.{body}".encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(expected, _unb64(mac)):
        raise Forbidden("invalid link signature", code="link_invalid")
    try:
        data = json.loads(_unb64(body))
        claims = LinkClaims(invoice_id=data["i"], recipient_id=data["r"], document=data["d"], expires=data["e"],
                            issued=data["t"])
    except (ValueError, KeyError, TypeError) as exc:
        raise Forbidden("malformed link", code="link_invalid") from exc
    if not (isinstance(claims.invoice_id, str) and _ID.fullmatch(claims.invoice_id)
            and isinstance(claims.recipient_id, str) and _ID.fullmatch(claims.recipient_id)
            and claims.document in DOCUMENTS and type(claims.expires) is int and type(claims.issued) is int):
        raise Forbidden("malformed link", code="link_invalid")
    if now.timestamp() > claims.expires:
        raise Forbidden("this link has expired", code="link_expired")
    return claims
