"""What leaves for one recipient, on its channel: the invoice itself and every message a scenario
sends about it (courtesy reminder, reminder, request for approval, formal notice...). E-mail
through SES v2 (raw MIME, French or English, the Factur-X attached and a signed download link);
webhook as a Standard Webhooks push signed with the endpoint's own secret. The caller
(dispatch.deliver) makes each send happen once per delivery record."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from .. import clock
from ..context import Context
from ..delivery import links
from ..delivery.email import build_message
from ..errors import PermanentError
from ..model.directory import Channel, Customer, Milestones, Recipient
from ..model.invoice import Invoice
from ..tracking.store import InvoiceRecord

WEBHOOK_EVENTS = {"invoice": "invoice.issued", "not_opened": "invoice.reminder", "courtesy": "invoice.reminder",
                  "overdue": "invoice.reminder", "validate": "invoice.approval_requested", "notice": "invoice.formal_notice"}


@dataclass(frozen=True)
class Message:
    """What is sent: `kind` (email.KINDS), the amounts it states, what else it carries."""

    kind: str = "invoice"
    figures: dict[str, Decimal] = field(default_factory=dict)
    extra_attachments: tuple[tuple[str, str, bytes], ...] = ()


ATTACHED = {"facturx": (".pdf", "application/pdf"), "ubl": (".ubl.xml", "application/xml"),
            "cii": (".cii.xml", "application/xml"), "edifact": (".edi", "application/EDIFACT")}


def _attached(recipient: Recipient, message: Message, rec: InvoiceRecord) -> list[str]:
    """The documents an e-mail carries: the recipient's formats, else the Factur-X (and the UBL with
    the invoice itself); later messages carry the Factur-X only."""
    if recipient.formats:
        wanted = [f.value for f in recipient.formats]
    else:
        wanted = ["facturx", "ubl"] if message.kind in ("invoice", "not_opened") else ["facturx"]
    if message.kind not in ("invoice", "not_opened"):
        wanted = [f for f in wanted if f == "facturx"] or wanted[:1]
    return [f for f in wanted if f in rec.documents and f in ATTACHED]


def safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)[:80] or "invoice"


def due_date(inv: Invoice, customer: Customer | None) -> date:
    m = customer.milestones if customer else Milestones()
    return inv.due_date or (inv.issue_date + timedelta(days=m.default_payment_days))


def send(ctx: Context, rec: InvoiceRecord, inv: Invoice, customer: Customer, recipient: Recipient, *, purpose: str,
         message: Message = Message()) -> str:
    """Send `message` about the invoice to `recipient`; returns the channel's message id."""
    now = clock.now()
    expires = int((now + timedelta(seconds=ctx.settings.link_ttl_seconds)).timestamp())
    claims = links.LinkClaims(rec.invoice_id, recipient.id, "facturx", expires, int(now.timestamp()))
    token = links.sign(ctx.link_key, claims)
    link = f"{ctx.public_api_url}/d/{token}"
    if recipient.channel is Channel.HTTP:
        return send_webhook(ctx, rec, inv, recipient, link, claims.expires_at.isoformat(), purpose=purpose, message=message)
    if recipient.channel is Channel.CHORUS_PRO:
        if message.kind != "invoice":
            raise PermanentError("Chorus Pro carries invoices, not reminders", code="chorus_no_messages")
        from .chorus import deposit

        return deposit(ctx, rec, inv, recipient)
    if recipient.channel is Channel.PA:
        if message.kind != "invoice":
            raise PermanentError("a PA carries invoices and lifecycle statuses, not reminders", code="pa_no_messages")
        from . import pa

        return pa.deposit(ctx, rec, inv, recipient, purpose)
    if recipient.channel is Channel.CXML:
        if message.kind != "invoice":
            raise PermanentError("a procurement network takes invoices, not reminders", code="cxml_no_messages")
        from . import procurement

        return procurement.send(ctx, rec, inv, recipient, purpose)
    if recipient.channel is Channel.EDI:
        if message.kind != "invoice":
            raise PermanentError("EDI carries invoices, not reminders", code="edi_no_messages")
        from . import edi

        return edi.send(ctx, rec, inv, recipient, purpose)
    rules = customer.email
    attachments = []
    if recipient.attach_document and not rules.link_only:
        for fmt in _attached(recipient, message, rec):
            name, mime = ATTACHED[fmt]
            attachments.append((f"{safe_name(inv.number)}{name}", mime, ctx.documents.get(rec.documents[fmt])))
        if rules.max_attachment_bytes is not None and sum(len(a[2]) for a in attachments) > rules.max_attachment_bytes:
            attachments = []  # over the customer's size limit: the signed link only
    attachments += list(message.extra_attachments)
    supplier = ctx.directory.supplier(rec.supplier_id)
    due = due_date(inv, customer)
    subject = intro = None
    if message.kind == "invoice" and (rules.subject or rules.intro):  # the customer's own subject and opening
        fields = {"number": inv.number, "seller": inv.seller.name or supplier.name, "BT-1": inv.number,
                  "BT-10": inv.buyer_reference or "", "BT-13": inv.purchase_order_reference or "",
                  "amount": f"{inv.amount_due} {inv.currency}", "due": due.isoformat()}
        subject = rules.subject.format_map(fields) if rules.subject else None
        intro = rules.intro.format_map(fields) if rules.intro else None
    msg = build_message(inv=inv, sender=supplier.mail_from or ctx.settings.mail_from, sender_name=supplier.name,
                        to=str(recipient.email), to_name=recipient.name, lang=recipient.language, link=link,
                        link_expires=claims.expires_at.date().isoformat(), attachments=attachments,
                        due=due.isoformat(), kind=message.kind, figures=message.figures, subject=subject, intro=intro,
                        wording=supplier.messages[message.kind].text(recipient.language)
                        if message.kind in supplier.messages else (None, None))
    return send_raw(ctx, rec, supplier.mail_from, str(recipient.email), msg.as_bytes(), recipient.id, purpose)


