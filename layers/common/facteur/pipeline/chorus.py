"""The Chorus Pro channel in the invoice's path: the public buyer's rules checked before sending
(held otherwise), the Factur-X deposited as a mixed E2 flow, and a scheduled sweep of the
supplier's invoices whose Chorus status changed (`dateHeureEtatCourant`), each status mapped to
the French lifecycle and recorded once (delivery/chorus_pro.py has the contract and the client).

The sweep's cursor: pipeline/platforms.py (CHORUS#{supplier}).
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from .. import clock
from ..context import Context
from ..controls.findings import Finding, Severity
from ..delivery.chorus_pro import STATUS_CODES, ChorusPro, Credentials
from ..errors import Conflict, InvalidInput, PermanentError
from ..model.directory import Channel, Customer, Recipient, Supplier
from ..model.invoice import Invoice
from ..model.lifecycle import LIFECYCLE, Source
from ..observability import count, logger
from ..tracking.store import InvoiceRecord
from . import platforms
from .outbound import safe_name

PARIS = ZoneInfo("Europe/Paris")  # Chorus Pro's times are Paris local times, without an offset

OVERLAP = timedelta(minutes=10)  # each pass re-reads the end of the previous one: nothing falls between two


def client(ctx: Context, supplier: Supplier) -> ChorusPro:
    if supplier.chorus is None:
        raise PermanentError(f"supplier {supplier.id} has no Chorus Pro access in the directory (chorus: ...)",
                             code="chorus_not_configured")
    value = platforms.own_secret(ctx, supplier.id, supplier.chorus.secret_id, "chorus", "Chorus Pro")
    return ChorusPro(supplier.chorus, Credentials.parse(value))


def chorus_recipients(customer: Customer | None) -> list[Recipient]:
    return [r for r in (customer.recipients if customer else []) if r.channel is Channel.CHORUS_PRO]


def _f(rule: str, bt: str, en: str, fr: str) -> Finding:
    return Finding(rule=rule, severity=Severity.ERROR, bt=bt, source="chorus", message=en, message_fr=fr)


def check(ctx: Context, supplier: Supplier, customer: Customer | None, inv: Invoice) -> list[Finding]:
    """The public buyer's own rules, asked of Chorus Pro before anything is sent: a service code
    (BT-10) that the structure has and that is active, an engagement number (BT-13) when required."""
    out: list[Finding] = []
    for r in chorus_recipients(customer):
        if supplier.chorus is None:
            out.append(_f("CHORUS-ACCESS", "BG-7", f"{r.name} is reached through Chorus Pro, and the supplier has no Chorus "
                          "Pro access configured", f"{r.name} se joint par Chorus Pro, et le fournisseur n'a pas d'accès "
                          "Chorus Pro configuré"))
            continue
        rules = client(ctx, supplier).structure_rules(str(r.endpoint))
        service = (inv.buyer_reference or "").strip()
        if rules.service_code_required and not service:
            out.append(_f("CHORUS-SERVICE", "BT-10", f"Chorus Pro: the structure {r.endpoint} requires a service code (BT-10)",
                          f"Chorus Pro : la structure {r.endpoint} exige un code service (BT-10)"))
        elif service and rules.active_services and service not in rules.active_services:
            known = ", ".join(sorted(rules.active_services)[:10])
            out.append(_f("CHORUS-SERVICE", "BT-10", f"Chorus Pro: service code '{service}' is not an active service of "
                          f"{r.endpoint} ({known})", f"Chorus Pro : le code service « {service} » n'est pas un service actif "
                          f"de {r.endpoint} ({known})"))
        if rules.engagement_required and not inv.purchase_order_reference:
            out.append(_f("CHORUS-ENGAGEMENT", "BT-13", f"Chorus Pro: the structure {r.endpoint} requires an engagement "
                          "number (BT-13)", f"Chorus Pro : la structure {r.endpoint} exige un numéro d'engagement (BT-13)"))
    return out


def deposit(ctx: Context, rec: InvoiceRecord, inv: Invoice, recipient: Recipient) -> str:
    """The Factur-X to Chorus Pro; its flow number is the delivery's message id."""
    supplier = ctx.directory.supplier(rec.supplier_id)
    key = rec.documents.get("facturx")
    if not key:
        raise PermanentError("no Factur-X to deposit on Chorus Pro", code="chorus_no_document")
    flow = client(ctx, supplier).deposit(ctx.documents.get(key), f"{safe_name(inv.number)}.pdf")
    logger.info("deposited on Chorus Pro", extra={"invoice_id": rec.invoice_id, "recipient_id": recipient.id, "flow": flow})
    return flow


