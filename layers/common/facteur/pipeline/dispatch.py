"""Distribution: who receives the invoice on which channel (`plan_dispatch`, pure), and the
sending itself, exactly once per recipient through delivery records (tracking/deliveries.py).

A retryable refusal (throttling, 5xx) of one recipient never loses the others: they are sent,
the refused one is marked `retry` and the step raises RetryableError, so the state machine runs
it again with backoff and only what is left is sent. A permanent refusal (MessageRejected...)
is recorded for that recipient; the invoice fails only when nobody at all could be reached."""
from __future__ import annotations

from dataclasses import dataclass, field

from .. import clock
from ..adapters.aws_errors import classify
from ..context import Context
from ..errors import PermanentError, RetryableError
from ..model.directory import Channel, Customer, Recipient
from ..model.invoice import Invoice
from ..model.lifecycle import EventKind
from ..observability import count, logger
from ..tracking.deliveries import Claim, DeliveryState, DeliveryStore
from ..tracking.store import Event, apply_event

AVAILABLE_CHANNELS = frozenset({Channel.EMAIL, Channel.HTTP, Channel.CHORUS_PRO, Channel.PA, Channel.CXML, Channel.EDI})
MESSAGE_CHANNELS = frozenset({Channel.EMAIL, Channel.HTTP})  # what carries reminders and notices (platforms: invoices only)
CONFIRMED_ON_SEND = frozenset({Channel.HTTP, Channel.CXML})  # the receiver's 2xx (the network's status 200) is the delivery
DEFERRED_RETRY = frozenset({Channel.HTTP, Channel.CXML})  # a receiver down for hours: retried by the path for 24 h


@dataclass(frozen=True)
class PlannedDelivery:
    recipient: Recipient
    channel: Channel


@dataclass
class DispatchPlan:
    deliveries: list[PlannedDelivery] = field(default_factory=list)
    unreachable: list[tuple[str, str]] = field(default_factory=list)  # (recipient id, why)


def plan_dispatch(customer: Customer, *, skip: frozenset[str] = frozenset(),
                  roles: frozenset[str] | None = None, channels: frozenset[Channel] = AVAILABLE_CHANNELS,
                  inv: Invoice | None = None, stage: str = "issue") -> DispatchPlan:
    """Every recipient of the customer (of `roles` when given) on its channel; those the platform
    cannot reach yet are listed with the reason (the customer check holds an invoice nobody can receive).
    `channels`: those that carry what is sent (reminders do not go through Chorus Pro). With the
    invoice, the customer's distribution rules say who receives it at this `stage` (issue, approved)."""
    plan = DispatchPlan()
    for r in customer.recipients:
        if r.id in skip or r.fallback_only or (roles is not None and r.role.value not in roles):
            continue
        if inv is not None and not customer.receives(r.role, stage, inv.tax_inclusive_amount, inv.is_credit_note,
                                                      inv.purchase_order_reference):
            continue
        if r.channel in AVAILABLE_CHANNELS and r.channel not in channels:
            continue
        if r.channel not in AVAILABLE_CHANNELS:
            plan.unreachable.append((r.id, f"channel '{r.channel.value}' is not available yet"))
        elif r.channel is Channel.EMAIL and not r.email:
            plan.unreachable.append((r.id, "no e-mail address"))
        elif r.channel is Channel.HTTP and not (r.endpoint and r.secret_id):
            plan.unreachable.append((r.id, "a webhook needs its endpoint URL and its signing secret (secret_id)"))
        else:
            plan.deliveries.append(PlannedDelivery(r, r.channel))
    return plan


@dataclass
class Outcome:
    sent: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)  # retried now by the state machine (throttling...)
    deferred: list[str] = field(default_factory=list)  # retried later by the invoice's path (a receiver down)


