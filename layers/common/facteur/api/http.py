"""The one place that maps typed errors to HTTP responses, and the caller's tenant."""
from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types

from ..errors import Conflict, FacteurError, Forbidden, NotFound, RejectedInput, RetryableError

STATUS = {NotFound: 404, Forbidden: 403, Conflict: 409, RejectedInput: 422, RetryableError: 503}


def make_resolver() -> APIGatewayRestResolver:
    app = APIGatewayRestResolver()

    @app.exception_handler(FacteurError)
    def _facteur_error(exc: FacteurError):
        status = next((s for cls, s in STATUS.items() if isinstance(exc, cls)), 400)
        return Response(status_code=status, content_type=content_types.APPLICATION_JSON,
                        body={"error": exc.code, "message": exc.message})

    @app.exception_handler(ValueError)
    def _bad_request(exc: ValueError):
        return Response(status_code=400, content_type=content_types.APPLICATION_JSON,
                        body={"error": "bad_request", "message": str(exc)[:500]})

    return app


def caller_supplier(app: APIGatewayRestResolver) -> str:
    """The supplier the authorizer authenticated (never taken from the request body)."""
    ctx: Any = app.current_event.request_context.authorizer or {}
    supplier_id = ctx.get("supplier_id") if hasattr(ctx, "get") else None
    if not supplier_id:
        raise Forbidden("not authenticated", code="unauthenticated")
    return supplier_id
