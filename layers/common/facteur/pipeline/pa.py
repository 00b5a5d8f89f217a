"""The PA channel in the invoice's path (a plateforme agréée of the French network, through its
AFNOR XP Z12-013 APIs: delivery/afnor.py).

- Before sending, the buyer's electronic address (the recipient's, else the invoice's BT-49, else
  the customer's SIREN) is looked up in the directory: unknown, or with no platform receiving for
  it, the invoice is held with the reason.
- The Factur-X is submitted as a flow, idempotent by its tracking id (the delivery record).
- A scheduled sweep reads the supplier's flows updated since the last pass (`updatedAfter`, the
  PA's own times): lifecycle flows (CDAR) are fetched, kept as received and applied to the invoice
  they name (a message naming no known invoice, or a status the lifecycle refuses, is kept with a
  report under lifecycle/{supplier}/not-applied/, never dropped); an invoice
  flow the platform refused (acknowledgement `Error`) is the platform's rejection (213) with its
  reasons; 202/203 are the PA recipient's delivery.
- The statuses the seller sets (209 completed, 212 cashed, full or partial) go back to the PA as
  CDAR messages, each once, checked with the official rules before they leave.

The sweep's cursor: pipeline/platforms.py (PA#{supplier})."""
from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

from .. import clock
from ..context import Context
from ..controls.findings import Finding, Severity
from ..delivery.afnor import AfnorPlatform, Credentials
from ..errors import Conflict, FacteurError, InvalidInput, PermanentError
from ..model.directory import Channel, Customer, Recipient, Supplier
from ..model.invoice import Invoice
from ..model.lifecycle import EventKind, Source
from ..observability import count, logger
from ..tracking.store import Event, InvoiceRecord
from . import platforms
from .outbound import safe_name

REPORTED = {EventKind.COMPLETED: 209, EventKind.PAID: 212, EventKind.PARTIALLY_PAID: 212}  # what the seller sets
FIRST_SWEEP = timedelta(days=30)
OVERLAP = timedelta(minutes=10)


def client(ctx: Context, supplier: Supplier) -> AfnorPlatform:
    if supplier.pa is None:
        raise PermanentError(f"supplier {supplier.id} has no PA configured in the directory (pa: ...)",
                             code="pa_not_configured")
    value = platforms.own_secret(ctx, supplier.id, supplier.pa.secret_id, "pa", "PA")
    return AfnorPlatform(supplier.pa, Credentials.parse(value))


def pa_recipients(customer: Customer | None) -> list[Recipient]:
    return [r for r in (customer.recipients if customer else []) if r.channel is Channel.PA]


def address_for(recipient: Recipient, inv: Invoice, customer: Customer | None) -> str | None:
    """Where the invoice goes in the French network: the recipient's address, else the invoice's
    own (BT-49), else the customer's SIREN (the company's default line)."""
    return recipient.endpoint or inv.buyer.electronic_address or (customer.siren if customer else None) or inv.buyer.siren


def _f(rule: str, bt: str, en: str, fr: str) -> Finding:
    return Finding(rule=rule, severity=Severity.ERROR, bt=bt, source="pa", message=en, message_fr=fr)


def check(ctx: Context, supplier: Supplier, customer: Customer | None, inv: Invoice) -> list[Finding]:
    """Can the PA route it: the buyer's address is in the directory, a platform receives for it,
    and the invoice (BT-49) names that address."""
    out: list[Finding] = []
    for r in pa_recipients(customer):
        if supplier.pa is None:
            out.append(_f("PA-ACCESS", "BG-7", f"{r.name} is reached through a PA, and the supplier has no PA configured",
                          f"{r.name} se joint par une plateforme agréée, et le fournisseur n'en a pas de configurée"))
            continue
        address = address_for(r, inv, customer)
        if not address:
            out.append(_f("PA-ADDRESS", "BT-49", f"{r.name}: no electronic address for the buyer (BT-49, or the customer's "
                          "SIREN)", f"{r.name} : pas d'adresse électronique de l'acheteur (BT-49, ou SIREN du client)"))
            continue
        bt49 = inv.buyer.electronic_address
        if bt49 and bt49 != address:
            out.append(_f("PA-ADDRESS", "BT-49", f"the invoice is addressed to {bt49} (BT-49) and {r.name}'s address in "
                          f"the French directory is {address}", f"la facture est adressée à {bt49} (BT-49) et l'adresse "
                          f"de {r.name} dans l'annuaire est {address}"))
            continue
        line = client(ctx, supplier).directory_line(address)
        if line is None:
            out.append(_f("PA-DIRECTORY", "BT-49", f"{address} is not in the French e-invoicing directory",
                          f"{address} n'est pas dans l'annuaire de la facturation électronique"))
        elif not line.enabled:
            out.append(_f("PA-DIRECTORY", "BT-49", f"no platform receives invoices for {address} (directory line disabled)",
                          f"aucune plateforme ne reçoit les factures de {address} (ligne d'annuaire désactivée)"))
    return out


