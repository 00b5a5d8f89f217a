"""A readable PDF rendered from the canonical invoice, ready to become PDF/A-3.

PDF/A needs every font embedded (we use the DejaVu-compatible Bitstream Vera TrueType fonts
that reportlab ships, embedded as subsets) and an output intent with an ICC profile (an sRGB
profile built by Pillow's littleCMS). Texts are French with English available."""
from __future__ import annotations

import io
import os
from decimal import Decimal
from functools import lru_cache

from ..model.invoice import Invoice, Party
from ..render_text import money_text

LABELS = {
    "fr": {"invoice": "FACTURE", "credit": "AVOIR", "number": "N°", "date": "Date", "due": "Échéance",
           "seller": "Vendeur", "buyer": "Client", "po": "Bon de commande", "ref": "Référence acheteur",
           "item": "Désignation", "qty": "Qté", "price": "P.U. HT", "vat": "TVA %", "total": "Total HT",
           "net": "Total HT", "tax": "Total TVA", "gross": "Total TTC", "due_amount": "Net à payer",
           "iban": "IBAN", "terms": "Conditions de paiement", "vat_id": "TVA intracom.", "siren": "SIREN",
           "notes": "Mentions"},
    "en": {"invoice": "INVOICE", "credit": "CREDIT NOTE", "number": "No.", "date": "Date", "due": "Due date",
           "seller": "Seller", "buyer": "Buyer", "po": "Purchase order", "ref": "Buyer reference",
           "item": "Item", "qty": "Qty", "price": "Unit price", "vat": "VAT %", "total": "Net",
           "net": "Total excl. VAT", "tax": "Total VAT", "gross": "Total incl. VAT", "due_amount": "Amount due",
           "iban": "IBAN", "terms": "Payment terms", "vat_id": "VAT id", "siren": "SIREN", "notes": "Notes"},
}


@lru_cache(maxsize=1)
def _fonts() -> tuple[str, str]:
    import reportlab
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    folder = os.path.join(os.path.dirname(reportlab.__file__), "fonts")
    pdfmetrics.registerFont(TTFont("FacteurSans", os.path.join(folder, "Vera.ttf")))
    pdfmetrics.registerFont(TTFont("FacteurSans-Bold", os.path.join(folder, "VeraBd.ttf")))
    return "FacteurSans", "FacteurSans-Bold"


@lru_cache(maxsize=1)
def srgb_icc() -> bytes:
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _fmt(amount: Decimal | None, currency: str = "") -> str:
    return "" if amount is None else money_text(amount, currency, "fr").strip()


def _party_lines(p: Party, lab: dict) -> list[str]:
    lines = [p.name or ""]
    lines += [x for x in (p.line1, p.line2, p.line3) if x]
    lines.append(" ".join(x for x in (p.postcode, p.city) if x))
    if p.country:
        lines.append(p.country)
    if p.siren:
        lines.append(f"{lab['siren']} {p.siren}")
    if p.vat_id:
        lines.append(f"{lab['vat_id']} {p.vat_id}")
    return [x for x in lines if x]


