"""Small helpers shared by the XML writers."""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from lxml import etree


def num(value: Decimal | int | str | None) -> str | None:
    """Decimal as plain text (no exponent, no trailing '.')."""
    if value is None:
        return None
    d = Decimal(str(value))
    text = format(d, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".") if d == d.to_integral_value() else text
    return text or "0"


def money(value: Decimal | None) -> str | None:
    """Amounts: at least two decimals (BR-DEC rules allow at most two for totals)."""
    if value is None:
        return None
    d = Decimal(str(value))
    if d == d.quantize(Decimal("0.01")):
        return format(d.quantize(Decimal("0.01")), "f")
    return format(d, "f")


class Builder:
    """`sub(parent, 'ram:Name', text, attr=...)`: creates nothing when text is None and the
    element would be a leaf, so optional BTs need no `if` at every call."""

    def __init__(self, nsmap: dict[str, str]):
        self.nsmap = nsmap

    def q(self, tag: str) -> str:
        prefix, local = tag.split(":")
        return f"{{{self.nsmap[prefix]}}}{local}"

    def root(self, tag: str) -> etree._Element:
        return etree.Element(self.q(tag), nsmap=self.nsmap)

    def el(self, parent: etree._Element, tag: str, **attrs: Any) -> etree._Element:
        e = etree.SubElement(parent, self.q(tag))
        for k, v in attrs.items():
            if v is not None:
                e.set(k, str(v))
        return e

    def leaf(self, parent: etree._Element, tag: str, text: Any, **attrs: Any) -> etree._Element | None:
        if text is None or text == "":
            return None
        e = self.el(parent, tag, **attrs)
        e.text = text if isinstance(text, str) else str(text)
        return e


def d102(value: date | None) -> str | None:
    return value.strftime("%Y%m%d") if value else None


def to_bytes(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def payment_terms_text(text: str | None) -> str | None:
    """BT-20 as written: structured early-payment lines (`#SKONTO#TAGE=7#PROZENT=2.00#`, the
    XRechnung convention, BR-DE-18) each end with a line break, the last one included; the
    canonical model trims surrounding whitespace, so the final one is put back here."""
    if text and "#SKONTO#" in text and not text.endswith("\n"):
        return text + "\n"
    return text
