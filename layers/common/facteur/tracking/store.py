"""Tracking state in DynamoDB: one item per invoice (the projection) and an append-only event
log under the same partition. Access patterns, all served by keys and indexes (no scans):

| pattern                         | key / index                                              |
|---------------------------------|----------------------------------------------------------|
| invoice by id                   | PK=INV#{id}, SK=META                                     |
| timeline of an invoice          | PK=INV#{id}, SK begins_with EV (EV#{at}... and EVID#...)  |
| invoices by supplier and status | GSI1: GSI1PK=SUP#{supplier}, GSI1SK={status}#{created}#{id}|
| invoices of a buyer             | GSI2: GSI2PK=BUY#{supplier}#{customer}, GSI2SK={created}#{id}|
| next milestone due              | GSI3 (sparse): GSI3PK=DUE#{supplier}, GSI3SK={due at}#{id} |
| duplicate detection             | PK=DEDUP#{supplier}#{number}, SK=DEDUP (conditional put)  |
| an event recorded once by id    | PK=INV#{id}, SK=EVID#{event id} (the event itself, conditional put) |
| delivery records                | PK=INV#{id}, SK=DLV#{purpose}#{recipient}#{channel}       |

Every event is one transaction: the event is put (it must not exist: an event with an id is kept
under that id, so it is recorded once) and the projection is updated on the condition that its
version is the one read (optimistic locking: no lost updates); a change of the projection alone
is a conditional put. On a lost race the caller re-reads and re-applies."""
from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from .. import clock
from ..adapters.dynamodb import Table, translate_error
from ..errors import Conflict, InvalidInput, NotFound, RetryableError
from ..model.lifecycle import EventKind, next_status
from ..model.records import Event, InvoiceRecord, Payment

if TYPE_CHECKING:
    from ..ports import Invoices

__all__ = ["Event", "InvoiceRecord", "InvoiceStore", "Payment", "apply_event"]


# Left out of the stored item when empty (their defaults on reading): with the id (the key carries
# it), they keep a typical projection under 1 KB, one write unit instead of two at each change.
_EMPTY_DEFAULTS = ("documents", "findings", "recipients", "payment_terms", "payments", "revoked_links", "original_name")


def _to_item(rec: InvoiceRecord) -> dict[str, Any]:
    item = rec.model_dump(mode="json", exclude_none=True, exclude={"invoice_id"})
    for name in _EMPTY_DEFAULTS:
        if not item.get(name):
            item.pop(name, None)
    if rec.amount_due is not None:
        item["amount_due"] = Decimal(rec.amount_due)
    item.update(PK=f"INV#{rec.invoice_id}", SK="META",
                GSI1PK=f"SUP#{rec.supplier_id}", GSI1SK=f"{rec.status.value}#{clock.iso(rec.created_at)}#{rec.invoice_id}")
    if rec.customer_id:
        item.update(GSI2PK=f"BUY#{rec.supplier_id}#{rec.customer_id}", GSI2SK=f"{clock.iso(rec.created_at)}#{rec.invoice_id}")
    if rec.next_due_at and rec.status.value not in ("paid", "closed", "rejected", "duplicate", "refused"):
        item.update(GSI3PK=f"DUE#{rec.supplier_id}", GSI3SK=f"{clock.iso(rec.next_due_at)}#{rec.invoice_id}")
        item["next_due_at"] = clock.iso(rec.next_due_at)
    item["created_at"] = clock.iso(rec.created_at)
    item["updated_at"] = clock.iso(rec.updated_at)
    return item


def _from_item(item: dict[str, Any]) -> InvoiceRecord:
    data = {k: v for k, v in item.items() if not k.startswith(("PK", "SK", "GSI"))}
    data.setdefault("invoice_id", str(item["PK"]).removeprefix("INV#"))
    data["version"] = int(data.get("version", 0))
    return InvoiceRecord.model_validate(data)


