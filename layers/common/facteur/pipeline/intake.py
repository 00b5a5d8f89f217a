"""Intake: a file dropped in S3 or posted to the API becomes an invoice, a duplicate, or a
rejection with a precise reason. The original is always kept first, so nothing is lost."""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

from .. import clock, ids
from ..context import Context
from ..errors import Conflict, NotFound, RejectedInput
from ..formats.reader import read_document
from ..model.lifecycle import EventKind, Status
from ..observability import logger
from ..tracking.store import Event, InvoiceRecord, apply_event

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
# Reader codes that hold the invoice (the supplier can act) instead of rejecting it, with the French text.
HOLDABLE = {
    "pdf_plain": "PDF sans XML de facture : configurez un modèle d'extraction pour ce fournisseur ou envoyez un Factur-X",
    "template_incomplete": "le modèle d'extraction du PDF n'a pas trouvé toutes les données obligatoires",
}


def pdf_capture_for(ctx: Context, supplier):
    """The supplier's extraction templates as a reader hook (None when it has none)."""
    if not supplier.pdf_templates:
        return None
    from ..formats.pdf_capture import capture, to_invoice_data
    from ..model.invoice import Party

    def run(text: str):
        hit = capture(text, supplier.pdf_templates)
        if hit is None:
            return None
        template, found = hit
        seller = {"name": supplier.name, "legal_identifier": supplier.siren, "vat_identifier": supplier.vat_id,
                  "legal_identifier_schemeid": "0002" if supplier.siren else None, "country_code": supplier.country}
        ids = [{"id": found["buyer_id"]}] if found.get("buyer_id") else []
        customer = ctx.directory.find_customer(supplier.id, Party.model_validate({"identifiers": ids})) if ids else None
        if customer is not None:
            buyer = {"name": customer.name, "legal_identifier": customer.siren, "vat_identifier": customer.vat_id,
                     "legal_identifier_schemeid": "0002" if customer.siren else None, "identifiers": ids}
        else:
            buyer = {"name": found.get("buyer_name") or f"customer {found.get('buyer_id', '?')}", "identifiers": ids}
        return to_invoice_data(template, found, {k: v for k, v in seller.items() if v}, {k: v for k, v in buyer.items() if v})

    return run


@dataclass
class IntakeResult:
    invoice_id: str
    status: str
    reason: str | None = None
    duplicate_of: str | None = None
    replayed: bool = False

    def public(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v not in (None, False)}


