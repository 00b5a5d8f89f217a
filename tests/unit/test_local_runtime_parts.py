"""The local runtime's own parts: schedule expressions, the API gateway's routing and policy
evaluation (what API Gateway does), durations."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from facteur_local.gateway import _allows, routes_from_swagger
from facteur_local.runtime import parse_duration
from facteur_local.schedule import Schedule, ScheduleError

UTC = UTC


def test_cron_daily_at_six_utc():
    s = Schedule("cron(0 6 * * ? *)")
    assert s.next_after(datetime(2026, 12, 1, 7, 0, tzinfo=UTC)) == datetime(2026, 12, 2, 6, 0, tzinfo=UTC)
    assert s.next_after(datetime(2026, 12, 1, 5, 59, tzinfo=UTC)) == datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
    assert s.next_after(datetime(2026, 12, 31, 6, 0, tzinfo=UTC)) == datetime(2027, 1, 1, 6, 0, tzinfo=UTC)


def test_cron_weekdays_ranges_steps_and_names():
    # 08:15 and 08:45 Monday to Friday (AWS: 1 = Sunday)
    s = Schedule("cron(15/30 8 ? * MON-FRI *)")
    sat = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)  # a Saturday
    assert s.next_after(sat) == datetime(2026, 12, 7, 8, 15, tzinfo=UTC)
    assert s.next_after(datetime(2026, 12, 7, 8, 15, tzinfo=UTC)) == datetime(2026, 12, 7, 8, 45, tzinfo=UTC)
    first_of_quarter = Schedule("cron(0 0 1 JAN,APR,JUL,OCT ? *)")
    assert first_of_quarter.next_after(datetime(2026, 12, 1, tzinfo=UTC)) == datetime(2027, 1, 1, tzinfo=UTC)


def test_rate_counts_from_its_anchor():
    s = Schedule("rate(7 days)")
    anchor = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)
    assert s.next_after(anchor, anchor) == anchor + timedelta(days=7)
    assert s.next_after(anchor + timedelta(days=7), anchor) == anchor + timedelta(days=14)
    assert Schedule("rate(1 hour)").next_after(anchor, anchor) == anchor + timedelta(hours=1)


@pytest.mark.parametrize("bad", ["rate(0.5 days)", "cron(0 6 * *)", "cron(0 6 L * ? *)", "every day", "cron(61 6 * * ? *)"])
def test_unsupported_schedules_fail_loudly(bad):
    with pytest.raises(ScheduleError):
        Schedule(bad)


def test_policy_evaluation_like_api_gateway():
    arn = "arn:aws:execute-api:eu-west-3:123456789012:abc/dev/GET/invoices/inv_1"
    allow = {"Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow",
                            "Resource": "arn:aws:execute-api:eu-west-3:123456789012:abc/dev/*"}]}
    assert _allows(allow, arn)
    assert not _allows(allow, arn.replace("/dev/", "/prod/"))
    deny = {"Statement": allow["Statement"] + [{"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": arn}]}
    assert not _allows(deny, arn)
    assert not _allows({"Statement": []}, arn)


def test_routes_from_the_translated_swagger():
    uri = "arn:aws:apigateway:eu-west-3:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-3:1:function:f/invocations"
    body = {"paths": {
        "/invoices/{invoice_id}": {"get": {"x-amazon-apigateway-integration": {"type": "aws_proxy", "uri": uri},
                                           "security": [{"Key": []}]}},
        "/invoices/summary": {"get": {"x-amazon-apigateway-integration": {"type": "aws_proxy", "uri": uri},
                                      "security": [{"NONE": []}]}},
        "/files/{proxy+}": {"x-amazon-apigateway-any-method": {"x-amazon-apigateway-integration": {"type": "aws_proxy", "uri": uri}}},
    }, "securityDefinitions": {"Key": {"x-amazon-apigateway-authorizer": {
        "type": "request", "identitySource": "method.request.header.Authorization", "authorizerUri": uri}}},
        "x-amazon-apigateway-binary-media-types": ["application/pdf"]}
    routes, binary = routes_from_swagger(body)
    assert binary == ["application/pdf"]
    first = next(r for r in routes if r.pattern.match("/invoices/summary"))
    assert first.path == "/invoices/summary" and first.authorizer is None  # literal before parameter
    param = next(r for r in routes if r.path == "/invoices/{invoice_id}")
    assert param.pattern.match("/invoices/inv_1").groupdict() == {"invoice_id": "inv_1"}
    assert param.authorizer["header"] == "Authorization" and param.function_arn.endswith(":function:f")
    greedy = next(r for r in routes if r.method == "ANY")
    assert greedy.pattern.match("/files/a/b.pdf").group("proxy") == "a/b.pdf"
    with pytest.raises(RuntimeError):
        routes_from_swagger({"paths": {"/x": {"get": {"x-amazon-apigateway-integration": {"type": "http", "uri": "x"}}}}})


def test_durations():
    assert parse_duration("3d") == timedelta(days=3)
    assert parse_duration("90m") == timedelta(minutes=90)
    assert parse_duration("3600") == timedelta(hours=1)
    with pytest.raises(ValueError):
        parse_duration("soon")


def test_a_cancelled_transaction_leaves_every_item_as_it_was_without_copying_the_table(monkeypatch):
    """The transaction patch (moto copies whole tables to roll back): a cancelled transaction
    restores the items it touched (a put of a new item, an update of an existing one), a committed
    one keeps them, other items are untouched."""
    import boto3
    from moto import mock_aws

    from facteur_local.patches import install_fast_transactions

    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-3")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "t")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "t")
    install_fast_transactions()
    with mock_aws():
        db = boto3.client("dynamodb")
        db.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                        AttributeDefinitions=[{"AttributeName": "PK", "AttributeType": "S"},
                                              {"AttributeName": "SK", "AttributeType": "S"}],
                        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}])
        db.put_item(TableName="t", Item={"PK": {"S": "a"}, "SK": {"S": "1"}, "v": {"N": "1"}})
        db.put_item(TableName="t", Item={"PK": {"S": "b"}, "SK": {"S": "1"}, "v": {"N": "7"}})
        update = {"Update": {"TableName": "t", "Key": {"PK": {"S": "a"}, "SK": {"S": "1"}}, "UpdateExpression": "SET v = :n",
                             "ExpressionAttributeValues": {":n": {"N": "2"}}}}
        new = {"Put": {"TableName": "t", "Item": {"PK": {"S": "c"}, "SK": {"S": "1"}}}}
        failing = {"ConditionCheck": {"TableName": "t", "Key": {"PK": {"S": "b"}, "SK": {"S": "1"}},
                                      "ConditionExpression": "v = :x", "ExpressionAttributeValues": {":x": {"N": "0"}}}}
        with pytest.raises(db.exceptions.TransactionCanceledException):
            db.transact_write_items(TransactItems=[update, new, failing])
        items = {i["PK"]["S"]: i.get("v", {}).get("N") for i in db.scan(TableName="t")["Items"]}
        assert items == {"a": "1", "b": "7"}
        db.transact_write_items(TransactItems=[update, new])
        items = {i["PK"]["S"]: i.get("v", {}).get("N") for i in db.scan(TableName="t")["Items"]}
        assert items == {"a": "2", "b": "7", "c": None}
