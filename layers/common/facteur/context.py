"""The composition root: adapters built lazily from settings, one set per process (a warm
Lambda container reuses them). Tests and the local runtime pass their own clients."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from .settings import Settings, clear_settings, env_key, get_settings

if TYPE_CHECKING:
    from .ports import Directory, Documents, Invoices, WakeUps


@dataclass
class Context:
    settings: Settings = field(default_factory=get_settings)
    clients: dict = field(default_factory=dict)
    _cache: dict = field(default_factory=dict)

    def client(self, name: str):
        if name not in self.clients:
            import boto3

            with _CLIENT_LOCK:  # creating clients from one session is not thread-safe
                if name not in self.clients:
                    self.clients[name] = boto3.session.Session().client(name)
        return self.clients[name]

    @cached_property
    def store(self) -> Invoices:
        from .tracking.store import InvoiceStore

        return InvoiceStore(self.settings.require("invoices_table"), self.client("dynamodb"))

    @cached_property
    def directory(self) -> Directory:
        from .routing.directory import DirectoryStore

        return DirectoryStore(self.settings.require("directory_table"), self.client("dynamodb"))

    @cached_property
    def documents(self) -> Documents:
        from .adapters.s3 import DocumentStore

        return DocumentStore(self.settings.require("documents_bucket"), self.client("s3"))

    @cached_property
    def wakeups(self) -> WakeUps:
        from .adapters.wakeups import WakeUps as ScheduledWakeUps

        return ScheduledWakeUps(self.client("scheduler"), self.settings.require("wake_schedule_group"),
                                self.settings.require("wake_role_arn"))

    # Configuration read at run time is re-read every CONFIG_MAX_AGE seconds by a warm container:
    # a changed URL or a rotated link key is picked up without a redeploy.
    @property
    def public_api_url(self) -> str:
        name = self.settings.public_api_url_param
        if not name:
            return ""
        from aws_lambda_powertools.utilities.parameters import SSMProvider

        if "ssm_provider" not in self.clients:
            self.clients["ssm_provider"] = SSMProvider(boto3_client=self.client("ssm"))
        return str(self.clients["ssm_provider"].get(name, max_age=CONFIG_MAX_AGE)).rstrip("/")

    @property
    def link_key(self) -> bytes:
        """The current key (signs new links): the first of `link_keys`."""
        return next(iter(self.link_keys.values()))

    @property
    def link_keys(self) -> dict[str, bytes]:
        """{key id: key}, the current first, then the previous (verifies links issued before a rotation)."""
        from .adapters.secrets import link_keys

        return self._fresh("link_keys", lambda: link_keys(self.client("secretsmanager"),
                                                           self.settings.require("link_secret_arn")))

    def _fresh(self, name: str, load):
        from . import clock

        now = clock.now().timestamp()
        hit = self._cache.get(name)
        if hit is None or now - hit[0] > CONFIG_MAX_AGE:
            hit = self._cache[name] = (now, load())
        return hit[1]


CONFIG_MAX_AGE = 300

_CONTEXTS: dict[frozenset | None, Context] = {}
_CLIENT_LOCK = threading.Lock()


def get_context() -> Context:
    """The composition root of this function (one per environment: on Lambda, one per process)."""
    key = env_key()
    ctx = _CONTEXTS.get(key)
    if ctx is None:
        with _CLIENT_LOCK:
            ctx = _CONTEXTS.setdefault(key, Context())
    return ctx


def reset_context() -> None:
    """Forget the cached settings and clients (the local runtime redeploys in one process)."""
    _CONTEXTS.clear()
    clear_settings()
