"""The one place that maps typed errors to HTTP responses, and the caller's tenant."""
from __future__ import annotations

import base64
import json
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from pydantic import ValidationError

from ..errors import Conflict, FacteurError, Forbidden, InvalidInput, NotFound, RejectedInput, RetryableError, TooLarge
from ..observability import logger

STATUS = {NotFound: 404, Forbidden: 403, Conflict: 409, RejectedInput: 422, InvalidInput: 422, TooLarge: 413,
          RetryableError: 503}

# API Gateway takes 10 MB, a synchronous Lambda 6 MB of request, and binary bodies arrive
# base64-encoded (4/3 larger): 4 MB of file is what always fits. Larger files: POST /uploads.
MAX_BODY_BYTES = 4 * 1024 * 1024


def _json(status: int, body: dict) -> Response:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


def make_resolver() -> APIGatewayRestResolver:
    app = APIGatewayRestResolver()

    @app.exception_handler(FacteurError)
    def _facteur_error(exc: FacteurError):
        status = next((s for cls, s in STATUS.items() if isinstance(exc, cls)), 400)
        headers = {"Retry-After": "5"} if status == 503 else None
        body = {"error": exc.code, "message": exc.message}
        return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body, headers=headers)

    @app.exception_handler(ValidationError)
    def _invalid(exc: ValidationError):
        problems = [f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()[:5]]
        return _json(422, {"error": "invalid", "message": "; ".join(problems)[:1000]})

    @app.exception_handler(ValueError)
    def _bad_request(exc: ValueError):
        return _json(400, {"error": "bad_request", "message": str(exc).splitlines()[0][:300] if str(exc) else "bad request"})

    @app.exception_handler(Exception)
    def _internal(exc: Exception):  # never a 502 with a stack trace: a 500 that says where to look
        logger.exception("unhandled error", extra={"error_type": type(exc).__name__})
        request_id = app.lambda_context.aws_request_id if getattr(app, "lambda_context", None) else ""
        return _json(500, {"error": "internal", "message": f"internal error (request {request_id})"})

    return app


def json_object(app: APIGatewayRestResolver) -> dict[str, Any]:
    """The request body as a JSON object: 400 when it is not JSON, 422 when not an object."""
    raw = app.current_event.body or ""
    if len(raw) > 256 * 1024:
        raise TooLarge("a JSON request body is at most 256 KB", code="body_too_large")
    try:
        data = json.loads(raw or "{}")
    except ValueError as exc:
        raise ValueError("the body is not valid JSON") from exc
    if not isinstance(data, dict):
        raise InvalidInput("the body must be a JSON object", code="not_an_object")
    return data


def body_bytes(app: APIGatewayRestResolver) -> bytes:
    """The request body (binary bodies arrive base64-encoded), within the documented limit."""
    ev = app.current_event
    raw = ev.body or ""
    if len(raw) > MAX_BODY_BYTES * 4 // 3 + 4:
        raise TooLarge(f"the body is over {MAX_BODY_BYTES // (1024 * 1024)} MB: upload larger files with POST /uploads",
                       code="body_too_large")
    data = base64.b64decode(raw) if ev.is_base64_encoded else raw.encode("utf-8")
    if len(data) > MAX_BODY_BYTES:
        raise TooLarge(f"the body is over {MAX_BODY_BYTES // (1024 * 1024)} MB: upload larger files with POST /uploads",
                       code="body_too_large")
    return data


def caller_supplier(app: APIGatewayRestResolver) -> str:
    """The supplier the authorizer authenticated (never taken from the request body). A
    collection agency's key is refused here: it reaches its cases only (caller_agency)."""
    ctx: Any = app.current_event.request_context.authorizer or {}
    supplier_id = ctx.get("supplier_id") if hasattr(ctx, "get") else None
    if not supplier_id:
        raise Forbidden("not authenticated", code="unauthenticated")
    if ctx.get("agency_id"):
        raise Forbidden("a collection agency's key reaches /cases only", code="agency_key")
    return supplier_id


def caller_agency(app: APIGatewayRestResolver) -> tuple[str, str]:
    """(supplier id, agency id) of a collection agency's key; any other caller is refused."""
    ctx: Any = app.current_event.request_context.authorizer or {}
    supplier_id = ctx.get("supplier_id") if hasattr(ctx, "get") else None
    agency_id = ctx.get("agency_id") if hasattr(ctx, "get") else None
    if not supplier_id or not agency_id:
        raise Forbidden("these routes are the collection agencies'", code="not_an_agency")
    return supplier_id, agency_id
