"""Human-readable money, French (1 234,56 EUR) or English (1,234.56 EUR)."""
from __future__ import annotations

from decimal import Decimal


def money_text(amount: Decimal | None, currency: str, lang: str = "fr") -> str:
    if amount is None:
        return "-"
    q = Decimal(amount).quantize(Decimal("0.01"))
    text = f"{q:,.2f}"
    if lang == "fr":
        text = text.replace(",", "\u202f").replace(".", ",")
    return f"{text} {currency}"
