"""The milestone loop's one state against in-memory fakes: it ends the path by handing its own
token back as an error the state machine routes (Invoice.Paid...), or parks: the token kept apart
from the invoice for the event that moves it (handed back once), and a one-time schedule at the
next planned time (replaced at each park, deleted at the end). Then the Scheduler adapter on moto."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from facteur import clock
from facteur.context import Context
from facteur.errors import RetryableError
from facteur.model.lifecycle import EventKind, Status
from facteur.model.records import Event, InvoiceRecord
from facteur.pipeline import steps
from facteur.pipeline.tracker import wake
from facteur.settings import Settings
from tests.fakes import FakeDirectory, FakeDocuments, FakeInvoices

NOW = datetime(2026, 12, 10, 9, 0, tzinfo=UTC)


class FakeStepFunctions:
    def __init__(self, fail: str | None = None):
        self.woken: list[tuple[str, dict]] = []
        self.failed: list[tuple[str, str]] = []
        self.fail = fail

    def send_task_success(self, taskToken: str, output: str) -> dict:
        if self.fail:
            raise ClientError({"Error": {"Code": self.fail, "Message": "x"}}, "SendTaskSuccess")
        self.woken.append((taskToken, json.loads(output)))
        return {}

    def send_task_failure(self, taskToken: str, error: str, cause: str) -> dict:
        if self.fail:
            raise ClientError({"Error": {"Code": self.fail, "Message": "x"}}, "SendTaskFailure")
        self.failed.append((taskToken, error))
        return {}


class FakeWakeUps:
    def __init__(self) -> None:
        self.schedules: dict[str, tuple[str, datetime]] = {}
        self.cancelled: list[str] = []

    def set(self, invoice_id: str, token: str, at: datetime, why: str = "planned") -> None:
        self.schedules[invoice_id] = (token, at)

    def cancel(self, invoice_id: str) -> None:
        self.schedules.pop(invoice_id, None)
        self.cancelled.append(invoice_id)


@pytest.fixture
def ctx():
    clock.set_provider(lambda: NOW)
    c = Context(settings=Settings(invoices_table="t", directory_table="d", inbound_bucket="i", documents_bucket="b"))
    c.__dict__.update(store=FakeInvoices(), directory=FakeDirectory(), documents=FakeDocuments(), wakeups=FakeWakeUps())
    c.clients["stepfunctions"] = FakeStepFunctions()
    yield c
    clock.set_provider(None)


def _invoice(ctx, status: Status) -> str:
    rec = InvoiceRecord(invoice_id="inv_1", supplier_id="s", status=status, source="api", original_key="o",
                        created_at=NOW, updated_at=NOW)
    ctx.store.create(rec, Event(invoice_id="inv_1", kind=EventKind.RECEIVED, at=NOW))
    return "inv_1"


def _planned(monkeypatch, outcome: str, wait_seconds: int = 1) -> None:
    monkeypatch.setattr(steps, "progress", lambda ctx, iid: {"outcome": outcome, "wait_seconds": wait_seconds})


def test_it_parks_until_the_next_planned_time(ctx, monkeypatch):
    iid = _invoice(ctx, Status.DELIVERED)
    _planned(monkeypatch, "wait", 48 * 3600)
    steps.milestone(ctx, iid, "token-1")
    assert ctx.wakeups.schedules[iid] == ("token-1", NOW + timedelta(hours=48))
    assert ctx.clients["stepfunctions"].woken == [] and ctx.clients["stepfunctions"].failed == []
    # parked again after a wake-up: the same schedule, replaced with the new token and time
    _planned(monkeypatch, "wait", 3600)
    steps.milestone(ctx, iid, "token-2")
    assert ctx.wakeups.schedules == {iid: ("token-2", NOW + timedelta(hours=1))}
    assert ctx.store.take_wait_token(iid) == "token-2"


def test_a_wake_up_sooner_than_a_minute_is_set_a_minute_ahead(ctx, monkeypatch):
    iid = _invoice(ctx, Status.DELIVERED)
    _planned(monkeypatch, "wait", 5)
    steps.milestone(ctx, iid, "token-1")
    assert ctx.wakeups.schedules[iid][1] == NOW + timedelta(seconds=steps.MIN_SCHEDULE_SECONDS)


@pytest.mark.parametrize("outcome, error", [("paid", "Invoice.Paid"), ("closed", "Invoice.Closed"),
                                            ("continued", "Invoice.Continued")])
def test_the_end_of_the_path_is_its_own_token_handed_back_as_an_error(ctx, monkeypatch, outcome, error):
    iid = _invoice(ctx, Status.PAID)
    ctx.store.park(iid, "token-0")  # a token of an earlier park, never handed back
    ctx.wakeups.set(iid, "token-0", NOW + timedelta(days=3))
    _planned(monkeypatch, outcome)
    steps.milestone(ctx, iid, "token-1")
    assert ctx.clients["stepfunctions"].failed == [("token-1", error)]
    assert ctx.wakeups.schedules == {} and ctx.wakeups.cancelled == [iid]
    assert ctx.store.take_wait_token(iid) is None  # no stale token left for an event to use


def test_an_action_due_now_goes_straight_round_again(ctx, monkeypatch):
    iid = _invoice(ctx, Status.DELIVERED)
    _planned(monkeypatch, "act")
    steps.milestone(ctx, iid, "token-1")
    assert ctx.clients["stepfunctions"].woken == [("token-1", {"woken_by": "due now"})]
    assert ctx.wakeups.schedules == {}


def test_an_invoice_paid_while_the_loop_was_planning_wakes_it_at_once(ctx, monkeypatch):
    iid = _invoice(ctx, Status.PAID)  # paid after the step read it: its event found no token to hand back
    _planned(monkeypatch, "wait", 7 * 86400)
    steps.milestone(ctx, iid, "token-2")
    assert ctx.clients["stepfunctions"].woken == [("token-2", {"woken_by": "paid"})]


def test_the_token_is_handed_back_once(ctx, monkeypatch):
    iid = _invoice(ctx, Status.DELIVERED)
    _planned(monkeypatch, "wait", 86400)
    steps.milestone(ctx, iid, "token-1")
    assert wake(ctx, iid, "paid") is True and wake(ctx, iid, "paid") is False  # once
    assert ctx.clients["stepfunctions"].woken == [("token-1", {"woken_by": "paid"})]


def test_a_token_that_expired_never_fails_the_event(ctx, monkeypatch):
    iid = _invoice(ctx, Status.DELIVERED)
    _planned(monkeypatch, "wait", 86400)
    steps.milestone(ctx, iid, "token-3")
    ctx.clients["stepfunctions"].fail = "TaskTimedOut"
    assert wake(ctx, iid, "disputed") is False  # the planned wake-up still comes
    assert ctx.store.take_wait_token(iid) is None  # and the stale token is gone


def test_a_throttled_end_is_retried_by_the_state_machine(ctx, monkeypatch):
    iid = _invoice(ctx, Status.PAID)
    _planned(monkeypatch, "paid")
    ctx.clients["stepfunctions"].fail = "ThrottlingException"
    with pytest.raises(RetryableError):
        steps.milestone(ctx, iid, "token-1")


# --- the Scheduler adapter, on moto ---------------------------------------------------------

@pytest.fixture
def scheduler(monkeypatch):
    import boto3
    from moto import mock_aws

    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-3")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "t")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "t")
    with mock_aws():
        client = boto3.client("scheduler")
        client.create_schedule_group(Name="facteur-test")
        yield client


def test_one_schedule_per_invoice_replaced_at_each_park_and_deleted_at_the_end(scheduler):
    from facteur.adapters.wakeups import SEND_TASK_SUCCESS, WakeUps, schedule_name

    wakeups = WakeUps(scheduler, "facteur-test", "arn:aws:iam::123456789012:role/wake")
    wakeups.set("inv_1", "token-1", NOW + timedelta(days=2))
    wakeups.set("inv_1", "token-2", NOW + timedelta(hours=1, seconds=29, milliseconds=1))  # an event moved it: replaced
    s = scheduler.get_schedule(Name=schedule_name("inv_1"), GroupName="facteur-test")
    assert s["ScheduleExpression"] == "at(2026-12-10T10:00:30)" and s["ScheduleExpressionTimezone"] == "UTC"
    assert s["ActionAfterCompletion"] == "NONE" and s["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert s["Target"]["Arn"] == SEND_TASK_SUCCESS and s["Target"]["RoleArn"].endswith(":role/wake")
    assert json.loads(s["Target"]["Input"]) == {"TaskToken": "token-2", "Output": json.dumps({"woken_by": "planned"})}
    assert len(scheduler.list_schedules(GroupName="facteur-test")["Schedules"]) == 1
    wakeups.cancel("inv_1")
    wakeups.cancel("inv_1")  # nothing left to cancel is not an error
    assert scheduler.list_schedules(GroupName="facteur-test")["Schedules"] == []


def test_scheduler_errors_are_classified():
    from facteur.adapters.wakeups import WakeUps
    from facteur.errors import PermanentError

    class Throttled:
        def update_schedule(self, **kw):
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"},
                               "ResponseMetadata": {"HTTPStatusCode": 400}}, "UpdateSchedule")

    with pytest.raises(RetryableError):
        WakeUps(Throttled(), "g", "r").set("inv_1", "t", NOW)

    class Denied:
        def delete_schedule(self, **kw):
            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "not authorized"},
                               "ResponseMetadata": {"HTTPStatusCode": 403}}, "DeleteSchedule")

    with pytest.raises(PermanentError):  # a missing permission is said, never taken for "nothing to cancel"
        WakeUps(Denied(), "g", "r").cancel("inv_1")


@pytest.mark.parametrize("status", [Status.HELD, Status.RECEIVED, Status.DUPLICATE])
def test_an_invoice_that_did_not_pass_its_checks_is_never_sent_nor_followed(ctx, monkeypatch, status):
    iid = _invoice(ctx, status)
    monkeypatch.setattr(steps, "progress", lambda *a: pytest.fail("an unchecked or held invoice has no milestones"))
    monkeypatch.setattr(steps, "deliver", lambda *a, **k: pytest.fail("an unchecked or held invoice is never sent"))
    assert steps.dispatch(ctx, iid) == {"outcome": "held", "status": status.value}
    steps.milestone(ctx, iid, "token-1")
    assert ctx.clients["stepfunctions"].failed == [("token-1", "Invoice.Held")]
