"""The published JSON Schema is the model's, and accepts what the API accepts."""
from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from facteur.model.schema import json_schema

ROOT = Path(__file__).resolve().parents[2]


def test_published_schema_is_up_to_date():
    assert json.loads((ROOT / "schemas" / "invoice.schema.json").read_text()) == json_schema(), \
        "regenerate: .venv/bin/facteur schema > schemas/invoice.schema.json"


def test_schema_accepts_the_demo_json_and_names_what_is_missing():
    schema = json.loads((ROOT / "schemas" / "invoice.schema.json").read_text())
    doc = json.loads((ROOT / "demo" / "inbox" / "FA-2026-1204.json").read_text())
    jsonschema.validate(doc, schema)
    del doc["BT-1"]
    with pytest.raises(jsonschema.ValidationError, match="'BT-1' is a required property"):
        jsonschema.validate(doc, schema)
