"""The invoice e-mail: French by default, English available; the Factur-X attached and a
signed download link in the body. Built as raw MIME (SES v2 SendEmail Raw content)."""
from __future__ import annotations

import re
from email.message import EmailMessage
from email.utils import formataddr, make_msgid

from ..model.invoice import Invoice
from ..render_text import date_text, money_text

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")

TEXTS = {
    "fr": {
        "subject": "Facture {number} de {seller}",
        "subject_credit": "Avoir {number} de {seller}",
        "subject_reminder": "Rappel : facture {number} de {seller} en attente de consultation",
        "greeting": "Bonjour {name},",
        "body": ("Veuillez trouver ci-joint la facture {number} du {date} d'un montant de {amount}, "
                 "à régler avant le {due}."),
        "reminder": ("Nous vous avons transmis la facture {number} du {date} ({amount}) et elle n'a pas encore été "
                     "consultée. Merci de bien vouloir la télécharger et la transmettre au service concerné."),
        "link": "Télécharger la facture (lien personnel, valable jusqu'au {expires}) :",
        "formats": "Formats joints : {formats}.",
        "signature": "Cordialement,\n{seller}",
        "footer": "Ce message est envoyé par Facteur pour le compte de {seller}.",
    },
    "en": {
        "subject": "Invoice {number} from {seller}",
        "subject_credit": "Credit note {number} from {seller}",
        "subject_reminder": "Reminder: invoice {number} from {seller} has not been opened yet",
        "greeting": "Hello {name},",
        "body": "Please find attached invoice {number} dated {date} for {amount}, payable by {due}.",
        "reminder": ("We sent you invoice {number} dated {date} ({amount}) and it has not been opened yet. "
                     "Please download it and forward it to the right department."),
        "link": "Download the invoice (personal link, valid until {expires}):",
        "formats": "Attached formats: {formats}.",
        "signature": "Kind regards,\n{seller}",
        "footer": "This message is sent by Facteur on behalf of {seller}.",
    },
}


def header_text(text: str | None, limit: int = 100) -> str:
    return " ".join(_CONTROL.sub(" ", text or "").split())[:limit]


def build_message(*, inv: Invoice, sender: str, sender_name: str, to: str, to_name: str, lang: str, link: str,
                  link_expires: str, attachments: list[tuple[str, str, bytes]], reminder: bool = False,
                  due: str | None = None) -> EmailMessage:
    t = TEXTS.get(lang, TEXTS["fr"])
    fields = {"number": inv.number, "seller": inv.seller.name or sender_name, "date": date_text(inv.issue_date, lang),
              "amount": money_text(inv.amount_due, inv.currency, lang), "due": date_text(due or inv.due_date, lang),
              "name": to_name, "expires": date_text(link_expires, lang),
              "formats": ", ".join(name for name, _, _ in attachments) or "-"}
    subject_key = "subject_reminder" if reminder else ("subject_credit" if inv.is_credit_note else "subject")
    msg = EmailMessage()
    # Header values come from invoices and the directory: no control character may reach a
    # header (CR/LF would inject headers), and they stay a readable length.
    msg["Subject"] = header_text(t[subject_key].format(**fields), 200)
    msg["From"] = formataddr((header_text(sender_name), sender))
    msg["To"] = formataddr((header_text(to_name), to))
    msg["Message-ID"] = make_msgid(domain=sender.split("@")[-1])
    body = "\n\n".join([
        t["greeting"].format(**fields),
        (t["reminder"] if reminder else t["body"]).format(**fields),
        t["link"].format(**fields) + "\n" + link,
        t["formats"].format(**fields) if attachments else "",
        t["signature"].format(**fields),
        "-- \n" + t["footer"].format(**fields),
    ])
    msg.set_content(body)
    for filename, mime, data in attachments:
        maintype, subtype = mime.split("/", 1)
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    msg["Content-Language"] = lang  # after the body: set_content() clears Content-* headers
    return msg
