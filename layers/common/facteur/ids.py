"""Identifiers: time-sortable, unguessable ids (ULID-like, Crockford base32)."""
from __future__ import annotations

import secrets

from . import clock

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _b32(value: int, length: int) -> str:
    out = []
    for _ in range(length):
        value, rem = divmod(value, 32)
        out.append(_ALPHABET[rem])
    return "".join(reversed(out))


def new_id(prefix: str) -> str:
    """`prefix_` + 10 chars of millisecond time + 16 chars (80 bits) of randomness."""
    ms = int(clock.now().timestamp() * 1000)
    return f"{prefix}_{_b32(ms, 10)}{_b32(secrets.randbits(80), 16)}"


def invoice_id() -> str:
    return new_id("inv")


def invoice_id_for(seed: str) -> str:
    """The invoice id of an input that may arrive more than once (an S3 object version, an
    Idempotency-Key): derived from it, so every retry continues the same invoice."""
    import hashlib

    digest = int.from_bytes(hashlib.sha256(seed.encode()).digest()[:17], "big")
    return f"inv_{_b32(digest, 26)}"
