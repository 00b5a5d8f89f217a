"""The steps of an invoice's state machine: check, convert, dispatch, progress (milestones),
remind. Each takes the invoice id, reads what it needs, records what happened on the timeline
and returns a small JSON-able result for the next state."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from botocore.exceptions import ClientError

from .. import clock
from ..adapters.aws_errors import classify
from ..context import Context
from ..controls.customer import check_customer, check_seller, only_date_hold
from ..controls.document import check_read
from ..controls.findings import Finding, Severity
from ..controls.french import auto_complete, french_rules_apply
from ..controls.pdfa import check_facturx_pdf
from ..conversion import convert as convert_to
from ..conversion import lost_in
from ..errors import PermanentError
from ..formats import cii, facturx, ubl
from ..formats.detect import Kind
from ..formats.reader import read_document
from ..formats.unread import unread
from ..model.directory import Customer, OutputFormat
from ..model.invoice import Invoice
from ..model.lifecycle import EventKind, Status
from ..observability import count, logger
from ..tracking.store import Event, InvoiceRecord, apply_event
from . import chorus, dunning, pa, tracker
from .corrections import correction_findings
from .dispatch import deliver, plan_dispatch, settle
from .intake import pdf_capture_for
from .outbound import safe_name as _safe
from .outbound import send


def _load(ctx: Context, invoice_id: str) -> tuple[InvoiceRecord, Invoice]:
    rec = ctx.store.get(invoice_id)
    return rec, _canonical(ctx, rec)


def _canonical(ctx: Context, rec: InvoiceRecord) -> Invoice:
    if not rec.canonical_key:
        raise PermanentError(f"invoice {rec.invoice_id} has no canonical data")
    return Invoice.model_validate_json(ctx.documents.get(rec.canonical_key))


def _customer(ctx: Context, rec: InvoiceRecord) -> Customer | None:
    return ctx.directory.customer(rec.supplier_id, rec.customer_id) if rec.customer_id else None


# --- check -------------------------------------------------------------------------------

def check(ctx: Context, invoice_id: str) -> dict:
    """EN 16931 (and profile) rules on what the supplier sent, plus the customer's expectations.
    Any blocking finding holds the invoice with its reasons; otherwise it is deposited (200)."""
    rec, inv = _load(ctx, invoice_id)
    if rec.status is Status.DEPOSITED:  # checked in this run already (a retry after its conversion failed)
        return {"verdict": "ok", "blocking": 0}
    original = ctx.documents.get(rec.original_key)
    supplier = ctx.directory.supplier(rec.supplier_id)
    # opened again for the official rules (its XML, its PDF container), not mapped again: the canonical invoice is reused
    read = read_document(original, max_bytes=ctx.settings.max_input_bytes, pdf_capture=pdf_capture_for(ctx, supplier),
                         invoice=inv)
    inv, added = auto_complete(inv, supplier)
    if added:  # opt-in: the missing French mentions are added, and the timeline says which
        key = ctx.documents.put(f"canonical/{rec.supplier_id}/{invoice_id}-completed.json",
                                inv.model_dump_json(by_alias=True, exclude_none=True).encode(), "application/json")
        apply_event(ctx.store, invoice_id, Event(invoice_id=invoice_id, kind=EventKind.CORRECTED, at=clock.now(),
                                                 actor="facteur", detail={"auto_completed": added}),
                    mutate=lambda r: setattr(r, "canonical_key", key))
    fr = french_rules_apply(inv)
    if added:  # completed: check the CII we will send
        read.invoice, read.xml, read.syntax = inv, None, Kind.JSON
    # The supplier's PDF container is not what leaves (Facteur sends its own Factur-X): its defects are warnings.
    findings = check_read(read, fr=fr, container_blocking=False).findings
    customer = _customer(ctx, rec)
    not_read = unread(read.xml, read.syntax, inv) if read.xml is not None else []  # what Facteur could not take
    findings += check_seller(inv, supplier) + check_customer(inv, customer) + _losses(inv, customer, not_read)
    findings += chorus.check(ctx, supplier, customer, inv)  # the public buyer's rules, asked of Chorus Pro
    findings += pa.check(ctx, supplier, customer, inv)  # the buyer's address in the French directory, asked of the PA
    findings += correction_findings(ctx, invoice_id, inv)  # a correction chain that loops, a reissue without credit note
    blocking = [f for f in findings if f.blocking]
    as_dicts = [f.model_dump(mode="json", exclude_none=True) for f in findings]
    detail: dict[str, Any] = {"blocking": len(blocking), "warnings": len(findings) - len(blocking)}
    if blocking:
        detail["rules"] = sorted({f.rule for f in blocking})
    if not_read:
        detail["not_read"] = not_read[:50]
    if blocking and _released(ctx, invoice_id):
        detail["released"] = True  # the supplier released it with a reason (on the timeline): it leaves
        blocking = []
    kind = EventKind.HELD if blocking else EventKind.DEPOSITED
    count("InvoicesHeld" if blocking else "InvoicesDeposited")
    recheck_at = _dated_hold(blocking, customer)

    def verdict(r: InvoiceRecord) -> None:
        # out of `received`: no longer watched as stale; held only until a date: checked again that morning (the sweep)
        r.findings, r.next_due_at = as_dicts, recheck_at

    apply_event(ctx.store, invoice_id, Event(invoice_id=invoice_id, kind=kind, at=clock.now(), detail=detail),
                mutate=verdict)
    return {"verdict": "held" if blocking else "ok", "blocking": len(blocking)}


def _dated_hold(blocking: list[Finding], customer: Customer | None):
    """When the only thing holding the invoice is the customer's `not_before` date: that day's
    start (Paris), when the daily sweep checks it again; else None (the supplier acts)."""
    if not only_date_hold({f.rule for f in blocking}) or customer is None or customer.hold.not_before is None:
        return None
    from ..reminders.planner import start_of_day

    return start_of_day(customer.hold.not_before)


def _losses(inv: Invoice, customer: Customer | None, not_read: list[str]) -> list[Finding]:
    """For a customer that requires lossless conversions: one blocking finding per input value
    Facteur could not read and per field that a format it wants could not carry."""
    if customer is None or not customer.lossless:
        return []
    out = [Finding(rule="LOSSLESS", severity=Severity.ERROR, source="customer", message=f"input {item}",
                   message_fr=f"élément du fichier reçu non lu : {item}") for item in not_read]
    for fmt in dict.fromkeys([OutputFormat.FACTURX, *customer.all_formats()]):
        if fmt is OutputFormat.FACTURX:
            lost = lost_in(inv, cii.write(inv, profile=inv.profile), facturx_profile=inv.profile)
        elif fmt is OutputFormat.UBL and inv.billed_lines:
            lost = lost_in(inv, ubl.write(inv))
        elif fmt is OutputFormat.CII:
            lost = lost_in(inv, cii.write(inv, standalone=True))
        else:
            continue
        # BT-24 (the specification claimed) is a declaration, not data: each target declares its own
        out += [Finding(rule="LOSSLESS", severity=Severity.ERROR, source="customer", message=f"{fmt.value} cannot carry {item}",
                        message_fr=f"le format {fmt.value} ne peut pas porter {item}") for item in lost if not item.startswith("BT-24")]
    return out


def _released(ctx: Context, invoice_id: str) -> bool:
    """Released by the supplier since it was last held (and not corrected since)."""
    last = None
    for e in ctx.store.timeline(invoice_id):
        if e.kind in (EventKind.HELD, EventKind.RELEASED, EventKind.CORRECTED):
            last = e.kind
    return last is EventKind.RELEASED


# --- convert -----------------------------------------------------------------------------

def convert(ctx: Context, invoice_id: str) -> dict:
    """Produce every format the customer wants, each checked again with the official rules."""
    rec, inv = _load(ctx, invoice_id)
    customer = _customer(ctx, rec)
    formats = customer.all_formats() if customer else [OutputFormat.FACTURX, OutputFormat.UBL]
    supplier_pdf = None
    if rec.input_kind == Kind.PDF.value:
        supplier_pdf = ctx.documents.get(rec.original_key)
    base = f"documents/{rec.supplier_id}/{invoice_id}/{_safe(inv.number)}"
    produced: dict[str, str] = {}
    problems: list[Finding] = []
    notes: dict[str, Any] = {}
    profile = inv.profile  # the supplier's Factur-X profile is kept (MINIMUM to EXTENDED)
    lost: dict[str, list[str]] = {}
    for fmt in dict.fromkeys([OutputFormat.FACTURX, *formats]):
        if fmt is OutputFormat.FACTURX:
            pdf, pdf_notes, out = _facturx(inv, profile, supplier_pdf, customer.language if customer else "fr")
            notes.update(pdf_notes)
            produced["facturx"] = ctx.documents.put(f"{base}.pdf", pdf, "application/pdf")
        elif fmt is OutputFormat.CHORUS:  # the Factur-X above is what the Chorus Pro channel deposits (IN_DP_E2_CII_FACTURX)
            logger.info("format served by its channel", extra={"invoice_id": invoice_id, "format": fmt.value})
            continue
        else:
            out = convert_to(inv, fmt.value, profile=profile, fr=False, now=clock.now())
            if out.notes:
                notes[fmt.value] = out.notes
            suffix, mime = {"ubl": (".ubl.xml", "application/xml"), "cii": (".cii.xml", "application/xml"),
                            "edifact": (".edi", "application/EDIFACT")}[fmt.value]
            produced[fmt.value] = ctx.documents.put(f"{base}{suffix}", out.data, mime)
        problems += out.blocking
        if out.lost:
            lost[fmt.value] = out.lost
    if lost:
        notes["not_carried"] = lost  # the loss report, on the timeline
    if problems:
        rules = sorted({p.rule for p in problems})
        raise PermanentError(f"produced documents fail official rules: {', '.join(rules)}")
    apply_event(ctx.store, invoice_id, Event(invoice_id=invoice_id, kind=EventKind.CONVERTED, at=clock.now(),
                                             detail={"formats": sorted(produced), **notes}),
                mutate=lambda r: setattr(r, "documents", produced))
    return {"formats": sorted(produced)}


def _facturx(inv: Invoice, profile: str, supplier_pdf: bytes | None, lang: str):
    """The Factur-X to send. From the supplier's PDF when it can be a PDF/A-3 (what PDF/A
    forbids is stripped and listed); when it cannot (fonts not embedded, very common with
    billing tools), rendered from the data with the supplier's PDF embedded beside it, so the
    invoice still leaves, conformant, and nothing the supplier sent is lost."""
    removed: list[str] = []
    out = convert_to(inv, "facturx", profile=profile, supplier_pdf=supplier_pdf, lang=lang, fr=False, pdf_notes=removed)
    notes: dict[str, Any] = {"removed_from_pdf": removed} if removed else {}
    unfit = [f.rule for f in out.blocking if f.source == "pdfa"]
    if supplier_pdf is None or not unfit:
        return out.data, notes, out
    clean, annexes, _ = facturx.sanitised_parts(supplier_pdf)  # its annexes travel once, beside its own PDF
    supplements = {name: f["filedata"] for name, f in annexes.items()}
    supplements[f"{_safe(inv.number)}-original.pdf"] = clean
    rendered = facturx.generate(inv, profile=profile, lang=lang, supplements=supplements)
    out.data = rendered
    out.checked.findings = [f for f in out.checked.findings if f.source != "pdfa"] + check_facturx_pdf(rendered, expected_profile=profile)
    notes["rerendered"] = {"why": sorted(set(unfit)), "supplier_pdf": "embedded as a supplement"}
    return rendered, notes, out


# --- dispatch ----------------------------------------------------------------------------

# Not checked, or failed the checks: never sent, never followed (the supplier corrects or releases it: a new execution)
NOT_DISPATCHABLE = frozenset({Status.RECEIVED, Status.HELD, Status.REJECTED, Status.DUPLICATE})


def dispatch(ctx: Context, invoice_id: str) -> dict:
    """Send to every recipient by channel, then plan the first wake-up (pipeline/dunning.py). A
    held invoice (or one not checked) never leaves: nothing is sent, the loop ends its path."""
    rec = ctx.store.get(invoice_id)
    if rec.status in NOT_DISPATCHABLE:
        return {"outcome": "held", "status": rec.status.value}
    inv = _canonical(ctx, rec)
    customer = _customer(ctx, rec)
    if customer is None:
        raise PermanentError("no customer: the check step should have held this invoice")
    plan = plan_dispatch(customer, inv=inv)  # the customer's distribution rules: who receives it on issue
    for rid, why in plan.unreachable:
        logger.warning("recipient not reachable", extra={"invoice_id": invoice_id, "recipient_id": rid, "why": why})
    out = deliver(ctx, invoice_id, plan, "initial", lambda r: send(ctx, rec, inv, customer, r, purpose="initial"))
    settle(out, plan)
    nxt = dunning.plan(ctx, ctx.store.get(invoice_id), inv, customer, ctx.directory.supplier(rec.supplier_id))
    if nxt["outcome"] != "wait":  # due now or already ended: the milestone step runs at once (1 s wait)
        nxt = {"outcome": "wait", "wait_seconds": 1}
    return {**nxt, "recipients": len(out.sent)}


# --- milestones and scenario actions -------------------------------------------------------

def _dunning_facts(ctx: Context, invoice_id: str):
    rec, inv = _load(ctx, invoice_id)
    customer = _customer(ctx, rec)
    if customer is None:
        raise PermanentError("no customer: the check step should have held this invoice")
    return rec, inv, customer, ctx.directory.supplier(rec.supplier_id)


def progress(ctx: Context, invoice_id: str) -> dict:
    """The milestone step: the scenario's actions due now run (each once), then where the invoice
    stands: paid, closed, wait (until the next action, or an event that wakes it), or continue (its
    execution nears Step Functions' one-year limit: a new one takes over)."""
    rec = ctx.store.get(invoice_id)
    pa.report(ctx, rec)  # the statuses the seller set (209, 212), to its PA (nothing to read for other customers)
    if rec.status is Status.PAID:  # the common end: one read, nothing else
        return {"outcome": "paid", "wait_seconds": 1}
    return dunning.continuation(ctx, invoice_id, dunning.act(ctx, *_dunning_facts(ctx, invoice_id)))


# How the loop's one state ends: the error it hands its own token back with, which the state
# machine's Catch routes to the matching end state (no Choice state: one transition per wake-up).
ENDINGS = {"paid": "Invoice.Paid", "held": "Invoice.Held", "closed": "Invoice.Closed", "continued": "Invoice.Continued"}
MIN_SCHEDULE_SECONDS = 60  # a one-time schedule's precision: a wake-up sooner than this is set a minute ahead


def milestone(ctx: Context, invoice_id: str, token: str) -> dict:
    """The milestone loop's one state (`.waitForTaskToken`): the milestone step runs (`progress`),
    then the path ends (its token handed back as `Invoice.Paid`, `.Closed`, `.Continued`) or the
    invoice parks: its token kept for the events that move it (tracker.wake) and handed back by a
    one-time schedule at the next planned time. Run twice with the same token, it does the same."""
    rec = ctx.store.get(invoice_id)
    out = {"outcome": "held"} if rec.status in NOT_DISPATCHABLE else progress(ctx, invoice_id)
    sfn = ctx.client("stepfunctions")
    outcome = out["outcome"]
    try:
        if outcome in ENDINGS:
            ctx.wakeups.cancel(invoice_id)
            ctx.store.take_wait_token(invoice_id)
            sfn.send_task_failure(taskToken=token, error=ENDINGS[outcome], cause=f"the invoice's path ended: {outcome}")
            return out
        if outcome == "act":  # something is due now (a deferred delivery's retry): straight round again
            sfn.send_task_success(taskToken=token, output='{"woken_by": "due now"}')
            return out
    except ClientError as exc:  # throttled: the state retries the step (never parked without a way back)
        raise classify(exc, "SendTask") from exc
    ctx.store.park(invoice_id, token)
    seconds = max(MIN_SCHEDULE_SECONDS, int(out["wait_seconds"]))
    ctx.wakeups.set(invoice_id, token, clock.now() + timedelta(seconds=seconds))
    rec = ctx.store.get(invoice_id)
    if rec.status in (Status.PAID, Status.REFUSED, Status.CLOSED):  # it moved while the loop was planning: act now
        tracker.wake(ctx, invoice_id, rec.status.value)
    return out
