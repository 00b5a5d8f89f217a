"""Human-readable money and dates: French (1 234,56 EUR, 31/12/2026) or English (1,234.56 EUR, 31 Dec 2026)."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

_MONTHS_EN = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def money_text(amount: Decimal | None, currency: str, lang: str = "fr") -> str:
    if amount is None:
        return "-"
    q = Decimal(amount).quantize(Decimal("0.01"))
    text = f"{q:,.2f}"
    if lang == "fr":
        text = text.replace(",", "\u202f").replace(".", ",")
    return f"{text} {currency}"


def date_text(value: date | str | None, lang: str = "fr") -> str:
    if value is None:
        return "-"
    d = date.fromisoformat(value) if isinstance(value, str) else value
    if lang == "fr":
        return d.strftime("%d/%m/%Y")
    return f"{d.day} {_MONTHS_EN[d.month - 1]} {d.year}"
