"""Documents in S3: originals, canonical JSON and produced documents, encrypted by the bucket default (SSE)."""
from __future__ import annotations

from botocore.exceptions import ClientError

from ..errors import NotFound, RetryableError


class DocumentStore:
    def __init__(self, bucket: str, client):
        self.bucket = bucket
        self.client = client

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream", **meta: str) -> str:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type,
                               Metadata={k: str(v) for k, v in meta.items()})
        return key

    def get(self, key: str, bucket: str | None = None) -> bytes:
        try:
            return self.client.get_object(Bucket=bucket or self.bucket, Key=key)["Body"].read()
        except ClientError as exc:
            code = exc.response["Error"]["Code"]
            if code in ("NoSuchKey", "404"):
                raise NotFound(f"document {key} not found") from exc
            if code in ("SlowDown", "InternalError", "ServiceUnavailable"):
                raise RetryableError(f"S3 {code}") from exc
            raise

    def presign(self, key: str, seconds: int, filename: str) -> str:
        return self.client.generate_presigned_url(
            "get_object", ExpiresIn=seconds,
            Params={"Bucket": self.bucket, "Key": key, "ResponseContentDisposition": f'attachment; filename="{filename}"'})
