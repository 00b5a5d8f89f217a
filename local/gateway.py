"""A local API Gateway (REST, Lambda proxy) on 127.0.0.1, built from the API definition that
the SAM translator produced from template.yaml: the same paths, methods, authorizer and binary
media types. moto ignores AWS_PROXY integrations, so this WSGI app does what API Gateway does:

- matches `/{stage}/path` against the swagger paths (`{param}` and `{proxy+}`);
- runs the REQUEST Lambda authorizer for secured routes: 401 when the identity source header is
  missing, 403 on a Deny (or a policy that does not cover the method ARN), and passes the
  authorizer's context to the route in `requestContext.authorizer`;
- invokes the integration function through moto's Lambda API with a REST proxy event
  (`isBase64Encoded` for binary media types) and maps its answer back to HTTP.
"""
from __future__ import annotations

import base64
import fnmatch
import json
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

_LAMBDA_URI = re.compile(r"functions/(arn:aws:lambda:[^/]+)/invocations")


@dataclass
class Route:
    method: str  # upper case, or ANY
    path: str  # the swagger path, e.g. /invoices/{invoice_id}
    pattern: re.Pattern
    function_arn: str
    authorizer: dict | None  # {name, function_arn, header}


def _compile(path: str) -> re.Pattern:
    out = ""
    for part in re.split(r"(\{[^}]+\})", path):
        if part.startswith("{") and part.endswith("+}"):
            out += f"(?P<{part[1:-2]}>.+)"
        elif part.startswith("{"):
            out += f"(?P<{part[1:-1]}>[^/]+)"
        else:
            out += re.escape(part)
    return re.compile(f"^{out}$")


def _lambda_arn(uri: str) -> str:
    m = _LAMBDA_URI.search(uri)
    if m is None:
        raise RuntimeError(f"not a Lambda integration URI: {uri}")
    return m.group(1)


def routes_from_swagger(body: dict) -> tuple[list[Route], list[str]]:
    defs = body.get("securityDefinitions", {})
    routes = []
    for path, methods in body.get("paths", {}).items():
        for method, op in methods.items():
            integ = op.get("x-amazon-apigateway-integration") or {}
            if integ.get("type") != "aws_proxy":
                raise RuntimeError(f"{method.upper()} {path}: only Lambda proxy integrations are supported locally")
            target = _lambda_arn(integ["uri"])
            authorizer = None
            for sec in op.get("security", []):
                for name in sec:
                    if name == "NONE":
                        continue
                    spec = (defs.get(name) or {}).get("x-amazon-apigateway-authorizer")
                    if not spec or spec.get("type") != "request":
                        raise RuntimeError(f"{method.upper()} {path}: authorizer {name} is not a REQUEST Lambda authorizer")
                    header = spec["identitySource"].split("method.request.header.", 1)[-1]
                    authorizer = {"name": name, "function_arn": _lambda_arn(spec["authorizerUri"]),
                                  "header": header}
            verb = "ANY" if method == "x-amazon-apigateway-any-method" else method.upper()
            routes.append(Route(verb, path, _compile(path), target, authorizer))
    # Most specific first: literal segments before parameters.
    routes.sort(key=lambda r: (r.path.count("{"), -len(r.path)))
    return routes, body.get("x-amazon-apigateway-binary-media-types", [])


