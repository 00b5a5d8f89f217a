"""Factur-X PDF/A-3: the supplier's PDF (or one rendered from the data) with the CII XML
embedded as factur-x.xml (AFRelationship Data/Alternative), the Factur-X XMP extension schema
and an sRGB output intent. Embedding and XMP are done by the `factur-x` package."""
from __future__ import annotations

import io
import logging

from ..model.invoice import Invoice
from . import cii
from .render import render_pdf

logging.getLogger("factur-x").setLevel(logging.CRITICAL)


def _xmp_with_rdf_about(make):
    """ISO 19005 6.6.2.1 (PDF/A XMP): every rdf:Description carries rdf:about (empty: this document).
    The factur-x package (7.8) writes them without it; its XMP is adjusted as it is made."""
    import functools
    import re

    @functools.wraps(make)
    def wrapper(*args, **kwargs):
        xmp = make(*args, **kwargs)
        return re.sub(rb"<rdf:Description(?![^>]*rdf:about)", b'<rdf:Description rdf:about=""', xmp)

    wrapper.__wrapped_for_rdf_about__ = True  # type: ignore[attr-defined]
    return wrapper


def _patch_xmp() -> None:
    import facturx.facturx as fx

    if not getattr(fx.generate_xmp_bytes, "__wrapped_for_rdf_about__", False):
        fx.generate_xmp_bytes = _xmp_with_rdf_about(fx.generate_xmp_bytes)


_patch_xmp()


def generate(inv: Invoice, *, profile: str | None = None, pdf: bytes | None = None, lang: str = "fr",
             xml: bytes | None = None, notes: list[str] | None = None,
             supplements: dict[str, bytes] | None = None) -> bytes:
    """A Factur-X PDF for `inv`. `pdf` is the supplier's readable copy when there is one: what
    PDF/A-3 forbids in it (JavaScript, Launch...) is removed and listed in `notes`.
    `supplements` are files embedded as well (e.g. the supplier's own PDF when it is re-rendered).

    One pypdf pass: the base PDF is cloned once, cleaned, given its output intent, and the
    `factur-x` package's own routine embeds the XML and writes the XMP into that same writer
    (what `facturx.generate_from_binary` does, without its extra read and write)."""
    from facturx.facturx import _facturx_update_metadata_add_attachment
    from pypdf import PdfReader, PdfWriter

    from .pdfsafe import embedded_files, strip_active_content
    from .render import output_intent_into

    profile = profile or inv.profile
    xml = xml or cii.write(inv, profile=profile)
    reader = PdfReader(io.BytesIO(pdf if pdf is not None else render_pdf(inv, lang=lang)))
    attachments: dict[str, dict] = {}
    if pdf is not None:
        files = embedded_files(reader)
        attachments.update({name: {"filedata": data, "description": name} for name, data in files.items()
                            if name.lower() not in INVOICE_XML_NAMES and data})  # the supplier's other files travel on
    writer = PdfWriter(clone_from=reader)
    writer._header = b"%PDF-1.6"
    if pdf is not None:
        removed = strip_active_content(writer)
        if notes is not None:
            notes.extend(removed)
        _drop_embedded_files(writer)
    output_intent_into(writer)
    for name, content in (supplements or {}).items():
        attachments[name] = {"filedata": content, "description": name}
    for att in inv.attachments:  # BG-24 documents travel inside the PDF too
        if att.content is not None:
            attachments[att.filename or att.reference] = {"filedata": att.content, "description": att.description or att.reference}
    for name in list(attachments):
        if name.lower() in INVOICE_XML_NAMES:
            attachments.pop(name)
        else:
            attachments[name].setdefault("afrelationship", "unspecified")
    metadata = {
        "author": inv.seller.name or "",
        "keywords": "Factur-X, Invoice",
        "title": f"{inv.seller.name}: {'Credit note' if inv.is_credit_note else 'Invoice'} {inv.number}",
        "subject": f"Factur-X {'credit note' if inv.is_credit_note else 'invoice'} {inv.number} "
                   f"dated {inv.issue_date.isoformat()} issued by {inv.seller.name}",
    }
    _facturx_update_metadata_add_attachment(
        writer, xml, metadata, "factur-x", profile, lang="fr-FR" if lang == "fr" else "en-GB",
        additional_attachments=attachments, afrelationship="data" if profile in ("minimum", "basicwl") else "alternative")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _drop_embedded_files(writer) -> None:
    root = writer._root_object
    names = root.get("/Names")
    if names is not None and "/EmbeddedFiles" in names.get_object():
        del names.get_object()["/EmbeddedFiles"]
    if "/AF" in root:
        del root["/AF"]


INVOICE_XML_NAMES = {"factur-x.xml", "zugferd-invoice.xml", "xrechnung.xml"}


def sanitised_parts(pdf: bytes) -> tuple[bytes, dict, list[str]]:
    """The supplier's PDF cleaned, its embedded files other than an invoice XML ({name: {filedata,
    description}}), and what active content was removed."""
    return _sanitised(pdf)


def _sanitised(pdf: bytes) -> tuple[bytes, dict, list[str]]:
    """The supplier's PDF without its embedded files (the new factur-x.xml is the only invoice
    XML; the others, supporting documents, are returned to be embedded again) and without the
    active content PDF/A-3 forbids (returned as a list of what was removed)."""
    from pypdf import PdfReader, PdfWriter

    from .pdfsafe import embedded_files, has_active_content, strip_active_content

    reader = PdfReader(io.BytesIO(pdf))
    files = embedded_files(reader)
    kept = {name: {"filedata": data, "description": name} for name, data in files.items()
            if name.lower() not in INVOICE_XML_NAMES and data}
    if not files and not has_active_content(reader):
        return pdf, {}, []  # nothing to remove: no copy
    writer = PdfWriter(clone_from=reader)
    removed = strip_active_content(writer)
    if not files and not removed:
        return pdf, {}, []
    _drop_embedded_files(writer)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue(), kept, removed
