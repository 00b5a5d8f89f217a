"""What the reader did not take from an XML invoice: the values of the input that the invoice, written
back in the same syntax by the most capable writer, does not give back. It is the input side of the
loss report (the model diff in `facteur.conversion` is the output side), and it is what catches a
structure Facteur does not model yet (XRechnung sub-lines, a second identifier of the same scheme...).

Values are compared as business values (numbers by value, text with its spaces collapsed); where a
value sits is its element path without positions. A value the invoice holds somewhere counts as read
(the writer of that syntax may not be able to place it: the output side of the report says so). Formatting attributes (currencyID on amounts,
date formats) and the specification identifier (BT-24, reported by the conversion) are not data."""
from __future__ import annotations

from collections import Counter
from decimal import Decimal, InvalidOperation

from lxml import etree

from .detect import Kind

SKIP_ATTRS = {"currencyID", "format", "languageID"}
SKIP_ELEMENTS = {"GuidelineSpecifiedDocumentContextParameter", "CustomizationID", "UBLVersionID", "TestIndicator"}
SAFE = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


def unread(xml: bytes, syntax: Kind, invoice) -> list[str]:
    """`path: value` of every input value not given back, grouped by path (at most 5 values shown)."""
    from . import cii, ubl

    if syntax is Kind.CII:
        back = cii.write(invoice, profile="extended")
    elif syntax in (Kind.UBL_INVOICE, Kind.UBL_CREDIT_NOTE):
        back = ubl.write(invoice)
    else:
        return []
    want = _leaves(etree.fromstring(xml, parser=SAFE))
    missing = want - _leaves(etree.fromstring(back, parser=SAFE))
    # A value the invoice holds elsewhere was read: only the writer of this syntax cannot place it
    # (that is the output side of the loss report). What remains was not read at all.
    held = _model_values(invoice)
    missing = Counter({k: n for k, n in missing.items() if k[1] not in held})
    by_path: dict[str, list[str]] = {}
    for (path, value), n in sorted(missing.items()):
        by_path.setdefault(path, []).extend([value] * n)
    out = []
    for path, values in by_path.items():
        shown = ", ".join(repr(v) for v in values[:5]) + (f" (+{len(values) - 5} more)" if len(values) > 5 else "")
        out.append(f"{path}: {shown} not read")
    return out


def _model_values(invoice) -> set[str]:
    from datetime import date

    from ..conversion import business_values

    out: set[str] = set()
    for value in business_values(invoice).values():
        if isinstance(value, date):
            out |= {value.isoformat(), value.strftime("%Y%m%d")}
        elif isinstance(value, Decimal):
            out.add(format(value.normalize(), "f"))
        elif isinstance(value, str):
            out.add(_norm(value))
    return out


def _leaves(root: etree._Element) -> Counter:
    found: Counter = Counter()

    def walk(el: etree._Element, path: str) -> None:
        for child in el:
            if not isinstance(child.tag, str):
                continue
            name = etree.QName(child).localname
            if name in SKIP_ELEMENTS:
                continue
            here = f"{path}/{name}" if path else name
            for attr, value in child.attrib.items():
                local = etree.QName(attr).localname
                if local not in SKIP_ATTRS and etree.QName(attr).namespace is None and value.strip():
                    found[(f"{here}@{local}", _norm(value))] += 1
            if len(child) == 0 and child.text and child.text.strip() and not _structural(here, child.text.strip()):
                found[(here, _norm(child.text))] += 1
            walk(child, here)

    walk(root, "")
    return found


def _structural(path: str, value: str) -> bool:
    """Values that say how, not what: the tax scheme VAT, an allowance's indicator (its amount and
    reason carry the meaning)."""
    return (path.endswith(("TypeCode", "TaxScheme/ID")) and value == "VAT") or "ChargeIndicator" in path


def _norm(text: str) -> str:
    text = " ".join(text.split())
    try:
        if text and text.replace(".", "", 1).lstrip("+-").isdigit() and not (len(text) > 1 and text[0] == "0" and text[1] != "."):
            return format(Decimal(text).normalize(), "f")
    except InvalidOperation:
        pass
    return text
