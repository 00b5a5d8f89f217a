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
        assert {"IngestS3Function", "CheckFunction", "ConvertFunction", "DispatchFunction", "ProgressFunction",
                "RemindFunction", "TrackerApiFunction", "SesEventsFunction", "ReminderSweepFunction",
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
