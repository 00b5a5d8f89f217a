"""Enrich: the scheduled open-data watch of customers (identifier checks for now)."""
from __future__ import annotations

from facteur.context import get_context
from facteur.enrichment.identifiers import check_customers
from facteur.observability import logger, metrics, tracer


@metrics.log_metrics
@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def handler(event, context):
    report = check_customers(get_context())
    logger.info("customer identifiers checked", extra={"customers": report["customers"], "problems": len(report["problems"])})
    return report
