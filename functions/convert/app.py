"""The state machine's first step: check the invoice (controls), then, when it passes, produce the
formats its customer wants (each re-checked) in the same invocation: the invoice is loaded once,
one Lambda invocation and one state transition fewer per invoice."""
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
    ctx = get_context()
    verdict = steps.check(ctx, step.invoice_id)
    if verdict["verdict"] != "ok":
        return verdict
    return {**verdict, **steps.convert(ctx, step.invoice_id)}
