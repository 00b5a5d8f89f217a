"""The scheduled reminder sweep: invoices whose next milestone is due (GSI3, no scans) and
whose due date has passed unpaid are marked overdue once; the state machine owns the
per-invoice reminders, the sweep catches what is due across all suppliers."""
from __future__ import annotations

from datetime import timedelta

from botocore.exceptions import ClientError

from .. import clock
from ..adapters.aws_errors import classify
from ..context import Context
from ..model.lifecycle import EventKind, Status
from ..observability import count, logger
from ..pipeline.intake import STALE_AFTER, _start_workflow, execution_name, save_description
from ..reminders.planner import PARIS
from ..tracking.store import Event, InvoiceRecord, apply_event

OPEN = {Status.SENT, Status.DELIVERED, Status.DOWNLOADED, Status.APPROVED, Status.DISPUTED, Status.SUSPENDED,
        Status.PAYMENT_SENT}


def sweep(ctx: Context) -> dict:
    """Every invoice whose next milestone is due, all pages: stale `received` ones re-driven, open
    ones past their due date marked overdue once; each is then moved out of the due range (the
    next daily pass, or out of the index when nothing is left to watch), so that a pass reads what
    is due and nothing it has already handled."""
    now = clock.now()
    overdue = checked = redriven = rechecked = 0
    for supplier_id in ctx.directory.suppliers():
        for rec in ctx.store.due(supplier_id, now):
            checked += 1
            if rec.status is Status.RECEIVED:  # stuck on the way in: never left `received`
                redriven += redrive(ctx, rec)
                continue
            if rec.status is Status.HELD:  # held until the customer's date, which has come
                rechecked += recheck_dated_hold(ctx, rec)
                continue
            if rec.status not in OPEN:  # paid, closed, held...: nothing left for the sweep to watch
                _next_check(ctx, rec, None)
                continue
            # Due dates are Europe/Paris calendar days: overdue once the due day has ended there
            if rec.due_date and rec.due_date < now.astimezone(PARIS).date() and \
                    not ctx.store.has_event(rec.invoice_id, "milestone:overdue"):
                apply_event(ctx.store, rec.invoice_id, Event(invoice_id=rec.invoice_id, kind=EventKind.OVERDUE, at=now,
                                                             id="milestone:overdue",
                                                             detail={"due_date": rec.due_date.isoformat(), "by": "sweep"}))
                overdue += 1
            _next_check(ctx, rec, now + timedelta(days=1))
    count("StaleReceived", redriven)
    count("Overdue", overdue)
    if redriven:
        logger.warning("stale received invoices re-driven", extra={"count": redriven})
    return {"checked": checked, "overdue": overdue, "redriven": redriven, "rechecked": rechecked}


def _next_check(ctx: Context, rec: InvoiceRecord, when) -> None:
    """Move the invoice's next check, unless its own path has set a later one meanwhile."""
    now = clock.now()

    def move(r: InvoiceRecord) -> None:
        if r.next_due_at is not None and r.next_due_at <= now:
            r.next_due_at = when

    save_description(ctx, rec.invoice_id, move)


def recheck_dated_hold(ctx: Context, rec: InvoiceRecord) -> int:
    """An invoice held only by its customer's `not_before` date (HOLD-NOT-BEFORE) runs its path
    again on that day: checked again (nothing else is overridden: a new finding holds it again)
    and sent if it passes. Once per date: the run is on its timeline."""
    from ..controls.customer import only_date_hold
    from ..pipeline.corrections import _run_number

    if not only_date_hold({str(f.get("rule")) for f in rec.findings if f.get("severity") in ("fatal", "error")}):
        _next_check(ctx, rec, None)  # held for other reasons meanwhile: the supplier acts
        return 0
    run = _run_number(ctx, rec.invoice_id)
    _start_workflow(ctx, rec.invoice_id, rec.supplier_id, run=run)
    apply_event(ctx.store, rec.invoice_id, Event(invoice_id=rec.invoice_id, kind=EventKind.REDRIVEN, at=clock.now(),
                                                 id=f"hold-date:{run}", detail={"why": "the customer's date has come: "
                                                                                "checked again", "run": run}),
                mutate=lambda r: setattr(r, "next_due_at", None))
    return 1


def redrive(ctx: Context, rec: InvoiceRecord) -> int:
    """A `received` invoice past its deadline: start its path if it never started; if its
    execution ended without a verdict, record the failure (the supplier can retry it)."""
    sfn = ctx.client("stepfunctions")
    arn = ctx.settings.state_machine_arn.replace(":stateMachine:", ":execution:") + f":{execution_name(rec.invoice_id)}"
    try:
        status = sfn.describe_execution(executionArn=arn)["status"]
    except sfn.exceptions.ExecutionDoesNotExist:
        status = None
    except ClientError as exc:
        raise classify(exc, "DescribeExecution") from exc
    if status == "RUNNING":
        return 0
    if status is None and rec.canonical_key:
        _start_workflow(ctx, rec.invoice_id, rec.supplier_id)
        apply_event(ctx.store, rec.invoice_id, Event(invoice_id=rec.invoice_id, kind=EventKind.REDRIVEN, at=clock.now(),
                                                     id="redrive:1", detail={"why": "its path had not started"}),
                    mutate=lambda r: setattr(r, "next_due_at", clock.now() + STALE_AFTER))
        return 1
    why = (f"its path ended ({status}) without a verdict" if status else
           "it was received but could not be read to the end; upload it again or retry")
    apply_event(ctx.store, rec.invoice_id, Event(invoice_id=rec.invoice_id, kind=EventKind.FAILED, at=clock.now(),
                                                 detail={"error": "Stale", "cause": why}),
                mutate=lambda r: setattr(r, "next_due_at", None))
    return 1
