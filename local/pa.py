"""A plateforme agréée (PA) on loopback, as the AFNOR XP Z12-013 Annex A contracts say
(shared/docs/afnor-xp-z12-013/): OAuth2 client credentials (`/token`), the flow service
(`POST /flow-service/v1/flows` multipart flowInfo + file, `POST /v1/flows/search` with
`updatedAfter` strictly after and cursor paging, `GET /v1/flows/{id}?docType=`, webhooks) and the
directory service (`GET /directory-service/v1/directory-line/code:{id}`, `POST .../search`).

It checks what a real one checks: the bearer token, the multipart parts, the `sha256` of the file
(`ChecksumMismatch`), the flow's syntax (an invoice it cannot read: `InvalidSchema`), a tracking id
used twice (`AlreadyExistingFlow`), the size (413), the `limit` (400). Refusals found after the
upload are the flow's acknowledgement (`Error` with details), as the contract says. It can be told
to fail first (`script`: HTTP statuses; "expire" to refuse the next token as expired;
"lose_answer" to do the next call and answer 504, as when the answer is lost on the way back)
and to reject the next invoice (`reject_next`). The buyer's side answers with lifecycle flows (CDAR) that
Facteur's sweep fetches (`respond`), and the webhooks registered for them are called at once; an
accepted invoice gets its 200 "Déposée" at once."""
from __future__ import annotations

import base64
import hashlib
import json
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from .loopback import Loopback, OAuthClients, QuietHandler

MAX_BYTES = 100 * 1024 * 1024


@dataclass
class Line:
    address: str
    siren: str
    name: str
    enabled: bool = True


@dataclass
class Flow:
    info: dict[str, Any]
    data: bytes
    number: str | None = None  # the invoice it is (an invoice flow) or is about (a lifecycle flow)

    @property
    def id(self) -> str:
        return str(self.info["flowId"])


