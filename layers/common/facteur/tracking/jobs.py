"""Mass-action jobs beside the invoices (pipeline/actions.py): the job, then one result per
invoice, each written once.

| item            | PK             | SK                  |
|-----------------|----------------|---------------------|
| job             | JOB#{job id}   | JOB                 |
| one result      | JOB#{job id}   | R#{position:05d}    |
"""
from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from ..adapters.dynamodb import Table, translate_error


class JobStore(Table):
    def _written_once(self, item: dict[str, Any]) -> bool:
        try:
            self.client.put_item(TableName=self.table_name, Item=self._ser(item), ConditionExpression="attribute_not_exists(PK)")
            return True
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise translate_error(exc) from exc
            return False

    def create(self, job: dict[str, Any]) -> bool:
        """False when the job already exists (the same request posted again)."""
        return self._written_once({"PK": f"JOB#{job['job_id']}", "SK": "JOB", **job})

    def get(self, job_id: str) -> dict[str, Any] | None:
        res = self.client.get_item(TableName=self.table_name, ConsistentRead=True,
                                   Key=self._ser({"PK": f"JOB#{job_id}", "SK": "JOB"}))
        return {k: v for k, v in self._de(res["Item"]).items() if k not in ("PK", "SK")} if "Item" in res else None

    def progress(self, job_id: str, position: int, counts: dict[str, int], finished_at: str | None) -> None:
        update = "SET #p = :p, #c = :c, #s = :s" + (", finished_at = :f" if finished_at else "")
        values: dict[str, Any] = {":p": position, ":c": counts, ":s": "succeeded" if finished_at else "running"}
        if finished_at:
            values[":f"] = finished_at
        self.client.update_item(TableName=self.table_name, Key=self._ser({"PK": f"JOB#{job_id}", "SK": "JOB"}),
                                UpdateExpression=update, ExpressionAttributeValues=self._ser(values),
                                ExpressionAttributeNames={"#p": "position", "#c": "counts", "#s": "status"})

    def add_result(self, job_id: str, position: int, result: dict[str, Any]) -> bool:
        """False when this invoice's result was already recorded (a batch run again)."""
        return self._written_once({"PK": f"JOB#{job_id}", "SK": f"R#{position:05d}", **result})

    def results(self, job_id: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"TableName": self.table_name, "KeyConditionExpression": "PK = :pk AND begins_with(SK, :r)",
                                  "ExpressionAttributeValues": self._ser({":pk": f"JOB#{job_id}", ":r": "R#"})}
        while True:
            res = self.client.query(**kwargs)
            out += [{k: v for k, v in self._de(i).items() if k not in ("PK", "SK")} for i in res.get("Items", [])]
            if "LastEvaluatedKey" not in res:
                return out
            kwargs["ExclusiveStartKey"] = res["LastEvaluatedKey"]