def send_raw(ctx: Context, rec: InvoiceRecord, mail_from: str | None, to: str, raw: bytes, recipient_id: str,
             purpose: str) -> str:
    """One raw message about an invoice, tagged so that its delivery events find the invoice."""
    return ses_send(ctx, mail_from, to, raw, {"invoice_id": rec.invoice_id, "recipient_id": recipient_id,
                                               "supplier_id": rec.supplier_id, "purpose": purpose})


def ses_send(ctx: Context, mail_from: str | None, to: str, raw: bytes, tags: dict[str, str]) -> str:
    """One raw message through SES v2, with its tags, in Facteur's configuration set; the message id."""
    kwargs: dict[str, Any] = {
        "FromEmailAddress": mail_from or ctx.settings.mail_from, "Destination": {"ToAddresses": [to]},
        "Content": {"Raw": {"Data": raw}}, "EmailTags": [{"Name": k, "Value": v} for k, v in tags.items()]}
    if ctx.settings.ses_configuration_set:
        kwargs["ConfigurationSetName"] = ctx.settings.ses_configuration_set
    return ctx.client("sesv2").send_email(**kwargs)["MessageId"]


def invoice_summary(rec: InvoiceRecord, inv: Invoice) -> dict[str, Any]:
    return {"invoice_id": rec.invoice_id, "number": inv.number, "type_code": inv.type_code,
            "issue_date": inv.issue_date.isoformat(), "due_date": inv.due_date.isoformat() if inv.due_date else None,
            "currency": inv.currency, "amount_due": str(inv.amount_due),
            "seller": {"name": inv.seller.name, "vat_id": inv.seller.vat_id, "siren": inv.seller.siren},
            "buyer": {"name": inv.buyer.name, "vat_id": inv.buyer.vat_id, "siren": inv.buyer.siren},
            "purchase_order": inv.purchase_order_reference}


def post_signed(ctx: Context, supplier_id: str, endpoint: str, secret_id: str | None, who: str, body: bytes,
                msg_id: str) -> str:
    """A Standard Webhooks push, signed with a secret of the supplier's own (facteur/webhooks/<supplier>/...)."""
    from ..delivery import webhook

    prefix = f"facteur/webhooks/{supplier_id}/"
    if not (secret_id or "").startswith(prefix):  # a supplier signs with its own secrets only
        raise PermanentError(f"the webhook secret of '{who}' must be named {prefix}...", code="webhook_secret_forbidden")
    value = ctx.client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"]
    hdrs = webhook.headers(webhook.secrets_of(value), msg_id, int(clock.now().timestamp()), body)
    return webhook.post(endpoint, body, hdrs)


def send_webhook(ctx: Context, rec: InvoiceRecord, inv: Invoice, recipient: Recipient, link: str, link_expires: str, *,
                 purpose: str, message: Message = Message()) -> str:
    """Push the invoice (or a message about it) to the recipient's endpoint. The webhook id is the
    delivery's own: the same on every retry of this delivery."""
    from ..delivery import webhook

    data = {**invoice_summary(rec, inv), "role": recipient.role.value,
            **{k: str(v) for k, v in message.figures.items()}}
    body = webhook.payload(event=WEBHOOK_EVENTS[message.kind], link=link, link_expires=link_expires, invoice=data)
    return post_signed(ctx, rec.supplier_id, str(recipient.endpoint), recipient.secret_id, recipient.id, body,
                       f"msg_{rec.invoice_id}_{purpose}_{recipient.id}")
