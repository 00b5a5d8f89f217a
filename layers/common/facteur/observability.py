"""Logger and tracer shared by the handlers. No personal data or secrets in logs: log ids,
counts and codes, never e-mail addresses, tokens or document contents."""
from __future__ import annotations

from aws_lambda_powertools import Logger

logger = Logger(service="facteur")
