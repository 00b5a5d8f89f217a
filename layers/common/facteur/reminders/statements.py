"""Statements of account and the supplier's daily digest: the scheduled mail that is not tied to
one invoice's execution.

A customer that prefers one letter to N reminders (`grouped_reminders`), or a scenario step
`action: statement`, marks the customer's statement due (an item in a sparse partition, one per
customer and day); the daily run reads only the due marks (items read = statements due), sends
each customer one e-mail with a PDF listing every open invoice (amount, paid, still due, days
late) to its payer, records it on each listed invoice's timeline, and removes the mark.

The digest: each supplier whose worklist is not empty gets one e-mail a day listing what needs a
person (GET /worklist), at its alerts address.

| item            | PK          | SK                                  |
|-----------------|-------------|-------------------------------------|
| statement due   | STMTDUE     | {day}#{supplier}#{customer}         |
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from .. import clock
from ..context import Context
from ..delivery.email import compose
from ..formats.render import _fonts
from ..model.directory import Customer, Supplier
from ..model.lifecycle import EventKind, Status
from ..observability import count, logger
from ..pipeline.outbound import ses_send
from ..render_text import date_text, money_text
from ..tracking.deliveries import Claim, DeliveryStore
from ..tracking.store import Event, apply_event
from .planner import PARIS

OPEN = {Status.SENT, Status.DELIVERED, Status.DOWNLOADED, Status.APPROVED, Status.DISPUTED, Status.SUSPENDED,
        Status.PAYMENT_SENT}


def mark_due(ctx: Context, supplier_id: str, customer_id: str, day: date) -> None:
    """The customer's statement is due on `day` (marked once, whatever the number of invoices)."""
    ctx.client("dynamodb").put_item(TableName=ctx.settings.require("invoices_table"),
                                    Item={"PK": {"S": "STMTDUE"}, "SK": {"S": f"{day.isoformat()}#{supplier_id}#{customer_id}"}})


@dataclass(frozen=True)
class Line:
    invoice_id: str
    number: str
    issue_date: date | None
    due_date: date | None
    amount: Decimal
    paid: Decimal
    currency: str
    status: str

    @property
    def outstanding(self) -> Decimal:
        return self.amount - self.paid

    def days_late(self, today: date) -> int:
        return max(0, (today - self.due_date).days) if self.due_date else 0


def open_lines(ctx: Context, supplier_id: str, customer_id: str) -> list[Line]:
    """Every open invoice of the customer (GSI2: the customer's invoices), oldest due first."""
    out, cursor = [], None
    while True:
        page, cursor = ctx.store.by_buyer(supplier_id, customer_id, 500, cursor)
        for r in page:
            if r.status in OPEN and r.amount_due is not None and (r.outstanding or 0) > 0:
                out.append(Line(r.invoice_id, r.number or r.invoice_id, r.issue_date, r.due_date, r.amount_due,
                                r.amount_paid, r.currency or "EUR", r.status.value))
        if not cursor:
            return sorted(out, key=lambda x: (x.due_date or date.max, x.number))


TEXTS = {
    "fr": {"title": "RELEVÉ DE COMPTE", "as_of": "au {today}", "number": "Facture", "issued": "Date", "due": "Échéance",
           "amount": "Montant", "paid": "Réglé", "left": "Reste dû", "late": "Retard (j)", "total": "Total restant dû",
           "overdue": "dont échu", "subject": "Relevé de compte au {today} : {total} restant dû ({n} facture(s))",
           "body": ("Veuillez trouver ci-joint votre relevé de compte au {today} : {n} facture(s) ouverte(s), {total} "
                    "restant dû, dont {overdue} échu. Merci de procéder au règlement des factures échues ou de nous "
                    "signaler toute anomalie en répondant à ce message."),
           "greeting": "Bonjour,", "signature": "Cordialement,\n{seller}",
           "footer": "Ce message est envoyé par Facteur pour le compte de {seller}."},
    "en": {"title": "STATEMENT OF ACCOUNT", "as_of": "as of {today}", "number": "Invoice", "issued": "Date", "due": "Due",
           "amount": "Amount", "paid": "Paid", "left": "Still due", "late": "Days late", "total": "Total still due",
           "overdue": "of which overdue", "subject": "Statement of account as of {today}: {total} still due ({n} invoice(s))",
           "body": ("Please find attached your statement of account as of {today}: {n} open invoice(s), {total} still "
                    "due, of which {overdue} overdue. Please pay the overdue invoices or tell us of any discrepancy by "
                    "replying to this message."),
           "greeting": "Hello,", "signature": "Kind regards,\n{seller}",
           "footer": "This message is sent by Facteur on behalf of {seller}."},
}