def tracking_id(invoice_id: str, purpose: str, recipient_id: str) -> str:
    """The flow's tracking id (at most 64 characters): the invoice, then a digest of the delivery record."""
    return f"{invoice_id}.{hashlib.sha256(f'{purpose}|{recipient_id}'.encode()).hexdigest()[:16]}"


def deposit(ctx: Context, rec: InvoiceRecord, inv: Invoice, recipient: Recipient, purpose: str) -> str:
    """The Factur-X to the supplier's PA; its flow id is the delivery's message id."""
    supplier = ctx.directory.supplier(rec.supplier_id)
    key = rec.documents.get("facturx")
    if not key:
        raise PermanentError("no Factur-X to submit to the PA", code="pa_no_document")
    assert supplier.pa is not None
    flow = client(ctx, supplier).submit(ctx.documents.get(key), f"{safe_name(inv.number)}.pdf", syntax="Factur-X",
                                        tracking_id=tracking_id(rec.invoice_id, purpose, recipient.id),
                                        profile=supplier.pa.profile, processing_rule="B2B")
    logger.info("submitted to the PA", extra={"invoice_id": rec.invoice_id, "recipient_id": recipient.id,
                                              "flow": flow.get("flowId")})
    return str(flow["flowId"])


# --- the seller's statuses, back to the PA -----------------------------------------------------

def report(ctx: Context, rec: InvoiceRecord, inv: Invoice | None = None) -> int:
    """Every status the seller set (209, 212) not yet sent to the PA, as a CDAR flow, once each
    (delivery records); retryable errors leave them for the next run of the path."""
    from .dispatch import DispatchPlan, PlannedDelivery, deliver, settle

    customer = ctx.directory.customer(rec.supplier_id, rec.customer_id) if rec.customer_id else None
    recipients = pa_recipients(customer)
    if not recipients:
        return 0
    timeline = ctx.store.timeline(rec.invoice_id)
    sent_to = {e.recipient_id for e in timeline if e.kind is EventKind.SENT and (e.detail or {}).get("channel") == "pa"}
    targets = [r for r in recipients if r.id in sent_to]
    reported = {(e.detail or {}).get("purpose") for e in timeline if e.kind is EventKind.STATUS_REPORTED}
    due = [e for e in timeline if e.kind in REPORTED and (e.detail or {}).get("platform") != "pa"]
    if not targets or not due:
        return 0
    if inv is None:
        assert rec.canonical_key
        inv = Invoice.model_validate_json(ctx.documents.get(rec.canonical_key))
    supplier = ctx.directory.supplier(rec.supplier_id)
    sent = 0
    for e in due:
        code = REPORTED[e.kind]
        purpose = f"status:{code}:{e.id or clock.iso(e.at)}"
        if purpose in reported:
            continue
        amount = (e.detail or {}).get("amount")
        data = _cdar(inv, code, e, amount)
        plan = DispatchPlan([PlannedDelivery(r, Channel.PA) for r in targets])

        def send(r: Recipient, data: bytes = data, purpose: str = purpose, code: int = code) -> str:
            flow = client(ctx, supplier).submit(data, f"{safe_name(inv.number)}-{code}.xml", syntax="CDAR",
                                                tracking_id=tracking_id(rec.invoice_id, purpose, r.id))
            return str(flow["flowId"])

        out = deliver(ctx, rec.invoice_id, plan, purpose, send, event_kind=EventKind.STATUS_REPORTED,
                      detail={"status_code": code})  # not a new status: the one recorded, sent on
        settle(out, plan, require_one=False)
        sent += len(out.sent)
    return sent


