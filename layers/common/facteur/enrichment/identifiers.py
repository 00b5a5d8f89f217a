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
    from ..tracking.store import InvoiceStore

    report = {"customers": 0, "problems": []}
    for supplier_id in ctx.directory.suppliers():
        res = ctx.client("dynamodb").query(
            TableName=ctx.settings.directory_table, KeyConditionExpression="PK = :pk AND begins_with(SK, :c)",
            ExpressionAttributeValues=InvoiceStore._ser({":pk": f"SUP#{supplier_id}", ":c": "CUS#"}))
        for item in res.get("Items", []):
            data = InvoiceStore._de(item)["data"]
            report["customers"] += 1
            siren, vat = data.get("siren"), data.get("vat_id")
            if siren and not siren_valid(siren):
                report["problems"].append({"supplier_id": supplier_id, "customer_id": data["id"], "problem": "invalid SIREN"})
            elif siren and vat and vat.startswith("FR") and vat != fr_vat_for(siren):
                report["problems"].append({"supplier_id": supplier_id, "customer_id": data["id"],
                                           "problem": "VAT number does not match SIREN"})
    return report
