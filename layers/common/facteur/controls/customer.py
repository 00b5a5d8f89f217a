"""What each customer expects, checked on the canonical invoice before it leaves."""
from __future__ import annotations

from ..model.directory import Customer, OutputFormat, Supplier
from ..model.invoice import Invoice
from .findings import Finding, Severity

# Formats whose syntax requires at least one invoice line (MINIMUM and BASIC WL carry none).
LINE_FORMATS = {OutputFormat.UBL, OutputFormat.EDIFACT, OutputFormat.CHORUS}


def _f(rule: str, bt: str, en: str, fr: str) -> Finding:
    return Finding(rule=rule, severity=Severity.ERROR, message=en, message_fr=fr, bt=bt, source="customer")


DATE_HOLD = "HOLD-NOT-BEFORE"  # held until the customer's `not_before` date, then checked again (reminders/sweep.py)


def only_date_hold(blocking_rules: set[str]) -> bool:
    """Held by the customer's date and nothing else: the daily sweep checks it again on that day."""
    return blocking_rules == {DATE_HOLD}


def check_customer(inv: Invoice, customer: Customer | None) -> list[Finding]:
    if customer is None:
        return [_f("CUST-UNKNOWN", "BG-7", "the buyer is not in the supplier's customer directory (no recipient to send to)",
                   "l'acheteur n'est pas dans l'annuaire clients du fournisseur (aucun destinataire)")]
    out = []
    e = customer.expectations
    if e.require_purchase_order and not inv.purchase_order_reference:
        out.append(_f("CUST-PO", "BT-13", f"{customer.name} requires a purchase order reference (BT-13)",
                      f"{customer.name} exige un numéro de bon de commande (BT-13)"))
    if (e.require_buyer_reference or customer.public_sector) and not inv.buyer_reference:
        out.append(_f("CUST-BUYER-REF", "BT-10", f"{customer.name} requires a buyer reference / service code (BT-10)",
                      f"{customer.name} exige une référence acheteur / code service (BT-10)"))
    if e.require_contract_reference and not inv.contract_reference:
        out.append(_f("CUST-CONTRACT", "BT-12", f"{customer.name} requires a contract reference (BT-12)",
                      f"{customer.name} exige une référence de contrat (BT-12)"))
    if len(inv.attachments) < e.required_attachments:
        out.append(_f("CUST-ATTACHMENTS", "BG-24",
                      f"{customer.name} requires {e.required_attachments} supporting document(s), got {len(inv.attachments)}",
                      f"{customer.name} exige {e.required_attachments} justificatif(s), reçu(s) : {len(inv.attachments)}"))
    if e.max_amount is not None and inv.tax_inclusive_amount > e.max_amount:
        out.append(_f("CUST-MAX-AMOUNT", "BT-112", f"total {inv.tax_inclusive_amount} is over {customer.name}'s limit {e.max_amount}",
                      f"le total {inv.tax_inclusive_amount} dépasse la limite de {customer.name} ({e.max_amount})"))
    line_formats = [f.value for f in customer.all_formats() if f in LINE_FORMATS]
    if line_formats and not inv.billed_lines:
        out.append(_f("CUST-FORMAT-LINES", "BG-25",
                      f"{customer.name} receives {', '.join(line_formats)}, which needs invoice lines (BR-16); "
                      f"this {inv.profile.upper()} invoice has none: send it with its lines (EN 16931 profile)",
                      f"{customer.name} reçoit le format {', '.join(line_formats)}, qui exige des lignes de facture "
                      f"(BR-16) ; cette facture {inv.profile.upper()} n'en a pas : l'envoyer avec ses lignes (profil EN 16931)"))
    h = customer.hold  # what must not leave: held with why, released by the supplier (POST .../release)
    if h.blocked:
        out.append(_f("HOLD-BLOCKED", "BG-7", f"{customer.name} is blocked: {h.blocked}", f"{customer.name} est bloqué : {h.blocked}"))
    if h.credit_hold:
        out.append(_f("HOLD-CREDIT", "BG-7", f"{customer.name} is on credit hold: {h.credit_hold}",
                      f"{customer.name} est en blocage crédit : {h.credit_hold}"))
    if h.approval_above is not None and inv.tax_inclusive_amount > h.approval_above:
        out.append(_f("HOLD-APPROVAL", "BT-112", f"total {inv.tax_inclusive_amount} is above {h.approval_above}: it waits for "
                      "your approval (release it)", f"le total {inv.tax_inclusive_amount} dépasse {h.approval_above} : la "
                      "facture attend votre validation (la libérer)"))
    if h.not_before is not None:
        from zoneinfo import ZoneInfo

        from .. import clock

        if clock.now().astimezone(ZoneInfo("Europe/Paris")).date() < h.not_before:
            out.append(_f(DATE_HOLD, "BG-7", f"{customer.name} takes no invoice before {h.not_before}: held until "
                          "then, checked again and sent that morning", f"{customer.name} ne reçoit pas de facture avant le "
                          f"{h.not_before:%d/%m/%Y} : retenue jusque-là, contrôlée de nouveau et envoyée ce matin-là"))
    # Who is reachable is what dispatch will do (one rule: pipeline.dispatch.plan_dispatch), so
    # that an invoice nobody can receive is held here, with why, instead of failing at dispatch.
    from ..pipeline.dispatch import plan_dispatch

    plan = plan_dispatch(customer, inv=inv)
    why = "; ".join(f"{rid}: {reason}" for rid, reason in plan.unreachable)
    if not plan.deliveries:
        out.append(_f("CUST-NO-RECIPIENT", "BG-7", f"{customer.name} has no recipient Facteur can reach" + (f" ({why})" if why else ""),
                      f"{customer.name} n'a aucun destinataire joignable" + (f" ({why})" if why else "")))
    elif plan.unreachable:
        out.append(Finding(rule="CUST-RECIPIENT-UNREACHABLE", severity=Severity.WARNING, bt="BG-7", source="customer",
                           message=f"some recipients of {customer.name} will not receive it: {why}",
                           message_fr=f"certains destinataires de {customer.name} ne la recevront pas : {why}"))
    return out


def _digits(text: str | None) -> str:
    return "".join(ch for ch in (text or "") if ch.isalnum()).upper()


def check_seller(inv: Invoice, supplier: Supplier) -> list[Finding]:
    """Tenancy: the seller (BG-4) must be the supplier who sends it. A supplier cannot issue
    invoices in another company's name: matched on the SIREN (the first 9 digits of a SIRET
    too) or the VAT number from the supplier's profile."""
    known = {v for v in (_digits(supplier.siren), _digits(supplier.vat_id)) if v}
    if not known:
        return []  # a profile without identifiers cannot be checked (loading the directory warns)
    seller = inv.seller
    given = {_digits(seller.legal_id), _digits(seller.legal_id)[:9], _digits(seller.vat_id)} - {""}
    if known & given:
        return []
    shown = seller.legal_id or seller.vat_id or seller.name or "?"
    return [Finding(rule="SELLER-NOT-SUPPLIER", severity=Severity.FATAL, bt="BG-4", source="tenancy",
                    message=f"the seller ({shown}) is not {supplier.name}, the supplier sending it",
                    message_fr=f"le vendeur ({shown}) n'est pas {supplier.name}, le fournisseur qui l'envoie")]
