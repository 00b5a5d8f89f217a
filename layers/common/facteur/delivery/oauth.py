"""OAuth2 client credentials, shared by the platforms Facteur talks to (Chorus Pro through PISTE,
a PA's AFNOR APIs): one token per (token URL, client id) per process, kept until a minute before
it expires, asked again when the platform says it expired (the caller's 401)."""
from __future__ import annotations

import threading
import time

from ..errors import PermanentError, RetryableError

TIMEOUT_SECONDS = 30

_TOKENS: dict[tuple[str, str], tuple[str, float]] = {}
_LOCK = threading.Lock()


def token(http, url: str, client_id: str, client_secret: str, *, fresh: bool = False, scope: str | None = None,
          name: str, code: str) -> str:
    """A bearer token for `client_id` at `url`. Errors: the endpoint unreachable, 429 or 5xx are
    retryable (`{code}_unreachable`, `{code}_http_NNN`); refused credentials are permanent (`{code}_auth`)."""
    key = (url, client_id)
    with _LOCK:
        cached = _TOKENS.get(key)
        if cached and not fresh and cached[1] > time.monotonic():
            return cached[0]
    import requests

    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret}
    if scope:
        form["scope"] = scope
    try:
        res = http.post(url, timeout=TIMEOUT_SECONDS, data=form)
    except requests.RequestException as exc:
        raise RetryableError(f"{name}: the token endpoint could not be reached", code=f"{code}_unreachable") from exc
    if res.status_code == 429 or res.status_code >= 500:
        raise RetryableError(f"{name}: token endpoint HTTP {res.status_code}", code=f"{code}_http_{res.status_code}")
    if res.status_code != 200:
        raise PermanentError(f"{name} refused the client credentials (HTTP {res.status_code})", code=f"{code}_auth")
    try:
        body = res.json()
        value, ttl = str(body["access_token"]), int(body.get("expires_in", 3600))
    except (ValueError, KeyError, TypeError) as exc:
        raise RetryableError(f"{name}: the token endpoint answered without a token", code=f"{code}_token") from exc
    with _LOCK:
        _TOKENS[key] = (value, time.monotonic() + max(0, ttl - 60))
    return value
