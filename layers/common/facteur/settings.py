"""Typed settings, read from the environment once per process and cached.

Each function receives only the variables it needs (template.yaml). In the embedded runtime,
where all handlers share one interpreter, the runtime sets the invoked function's variables in
`FUNCTION_ENV` (a context variable: per thread, never a swap of os.environ) and the settings
and the composition root are cached per environment."""
from __future__ import annotations

import os
from contextvars import ContextVar
from functools import lru_cache

from pydantic import BaseModel, Field


class Settings(BaseModel):
    stage: str = "dev"
    invoices_table: str = Field("", description="DynamoDB table: invoices, events, dedup keys")
    directory_table: str = Field("", description="DynamoDB table: suppliers, customers, API keys")
    inbound_bucket: str = Field("", description="Where billing systems drop files (prefix per supplier)")
    documents_bucket: str = Field("", description="Originals, canonical JSON and produced documents")
    idempotency_table: str = Field("", description="DynamoDB table of Powertools Idempotency records")
    state_machine_arn: str = ""
    actions_state_machine_arn: str = Field("", description="The jobs state machine of mass actions (POST /actions)")
    link_secret_arn: str = Field("", description="Secrets Manager secret holding the download-link HMAC key")
    public_api_url_param: str = Field("", description="SSM parameter holding the base URL put in download links")
    mail_from: str = "factures@facteur.example"
    ses_configuration_set: str = ""
    max_input_bytes: int = 20 * 1024 * 1024
    link_ttl_seconds: int = 30 * 24 * 3600
    presigned_ttl_seconds: int = 300
    continue_after_days: int = Field(330, description="An invoice's execution older than this hands over to a new one")
    platform_sweep_function: str = Field("", description="The platforms' sweep, rung by a PA's webhook")
    wake_schedule_group: str = Field("", description="EventBridge Scheduler group of the milestone loop's wake-ups")
    wake_role_arn: str = Field("", description="The role Scheduler hands task tokens back with")

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        return cls(
            stage=env.get("STAGE", "dev"),
            invoices_table=env.get("INVOICES_TABLE", ""),
            directory_table=env.get("DIRECTORY_TABLE", ""),
            inbound_bucket=env.get("INBOUND_BUCKET", ""),
            documents_bucket=env.get("DOCUMENTS_BUCKET", ""),
            state_machine_arn=env.get("STATE_MACHINE_ARN", ""),
            actions_state_machine_arn=env.get("ACTIONS_STATE_MACHINE_ARN", ""),
            idempotency_table=env.get("IDEMPOTENCY_TABLE", ""),
            link_secret_arn=env.get("LINK_SECRET_ARN", ""),
            public_api_url_param=env.get("PUBLIC_API_URL_PARAM", ""),
            mail_from=env.get("MAIL_FROM", "factures@facteur.example"),
            ses_configuration_set=env.get("SES_CONFIGURATION_SET", ""),
            max_input_bytes=int(env.get("MAX_INPUT_BYTES", 20 * 1024 * 1024)),
            link_ttl_seconds=int(env.get("LINK_TTL_SECONDS", 30 * 24 * 3600)),
            continue_after_days=int(env.get("CONTINUE_AFTER_DAYS", 330)),
            platform_sweep_function=env.get("PLATFORM_SWEEP_FUNCTION", ""),
            wake_schedule_group=env.get("WAKE_SCHEDULE_GROUP", ""),
            wake_role_arn=env.get("WAKE_ROLE_ARN", ""),
        )


    def require(self, name: str) -> str:
        """A setting this function must have (a missing one is a deployment error, said plainly)."""
        value = getattr(self, name)
        if not value:
            from .errors import PermanentError

            raise PermanentError(f"{name.upper()} is not configured for this function (template.yaml)", code="config")
        return str(value)


FUNCTION_ENV: ContextVar[dict[str, str] | None] = ContextVar("facteur_function_env", default=None)


def env_key() -> frozenset | None:
    env = FUNCTION_ENV.get()
    return frozenset(env.items()) if env is not None else None


@lru_cache(maxsize=64)
def _settings(key: frozenset | None) -> Settings:
    return Settings.from_env(None if key is None else {**os.environ, **dict(key)})


def get_settings() -> Settings:
    return _settings(env_key())


def clear_settings() -> None:
    """Forget the cached settings (the local runtime redeploys in one process)."""
    _settings.cache_clear()
