"""Reminders: the state machine's 'not yet downloaded' reminder, and the scheduled sweep."""
from __future__ import annotations

from facteur.context import get_context
from facteur.observability import logger, metrics
from facteur.pipeline import steps
from facteur.reminders.sweep import sweep


@metrics.log_metrics
@logger.inject_lambda_context
def remind_handler(event, context):
    return steps.remind(get_context(), event["invoice_id"], int(event.get("reminders", 0)))


@metrics.log_metrics
@logger.inject_lambda_context
def sweep_handler(event, context):
    return sweep(get_context())
