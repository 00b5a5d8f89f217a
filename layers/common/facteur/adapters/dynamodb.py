"""DynamoDB through the low-level client: one base for the tables' adapters (lazy, injectable
client; the boto3 type (de)serialisers; floats never reach DynamoDB, whole numbers come back
as int) and the translation of its errors into Facteur's typed errors."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError


class Table:
    def __init__(self, table_name: str, client=None):
        self.table_name = table_name
        self._client = client

    @property
    def client(self):
        if self._client is None:
            import boto3

            self._client = boto3.client("dynamodb")
        return self._client

    @staticmethod
    def _ser(item: dict[str, Any]) -> dict[str, Any]:
        from boto3.dynamodb.types import TypeSerializer

        s = TypeSerializer()
        return {k: s.serialize(_ddb_safe(v)) for k, v in item.items() if v is not None}

    @staticmethod
    def _de(item: dict[str, Any]) -> dict[str, Any]:
        from boto3.dynamodb.types import TypeDeserializer

        d = TypeDeserializer()
        return {k: _plain(d.deserialize(v)) for k, v in item.items()}


def _ddb_safe(v: Any) -> Any:
    if isinstance(v, float):
        return Decimal(str(v))
    if isinstance(v, dict):
        return {k: _ddb_safe(x) for k, x in v.items() if x is not None}
    if isinstance(v, list):
        return [_ddb_safe(x) for x in v]
    return v


def _plain(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_plain(x) for x in v]
    if isinstance(v, Decimal) and v == v.to_integral_value() and "E" not in str(v) and "." not in str(v):
        return int(v)
    return v


def translate_error(exc: ClientError) -> Exception:
    """DynamoDB errors as Facteur's typed errors (see adapters/aws_errors.py)."""
    from .aws_errors import classify

    return classify(exc, "DynamoDB")