def _cdar(inv: Invoice, code: int, e: Event, amount: Any) -> bytes:
    from decimal import Decimal

    from ..controls.official import check
    from ..formats import cdar

    msg = cdar.message_for(inv, code, amount=Decimal(str(amount)) if amount is not None else None, at=e.at,
                           message_id=f"CDV-{safe_name(inv.number)}-{code}-{e.at.strftime('%Y%m%d%H%M%S')}")
    data = cdar.write(msg)
    blocking = check(data).blocking
    if blocking:  # Facteur's own message breaking the official rules: never sent, and said why
        raise PermanentError(f"the CDAR {code} message for {inv.number} breaks {', '.join(sorted({f.rule for f in blocking}))}",
                             code="cdar_invalid")
    return data


# --- the sweep -------------------------------------------------------------------------------

def sweep(ctx: Context, only: str | None = None) -> dict[str, Any]:
    """For each supplier with a PA (or `only` this one, rung by its PA's webhook): its flows updated
    since the last pass, applied once each. The cursor is the PA's own `updatedAt` (no clock of ours
    compared with theirs); each pass re-reads a short overlap and skips the flows it already saw
    there, so a flow stamped with the same time as the last one read, or committed late, is not
    missed. The cursor moves past each applied flow. The scheduled pass also keeps the supplier's
    webhook registered at the PA (the doorbell that makes statuses arrive within seconds)."""
    totals = {"seen": 0, "recorded": 0, "skipped": 0, "not_applied": 0}
    for supplier_id in [only] if only else ctx.directory.suppliers():
        supplier = ctx.directory.supplier(supplier_id)
        if supplier.pa is None:
            continue
        pa = client(ctx, supplier)
        if only is None:
            ensure_webhook(ctx, supplier_id, pa)
        last, seen = platforms.read_cursor(ctx, "pa", supplier_id)
        since = clock.parse_iso(last) - OVERLAP if last else clock.now() - FIRST_SWEEP
        # in the PA's order (by updatedAt; flows of the same instant as the PA lists them: 202 before 203)
        flows = sorted(pa.search({"updatedAfter": clock.iso(since), "flowType": ["CustomerInvoice", "CustomerInvoiceLC"]}),
                       key=lambda f: clock.parse_iso(str(f.get("updatedAt"))))
        for flow in flows:
            mark = f"{flow.get('flowId')}@{flow.get('updatedAt')}"
            if mark in seen:
                continue
            totals["seen"] += 1
            result = _apply_flow(ctx, supplier, pa, flow)
            totals[result] = totals.get(result, 0) + 1
            at = str(flow.get("updatedAt"))
            last = max(last or at, at)
            horizon = clock.parse_iso(last) - OVERLAP
            seen = frozenset(m for m in (*seen, mark) if clock.parse_iso(m.rsplit("@", 1)[1]) > horizon)
            platforms.write_cursor(ctx, "pa", supplier_id, last, seen)  # past each applied flow: a crash resumes after it
    count("PaStatuses", totals["recorded"])
    return totals


# --- the PA's webhook: a doorbell ---------------------------------------------------------------
# The PA calls {public API}/pa/events/{supplier}/{token} when one of the supplier's flows changes.
# Facteur trusts nothing in the call: it rings the supplier's sweep, which asks the PA itself (with
# its own credentials). The token (random, per supplier, in the invoices table) only keeps strangers
# from ringing; an unknown one is answered 404.
#
# | item                  | PK                   | SK       |
# |-----------------------|----------------------|----------|
# | the webhook           | PA#{supplier}        | WEBHOOK  |

