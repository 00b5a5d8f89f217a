from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from facteur.delivery import links
from facteur.enrichment.identifiers import fr_vat_for, siren_valid
from facteur.errors import Forbidden
from facteur.model.lifecycle import EventKind, Status, next_status

KEY = b"k" * 48
NOW = datetime(2026, 11, 23, 8, tzinfo=UTC)


def test_signed_link_round_trip_and_tamper_and_expiry():
    claims = links.LinkClaims("inv_1", "r1", "facturx", int((NOW + timedelta(days=1)).timestamp()), int(NOW.timestamp()))
    token = links.sign(KEY, claims)
    assert links.verify(KEY, token, NOW) == claims
    version, kid, body, mac = token.split(".")
    other = links.sign(KEY, links.LinkClaims("inv_2", "r1", "facturx", claims.expires)).split(".")[2]
    with pytest.raises(Forbidden):
        links.verify(KEY, f"{version}.{kid}.{other}.{mac}", NOW)  # body swapped, signature kept
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


def test_links_survive_a_key_rotation_and_retired_keys_are_refused():
    old, new = b"o" * 48, b"n" * 48
    claims = links.LinkClaims("inv_1", "r1", "facturx", int((NOW + timedelta(days=1)).timestamp()), 1)
    token = links.sign(old, claims)
    both = {links.key_id(new): new, links.key_id(old): old}
    assert links.verify(both, token, NOW) == claims  # signed before the rotation, still valid
    with pytest.raises(Forbidden):
        links.verify({links.key_id(new): new}, token, NOW)  # once the old key is retired


@pytest.mark.parametrize("token", [
    "", "v1", "v1.abc.def.ghi", "v2." + "0" * 8 + "." + "A" * 20 + "." + "A" * 43, "v1.00000000." + "A" * 5000 + "." + "A" * 43,
    "v1.00000000.AAAA\nAAAAAAAAAAAAAAA." + "A" * 43, "v1.00000000." + "=" * 20 + "." + "A" * 43,
])
def test_malformed_tokens_are_refused_before_parsing(token):
    with pytest.raises(Forbidden) as exc:
        links.verify({"00000000": KEY}, token, NOW)
    assert exc.value.code == "link_invalid"


def test_claims_must_be_typed():
    import base64
    import hashlib
    import hmac
    import json

    body = base64.urlsafe_b64encode(json.dumps({"i": ["x"], "r": "r1", "d": "facturx", "e": 2**40, "t": 1}).encode())
    body_s = body.rstrip(b"=").decode()
    kid = links.key_id(KEY)
    mac = base64.urlsafe_b64encode(hmac.new(KEY, f"v1.{kid}.{body_s}".encode(), hashlib.sha256).digest()).rstrip(b"=")
    with pytest.raises(Forbidden):
        links.verify(KEY, f"v1.{kid}.{body_s}.{mac.decode()}", NOW)


def test_the_customer_check_and_dispatch_agree_on_who_is_reachable():
    """A recipient on a channel Facteur cannot use yet passes nothing: with nobody else the invoice
    is held with why (never a failure at dispatch); beside a reachable one it is a warning."""
    from facteur.controls.customer import check_customer
    from facteur.formats.reader import read_document
    from facteur.model.directory import Customer
    from facteur.pipeline.dispatch import plan_dispatch

    inv = read_document((Path(__file__).resolve().parents[2] / "demo" / "inbox" / "FA-2026-1204.json").read_bytes()).invoice
    portal = {"id": "portal", "name": "Portail", "channel": "peppol", "endpoint": "0225:552100554"}
    only_http = Customer.model_validate({"id": "c", "name": "Client", "recipients": [portal]})
    assert plan_dispatch(only_http).deliveries == []
    (held,) = [f for f in check_customer(inv, only_http) if f.blocking]
    assert held.rule == "CUST-NO-RECIPIENT" and "portal: channel 'peppol' is not available yet" in held.message
    mixed = Customer.model_validate({"id": "c", "name": "Client",
                                     "recipients": [portal, {"id": "ap", "name": "AP", "email": "ap@client.example"}]})
    findings = check_customer(inv, mixed)
    assert not [f for f in findings if f.blocking] and [f.rule for f in findings] == ["CUST-RECIPIENT-UNREACHABLE"]


def test_a_customer_whose_recipients_clash_with_its_groups_is_refused_when_loaded():
    from facteur.errors import InvalidInput
    from facteur.routing.directory import parse_yaml

    text = """
suppliers:
  - id: acme
    name: Acme
    groups:
      chain: {recipients: [{id: central, name: Centrale, role: central_purchasing, email: c@chain.example}]}
    customers:
      - {id: shop, name: Shop, group: chain, recipients: [{id: central, name: Own, email: o@shop.example}]}
"""
    with pytest.raises(InvalidInput) as exc:
        parse_yaml(text)
    assert "customer 'shop' in group 'chain'" in exc.value.message and "central" in exc.value.message


def test_an_invoice_for_a_customer_that_takes_none_before_a_date_is_held_until_then():
    from datetime import UTC, datetime

    from facteur import clock
    from facteur.controls.customer import check_customer
    from facteur.formats.reader import read_document
    from facteur.model.directory import Customer

    inv = read_document((Path(__file__).resolve().parents[2] / "demo" / "inbox" / "FA-2026-1204.json").read_bytes()).invoice
    customer = Customer.model_validate({"id": "c", "name": "Client", "hold": {"not_before": "2027-01-04"},
                                        "recipients": [{"id": "ap", "name": "AP", "email": "ap@client.example"}]})
    for now, held in ((datetime(2027, 1, 3, 22, 59, tzinfo=UTC), True), (datetime(2027, 1, 3, 23, 0, tzinfo=UTC), False)):
        clock.set_provider(lambda now=now: now)  # 23:00 UTC on 3 January is midnight in Paris
        try:
            rules = [f.rule for f in check_customer(inv, customer) if f.blocking]
        finally:
            clock.set_provider(None)
        assert rules == (["HOLD-NOT-BEFORE"] if held else [])