def statement_pdf(lines: list[Line], *, supplier: Supplier, customer: Customer, today: date, lang: str) -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    regular, bold = _fonts()
    t = TEXTS.get(lang, TEXTS["fr"])
    money = lambda a, cur: money_text(a, cur, lang)
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4, invariant=1, pageCompression=1)
    c.setTitle(f"{t['title']} {customer.name}")
    c.setAuthor(supplier.name)
    c.setCreator("Facteur")
    width, height = A4
    left, right = 40, width - 40
    cols = [left, left + 120, left + 195, left + 270, left + 350, left + 420, left + 490]  # right edges after the 2nd

    def header(y: float) -> float:
        c.setFont(bold, 14)
        c.drawString(left, y, t["title"])
        c.setFont(regular, 10)
        c.drawString(left, y - 16, f"{supplier.name} → {customer.name} ({t['as_of'].format(today=date_text(today, lang))})")
        y -= 44
        c.setFont(bold, 8)
        c.drawString(cols[0], y, t["number"])
        for x, key in zip(cols[1:], ("issued", "due", "amount", "paid", "left", "late"), strict=True):
            c.drawRightString(x + 60, y, t[key])
        c.line(left, y - 4, right, y - 4)
        return y - 16

    y = header(height - 50)
    c.setFont(regular, 8)
    for line in lines:
        if y < 80:
            c.showPage()
            y = header(height - 50)
            c.setFont(regular, 8)
        late = line.days_late(today)
        values = [date_text(line.issue_date, lang), date_text(line.due_date, lang), money(line.amount, line.currency),
                  money(line.paid, line.currency), money(line.outstanding, line.currency), str(late) if late else "-"]
        c.setFont(bold if late else regular, 8)
        c.drawString(cols[0], y, line.number[:24])
        for x, v in zip(cols[1:], values, strict=True):
            c.drawRightString(x + 60, y, v)
        y -= 13
    currency = lines[0].currency if lines else "EUR"
    total = sum((x.outstanding for x in lines), Decimal(0))
    overdue = sum((x.outstanding for x in lines if x.days_late(today)), Decimal(0))
    c.line(left, y + 6, right, y + 6)
    c.setFont(bold, 9)
    c.drawString(cols[0], y - 8, t["total"])
    c.drawRightString(cols[5] + 60, y - 8, money(total, currency))
    c.setFont(regular, 9)
    c.drawString(cols[0], y - 22, t["overdue"])
    c.drawRightString(cols[5] + 60, y - 22, money(overdue, currency))
    c.showPage()
    c.save()
    return buf.getvalue()


def send_statement(ctx: Context, supplier_id: str, customer_id: str, today: date) -> dict[str, Any]:
    """One statement to the customer's payers (once per day, whatever runs it), recorded on each
    listed invoice's timeline."""
    supplier = ctx.directory.supplier(supplier_id)
    customer = ctx.directory.customer(supplier_id, customer_id)
    lines = open_lines(ctx, supplier_id, customer_id)
    if not lines:
        return {"customer": customer_id, "sent": 0, "why": "no open invoice"}
    payers = [r for r in customer.recipients if r.email and r.role.value == "payer" and not r.fallback_only] or \
             [r for r in customer.recipients if r.email and not r.fallback_only]
    lang = customer.language if customer.language in TEXTS else "fr"
    t = TEXTS[lang]
    total = sum((x.outstanding for x in lines), Decimal(0))
    overdue = sum((x.outstanding for x in lines if x.days_late(today)), Decimal(0))
    cur = lines[0].currency
    fields = {"today": date_text(today, lang), "total": money_text(total, cur, lang), "n": len(lines),
              "overdue": money_text(overdue, cur, lang), "seller": supplier.name}
    pdf = statement_pdf(lines, supplier=supplier, customer=customer, today=today, lang=lang)
    key = ctx.documents.put(f"statements/{supplier_id}/{customer_id}/{today.isoformat()}.pdf", pdf, "application/pdf")
    deliveries = DeliveryStore(ctx.settings.require("invoices_table"), ctx.client("dynamodb"))
    purpose, anchor = f"statement-{today.isoformat()}", f"statement:{supplier_id}:{customer_id}"
    sent = []
    for r in payers:
        claim, d = deliveries.claim(anchor, purpose, r.id, "email")
        if claim is not Claim.GO:
            continue
        msg = compose(sender=supplier.mail_from or ctx.settings.mail_from, sender_name=supplier.name, to=str(r.email),
                      to_name=r.name, lang=lang, subject=t["subject"].format(**fields), paragraphs=[t["body"].format(**fields)],
                      attachments=[(f"releve-{customer_id}-{today.isoformat()}.pdf", "application/pdf", pdf)],
                      greeting=t["greeting"], signature=t["signature"].format(**fields), footer=t["footer"].format(**fields))
        deliveries.complete(d, ses_send(ctx, supplier.mail_from, str(r.email), msg.as_bytes(),
                                        {"supplier_id": supplier_id, "recipient_id": r.id, "purpose": purpose}))
        sent.append(r.id)
    for line in lines:  # each invoice's timeline says it was on the statement
        apply_event(ctx.store, line.invoice_id, Event(
            invoice_id=line.invoice_id, kind=EventKind.REMINDED, at=clock.now(), id=f"{purpose}:{line.invoice_id}",
            detail={"channel": "email", "purpose": purpose, "statement": key, "outstanding": str(line.outstanding),
                    "to": [r.id for r in payers]}))
    count("StatementsSent", len(sent))
    return {"customer": customer_id, "sent": len(sent), "invoices": len(lines), "document": key}


