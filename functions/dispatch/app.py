"""Dispatch: send the invoice to each recipient on its channel."""
from __future__ import annotations

from facteur.context import get_context
from facteur.observability import logger, metrics
from facteur.pipeline import steps


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event, context):
    return steps.dispatch(get_context(), event["invoice_id"])
