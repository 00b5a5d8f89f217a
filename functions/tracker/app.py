"""Tracker: the API's read and event routes, the public download link, SES events, and the
state machine's milestone checks and failure recording."""
from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel

from facteur import clock
from facteur.api.http import body_bytes, caller_agency, caller_supplier, json_object, make_resolver
from facteur.context import get_context
from facteur.errors import InvalidInput, NotFound, public_cause
from facteur.model.events import FailureInput, SesEventDetail
from facteur.model.lifecycle import EventKind, Status
from facteur.observability import count, logger, metrics, tracer
from facteur.pipeline import actions, agency, chorus, corrections, edi, pa
from facteur.pipeline.tracker import (
    ReportedEvent,
    open_link,
    record_lifecycle,
    record_reported_event,
    record_ses_event,
    redeliver_failed,
    revoke_links,
)
from facteur.pipeline.worklist import worklist
from facteur.tracking.store import Event, apply_event

app = make_resolver()


def _own(invoice_id: str):
    rec = get_context().store.get(invoice_id)
    if rec.supplier_id != caller_supplier(app):
        raise NotFound(f"invoice {invoice_id} not found")  # tenant isolation
    return rec


@app.get("/invoices")
def list_invoices():
    """The caller's invoices, by status (GSI1), newest first; `?status=held&limit=50&cursor=...`."""
    q = app.current_event.query_string_parameters or {}
    limit = q.get("limit", "100")
    if not limit.isdigit() or not 1 <= int(limit) <= 500:
        raise InvalidInput("'limit' is a whole number from 1 to 500", code="invalid_limit")
    status = q.get("status")
    if status is not None and status not in {s.value for s in Status}:
        raise InvalidInput(f"unknown status '{status[:40]}'", code="invalid_status")
    records, cursor = get_context().store.by_supplier(caller_supplier(app), status, int(limit), q.get("cursor"))
    out: dict[str, Any] = {"invoices": [r.public() for r in records]}
    if cursor:
        out["cursor"] = cursor
    return out


@app.get("/worklist")
def get_worklist():
    """Only the invoices that need a person now (held, failed, refused, disputed, suspended, closed
    unpaid), each with why, what to do and what was tried."""
    return worklist(get_context(), caller_supplier(app))


@app.post("/actions")
def post_actions():
    """A mass action: `{"filter": {...}, "action": "resend|remind|pause|resume|hand_off", "dry_run": false}`;
    a dry run answers with what each invoice would get, otherwise 202 and a job (GET /actions/{job_id})."""
    headers = {k.lower(): v for k, v in (app.current_event.headers or {}).items()}
    key = headers.get("idempotency-key")
    if key is not None and not 1 <= len(key) <= 200:
        raise InvalidInput("'Idempotency-Key' has 1 to 200 characters", code="invalid_idempotency_key")
    req = actions.ActionRequest.model_validate(json_object(app))
    status, body = actions.start(get_context(), caller_supplier(app), req, key)
    return Response(status_code=status, content_type="application/json", body=json.dumps(body))


@app.get("/actions/<job_id>")
def get_action(job_id: str):
    """A mass action's progress (done of total, counts by outcome) and each invoice's result."""
    return actions.job_status(get_context(), caller_supplier(app), job_id)


@app.get("/cases")
def get_cases():
    """A collection agency's open cases (the invoices its supplier handed to it)."""
    supplier_id, agency_id = caller_agency(app)
    return agency.cases(get_context(), supplier_id, agency_id)


@app.post("/cases/<invoice_id>/updates")
def post_case_update(invoice_id: str):
    """The agency reports: `{"kind": "payment", "amount": "...", "reference": "..."}`, a note,
    the case `returned`, or `closed` (uncollectable, with a note)."""
    supplier_id, agency_id = caller_agency(app)
    body = agency.AgencyUpdate.model_validate(json_object(app))
    return agency.update(get_context(), supplier_id, agency_id, invoice_id, body)


@app.get("/invoices/<invoice_id>")
def get_invoice(invoice_id: str):
    return _own(invoice_id).public()


@app.get("/invoices/<invoice_id>/timeline")
def get_timeline(invoice_id: str):
    _own(invoice_id)
    return {"invoice_id": invoice_id, "events": [e.public() for e in get_context().store.timeline(invoice_id)]}


@app.post("/invoices/<invoice_id>/events")
def post_event(invoice_id: str):
    body = ReportedEvent.model_validate(json_object(app))
    return record_reported_event(get_context(), caller_supplier(app), invoice_id, body)


@app.post("/invoices/<invoice_id>/lifecycle")
def post_lifecycle(invoice_id: str):
    """A French lifecycle status (200-213) for this invoice: a CDAR message (application/xml) or
    JSON `{"code": 207, "reason_code": "...", "reason": "...", "amount": "...", "source": "buyer"}`."""
    headers = {k.lower(): v for k, v in (app.current_event.headers or {}).items()}
    return record_lifecycle(get_context(), caller_supplier(app), invoice_id, body_bytes(app), headers.get("content-type", ""))


@app.post("/invoices/<invoice_id>/release")
def release_invoice(invoice_id: str):
    """Send a held invoice as it is: `{"reason": "..."}` (recorded with the overridden rules)."""
    reason = json_object(app).get("reason")
    if not isinstance(reason, str) or len(reason) > 2000:
        raise InvalidInput("'reason' is a text of at most 2000 characters", code="invalid_reason")
    return corrections.release(get_context(), caller_supplier(app), invoice_id, reason)


@app.post("/invoices/<invoice_id>/retry")
def retry_invoice(invoice_id: str):
    """Run a failed invoice's path again (what was delivered is not sent twice)."""
    return Response(status_code=202, content_type="application/json",
                    body=json.dumps(corrections.retry(get_context(), caller_supplier(app), invoice_id)))