def run_due(ctx: Context) -> dict[str, Any]:
    """Every statement due by today (items read = statements due), each sent once, then unmarked."""
    today = clock.now().astimezone(PARIS).date()
    db, table = ctx.client("dynamodb"), ctx.settings.require("invoices_table")
    kwargs: dict[str, Any] = {"TableName": table, "KeyConditionExpression": "PK = :pk AND SK <= :to",
                              "ExpressionAttributeValues": {":pk": {"S": "STMTDUE"}, ":to": {"S": f"{today.isoformat()}#~"}}}
    done = []
    while True:
        res = db.query(**kwargs)
        for item in res.get("Items", []):
            sk = item["SK"]["S"]
            _, supplier_id, customer_id = sk.split("#", 2)
            try:
                done.append(send_statement(ctx, supplier_id, customer_id, today))
            except Exception:  # noqa: BLE001 - one customer's problem never stops the others; the mark stays
                logger.exception("statement failed", extra={"supplier_id": supplier_id, "customer_id": customer_id})
                continue
            db.delete_item(TableName=table, Key={"PK": {"S": "STMTDUE"}, "SK": {"S": sk}})
        if "LastEvaluatedKey" not in res:
            break
        kwargs["ExclusiveStartKey"] = res["LastEvaluatedKey"]
    return {"statements": done}


# --- the daily digest of the worklist -------------------------------------------------------

DIGEST = {"fr": ("[Facteur] {n} facture(s) à traiter", "Bonjour,\n\nCes factures attendent une décision de votre part :",
                 "Le détail est dans GET /worklist."),
          "en": ("[Facteur] {n} invoice(s) need you", "Hello,\n\nThese invoices are waiting for a decision of yours:",
                 "The details are in GET /worklist.")}


def send_digests(ctx: Context) -> dict[str, Any]:
    """One e-mail per supplier whose worklist is not empty (once per day)."""
    from ..pipeline.worklist import worklist

    today = clock.now().astimezone(PARIS).date()
    deliveries = DeliveryStore(ctx.settings.require("invoices_table"), ctx.client("dynamodb"))
    sent = 0
    for supplier_id in ctx.directory.suppliers():
        items = worklist(ctx, supplier_id)["items"]
        if not items:
            continue
        supplier = ctx.directory.supplier(supplier_id)
        to = str(supplier.alerts_to or supplier.mail_from or ctx.settings.mail_from)
        claim, d = deliveries.claim(f"digest:{supplier_id}", f"digest-{today.isoformat()}", "supplier", "email")
        if claim is not Claim.GO:
            continue
        lang = supplier.language if supplier.language in DIGEST else "fr"
        subject, intro, outro = DIGEST[lang]
        rows = [f"- {i.get('number') or i.get('original_name') or i.get('invoice_id')} ({i.get('customer_id') or '-'}): "
                f"{i.get('status')} - {str(i.get('why'))[:160]}\n  {str(i.get('what_to_do'))[:200]}" for i in items[:200]]
        msg = compose(sender=supplier.mail_from or ctx.settings.mail_from, sender_name="Facteur", to=to, to_name=supplier.name,
                      lang=lang, subject=subject.format(n=len(items)), paragraphs=[intro, "\n".join(rows), outro],
                      attachments=[])
        deliveries.complete(d, ses_send(ctx, supplier.mail_from, to, msg.as_bytes(),
                                        {"supplier_id": supplier_id, "purpose": f"digest-{today.isoformat()}"}))
        sent += 1
    return {"digests": sent}
