"""What the supplier can do with a held invoice: upload a corrected file, patch fields, or
release it as it is with a reason. Each is recorded on the timeline (who, what, before/after)
and starts the invoice's path again; a release skips the blocking findings it was given for."""
from __future__ import annotations

import hashlib
from typing import Any

from pydantic import ValidationError

from .. import clock
from ..context import Context
from ..errors import Conflict, InvalidInput, NotFound, RejectedInput
from ..formats.reader import read_document
from ..model.invoice import Invoice
from ..model.lifecycle import EventKind, Status
from ..tracking.deliveries import DeliveryStore
from ..tracking.store import Event, InvoiceRecord, apply_event
from .intake import _SAFE_NAME, _start_workflow, describe_record, pdf_capture_for, save_description

# Fields a patch may not change: the business key and what the amounts are computed from.
NOT_PATCHABLE = {"BT-1", "BG-25", "BG-23", "BT-106", "BT-109", "BT-110", "BT-112", "BT-115"}


def _held(ctx: Context, supplier_id: str, invoice_id: str) -> InvoiceRecord:
    rec = ctx.store.get(invoice_id)
    if rec.supplier_id != supplier_id:
        raise NotFound(f"invoice {invoice_id} not found")  # tenant isolation
    if rec.status is not Status.HELD:
        raise Conflict(f"invoice {invoice_id} is {rec.status.value}, only a held invoice can be corrected or released",
                       code="not_held")
    return rec


def _run_number(ctx: Context, invoice_id: str) -> int:
    """The next run of the invoice's path (the first execution was run 1)."""
    return 2 + sum(1 for e in ctx.store.timeline(invoice_id)
                   if e.kind in (EventKind.RELEASED, EventKind.CORRECTED, EventKind.RETRIED)
                   or (e.kind is EventKind.REDRIVEN and (e.detail or {}).get("run")))


def retry(ctx: Context, supplier_id: str, invoice_id: str) -> dict:
    """A failed invoice runs its path again once the supplier fixed the cause (a recipient's
    address, a directory entry...). What was already delivered is not sent again (delivery
    records); recipients refused for good are tried once more."""
    rec = ctx.store.get(invoice_id)
    if rec.supplier_id != supplier_id:
        raise NotFound(f"invoice {invoice_id} not found")  # tenant isolation
    if rec.status is not Status.FAILED:
        raise Conflict(f"invoice {invoice_id} is {rec.status.value}, only a failed invoice can be retried", code="not_failed")
    run = _run_number(ctx, invoice_id)
    DeliveryStore(ctx.settings.require("invoices_table"), ctx.client("dynamodb")).reopen_failed(invoice_id)
    updated = apply_event(ctx.store, invoice_id, Event(invoice_id=invoice_id, kind=EventKind.RETRIED, at=clock.now(),
                                                       actor=f"supplier:{supplier_id}", detail={"run": run}))
    _start_workflow(ctx, invoice_id, supplier_id, run=run)
    return updated.public()


def release(ctx: Context, supplier_id: str, invoice_id: str, reason: str) -> dict:
    rec = _held(ctx, supplier_id, invoice_id)
    if not (reason or "").strip():
        raise InvalidInput("a release needs a reason", code="reason_required")
    if not rec.canonical_key:
        raise Conflict("this invoice has no readable data: upload a corrected file instead", code="nothing_to_release")
    run = _run_number(ctx, invoice_id)
    rules = sorted({f["rule"] for f in rec.findings if f.get("severity") in ("fatal", "error")})
    updated = apply_event(ctx.store, invoice_id, Event(invoice_id=invoice_id, kind=EventKind.RELEASED, at=clock.now(),
                                                       actor=f"supplier:{supplier_id}",
                                                       detail={"reason": reason.strip()[:500], "overridden": rules}))
    _start_workflow(ctx, invoice_id, supplier_id, run=run)
    return updated.public()


