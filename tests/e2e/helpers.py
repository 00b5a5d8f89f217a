"""What the end-to-end modules share: a runtime per module with the demo directory loaded, and
an API client with the demo supplier's key."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from facteur_local.runtime import LocalRuntime

ROOT = Path(__file__).resolve().parents[2]
INBOX = ROOT / "demo" / "inbox"
KEY = "demo-key-atelier-dupont"
# The demo supplier's profile, for directories that give it other customers or settings:
# SUPPLIER + "    customers:\n" + the customers (YAML indented under the supplier).
SUPPLIER = """
suppliers:
  - id: atelier-dupont
    name: Atelier Dupont SARL
    siren: "732829320"
    vat_id: FR44732829320
    mail_from: factures@atelier-dupont.example
    api_keys: [demo-key-atelier-dupont]
"""
OTHER = """
suppliers:
  - id: other-supplier
    name: Other Supplier SAS
    api_keys: [key-of-another-tenant]
    customers: []
"""


@contextmanager
def demo_runtime(tmp_path_factory, name: str, *directories: str) -> Iterator[LocalRuntime]:
    """template.yaml on the embedded runtime, the demo directory (and `directories`) loaded."""
    out = tmp_path_factory.mktemp(name)
    with LocalRuntime(out_dir=out, log_file=out / "lambda.jsonl") as runtime:
        runtime.load_directory(ROOT / "config" / "demo-directory.yaml")
        for extra in directories:
            runtime.load_directory(extra)
        yield runtime


def api(rt: LocalRuntime, method: str, path: str, key: str | None = KEY, **kw) -> requests.Response:
    headers = kw.pop("headers", {})
    if key:
        headers["Authorization"] = f"Bearer {key}"
    return requests.request(method, f"{rt.api_url}{path}", headers=headers, timeout=60, **kw)


def local_url(rt: LocalRuntime) -> str:
    """The local-only control routes (/_local/...)."""
    return rt.api_url.rsplit("/", 1)[0] + "/_local"


@pytest.fixture(autouse=True)
def disarmed(rt):
    """Imported by the modules that inject faults: every test ends with no fault armed."""
    yield
    requests.delete(f"{local_url(rt)}/faults", timeout=10)


def post_invoice(rt: LocalRuntime, prefix: str, buyer: dict, **fields: str) -> tuple[str, str]:
    """The demo JSON invoice under a new number (`prefix`-...), to `buyer` (BG-7 fields), with other
    BT `fields`, posted to the API and settled: (invoice id, number)."""
    import json
    import uuid

    data = json.loads((INBOX / "FA-2026-1204.json").read_text())
    number = f"{prefix}-{uuid.uuid4().hex[:6]}"
    data.update({"BT-1": number, **fields})
    data["BG-7"].update(buyer)
    res = api(rt, "POST", "/invoices", data=json.dumps(data), headers={"Content-Type": "application/json"})
    assert res.status_code == 202, res.text
    rt.settle()
    return res.json()["invoice_id"], number