def render_pdf(inv: Invoice, *, lang: str = "fr") -> bytes:
    """A one-or-more-page readable invoice (A4), fonts embedded, deterministic output."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    regular, bold = _fonts()
    lab = LABELS.get(lang, LABELS["fr"])
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4, invariant=1, pageCompression=1, initialFontName=regular, initialFontSize=10)
    c.setTitle(f"{lab['credit'] if inv.is_credit_note else lab['invoice']} {inv.number}")
    c.setAuthor(inv.seller.name or "")
    c.setSubject(f"{inv.seller.name} -> {inv.buyer.name}")
    c.setCreator("Facteur")
    width, height = A4
    margin = 48

    def header() -> float:
        c.setFont(bold, 18)
        c.drawString(margin, height - margin - 10, f"{lab['credit'] if inv.is_credit_note else lab['invoice']}")
        c.setFont(regular, 10)
        c.drawRightString(width - margin, height - margin - 4, f"{lab['number']} {inv.number}")
        c.drawRightString(width - margin, height - margin - 18, f"{lab['date']} : {inv.issue_date.isoformat()}")
        if inv.due_date:
            c.drawRightString(width - margin, height - margin - 32, f"{lab['due']} : {inv.due_date.isoformat()}")
        return height - margin - 60

    y = header()
    for x, title, party in ((margin, lab["seller"], inv.seller), (width / 2 + 10, lab["buyer"], inv.buyer)):
        c.setFont(bold, 10)
        c.drawString(x, y, title)
        c.setFont(regular, 9)
        for i, text in enumerate(_party_lines(party, lab)):
            c.drawString(x, y - 14 - 12 * i, text[:60])
    y -= 110
    c.setFont(regular, 9)
    for label, value in ((lab["po"], inv.purchase_order_reference), (lab["ref"], inv.buyer_reference)):
        if value:
            c.drawString(margin, y, f"{label} : {value}")
            y -= 12
    y -= 8
    cols = [margin, width - margin - 260, width - margin - 200, width - margin - 120, width - margin]

    def table_head(y: float) -> float:
        c.setFont(bold, 9)
        c.drawString(cols[0], y, lab["item"])
        c.drawRightString(cols[1] + 50, y, lab["qty"])
        c.drawRightString(cols[2] + 70, y, lab["price"])
        c.drawRightString(cols[3] + 50, y, lab["vat"])
        c.drawRightString(cols[4], y, lab["total"])
        c.line(margin, y - 4, width - margin, y - 4)
        c.setFont(regular, 9)
        return y - 16

    y = table_head(y)
    for line in inv.lines:
        if y < margin + 140:
            c.showPage()
            y = table_head(header())
        c.drawString(cols[0] + (0 if line.billed else 8), y, line.name[:55])  # GROUP / INFORMATION lines: indented, no figures
        if line.quantity is not None:
            c.drawRightString(cols[1] + 50, y, f"{line.quantity.normalize():f}")
        if line.net_price is not None:
            c.drawRightString(cols[2] + 70, y, _fmt(line.net_price))
        c.drawRightString(cols[3] + 50, y, f"{line.vat_rate.normalize():f}" if line.vat_rate is not None else (line.vat_category or ""))
        if line.net_amount is not None:
            c.drawRightString(cols[4], y, _fmt(line.net_amount))
        y -= 13
    y -= 10
    c.line(width / 2, y + 6, width - margin, y + 6)
    totals: tuple[tuple[str, Decimal | None, str], ...] = ((lab["net"], inv.tax_exclusive_amount, regular), (lab["tax"], inv.tax_amount, regular),
                               (lab["gross"], inv.tax_inclusive_amount, regular), (lab["due_amount"], inv.amount_due, bold))
    for label, total, font in totals:
        c.setFont(font, 10)
        c.drawString(width / 2, y - 8, label)
        c.drawRightString(width - margin, y - 8, _fmt(total, inv.currency))
        y -= 16
    y -= 12
    c.setFont(regular, 8)
    if inv.payment_terms:
        c.drawString(margin, y, f"{lab['terms']} : {inv.payment_terms[:110]}")
        y -= 11
    if inv.payment_account_id:
        c.drawString(margin, y, f"{lab['iban']} : {inv.payment_account_id}"
                     + (f"  BIC : {inv.payment_service_provider}" if inv.payment_service_provider else ""))
        y -= 11
    for note in inv.notes:
        for chunk in [note.text[i:i + 120] for i in range(0, len(note.text), 120)][:4]:
            if y < margin:
                break
            c.drawString(margin, y, chunk)
            y -= 10
    c.showPage()
    c.save()
    return buf.getvalue()


def output_intent_into(writer) -> None:
    """The sRGB output intent, added to a pypdf writer's catalog when it has none."""
    from pypdf.generic import ArrayObject, DictionaryObject, NameObject, NumberObject, StreamObject, TextStringObject

    if "/OutputIntents" in writer._root_object:
        return
    icc = StreamObject()
    icc.set_data(srgb_icc())
    icc[NameObject("/N")] = NumberObject(3)
    icc_ref = writer._add_object(icc)
    intent = DictionaryObject({
        NameObject("/Type"): NameObject("/OutputIntent"),
        NameObject("/S"): NameObject("/GTS_PDFA1"),
        NameObject("/OutputConditionIdentifier"): TextStringObject("sRGB"),
        NameObject("/RegistryName"): TextStringObject("http://www.color.org"),
        NameObject("/Info"): TextStringObject("sRGB IEC61966-2.1"),
        NameObject("/DestOutputProfile"): icc_ref,
    })
    writer._root_object[NameObject("/OutputIntents")] = ArrayObject([writer._add_object(intent)])
