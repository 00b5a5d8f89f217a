"""Open-data watch, first layer: the identifiers of every customer are checked offline
(SIREN Luhn key, French VAT key derived from the SIREN) before the SIRENE/BODACC/VIES lookups
that later issues add. A wrong identifier is what makes those lookups silently miss."""
from __future__ import annotations

from ..context import Context


def siren_valid(siren: str) -> bool:
    if len(siren) != 9 or not siren.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(siren)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def fr_vat_for(siren: str) -> str:
    key = (12 + 3 * (int(siren) % 97)) % 97
    return f"FR{key:02d}{siren}"


def check_customers(ctx: Context) -> dict:
    problems: list[dict[str, str]] = []
    count = 0
    for supplier_id in ctx.directory.suppliers():
        for c in ctx.directory.customers(supplier_id):
            count += 1
            if c.siren and not siren_valid(c.siren):
                problems.append({"supplier_id": supplier_id, "customer_id": c.id, "problem": "invalid SIREN"})
            elif c.siren and c.vat_id and c.vat_id.startswith("FR") and c.vat_id != fr_vat_for(c.siren):
                problems.append({"supplier_id": supplier_id, "customer_id": c.id,
                                           "problem": "VAT number does not match SIREN"})
    return {"customers": count, "problems": problems}
