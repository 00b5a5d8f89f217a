"""The formal notice (mise en demeure de payer) as a PDF letter, French with English available.

It states the invoice, the principal still due (payments deducted), the late-payment interest
(the rate used and how it is computed) and the fixed 40 EUR recovery indemnity of the Code de
commerce (L441-10, D441-5), the total claimed and the delay given before recovery proceedings.
Amounts come from `interest.py`, exact to the cent; the PDF embeds its fonts and is deterministic."""
from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from ..formats.render import _fonts, _party_lines
from ..model.invoice import Party
from ..render_text import date_text, money_text

TEXTS = {
    "fr": {
        "title": "MISE EN DEMEURE DE PAYER",
        "by": "Lettre envoyée par voie électronique",
        "object": "Objet : facture n° {number} du {issued}, échue le {due}",
        "salutation": "Madame, Monsieur,",
        "body": ("Malgré nos précédentes relances, la facture référencée ci-dessus, échue le {due}, reste impayée à ce "
                 "jour. Nous vous mettons en demeure de nous régler la somme de {total} dans un délai de {days} jours "
                 "à compter de la présente."),
        "detail": "Détail de la somme réclamée au {today} :",
        "invoiced": "Montant de la facture (TTC)",
        "paid": "Déjà réglé",
        "principal": "Principal restant dû (TTC)",
        "interest": "Intérêts de retard ({rate}, {late} jours)",
        "indemnity": "Indemnité forfaitaire pour frais de recouvrement",
        "total": "Total",
        "legal": ("Intérêts calculés au taux {basis}, prorata temporis sur le montant TTC restant dû chaque jour depuis "
                  "le lendemain de l'échéance ; indemnité forfaitaire de 40 EUR (articles L441-10 et D441-5 du Code de "
                  "commerce)."),
        "statutory": "de la BCE majoré de 10 points",
        "contractual": "contractuel",
        "pay": "Règlement par virement{iban}, en rappelant le numéro de facture.",
        "after": ("À défaut de règlement dans ce délai, nous nous réservons le droit d'engager sans autre avis une "
                  "procédure de recouvrement, dont les frais resteraient à votre charge."),
        "close": "Veuillez agréer, Madame, Monsieur, nos salutations distinguées.",
    },
    "en": {
        "title": "FORMAL NOTICE TO PAY",
        "by": "Letter sent electronically",
        "object": "Re: invoice no. {number} dated {issued}, due on {due}",
        "salutation": "Dear Sir or Madam,",
        "body": ("Despite our previous reminders, the invoice above, due on {due}, is still unpaid. We hereby give you "
                 "formal notice to pay us {total} within {days} days of this letter."),
        "detail": "Amount claimed as of {today}:",
        "invoiced": "Invoice amount (incl. VAT)",
        "paid": "Already paid",
        "principal": "Principal still due (incl. VAT)",
        "interest": "Late-payment interest ({rate}, {late} days)",
        "indemnity": "Fixed recovery indemnity",
        "total": "Total",
        "legal": ("Interest at the {basis} rate, per day on the amount incl. VAT still due each day from the day after "
                  "the due date; fixed indemnity of EUR 40 (French Commercial Code, articles L441-10 and D441-5)."),
        "statutory": "ECB + 10 points",
        "contractual": "contractual",
        "pay": "Please pay by bank transfer{iban}, quoting the invoice number.",
        "after": ("Failing payment within this period, we reserve the right to start recovery proceedings without "
                  "further notice, at your expense."),
        "close": "Yours faithfully,",
    },
}


