"""Factur-X PDF/A-3: the supplier's PDF (or one rendered from the data) with the CII XML
embedded as factur-x.xml (AFRelationship Data/Alternative), the Factur-X XMP extension schema
and an sRGB output intent. Embedding and XMP are done by the `factur-x` package."""
from __future__ import annotations

import io
import logging

from ..model.invoice import Invoice
from . import cii
from .render import add_output_intent, render_pdf

logging.getLogger("factur-x").setLevel(logging.CRITICAL)


def generate(inv: Invoice, *, profile: str | None = None, pdf: bytes | None = None, lang: str = "fr",
             xml: bytes | None = None) -> bytes:
    """A Factur-X PDF for `inv`. `pdf` is the supplier's readable copy when there is one."""
    from facturx import generate_from_binary

    profile = profile or inv.profile
    xml = xml or cii.write(inv, profile=profile)
    base = pdf if pdf is not None else render_pdf(inv, lang=lang)
    attachments = {}
    if pdf is not None:
        base, kept = _strip_invoice_attachments(base)
        attachments.update(kept)  # the supplier's other embedded files travel on
    base = add_output_intent(base)
    for att in inv.attachments:  # BG-24 documents travel inside the PDF too
        if att.content is not None:
            attachments[att.filename or att.reference] = {"filedata": att.content, "description": att.description or att.reference}
    metadata = {
        "author": inv.seller.name or "",
        "keywords": "Factur-X, Invoice",
        "title": f"{inv.seller.name}: {'Credit note' if inv.is_credit_note else 'Invoice'} {inv.number}",
        "subject": f"Factur-X {'credit note' if inv.is_credit_note else 'invoice'} {inv.number} "
                   f"dated {inv.issue_date.isoformat()} issued by {inv.seller.name}",
    }
    return generate_from_binary(base, xml, flavor="factur-x", level=profile, check_xsd=False,
                                pdf_metadata=metadata, lang="fr-FR" if lang == "fr" else "en-GB",
                                attachments=attachments or None,
                                afrelationship="data" if profile in ("minimum", "basicwl") else "alternative")


INVOICE_XML_NAMES = {"factur-x.xml", "zugferd-invoice.xml", "xrechnung.xml"}


def _strip_invoice_attachments(pdf: bytes) -> tuple[bytes, dict]:
    """Remove the embedded files so the new factur-x.xml is the only invoice XML; the others
    (supporting documents the supplier embedded) are returned to be embedded again."""
    from pypdf import PdfReader, PdfWriter

    reader = PdfReader(io.BytesIO(pdf))
    files = reader.attachments
    kept = {name: {"filedata": data[0], "description": name} for name, data in files.items()
            if name.lower() not in INVOICE_XML_NAMES and data}
    if not files:
        return pdf, {}
    writer = PdfWriter(clone_from=reader)
    root = writer._root_object
    names = root.get("/Names")
    if names is not None and "/EmbeddedFiles" in names.get_object():
        del names.get_object()["/EmbeddedFiles"]
    if "/AF" in root:
        del root["/AF"]
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue(), kept