@dataclass
class PaFake(Loopback, OAuthClients):
    client_id: str = "pa-client"
    client_secret: str = "pa-secret"
    lines: dict[str, Line] = field(default_factory=dict)
    script: list[int | str | tuple[str, int | str]] = field(default_factory=list)
    now: Any = None  # callable -> aware datetime (the runtime's virtual clock)
    flows: list[Flow] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    webhooks: dict[str, dict[str, Any]] = field(default_factory=dict)
    reject_next: str | None = None  # the next invoice flow is refused with this reason message

    def __post_init__(self) -> None:
        fake = self
        self.lock = threading.Lock()
        self.tokens: set[str] = set()

        class Handler(QuietHandler):
            def _send(self, status: int, body: Any = None, raw: bytes | None = None, ctype: str = "application/json") -> None:
                data = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
                self.send_response(status)
                self.send_header("content-type", ctype)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _error(self, status: int, code: str, message: str | None = None) -> None:
                self._send(status, {"errorCode": code, "errorMessage": message})

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("content-length", "0"))
                if length > MAX_BYTES + 1024 * 1024:
                    return self._error(413, "FILE_SIZE_EXCEEDED", "Provided file is too big")
                raw = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                with fake.lock:
                    fake.requests.append({"method": method, "path": self.path, "headers": headers,
                                          "body": raw[:4000].decode("utf-8", "replace")})
                    scripted = fake.scripted(f"{method} {urlparse(self.path).path}") if self.path != "/token" else None
                if isinstance(scripted, int):
                    return self._error(scripted, {429: "TOO_MANY_REQUESTS", 503: "RESOURCE_ERROR"}.get(scripted,
                                                                                                     "INTERNAL_ERROR"))
                if self.path == "/token":
                    return self._send(*fake.token(parse_qs(raw.decode())))
                bearer = headers.get("authorization", "").removeprefix("Bearer ")
                if scripted == "expire" or bearer not in fake.tokens:
                    return self._error(401, "INVALID_TOKEN")
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                try:
                    answer = fake.route(method, unquote(url.path), query, headers, raw)
                except _Refused as exc:
                    return self._error(exc.status, exc.code, exc.message)
                if scripted == "lose_answer":  # done, and the answer lost on the way back (a gateway timeout)
                    return self._error(504, "RESOURCE_ERROR", "upstream timeout")
                if isinstance(answer, bytes):
                    return self._send(200, raw=answer, ctype="application/octet-stream")
                status, body = answer
                return self._send(status, body)

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

            def do_DELETE(self) -> None:
                self._handle("DELETE")

        self.serve(Handler)

    @property
    def url(self) -> str:
        return self.base_url

    def scripted(self, request: str) -> int | str | None:
        """The next scripted answer for this request: a plain entry applies to any call, a
        (request, answer) pair only to that request (e.g. "POST /flow-service/v1/flows")."""
        for i, entry in enumerate(self.script):
            if not isinstance(entry, tuple):
                return self.script.pop(i)  # type: ignore[return-value]
            if request == entry[0]:
                self.script.pop(i)
                return entry[1]
        return None

    def _now(self) -> str:
        now = self.now() if self.now else datetime.now(UTC)
        return now.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    # -- the contract --------------------------------------------------------------------------
    def route(self, method: str, path: str, query: dict[str, str], headers: dict[str, str], raw: bytes):
        if method == "POST" and path == "/flow-service/v1/flows":
            return 202, self._submit(headers.get("content-type", ""), raw)
        if method == "POST" and path == "/flow-service/v1/flows/search":
            return 200, self._search(_json(raw))
        if method == "GET" and path.startswith("/flow-service/v1/flows/"):
            return self._get(path.rsplit("/", 1)[1], query.get("docType", "Metadata"))
        if path.startswith("/flow-service/v1/webhooks"):
            return self._webhooks(method, path, raw)
        if method == "GET" and path.startswith("/directory-service/v1/directory-line/code:"):
            line = self.lines.get(path.split("code:", 1)[1])
            if line is None:
                raise _Refused(404, "MISSING_RESOURCE", "Requested resource is Not Found")
            return 200, _line(line)
        if method == "POST" and path == "/directory-service/v1/directory-line/search":
            filters = _json(raw).get("filters") or {}
            siren = ((filters.get("siren") or {}).get("value") or "")
            found = [_line(x) for x in self.lines.values() if x.siren == siren]
            if not found:
                raise _Refused(404, "MISSING_RESOURCE", "No directory line")
            return 200, {"totalNumberOfResults": len(found), "results": found}
        raise _Refused(404, "MISSING_RESOURCE", f"no route {method} {path}")

    def _submit(self, ctype: str, raw: bytes) -> dict[str, Any]:
        parts = _multipart(ctype, raw)
        if "flowInfo" not in parts or "file" not in parts:
            raise _Refused(400, "MISSING_REQUIRED_FIELD", "flowInfo and file are required")
        info = _json(parts["flowInfo"])
        if not isinstance(info, dict) or not info.get("name") or info.get("flowSyntax") not in ("CII", "UBL", "Factur-X",
                                                                                                 "CDAR", "FRR"):
            raise _Refused(400, "MISSING_REQUIRED_FIELD", "flowInfo needs name and a flowSyntax")
        data = parts["file"]
        if len(data) > MAX_BYTES:
            raise _Refused(413, "FILE_SIZE_EXCEEDED", "Provided file is too big")
        details: list[dict[str, Any]] = []
        if info.get("sha256") and info["sha256"] != hashlib.sha256(data).hexdigest():
            details.append({"level": "Error", "item": "sha256", "reasonCode": "ChecksumMismatch",
                            "reasonMessage": "Checksum provided is different from computed one"})
        with self.lock:
            if info.get("trackingId") and any(f.info.get("trackingId") == info["trackingId"] and f.info["flowDirection"] == "Out"
                                              for f in self.flows):
                details.append({"level": "Error", "item": "trackingId", "reasonCode": "AlreadyExistingFlow",
                                "reasonMessage": "The flow has already been sent and received"})
        number, lc = None, info["flowSyntax"] == "CDAR"
        try:
            if lc:
                from facteur.formats import cdar

                number = cdar.read(data).statuses[0].invoice_number
            else:
                from facteur.formats.reader import read_document

                number = read_document(data).invoice.number
        except Exception as exc:  # noqa: BLE001 - what the platform answers for a file it cannot read
            details.append({"level": "Error", "item": "file", "reasonCode": "InvalidSchema", "reasonMessage": str(exc)[:200]})
        if not lc and not details and self.reject_next:
            details.append({"level": "Error", "item": "file", "reasonCode": "OtherTechnicalError",
                            "reasonMessage": self.reject_next})
            self.reject_next = None
        now = self._now()
        flow = Flow({"flowId": f"FLOW-{uuid.uuid4().hex[:20]}", "submittedAt": now, "updatedAt": now,
                     "trackingId": info.get("trackingId"), "name": info["name"], "flowSyntax": info["flowSyntax"],
                     "flowProfile": info.get("flowProfile", "Undefined"), "processingRule": info.get("processingRule", "B2B"),
                     "processingRuleSource": "Input" if info.get("processingRule") else "Computed",
                     "flowType": "CustomerInvoiceLC" if lc else "CustomerInvoice", "flowDirection": "Out",
                     "sha256": hashlib.sha256(data).hexdigest(),
                     "acknowledgement": {"status": "Error", "details": details} if details else {"status": "Ok"}},
                    data, number)
        with self.lock:
            self.flows.append(flow)
        if not lc and not details and number:
            self.respond(number, 200)  # the sending platform took it: Déposée
        return {k: flow.info[k] for k in ("flowId", "submittedAt", "trackingId", "name", "flowSyntax", "flowProfile",
                                          "processingRule", "sha256")}

    def _search(self, body: dict[str, Any]) -> dict[str, Any]:
        where, limit = body.get("where") or {}, int(body.get("limit") or 25)
        if not where or limit > 100 or limit < 1:
            raise _Refused(400, "MISSING_REQUIRED_FIELD", "where needs at least one criterion; limit is 1 to 100")
        with self.lock:
            found = [f.info for f in self.flows if _matches(f.info, where)]
        found.sort(key=lambda i: i["updatedAt"])  # stable: flows updated at the same time stay in the order they came
        start = int(json.loads(base64.b64decode(body["cursor"]))["offset"]) if body.get("cursor") else 0
        chunk = found[start:start + limit]
        out: dict[str, Any] = {"limit": limit, "filters": where, "results": chunk}
        if start + limit < len(found):
            out["nextCursor"] = base64.b64encode(json.dumps({"offset": start + limit}).encode()).decode()
        return out

    def _get(self, flow_id: str, doc_type: str):
        with self.lock:
            flow = next((f for f in self.flows if f.id == flow_id), None)
        if flow is None:
            raise _Refused(404, "MISSING_RESOURCE", "Requested resource is Not Found")
        if doc_type == "Metadata":
            return 200, flow.info
        if doc_type in ("Original", "Converted"):
            return flow.data
        raise _Refused(400, "MISSING_REQUIRED_FIELD", f"docType {doc_type} not available")

    def _webhooks(self, method: str, path: str, raw: bytes):
        if method == "POST":
            body = _json(raw)
            if not body.get("callbackUrl"):
                raise _Refused(400, "MISSING_REQUIRED_FIELD", "callbackUrl is required")
            uid = str(uuid.uuid4())
            hook = {"webhookId": uid, "signingKey": base64.b64encode(uuid.uuid4().bytes).decode(),
                    "createdAt": self._now(), **body}
            self.webhooks[uid] = hook
            return 201, {k: hook[k] for k in ("webhookId", "signingKey", "createdAt")}
        if method == "GET":
            return 200, {"count": len(self.webhooks), "webhooks": list(self.webhooks.values())}
        uid = path.rsplit("/", 1)[1]
        if self.webhooks.pop(uid, None) is None:
            raise _Refused(404, "MISSING_RESOURCE", "no such webhook")
        return 204, None

    # -- the buyer's side (and the platform's own statuses) ---------------------------------------
    def respond(self, number: str, code: int, *, reason_code: str | None = None, reason: str | None = None,
                amount: Decimal | None = None, notify: bool = True) -> Flow:
        """A lifecycle flow (CDAR) about invoice `number`, coming in for the supplier: a platform
        status (200-203, 213) or the buyer's (204-211), written as the French rules say."""
        from facteur.formats import cdar
        from facteur.formats.reader import read_document

        with self.lock:
            invoice = next(f for f in reversed(self.flows) if f.number == number and f.info["flowType"] == "CustomerInvoice")
        inv = read_document(invoice.data).invoice
        at = self.now() if self.now else datetime.now(UTC)
        msg = cdar.message_for(inv, code, reason_code=reason_code, reason=reason, amount=amount, at=at,
                               message_id=f"PA-{number}-{code}-{len(self.flows)}")
        data = cdar.write(msg)
        now = self._now()
        flow = Flow({"flowId": f"FLOW-{uuid.uuid4().hex[:20]}", "submittedAt": now, "updatedAt": now,
                     "name": f"{number}-{code}.xml", "flowSyntax": "CDAR", "flowProfile": "Undefined",
                     "processingRule": "B2B", "processingRuleSource": "Computed", "flowType": "CustomerInvoiceLC",
                     "flowDirection": "In", "acknowledgement": {"status": "Ok"}}, data, number)
        with self.lock:
            self.flows.append(flow)
        if notify:
            self.notify(flow)
        return flow

    def notify(self, flow: Flow) -> None:
        """Call the webhooks registered for this kind of flow (the platform's doorbell), with the flow's info."""
        import requests

        for hook in list(self.webhooks.values()):
            if hook.get("flowTypes") and flow.info["flowType"] not in hook["flowTypes"]:
                continue
            try:
                requests.post(hook["callbackUrl"], json={k: v for k, v in flow.info.items() if k != "sha256"}, timeout=60)
            except requests.RequestException:
                pass  # the subscriber is down: its scheduled sweep still finds the flow

    def received_statuses(self) -> list[tuple[str, int]]:
        """The statuses the supplier sent (CDAR flows out): (invoice number, code)."""
        from facteur.formats import cdar

        with self.lock:
            mine = [f for f in self.flows if f.info["flowType"] == "CustomerInvoiceLC" and f.info["flowDirection"] == "Out"
                    and f.info["acknowledgement"]["status"] == "Ok"]
        return [(st.invoice_number, st.code) for f in mine for st in cdar.read(f.data).statuses]