# --- the status sweep ------------------------------------------------------------------------

def sweep(ctx: Context) -> dict[str, Any]:
    """For each supplier with Chorus Pro access: its invoices whose status changed since the last
    pass, each status recorded once on the invoice (a status the lifecycle refuses is reported,
    never a crash); the cursor moves only when the pass succeeded."""
    recorded = seen = skipped = 0
    now = clock.now()
    for supplier_id in ctx.directory.suppliers():
        supplier = ctx.directory.supplier(supplier_id)
        if supplier.chorus is None:
            continue
        last, _ = platforms.read_cursor(ctx, "chorus", supplier_id)
        since = clock.parse_iso(last) - OVERLAP if last else now - timedelta(days=30)
        fmt = "%Y-%m-%dT%H:%M"
        for item in client(ctx, supplier).invoices_changed(since.astimezone(PARIS).strftime(fmt),
                                                          now.astimezone(PARIS).strftime(fmt)):
            seen += 1
            try:
                recorded += _apply(ctx, supplier_id, item)
            except (InvalidInput, Conflict) as exc:
                skipped += 1
                logger.warning("Chorus Pro status not applied", extra={"supplier_id": supplier_id, "status": item.get("statut"),
                                                                       "why": getattr(exc, "message", str(exc))})
        platforms.write_cursor(ctx, "chorus", supplier_id, clock.iso(now))
    count("ChorusStatuses", recorded)
    return {"seen": seen, "recorded": recorded, "skipped": skipped}


def _apply(ctx: Context, supplier_id: str, item: dict[str, Any]) -> int:
    from .tracker import WAKING, _apply_status, wake

    invoice_id = ctx.store.invoice_by_number(supplier_id, str(item.get("numeroFacture") or ""))
    status = str(item.get("statut") or "")
    code = STATUS_CODES.get(status)
    if invoice_id is None or code is None:
        return 0  # not an invoice of ours, or a step of the buyer's internal workflow
    rec = ctx.store.get(invoice_id)
    reference = f"chorus:{item.get('identifiantFactureCPP')}:{status}:{item.get('dateHeureEtatCourant')}"
    if ctx.store.has_event(invoice_id, f"lifecycle:{reference}"):
        return 0
    rule = LIFECYCLE[code]
    source = next(iter(rule.issuers)) if len(rule.issuers) == 1 else Source.PLATFORM
    comment = str(item.get("commentaireEtatCourant") or "").strip()
    extra = {"platform": "chorus_pro", "chorus_status": status, "chorus_id": item.get("identifiantFactureCPP")}
    when = str(item.get("dateHeureEtatCourant") or "")
    at = datetime.fromisoformat(when[:16]).replace(tzinfo=PARIS) if when else None
    if "reason" in rule.needs and not comment:
        comment = f"Chorus Pro: {status}"  # a reason is mandatory for 208, 210, 213: Chorus's own word when it gave none
    _apply_status(ctx, supplier_id, rec, code, source, reason_code=status if "reason" in rule.needs else None,
                  reason=comment or None, amount=None, currency=None, at=at, reference=reference, extra=extra)
    if status == "MISE_A_DISPOSITION":  # made available to the buyer: the Chorus recipient's delivery
        platforms.delivered(ctx, invoice_id, chorus_recipients(ctx.directory.customer(supplier_id, rec.customer_id or "")),
                            at, "chorus")
    if rule.kind in WAKING:
        wake(ctx, invoice_id, rule.kind.value)
    return 1

