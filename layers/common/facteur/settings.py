"""Typed settings, read from the environment once per process and cached.

Every function receives the same environment (template.yaml `Globals`), so the cache is
safe in the embedded runtime where all handlers share one interpreter.
"""
from __future__ import annotations

import os
from functools import lru_cache

from pydantic import BaseModel, Field


class Settings(BaseModel):
    stage: str = "dev"
    invoices_table: str = Field(..., description="DynamoDB table: invoices, events, dedup keys")
    directory_table: str = Field(..., description="DynamoDB table: suppliers, customers, API keys")
    inbound_bucket: str = Field(..., description="Where billing systems drop files (prefix per supplier)")
    documents_bucket: str = Field(..., description="Originals, canonical JSON and produced documents")
    idempotency_table: str = Field("", description="DynamoDB table of Powertools Idempotency records")
    state_machine_arn: str = ""
    link_secret_arn: str = Field("", description="Secrets Manager secret holding the download-link HMAC key")
    public_api_url_param: str = Field("", description="SSM parameter holding the base URL put in download links")
    mail_from: str = "factures@facteur.example"
    ses_configuration_set: str = ""
    max_input_bytes: int = 20 * 1024 * 1024
    link_ttl_seconds: int = 30 * 24 * 3600
    presigned_ttl_seconds: int = 300

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        return cls(
            stage=env.get("STAGE", "dev"),
            invoices_table=env["INVOICES_TABLE"],
            directory_table=env["DIRECTORY_TABLE"],
            inbound_bucket=env["INBOUND_BUCKET"],
            documents_bucket=env["DOCUMENTS_BUCKET"],
            state_machine_arn=env.get("STATE_MACHINE_ARN", ""),
            idempotency_table=env.get("IDEMPOTENCY_TABLE", ""),
            link_secret_arn=env.get("LINK_SECRET_ARN", ""),
            public_api_url_param=env.get("PUBLIC_API_URL_PARAM", ""),
            mail_from=env.get("MAIL_FROM", "factures@facteur.example"),
            ses_configuration_set=env.get("SES_CONFIGURATION_SET", ""),
            max_input_bytes=int(env.get("MAX_INPUT_BYTES", 20 * 1024 * 1024)),
            link_ttl_seconds=int(env.get("LINK_TTL_SECONDS", 30 * 24 * 3600)),
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_env()