def patch(ctx: Context, supplier_id: str, invoice_id: str, fields: dict[str, Any]) -> dict:
    rec = _held(ctx, supplier_id, invoice_id)
    if not rec.canonical_key:
        raise Conflict("this invoice has no readable data: upload a corrected file instead", code="nothing_to_patch")
    if not fields:
        raise RejectedInput("nothing to patch: give {\"fields\": {\"BT-13\": \"...\"}}", code="empty_patch")
    refused = sorted(set(fields) & NOT_PATCHABLE)
    if refused:
        raise InvalidInput(f"these fields cannot be patched: {', '.join(refused)} (upload a corrected file)", code="not_patchable")
    inv = Invoice.model_validate_json(ctx.documents.get(rec.canonical_key))
    data = inv.model_dump(by_alias=True, exclude_none=True, mode="json")
    unknown = sorted(k for k in fields if k not in _aliases())
    if unknown:
        raise RejectedInput(f"unknown fields: {', '.join(unknown)} (use the BT/BG ids of the JSON Schema)", code="unknown_fields")
    changes = {k: {"from": data.get(k), "to": v} for k, v in fields.items() if data.get(k) != v}
    data.update(fields)
    try:
        patched = Invoice.model_validate(data)
    except ValidationError as exc:
        raise RejectedInput(f"the patched invoice is invalid: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}",
                            code="invalid_patch") from exc
    return _replace(ctx, rec, supplier_id, patched, rec.input_kind or "json",
                    {"patched": changes}, original_key=None)


def correct(ctx: Context, supplier_id: str, invoice_id: str, data: bytes, filename: str) -> dict:
    rec = _held(ctx, supplier_id, invoice_id)
    supplier = ctx.directory.supplier(supplier_id)
    read = read_document(data, filename=filename, max_bytes=ctx.settings.max_input_bytes,
                         pdf_capture=pdf_capture_for(ctx, supplier))  # RejectedInput -> 422, the invoice stays held
    if rec.number and read.invoice.number != rec.number:
        raise Conflict(f"the corrected file is invoice {read.invoice.number}, not {rec.number}: send it as a new invoice",
                       code="number_mismatch")
    run = _run_number(ctx, invoice_id)
    name = _SAFE_NAME.sub("_", filename.rsplit("/", 1)[-1])[:100] or "document"
    digest = hashlib.sha256(data).hexdigest()
    key = ctx.documents.put(f"originals/{supplier_id}/{invoice_id}/corrected-{run}-{name}", data, sha256=digest,
                            source="correction")  # the first original is kept too
    return _replace(ctx, rec, supplier_id, read.invoice, read.kind.value,
                    {"file": name, "sha256": digest, "bytes": len(data)}, original_key=key)


def _replace(ctx: Context, rec: InvoiceRecord, supplier_id: str, inv: Invoice, input_kind: str, detail: dict,
             original_key: str | None) -> dict:
    if not rec.number:  # a held plain PDF becomes an invoice: its number is the business key now
        prior = ctx.store.claim(f"DEDUP#{supplier_id}#{inv.number}", {"invoice_id": rec.invoice_id})
        if prior is not None and prior["invoice_id"] != rec.invoice_id:
            raise Conflict(f"invoice {inv.number} was already received as {prior['invoice_id']}", code="duplicate")
    run = _run_number(ctx, rec.invoice_id)
    canonical_key = ctx.documents.put(f"canonical/{supplier_id}/{rec.invoice_id}-{run}.json",
                                      inv.model_dump_json(by_alias=True, exclude_none=True).encode(), "application/json")
    customer = ctx.directory.find_customer(supplier_id, inv.buyer)

    def describe(r: InvoiceRecord) -> None:
        describe_record(r, inv, canonical_key, input_kind, customer)
        if original_key:
            r.original_key = original_key
        r.reason = r.reason_code = None

    save_description(ctx, rec.invoice_id, describe)
    updated = apply_event(ctx.store, rec.invoice_id, Event(invoice_id=rec.invoice_id, kind=EventKind.CORRECTED,
                                                           at=clock.now(), actor=f"supplier:{supplier_id}", detail=detail))
    _start_workflow(ctx, rec.invoice_id, supplier_id, run=run)
    return updated.public()


def _aliases() -> set[str]:
    return {f.alias or name for name, f in Invoice.model_fields.items()}


