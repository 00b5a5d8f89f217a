"""Mass actions: `POST /actions {filter, action, dry_run}` on many invoices at once.

Actions: `resend` (the invoice again to its recipients), `remind` (a reminder now: overdue or
courtesy, to the payer), `pause` / `resume` (the supplier's own hold on the scenario), and
`hand_off` (to a collection agency now, with the interest and indemnity as of today).

A dry run answers at once with what each matching invoice would get (or why it is skipped).
Otherwise a job is made: the matching invoices are fixed when it is created, and the jobs state
machine runs it in batches (`run_batch`), recording one result per invoice; GET /actions/{id}
gives its progress and results. The job id comes from the `Idempotency-Key` (or, without one,
from the request and the day): posting it again returns the same job, never a second run; each
invoice's action is itself idempotent (its delivery records and event ids carry the job id).

| item            | PK             | SK                  |
|-----------------|----------------|---------------------|
| job             | JOB#{job id}   | JOB                 |
| one result      | JOB#{job id}   | R#{position:05d}    |
"""
from __future__ import annotations

import base64
import hashlib
import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field, model_validator

from .. import clock
from ..adapters.aws_errors import classify
from ..context import Context
from ..errors import Conflict, InvalidInput, NotFound
from ..model.invoice import Invoice
from ..model.lifecycle import EventKind, Status
from ..reminders.interest import INDEMNITY, late_interest
from ..reminders.planner import PARIS, Action
from ..tracking.jobs import JobStore
from ..tracking.store import Event, InvoiceRecord, apply_event
from . import dunning
from .dispatch import MESSAGE_CHANNELS, deliver, plan_dispatch, settle
from .outbound import Message, due_date, send
from .tracker import wake

MAX_INVOICES = 5000
BATCH = 25
OPEN = (Status.SENT, Status.DELIVERED, Status.DOWNLOADED, Status.APPROVED, Status.DISPUTED, Status.SUSPENDED,
        Status.PAYMENT_SENT)
ALLOWED: dict[str, frozenset[Status]] = {
    "resend": frozenset({*OPEN, Status.CLOSED}),
    "remind": frozenset(OPEN),
    "pause": frozenset(OPEN),
    "resume": frozenset(OPEN),
    "hand_off": frozenset({*OPEN, Status.CLOSED}),
}


class ActionFilter(BaseModel):
    """Which of the supplier's invoices: every condition given must hold."""

    model_config = ConfigDict(extra="forbid")

    status: list[Status] = Field(default_factory=lambda: list(OPEN), max_length=20,
                                 description="default: every open status (sent to payment_sent)")
    customers: list[str] = Field(default_factory=list, max_length=500)
    group: str | None = Field(None, max_length=100, description="the customers of this group")
    overdue: bool | None = Field(None, description="true: due date passed (Europe/Paris); false: not yet due")
    due_before: date | None = None
    due_after: date | None = None
    number_prefix: str | None = Field(None, max_length=50)
    invoice_ids: list[str] = Field(default_factory=list, max_length=MAX_INVOICES)


class ActionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Literal["resend", "remind", "pause", "resume", "hand_off"]
    filter: ActionFilter = Field(default_factory=ActionFilter)
    dry_run: bool = False
    agency: str | None = Field(None, max_length=64, description="hand_off: the agency's id in the directory")
    reason: str | None = Field(None, max_length=500, description="recorded on each invoice's timeline")

    @model_validator(mode="after")
    def _agency(self) -> ActionRequest:
        if self.action == "hand_off" and not self.agency:
            raise ValueError("a hand_off names its agency")
        return self


# --- selection ----------------------------------------------------------------------------

