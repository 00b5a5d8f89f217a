"""The template deploys onto moto through the local deployer; every function's handler exists."""
from pathlib import Path

from moto import mock_aws

from facteur_local.deployer import Deployer
from facteur_local.patches import check_patch_points

ROOT = Path(__file__).resolve().parents[2]


def test_moto_patch_points_still_exist():
    check_patch_points()


def test_template_deploys_on_moto(aws_env):
    with mock_aws():
        d = Deployer(ROOT, "eu-west-3").deploy(ROOT / "template.yaml")
        assert {"IngestS3Function", "CheckFunction", "DispatchFunction", "ProgressFunction",
                "JobFunction", "DailyMailFunction", "TrackerApiFunction", "SesEventsFunction", "ReminderSweepFunction",
                "EnrichFunction", "AuthorizerFunction"} <= set(d.functions)
        import boto3

        ddb = boto3.client("dynamodb", region_name="eu-west-3")
        table = ddb.describe_table(TableName=d.outputs["InvoicesTableName"])["Table"]
        assert {i["IndexName"] for i in table["GlobalSecondaryIndexes"]} == {"GSI1", "GSI2", "GSI3"}
        s3 = boto3.client("s3", region_name="eu-west-3")
        conf = s3.get_bucket_notification_configuration(Bucket=d.outputs["InboundBucketName"])
        assert conf["LambdaFunctionConfigurations"][0]["Events"] == ["s3:ObjectCreated:*"]
        sfn = boto3.client("stepfunctions", region_name="eu-west-3")
        assert sfn.describe_state_machine(stateMachineArn=d.outputs["StateMachineArn"])["name"] == "facteur-invoice-dev"
        rules = boto3.client("events", region_name="eu-west-3").list_rules()["Rules"]
        assert {r.get("ScheduleExpression") for r in rules} >= {"cron(0 6 * * ? *)", "rate(7 days)"}
        logs = boto3.client("logs", region_name="eu-west-3").describe_log_groups(logGroupNamePrefix="/aws/lambda/facteur-")
        assert len(logs["logGroups"]) == len(d.functions) and {g["retentionInDays"] for g in logs["logGroups"]} == {30}
        # What must hold when something goes wrong: dead letters and alarms, originals locked
        alarms = boto3.client("cloudwatch", region_name="eu-west-3").describe_alarms()["MetricAlarms"]
        assert {a["MetricName"] for a in alarms} >= {"ApproximateNumberOfMessagesVisible", "ExecutionsFailed",
                                                     "StaleReceived", "Errors", "5XXError"}
        assert all(a["AlarmActions"] for a in alarms)
        lock = s3.get_object_lock_configuration(Bucket=d.outputs["DocumentsBucketName"])["ObjectLockConfiguration"]
        assert lock["Rule"]["DefaultRetention"]["Mode"] == "GOVERNANCE" and lock["Rule"]["DefaultRetention"]["Years"] == 10
        events = boto3.client("events", region_name="eu-west-3")
        for rule in rules:
            for target in events.list_targets_by_rule(Rule=rule["Name"])["Targets"]:
                assert target.get("DeadLetterConfig", {}).get("Arn", "").endswith("facteur-events-dlq-dev"), rule["Name"]


def test_data_is_retained_when_the_stack_goes():
    from facteur_local.deployer import load_template

    tpl = load_template(ROOT / "template.yaml")["Resources"]
    for res in ("InboundBucket", "DocumentsBucket", "InvoicesTable", "DirectoryTable"):
        assert tpl[res]["DeletionPolicy"] == tpl[res]["UpdateReplacePolicy"] == "Retain", res


# The only actions AWS accepts on Resource "*" only (log delivery of the state machine).
VENDED_LOGS = {"logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
               "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:DescribeLogGroups"}


def test_functions_have_least_privilege_policies():
    """No wildcard actions, no SES CRUD: the senders may only send, through the configuration set."""
    import json

    from facteur_local.deployer import load_template, translate

    tpl = translate(load_template(ROOT / "template.yaml"), "eu-west-3")
    for name, res in tpl["Resources"].items():
        if res["Type"] != "AWS::IAM::Role":
            continue
        for pol in res["Properties"].get("Policies", []):
            for st in pol["PolicyDocument"]["Statement"]:
                actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
                assert not any(a == "*" or a.endswith(":*") for a in actions), (name, actions)
                assert not any(a.startswith("ses:") and a not in ("ses:SendEmail", "ses:SendRawEmail") for a in actions), (name, actions)
                if st.get("Resource") == "*":
                    assert set(actions) <= VENDED_LOGS, (name, json.dumps(st))



