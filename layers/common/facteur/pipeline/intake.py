"""Intake: a file dropped in S3 or posted to the API becomes an invoice, a duplicate, or a
rejection with a precise reason. The original is always kept first, so nothing is lost."""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from botocore.exceptions import ClientError

from .. import clock, ids
from ..adapters.aws_errors import classify
from ..context import Context
from ..errors import Conflict, NotFound, RejectedInput, RetryableError
from ..formats.reader import read_document
from ..model.lifecycle import EventKind, Status
from ..model.records import PaymentTerm
from ..observability import count, logger
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


# Limits that keep every value storable and every key within DynamoDB's (2 KB keys, 38 digits)
MAX_NUMBER_LENGTH = 200  # BT-1: real invoice numbers are far shorter
MAX_AMOUNT = Decimal("1e15")  # a quadrillion, in any currency
STALE_AFTER = timedelta(minutes=15)  # a `received` invoice older than this is re-driven by the sweep


def ingest(ctx: Context, *, supplier_id: str, data: bytes, filename: str, source: str,
           idempotency_key: str | None = None, origin: str | None = None, start_workflow=None) -> IntakeResult:
    """Resumable: the same input (an S3 object version, an API Idempotency-Key) always maps to
    the same invoice id, so a retry after any failure continues the same invoice instead of
    creating a second one or answering "duplicate" of itself."""
    now = clock.now()
    digest = hashlib.sha256(data).hexdigest()
    seed = origin or (f"api:{supplier_id}:{idempotency_key}" if idempotency_key else None)
    invoice_id = ids.invoice_id_for(seed) if seed else ids.invoice_id()

    name = safe_name(filename)
    original_key = ctx.documents.put(f"originals/{supplier_id}/{invoice_id}/{name}", data, sha256=digest, source=source)
    rec = InvoiceRecord(invoice_id=invoice_id, supplier_id=supplier_id, status=Status.RECEIVED, created_at=now,
                        updated_at=now, source=source, original_key=original_key, original_name=name,
                        next_due_at=now + STALE_AFTER)
    try:
        ctx.store.create(rec, Event(invoice_id=invoice_id, kind=EventKind.RECEIVED, at=now, actor=f"supplier:{supplier_id}",
                                    detail={"source": source, "bytes": len(data), "sha256": digest}))
        resumed = False
    except Conflict:
        existing = ctx.store.get(invoice_id)  # a retry of the same input
        if existing.status is not Status.RECEIVED:
            return IntakeResult(existing.invoice_id, existing.status.value, existing.reason, existing.duplicate_of,
                                replayed=True)
        resumed = True  # an earlier attempt stopped half-way: finish it
    try:
        res = _process(ctx, invoice_id, supplier_id, data, name, start_workflow or _start_workflow)
        res.replayed = resumed
        return res
    except RetryableError:
        raise  # the record stays `received`: the caller retries (same id), or the sweep re-drives it
    except RejectedInput as exc:
        return _refuse(ctx, invoice_id, exc)
    except Exception as exc:
        err = classify(exc, "intake")
        if isinstance(err, RetryableError):
            raise err from exc
        logger.exception("intake failed", extra={"invoice_id": invoice_id, "error_type": type(exc).__name__})
        return _refuse(ctx, invoice_id, RejectedInput(
            f"the file could not be processed ({type(exc).__name__}); the original is kept — contact support "
            "with this invoice id", code="processing_error"))


UPLOAD_TTL_SECONDS = 900


def new_upload(ctx: Context, supplier_id: str, filename: str) -> dict:
    """A presigned S3 POST for one file under in/{supplier}/uploads/: at most the input limit,
    valid 15 minutes. What arrives there is ingested like any drop (same rules, same ids)."""
    import uuid

    key = f"in/{supplier_id}/uploads/{uuid.uuid4().hex}-{safe_name(filename)}"
    post = ctx.client("s3").generate_presigned_post(
        ctx.settings.require("inbound_bucket"), key, ExpiresIn=UPLOAD_TTL_SECONDS,
        Conditions=[["content-length-range", 1, ctx.settings.max_input_bytes]])
    return {"url": post["url"], "fields": post["fields"], "key": key, "expires_in": UPLOAD_TTL_SECONDS,
            "max_bytes": ctx.settings.max_input_bytes}