# --- the correction path after a refusal (210) or a rejection (213) --------------------------
# A refused or rejected invoice is not to be paid: the supplier issues a corrected invoice (a new
# number, BG-3 pointing at the first) or, for an invoice that was accepted, a credit note that
# cancels it and then the new one. Each link is recorded on both invoices; a chain refused again
# and again stops at MAX_CORRECTIONS (held: talk to the buyer), it never loops.

MAX_CORRECTIONS = 3
ENDED_BY_BUYER = (Status.REFUSED,)


def link_correction(ctx: Context, supplier_id: str, invoice_id: str, inv: Invoice) -> list[dict[str, Any]]:
    """Link a new invoice to the earlier ones of the same supplier it references (BG-3)."""
    links = []
    for ref in inv.preceding_invoices:
        first_id = ctx.store.invoice_by_number(supplier_id, ref.number)
        if not first_id or first_id == invoice_id:
            continue
        first = ctx.store.get(first_id)
        depth = 1 + max((int(e.detail.get("depth", 0)) for e in ctx.store.timeline(first_id) if e.kind is EventKind.CORRECTS),
                        default=0)
        full_credit = inv.is_credit_note and first.amount_due is not None and inv.amount_due >= first.amount_due
        detail = {"invoice_id": first_id, "number": ref.number, "depth": depth, "first_status": first.status.value,
                  "credit_note": inv.is_credit_note}
        apply_event(ctx.store, invoice_id, Event(invoice_id=invoice_id, kind=EventKind.CORRECTS, at=clock.now(),
                                                 id=f"corrects:{first_id}", detail=detail))
        apply_event(ctx.store, first_id, Event(invoice_id=first_id, kind=EventKind.SUPERSEDED, at=clock.now(),
                                               id=f"superseded:{invoice_id}",
                                               detail={"by": invoice_id, "number": inv.number, "credit_note": inv.is_credit_note}))
        if full_credit and first.status not in (Status.PAID, Status.CLOSED, Status.REFUSED):
            apply_event(ctx.store, first_id, Event(invoice_id=first_id, kind=EventKind.CANCELLED, at=clock.now(),
                                                   id=f"cancelled:{invoice_id}",
                                                   detail={"reason": f"cancelled by credit note {inv.number}"}))
            from .tracker import wake

            wake(ctx, first_id, "cancelled")  # its scenario stops, its path ends
        links.append(detail)
    return links


def correction_findings(ctx: Context, invoice_id: str, inv: Invoice) -> list[Any]:
    """What holds a correction: the chain is too long, or it reissues an accepted invoice that no
    credit note cancelled (the buyer would be billed twice)."""
    from ..controls.findings import Finding, Severity

    out = []
    for e in ctx.store.timeline(invoice_id):
        if e.kind is not EventKind.CORRECTS:
            continue
        number, depth = e.detail.get("number"), int(e.detail.get("depth", 1))
        if depth > MAX_CORRECTIONS:
            out.append(Finding(rule="CORRECTION-LOOP", severity=Severity.ERROR, bt="BT-25", source="lifecycle",
                               message=f"correction number {depth} of invoice {number}: refused {depth - 1} times already, "
                                       "agree with the buyer before sending again",
                               message_fr=f"correction n° {depth} de la facture {number} : déjà refusée {depth - 1} fois, "
                                          "s'accorder avec l'acheteur avant de renvoyer"))
        first_status = e.detail.get("first_status")
        if not inv.is_credit_note and first_status not in ("refused", "closed", "rejected", "held", "duplicate", "failed"):
            first_id = str(e.detail.get("invoice_id"))
            cancelled = any(x.kind is EventKind.CANCELLED for x in ctx.store.timeline(first_id))
            if not cancelled:
                out.append(Finding(rule="CORRECTION-NO-CREDIT-NOTE", severity=Severity.ERROR, bt="BT-25", source="lifecycle",
                                   message=f"invoice {number} was accepted ({first_status}): cancel it with a credit note "
                                           "before reissuing it, or the buyer is billed twice",
                                   message_fr=f"la facture {number} a été acceptée ({first_status}) : l'annuler par un avoir "
                                              "avant de la réémettre, sinon l'acheteur est facturé deux fois"))
    return out