@dataclass(frozen=True)
class NoticeFigures:
    number: str
    issue_date: date
    due_date: date
    today: date
    currency: str
    principal: Decimal  # still due, payments deducted
    interest: Decimal
    indemnity: Decimal
    rates: tuple[Decimal, ...]  # the yearly rates applied, in percent (two when the days late cross half-years)
    contractual: bool = False
    days_to_pay: int = 8
    invoiced: Decimal | None = None  # the invoice's amount due, when payments were made since

    def rate_text(self, lang: str) -> str:
        texts = [f"{r:.2f} %" for r in self.rates]
        return " / ".join(t.replace(".", ",") if lang == "fr" else t for t in texts) or "-"

    @property
    def total(self) -> Decimal:
        return self.principal + self.interest + self.indemnity

    @property
    def days_late(self) -> int:
        return max(0, (self.today - self.due_date).days)


def formal_notice_pdf(f: NoticeFigures, *, seller: Party, buyer: Party, lang: str = "fr", iban: str | None = None) -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import simpleSplit
    from reportlab.pdfgen import canvas

    regular, bold = _fonts()
    t = TEXTS.get(lang, TEXTS["fr"])
    money = lambda a: money_text(a, f.currency, lang)
    v = {"number": f.number, "issued": date_text(f.issue_date, lang), "due": date_text(f.due_date, lang),
         "today": date_text(f.today, lang), "total": money(f.total), "days": f.days_to_pay, "rate": f.rate_text(lang),
         "late": f.days_late, "basis": t["contractual"] if f.contractual else t["statutory"],
         "iban": f" (IBAN {iban})" if iban else ""}
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4, invariant=1, pageCompression=1)
    c.setTitle(f"{t['title']} - {f.number}")
    c.setAuthor(seller.name or "")
    c.setCreator("Facteur")
    width, height = A4
    left, right = 56, width - 56
    y = height - 60
    c.setFont(bold, 11)
    for i, line in enumerate(_party_lines(seller, {"siren": "SIREN", "vat_id": "TVA" if lang == "fr" else "VAT"})):
        c.setFont(bold if i == 0 else regular, 11 if i == 0 else 9)
        c.drawString(left, y, line)
        y -= 13
    y2 = height - 150
    for i, line in enumerate(_party_lines(buyer, {"siren": "SIREN", "vat_id": "TVA" if lang == "fr" else "VAT"})):
        c.setFont(bold if i == 0 else regular, 10)
        c.drawString(width / 2 + 20, y2, line)
        y2 -= 13
    y = min(y, y2) - 24
    c.setFont(regular, 9)
    c.drawRightString(right, y, f"{date_text(f.today, lang)} — {t['by']}")
    y -= 30
    c.setFont(bold, 14)
    c.drawString(left, y, t["title"])
    y -= 22
    c.setFont(bold, 10)
    c.drawString(left, y, t["object"].format(**v))
    y -= 26

    def para(text: str, size: int = 10, gap: int = 10) -> None:
        nonlocal y
        c.setFont(regular, size)
        for line in simpleSplit(text, regular, size, right - left):
            c.drawString(left, y, line)
            y -= size + 3
        y -= gap

    para(t["salutation"])
    para(t["body"].format(**v))
    para(t["detail"].format(**v), gap=4)
    rows = [(t["principal"], f.principal), (t["interest"].format(**v), f.interest), (t["indemnity"], f.indemnity)]
    if f.invoiced is not None and f.invoiced != f.principal:
        rows[:0] = [(t["invoiced"], f.invoiced), (t["paid"], f.principal - f.invoiced)]
    for label, amount in rows:
        c.setFont(regular, 10)
        c.drawString(left + 12, y, label)
        c.drawRightString(right, y, money(amount))
        y -= 15
    c.line(left + 12, y + 10, right, y + 10)
    c.setFont(bold, 10)
    c.drawString(left + 12, y - 2, t["total"])
    c.drawRightString(right, y - 2, money(f.total))
    y -= 26
    para(t["legal"].format(**v), size=8)
    para(t["pay"].format(**v))
    para(t["after"])
    para(t["close"])
    c.setFont(bold, 10)
    c.drawString(left, y - 10, seller.name or "")
    c.showPage()
    c.save()
    return buf.getvalue()
