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