def ingest(ctx: Context, *, supplier_id: str, data: bytes, filename: str, source: str,
           idempotency_key: str | None = None, start_workflow=None) -> IntakeResult:
    now = clock.now()
    invoice_id = ids.invoice_id()
    digest = hashlib.sha256(data).hexdigest()
    if idempotency_key:
        prior = ctx.store.claim(f"IDEM#{supplier_id}#{idempotency_key}", {"invoice_id": invoice_id, "sha256": digest})
        if prior is not None:
            if prior.get("sha256") != digest:
                raise Conflict("this Idempotency-Key was already used with a different body", code="idempotency_mismatch")
            rec = ctx.store.get(prior["invoice_id"])
            return IntakeResult(rec.invoice_id, rec.status.value, rec.reason, rec.duplicate_of, replayed=True)

    name = _SAFE_NAME.sub("_", filename.rsplit("/", 1)[-1])[:120] or "document"
    original_key = ctx.documents.put(f"originals/{supplier_id}/{invoice_id}/{name}", data,
                                     sha256=digest, source=source)
    rec = InvoiceRecord(invoice_id=invoice_id, supplier_id=supplier_id, status=Status.RECEIVED, created_at=now,
                        updated_at=now, source=source, original_key=original_key, original_name=name)
    ctx.store.create(rec, Event(invoice_id=invoice_id, kind=EventKind.RECEIVED, at=now,
                                actor=f"supplier:{supplier_id}", detail={"source": source, "bytes": len(data), "sha256": digest}))
    try:
        try:
            supplier = ctx.directory.supplier(supplier_id)
        except NotFound as exc:
            raise RejectedInput(f"unknown supplier '{supplier_id}' (files must be dropped under in/<supplier id>/)",
                                code="unknown_supplier") from exc
        read = read_document(data, filename=name, max_bytes=ctx.settings.max_input_bytes,
                             pdf_capture=pdf_capture_for(ctx, supplier))
    except RejectedInput as exc:
        # A plain PDF is an invoice we cannot read yet (no or incomplete template): held for the
        # supplier to act on, never rejected. Everything else that is not an invoice is rejected.
        held, err = exc.code in HOLDABLE, exc
        logger.info("input held" if held else "input rejected", extra={"invoice_id": invoice_id, "reason_code": exc.code})

        def reject(r: InvoiceRecord) -> None:
            r.reason, r.reason_code = err.message, err.code
            if held:
                r.findings = [{"rule": err.code.upper().replace("_", "-"), "severity": "error", "message": err.message,
                               "message_fr": HOLDABLE[err.code], "source": "reader"}]

        apply_event(ctx.store, invoice_id, Event(invoice_id=invoice_id, kind=EventKind.HELD if held else EventKind.REJECTED,
                                                 at=clock.now(), detail={"reason": exc.message, "code": exc.code}),
                    mutate=reject)
        return IntakeResult(invoice_id, (Status.HELD if held else Status.REJECTED).value, exc.message)

    inv = read.invoice
    canonical_key = ctx.documents.put(f"canonical/{supplier_id}/{invoice_id}.json",
                                      inv.model_dump_json(by_alias=True, exclude_none=True).encode(), "application/json")
    customer = ctx.directory.find_customer(supplier_id, inv.buyer)

    def describe(r: InvoiceRecord) -> None:
        describe_record(r, inv, canonical_key, read.kind.value, customer)

    # BR-01 / business key: one invoice number per supplier. A second one is a duplicate.
    prior = ctx.store.claim(f"DEDUP#{supplier_id}#{inv.number}", {"invoice_id": invoice_id})
    if prior is not None:
        first = prior["invoice_id"]
        reason = f"duplicate of invoice {inv.number} already received as {first}"

        def dup(r: InvoiceRecord) -> None:
            describe(r)
            r.duplicate_of, r.reason, r.reason_code = first, reason, "duplicate"

        apply_event(ctx.store, invoice_id, Event(invoice_id=invoice_id, kind=EventKind.DUPLICATE, at=clock.now(),
                                                 detail={"duplicate_of": first, "number": inv.number}), mutate=dup)
        return IntakeResult(invoice_id, Status.DUPLICATE.value, reason, duplicate_of=first)

    save_description(ctx, invoice_id, describe)
    (start_workflow or _start_workflow)(ctx, invoice_id, supplier_id)
    return IntakeResult(invoice_id, Status.RECEIVED.value)


def describe_record(r: InvoiceRecord, inv, canonical_key: str, input_kind: str, customer) -> None:
    r.number, r.issue_date, r.currency = inv.number, inv.issue_date.isoformat(), inv.currency
    r.due_date = inv.due_date.isoformat() if inv.due_date else None
    r.amount_due, r.canonical_key, r.input_kind = inv.amount_due, canonical_key, input_kind
    r.customer_id = customer.id if customer else None


def save_description(ctx: Context, invoice_id: str, describe) -> None:
    """Apply `describe(record)` to the projection with optimistic locking (re-read on a lost race)."""
    for _ in range(5):
        rec = ctx.store.get(invoice_id)
        describe(rec)
        try:
            ctx.store.save(rec, None, rec.version)
            break
        except Conflict:
            continue


def _start_workflow(ctx: Context, invoice_id: str, supplier_id: str, run: int = 0) -> None:
    # The execution name is the invoice id (then id-2, id-3... after a correction or release):
    # starting the same run twice is refused by Step Functions.
    sfn = ctx.client("stepfunctions")
    try:
        sfn.start_execution(stateMachineArn=ctx.settings.state_machine_arn, name=invoice_id if run < 2 else f"{invoice_id}-{run}",
                            input=json.dumps({"invoice_id": invoice_id, "supplier_id": supplier_id}))
    except sfn.exceptions.ExecutionAlreadyExists:
        pass
