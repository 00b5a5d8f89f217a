"""What the platform channels share (Chorus Pro, a PA): the sweep's cursor per supplier and the
delivery milestone a platform gives ("made available to the buyer").

| item                  | PK                       | SK      |
|-----------------------|--------------------------|---------|
| a sweep's cursor      | {PLATFORM}#{supplier}    | CURSOR  |
"""
from __future__ import annotations

from datetime import datetime

from .. import clock
from ..context import Context
from ..model.directory import Recipient
from ..model.lifecycle import EventKind
from ..tracking.store import Event, apply_event


def own_secret(ctx: Context, supplier_id: str, secret_id: str, family: str, what: str) -> str:
    """The value of a secret of the supplier's own (named facteur/{family}/{supplier id}...): a
    supplier speaks to a platform or network with its own account only."""
    from ..errors import PermanentError

    prefix = f"facteur/{family}/{supplier_id}"
    if secret_id != prefix and not secret_id.startswith(prefix + "/"):  # not facteur/pa/acme-other for acme
        raise PermanentError(f"the {what} secret of {supplier_id} must be named {prefix}...", code=f"{family}_secret_forbidden")
    return str(ctx.client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"])


def read_cursor(ctx: Context, platform: str, supplier_id: str) -> tuple[str | None, frozenset[str]]:
    """The sweep's last position for this supplier, and what it already saw at its end."""
    db, table = ctx.client("dynamodb"), ctx.settings.require("invoices_table")
    item = db.get_item(TableName=table, Key=_key(platform, supplier_id), ConsistentRead=True).get("Item")
    if not item:
        return None, frozenset()
    return item["at"]["S"], frozenset(item.get("seen", {}).get("SS", []))


def write_cursor(ctx: Context, platform: str, supplier_id: str, at: str, seen: frozenset[str] = frozenset()) -> None:
    db, table = ctx.client("dynamodb"), ctx.settings.require("invoices_table")
    item = {**_key(platform, supplier_id), "at": {"S": at}}
    if seen:
        item["seen"] = {"SS": sorted(seen)}
    db.put_item(TableName=table, Item=item)


def _key(platform: str, supplier_id: str) -> dict:
    return {"PK": {"S": f"{platform.upper()}#{supplier_id}"}, "SK": {"S": "CURSOR"}}


def delivered(ctx: Context, invoice_id: str, recipients: list[Recipient], at: datetime | None, platform: str) -> None:
    """The platform made the invoice available to the buyer: each of its recipients' delivery (once)."""
    for r in recipients:
        apply_event(ctx.store, invoice_id, Event(invoice_id=invoice_id, kind=EventKind.DELIVERED, at=at or clock.now(),
                                                 recipient_id=r.id, actor=f"platform:{platform}",
                                                 id=f"{platform}-delivered:{r.id}", detail={"channel": r.channel.value}))
