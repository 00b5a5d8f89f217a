"""Scenario actions (reminders, formal notices, hand-offs, alerts) run by the invoice's state machine, mass
actions run by the jobs state machine, and the scheduled sweep."""
from __future__ import annotations

from aws_lambda_powertools.utilities.parser import parse

from facteur.context import get_context
from facteur.model.events import JobInput, ParkInput
from facteur.observability import logger, metrics, tracer
from facteur.pipeline import actions, steps
from facteur.reminders import statements
from facteur.reminders.sweep import sweep


@metrics.log_metrics
@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def progress_handler(event, context):
    """The milestone loop's state: where the invoice stands, the scenario's actions due now, then
    the end of the path or parked until the next planned time (a one-time schedule) or an event."""
    step = parse(event, model=ParkInput)
    return steps.milestone(get_context(), step.invoice_id, step.token)


@metrics.log_metrics
@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def job_handler(event, context):
    """The jobs state machine: the next batch of a mass action's invoices."""
    job = parse(event, model=JobInput)
    return actions.run_batch(get_context(), job.job_id)


@metrics.log_metrics
@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def sweep_handler(event, context):
    return sweep(get_context())


@metrics.log_metrics
@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def daily_handler(event, context):
    """The daily schedule: statements of account due, then the suppliers' worklist digests."""
    ctx = get_context()
    return {**statements.run_due(ctx), **statements.send_digests(ctx)}
