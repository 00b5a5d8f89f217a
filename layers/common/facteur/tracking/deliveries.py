"""Delivery records: one per (invoice, purpose, recipient, channel), claimed conditionally
before anything is sent and completed after, so that a Step Functions retry, a crash or a
duplicated event never sends twice and never forgets a recipient.

| state        | meaning                                                   | a new attempt... |
|--------------|-----------------------------------------------------------|------------------|
| sending      | claimed; the channel may or may not have accepted it      | waits for the lease, then `unconfirmed` |
| sent         | the channel accepted it (message id kept)                 | skips it         |
| retry        | the channel refused it for now (throttling, 5xx): not sent| sends again      |
| failed       | the channel refused it for good (reason kept)             | skips it         |
| unconfirmed  | a sender died after claiming; never re-sent blindly: the  | skips it         |
|              | channel's own event (SES Delivery/Bounce) settles it      |                  |

Items live beside the invoice: PK=INV#{id}, SK=DLV#{purpose}#{recipient}#{channel}."""
from __future__ import annotations

from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel

from .. import clock
from ..adapters.dynamodb import Table, translate_error


class DeliveryState(str, Enum):
    SENDING = "sending"
    SENT = "sent"
    RETRY = "retry"
    FAILED = "failed"
    UNCONFIRMED = "unconfirmed"


class Delivery(BaseModel):
    invoice_id: str
    purpose: str  # initial | reminder-1 | ...
    recipient_id: str
    channel: str
    state: DeliveryState
    attempts: int = 1
    lease_until: datetime | None = None
    message_id: str | None = None
    error: str | None = None
    updated_at: datetime
    first_attempt_at: datetime | None = None
    next_attempt_at: datetime | None = None  # a deferred retry (webhooks: backoff for 24 h)

    @property
    def key(self) -> str:
        return delivery_key(self.purpose, self.recipient_id, self.channel)


def delivery_key(purpose: str, recipient_id: str, channel: str) -> str:
    return f"DLV#{purpose}#{recipient_id}#{channel}"


class Claim(str, Enum):
    GO = "go"  # this caller sends now
    DONE = "done"  # already sent, failed or unconfirmed: nothing to do
    BUSY = "busy"  # another sender holds a live lease


# Deferred retries (channels whose receiver may be down for hours: webhooks): the next attempt
# after 1 min, 5 min, 15 min, 1 h, 3 h, then every 6 h, until 24 h after the first; then failed.
BACKOFF = [timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15), timedelta(hours=1), timedelta(hours=3),
           timedelta(hours=6)]
GIVE_UP_AFTER = timedelta(hours=24)


