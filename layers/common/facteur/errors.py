"""A small typed error hierarchy: permanent vs retryable vs rejected input.

Step Functions retries only `RetryableError` (matched by its class name in the ASL `Retry`),
and one place (facteur.api.errors) maps these errors to HTTP responses.
"""
from __future__ import annotations


class FacteurError(Exception):
    """Base class. `code` is stable and machine-readable; the message is for humans."""

    code = "error"

    def __init__(self, message: str, *, code: str | None = None, detail: dict | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.detail = detail or {}


class RejectedInput(FacteurError):
    """The input cannot become an invoice (unreadable, not an invoice, hostile...).

    It is recorded as a rejection with this precise reason; the original is kept."""

    code = "rejected"


class InvalidInput(FacteurError):
    """A request that breaks the API's contract or rules (HTTP 422): a field out of range, an
    event that is not allowed in the invoice's state..."""

    code = "invalid"


class TooLarge(FacteurError):
    """A request body over the documented limit (HTTP 413)."""

    code = "too_large"


class NotFound(FacteurError):
    code = "not_found"


class Forbidden(FacteurError):
    code = "forbidden"


class Conflict(FacteurError):
    """A conditional write lost (stale version, duplicate key)."""

    code = "conflict"


class PermanentError(FacteurError):
    """A failure that retrying will not fix (configuration, missing directory entry)."""

    code = "permanent"


class RetryableError(FacteurError):
    """A transient failure (throttling, timeouts): the caller may retry."""

    code = "retryable"


def public_cause(cause: object, limit: int = 500) -> str:
    """What may be shown to the supplier of a Step Functions error cause: the Lambda error's
    message only, never its stack trace, file paths or the raw payload."""
    import json

    text = str(cause or "")
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict):
        text = str(data.get("errorMessage") or data.get("errorType") or "")
    first = text.strip().splitlines()[0] if text.strip() else ""
    if "Traceback" in first or 'File "' in first:
        first = "internal error"
    return first[:limit]
