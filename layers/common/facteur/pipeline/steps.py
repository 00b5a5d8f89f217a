"""The steps of an invoice's state machine: check, convert, dispatch, progress (milestones),
remind. Each takes the invoice id, reads what it needs, records what happened on the timeline
and returns a small JSON-able result for the next state."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from .. import clock
from ..context import Context
from ..controls.customer import check_customer, check_seller
from ..controls.document import check_read
from ..controls.findings import Finding, Severity
from ..controls.french import auto_complete, french_rules_apply
from ..controls.pdfa import check_facturx_pdf
from ..conversion import convert as convert_to
from ..conversion import lost_in
from ..delivery import links
from ..delivery.email import build_message
from ..errors import PermanentError
from ..formats import cii, facturx, ubl
from ..formats.detect import Kind
from ..formats.reader import read_document
from ..formats.unread import unread
from ..model.directory import Channel, Customer, Milestones, OutputFormat
from ..model.invoice import Invoice
from ..model.lifecycle import EventKind, Status
from ..observability import count, logger
from ..tracking.store import Event, InvoiceRecord, apply_event
from .dispatch import deliver, plan_dispatch, settle
from .intake import pdf_capture_for, save_description
from .milestones import Facts, plan_next


def _load(ctx: Context, invoice_id: str) -> tuple[InvoiceRecord, Invoice]:
    rec = ctx.store.get(invoice_id)
    if not rec.canonical_key:
        raise PermanentError(f"invoice {invoice_id} has no canonical data")
    return rec, Invoice.model_validate_json(ctx.documents.get(rec.canonical_key))


def _customer(ctx: Context, rec: InvoiceRecord) -> Customer | None:
    return ctx.directory.customer(rec.supplier_id, rec.customer_id) if rec.customer_id else None


# --- check -------------------------------------------------------------------------------

def check(ctx: Context, invoice_id: str) -> dict:
    """EN 16931 (and profile) rules on what the supplier sent, plus the customer's expectations.
    Any blocking finding holds the invoice with its reasons; otherwise it is deposited (200)."""
    rec, inv = _load(ctx, invoice_id)
    original = ctx.documents.get(rec.original_key)
    supplier = ctx.directory.supplier(rec.supplier_id)
    read = read_document(original, max_bytes=ctx.settings.max_input_bytes, pdf_capture=pdf_capture_for(ctx, supplier))
    inv, added = auto_complete(inv, supplier)
    if added:  # opt-in: the missing French mentions are added, and the timeline says which
        key = ctx.documents.put(f"canonical/{rec.supplier_id}/{invoice_id}-completed.json",
                                inv.model_dump_json(by_alias=True, exclude_none=True).encode(), "application/json")
        apply_event(ctx.store, invoice_id, Event(invoice_id=invoice_id, kind=EventKind.CORRECTED, at=clock.now(),
                                                 actor="facteur", detail={"auto_completed": added}),
                    mutate=lambda r: setattr(r, "canonical_key", key))
    fr = french_rules_apply(inv)
    if added:  # completed: check the CII we will send
        read.invoice, read.xml, read.syntax = inv, None, Kind.JSON
    # The supplier's PDF container is not what leaves (Facteur sends its own Factur-X): its defects are warnings.
    findings = check_read(read, fr=fr, container_blocking=False).findings
    customer = _customer(ctx, rec)
    not_read = unread(read.xml, read.syntax, inv) if read.xml is not None else []  # what Facteur could not take
    findings += check_seller(inv, supplier) + check_customer(inv, customer) + _losses(inv, customer, not_read)
    blocking = [f for f in findings if f.blocking]
    as_dicts = [f.model_dump(mode="json", exclude_none=True) for f in findings]
    detail: dict[str, Any] = {"blocking": len(blocking), "warnings": len(findings) - len(blocking)}
    if blocking:
        detail["rules"] = sorted({f.rule for f in blocking})
    if not_read:
        detail["not_read"] = not_read[:50]
    if blocking and _released(ctx, invoice_id):
        detail["released"] = True  # the supplier released it with a reason (on the timeline): it leaves
        blocking = []
    kind = EventKind.HELD if blocking else EventKind.DEPOSITED
    count("InvoicesHeld" if blocking else "InvoicesDeposited")
    def verdict(r: InvoiceRecord) -> None:
        r.findings, r.next_due_at = as_dicts, None  # out of `received`: no longer watched as stale

    apply_event(ctx.store, invoice_id, Event(invoice_id=invoice_id, kind=kind, at=clock.now(), detail=detail),
                mutate=verdict)
    return {"verdict": "held" if blocking else "ok", "blocking": len(blocking)}


def _losses(inv: Invoice, customer: Customer | None, not_read: list[str]) -> list[Finding]:
    """For a customer that requires lossless conversions: one blocking finding per input value
    Facteur could not read and per field that a format it wants could not carry."""
    if customer is None or not customer.lossless:
        return []
    out = [Finding(rule="LOSSLESS", severity=Severity.ERROR, source="customer", message=f"input {item}",
                   message_fr=f"élément du fichier reçu non lu : {item}") for item in not_read]
    for fmt in dict.fromkeys([OutputFormat.FACTURX, *customer.formats]):
        if fmt is OutputFormat.FACTURX:
            lost = lost_in(inv, cii.write(inv, profile=inv.profile), facturx_profile=inv.profile)
        elif fmt is OutputFormat.UBL and inv.billed_lines:
            lost = lost_in(inv, ubl.write(inv))
        elif fmt is OutputFormat.CII:
            lost = lost_in(inv, cii.write(inv, standalone=True))
        else:
            continue
        # BT-24 (the specification claimed) is a declaration, not data: each target declares its own
        out += [Finding(rule="LOSSLESS", severity=Severity.ERROR, source="customer", message=f"{fmt.value} cannot carry {item}",
                        message_fr=f"le format {fmt.value} ne peut pas porter {item}") for item in lost if not item.startswith("BT-24")]
    return out


def _released(ctx: Context, invoice_id: str) -> bool:
    """Released by the supplier since it was last held (and not corrected since)."""
    last = None
    for e in ctx.store.timeline(invoice_id):
        if e.kind in (EventKind.HELD, EventKind.RELEASED, EventKind.CORRECTED):
            last = e.kind
    return last is EventKind.RELEASED


# --- convert -----------------------------------------------------------------------------

def convert(ctx: Context, invoice_id: str) -> dict:
    """Produce every format the customer wants, each checked again with the official rules."""
    rec, inv = _load(ctx, invoice_id)
    customer = _customer(ctx, rec)
    formats = customer.formats if customer else [OutputFormat.FACTURX, OutputFormat.UBL]
    supplier_pdf = None
    if rec.input_kind == Kind.PDF.value:
        supplier_pdf = ctx.documents.get(rec.original_key)
    base = f"documents/{rec.supplier_id}/{invoice_id}/{_safe(inv.number)}"
    produced: dict[str, str] = {}
    problems: list[Finding] = []
    notes: dict[str, Any] = {}
    profile = inv.profile  # the supplier's Factur-X profile is kept (MINIMUM to EXTENDED)
    lost: dict[str, list[str]] = {}
    for fmt in dict.fromkeys([OutputFormat.FACTURX, *formats]):
        if fmt is OutputFormat.FACTURX:
            pdf, pdf_notes, out = _facturx(inv, profile, supplier_pdf, customer.language if customer else "fr")
            notes.update(pdf_notes)
            produced["facturx"] = ctx.documents.put(f"{base}.pdf", pdf, "application/pdf")
        elif fmt is OutputFormat.CHORUS:  # the Factur-X above is what the Chorus Pro channel deposits (IN_DP_E2_CII_FACTURX)
            logger.info("format served by its channel", extra={"invoice_id": invoice_id, "format": fmt.value})
            continue
        else:
            out = convert_to(inv, fmt.value, profile=profile, fr=False, now=clock.now())
            if out.notes:
                notes[fmt.value] = out.notes
            suffix, mime = {"ubl": (".ubl.xml", "application/xml"), "cii": (".cii.xml", "application/xml"),
                            "edifact": (".edi", "application/EDIFACT")}[fmt.value]
            produced[fmt.value] = ctx.documents.put(f"{base}{suffix}", out.data, mime)
        problems += out.blocking
        if out.lost:
            lost[fmt.value] = out.lost
    if lost:
        notes["not_carried"] = lost  # the loss report, on the timeline
    if problems:
        rules = sorted({p.rule for p in problems})
        raise PermanentError(f"produced documents fail official rules: {', '.join(rules)}")
    apply_event(ctx.store, invoice_id, Event(invoice_id=invoice_id, kind=EventKind.CONVERTED, at=clock.now(),
                                             detail={"formats": sorted(produced), **notes}),
                mutate=lambda r: setattr(r, "documents", produced))
    return {"formats": sorted(produced)}


def _facturx(inv: Invoice, profile: str, supplier_pdf: bytes | None, lang: str):
    """The Factur-X to send. From the supplier's PDF when it can be a PDF/A-3 (what PDF/A
    forbids is stripped and listed); when it cannot (fonts not embedded, very common with
    billing tools), rendered from the data with the supplier's PDF embedded beside it, so the
    invoice still leaves, conformant, and nothing the supplier sent is lost."""
    removed: list[str] = []
    out = convert_to(inv, "facturx", profile=profile, supplier_pdf=supplier_pdf, lang=lang, fr=False, pdf_notes=removed)
    notes: dict[str, Any] = {"removed_from_pdf": removed} if removed else {}
    unfit = [f.rule for f in out.blocking if f.source == "pdfa"]
    if supplier_pdf is None or not unfit:
        return out.data, notes, out
    clean, annexes, _ = facturx.sanitised_parts(supplier_pdf)  # its annexes travel once, beside its own PDF
    supplements = {name: f["filedata"] for name, f in annexes.items()}
    supplements[f"{_safe(inv.number)}-original.pdf"] = clean
    rendered = facturx.generate(inv, profile=profile, lang=lang, supplements=supplements)
    out.data = rendered
    out.checked.findings = [f for f in out.checked.findings if f.source != "pdfa"] + check_facturx_pdf(rendered, expected_profile=profile)
    notes["rerendered"] = {"why": sorted(set(unfit)), "supplier_pdf": "embedded as a supplement"}
    return rendered, notes, out


def _safe(text: str) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)[:80] or "invoice"


# --- dispatch ----------------------------------------------------------------------------

def _milestones(customer: Customer | None) -> Milestones:
    return customer.milestones if customer else Milestones()


def _send(ctx: Context, rec: InvoiceRecord, inv: Invoice, customer: Customer, recipient, *, reminder: bool,
          purpose: str) -> str:
    now = clock.now()
    expires = int((now + timedelta(seconds=ctx.settings.link_ttl_seconds)).timestamp())
    claims = links.LinkClaims(rec.invoice_id, recipient.id, "facturx", expires, int(now.timestamp()))
    token = links.sign(ctx.link_key, claims)
    link = f"{ctx.public_api_url}/d/{token}"
    if recipient.channel is Channel.HTTP:
        return _send_webhook(ctx, rec, inv, recipient, link, claims.expires_at.isoformat(), reminder=reminder, purpose=purpose)
    attachments = []
    if recipient.attach_document:
        pdf_key = rec.documents.get("facturx")
        if pdf_key:
            attachments.append((f"{_safe(inv.number)}.pdf", "application/pdf", ctx.documents.get(pdf_key)))
        if "ubl" in rec.documents:
            attachments.append((f"{_safe(inv.number)}.ubl.xml", "application/xml", ctx.documents.get(rec.documents["ubl"])))
    supplier = ctx.directory.supplier(rec.supplier_id)
    msg = build_message(inv=inv, sender=supplier.mail_from or ctx.settings.mail_from, sender_name=supplier.name,
                        to=str(recipient.email), to_name=recipient.name, lang=recipient.language, link=link,
                        link_expires=claims.expires_at.date().isoformat(),
                        attachments=attachments, reminder=reminder, due=_due(inv, customer).isoformat())
    kwargs = {"FromEmailAddress": supplier.mail_from or ctx.settings.mail_from,
              "Destination": {"ToAddresses": [str(recipient.email)]},
              "Content": {"Raw": {"Data": msg.as_bytes()}},
              "EmailTags": [{"Name": "invoice_id", "Value": rec.invoice_id}, {"Name": "recipient_id", "Value": recipient.id},
                            {"Name": "supplier_id", "Value": rec.supplier_id}, {"Name": "purpose", "Value": purpose}]}
    if ctx.settings.ses_configuration_set:
        kwargs["ConfigurationSetName"] = ctx.settings.ses_configuration_set
    return ctx.client("sesv2").send_email(**kwargs)["MessageId"]


def _send_webhook(ctx: Context, rec: InvoiceRecord, inv: Invoice, recipient, link: str, link_expires: str, *,
                  reminder: bool, purpose: str) -> str:
    """Push the invoice to the recipient's endpoint, signed with its secret (delivery/webhook.py).
    The webhook id is the delivery's own: the same on every retry of this delivery."""
    from ..delivery import webhook

    prefix = f"facteur/webhooks/{rec.supplier_id}/"
    if not (recipient.secret_id or "").startswith(prefix):  # a supplier signs with its own secrets only
        raise PermanentError(f"the webhook secret of '{recipient.id}' must be named {prefix}...", code="webhook_secret_forbidden")
    value = ctx.client("secretsmanager").get_secret_value(SecretId=recipient.secret_id)["SecretString"]
    body = webhook.payload(event="invoice.reminder" if reminder else "invoice.issued", link=link, link_expires=link_expires,
                           invoice={"invoice_id": rec.invoice_id, "number": inv.number, "type_code": inv.type_code,
                                    "issue_date": inv.issue_date.isoformat(), "due_date": inv.due_date.isoformat() if inv.due_date else None,
                                    "currency": inv.currency, "amount_due": str(inv.amount_due),
                                    "seller": {"name": inv.seller.name, "vat_id": inv.seller.vat_id, "siren": inv.seller.siren},
                                    "buyer": {"name": inv.buyer.name, "vat_id": inv.buyer.vat_id, "siren": inv.buyer.siren},
                                    "purchase_order": inv.purchase_order_reference, "role": recipient.role.value})
    msg_id = f"msg_{rec.invoice_id}_{purpose}_{recipient.id}"
    hdrs = webhook.headers(webhook.secrets_of(value), msg_id, int(clock.now().timestamp()), body)
    return webhook.post(recipient.endpoint, body, hdrs)