def select(ctx: Context, supplier_id: str, flt: ActionFilter) -> list[InvoiceRecord]:
    """The supplier's invoices matching the filter (at most MAX_INVOICES: narrow it otherwise)."""
    today = clock.now().astimezone(PARIS).date()
    customers = set(flt.customers)
    if flt.group:
        customers |= {c.id for c in ctx.directory.customers(supplier_id) if c.group == flt.group}
        if not customers:
            return []
    if flt.invoice_ids:
        records = []
        for iid in dict.fromkeys(flt.invoice_ids):
            try:
                rec = ctx.store.get(iid)
            except NotFound:
                continue
            if rec.supplier_id == supplier_id:  # another tenant's ids are silently not matched
                records.append(rec)
    else:
        records = []
        for status in dict.fromkeys(flt.status):
            cursor = None
            while True:
                page, cursor = ctx.store.by_supplier(supplier_id, status.value, 500, cursor)
                records += page
                if len(records) > 4 * MAX_INVOICES:
                    raise InvalidInput("the filter matches too many invoices: narrow it", code="too_many_invoices")
                if not cursor:
                    break

    def keep(r: InvoiceRecord) -> bool:
        if r.status not in flt.status:
            return False
        if customers and r.customer_id not in customers:
            return False
        if flt.number_prefix and not (r.number or "").startswith(flt.number_prefix):
            return False
        due = r.due_date
        if flt.overdue is not None and (due is None or (due < today) != flt.overdue):
            return False
        if flt.due_before and (due is None or due >= flt.due_before):
            return False
        return not (flt.due_after and (due is None or due <= flt.due_after))

    out = sorted((r for r in records if keep(r)), key=lambda r: (r.due_date or date.max, r.invoice_id))
    if len(out) > MAX_INVOICES:
        raise InvalidInput(f"{len(out)} invoices match: at most {MAX_INVOICES} per job, narrow the filter",
                           code="too_many_invoices")
    return out


def skip_reason(ctx: Context, rec: InvoiceRecord, req: ActionRequest) -> str | None:
    """Why this invoice does not get the action (None: it does)."""
    if rec.status not in ALLOWED[req.action]:
        return f"{rec.status.value}: nothing to {req.action.replace('_', ' ')}"
    kinds = {e.kind for e in ctx.store.timeline(rec.invoice_id)} if req.action in ("pause", "resume", "hand_off") else set()
    if req.action == "hand_off" and EventKind.HANDED_OFF in kinds:
        return "already handed off"
    if req.action == "resume" and EventKind.PAUSED not in kinds:
        return "not paused"
    return None


# --- jobs ---------------------------------------------------------------------------------

def job_id_for(supplier_id: str, req: ActionRequest, key: str | None) -> str:
    basis = key or (req.model_dump_json() + clock.now().astimezone(PARIS).date().isoformat())
    digest = hashlib.sha256(f"{supplier_id}\n{basis}".encode()).digest()
    return "job_" + base64.b32encode(digest).decode().rstrip("=")[:24]


def start(ctx: Context, supplier_id: str, req: ActionRequest, key: str | None) -> tuple[int, dict[str, Any]]:
    """(HTTP status, body): 200 with the plan for a dry run or a job that exists; 202 for a new job."""
    if req.action == "hand_off":
        agencies = {a.id for a in ctx.directory.supplier(supplier_id).agencies}
        if req.agency not in agencies:
            raise InvalidInput(f"agency '{req.agency}' is not one of yours ({', '.join(sorted(agencies)) or 'none'})",
                               code="unknown_agency")
    job_id = job_id_for(supplier_id, req, key)
    jobs = _jobs(ctx)
    existing = jobs.get(job_id)
    if existing is not None and not req.dry_run:
        if existing["supplier_id"] != supplier_id:
            raise Conflict("this Idempotency-Key was used for another request", code="idempotency_key_reused")
        if ActionRequest.model_validate(existing["request"]) != req:
            raise Conflict("this Idempotency-Key was used for another request", code="idempotency_key_reused")
        return 200, public_job(existing)
    records = select(ctx, supplier_id, req.filter)
    if req.dry_run:
        items: list[dict[str, Any]] = []
        acting = 0
        for r in records:
            why = skip_reason(ctx, r, req)
            acting += why is None
            items.append({"invoice_id": r.invoice_id, "number": r.number, "customer_id": r.customer_id,
                          "status": r.status.value, "due_date": r.due_date.isoformat() if r.due_date else None,
                          "outstanding": str(r.outstanding) if r.outstanding is not None else None,
                          "would": "skip: " + why if why else req.action})
        return 200, {"dry_run": True, "action": req.action, "matched": len(items),
                     "would_act_on": acting, "invoices": items}
    job = {"job_id": job_id, "supplier_id": supplier_id, "request": req.model_dump(mode="json"),
           "invoice_ids": [r.invoice_id for r in records], "position": 0, "status": "running", "counts": {},
           "created_at": clock.iso(clock.now())}
    if not jobs.create(job):
        return 200, public_job(jobs.get(job_id) or job)  # a concurrent post of the same job
    sfn = ctx.client("stepfunctions")
    try:
        sfn.start_execution(stateMachineArn=ctx.settings.require("actions_state_machine_arn"), name=job_id,
                            input=json.dumps({"job_id": job_id}))
    except sfn.exceptions.ExecutionAlreadyExists:
        pass
    except ClientError as exc:
        raise classify(exc, "StartExecution") from exc
    return 202, public_job(job)


