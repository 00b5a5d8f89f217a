"""Documents in S3: originals, canonical JSON and produced documents, encrypted by the bucket default (SSE)."""
from __future__ import annotations

from botocore.exceptions import ClientError

from ..errors import NotFound


class DocumentStore:
    def __init__(self, bucket: str, client):
        self.bucket = bucket
        self.client = client

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream", **meta: str) -> str:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type,
                               Metadata={k: str(v) for k, v in meta.items()})
        return key

    def get(self, key: str, bucket: str | None = None, version: str | None = None) -> bytes:
        kwargs = {"Bucket": bucket or self.bucket, "Key": key}
        if version:
            kwargs["VersionId"] = version
        try:
            return self.client.get_object(**kwargs)["Body"].read()
        except ClientError as exc:
            raise _translate(exc, key) from exc

    def copy(self, source_bucket: str, source_key: str, key: str, version: str | None = None, **meta: str) -> str:
        """Server-side copy (files too large to read are still kept)."""
        src = {"Bucket": source_bucket, "Key": source_key, **({"VersionId": version} if version else {})}
        try:
            self.client.copy_object(Bucket=self.bucket, Key=key, CopySource=src, MetadataDirective="REPLACE",
                                    Metadata={k: str(v) for k, v in meta.items()})
        except ClientError as exc:
            raise _translate(exc, source_key) from exc
        return key

    def presign(self, key: str, seconds: int, filename: str) -> str:
        return self.client.generate_presigned_url(
            "get_object", ExpiresIn=seconds,
            Params={"Bucket": self.bucket, "Key": key, "ResponseContentDisposition": f'attachment; filename="{filename}"'})


def _translate(exc: ClientError, key: str) -> Exception:
    from .aws_errors import classify

    if exc.response["Error"]["Code"] in ("NoSuchKey", "404", "NoSuchVersion"):
        return NotFound(f"document {key} not found")
    return classify(exc, "S3")
