"""Plain PDFs (no embedded XML): per-supplier extraction templates.

A template recognises one billing tool's layout (`match`, a regular expression over the PDF's
text) and reads header-level fields with one regular expression each (first capture group).
The result is a MINIMUM-profile invoice (EN 16931 header data, no lines): the supplier's PDF
stays the readable copy and becomes a Factur-X MINIMUM. The seller comes from the supplier's
profile, the buyer from the customer directory when its identifier is on the page.

    pdf_templates:                       # in the supplier's directory entry
      - name: gnuaccounting
        match: "Powered by GnuAccounting"  # recognises the layout
        date_format: "%d.%m.%Y"
        fields: {BT-1: "Rechnung # (\\S+)", BT-112: "Gesamtbetrag: ([\\d.,]+)", ...}

A complete template, used on a corpus PDF, is in tests/e2e/test_invoice_path.py (BEI_SPIEL).
"""
from __future__ import annotations

import io
import re
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ..errors import RejectedInput
from ..model.directory import PdfTemplate

MINIMUM_URN = "urn:factur-x.eu:1p0:minimum"
REQUIRED = ("BT-1", "BT-2", "BT-109", "BT-112")
DATES = {"BT-2", "BT-9", "BT-72"}
AMOUNTS = {"BT-109", "BT-110", "BT-112", "BT-113", "BT-115"}
TEXTS = {"BT-1", "BT-10", "BT-13", "BT-12", "BT-20", "BT-83"}


def pdf_text(data: bytes) -> str:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data), strict=False)
    return "\n".join((page.extract_text() or "") for page in reader.pages[:20])


def _amount(text: str, comma: bool) -> Decimal:
    t = text.replace("\u202f", "").replace(" ", "").replace("€", "")
    t = t.replace(".", "").replace(",", ".") if comma else t.replace(",", "")
    try:
        return Decimal(t)
    except InvalidOperation as exc:
        raise ValueError(f"'{text}' is not an amount") from exc


def capture(text: str, templates: list[PdfTemplate]) -> tuple[PdfTemplate, dict[str, Any]] | None:
    """The first template whose `match` is on the page, and the raw values it finds."""
    for t in templates:
        if re.search(t.match, text):
            found = {}
            for key, rx in t.fields.items():
                m = re.search(rx, text, flags=re.MULTILINE)
                if m:
                    found[key] = (m.group(1) if m.groups() else m.group(0)).strip()
            return t, found
    return None


def to_invoice_data(t: PdfTemplate, found: dict[str, Any], seller: dict, buyer: dict) -> dict:
    """Typed EN 16931 data (BT ids) for Invoice.model_validate, or RejectedInput naming what is missing."""
    missing = [k for k in REQUIRED if k not in found]
    if missing:
        raise RejectedInput(f"the PDF matches template '{t.name}' but these fields were not found: {', '.join(missing)}",
                            code="template_incomplete")
    data: dict[str, Any] = {"BT-3": t.type_code, "BT-5": t.currency, "BT-24": MINIMUM_URN, "BG-4": seller, "BG-7": buyer}
    try:
        for key, raw in found.items():
            if key in DATES:
                data[key] = datetime.strptime(raw, t.date_format).date()
            elif key in AMOUNTS:
                data[key] = _amount(raw, t.decimal_comma)
            elif key in TEXTS:
                data[key] = raw
    except ValueError as exc:
        raise RejectedInput(f"template '{t.name}': {exc}", code="template_incomplete") from exc
    data.setdefault("BT-110", data["BT-112"] - data["BT-109"])
    data.setdefault("BT-115", data["BT-112"] - data.get("BT-113", Decimal("0")))
    if abs(data["BT-109"] + data["BT-110"] - data["BT-112"]) > Decimal("0.01"):
        raise RejectedInput(f"template '{t.name}': totals do not add up ({data['BT-109']} + {data['BT-110']} "
                            f"!= {data['BT-112']})", code="template_incomplete")
    return data
