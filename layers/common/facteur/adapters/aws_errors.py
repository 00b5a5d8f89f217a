"""The one place where AWS errors are classified: retryable (throttling, 5xx, timeouts: the
state machine or the caller retries with backoff) or permanent (the request itself is wrong:
retrying cannot help, the failure is recorded). Adapters call `classify` on every botocore
error, so the domain only ever sees Facteur's typed errors."""
from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, ReadTimeoutError

from ..errors import Conflict, FacteurError, PermanentError, RetryableError

# Error codes that mean "later may work" (documented throttling and server-side codes)
RETRYABLE_CODES = frozenset({
    "Throttling", "ThrottlingException", "ThrottledException", "TooManyRequestsException",
    "ProvisionedThroughputExceededException", "RequestLimitExceeded", "RequestThrottled",
    "RequestThrottledException", "LimitExceededException", "SlowDown", "PriorThrottling",
    "InternalServerError", "InternalFailure", "InternalError", "ServiceUnavailable",
    "ServiceUnavailableException", "ServiceException", "RequestTimeout", "RequestTimeoutException",
    "TransactionConflictException", "TransactionInProgressException", "EC2ThrottledException",
    "KMSThrottlingException", "SendingPausedException",  # SES: account sending paused (reversible)
})
CONFLICT_CODES = frozenset({"ConditionalCheckFailedException", "TransactionCanceledException"})


def error_code(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code") or "Unknown")
    return type(exc).__name__


def is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, RetryableError):
        return True
    if isinstance(exc, ClientError):
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        return error_code(exc) in RETRYABLE_CODES or status >= 500 or status == 429
    return isinstance(exc, (ConnectionError, ReadTimeoutError))


def classify(exc: BaseException, what: str = "AWS call") -> FacteurError:
    """A typed error for any exception raised by boto3 (others are returned as permanent)."""
    if isinstance(exc, FacteurError):
        return exc
    code = error_code(exc)
    if code in CONFLICT_CODES:
        return Conflict(f"concurrent update ({code})")
    if is_retryable(exc):
        return RetryableError(f"{what}: {code} (retryable)", code=code)
    if isinstance(exc, (ClientError, BotoCoreError)):
        return PermanentError(f"{what}: {code}", code=code)
    return PermanentError(f"{what}: {type(exc).__name__}", code="internal")