class LocalApiGateway:
    """Bound first (download links need its URL at deploy time), then `mount`ed with the API."""

    def __init__(self, *, stage: str, region: str, account: str, now_epoch_ms: Callable[[], int],
                 host: str = "127.0.0.1", port: int = 0, control: Callable | None = None):
        self.stage, self.region, self.account = stage, region, account
        self.control = control  # local-only routes under /_local/ (clock, outbox), never deployed
        self.api_id = ""
        self.routes: list[Route] = []
        self.binary_types: list[str] = []
        self.lambda_client: Any = None
        self.now_epoch_ms = now_epoch_ms
        self.server = make_server(host, port, self, threaded=True)
        self.port = self.server.server_port
        self.url = f"http://{host}:{self.port}/{stage}"
        self._thread: threading.Thread | None = None
        self.requests = 0

    def mount(self, api_id: str, body: dict, lambda_client) -> None:
        self.routes, self.binary_types = routes_from_swagger(body)
        self.api_id, self.lambda_client = api_id, lambda_client

    # -- lifecycle --
    def start(self) -> LocalApiGateway:
        self._thread = threading.Thread(target=self.server.serve_forever, name="local-api", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- WSGI --
    def __call__(self, environ, start_response):
        request = Request(environ)
        return self.handle(request)(environ, start_response)

    def handle(self, request: Request) -> Response:
        self.requests += 1
        if request.path.startswith("/_local/") and self.control:
            try:
                payload = json.loads(request.get_data() or b"null")
                status, body = self.control(request.method, request.path, dict(request.args), payload)
            except ValueError as exc:
                status, body = 400, {"message": str(exc)}
            return _json(status, body)
        prefix = f"/{self.stage}"
        if not (request.path == prefix or request.path.startswith(prefix + "/")):
            return _json(403, {"message": "Forbidden"})
        path = request.path[len(prefix):] or "/"
        matched = [(r, r.pattern.match(path)) for r in self.routes]
        matched = [(r, m) for r, m in matched if m]
        if not matched:
            return _json(403, {"message": "Missing Authentication Token"})  # what API Gateway answers
        route, m = next(((r, m) for r, m in matched if r.method in (request.method, "ANY")), (None, None))
        if route is None or m is None:
            return _json(403, {"message": "Missing Authentication Token"})
        event = self._event(request, route, path, m.groupdict())
        if route.authorizer:
            denied = self._authorize(route, event)
            if denied is not None:
                return denied
        return self._invoke(route.function_arn, event)

    def _event(self, request: Request, route: Route, path: str, params: dict) -> dict:
        body = request.get_data()
        ctype = (request.mimetype or "").lower()
        binary = any(fnmatch.fnmatch(ctype, t) for t in self.binary_types) if body else False
        headers = {k: v for k, v in request.headers}
        multi_headers: dict[str, list[str]] = {}
        for k, v in request.headers:
            multi_headers.setdefault(k, []).append(v)
        query = {k: v for k, v in request.args.items()} or None
        multi_query = {k: request.args.getlist(k) for k in request.args} or None
        now = self.now_epoch_ms()
        return {
            "resource": route.path, "path": path, "httpMethod": request.method,
            "headers": headers, "multiValueHeaders": multi_headers,
            "queryStringParameters": query, "multiValueQueryStringParameters": multi_query,
            "pathParameters": params or None, "stageVariables": None,
            "requestContext": {
                "resourcePath": route.path, "httpMethod": request.method, "path": f"/{self.stage}{path}",
                "stage": self.stage, "apiId": self.api_id, "accountId": self.account, "protocol": "HTTP/1.1",
                "requestId": str(uuid.uuid4()), "requestTimeEpoch": now, "domainName": request.host,
                "identity": {"sourceIp": request.remote_addr or "127.0.0.1", "userAgent": request.user_agent.string},
            },
            "body": (base64.b64encode(body).decode() if binary else body.decode("utf-8", "replace")) if body else None,
            "isBase64Encoded": binary,
        }

    def _method_arn(self, event: dict) -> str:
        return (f"arn:aws:execute-api:{self.region}:{self.account}:{self.api_id}/{self.stage}/"
                f"{event['httpMethod']}{event['path']}")

    def _authorize(self, route: Route, event: dict) -> Response | None:
        assert route.authorizer is not None
        header = route.authorizer["header"].lower()
        if not any(k.lower() == header and v for k, v in event["headers"].items()):
            return _json(401, {"message": "Unauthorized"})
        method_arn = self._method_arn(event)
        auth_event = {"type": "REQUEST", "methodArn": method_arn, **{k: event[k] for k in (
            "resource", "path", "httpMethod", "headers", "multiValueHeaders", "queryStringParameters",
            "multiValueQueryStringParameters", "pathParameters", "stageVariables", "requestContext")}}
        ok, payload = self._call(route.authorizer["function_arn"], auth_event)
        if not ok or not isinstance(payload, dict) or "policyDocument" not in payload:
            return _json(500, {"message": None})  # API Gateway: authorizer failure -> 500
        if not _allows(payload["policyDocument"], method_arn):
            return _json(403, {"message": "User is not authorized to access this resource with an explicit deny"})
        ctx = {k: str(v) for k, v in (payload.get("context") or {}).items()}
        event["requestContext"]["authorizer"] = {"principalId": payload.get("principalId"), **ctx}
        return None

    def _call(self, function_arn: str, event: dict) -> tuple[bool, Any]:
        res = self.lambda_client.invoke(FunctionName=function_arn, InvocationType="RequestResponse",
                                        Payload=json.dumps(event).encode())
        payload = json.loads(res["Payload"].read() or b"null")
        return "FunctionError" not in res, payload

    def _invoke(self, function_arn: str, event: dict) -> Response:
        ok, out = self._call(function_arn, event)
        if not ok or not isinstance(out, dict) or "statusCode" not in out:
            return _json(502, {"message": "Internal server error"})
        body = out.get("body") or ""
        data = base64.b64decode(body) if out.get("isBase64Encoded") else body.encode("utf-8")
        resp = Response(data, status=int(out["statusCode"]))
        for k, v in (out.get("headers") or {}).items():
            resp.headers[k] = str(v)
        for k, values in (out.get("multiValueHeaders") or {}).items():
            resp.headers.remove(k)
            for v in values:
                resp.headers.add(k, str(v))
        return resp


def _allows(policy: dict, method_arn: str) -> bool:
    """IAM evaluation for an authorizer policy: an explicit Deny wins, else an Allow is needed."""
    allowed = False
    for st in policy.get("Statement", []):
        resources = st.get("Resource", [])
        resources = [resources] if isinstance(resources, str) else resources
        actions = st.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if not any(fnmatch.fnmatchcase("execute-api:Invoke", a) for a in actions):
            continue
        if any(fnmatch.fnmatchcase(method_arn, r) for r in resources):
            if st.get("Effect") == "Deny":
                return False
            allowed = allowed or st.get("Effect") == "Allow"
    return allowed


def _json(status: int, body: dict) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")
