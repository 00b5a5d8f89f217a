"""The published JSON Schema of Facteur's JSON invoice (POST /invoices, facteur convert input):
the EN 16931 semantic model with BT/BG ids as keys. `schemas/invoice.schema.json` is this,
regenerated with `facteur schema > schemas/invoice.schema.json` (a test keeps them equal)."""
from __future__ import annotations

from .invoice import Invoice

SCHEMA_ID = "https://github.com/facteur/facteur/schemas/invoice.schema.json"


def json_schema() -> dict:
    schema = Invoice.model_json_schema(by_alias=True, mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID,
            "title": "Facteur invoice (EN 16931 semantic model, keys are BT/BG ids)", **schema}