def refuse_unread(ctx: Context, *, supplier_id: str, filename: str, source: str, origin: str, size: int,
                  keep) -> IntakeResult:
    """An input rejected before it is read (over the size limit, known from the S3 event):
    `keep(dest_key)` keeps its original anyway (server-side copy) and the rejection is recorded."""
    now = clock.now()
    invoice_id = ids.invoice_id_for(origin)
    name = safe_name(filename)
    original_key = keep(f"originals/{supplier_id}/{invoice_id}/{name}")
    rec = InvoiceRecord(invoice_id=invoice_id, supplier_id=supplier_id, status=Status.RECEIVED, created_at=now,
                        updated_at=now, source=source, original_key=original_key, original_name=name)
    try:
        ctx.store.create(rec, Event(invoice_id=invoice_id, kind=EventKind.RECEIVED, at=now, actor=f"supplier:{supplier_id}",
                                    detail={"source": source, "bytes": size}))
    except Conflict:
        existing = ctx.store.get(invoice_id)
        if existing.status is not Status.RECEIVED:
            return IntakeResult(invoice_id, existing.status.value, existing.reason, replayed=True)
    limit = ctx.settings.max_input_bytes
    return _refuse(ctx, invoice_id, RejectedInput(f"the file is {size} bytes, over the {limit}-byte limit", code="too_large"))


def _process(ctx: Context, invoice_id: str, supplier_id: str, data: bytes, name: str, start_workflow) -> IntakeResult:
    try:
        supplier = ctx.directory.supplier(supplier_id)
    except NotFound as exc:
        raise RejectedInput(f"unknown supplier '{supplier_id}' (files must be dropped under in/<supplier id>/)",
                            code="unknown_supplier") from exc
    try:
        read = read_document(data, filename=name, max_bytes=ctx.settings.max_input_bytes,
                             pdf_capture=pdf_capture_for(ctx, supplier))
    except RejectedInput:
        raise
    except RecursionError as exc:
        raise RejectedInput("the document is nested too deeply to be read", code="too_deep") from exc
    except Exception as exc:
        logger.warning("reader failed", extra={"invoice_id": invoice_id, "error_type": type(exc).__name__})
        raise RejectedInput(f"the file is damaged or not a supported invoice ({type(exc).__name__} while reading it)",
                            code="unreadable") from exc
    inv = read.invoice
    check_limits(inv)
    canonical_key = ctx.documents.put(f"canonical/{supplier_id}/{invoice_id}.json",
                                      inv.model_dump_json(by_alias=True, exclude_none=True).encode(), "application/json")
    customer = ctx.directory.find_customer(supplier_id, inv.buyer)

    def describe(r: InvoiceRecord) -> None:
        describe_record(r, inv, canonical_key, read.kind.value, customer)

    # BR-01 / business key: one invoice number per supplier. A second one is a duplicate.
    prior = ctx.store.claim(f"DEDUP#{supplier_id}#{_key_digest(inv.number)}", {"invoice_id": invoice_id})
    if prior is not None and prior["invoice_id"] != invoice_id:
        first = prior["invoice_id"]
        reason = f"duplicate of invoice {inv.number} already received as {first}"

        def dup(r: InvoiceRecord) -> None:
            describe(r)
            r.duplicate_of, r.reason, r.reason_code, r.next_due_at = first, reason, "duplicate", None

        apply_event(ctx.store, invoice_id, Event(invoice_id=invoice_id, kind=EventKind.DUPLICATE, at=clock.now(),
                                                 detail={"duplicate_of": first, "number": inv.number}), mutate=dup)
        count("InvoicesDuplicate")
        return IntakeResult(invoice_id, Status.DUPLICATE.value, reason, duplicate_of=first)

    save_description(ctx, invoice_id, describe)
    if inv.preceding_invoices:  # a correction or a credit note: linked to the invoices it refers to
        from .corrections import link_correction

        link_correction(ctx, supplier_id, invoice_id, inv)
    start_workflow(ctx, invoice_id, supplier_id)
    count("InvoicesReceived")
    return IntakeResult(invoice_id, Status.RECEIVED.value)


