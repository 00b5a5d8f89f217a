"""API Gateway REQUEST authorizer: `Authorization: Bearer <api key>` → the supplier (tenant).
Keys are looked up by SHA-256 hash; the supplier id travels to the routes in the context."""
from __future__ import annotations

from facteur.context import get_context
from facteur.observability import logger


def _policy(principal: str, effect: str, method_arn: str, context: dict | None = None) -> dict:
    # Allow the whole stage: API Gateway caches the policy per token across routes.
    arn = method_arn.split("/")
    resource = "/".join(arn[:2]) + "/*" if len(arn) >= 2 else method_arn
    out = {"principalId": principal, "policyDocument": {"Version": "2012-10-17", "Statement": [
        {"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}]}}
    if context:
        out["context"] = context
    return out


def handler(event, context):
    # Only the identity source (template.yaml: Identity.Headers = Authorization) may decide:
    # API Gateway caches the answer by that header alone, so any other header would let one
    # caller's decision serve another for the cache's lifetime.
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    auth = headers.get("authorization") or ""
    scheme, _, key = auth.strip().partition(" ")
    key = key.strip() if scheme.lower() == "bearer" and len(key.strip()) <= 256 else ""
    principal = get_context().directory.principal_for_key(key) if key else None
    if not principal:
        logger.info("API key refused")
        return _policy("anonymous", "Deny", event.get("methodArn", "*"))
    supplier_id, agency_id = principal
    if agency_id:  # a collection agency of the supplier: the routes check it reaches /cases only
        return _policy(f"agency:{supplier_id}:{agency_id}", "Allow", event.get("methodArn", "*"),
                       {"supplier_id": supplier_id, "agency_id": agency_id})
    return _policy(supplier_id, "Allow", event.get("methodArn", "*"), {"supplier_id": supplier_id})
