from datetime import UTC, datetime, timedelta

import pytest

from facteur.delivery import links
from facteur.enrichment.identifiers import fr_vat_for, siren_valid
from facteur.errors import Forbidden
from facteur.model.lifecycle import EventKind, Status, next_status

KEY = b"k" * 48
NOW = datetime(2026, 11, 23, 8, tzinfo=UTC)


def test_signed_link_round_trip_and_tamper_and_expiry():
    claims = links.LinkClaims("inv_1", "r1", "facturx", int((NOW + timedelta(days=1)).timestamp()))
    token = links.sign(KEY, claims)
    assert links.verify(KEY, token, NOW) == claims
    body, mac = token.split(".")
    other = links.sign(KEY, links.LinkClaims("inv_2", "r1", "facturx", claims.expires)).split(".")[0]
    with pytest.raises(Forbidden):
        links.verify(KEY, f"{other}.{mac}", NOW)  # body swapped, signature kept
    with pytest.raises(Forbidden):
        links.verify(b"x" * 48, token, NOW)  # another key
    with pytest.raises(Forbidden) as exc:
        links.verify(KEY, token, NOW + timedelta(days=2))
    assert exc.value.code == "link_expired"


def test_status_only_moves_forward_and_paid_is_terminal():
    assert next_status(Status.SENT, EventKind.DOWNLOADED) is Status.DOWNLOADED
    assert next_status(Status.DOWNLOADED, EventKind.DELIVERED) is None  # a late delivery does not regress
    assert next_status(Status.DOWNLOADED, EventKind.PAID) is Status.PAID
    assert next_status(Status.PAID, EventKind.DISPUTED) is None
    assert next_status(Status.CLOSED, EventKind.PAID) is Status.PAID
    assert next_status(Status.RECEIVED, EventKind.HELD) is Status.HELD


def test_siren_and_vat_keys():
    assert siren_valid("732829320") and not siren_valid("732829321")
    assert fr_vat_for("732829320") == "FR44732829320"
