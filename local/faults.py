"""Fault injection for the embedded runtime: the unhappy paths as a public control.

    POST /_local/faults {"target": "sesv2:SendEmail", "error": "TooManyRequestsException", "times": 6}
    POST /_local/faults {"target": "function:DispatchFunction", "crash": "after_side_effect", "times": 1}
    GET  /_local/faults            what is armed, and what fired
    DELETE /_local/faults          disarm everything

A fault on an AWS operation (`service:Operation`, botocore names) answers that call with the
service's own error (HTTP status and body in the service's protocol, so botocore parses it and
applies its own retries exactly as against AWS), or lets the call happen and then crashes the
calling Lambda (`"crash": "after_side_effect"`: the side effect is done, the handler never
learns it). A fault on a function (`function:<LogicalId or FunctionName>`) crashes the
invocation before its handler runs (`"crash": "before"`) or after it returned
(`"crash": "after_side_effect"`), as a Lambda runtime crash does (errorType Runtime.ExitError).
Only calls made by the handlers are affected (not the test's or the runtime's own clients).
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

# Status codes AWS uses for these errors (anything else: 400)
_STATUS = {"TooManyRequestsException": 429, "ThrottlingException": 400, "Throttling": 400,
           "ProvisionedThroughputExceededException": 400, "RequestLimitExceeded": 400,
           "InternalServerError": 500, "InternalFailure": 500, "ServiceUnavailable": 503,
           "ServiceUnavailableException": 503, "SlowDown": 503, "InternalError": 500}


class LambdaCrash(BaseException):
    """Raised inside a handler to simulate the runtime dying: not an Exception, so no handler
    code can catch it; the in-process Lambda turns it into Runtime.ExitError."""


@dataclass
class Fault:
    target: str  # service:Operation | function:Name
    error: str | None = None  # AWS error code to answer with
    message: str = "injected by the local runtime"
    crash: str | None = None  # before | after_side_effect
    times: int = 1
    skip: int = 0  # let this many matching calls through first
    fired: int = 0
    seen: int = 0

    def public(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass
class Faults:
    """The armed faults; `aliases` maps a function's logical id to its deployed name."""

    aliases: dict[str, str] = field(default_factory=dict)
    armed: list[Fault] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def arm(self, spec: dict[str, Any]) -> Fault:
        if not isinstance(spec, dict) or not isinstance(spec.get("target"), str) or ":" not in spec["target"]:
            raise ValueError("a fault needs a target 'service:Operation' or 'function:Name'")
        kind, _, name = spec["target"].partition(":")
        crash, error = spec.get("crash"), spec.get("error")
        if crash not in (None, "before", "after_side_effect"):
            raise ValueError("crash must be 'before' or 'after_side_effect'")
        if kind == "function":
            if error or not crash:
                raise ValueError("a function fault is a crash ('before' or 'after_side_effect')")
            name = self.aliases.get(name, name)
        elif not (error or crash == "after_side_effect"):
            raise ValueError("an AWS operation fault needs an 'error' code or crash 'after_side_effect'")
        times, skip = int(spec.get("times", 1)), int(spec.get("skip", 0))
        if times < 1 or skip < 0:
            raise ValueError("times must be >= 1 and skip >= 0")
        fault = Fault(target=f"{kind}:{name}", error=error, crash=crash, times=times, skip=skip,
                      message=str(spec.get("message") or Fault.message))
        with self.lock:
            self.armed.append(fault)
        return fault

    def clear(self) -> None:
        with self.lock:
            self.armed.clear()

    def take(self, target: str, phase: str | None = None) -> Fault | None:
        """The fault to apply to this call of `target` (counted), or None."""
        with self.lock:
            for f in self.armed:
                if f.target != target or (phase and f.crash != phase) or (phase is None and f.crash == "before"):
                    continue
                f.seen += 1
                if f.seen <= f.skip:
                    return None
                f.fired += 1
                if f.fired >= f.times:
                    self.armed.remove(f)
                self.history.append({"target": target, "error": f.error, "crash": f.crash})
                return f
        return None

    def load(self, path: str) -> None:
        """`facteur local up --faults FILE`: a JSON list of fault specs."""
        with open(path, encoding="utf-8") as fh:
            specs = json.load(fh)
        for spec in specs if isinstance(specs, list) else [specs]:
            self.arm(spec)

    def public(self) -> dict[str, Any]:
        with self.lock:
            return {"armed": [f.public() for f in self.armed], "fired": list(self.history)}


# --- botocore: answer an operation with the service's own error --------------------------

_CALL = threading.local()


def in_handler() -> bool:
    return bool(getattr(_CALL, "handler", False))


class handler_scope:
    def __enter__(self):
        _CALL.handler = True

    def __exit__(self, *exc):
        _CALL.handler = False


def error_response(protocol: str, code: str, message: str):
    """An HTTP response carrying `code` in the protocol's error format (what botocore parses)."""
    from botocore.awsrequest import AWSResponse

    status = _STATUS.get(code, 400)
    if protocol in ("json", "rest-json"):
        body = json.dumps({"__type": code, "message": message}).encode()
        headers = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-ErrorType": code,
                   "x-amzn-RequestId": "local-fault"}
    elif protocol == "rest-xml":  # S3
        body = f"<Error><Code>{code}</Code><Message>{message}</Message><RequestId>local-fault</RequestId></Error>".encode()
        headers = {"Content-Type": "application/xml"}
    else:  # query, ec2
        body = (f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>"
                f"<RequestId>local-fault</RequestId></ErrorResponse>").encode()
        headers = {"Content-Type": "text/xml"}

    class _Raw:
        def __init__(self, data: bytes):
            self._data = data

        def stream(self, *_a, **_k):
            yield self._data

        def read(self, *_a, **_k):
            data, self._data = self._data, b""
            return data

    return AWSResponse("http://local-fault", status, headers, _Raw(body))


def install(faults: Faults) -> None:
    """Patch botocore's endpoint so that armed faults answer the handlers' AWS calls."""
    from botocore.endpoint import Endpoint

    from .patches import replace

    original_do = getattr(Endpoint._do_get_response, "__wrapped_by_facteur__", Endpoint._do_get_response)
    original_send = getattr(Endpoint._send, "__wrapped_by_facteur__", Endpoint._send)

    def _do_get_response(self, request, operation_model, context):
        _CALL.operation = operation_model
        try:
            return original_do(self, request, operation_model, context)
        finally:
            _CALL.operation = None

    def _send(self, request):
        op = getattr(_CALL, "operation", None)
        if op is not None and op.name == "CopyObject" and "x-amz-sdk-checksum-algorithm" not in request.headers:
            # moto asks CopyObject into an Object Lock bucket for the checksum header that S3
            # requires on PutObject only; S3 computes the copy's checksums itself.
            request.headers["x-amz-sdk-checksum-algorithm"] = "CRC32"
        if op is None or not in_handler():
            return original_send(self, request)
        # botocore's service name or the endpoint prefix: "stepfunctions" or "states", "sesv2"...
        names = dict.fromkeys([op.service_model.service_name, op.service_model.endpoint_prefix])
        fault, target = None, ""
        for service in names:
            target = f"{service}:{op.name}"
            fault = faults.take(target)
            if fault is not None:
                break
        if fault is None:
            return original_send(self, request)
        if fault.error:
            return error_response(op.service_model.protocol, fault.error, fault.message)
        original_send(self, request)  # the side effect happens...
        raise LambdaCrash(f"crash after {target}")  # ...and the handler never hears of it

    replace(Endpoint, "_do_get_response", _do_get_response, original_do)
    replace(Endpoint, "_send", _send, original_send)
