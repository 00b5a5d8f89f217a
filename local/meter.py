"""What the deployed stack would be billed for, measured by the local runtime itself.

Every AWS call a handler makes goes through botocore: the meter counts them (DynamoDB read and
write request units from the items' sizes and the table's indexes, S3 requests by tier, SES
messages), every Lambda invocation (its memory and duration: GB-s), and each execution's state
transitions (from its history). Each is attributed to the invoice it worked on (the state
machine's payloads and the API's path carry its id) or, when none, to the function (intake,
schedules). `priced` turns the counts into dollars with the list prices of `PRICES`.

The units follow the DynamoDB pricing rules: a write is one unit per started KB, doubled in a
transaction, plus one write per index whose keys the item carries (every index of the invoices
table projects all attributes); a read is one unit per started 4 KB, half when eventually
consistent, doubled in a transaction; a query is charged on the total size of what it returns."""
from __future__ import annotations

import json
import math
import threading
from collections import defaultdict
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PRICES_FILE = Path(__file__).resolve().parents[1] / "bench" / "prices-eu-west-3.json"
CURRENT: ContextVar[str | None] = ContextVar("facteur_meter_subject", default=None)


@dataclass
class Usage:
    transitions: int = 0
    invocations: int = 0
    gb_seconds: float = 0.0
    write_units: float = 0.0
    read_units: float = 0.0
    index_write_units: float = 0.0
    s3_tier1: int = 0  # PUT, COPY, POST, LIST
    s3_tier2: int = 0  # GET, HEAD
    ses_messages: int = 0
    scheduler_invocations: int = 0  # EventBridge Scheduler one-time schedules that fired
    calls: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, other: Usage) -> None:
        for name in ("transitions", "invocations", "gb_seconds", "write_units", "read_units", "index_write_units",
                     "s3_tier1", "s3_tier2", "ses_messages", "scheduler_invocations"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for k, v in other.calls.items():
            self.calls[k] += v

    def scaled(self, factor: float) -> Usage:
        """This usage times `factor` (a share of work done for several invoices)."""
        out = Usage()
        out.add(self)
        for name in ("transitions", "invocations", "gb_seconds", "write_units", "read_units", "index_write_units",
                     "s3_tier1", "s3_tier2", "ses_messages", "scheduler_invocations"):
            setattr(out, name, getattr(out, name) * factor)
        return out

    def dollars(self, prices: dict[str, float]) -> dict[str, float]:
        parts = {
            "step_functions": self.transitions * prices["sfn_transition"],
            "scheduler": self.scheduler_invocations * prices["scheduler_invocation"],
            "lambda": self.invocations * prices["lambda_request"] + self.gb_seconds * prices["lambda_gb_second"],
            "dynamodb": (self.write_units + self.index_write_units) * prices["ddb_write_unit"]
            + self.read_units * prices["ddb_read_unit"],
            "s3": self.s3_tier1 * prices["s3_tier1"] + self.s3_tier2 * prices["s3_tier2"],
            "ses": self.ses_messages * prices["ses_message"],
        }
        parts["total"] = sum(parts.values())
        return parts

    def public(self, prices: dict[str, float], per: int = 1) -> dict[str, Any]:
        d = self.dollars(prices)
        return {"transitions": round(self.transitions / per, 2), "lambda_invocations": round(self.invocations / per, 2),
                "lambda_gb_s": round(self.gb_seconds / per, 3), "ddb_write_units": round(self.write_units / per, 1),
                "ddb_index_write_units": round(self.index_write_units / per, 1),
                "ddb_read_units": round(self.read_units / per, 1), "s3_requests": round((self.s3_tier1 + self.s3_tier2) / per, 1),
                "ses_messages": round(self.ses_messages / per, 2),
                "scheduler_invocations": round(self.scheduler_invocations / per, 2),
                "usd_per_1000": {k: round(v / per * 1000, 4) for k, v in d.items()}}


def load_prices() -> dict[str, float]:
    return {k: float(v) for k, v in json.loads(PRICES_FILE.read_text())["prices"].items()}


def _size(value: dict[str, Any]) -> int:
    """An attribute value's size as DynamoDB counts it (close enough for billing units)."""
    (kind, v), = value.items()
    if kind == "S":
        return len(v.encode())
    if kind == "N":
        return len(str(v)) // 2 + 1
    if kind == "B":
        return len(v)
    if kind in ("SS", "NS", "BS"):
        return sum(len(str(x)) for x in v)
    if kind == "M":
        return 3 + sum(len(k.encode()) + _size(x) + 1 for k, x in v.items())
    if kind == "L":
        return 3 + sum(_size(x) + 1 for x in v)
    return 1  # BOOL, NULL


def item_size(item: dict[str, Any]) -> int:
    return sum(len(k.encode()) + _size(v) for k, v in item.items())


class Meter:
    def __init__(self) -> None:
        self.usage: dict[str, Usage] = defaultdict(Usage)
        self.durations: dict[str, list[float]] = defaultdict(list)  # function -> each invocation's seconds, in order
        # table -> its key attributes, and per GSI: (key attributes, projected attributes or None for ALL)
        self.keys: dict[str, tuple[str, ...]] = {}
        self.indexes: dict[str, list[tuple[tuple[str, ...], frozenset[str] | None]]] = {}
        self.items: dict[tuple[str, str], dict[str, Any]] = {}  # the last version of each item written (for indexes)
        self._lock = threading.Lock()

    # -- attribution -----------------------------------------------------------------------------
    @staticmethod
    def subject_of(function: str, payload: Any) -> str:
        if isinstance(payload, dict):
            if isinstance(payload.get("invoice_id"), str):
                return payload["invoice_id"]
            params = payload.get("pathParameters") or {}
            if isinstance(params.get("invoice_id"), str):
                return params["invoice_id"]
            if isinstance(payload.get("job_id"), str):
                return f"job:{payload['job_id']}"
        return f"fn:{function}"

    def invocation(self, subject: str, memory_mb: int, seconds: float, function: str = "") -> None:
        with self._lock:
            if function:
                self.durations[function].append(seconds)
            u = self.usage[subject]
            u.invocations += 1
            u.gb_seconds += memory_mb / 1024 * max(0.001, math.ceil(seconds * 1000) / 1000)

    def scheduled(self, subject: str) -> None:
        with self._lock:
            self.usage[subject].scheduler_invocations += 1

    def transitions(self, subject: str, n: int) -> None:
        with self._lock:
            self.usage[subject].transitions += n

    # -- AWS calls -------------------------------------------------------------------------------
    def call(self, service: str, operation: str, params: dict[str, Any], response: dict[str, Any]) -> None:
        subject = CURRENT.get()
        if subject is None:  # not from a handler: the harness, the demo's own reads
            return
        with self._lock:
            u = self.usage[subject]
            u.calls[f"{service}.{operation}"] += 1
            if service == "dynamodb":
                self._dynamodb(u, operation, params, response)
            elif service == "s3":
                if operation in ("GetObject", "HeadObject"):
                    u.s3_tier2 += 1
                else:
                    u.s3_tier1 += 1
            elif service in ("sesv2", "ses") and operation in ("SendEmail", "SendRawEmail"):
                u.ses_messages += 1

    def _key(self, table: str, item: dict[str, Any]) -> tuple[str, str]:
        return table, json.dumps({k: item.get(k) for k in self.keys.get(table, ())}, sort_keys=True)

    def _gsi_writes(self, table: str, old: dict[str, Any] | None, new: dict[str, Any] | None) -> float:
        """What the table's indexes are billed for replacing `old` by `new`: nothing when an index
        sees no change of its keys or projected attributes; a delete and a put when its keys change."""
        units = 0.0
        base = set(self.keys.get(table, ()))
        def view(item: dict[str, Any] | None, keys: tuple[str, ...], projected: frozenset[str] | None):
            if not item or not all(k in item for k in keys):
                return None
            if projected is None:
                return item
            return {k: v for k, v in item.items() if k in projected or k in keys or k in base}

        for keys, projected in self.indexes.get(table, []):
            before, after = view(old, keys, projected), view(new, keys, projected)
            if before == after:
                continue
            size = lambda v: math.ceil(max(1, item_size(v)) / 1024)
            if before is None or after is None:  # an entry appears or goes
                units += size(after or before)
            elif any(before.get(k) != after.get(k) for k in keys):  # its keys move: a delete and a put
                units += size(before) + size(after)
            else:  # updated in place
                units += size(after)
        return units

    def _dynamodb(self, u: Usage, op: str, params: dict[str, Any], response: dict[str, Any]) -> None:
        def write(table: str, item: dict[str, Any] | None, factor: float) -> None:
            u.write_units += math.ceil(max(1, item_size(item or {})) / 1024) * factor
            if item and table in self.indexes:
                key = self._key(table, item)
                u.index_write_units += self._gsi_writes(table, self.items.get(key), item)
                self.items[key] = item

        def read(size: int, consistent: bool, factor: float = 1.0) -> None:
            u.read_units += math.ceil(max(1, size) / 4096) * (1.0 if consistent else 0.5) * factor

        if op == "PutItem":
            write(params["TableName"], params.get("Item"), 1)
        elif op in ("UpdateItem", "DeleteItem"):  # billed on the item's size (the larger of before and after)
            table = params["TableName"]
            key = self._key(table, params.get("Key", {}))
            before = self.items.get(key) or response.get("Attributes")
            after = response.get("Attributes") if op == "UpdateItem" and params.get("ReturnValues") == "ALL_NEW" else None
            u.write_units += math.ceil(max(1, item_size(before or {}), item_size(after or {})) / 1024)
            if op == "DeleteItem" and table in self.indexes:
                u.index_write_units += self._gsi_writes(table, before, None)
                self.items.pop(key, None)
        elif op == "TransactWriteItems":
            for t in params.get("TransactItems", []):
                (kind, body), = t.items()
                write(body["TableName"], body.get("Item"), 2)
        elif op == "BatchWriteItem":
            for table, reqs in params.get("RequestItems", {}).items():
                for r in reqs:
                    write(table, (r.get("PutRequest") or {}).get("Item"), 1)
        elif op == "GetItem":
            read(item_size(response.get("Item") or {}), bool(params.get("ConsistentRead")))
        elif op in ("Query", "Scan"):
            read(sum(item_size(i) for i in response.get("Items", [])), bool(params.get("ConsistentRead")))
        elif op == "TransactGetItems":
            for r in response.get("Responses", []):
                read(item_size(r.get("Item") or {}), True, 2)
        elif op == "BatchGetItem":
            for items in response.get("Responses", {}).values():
                for i in items:
                    read(item_size(i), False)

    # -- results ---------------------------------------------------------------------------------
    def total(self, subjects: list[str] | None = None) -> Usage:
        out = Usage()
        for s, u in list(self.usage.items()):
            if subjects is None or s in subjects:
                out.add(u)
        return out


METER = Meter()


def install(endpoint_client_factory) -> None:
    """Count every AWS call made from a handler (botocore's one entry point for API calls)."""
    import botocore.client

    from .patches import replace

    original = botocore.client.BaseClient._make_api_call
    if not getattr(original, "_facteur_meter", False):  # patched once per process; the tables below per runtime
        def _make_api_call(self, operation_name, api_params):
            response = original(self, operation_name, api_params)
            try:
                METER.call(self.meta.service_model.service_name, operation_name, api_params, response)
            except Exception:  # noqa: BLE001 - metering never breaks a call
                pass
            return response

        _make_api_call._facteur_meter = True  # type: ignore[attr-defined]
        replace(botocore.client.BaseClient, "_make_api_call", _make_api_call, original)
    ddb = endpoint_client_factory("dynamodb")
    for table in ddb.list_tables()["TableNames"]:
        desc = ddb.describe_table(TableName=table)["Table"]
        METER.keys[table] = tuple(k["AttributeName"] for k in desc["KeySchema"])
        METER.indexes[table] = [
            (tuple(k["AttributeName"] for k in gsi["KeySchema"]),
             None if gsi["Projection"]["ProjectionType"] == "ALL" else frozenset(gsi["Projection"].get("NonKeyAttributes", [])))
            for gsi in desc.get("GlobalSecondaryIndexes", [])]


def count_transitions(sfn, executions: list[dict[str, Any]]) -> None:
    """Each execution's state transitions (entered states, retries included), to its invoice or job."""
    for ex in executions:
        kinds: dict[str, int] = defaultdict(int)
        kwargs = {"executionArn": ex["executionArn"], "maxResults": 1000}
        while True:
            res = sfn.get_execution_history(**kwargs)
            for e in res["events"]:
                kinds[e["type"]] += 1
            if not res.get("nextToken"):
                break
            kwargs["nextToken"] = res["nextToken"]
        entered = sum(v for k, v in kinds.items() if k.endswith("StateEntered"))
        # a retried task is charged again: each scheduling beyond the task state's entry is a transition
        retries = max(0, kinds["TaskScheduled"] + kinds["LambdaFunctionScheduled"] - kinds["TaskStateEntered"])
        events = entered + retries
        name = ex["name"]
        subject = f"job:{name}" if name.startswith("job_") else name.split("-", 1)[0] if name.startswith("inv_") else name
        METER.transitions(subject, events)