def _refuse(ctx: Context, invoice_id: str, exc: RejectedInput) -> IntakeResult:
    """Record a rejection (or a hold, when the supplier can fix it) with its reason."""
    # A plain PDF is an invoice we cannot read yet (no or incomplete template): held for the
    # supplier to act on, never rejected. Everything else that is not an invoice is rejected.
    held = exc.code in HOLDABLE
    count("InvoicesHeld" if held else "InvoicesRejected")
    logger.info("input held" if held else "input rejected", extra={"invoice_id": invoice_id, "reason_code": exc.code})

    def reject(r: InvoiceRecord) -> None:
        r.reason, r.reason_code, r.next_due_at = exc.message, exc.code, None
        if held:
            r.findings = [{"rule": exc.code.upper().replace("_", "-"), "severity": "error", "message": exc.message,
                           "message_fr": HOLDABLE[exc.code], "source": "reader"}]

    apply_event(ctx.store, invoice_id, Event(invoice_id=invoice_id, kind=EventKind.HELD if held else EventKind.REJECTED,
                                             at=clock.now(), detail={"reason": exc.message, "code": exc.code}),
                mutate=reject)
    return IntakeResult(invoice_id, (Status.HELD if held else Status.REJECTED).value, exc.message)


def check_limits(inv) -> None:
    """Values no real invoice has and no store can keep: rejected with the reason."""
    if len(inv.number) > MAX_NUMBER_LENGTH:
        raise RejectedInput(f"the invoice number (BT-1) is {len(inv.number)} characters long, over {MAX_NUMBER_LENGTH}",
                            code="number_too_long")
    amounts = {"BT-106": inv.line_total, "BT-109": inv.tax_exclusive_amount, "BT-110": inv.tax_amount,
               "BT-112": inv.tax_inclusive_amount, "BT-115": inv.amount_due}
    amounts.update({f"BG-25[{i}].BT-131": line.net_amount for i, line in enumerate(inv.lines) if line.net_amount is not None})
    for bt, value in amounts.items():
        if value is not None and (not value.is_finite() or abs(value) >= MAX_AMOUNT):
            raise RejectedInput(f"{bt} = {str(value)[:40]}… is not a plausible amount (limit {MAX_AMOUNT:,.0f})",
                                code="amount_out_of_range")


def _key_digest(text: str) -> str:
    """Keys built from caller data stay short (DynamoDB keys are at most 2 KB): long values are hashed."""
    return text if len(text) <= 128 else "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def safe_name(filename: str) -> str:
    """A file name safe in an S3 key and a header (no path, no control characters)."""
    return _SAFE_NAME.sub("_", (filename or "").replace("\\", "/").rsplit("/", 1)[-1])[:120].strip("._") or "document"


def describe_record(r: InvoiceRecord, inv, canonical_key: str, input_kind: str, customer) -> None:
    r.number, r.issue_date, r.currency = inv.number, inv.issue_date, inv.currency
    r.due_date = inv.due_date
    r.payment_terms = [PaymentTerm(due_date=inv.due_date, amount=inv.amount_due, description=inv.payment_terms)] \
        if inv.due_date else []
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
        sfn.start_execution(stateMachineArn=ctx.settings.state_machine_arn, name=execution_name(invoice_id, run),
                            input=json.dumps({"invoice_id": invoice_id, "supplier_id": supplier_id}))
    except sfn.exceptions.ExecutionAlreadyExists:
        pass
    except ClientError as exc:  # throttled after botocore's own retries: the caller or the sweep retries
        raise classify(exc, "StartExecution") from exc


def execution_name(invoice_id: str, run: int = 0) -> str:
    return invoice_id if run < 2 else f"{invoice_id}-{run}"