@app.post("/invoices/<invoice_id>/redeliver")
def redeliver(invoice_id: str):
    """Send again, now, what the channels gave up on (a webhook receiver down for 24 h...)."""
    return redeliver_failed(get_context(), caller_supplier(app), invoice_id)


@app.post("/invoices/<invoice_id>/links/revoke")
def revoke(invoice_id: str):
    """Void the download links sent so far to one recipient: `{"recipient_id": "..."}`."""
    recipient_id = json_object(app).get("recipient_id")
    if not isinstance(recipient_id, str) or not recipient_id:
        raise InvalidInput("'recipient_id' is required", code="recipient_required")
    return revoke_links(get_context(), caller_supplier(app), invoice_id, recipient_id)


@app.patch("/invoices/<invoice_id>")
def patch_invoice(invoice_id: str):
    """Patch fields of a held invoice: `{"fields": {"BT-13": "PO-1"}}`; it is checked again."""
    fields = json_object(app).get("fields")
    if not isinstance(fields, dict) or not fields:
        raise InvalidInput("'fields' is an object of BT ids to values, e.g. {\"BT-13\": \"PO-1\"}", code="invalid_fields")
    return corrections.patch(get_context(), caller_supplier(app), invoice_id, fields)


@app.get("/customers")
def list_customers():
    """The supplier's customers (id, name, group, how many recipients on which channels)."""
    ctx = get_context()
    return {"customers": [{"id": c.id, "name": c.name, "group": c.group,
                           "channels": sorted({r.channel.value for r in c.recipients})}
                          for c in ctx.directory.customers(caller_supplier(app))]}


@app.get("/customers/<customer_id>")
def get_customer(customer_id: str):
    """The customer as stored (its group's shared rules apply on top: the supplier's `groups`)."""
    customer = get_context().directory.own_customer(caller_supplier(app), customer_id)
    return customer.model_dump(mode="json", exclude_unset=True, exclude_none=True)


@app.put("/customers/<customer_id>")
def put_customer(customer_id: str):
    """The customer as the directory holds it (the same fields as the YAML: recipients, distribution,
    hold and e-mail rules, milestones...), validated whole; its id is the path's."""
    from facteur.model.directory import Customer

    body = json_object(app)
    if body.get("id", customer_id) != customer_id:
        raise InvalidInput("the body's id is not the path's", code="id_mismatch")
    customer = Customer.model_validate({**body, "id": customer_id})
    ctx = get_context()
    supplier_id = caller_supplier(app)
    ctx.directory.replace_customer(supplier_id, customer)
    logger.info("customer replaced", extra={"supplier_id": supplier_id, "customer_id": customer_id})
    return customer.model_dump(mode="json", exclude_unset=True, exclude_none=True)


@app.post("/pa/events/<supplier_id>/<token>")
def pa_rang(supplier_id: str, token: str):
    """A PA's webhook (registered by the platform sweep): the supplier's sweep runs now. Nothing in
    the body is trusted; an unknown supplier or token is 404."""
    return Response(status_code=202, content_type="application/json",
                    body=json.dumps(pa.ring(get_context(), supplier_id, token)))


@app.get("/d/<token>")
def download(token: str):
    url = open_link(get_context(), token)
    return Response(status_code=302, headers={"Location": url, "Cache-Control": "no-store"}, body="")


@metrics.log_metrics
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler(capture_response=False)
def api_handler(event, context):
    return app.resolve(event, context)


@metrics.log_metrics
@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def ses_handler(event, context):
    """EventBridge rule on SES events (source aws.ses)."""
    detail = parse(event, model=EventBridgeModel).detail
    return record_ses_event(get_context(), SesEventDetail.model_validate(detail).model_dump())


@metrics.log_metrics
@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def transfer_handler(event, context):
    """Transfer Family's AS2 events (EventBridge): the trading partner's MDN settles an EDI delivery."""
    ev = parse(event, model=EventBridgeModel)
    return edi.record_transfer_event(get_context(), ev.detail_type, dict(ev.detail) if isinstance(ev.detail, dict) else {})


@metrics.log_metrics
@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def platform_sweep_handler(event, context):
    """The schedule: the statuses Chorus Pro and the suppliers' PAs changed since the last pass, recorded
    on each invoice. One platform down does not stop the other; its error is raised after (retried)."""
    ctx = get_context()
    if isinstance(event, dict) and event.get("platform") == "pa" and event.get("supplier"):  # rung by the PA's webhook
        return {"pa": pa.sweep(ctx, only=str(event["supplier"]))}
    out, failed = {}, None
    for name, sweep in (("chorus", chorus.sweep), ("pa", pa.sweep)):
        try:
            out[name] = sweep(ctx)
        except Exception as exc:  # noqa: BLE001 - re-raised below, after the other platform's pass
            logger.exception("platform sweep failed", extra={"platform": name})
            failed = failed or exc
    if failed is not None:
        raise failed
    return out


@metrics.log_metrics
@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def failure_handler(event, context):
    """The state machine's Catch: record the failure on the timeline (never silent)."""
    failure = parse(event, model=FailureInput)
    error = failure.error
    count("InvoicesFailed")
    apply_event(get_context().store, failure.invoice_id, Event(
        invoice_id=failure.invoice_id, kind=EventKind.FAILED, at=clock.now(),
        detail={"error": error.get("Error", "Unknown"), "cause": public_cause(error.get("Cause"))}),
        mutate=lambda r: setattr(r, "next_due_at", None))
    get_context().wakeups.cancel(failure.invoice_id)  # no wake-up left for a path that ended
    return {"recorded": "failed"}