def deliver(ctx: Context, invoice_id: str, plan: DispatchPlan, purpose: str, send, *,
            event_kind: EventKind = EventKind.SENT, detail: dict | None = None) -> Outcome:
    """Send each planned delivery once. `send(recipient) -> message id` does the channel call."""
    store = DeliveryStore(ctx.settings.require("invoices_table"), ctx.client("dynamodb"))
    out = Outcome()
    for p in plan.deliveries:
        rid, channel = p.recipient.id, p.channel.value
        claim, d = store.claim(invoice_id, purpose, rid, channel)
        if claim is Claim.BUSY:
            (out.deferred if d.state is DeliveryState.RETRY else out.pending).append(rid)
            continue
        if claim is Claim.DONE:
            if d.state is DeliveryState.FAILED:
                out.failed.append((rid, d.error or "refused"))
            else:  # sent, or unconfirmed (the channel's event settles it)
                out.sent.append(rid)
                # A sender that died after the channel accepted never recorded the milestone:
                # record it now (recorded once by its id when it was already there)
                extra = {"unconfirmed": True} if d.state is DeliveryState.UNCONFIRMED else {}
                _record(ctx, invoice_id, purpose, p, event_kind, d.message_id, {**(detail or {}), **extra})
            continue
        try:
            message_id = send(p.recipient)
        except Exception as exc:  # noqa: BLE001 - every channel error is classified, never swallowed
            err = classify(exc, f"{channel} send")
            retryable = isinstance(err, RetryableError)
            # a receiver that is down: the invoice and the scenario's messages are retried by the path for 24 h
            d = store.refuse(d, err.message, retryable=retryable, defer=p.channel in DEFERRED_RETRY and _deferrable(purpose))
            retryable = d.state is DeliveryState.RETRY  # a deferred one may have been given up (24 h)
            logger.warning("delivery refused", extra={"invoice_id": invoice_id, "recipient_id": rid, "channel": channel,
                                                      "code": err.code, "retryable": retryable})
            count("DeliveriesRetried" if retryable else "DeliveriesRefused")
            if retryable:
                (out.deferred if d.next_attempt_at else out.pending).append(rid)
            else:
                err.message = d.error or err.message
                out.failed.append((rid, err.message))
                apply_event(ctx.store, invoice_id, Event(
                    invoice_id=invoice_id, kind=EventKind.BOUNCED, at=clock.now(), recipient_id=rid,
                    id=f"dlv-failed:{purpose}:{rid}:{channel}",
                    detail={"channel": channel, "role": p.recipient.role.value, "stage": "send", "error": err.code,
                            "purpose": purpose, **({"gave_up": d.error} if d.error and d.error.startswith("gave up") else {})}))
            continue
        store.complete(d, message_id)
        count("DeliveriesSent")
        _record(ctx, invoice_id, purpose, p, event_kind, message_id, detail or {})
        out.sent.append(rid)
    return out


def _deferrable(purpose: str) -> bool:
    """What the invoice's path retries later: the invoice itself and the scenario's messages (a
    mass action's job, an API redelivery retry now: their callers wait for the outcome)."""
    return purpose == "initial" or purpose.startswith("sc-")


def _record(ctx: Context, invoice_id: str, purpose: str, p: PlannedDelivery, kind: EventKind,
            message_id: str | None, detail: dict) -> None:
    info = {"channel": p.channel.value, "role": p.recipient.role.value, "purpose": purpose, **detail}
    if message_id:
        info["message_id"] = message_id
    apply_event(ctx.store, invoice_id, Event(
        invoice_id=invoice_id, kind=kind, at=clock.now(), recipient_id=p.recipient.id,
        id=f"dlv:{purpose}:{p.recipient.id}:{p.channel.value}", detail=info))
    if p.channel in CONFIRMED_ON_SEND and not detail.get("unconfirmed"):  # the receiver took it: delivered
        apply_event(ctx.store, invoice_id, Event(
            invoice_id=invoice_id, kind=EventKind.DELIVERED, at=clock.now(), recipient_id=p.recipient.id,
            id=f"dlv-ok:{purpose}:{p.recipient.id}:{p.channel.value}", detail=info))


def settle(out: Outcome, plan: DispatchPlan, *, require_one: bool = True) -> None:
    """Retry what is pending; fail when nobody could be reached (with every reason). Deferred
    deliveries (a receiver down) are the path's to retry later: they neither raise nor fail it."""
    if out.pending:
        raise RetryableError(f"{len(out.pending)} delivery(ies) to retry ({len(out.sent)} sent)", code="deliveries_pending")
    if require_one and not out.sent and not out.deferred:
        reasons = "; ".join(f"{rid}: {why}" for rid, why in [*out.failed, *plan.unreachable]) or "no recipient"
        raise PermanentError(f"no recipient could be reached ({reasons})", code="no_recipient_reached")