def _webhook_item(ctx: Context, supplier_id: str) -> dict[str, str] | None:
    item = ctx.client("dynamodb").get_item(TableName=ctx.settings.require("invoices_table"), ConsistentRead=True,
                                           Key={"PK": {"S": f"PA#{supplier_id}"}, "SK": {"S": "WEBHOOK"}}).get("Item")
    return {k: v["S"] for k, v in item.items() if "S" in v} if item else None


def ensure_webhook(ctx: Context, supplier_id: str, pa: AfnorPlatform) -> str | None:
    """The supplier's webhook at its PA, registered (again) when the PA does not list it."""
    import secrets

    base = ctx.public_api_url
    if not base:
        return None  # no public URL to be called back on: the scheduled sweep alone follows the PA
    item = _webhook_item(ctx, supplier_id)
    listed = {str(w.get("webhookId")): str(w.get("callbackUrl")) for w in pa.webhooks()}
    if item and listed.get(item.get("webhook_id", "")) == item.get("url") and item.get("url", "").startswith(base):
        return item["webhook_id"]
    token = secrets.token_urlsafe(24)
    url = f"{base}/pa/events/{supplier_id}/{token}"
    for wid, old in listed.items():  # an older doorbell of Facteur's for this supplier: replaced
        if old.startswith(f"{base}/pa/events/{supplier_id}/"):
            pa.delete_webhook(wid)
    webhook_id = pa.register_webhook(url, ["CustomerInvoice", "CustomerInvoiceLC"])
    ctx.client("dynamodb").put_item(TableName=ctx.settings.require("invoices_table"), Item={
        "PK": {"S": f"PA#{supplier_id}"}, "SK": {"S": "WEBHOOK"}, "token": {"S": token}, "url": {"S": url},
        "webhook_id": {"S": webhook_id}, "at": {"S": clock.iso(clock.now())}})
    logger.info("PA webhook registered", extra={"supplier_id": supplier_id, "webhook_id": webhook_id})
    return webhook_id


def ring(ctx: Context, supplier_id: str, token: str) -> dict[str, Any]:
    """The PA rang: the supplier's sweep runs now (asynchronously). Unknown supplier or token: NotFound."""
    import hmac
    import json

    from ..errors import NotFound

    item = _webhook_item(ctx, supplier_id) if supplier_id.replace("-", "").isalnum() else None
    if not item or not hmac.compare_digest(item.get("token", ""), token):
        raise NotFound("no such webhook")
    function = ctx.settings.require("platform_sweep_function")
    ctx.client("lambda").invoke(FunctionName=function, InvocationType="Event",
                                Payload=json.dumps({"platform": "pa", "supplier": supplier_id}).encode())
    count("PaWebhookRings")
    return {"accepted": True}


def _apply_flow(ctx: Context, supplier: Supplier, pa: AfnorPlatform, flow: dict[str, Any]) -> str:
    kind, direction = flow.get("flowType"), flow.get("flowDirection")
    ack = flow.get("acknowledgement") or {}
    if kind == "CustomerInvoice" and direction == "Out":
        if ack.get("status") != "Error":
            return "skipped"  # taken (Ok) or not yet checked (Pending): its statuses come as CDAR flows
        invoice_id = str(flow.get("trackingId") or "").split(".")[0]
        try:
            rec = ctx.store.get(invoice_id)
        except FacteurError:
            return _not_applied(ctx, supplier, flow, None, f"tracking id {flow.get('trackingId')!r}")
        if rec.supplier_id != supplier.id:
            return _not_applied(ctx, supplier, flow, None, f"tracking id {flow.get('trackingId')!r}")
        reasons = "; ".join(f"{d.get('reasonCode')}: {d.get('reasonMessage')}" for d in ack.get("details") or []) \
            or "refused by the platform"
        return _status(ctx, supplier, rec, 213, Source.PLATFORM, reason_code=str((ack.get("details") or [{}])[0]
                                                                                  .get("reasonCode") or "REJ"),
                       reason=f"{supplier.pa.name if supplier.pa else 'PA'}: {reasons}"[:2000], amount=None,
                       at=None, reference=f"pa:{flow.get('flowId')}:ack", extra={"flow_id": flow.get("flowId")})
    if kind == "CustomerInvoiceLC" and direction == "In":
        return _lifecycle_flow(ctx, supplier, pa, flow)
    if kind == "CustomerInvoiceLC" and direction == "Out" and ack.get("status") == "Error":
        logger.warning("the PA refused a status Facteur sent", extra={"supplier_id": supplier.id, "flow": flow.get("flowId"),
                                                                       "details": ack.get("details")})
        count("PaStatusesRefused")
    return "skipped"