def test_an_unsupported_resource_stops_the_local_deployment(aws_env, tmp_path):
    import pytest

    from facteur_local.deployer import UnsupportedResource

    tpl = tmp_path / "template.yaml"
    tpl.write_text("AWSTemplateFormatVersion: '2010-09-09'\nResources:\n  Box:\n    Type: AWS::EC2::Instance\n")
    with mock_aws(), pytest.raises(UnsupportedResource, match="Box: resource type AWS::EC2::Instance"):
        Deployer(tmp_path, "eu-west-3").deploy(tpl)


def test_each_function_gets_only_the_settings_it_needs():
    from facteur_local.deployer import load_template, translate

    tpl = translate(load_template(ROOT / "template.yaml"), "eu-west-3")["Resources"]
    envs = {name: set(res["Properties"]["Environment"]["Variables"]) for name, res in tpl.items()
            if res["Type"] == "AWS::Lambda::Function"}
    holders = {name for name, env in envs.items() if "LINK_SECRET_ARN" in env}
    assert holders == {"DispatchFunction", "ProgressFunction", "JobFunction", "TrackerApiFunction"}
    assert {name for name, env in envs.items() if "IDEMPOTENCY_TABLE" in env} == {"IngestS3Function", "IngestApiFunction"}
    assert envs["AuthorizerFunction"] == {"STAGE", "POWERTOOLS_SERVICE_NAME", "POWERTOOLS_LOG_LEVEL",
                                          "POWERTOOLS_METRICS_NAMESPACE", "DIRECTORY_TABLE"}
    sizes = {name: (res["Properties"].get("MemorySize"), res["Properties"].get("Timeout")) for name, res in tpl.items()
             if res["Type"] == "AWS::Lambda::Function"}
    # the largest allowed invoice (40,000 lines) takes ~77 s to check on a 2-core machine
    assert sizes["CheckFunction"][1] >= 480  # checked, then converted in the same invocation
    assert sizes["IngestApiFunction"][1] <= 29  # API Gateway's integration timeout


def test_the_layer_never_imports_the_local_runtime():
    layer = ROOT / "layers" / "common" / "facteur"
    offenders = [str(p.relative_to(ROOT)) for p in layer.rglob("*.py") if "facteur_local" in p.read_text(encoding="utf-8")]
    assert offenders == []


def test_a_billing_system_may_drop_only_under_its_own_prefix():
    """Attribute-based tenancy on the inbound bucket (moto does not evaluate it: checked here)."""
    from facteur_local.deployer import load_template

    policy = load_template(ROOT / "template.yaml")["Resources"]["InboundBucketPolicy"]["Properties"]["PolicyDocument"]
    (st,) = [s for s in policy["Statement"] if s["Sid"] == "SuppliersDropUnderTheirOwnPrefix"]
    assert st["Effect"] == "Deny" and st["Principal"] == "*" and "s3:PutObject" in st["Action"]
    assert st["NotResource"] == {"Fn::Sub": "${InboundBucket.Arn}/in/${!aws:PrincipalTag/facteur-supplier}/*"}
    assert st["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": {"Fn::GetAtt": ["IngestApiFunctionRole", "Arn"]}}}


def test_the_milestone_wake_ups_are_scoped_to_their_group_and_state_machine():
    """EventBridge Scheduler may only hand tokens back to the invoice state machine, assumed from this
    account's schedules; the loop may only manage its group's schedules and pass only that role."""
    from facteur_local.deployer import load_template, translate

    tpl = translate(load_template(ROOT / "template.yaml"), "eu-west-3")["Resources"]
    role = tpl["WakeRole"]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"} and "aws:SourceAccount" in trust["Condition"]["StringEquals"]
    (policy,) = role["Policies"]
    (st,) = policy["PolicyDocument"]["Statement"]
    assert st["Action"] == ["states:SendTaskSuccess"] and "stateMachine:facteur-invoice-" in str(st["Resource"])
    statements = [s for p in tpl["ProgressFunctionRole"]["Properties"]["Policies"] for s in p["PolicyDocument"]["Statement"]]
    wake = [s for s in statements if any(a.startswith("scheduler:") for a in s["Action"])]
    assert [sorted(s["Action"]) for s in wake] == [["scheduler:CreateSchedule", "scheduler:DeleteSchedule", "scheduler:UpdateSchedule"]]
    assert "schedule/${WakeScheduleGroup}/*" in str(wake[0]["Resource"])
    (pass_role,) = [s for s in statements if s["Action"] == ["iam:PassRole"]]
    assert pass_role["Resource"] == {"Fn::GetAtt": ["WakeRole", "Arn"]}
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}}