def _jobs(ctx: Context) -> JobStore:
    return JobStore(ctx.settings.require("invoices_table"), ctx.client("dynamodb"))


def public_job(job: dict[str, Any], results: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    total = len(job.get("invoice_ids") or [])
    out = {"job_id": job["job_id"], "action": job["request"]["action"], "status": job["status"], "total": total,
           "done": int(job.get("position", 0)), "counts": {k: int(v) for k, v in (job.get("counts") or {}).items()},
           "created_at": job["created_at"]}
    if job.get("finished_at"):
        out["finished_at"] = job["finished_at"]
    if results is not None:
        out["results"] = results
    return out


def job_status(ctx: Context, supplier_id: str, job_id: str) -> dict[str, Any]:
    jobs = _jobs(ctx)
    job = jobs.get(job_id) if job_id.startswith("job_") and len(job_id) < 64 else None
    if job is None or job["supplier_id"] != supplier_id:
        raise NotFound(f"job {job_id[:64]} not found")  # tenant isolation: never confirm another's job
    return public_job(job, jobs.results(job_id))


def run_batch(ctx: Context, job_id: str, size: int = BATCH) -> dict[str, Any]:
    """The next `size` invoices of the job, each once; {done: true} when the job is finished."""
    jobs = _jobs(ctx)
    job = jobs.get(job_id)
    if job is None:
        raise NotFound(f"job {job_id} not found")
    req = ActionRequest.model_validate(job["request"])
    ids: list[str] = job["invoice_ids"]
    position = int(job["position"])
    counts: dict[str, int] = {k: int(v) for k, v in (job.get("counts") or {}).items()}
    for n in range(position, min(position + size, len(ids))):
        outcome, detail = _one(ctx, job_id, job["supplier_id"], ids[n], req)
        # a batch run again (a retry) records each invoice's result, and counts it, once
        if jobs.add_result(job_id, n, {"invoice_id": ids[n], "outcome": outcome, **detail}):
            counts[outcome] = counts.get(outcome, 0) + 1
        position = n + 1
    done = position >= len(ids)
    jobs.progress(job_id, position, counts, clock.iso(clock.now()) if done else None)
    return {"job_id": job_id, "done": done, "position": position, "total": len(ids)}


# --- one invoice --------------------------------------------------------------------------

def _one(ctx: Context, job_id: str, supplier_id: str, invoice_id: str, req: ActionRequest) -> tuple[str, dict[str, Any]]:
    rec = ctx.store.get(invoice_id)
    why = skip_reason(ctx, rec, req)  # the invoice may have moved since the job was made
    if why:
        return "skipped", {"why": why}
    rec, inv = _load(ctx, rec)
    customer = ctx.directory.customer(supplier_id, rec.customer_id or "")
    now = clock.now()
    purpose = f"job-{job_id}"
    actor = f"supplier:{supplier_id}"
    detail = {"job_id": job_id, **({"reason": req.reason} if req.reason else {})}
    if req.action in ("pause", "resume"):
        hold = EventKind.PAUSED if req.action == "pause" else EventKind.RESUMED
        apply_event(ctx.store, invoice_id, Event(invoice_id=invoice_id, kind=hold, at=now, actor=actor, detail=detail,
                                                 id=f"job:{job_id}:{req.action}"))
        wake(ctx, invoice_id, req.action)  # re-planned at once: paused, or what fell due meanwhile runs now
        return "done", {}
    if req.action == "resend":
        plan = plan_dispatch(customer, inv=inv)
        out = deliver(ctx, invoice_id, plan, purpose, lambda r: send(ctx, rec, inv, customer, r, purpose=purpose),
                      detail={"job_id": job_id, "resent": True})
        settle(out, plan, require_one=False)
        return ("done" if out.sent else "failed"), {"sent_to": out.sent, **_failures(out, plan)}
    supplier = ctx.directory.supplier(supplier_id)
    action = _action_now(rec, inv, customer, req, job_id, now)
    if req.action == "remind":
        plan = plan_dispatch(customer, roles=frozenset({"payer"}), channels=MESSAGE_CHANNELS) if any(
            r.role.value == "payer" for r in customer.recipients) else plan_dispatch(customer, channels=MESSAGE_CHANNELS)
        kind = "overdue" if action.at.astimezone(PARIS).date() > due_date(inv, customer) else "courtesy"
        message = Message(kind=kind, figures=dunning.figures(action))
        out = deliver(ctx, invoice_id, plan, purpose, lambda r: send(ctx, rec, inv, customer, r, purpose=purpose, message=message),
                      event_kind=EventKind.REMINDED, detail={"job_id": job_id, "action": "reminder"})
        settle(out, plan, require_one=False)
        return ("done" if out.sent else "failed"), {"sent_to": out.sent, **_failures(out, plan)}
    timeline = ctx.store.timeline(invoice_id)  # hand_off: the scenario's own hand-off, now
    dunning.execute(ctx, rec, inv, customer, supplier, action, timeline)
    wake(ctx, invoice_id, "handed_off")
    return "done", {"agency": req.agency, "claimed": str(dunning.figures(action)["claimed"])}


def _failures(out, plan) -> dict[str, Any]:
    failed = [f"{rid}: {why}" for rid, why in [*out.failed, *plan.unreachable]]
    return {"not_sent": failed[:20]} if failed else {}


def _load(ctx: Context, rec: InvoiceRecord) -> tuple[InvoiceRecord, Invoice]:
    if not rec.canonical_key:
        raise NotFound(f"invoice {rec.invoice_id} has no canonical data")
    return rec, Invoice.model_validate_json(ctx.documents.get(rec.canonical_key))


def _action_now(rec: InvoiceRecord, inv: Invoice, customer, req: ActionRequest, job_id: str, now: datetime) -> Action:
    """The planner's action, made by hand today: the amount still due, and for a hand-off the
    interest and indemnity as of today."""
    due = due_date(inv, customer)
    today = now.astimezone(PARIS).date()
    amount_due = inv.amount_due - sum((p.amount for p in rec.payments), Decimal(0))
    interest = indemnity = Decimal("0.00")
    if req.action == "hand_off":
        payments = [(p.at.astimezone(PARIS).date(), p.amount) for p in rec.payments]
        interest = late_interest(inv.amount_due, due, today, dunning.rates(), payments=payments,
                                 contractual_rate=customer.contractual_rate)
        indemnity = INDEMNITY if today > due else Decimal("0.00")
    to = (req.agency,) if req.action == "hand_off" and req.agency else ("payer",)
    return Action(invoice=rec.invoice_id, at=now, action=req.action, to=to, channel="agency" if req.action == "hand_off" else "email",
                  amount_due=amount_due, interest=interest, indemnity=indemnity, rule=f"job {job_id}")