class InvoiceStore(Table):
    """DynamoDB adapter for invoices, events, dedup and idempotency keys."""

    # -- invoices --
    def create(self, rec: InvoiceRecord, first_event: Event) -> InvoiceRecord:
        rec.version = 1
        try:
            self.client.transact_write_items(TransactItems=[
                {"Put": {"TableName": self.table_name, "Item": self._ser(_to_item(rec)),
                         "ConditionExpression": "attribute_not_exists(PK)"}},
                {"Put": {"TableName": self.table_name, "Item": self._ser(self._event_item(first_event)),
                         "ConditionExpression": "attribute_not_exists(PK)"}},
            ])
        except ClientError as exc:
            raise translate_error(exc) from exc
        return rec

    def get(self, invoice_id: str) -> InvoiceRecord:
        res = self.client.get_item(TableName=self.table_name, Key=self._ser({"PK": f"INV#{invoice_id}", "SK": "META"}),
                                   ConsistentRead=True)
        if "Item" not in res:
            raise NotFound(f"invoice {invoice_id} not found")
        return _from_item(self._de(res["Item"]))

    def save(self, rec: InvoiceRecord, event: Event | None, expected_version: int) -> InvoiceRecord:
        """Write the new projection (and its event) if nobody changed it since `expected_version`."""
        rec.version = expected_version + 1
        if event is None:  # the projection alone: a conditional put (a transaction would bill it twice)
            try:
                self.client.put_item(TableName=self.table_name, Item=self._ser(_to_item(rec)),
                                     ConditionExpression="#v = :v", ExpressionAttributeNames={"#v": "version"},
                                     ExpressionAttributeValues=self._ser({":v": expected_version}))
            except ClientError as exc:
                raise translate_error(exc) from exc
            return rec
        items: list[dict[str, Any]] = [{"Put": {
            "TableName": self.table_name, "Item": self._ser(_to_item(rec)),
            "ConditionExpression": "#v = :v", "ExpressionAttributeNames": {"#v": "version"},
            "ExpressionAttributeValues": self._ser({":v": expected_version})}}]
        # an event with an id is kept under that id (the condition makes it once); the others by time
        items.append({"Put": {"TableName": self.table_name, "Item": self._ser(self._event_item(event)),
                              "ConditionExpression": "attribute_not_exists(PK)"}})
        try:
            self.client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            raise translate_error(exc) from exc
        return rec

    def has_event(self, invoice_id: str, event_id: str) -> bool:
        res = self.client.get_item(TableName=self.table_name, ConsistentRead=True,
                                   Key=self._ser({"PK": f"INV#{invoice_id}", "SK": f"EVID#{event_id}"}))
        return "Item" in res

    def timeline(self, invoice_id: str) -> list[Event]:
        # EV#{at}#{recorded}#{random} and EVID#{id} (an event recorded once by its id), in the order they happened
        kwargs = {"TableName": self.table_name, "KeyConditionExpression": "PK = :pk AND begins_with(SK, :ev)",
                  "ExpressionAttributeValues": self._ser({":pk": f"INV#{invoice_id}", ":ev": "EV"}), "ConsistentRead": True}
        ordered: list[tuple[str, Event]] = []
        while True:
            res = self.client.query(**kwargs)
            for raw in res.get("Items", []):
                item = self._de(raw)
                if "kind" not in item:
                    continue
                ordered.append((str(item.get("seq") or item["SK"][3:]), Event(
                    invoice_id=invoice_id, kind=EventKind(item["kind"]), at=clock.parse_iso(item["at"]),
                    actor=item.get("actor", "facteur"), recipient_id=item.get("recipient_id"),
                    detail=item.get("detail") or {}, id=item.get("event_id"),
                    recorded_at=clock.parse_iso(item["recorded_at"]) if item.get("recorded_at") else None)))
            if "LastEvaluatedKey" not in res:
                return [e for _, e in sorted(ordered, key=lambda x: x[0])]
            kwargs["ExclusiveStartKey"] = res["LastEvaluatedKey"]

    def by_supplier(self, supplier_id: str, status: str | None = None, limit: int = 100,
                    cursor: str | None = None) -> tuple[list[InvoiceRecord], str | None]:
        """A page of a supplier's invoices (newest first within a status), and the next page's cursor."""
        cond = "GSI1PK = :pk" + (" AND begins_with(GSI1SK, :st)" if status else "")
        values = {":pk": f"SUP#{supplier_id}"}
        if status:
            values[":st"] = f"{status}#"
        return self._page(dict(IndexName="GSI1", KeyConditionExpression=cond, ScanIndexForward=False,
                               ExpressionAttributeValues=self._ser(values)), limit, cursor, f"SUP#{supplier_id}")

    def by_buyer(self, supplier_id: str, customer_id: str, limit: int = 100,
                 cursor: str | None = None) -> tuple[list[InvoiceRecord], str | None]:
        pk = f"BUY#{supplier_id}#{customer_id}"
        return self._page(dict(IndexName="GSI2", KeyConditionExpression="GSI2PK = :pk", ScanIndexForward=False,
                               ExpressionAttributeValues=self._ser({":pk": pk})), limit, cursor, pk)

    def _page(self, query: dict, limit: int, cursor: str | None, partition: str) -> tuple[list[InvoiceRecord], str | None]:
        import base64
        import json

        if cursor:
            try:
                start = json.loads(base64.urlsafe_b64decode(cursor.encode()))
            except (ValueError, UnicodeError) as exc:
                raise InvalidInput("invalid page cursor", code="invalid_cursor") from exc
            keys = {"PK", "SK", "GSI1PK", "GSI1SK", "GSI2PK", "GSI2SK"}
            if (len(cursor) > 2048 or not isinstance(start, dict) or not set(start) <= keys
                    or not all(isinstance(v, dict) and set(v) == {"S"} and isinstance(v["S"], str) for v in start.values())
                    or (start.get("GSI1PK") or start.get("GSI2PK") or {}).get("S") != partition):
                raise InvalidInput("invalid page cursor", code="invalid_cursor")  # a cursor never crosses tenants
            query["ExclusiveStartKey"] = start
        res = self.client.query(TableName=self.table_name, Limit=max(1, min(limit, 500)), **query)
        nxt = res.get("LastEvaluatedKey")
        token = base64.urlsafe_b64encode(json.dumps(nxt).encode()).decode() if nxt else None
        return self._records(res.get("Items", [])), token

    def _records(self, entries: list[dict[str, Any]]) -> list[InvoiceRecord]:
        """The records behind index entries (the indexes hold keys only), in the entries' order;
        one BatchGetItem per 100, unprocessed keys asked again. A record gone meanwhile is skipped."""
        found: dict[str, dict[str, Any]] = {}
        keys = [{"PK": e["PK"], "SK": e["SK"]} for e in entries]
        for start in range(0, len(keys), 100):
            request: dict[str, Any] = {self.table_name: {"Keys": keys[start:start + 100]}}
            for _ in range(8):
                try:
                    res = self.client.batch_get_item(RequestItems=request)
                except ClientError as exc:
                    raise translate_error(exc) from exc
                for item in res.get("Responses", {}).get(self.table_name, []):
                    found[item["PK"]["S"]] = item
                request = res.get("UnprocessedKeys") or {}
                if not request:
                    break
            else:
                raise RetryableError("DynamoDB left keys unprocessed after 8 attempts")
        return [_from_item(self._de(found[e["PK"]["S"]])) for e in entries if e["PK"]["S"] in found]

    def due(self, supplier_id: str, before: datetime, page: int = 100) -> Iterator[InvoiceRecord]:
        """Every invoice whose next milestone is due by `before` (sparse GSI3: only those with one),
        page after page: items read = items due."""
        kwargs: dict[str, Any] = {"TableName": self.table_name, "IndexName": "GSI3", "Limit": page,
                                  "KeyConditionExpression": "GSI3PK = :pk AND GSI3SK <= :t",
                                  "ExpressionAttributeValues": self._ser({":pk": f"DUE#{supplier_id}", ":t": clock.iso(before) + "~"})}
        while True:
            res = self.client.query(**kwargs)
            yield from self._records(res.get("Items", []))
            if "LastEvaluatedKey" not in res:
                return
            kwargs["ExclusiveStartKey"] = res["LastEvaluatedKey"]

    def invoice_by_number(self, supplier_id: str, number: str) -> str | None:
        """The invoice a supplier sent under this number (its duplicate-detection key), if any."""
        from ..pipeline.intake import _key_digest

        if not number:
            return None
        key = f"DEDUP#{supplier_id}#{_key_digest(number)}"
        res = self.client.get_item(TableName=self.table_name, Key=self._ser({"PK": key, "SK": "DEDUP"}))
        return self._de(res["Item"]).get("invoice_id") if "Item" in res else None

    # -- the parked milestone loop's task token (its own item: never in the projection or its indexes) --
    def park(self, invoice_id: str, token: str) -> None:
        self.client.put_item(TableName=self.table_name, Item=self._ser({"PK": f"INV#{invoice_id}", "SK": "WAIT", "token": token,
                                                                         "at": clock.iso(clock.now())}))

    def take_wait_token(self, invoice_id: str) -> str | None:
        """The parked loop's token, removed as it is read: one event wakes it, once."""
        res = self.client.delete_item(TableName=self.table_name, Key=self._ser({"PK": f"INV#{invoice_id}", "SK": "WAIT"}),
                                      ReturnValues="ALL_OLD")
        return self._de(res["Attributes"]).get("token") if res.get("Attributes") else None

    # -- keys --
    def claim(self, key: str, value: dict[str, Any]) -> dict[str, Any] | None:
        """Put PK=key once. Returns None when claimed now, else the existing item (the winner)."""
        try:
            self.client.put_item(TableName=self.table_name, Item=self._ser({"PK": key, "SK": key.split("#")[0], **value}),
                                 ConditionExpression="attribute_not_exists(PK)")
            return None
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise translate_error(exc) from exc
        res = self.client.get_item(TableName=self.table_name, Key=self._ser({"PK": key, "SK": key.split("#")[0]}),
                                   ConsistentRead=True)
        return self._de(res.get("Item", {}))

    def _event_item(self, ev: Event) -> dict[str, Any]:
        # ordered by when it happened, then by when it was recorded (two statuses of the same second stay in order)
        recorded = clock.now().strftime("%Y%m%d%H%M%S%f")
        seq = f"{clock.iso(ev.at)}#{recorded}#{secrets.token_hex(3)}"
        item = {"PK": f"INV#{ev.invoice_id}", "SK": f"EVID#{ev.id}" if ev.id else f"EV#{seq}",
                "kind": ev.kind.value, "at": clock.iso(ev.at), "actor": ev.actor, "recipient_id": ev.recipient_id,
                "detail": ev.detail or None, "lifecycle_code": ev.french_code, "event_id": ev.id,
                "recorded_at": clock.iso(clock.now())}
        if ev.id:
            item["seq"] = seq
        return item


def apply_event(store: Invoices, invoice_id: str, event: Event, mutate=None, attempts: int = 5) -> InvoiceRecord:
    """Append `event` and move the projection, re-reading on a lost race. `mutate(rec)` may
    change other fields of the projection in the same conditional write."""
    for _ in range(attempts):
        rec = store.get(invoice_id)
        if event.id and store.has_event(invoice_id, event.id):
            return rec  # already recorded (a retry, a redelivered message)
        expected = rec.version
        new_status = next_status(rec.status, event.kind)
        if new_status is not None:
            rec.status = new_status
        if mutate is not None:
            mutate(rec)
        rec.updated_at = event.at
        try:
            return store.save(rec, event, expected)
        except Conflict:
            continue
    raise RetryableError(f"could not record {event.kind.value} on {invoice_id}: too many concurrent updates")
