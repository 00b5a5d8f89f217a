"""In-memory fakes of the domain's ports (facteur/ports.py), for pipeline unit tests without
moto or the network. They keep the adapters' contracts: conditional create, optimistic
locking on `version`, events recorded once by id, claims that return the winner."""
from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from facteur.errors import Conflict, NotFound
from facteur.model.directory import Customer, Supplier
from facteur.model.invoice import Party
from facteur.model.records import Event, InvoiceRecord
from facteur.routing.directory import party_aliases


class FakeInvoices:
    def __init__(self) -> None:
        self.records: dict[str, InvoiceRecord] = {}
        self.events: dict[str, list[Event]] = {}
        self.event_ids: set[tuple[str, str]] = set()
        self.keys: dict[str, dict[str, Any]] = {}

    def create(self, rec: InvoiceRecord, first_event: Event) -> InvoiceRecord:
        if rec.invoice_id in self.records:
            raise Conflict("exists")
        rec.version = 1
        self.records[rec.invoice_id] = copy.deepcopy(rec)
        self.events[rec.invoice_id] = [first_event]
        return rec

    def get(self, invoice_id: str) -> InvoiceRecord:
        if invoice_id not in self.records:
            raise NotFound(invoice_id)
        return copy.deepcopy(self.records[invoice_id])

    def save(self, rec: InvoiceRecord, event: Event | None, expected_version: int) -> InvoiceRecord:
        if self.records[rec.invoice_id].version != expected_version:
            raise Conflict("stale")
        if event is not None and event.id and (rec.invoice_id, event.id) in self.event_ids:
            raise Conflict("event recorded")
        rec.version = expected_version + 1
        self.records[rec.invoice_id] = copy.deepcopy(rec)
        if event is not None:
            self.events[rec.invoice_id].append(event)
            if event.id:
                self.event_ids.add((rec.invoice_id, event.id))
        return rec

    def has_event(self, invoice_id: str, event_id: str) -> bool:
        return (invoice_id, event_id) in self.event_ids

    def timeline(self, invoice_id: str) -> list[Event]:
        return list(self.events.get(invoice_id, []))

    def by_supplier(self, supplier_id: str, status: str | None = None, limit: int = 100,
                    cursor: str | None = None) -> tuple[list[InvoiceRecord], str | None]:
        out = [r for r in self.records.values() if r.supplier_id == supplier_id and (not status or r.status.value == status)]
        return out[:limit], None

    def by_buyer(self, supplier_id: str, customer_id: str, limit: int = 100,
                 cursor: str | None = None) -> tuple[list[InvoiceRecord], str | None]:
        out = [r for r in self.records.values() if r.supplier_id == supplier_id and r.customer_id == customer_id]
        return out[:limit], None

    def due(self, supplier_id: str, before: datetime, page: int = 100) -> Iterator[InvoiceRecord]:
        due = [r for r in self.records.values() if r.supplier_id == supplier_id and r.next_due_at and r.next_due_at <= before]
        yield from (copy.deepcopy(r) for r in sorted(due, key=lambda r: r.next_due_at or before))

    def invoice_by_number(self, supplier_id: str, number: str) -> str | None:
        return next((r.invoice_id for r in self.records.values() if r.supplier_id == supplier_id and r.number == number), None)

    def park(self, invoice_id: str, token: str) -> None:
        self.keys[f"WAIT#{invoice_id}"] = {"token": token}

    def take_wait_token(self, invoice_id: str) -> str | None:
        return (self.keys.pop(f"WAIT#{invoice_id}", None) or {}).get("token")

    def claim(self, key: str, value: dict[str, Any]) -> dict[str, Any] | None:
        if key in self.keys:
            return dict(self.keys[key])
        self.keys[key] = dict(value)
        return None


class FakeDirectory:
    def __init__(self, suppliers: Sequence[Supplier] = (), customers: dict[str, list[Customer]] | None = None):
        self._suppliers = {s.id: s for s in suppliers}
        self._customers = customers or {}

    def supplier(self, supplier_id: str) -> Supplier:
        if supplier_id not in self._suppliers:
            raise NotFound(supplier_id)
        return self._suppliers[supplier_id]

    def customer(self, supplier_id: str, customer_id: str) -> Customer:
        return next(c for c in self._customers.get(supplier_id, []) if c.id == customer_id)

    def customers(self, supplier_id: str) -> list[Customer]:
        return list(self._customers.get(supplier_id, []))

    def find_customer(self, supplier_id: str, buyer: Party) -> Customer | None:
        wanted = set(party_aliases(buyer))  # as DirectoryStore indexes them: SIREN, VAT id and other identifiers
        return next((c for c in self._customers.get(supplier_id, [])
                     if wanted & set(party_aliases(Party.model_validate({"name": c.name, "legal_identifier": c.siren,
                                                                         "vat_identifier": c.vat_id,
                                                                         "identifiers": [{"id": i} for i in c.identifiers]})))),
                    None)

    def principal_for_key(self, api_key: str) -> tuple[str, str | None] | None:
        supplier = self.supplier_for_key(api_key)
        return (supplier, None) if supplier else None

    def supplier_for_key(self, api_key: str) -> str | None:
        return None

    def suppliers(self) -> list[str]:
        return sorted(self._suppliers)

    def put_supplier(self, s: Supplier, api_keys: Sequence[str] = ()) -> None:
        self._suppliers[s.id] = s


class FakeDocuments:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream", **meta: str) -> str:
        self.objects[key] = data
        return key

    def get(self, key: str, bucket: str | None = None, version: str | None = None) -> bytes:
        if key not in self.objects:
            raise NotFound(key)
        return self.objects[key]

    def copy(self, source_bucket: str, source_key: str, key: str, version: str | None = None, **meta: str) -> str:
        self.objects[key] = self.objects.get(source_key, b"")
        return key

    def presign(self, key: str, seconds: int, filename: str) -> str:
        return f"https://fake/{key}?ttl={seconds}"
