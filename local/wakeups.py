"""EventBridge Scheduler's one-time schedules (`at(...)`) on the virtual clock.

moto keeps the schedules that the handlers create, update and delete (the same API calls as on
AWS) but never runs them. The local runtime asks `due()` for the next time one fires and `fire()`
runs those whose time has come, as Scheduler does: the universal target `sfn:sendTaskSuccess`
hands the task token back (the milestone loop's wake-up, layers/common/facteur/adapters/wakeups.py);
an error of the target (a token already used) is what Scheduler records and drops. A schedule
with `ActionAfterCompletion: DELETE` is then deleted; another one (Facteur's: NONE) never fires
twice for the same time and input (an update gives it new ones).

Read from moto's backend in this process (every schedule of every group, without one API call
per schedule at each step of the clock)."""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

log = logging.getLogger("facteur.local.scheduler")

SEND_TASK_SUCCESS = "arn:aws:scheduler:::aws-sdk:sfn:sendTaskSuccess"


def _at(expression: str) -> datetime | None:
    if not (expression.startswith("at(") and expression.endswith(")")):
        return None  # rate()/cron() schedules of Scheduler are not used by Facteur
    return datetime.fromisoformat(expression[3:-1]).replace(tzinfo=UTC)


@dataclass
class OneTimeSchedules:
    account: str
    region: str
    fired: list[dict[str, Any]] = field(default_factory=list)  # what ran: name, at, target, outcome
    _done: set[tuple[str, str, str, str]] = field(default_factory=set)  # fired (never twice)

    def _backend(self):
        from moto.scheduler.models import scheduler_backends

        return scheduler_backends[self.account][self.region]

    @staticmethod
    def _key(group: str, s: Any) -> tuple[str, str, str, str]:
        return group, s.name, s.schedule_expression, str(s.target.get("Input"))

    def pending(self) -> list[tuple[datetime, str, Any]]:
        out = []
        for group_name, group in list(self._backend().schedule_groups.items()):
            for s in list(group.schedules.values()):
                at = _at(s.schedule_expression)
                if at is not None and s.state != "DISABLED" and self._key(group_name, s) not in self._done:
                    out.append((at, group_name, s))
        return sorted(out, key=lambda x: x[0])

    def next_at(self) -> datetime | None:
        pending = self.pending()
        return pending[0][0] if pending else None

    def fire(self, now: datetime, client) -> int:
        """Run every schedule due at `now`; `client(service)` gives the runtime's clients."""
        from .meter import METER

        n = 0
        for at, group, s in self.pending():
            if at > now:
                break
            self._done.add(self._key(group, s))
            target = s.target
            outcome = "ok"
            if target["Arn"] == SEND_TASK_SUCCESS:
                args = json.loads(target.get("Input") or "{}")
                try:
                    client("stepfunctions").send_task_success(taskToken=args["TaskToken"], output=args.get("Output", "{}"))
                except ClientError as exc:  # a token already handed back: Scheduler records the error, drops it
                    outcome = exc.response["Error"]["Code"]
            else:
                outcome = "unsupported target"
                log.warning("one-time schedule %s: target %s is not run locally", s.name, target["Arn"])
            METER.scheduled(s.name.removeprefix("wake-"))
            self.fired.append({"name": s.name, "group": group, "at": at.isoformat(), "outcome": outcome})
            if s.action_after_completion == "DELETE":
                try:
                    client("scheduler").delete_schedule(Name=s.name, GroupName=group)
                except ClientError:
                    pass  # replaced or deleted meanwhile
            n += 1
        return n