class _Refused(Exception):
    def __init__(self, status: int, code: str, message: str | None = None):
        super().__init__(message or code)
        self.status, self.code, self.message = status, code, message


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw or b"{}")
    except ValueError as exc:
        raise _Refused(400, "MISSING_REQUIRED_FIELD", "Invalid request format") from exc


def _multipart(ctype: str, raw: bytes) -> dict[str, bytes]:
    if not ctype.startswith("multipart/form-data"):
        raise _Refused(400, "MISSING_REQUIRED_FIELD", "multipart/form-data expected")
    msg = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + raw)
    out: dict[str, bytes] = {}
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if name:
            out[str(name)] = payload if isinstance(payload, bytes) else b""
    return out


def _matches(info: dict[str, Any], where: dict[str, Any]) -> bool:
    if where.get("updatedAfter") and not info["updatedAt"] > _utc(where["updatedAfter"]):
        return False
    if where.get("updatedBefore") and not info["updatedAt"] < _utc(where["updatedBefore"]):
        return False
    for key, field_ in (("flowType", "flowType"), ("flowDirection", "flowDirection"), ("processingRule", "processingRule")):
        if where.get(key) and info.get(field_) not in where[key]:
            return False
    if where.get("trackingId") and info.get("trackingId") != where["trackingId"]:
        return False
    return not (where.get("ackStatus") and info["acknowledgement"]["status"] != where["ackStatus"])


def _utc(value: str) -> str:
    """A date-time as the fake stores them (UTC, milliseconds, Z), for string comparison."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC).isoformat(timespec="milliseconds") \
        .replace("+00:00", "Z")


def _line(x: Line) -> dict[str, Any]:
    return {"addressingIdentifier": x.address, "siren": x.siren, "platformType": "WK",
            "directoryLineStatus": "Enabled" if x.enabled else "Disabled",
            "legalUnit": {"siren": x.siren, "businessName": x.name}}
