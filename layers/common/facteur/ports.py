"""The ports of the domain: what the pipeline needs from storage, the directory, documents,
the workflow engine and the clock, as protocols. The AWS adapters (tracking/store.py,
routing/directory.py, adapters/s3.py) implement them and mypy checks that they do (see
context.py); tests use in-memory fakes of the same protocols (tests/fakes.py).

Dependencies point one way: handlers -> pipeline -> ports; adapters implement ports."""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, Protocol

from .model.directory import Customer, Supplier
from .model.invoice import Party
from .model.records import Event, InvoiceRecord


class Invoices(Protocol):
    """Projections and their append-only timelines (optimistic locking on `version`)."""

    def create(self, rec: InvoiceRecord, first_event: Event) -> InvoiceRecord: ...

    def get(self, invoice_id: str) -> InvoiceRecord: ...

    def save(self, rec: InvoiceRecord, event: Event | None, expected_version: int) -> InvoiceRecord: ...

    def has_event(self, invoice_id: str, event_id: str) -> bool: ...

    def timeline(self, invoice_id: str) -> list[Event]: ...

    def by_supplier(self, supplier_id: str, status: str | None = None, limit: int = 100,
                    cursor: str | None = None) -> tuple[list[InvoiceRecord], str | None]: ...

    def by_buyer(self, supplier_id: str, customer_id: str, limit: int = 100,
                 cursor: str | None = None) -> tuple[list[InvoiceRecord], str | None]: ...

    def due(self, supplier_id: str, before: datetime, page: int = 100) -> Iterator[InvoiceRecord]: ...

    def claim(self, key: str, value: dict[str, Any]) -> dict[str, Any] | None: ...

    def park(self, invoice_id: str, token: str) -> None: ...

    def take_wait_token(self, invoice_id: str) -> str | None: ...


class Directory(Protocol):
    """Suppliers (tenants), their customers and recipients, API keys."""

    def supplier(self, supplier_id: str) -> Supplier: ...

    def customer(self, supplier_id: str, customer_id: str) -> Customer: ...

    def customers(self, supplier_id: str) -> list[Customer]: ...

    def find_customer(self, supplier_id: str, buyer: Party) -> Customer | None: ...

    def supplier_for_key(self, api_key: str) -> str | None: ...

    def suppliers(self) -> list[str]: ...

    def put_supplier(self, s: Supplier, api_keys: Sequence[str] = ()) -> None: ...


class Documents(Protocol):
    """Originals, canonical data and produced documents (write-once storage)."""

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream", **meta: str) -> str: ...

    def get(self, key: str, bucket: str | None = None, version: str | None = None) -> bytes: ...

    def copy(self, source_bucket: str, source_key: str, key: str, version: str | None = None, **meta: str) -> str: ...

    def presign(self, key: str, seconds: int, filename: str) -> str: ...


class Clock(Protocol):
    def __call__(self) -> datetime: ...
