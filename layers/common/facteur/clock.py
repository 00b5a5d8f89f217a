"""The one source of "now" for the domain.

Production uses the system clock. The embedded local runtime installs its virtual clock
here (`set_provider`) so that timelines carry virtual timestamps and deadlines expire when the
virtual clock passes them.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

_provider: Callable[[], datetime] | None = None


def now() -> datetime:
    """Current instant, always timezone-aware (UTC)."""
    if _provider is not None:
        return _provider()
    return datetime.now(UTC)


def set_provider(provider: Callable[[], datetime] | None) -> None:
    global _provider
    _provider = provider


def iso(dt: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and a Z, sortable as a string."""
    return dt.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
