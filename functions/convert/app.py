"""Convert: the state machine's check and convert steps (controls and formats)."""
from __future__ import annotations

from aws_lambda_powertools.utilities.parser import parse

from facteur.context import get_context
from facteur.model.events import StepInput
from facteur.observability import logger, metrics, tracer
from facteur.pipeline import steps


@metrics.log_metrics
@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def check_handler(event, context):
    return steps.check(get_context(), parse(event, model=StepInput).invoice_id)


@metrics.log_metrics
@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def convert_handler(event, context):
    return steps.convert(get_context(), parse(event, model=StepInput).invoice_id)