def _lifecycle_flow(ctx: Context, supplier: Supplier, pa: AfnorPlatform, flow: dict[str, Any]) -> str:
    from ..controls.official import check
    from ..formats import cdar

    flow_id = str(flow.get("flowId"))
    body = pa.flow_file(flow_id)
    key = ctx.documents.put(f"lifecycle/{supplier.id}/pa/{safe_name(flow_id)}.xml", body, "application/xml")  # as received
    try:
        msg = cdar.read(body)
    except FacteurError as exc:
        return _not_applied(ctx, supplier, flow, key, f"unreadable CDAR: {exc.message}")
    findings = sorted({f.rule for f in check(body).blocking})
    results = []
    for st in msg.statuses:
        invoice_id = ctx.store.invoice_by_number(supplier.id, st.invoice_number)
        if invoice_id is None:
            results.append(_not_applied(ctx, supplier, flow, key, f"invoice {st.invoice_number} is not one of {supplier.id}'s"))
            continue
        rec = ctx.store.get(invoice_id)
        # a CDAR's time is to the second: never before the submission it answers (the timeline stays in order)
        submitted = [e.at for e in ctx.store.timeline(invoice_id) if e.kind is EventKind.SENT
                     and (e.detail or {}).get("channel") == "pa"]
        at = max([msg.issued_at, *submitted])
        extra = {"platform": "pa", "flow_id": flow_id, "message_id": msg.id, "cdar_key": key,
                 **({"cdar_findings": findings} if findings else {})}
        source = Source(msg.source) if msg.source else None
        result = _status(ctx, supplier, rec, st.code, source, reason_code=st.reason_code, reason=st.reason,
                         amount=st.amount, at=at, reference=f"pa:{flow_id}:{st.code}", extra=extra)
        results.append(result)
        if result == "recorded" and st.code in (202, 203):  # the buyer's platform has it: the PA recipient's delivery
            customer = ctx.directory.customer(supplier.id, rec.customer_id) if rec.customer_id else None
            platforms.delivered(ctx, invoice_id, pa_recipients(customer), at, "pa")
    return "recorded" if "recorded" in results else (results[0] if results else "skipped")


def _status(ctx: Context, supplier: Supplier, rec: InvoiceRecord, code: int, source: Source | None, **kw: Any) -> str:
    from .tracker import _apply_status

    if ctx.store.has_event(rec.invoice_id, f"lifecycle:{kw['reference']}"):
        return "skipped"
    try:
        _apply_status(ctx, supplier.id, rec, code, source, currency=None, **kw)
    except (InvalidInput, Conflict) as exc:  # a status the lifecycle refuses (who, when, what it needs): kept, reported
        return _not_applied(ctx, supplier, {"flowId": kw["reference"], "invoice_id": rec.invoice_id, "code": code},
                            kw["extra"].get("cdar_key"), f"status {code} not applied: {getattr(exc, 'message', exc)}")
    return "recorded"


def _not_applied(ctx: Context, supplier: Supplier, flow: dict[str, Any], key: str | None, why: str) -> str:
    """A flow (or a status in it) Facteur cannot put on an invoice: kept with this report for the supplier."""
    import json

    report = {"flow": flow, "kept_as": key, "why": why, "at": clock.iso(clock.now())}
    name = safe_name(f"{flow.get('flowId')}-{flow.get('code', '')}")
    ctx.documents.put(f"lifecycle/{supplier.id}/not-applied/{name}.json", json.dumps(report, default=str).encode(),
                      "application/json")
    logger.warning("PA flow not applied", extra={"supplier_id": supplier.id, "flow": flow.get("flowId"), "why": why})
    count("PaFlowsNotApplied")
    return "not_applied"
