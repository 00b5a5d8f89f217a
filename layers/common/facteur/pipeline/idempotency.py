"""Idempotent intake with Powertools Idempotency (DynamoDB persistence): an S3 object version
or an API Idempotency-Key is processed once; a concurrent duplicate gets "in progress" (409,
or a Lambda retry for S3) and later ones the first answer; the same key with another body is
refused (payload hash). A failed attempt deletes its record, so a retry runs again, and the
deterministic invoice id (pipeline/intake.py) makes that retry continue the same invoice."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..context import Context
from ..errors import Conflict

EXPIRES_AFTER = 7 * 24 * 3600  # an ERP retrying after a week gets the first answer, not a new invoice


def once(ctx: Context, *, scope: str, key: str, payload_sha256: str, work: Callable[[], dict[str, Any]],
         lambda_context: Any = None) -> tuple[dict[str, Any], bool]:
    """Run `work` once for (scope, key); returns (its answer, replayed?)."""
    from aws_lambda_powertools.utilities.idempotency import (
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
        idempotent_function,
    )
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyValidationError,
    )

    replayed = {"yes": False}

    def hook(response: Any, idempotent_data: Any) -> Any:
        replayed["yes"] = True
        return response

    config = IdempotencyConfig(event_key_jmespath="[scope, key]", payload_validation_jmespath="sha256",
                               expires_after_seconds=EXPIRES_AFTER, response_hook=hook)
    if lambda_context is not None:  # an attempt that dies is "in progress" only until the function's timeout
        config.register_lambda_context(lambda_context)
    persistence = DynamoDBPersistenceLayer(table_name=ctx.settings.idempotency_table, boto3_client=ctx.client("dynamodb"))

    @idempotent_function(data_keyword_argument="request", config=config, persistence_store=persistence)
    def run(request: dict[str, str]) -> dict[str, Any]:
        return work()

    try:
        answer = run(request={"scope": scope, "key": key, "sha256": payload_sha256})
    except IdempotencyAlreadyInProgressError as exc:
        raise Conflict("a request with this key is being processed: retry in a few seconds", code="in_progress") from exc
    except IdempotencyValidationError as exc:
        raise Conflict("this Idempotency-Key was already used with a different body", code="idempotency_mismatch") from exc
    return answer, replayed["yes"]
