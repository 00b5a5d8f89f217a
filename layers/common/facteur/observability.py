"""Logger, metrics and tracer shared by the handlers. No personal data or secrets in logs: log ids,
counts and codes, never e-mail addresses, tokens or document contents.

Metrics (CloudWatch embedded metric format, namespace `Facteur`, dimension service=facteur):
InvoicesReceived, InvoicesRejected, InvoicesHeld, InvoicesDuplicate, InvoicesDeposited,
DeliveriesSent, DeliveriesRefused, DeliveriesRetried, InvoicesFailed, StaleReceived, Overdue.
Alarms in template.yaml read them (StaleReceived)."""
from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger(service="facteur")
metrics = Metrics(namespace="Facteur", service="facteur")
# X-Ray (Tracing: Active in template.yaml): each handler is a segment with its AWS calls as
# subsegments (boto3 patched); responses are not captured (they hold invoice data).
tracer = Tracer(service="facteur")


def count(name: str, value: int = 1) -> None:
    """Add to a counter flushed at the end of the invocation (handlers use @metrics.log_metrics)."""
    if value:
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