class DeliveryStore(Table):
    LEASE = timedelta(minutes=5)

    def _key(self, invoice_id: str, key: str) -> dict[str, Any]:
        return self._ser({"PK": f"INV#{invoice_id}", "SK": key})

    def get(self, invoice_id: str, purpose: str, recipient_id: str, channel: str) -> Delivery | None:
        res = self.client.get_item(TableName=self.table_name, ConsistentRead=True,
                                   Key=self._key(invoice_id, delivery_key(purpose, recipient_id, channel)))
        return _from_item(self._de(res["Item"])) if "Item" in res else None

    def all(self, invoice_id: str) -> list[Delivery]:
        res = self.client.query(TableName=self.table_name, ConsistentRead=True,
                                KeyConditionExpression="PK = :pk AND begins_with(SK, :d)",
                                ExpressionAttributeValues=self._ser({":pk": f"INV#{invoice_id}", ":d": "DLV#"}))
        return [_from_item(self._de(i)) for i in res.get("Items", [])]

    def claim(self, invoice_id: str, purpose: str, recipient_id: str, channel: str) -> tuple[Claim, Delivery]:
        """Take the right to send: first claim, or a new attempt after a retryable refusal.
        A claim whose lease expired (the sender died) becomes `unconfirmed`, never re-sent."""
        now = clock.now()
        new = Delivery(invoice_id=invoice_id, purpose=purpose, recipient_id=recipient_id, channel=channel,
                       state=DeliveryState.SENDING, lease_until=now + self.LEASE, updated_at=now, first_attempt_at=now)
        if self._put_if(new, "attribute_not_exists(PK)", {}):
            return Claim.GO, new
        current = self.get(invoice_id, purpose, recipient_id, channel)
        if current is None:  # deleted in between: cannot happen (no deletes), be safe
            return Claim.BUSY, new
        if current.state is DeliveryState.RETRY:
            if current.next_attempt_at and current.next_attempt_at > now:
                return Claim.BUSY, current  # deferred: its time has not come
            new.attempts = current.attempts + 1
            new.first_attempt_at = current.first_attempt_at or now
            if self._put_if(new, "#s = :s AND attempts = :a", {":s": "retry", ":a": current.attempts}):
                return Claim.GO, new
            return Claim.BUSY, current
        if current.state is DeliveryState.SENDING:
            if current.lease_until and current.lease_until > now:
                return Claim.BUSY, current
            current.state, current.updated_at = DeliveryState.UNCONFIRMED, now
            current.error = "the sender stopped after claiming: waiting for the channel's own event"
            self._put_if(current, "#s = :s", {":s": "sending"})
            return Claim.DONE, current
        return Claim.DONE, current

    def complete(self, d: Delivery, message_id: str) -> Delivery:
        d.state, d.message_id, d.error, d.updated_at = DeliveryState.SENT, message_id, None, clock.now()
        self._put_if(d, "#s = :s", {":s": "sending"})
        return d

    def refuse(self, d: Delivery, error: str, *, retryable: bool, defer: bool = False) -> Delivery:
        """Refused by the channel. `defer`: a retryable refusal is tried again later with backoff
        (next_attempt_at), and given up (failed) 24 h after the first attempt."""
        now = clock.now()
        d.state = DeliveryState.RETRY if retryable else DeliveryState.FAILED
        d.error, d.updated_at = error[:500], now
        if retryable and defer:
            if now - (d.first_attempt_at or now) >= GIVE_UP_AFTER:
                d.state, d.next_attempt_at = DeliveryState.FAILED, None
                d.error = f"gave up after {int(GIVE_UP_AFTER.total_seconds() // 3600)} h and {d.attempts} attempts: {error}"[:500]
            else:
                d.next_attempt_at = now + BACKOFF[min(d.attempts - 1, len(BACKOFF) - 1)]
        self._put_if(d, "#s = :s", {":s": "sending"})
        return d

    def deferred(self, invoice_id: str) -> list[Delivery]:
        """The deliveries waiting for a deferred retry."""
        return [d for d in self.all(invoice_id) if d.state is DeliveryState.RETRY and d.next_attempt_at]

    def confirm(self, invoice_id: str, purpose: str, recipient_id: str, channel: str, message_id: str | None) -> None:
        """The channel's own event proves it was sent (an `unconfirmed` claim becomes `sent`)."""
        d = self.get(invoice_id, purpose, recipient_id, channel)
        if d is not None and d.state in (DeliveryState.UNCONFIRMED, DeliveryState.SENDING):
            before = d.state.value
            d.state, d.message_id, d.error, d.updated_at = DeliveryState.SENT, message_id, None, clock.now()
            self._put_if(d, "#s = :s", {":s": before})

    def reopen_failed(self, invoice_id: str, purpose: str | None = None) -> int:
        """Failed deliveries may be tried again (the supplier asked for a retry or a redrive): a new
        24 h window of deferred retries, the first one now."""
        n = 0
        now = clock.now()
        for d in self.all(invoice_id):
            if d.state is DeliveryState.FAILED and (purpose is None or d.purpose == purpose):
                d.state, d.updated_at, d.first_attempt_at, d.next_attempt_at, d.attempts = DeliveryState.RETRY, now, now, now, 0
                n += self._put_if(d, "#s = :s", {":s": "failed"})
        return n

    def _put_if(self, d: Delivery, condition: str, values: dict[str, Any]) -> bool:
        item = d.model_dump(mode="json", exclude_none=True)
        item.update(PK=f"INV#{d.invoice_id}", SK=d.key)
        kwargs: dict[str, Any] = {"TableName": self.table_name, "Item": self._ser(item), "ConditionExpression": condition}
        if values:
            kwargs["ExpressionAttributeValues"] = self._ser(values)
        if "#s" in condition:
            kwargs["ExpressionAttributeNames"] = {"#s": "state"}
        try:
            self.client.put_item(**kwargs)
            return True
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise translate_error(exc) from exc


def _from_item(item: dict[str, Any]) -> Delivery:
    return Delivery.model_validate({k: v for k, v in item.items() if k not in ("PK", "SK")})
