"""A plateforme agréée (PA) through the AFNOR XP Z12-013 APIs (Annex A swaggers in
shared/docs/afnor-xp-z12-013/): the flow service (submit a flow, search flows by `updatedAfter`,
download a flow's file) and the directory service (the buyer's electronic address and whether a
platform receives for it).

OAuth2 client credentials (delivery/oauth.py); every call carries a `Request-Id` and, for
multi-tenant platforms, `Organization-Id`. Errors are classified: 429, 5xx, timeouts and network
failures are retryable; 401 after a fresh token, 403, 400, 413 and 422 are permanent, with the
platform's `errorCode` and `errorMessage`.

A submission is idempotent by its `trackingId` (the delivery record's key): before posting, the
flow is looked up by it, so a sender that died after the platform took the file does not send it
twice (the platform would answer the second with `AlreadyExistingFlow`).

The supplier's credentials are a Secrets Manager secret under its own prefix
(`facteur/pa/<supplier id>`): `{"client_id", "client_secret"}`."""
from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..errors import PermanentError, RetryableError
from ..model.directory import PaConfig
from . import oauth

TIMEOUT_SECONDS = oauth.TIMEOUT_SECONDS
PAGE = 100  # the swagger's maximum `limit`


@dataclass(frozen=True)
class Credentials:
    client_id: str
    client_secret: str

    @classmethod
    def parse(cls, text: str) -> Credentials:
        try:
            d = json.loads(text)
            return cls(str(d["client_id"]), str(d["client_secret"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise PermanentError("the PA secret must hold client_id and client_secret", code="pa_secret_invalid") from exc


@dataclass(frozen=True)
class DirectoryLine:
    """One line of the French directory: an electronic address and whether a platform receives for it."""

    address: str
    siren: str | None
    enabled: bool
    platform_type: str | None  # WK: a PA; DFH: the public platform (PPF)
    name: str | None


class AfnorPlatform:
    def __init__(self, config: PaConfig, credentials: Credentials, session=None):
        import requests

        self.config, self.credentials = config, credentials
        self.http = session or requests.Session()

    # -- transport ------------------------------------------------------------------------------
    def _token(self, fresh: bool = False) -> str:
        return oauth.token(self.http, self.config.token_url, self.credentials.client_id, self.credentials.client_secret,
                           fresh=fresh, name=f"PA {self.config.name}", code="pa")

    def call(self, method: str, url: str, *, json_body: Any = None, files: Any = None, params: dict | None = None,
             ok: tuple[int, ...] = (200,), missing_ok: bool = False):
        """One call; the response (None for a 404 when `missing_ok`)."""
        import requests

        what = "/v1/" + url.split("/v1/", 1)[-1]
        for attempt in (0, 1):
            headers = {"Authorization": f"Bearer {self._token(fresh=attempt == 1)}", "Request-Id": str(uuid.uuid4()),
                       "Accept": "application/json"}
            if self.config.organization_id:
                headers["Organization-Id"] = self.config.organization_id
            try:
                res = self.http.request(method, url, json=json_body, files=files, params=params, headers=headers,
                                        timeout=TIMEOUT_SECONDS)
            except requests.Timeout as exc:
                raise RetryableError(f"PA {self.config.name}: no answer within {TIMEOUT_SECONDS} s ({what})",
                                     code="pa_timeout") from exc
            except requests.RequestException as exc:
                raise RetryableError(f"PA {self.config.name} could not be reached ({what})", code="pa_unreachable") from exc
            if res.status_code == 401 and attempt == 0:
                continue  # the token expired early: once more with a fresh one
            break
        if res.status_code in ok:
            return res
        if res.status_code == 404 and missing_ok:
            return None
        try:
            err = res.json()
        except ValueError:
            err = {}
        label = " ".join(str(x) for x in (err.get("errorCode"), err.get("errorMessage")) if x) \
            or " ".join(res.text.split())[:200]
        message = f"PA {self.config.name}: HTTP {res.status_code} on {what} {label}".strip()
        if res.status_code == 429 or res.status_code >= 500:
            raise RetryableError(message, code=f"pa_http_{res.status_code}")
        raise PermanentError(message, code=f"pa_http_{res.status_code}",
                             detail={"error_code": err.get("errorCode")} if err.get("errorCode") else None)

    # -- flow service ----------------------------------------------------------------------------
    def submit(self, data: bytes, name: str, *, syntax: str, tracking_id: str, profile: str | None = None,
               processing_rule: str | None = None) -> dict[str, Any]:
        """The file as a new flow (`POST /v1/flows`, multipart flowInfo + file with its sha256);
        the flow already submitted under this tracking id when there is one. Returns the flow's info."""
        found = self.find(tracking_id)
        if found is not None:
            return found
        info: dict[str, Any] = {"trackingId": tracking_id, "name": name, "flowSyntax": syntax,
                                "sha256": hashlib.sha256(data).hexdigest()}
        if profile:
            info["flowProfile"] = profile
        if processing_rule:
            info["processingRule"] = processing_rule
        mime = "application/pdf" if data[:5] == b"%PDF-" else "application/xml"
        res = self.call("POST", f"{self.config.flow_api}/v1/flows", ok=(202, 200, 201), files={
            "flowInfo": (None, json.dumps(info), "application/json"), "file": (name, data, mime)})
        return dict(res.json())

    def find(self, tracking_id: str) -> dict[str, Any] | None:
        """The flow this client submitted under `tracking_id`, if the platform has it."""
        for flow in self.search({"trackingId": tracking_id, "flowDirection": ["Out"]}):
            return flow
        return None

    def search(self, where: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Every flow matching `where` (`POST /v1/flows/search`), all pages by cursor."""
        cursor = None
        while True:
            body: dict[str, Any] = {"where": where, "limit": PAGE, **({"cursor": cursor} if cursor else {})}
            page = self.call("POST", f"{self.config.flow_api}/v1/flows/search", json_body=body).json()
            yield from page.get("results") or []
            cursor = page.get("nextCursor")
            if not cursor:
                return

    def flow(self, flow_id: str) -> dict[str, Any] | None:
        res = self.call("GET", f"{self.config.flow_api}/v1/flows/{flow_id}", params={"docType": "Metadata"}, missing_ok=True)
        return dict(res.json()) if res is not None else None

    def flow_file(self, flow_id: str, doc_type: str = "Original") -> bytes:
        res = self.call("GET", f"{self.config.flow_api}/v1/flows/{flow_id}", params={"docType": doc_type})
        return bytes(res.content)

    def webhooks(self) -> list[dict[str, Any]]:
        """The webhooks this client registered (`GET /v1/webhooks`)."""
        return list(self.call("GET", f"{self.config.flow_api}/v1/webhooks").json().get("webhooks") or [])

    def register_webhook(self, url: str, flow_types: list[str]) -> str:
        """`POST /v1/webhooks`: the platform calls `url` when such a flow changes; the webhook's id."""
        res = self.call("POST", f"{self.config.flow_api}/v1/webhooks", ok=(200, 201),
                        json_body={"callbackUrl": url, "flowTypes": flow_types})
        return str(res.json()["webhookId"])

    def delete_webhook(self, webhook_id: str) -> None:
        self.call("DELETE", f"{self.config.flow_api}/v1/webhooks/{webhook_id}", ok=(200, 204), missing_ok=True)

    # -- directory service -----------------------------------------------------------------------
    def directory_line(self, address: str) -> DirectoryLine | None:
        """The directory line of an electronic address (`GET /v1/directory-line/code:{id}`), None if unknown."""
        res = self.call("GET", f"{self.config.directory_api}/v1/directory-line/code:{address}",
                        params={"include": "siren"}, missing_ok=True)
        return _line(res.json()) if res is not None else None

    def lines_for_siren(self, siren: str) -> list[DirectoryLine]:
        """Every directory line of a company (`POST /v1/directory-line/search` by SIREN)."""
        res = self.call("POST", f"{self.config.directory_api}/v1/directory-line/search", missing_ok=True, json_body={
            "filters": {"siren": {"op": "strict", "value": siren}}, "include": ["siren"], "limit": 100})
        return [_line(x) for x in (res.json().get("results") or [])] if res is not None else []


def _line(d: dict[str, Any]) -> DirectoryLine:
    legal = d.get("legalUnit") or {}
    return DirectoryLine(address=str(d.get("addressingIdentifier") or ""), siren=d.get("siren"),
                         enabled=d.get("directoryLineStatus") == "Enabled", platform_type=d.get("platformType"),
                         name=legal.get("businessName"))
