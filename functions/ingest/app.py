"""Ingest: files dropped in the inbound bucket (S3 notifications) and POST /invoices."""
from __future__ import annotations

import hashlib
import urllib.parse

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.parser import parse

from facteur.api.http import body_bytes, caller_supplier, json_object, make_resolver
from facteur.context import get_context
from facteur.errors import InvalidInput
from facteur.model.events import S3Notification
from facteur.observability import logger, metrics, tracer
from facteur.pipeline import corrections
from facteur.pipeline.idempotency import once
from facteur.pipeline.intake import ingest, new_upload, refuse_unread

app = make_resolver()


@metrics.log_metrics
@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def s3_handler(event, context):
    """One invoice (or rejection) per object: in/{supplier_id}/{file}."""
    ctx = get_context()
    results = []
    for record in parse(event, model=S3Notification).Records:
        bucket = record.s3.bucket.name
        obj = record.s3.object
        if obj is None:
            continue  # not an object event (a test event S3 sends when notifications are set up)
        key = urllib.parse.unquote_plus(obj.key)
        if key.endswith("/"):
            continue  # a "folder" marker, not a file
        parts = key.split("/")
        supplier_id = parts[1] if len(parts) >= 3 and parts[0] == "in" else "unknown"
        version = obj.versionId
        # S3 delivers at least once: the object version (or its sequencer) names the input
        origin = f"s3:{bucket}:{key}:{version or obj.sequencer or obj.eTag or ''}"
        results.append(_ingest_object(ctx, context, bucket, key, version, supplier_id, origin, int(obj.size or 0)))
    return {"results": results}


def _ingest_object(ctx, context, bucket: str, key: str, version: str | None, supplier_id: str, origin: str,
                   size: int) -> dict:
    if size > ctx.settings.max_input_bytes:  # never download what is over the limit
        return refuse_unread(ctx, supplier_id=supplier_id, filename=key, source="s3", origin=origin, size=size,
                             keep=lambda dest: ctx.documents.copy(bucket, key, dest, version=version)).public()
    data = ctx.documents.get(key, bucket=bucket, version=version)
    answer, _ = once(ctx, scope="s3", key=origin, payload_sha256=hashlib.sha256(data).hexdigest(), lambda_context=context,
                     work=lambda: ingest(ctx, supplier_id=supplier_id, data=data, filename=key, source="s3",
                                         origin=origin).public())
    return answer


@app.post("/invoices")
def post_invoice():
    ev = app.current_event
    supplier_id = caller_supplier(app)
    data = body_bytes(app)
    headers = {k.lower(): v for k, v in (ev.headers or {}).items()}
    filename = headers.get("x-filename") or (ev.query_string_parameters or {}).get("filename") or "api-upload"
    ctx = get_context()
    key = headers.get("idempotency-key")
    if not key:
        res = ingest(ctx, supplier_id=supplier_id, data=data, filename=filename, source="api")
        return _answer(res.public(), res.replayed)
    if len(key) > 255:
        raise InvalidInput("an Idempotency-Key is at most 255 characters", code="invalid_idempotency_key")
    answer, replayed = once(ctx, scope=f"api:{supplier_id}", key=key, payload_sha256=hashlib.sha256(data).hexdigest(),
                            lambda_context=app.lambda_context,
                            work=lambda: ingest(ctx, supplier_id=supplier_id, data=data, filename=filename, source="api",
                                                idempotency_key=key).public())
    return _answer(answer, replayed or bool(answer.get("replayed")))


def _answer(body: dict, replayed: bool) -> Response:
    status = 200 if replayed else (422 if body.get("status") == "rejected" else 202)
    out = {k: v for k, v in body.items() if k != "replayed"}
    if replayed:
        out["replayed"] = True  # the first answer, given again
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=out)


@app.post("/uploads")
def post_upload():
    """Files over the API's body limit: a presigned S3 POST into the supplier's inbound prefix
    (size-limited, expiring); the file is then ingested like any S3 drop."""
    body = json_object(app)
    return new_upload(get_context(), caller_supplier(app), str(body.get("filename") or "upload"))


@app.put("/invoices/<invoice_id>/document")
def put_document(invoice_id: str):
    """Upload a corrected file for a held invoice (same invoice number); it is checked again."""
    ev = app.current_event
    data = body_bytes(app)
    headers = {k.lower(): v for k, v in (ev.headers or {}).items()}
    return corrections.correct(get_context(), caller_supplier(app), invoice_id, data,
                               headers.get("x-filename") or "corrected")


@metrics.log_metrics
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler(capture_response=False)
def api_handler(event, context):
    return app.resolve(event, context)