def _due(inv: Invoice, customer: Customer | None) -> date:
    return inv.due_date or (inv.issue_date + timedelta(days=_milestones(customer).default_payment_days))


def dispatch(ctx: Context, invoice_id: str) -> dict:
    """Send to every recipient by channel; plan the first milestone (the download deadline)."""
    rec, inv = _load(ctx, invoice_id)
    customer = _customer(ctx, rec)
    if customer is None:
        raise PermanentError("no customer: the check step should have held this invoice")
    plan = plan_dispatch(customer)
    for rid, why in plan.unreachable:
        logger.warning("recipient not reachable", extra={"invoice_id": invoice_id, "recipient_id": rid, "why": why})
    out = deliver(ctx, invoice_id, plan, "initial",
                  lambda r: _send(ctx, rec, inv, customer, r, reminder=False, purpose="initial"))
    settle(out, plan)
    sent = len(out.sent)
    m = _milestones(customer)
    deadline = clock.now() + timedelta(hours=m.download_within_hours)
    _set_next_due(ctx, invoice_id, deadline)
    return {"recipients": sent, "wait_seconds": m.download_within_hours * 3600, "reminders": 0}


def _set_next_due(ctx: Context, invoice_id: str, when: datetime | None) -> None:
    save_description(ctx, invoice_id, lambda r: setattr(r, "next_due_at", when))


