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
    step = parse(event, model=StepInput)
    if (event.get("input") or {}).get("resume") is True:  # a continuation: already checked, sent and followed
        return {"verdict": "resume", "blocking": 0}
    return steps.check(get_context(), step.invoice_id)


@metrics.log_metrics
@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def convert_handler(event, context):
    return steps.convert(get_context(), parse(event, model=StepInput).invoice_id)
