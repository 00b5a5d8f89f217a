"""The invoice e-mail: French by default, English available; the Factur-X attached and a
signed download link in the body. Built as raw MIME (SES v2 SendEmail Raw content)."""
from __future__ import annotations

import re
from decimal import Decimal
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
        "subject_courtesy": "Facture {number} de {seller} : échéance le {due}",
        "courtesy": ("Pour rappel, la facture {number} du {date} arrive à échéance le {due}. Montant restant dû : "
                     "{outstanding}. Si le règlement est déjà parti, merci de ne pas tenir compte de ce message."),
        "subject_overdue": "Relance : facture {number} de {seller} échue le {due}",
        "overdue": ("Sauf erreur de notre part, la facture {number} du {date}, échue le {due}, reste impayée. Montant "
                    "restant dû : {outstanding}. Merci de procéder au règlement dans les meilleurs délais ou de nous "
                    "signaler tout problème en répondant à ce message."),
        "subject_validate": "Validation attendue : facture {number} de {seller}",
        "validate": ("La facture {number} du {date} ({amount}) attend votre validation pour être mise en paiement avant "
                     "le {due}. Merci de la valider ou de nous indiquer ce qui l'empêche."),
        "subject_notice": "Mise en demeure : facture {number} de {seller}",
        "notice": ("Malgré nos relances, la facture {number} échue le {due} reste impayée. Vous trouverez ci-joint notre "
                   "mise en demeure de payer la somme de {claimed}, dont {interest} d'intérêts de retard et {indemnity} "
                   "d'indemnité forfaitaire pour frais de recouvrement."),
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
        "subject_courtesy": "Invoice {number} from {seller}: due on {due}",
        "courtesy": ("A friendly reminder that invoice {number} dated {date} is due on {due}. Amount still due: "
                     "{outstanding}. If the payment is already on its way, please disregard this message."),
        "subject_overdue": "Reminder: invoice {number} from {seller} was due on {due}",
        "overdue": ("Unless we are mistaken, invoice {number} dated {date}, due on {due}, is still unpaid. Amount still "
                    "due: {outstanding}. Please pay it at your earliest convenience or tell us of any problem by "
                    "replying to this message."),
        "subject_validate": "Approval needed: invoice {number} from {seller}",
        "validate": ("Invoice {number} dated {date} ({amount}) awaits your approval to be paid by {due}. Please approve "
                     "it or tell us what stands in the way."),
        "subject_notice": "Formal notice: invoice {number} from {seller}",
        "notice": ("Despite our reminders, invoice {number} due on {due} is still unpaid. Please find attached our formal "
                   "notice to pay {claimed}, including {interest} of late-payment interest and {indemnity} of fixed "
                   "recovery indemnity."),
        "link": "Download the invoice (personal link, valid until {expires}):",
        "formats": "Attached formats: {formats}.",
        "signature": "Kind regards,\n{seller}",
        "footer": "This message is sent by Facteur on behalf of {seller}.",
    },
}


def header_text(text: str | None, limit: int = 100) -> str:
    return " ".join(_CONTROL.sub(" ", text or "").split())[:limit]


# The message kinds: the invoice itself, and what scenarios send about it (subject key, body key).
KINDS = {"invoice": ("subject", "body"), "not_opened": ("subject_reminder", "reminder"),
         "courtesy": ("subject_courtesy", "courtesy"), "overdue": ("subject_overdue", "overdue"),
         "validate": ("subject_validate", "validate"), "notice": ("subject_notice", "notice")}


def build_message(*, inv: Invoice, sender: str, sender_name: str, to: str, to_name: str, lang: str, link: str,
                  link_expires: str, attachments: list[tuple[str, str, bytes]], reminder: bool = False,
                  due: str | None = None, kind: str | None = None, figures: dict[str, Decimal] | None = None,
                  subject: str | None = None, intro: str | None = None,
                  wording: tuple[str | None, str | None] = (None, None)) -> EmailMessage:
    """The invoice e-mail (`kind` invoice) or one about it (not_opened, courtesy, overdue,
    validate, notice); `figures` gives the amounts those state (outstanding, interest, indemnity, claimed);
    `wording`: the supplier's own (subject, body) templates for this kind and language, if any."""
    kind = kind or ("not_opened" if reminder else "invoice")
    t = TEXTS.get(lang, TEXTS["fr"])
    figures = figures or {}
    money = lambda key, default=None: money_text(figures.get(key, default), inv.currency, lang)
    fields = {"number": inv.number, "seller": inv.seller.name or sender_name, "date": date_text(inv.issue_date, lang),
              "amount": money_text(inv.amount_due, inv.currency, lang), "due": date_text(due or inv.due_date, lang),
              "name": to_name, "expires": date_text(link_expires, lang),
              "formats": ", ".join(name for name, _, _ in attachments) or "-",
              "outstanding": money("outstanding", inv.amount_due), "interest": money("interest", Decimal(0)),
              "indemnity": money("indemnity", Decimal(0)), "claimed": money("claimed", inv.amount_due)}
    subject_key, body_key = KINDS[kind]
    if kind == "invoice" and inv.is_credit_note:
        subject_key = "subject_credit"
    own_subject, own_body = wording
    body = [intro or "", (own_body or t[body_key]).format(**fields), t["link"].format(**fields) + "\n" + link,
            t["formats"].format(**fields) if attachments else ""]
    return compose(sender=sender, sender_name=sender_name, to=to, to_name=to_name, lang=lang,
                   subject=subject or (own_subject or t[subject_key]).format(**fields), paragraphs=[b for b in body if b], attachments=attachments,
                   signature=t["signature"].format(**fields), footer=t["footer"].format(**fields),
                   greeting=t["greeting"].format(**fields))


def compose(*, sender: str, sender_name: str, to: str, to_name: str, lang: str, subject: str, paragraphs: list[str],
            attachments: list[tuple[str, str, bytes]], signature: str = "", footer: str = "",
            greeting: str = "") -> EmailMessage:
    """A raw MIME message; every header value is cleaned of control characters."""
    msg = EmailMessage()
    # Header values come from invoices and the directory: no control character may reach a
    # header (CR/LF would inject headers), and they stay a readable length.
    msg["Subject"] = header_text(subject, 200)
    msg["From"] = formataddr((header_text(sender_name), sender))
    msg["To"] = formataddr((header_text(to_name), to))
    msg["Message-ID"] = make_msgid(domain=sender.split("@")[-1])
    parts = [greeting, *paragraphs, signature, ("-- \n" + footer) if footer else ""]
    msg.set_content("\n\n".join(p for p in parts if p))
    for filename, mime, data in attachments:
        maintype, subtype = mime.split("/", 1)
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=header_text(filename, 120))
    msg["Content-Language"] = lang  # after the body: set_content() clears Content-* headers
    return msg
