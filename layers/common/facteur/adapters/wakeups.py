"""The milestone loop's alarm clock: one EventBridge Scheduler one-time schedule per parked invoice.

The invoice's execution parks in a single `.waitForTaskToken` state; at the planned time the
schedule hands the task token back itself (Scheduler's universal target `sfn:sendTaskSuccess`),
so a wake-up is one state transition: no Wait, no Choice, no polling. An event that moves the
invoice earlier (a payment, a dispute...) hands the token back first; the loop then plans again
and the schedule is updated (same name: one schedule per invoice, whatever the number of
wake-ups), and deleted when the path ends. A fired schedule is kept (`ActionAfterCompletion:
NONE`): a deletion after completion could race with the loop updating it for its next wake-up
and remove the new one. A schedule that fires after its token was used fails harmlessly
(TaskTimedOut / InvalidToken).

If a schedule is lost all the same, the state's own timeout (statemachines/invoice.asl.yaml)
wakes the loop within 35 days: an invoice is never parked forever."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from botocore.exceptions import BotoCoreError, ClientError

from .aws_errors import classify, error_code

# Scheduler's universal target for Step Functions' SendTaskSuccess (parameters as in the SDK, PascalCase)
SEND_TASK_SUCCESS = "arn:aws:scheduler:::aws-sdk:sfn:sendTaskSuccess"


def schedule_name(invoice_id: str) -> str:
    return f"wake-{invoice_id}"  # at most 64 characters: invoice ids are 30


class WakeUps:
    """One-time schedules in the stack's schedule group, run with the role that may hand tokens back."""

    def __init__(self, client, group: str, role_arn: str):
        self.client, self.group, self.role_arn = client, group, role_arn

    def set(self, invoice_id: str, token: str, at: datetime, why: str = "planned") -> None:
        """Wake the invoice's parked loop at `at` (UTC, to the second) with `token`: created, or
        replaced when the invoice already has one."""
        if at.microsecond:  # at() counts whole seconds: rounded up, never a fraction early (the step would find nothing due)
            at = at.replace(microsecond=0) + timedelta(seconds=1)
        spec = {
            "Name": schedule_name(invoice_id), "GroupName": self.group,
            "ScheduleExpression": f"at({at.astimezone(UTC):%Y-%m-%dT%H:%M:%S})", "ScheduleExpressionTimezone": "UTC",
            "FlexibleTimeWindow": {"Mode": "OFF"}, "ActionAfterCompletion": "NONE",
            "Description": f"wake the milestone loop of {invoice_id}",
            "Target": {
                "Arn": SEND_TASK_SUCCESS, "RoleArn": self.role_arn,
                "Input": json.dumps({"TaskToken": token, "Output": json.dumps({"woken_by": why})}),
                # a throttled SendTaskSuccess is tried again for an hour; a used token fails at once
                "RetryPolicy": {"MaximumRetryAttempts": 20, "MaximumEventAgeInSeconds": 3600},
            },
        }
        try:
            try:  # after the first park the invoice's schedule exists: one call
                self.client.update_schedule(**spec)
            except ClientError as exc:
                if error_code(exc) != "ResourceNotFoundException":
                    raise
                self.client.create_schedule(**spec)
        except (ClientError, BotoCoreError) as exc:
            raise classify(exc, "Scheduler.UpdateSchedule") from exc

    def cancel(self, invoice_id: str) -> None:
        """No wake-up any more (the path ended); nothing to cancel is not an error."""
        try:
            self.client.delete_schedule(Name=schedule_name(invoice_id), GroupName=self.group)
        except ClientError as exc:
            if error_code(exc) != "ResourceNotFoundException":
                raise classify(exc, "Scheduler.DeleteSchedule") from exc
        except BotoCoreError as exc:
            raise classify(exc, "Scheduler.DeleteSchedule") from exc