# --- milestones --------------------------------------------------------------------------

def progress(ctx: Context, invoice_id: str, reminders: int = 0) -> dict:
    """Where the invoice stands and what the state machine does next (see milestones.plan_next)."""
    rec, inv = _load(ctx, invoice_id)
    customer = _customer(ctx, rec)
    timeline = ctx.store.timeline(invoice_id) if rec.status is not Status.PAID else []
    facts = Facts(status=rec.status, due=_due(inv, customer), reminders=reminders,
                  downloaded=any(e.kind is EventKind.DOWNLOADED for e in timeline),
                  overdue_recorded=any(e.kind is EventKind.OVERDUE for e in timeline))
    plan = plan_next(facts, _milestones(customer), clock.now())
    for kind, detail in plan.record:
        apply_event(ctx.store, invoice_id, Event(invoice_id=invoice_id, kind=kind, at=clock.now(), detail=detail,
                                                 id=f"milestone:{kind.value}"))
    _set_next_due(ctx, invoice_id, plan.next_due_at)
    return plan.result(reminders)


def remind(ctx: Context, invoice_id: str, reminders: int = 0) -> dict:
    """'Not yet downloaded' reminder to each recipient who has not opened its link."""
    rec, inv = _load(ctx, invoice_id)
    customer = _customer(ctx, rec)
    if customer is None:
        raise PermanentError("no customer to remind")
    opened = frozenset(e.recipient_id or "" for e in ctx.store.timeline(invoice_id) if e.kind is EventKind.DOWNLOADED)
    purpose = f"reminder-{reminders + 1}"
    plan = plan_dispatch(customer, skip=opened)
    out = deliver(ctx, invoice_id, plan, purpose,
                  lambda r: _send(ctx, rec, inv, customer, r, reminder=True, purpose=purpose),
                  event_kind=EventKind.REMINDED, detail={"reason": "not yet downloaded", "reminder": reminders + 1})
    settle(out, plan, require_one=False)  # a reminder nobody could receive is recorded, not a failure
    m = _milestones(customer)
    return {"reminded": len(out.sent), "reminders": reminders + 1, "wait_seconds": m.remind_every_hours * 3600}
