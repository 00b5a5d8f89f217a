"""Deploy template.yaml onto moto: the SAM template is translated to CloudFormation offline
(aws-sam-translator), then each resource is created with boto3. moto's own CloudFormation
cannot be used (it drops DefinitionSubstitutions and bucket notifications). A resource type
this deployer does not know stops the deployment with its name: nothing is skipped."""
from __future__ import annotations

import io
import json
import re
import secrets
import zipfile
from pathlib import Path
from typing import Any

import boto3
import yaml

ACCOUNT = "123456789012"


class UnsupportedResource(RuntimeError):
    pass


def load_template(path: Path) -> dict:
    from cfnlint.decode.cfn_yaml import loads

    return json.loads(json.dumps(loads(path.read_text())))


def translate(template: dict, region: str) -> dict:
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    tpl = json.loads(json.dumps(template))
    for res in tpl.get("Resources", {}).values():  # local paths -> S3 URIs the translator accepts
        props = res.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if isinstance(props.get(key), str) and not props[key].startswith("s3://"):
                props[key] = f"s3://local-code/{props[key]}"
        if isinstance(props.get("DefinitionUri"), str):
            props["Definition"] = {"__local_definition__": props.pop("DefinitionUri")}
    params = {"AWS::AccountId": ACCOUNT, "AWS::Region": region, "AWS::Partition": "aws"}
    return Translator(None, Parser(), boto_session=boto3.session.Session(region_name=region)).translate(
        tpl, params, get_managed_policy_map=lambda: {})


class Deployer:
    def __init__(self, root: Path, region: str, parameters: dict[str, str] | None = None, stack: str = "facteur"):
        self.root = root
        self.region = region
        self.stack = stack
        self.parameters = parameters or {}
        self.physical: dict[str, str] = {}
        self.attrs: dict[str, dict[str, str]] = {}
        self.functions: dict[str, dict[str, Any]] = {}  # logical id -> {name, code_dir, handler, env}
        self.apis: dict[str, dict[str, Any]] = {}
        self.notifications: list[tuple[str, dict]] = []
        self.outputs: dict[str, str] = {}
        self.local_limits: list[str] = []  # what the local runtime cannot enforce, reported to the user
        self.ses_event_types: dict[str, list[str]] = {}  # configuration set -> SES events sent to EventBridge
        self.schedules: dict[str, dict[str, Any]] = {}  # rule name -> {expression, targets}
        self.c = {s: boto3.client(s, region_name=region) for s in
                  ("s3", "dynamodb", "lambda", "iam", "stepfunctions", "events", "secretsmanager", "ssm", "sqs",
                   "sesv2", "ses", "logs", "sns", "cloudwatch", "transfer", "scheduler")}
        self.alarms: list[str] = []
        self.rotations: dict[str, dict[str, Any]] = {}  # secret -> rotation function and rules

    # -- intrinsic functions --
    def resolve(self, v: Any) -> Any:
        if isinstance(v, list):
            return [self.resolve(x) for x in v]
        if not isinstance(v, dict):
            return v
        if len(v) == 1:
            (k, arg), = v.items()
            if k == "Ref":
                return self._ref(arg)
            if k == "Fn::GetAtt":
                name, attr = (arg.split(".", 1) if isinstance(arg, str) else arg)
                return self._getatt(name, attr)
            if k == "Fn::Sub":
                text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))
                return re.sub(r"\$\{([^}]+)\}", lambda m: self._sub_var(m.group(1), extra), text)
            if k == "Fn::Join":
                return arg[0].join(str(self.resolve(x)) for x in arg[1])
            if k == "Fn::If":
                return self.resolve(arg[1] if self.condition(arg[0]) else arg[2])
            if k == "Fn::Select":
                return self.resolve(arg[1])[int(arg[0])]
        return {k: self.resolve(x) for k, x in v.items()}

    def _sub_var(self, name: str, extra: dict) -> str:
        if name.startswith("!"):  # ${!Literal}: written as ${Literal} (e.g. IAM policy variables)
            return "${" + name[1:] + "}"
        if name in extra:
            return str(extra[name])
        if "." in name and not name.startswith("AWS::"):
            return str(self._getatt(*name.split(".", 1)))
        return str(self._ref(name))

    def condition(self, name: str) -> bool:
        return bool(self._cond_eval(self.template.get("Conditions", {})[name]))

    def _cond_eval(self, c: Any) -> Any:
        if isinstance(c, dict) and len(c) == 1:
            (k, arg), = c.items()
            if k == "Fn::Not":
                return not self._cond_eval(arg[0])
            if k == "Fn::Equals":
                return self.resolve(arg[0]) == self.resolve(arg[1])
            if k == "Condition":
                return self.condition(arg)
        return self.resolve(c)

    def _ref(self, name: str) -> Any:
        pseudo = {"AWS::AccountId": ACCOUNT, "AWS::Region": self.region, "AWS::Partition": "aws",
                  "AWS::StackName": self.stack, "AWS::URLSuffix": "amazonaws.com", "AWS::NoValue": None}
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.physical:
            return self.physical[name]
        raise KeyError(f"unresolved Ref {name}")

    def _getatt(self, name: str, attr: str) -> str:
        try:
            return self.attrs[name][attr]
        except KeyError as exc:
            raise KeyError(f"unresolved GetAtt {name}.{attr}") from exc

    # -- deployment --
    def deploy(self, template_path: Path) -> Deployer:
        raw = load_template(template_path)
        for name, p in raw.get("Parameters", {}).items():
            self.parameters.setdefault(name, str(p.get("Default", "")))
        self.template = translate(raw, self.region)
        resources = self.template["Resources"]
        for logical in self._order(resources):
            res = resources[logical]
            if "Condition" in res and not self.condition(res["Condition"]):
                continue
            handler = getattr(self, "_create_" + res["Type"].replace("::", "_"), None)
            if handler is None:
                raise UnsupportedResource(f"{logical}: resource type {res['Type']} is not supported by the local runtime")
            props = dict(res.get("Properties", {}))
            notification = props.pop("NotificationConfiguration", None)  # resolved once functions exist
            handler(logical, self.resolve(props), res)
            if notification:
                self.notifications.append((self.physical[logical], notification))
        for bucket, raw in self.notifications:
            config = {"LambdaFunctionConfigurations": [
                {"LambdaFunctionArn": n["Function"], "Events": [n["Event"]],
                 **({"Filter": {"Key": {"FilterRules": n["Filter"]["S3Key"]["Rules"]}}} if "Filter" in n else {})}
                for n in self.resolve(raw).get("LambdaConfigurations", [])]}
            self.c["s3"].put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=config)
        for name, out in self.template.get("Outputs", {}).items():
            if "Condition" not in out or self.condition(out["Condition"]):
                self.outputs[name] = self.resolve(out["Value"])
        return self

    def _order(self, resources: dict) -> list[str]:
        deps: dict[str, set[str]] = {}
        for name, res in resources.items():
            found: set[str] = set(res.get("DependsOn", []) if isinstance(res.get("DependsOn"), list)
                                  else ([res["DependsOn"]] if res.get("DependsOn") else []))
            self._refs(res.get("Properties", {}), found, resources)
            if res["Type"] == "AWS::S3::Bucket":  # notifications are applied after the functions exist
                found = {d for d in found if resources[d]["Type"] not in ("AWS::Lambda::Function", "AWS::Lambda::Permission")}
            deps[name] = found - {name}
        order, seen = [], set()

        def visit(n: str, stack: tuple = ()):
            if n in seen:
                return
            if n in stack:
                raise RuntimeError(f"dependency cycle: {' -> '.join(stack + (n,))}")
            for d in sorted(deps[n]):
                visit(d, stack + (n,))
            seen.add(n)
            order.append(n)

        for n in sorted(resources):
            visit(n)
        return order

    def _refs(self, v: Any, out: set, resources: dict) -> None:
        if isinstance(v, dict):
            for k, x in v.items():
                if k == "Ref" and isinstance(x, str) and x in resources:
                    out.add(x)
                elif k == "Fn::GetAtt":
                    out.add(x.split(".")[0] if isinstance(x, str) else x[0])
                elif k == "Fn::Sub":
                    text = x if isinstance(x, str) else x[0]
                    out.update(m.split(".")[0] for m in re.findall(r"\$\{([^}]+)\}", text) if m.split(".")[0] in resources)
                    if not isinstance(x, str):
                        self._refs(x[1], out, resources)
                else:
                    self._refs(x, out, resources)
        elif isinstance(v, list):
            for x in v:
                self._refs(x, out, resources)

    def _arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{ACCOUNT}:{resource}"

    # -- resource types --
    def _create_AWS_S3_Bucket(self, logical, p, res):
        name = p["BucketName"]
        kwargs: dict = {"Bucket": name}
        if self.region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        if p.get("ObjectLockEnabled"):
            kwargs["ObjectLockEnabledForBucket"] = True
        self.c["s3"].create_bucket(**kwargs)
        if "ObjectLockConfiguration" in p:
            self.c["s3"].put_object_lock_configuration(Bucket=name, ObjectLockConfiguration=p["ObjectLockConfiguration"])
        if "LifecycleConfiguration" in p:
            rules = [{("ID" if k == "Id" else k): v for k, v in r.items()} | {"Filter": r.get("Filter", {"Prefix": r.get("Prefix", "")})}
                     for r in p["LifecycleConfiguration"]["Rules"]]  # CloudFormation's Id is the API's ID
            for r in rules:
                r.pop("Prefix", None)
            self.c["s3"].put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={"Rules": rules})
        if "BucketEncryption" in p:
            rules = [{"ApplyServerSideEncryptionByDefault": r["ServerSideEncryptionByDefault"]}
                     for r in p["BucketEncryption"]["ServerSideEncryptionConfiguration"]]
            self.c["s3"].put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
        if "PublicAccessBlockConfiguration" in p:
            self.c["s3"].put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=p["PublicAccessBlockConfiguration"])
        if "VersioningConfiguration" in p:
            self.c["s3"].put_bucket_versioning(Bucket=name, VersioningConfiguration=p["VersioningConfiguration"])
        self.physical[logical] = name
        self.attrs[logical] = {"Arn": f"arn:aws:s3:::{name}"}

    def _create_AWS_S3_BucketPolicy(self, logical, p, res):
        # moto enforces bucket policies without their Conditions: the TLS-only Deny
        # (aws:SecureTransport=false) would deny every call. The local endpoint is plain HTTP on
        # 127.0.0.1, so conditional statements are kept out of what moto enforces, and said so.
        doc = dict(p["PolicyDocument"])
        conditional = [st for st in doc.get("Statement", []) if "Condition" in st]
        doc["Statement"] = [st for st in doc.get("Statement", []) if "Condition" not in st]
        for st in conditional:
            self.local_limits.append(f"{logical}: statement {st.get('Sid', '?')} ({st['Effect']} on condition "
                                     f"{json.dumps(st['Condition'])}) is not enforced locally (moto ignores conditions)")
        if doc["Statement"]:
            self.c["s3"].put_bucket_policy(Bucket=p["Bucket"], Policy=json.dumps(doc))
        self.physical[logical] = p["Bucket"]

    def _create_AWS_DynamoDB_Table(self, logical, p, res):
        kwargs = {k: p[k] for k in ("TableName", "AttributeDefinitions", "KeySchema", "BillingMode") if k in p}
        if "GlobalSecondaryIndexes" in p:
            kwargs["GlobalSecondaryIndexes"] = p["GlobalSecondaryIndexes"]
        if "SSESpecification" in p:
            kwargs["SSESpecification"] = {"Enabled": p["SSESpecification"]["SSEEnabled"]}
        out = self.c["dynamodb"].create_table(**kwargs)["TableDescription"]
        ttl = p.get("TimeToLiveSpecification")
        if ttl:  # moto records it; it never deletes expired items (Powertools checks expiry itself)
            self.c["dynamodb"].update_time_to_live(TableName=p["TableName"], TimeToLiveSpecification=ttl)
        self.physical[logical] = p["TableName"]
        self.attrs[logical] = {"Arn": out["TableArn"]}

    def _create_AWS_IAM_Role(self, logical, p, res):
        name = f"{self.stack}-{logical}"[:64]
        arn = self.c["iam"].create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(p["AssumeRolePolicyDocument"]))["Role"]["Arn"]
        for pol in p.get("Policies", []):
            self.c["iam"].put_role_policy(RoleName=name, PolicyName=pol["PolicyName"],
                                         PolicyDocument=json.dumps({"Version": "2012-10-17", **pol["PolicyDocument"]}))
        self.physical[logical] = name
        self.attrs[logical] = {"Arn": arn}

    def _create_AWS_Lambda_LayerVersion(self, logical, p, res):
        # The layer's code is the installed `facteur` package (pip install -e .): same files.
        self.physical[logical] = self._arn("lambda", f"layer:{p['LayerName']}:1")

    def _create_AWS_Lambda_Function(self, logical, p, res):
        code_dir = self.root / p["Code"]["S3Key"].rstrip("/")
        handler_module = p["Handler"].rsplit(".", 1)[0]
        if not (code_dir / f"{handler_module}.py").exists():
            raise UnsupportedResource(f"{logical}: handler {p['Handler']} not found in {code_dir}")
        name = p.get("FunctionName") or f"{self.stack}-{logical}"
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr(f"{handler_module}.py", "# code runs in-process from the work tree\n")
        env = (p.get("Environment") or {}).get("Variables", {})
        out = self.c["lambda"].create_function(FunctionName=name, Runtime=p["Runtime"], Role=p["Role"], Handler=p["Handler"],
                                               Code={"ZipFile": buf.getvalue()}, Timeout=p.get("Timeout", 3),
                                               MemorySize=p.get("MemorySize", 128), Environment={"Variables": env})
        self.functions[logical] = {"name": name, "code_dir": code_dir, "handler": p["Handler"], "env": env}
        self.physical[logical] = name
        self.attrs[logical] = {"Arn": out["FunctionArn"]}

    def _create_AWS_Lambda_Permission(self, logical, p, res):
        self.physical[logical] = logical  # moto does not enforce resource policies

    def _create_AWS_Lambda_EventInvokeConfig(self, logical, p, res):
        self.c["lambda"].put_function_event_invoke_config(
            FunctionName=p["FunctionName"], MaximumRetryAttempts=p.get("MaximumRetryAttempts", 2),
            DestinationConfig=p.get("DestinationConfig", {}))
        self.physical[logical] = logical

    def _create_AWS_StepFunctions_StateMachine(self, logical, p, res):
        definition = p.get("Definition") or json.loads(p["DefinitionString"])
        if "__local_definition__" in definition:
            definition = yaml.safe_load((self.root / definition["__local_definition__"]).read_text())
        text = json.dumps(definition)
        for key, value in (p.get("DefinitionSubstitutions") or {}).items():
            text = text.replace("${" + key + "}", str(value))
        if "${" in text:
            raise UnsupportedResource(f"{logical}: unresolved substitution in the definition: {re.findall(r'[$][{][^}]+[}]', text)}")
        arn = self.c["stepfunctions"].create_state_machine(name=p.get("StateMachineName") or logical, definition=text,
                                                            roleArn=p["RoleArn"], type=p.get("StateMachineType", "STANDARD"))["stateMachineArn"]
        self.physical[logical] = arn
        self.attrs[logical] = {"Arn": arn, "Name": p.get("StateMachineName") or logical}

    def _create_AWS_Events_Rule(self, logical, p, res):
        name = p.get("Name") or f"{self.stack}-{logical}"
        kwargs = {"Name": name, "State": p.get("State", "ENABLED")}
        if "ScheduleExpression" in p:
            kwargs["ScheduleExpression"] = p["ScheduleExpression"]
        if "EventPattern" in p:
            kwargs["EventPattern"] = json.dumps(p["EventPattern"])
        arn = self.c["events"].put_rule(**kwargs)["RuleArn"]
        if "ScheduleExpression" in p:
            self.schedules[name] = {"expression": p["ScheduleExpression"], "arn": arn, "targets": p.get("Targets", []),
                                    "enabled": kwargs["State"] == "ENABLED"}
        keep = ("Id", "Arn", "Input", "DeadLetterConfig", "RetryPolicy")
        self.c["events"].put_targets(Rule=name, Targets=[{k: t[k] for k in keep if k in t} for t in p.get("Targets", [])])
        self.physical[logical] = name
        self.attrs[logical] = {"Arn": arn}

    def _create_AWS_ApiGateway_RestApi(self, logical, p, res):
        api_id = "local" + secrets.token_hex(3)
        self.apis[logical] = {"id": api_id, "body": p.get("Body", {}), "stage": None}
        self.physical[logical] = api_id
        self.attrs[logical] = {"RootResourceId": "root"}

    def _create_AWS_ApiGateway_Deployment(self, logical, p, res):
        self.physical[logical] = logical

    def _create_AWS_ApiGateway_Stage(self, logical, p, res):
        for api in self.apis.values():
            if api["id"] == p["RestApiId"]:
                api["stage"] = p["StageName"]
        self.physical[logical] = p["StageName"]

    def _create_AWS_Logs_LogGroup(self, logical, p, res):
        name = p["LogGroupName"]
        self.c["logs"].create_log_group(logGroupName=name)
        if "RetentionInDays" in p:
            self.c["logs"].put_retention_policy(logGroupName=name, retentionInDays=int(p["RetentionInDays"]))
        self.physical[logical] = name
        self.attrs[logical] = {"Arn": self._arn("logs", f"log-group:{name}:*")}

    def _create_AWS_SecretsManager_Secret(self, logical, p, res):
        gen = p.get("GenerateSecretString") or {}
        value = p.get("SecretString") or secrets.token_urlsafe(gen.get("PasswordLength", 32))[: gen.get("PasswordLength", 32)]
        arn = self.c["secretsmanager"].create_secret(Name=p["Name"], SecretString=value)["ARN"]
        self.physical[logical] = arn

    def _create_AWS_SSM_Parameter(self, logical, p, res):
        self.c["ssm"].put_parameter(Name=p["Name"], Value=p["Value"], Type=p.get("Type", "String"), Overwrite=True)
        self.physical[logical] = p["Name"]

    def _create_AWS_SQS_Queue(self, logical, p, res):
        url = self.c["sqs"].create_queue(QueueName=p["QueueName"])["QueueUrl"]
        self.physical[logical] = url
        self.attrs[logical] = {"Arn": self._arn("sqs", p["QueueName"]), "QueueName": p["QueueName"]}

    def _create_AWS_SQS_QueuePolicy(self, logical, p, res):
        for url in p["Queues"]:
            self.c["sqs"].set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(p["PolicyDocument"])})
        self.physical[logical] = logical

    def _create_AWS_SNS_Topic(self, logical, p, res):
        attrs = {"KmsMasterKeyId": p["KmsMasterKeyId"]} if "KmsMasterKeyId" in p else {}
        arn = self.c["sns"].create_topic(Name=p.get("TopicName") or f"{self.stack}-{logical}", Attributes=attrs)["TopicArn"]
        self.physical[logical] = arn
        self.attrs[logical] = {"TopicArn": arn, "TopicName": arn.rsplit(":", 1)[-1]}

    def _create_AWS_CloudWatch_Alarm(self, logical, p, res):
        keys = ("AlarmName", "AlarmDescription", "Namespace", "MetricName", "Dimensions", "Statistic", "Period",
                "EvaluationPeriods", "Threshold", "ComparisonOperator", "TreatMissingData", "AlarmActions")
        kwargs = {k: p[k] for k in keys if k in p}
        for k in ("Period", "EvaluationPeriods"):
            kwargs[k] = int(kwargs[k])
        kwargs["Threshold"] = float(kwargs["Threshold"])
        self.c["cloudwatch"].put_metric_alarm(**kwargs)
        self.physical[logical] = p["AlarmName"]
        self.alarms.append(p["AlarmName"])

    def _create_AWS_SecretsManager_RotationSchedule(self, logical, p, res):
        # Recorded, not started: rotation runs when asked (rotate_secret), as on AWS after the
        # first scheduled date; the local clock's weeks would otherwise rotate mid-test.
        self.rotations[p["SecretId"]] = {"lambda": p["RotationLambdaARN"], "rules": p.get("RotationRules", {})}
        self.physical[logical] = logical

    def _create_AWS_ApiGateway_Account(self, logical, p, res):
        # An account-wide API Gateway setting (the role it logs with): nothing to run locally.
        self.physical[logical] = logical

    def _create_AWS_Transfer_Connector(self, logical, p, res):
        # moto keeps the connector; the local runtime's AS2 relay (local/as2.py) plays the partner
        cid = self.c["transfer"].create_connector(Url=p["Url"], AccessRole=p["AccessRole"],
                                                  **({"As2Config": p["As2Config"]} if "As2Config" in p else {}))["ConnectorId"]
        self.physical[logical] = cid
        self.attrs[logical] = {"ConnectorId": cid, "Arn": self._arn("transfer", f"connector/{cid}")}

    def _create_AWS_Scheduler_ScheduleGroup(self, logical, p, res):
        # moto keeps the group and its schedules; the local runtime fires the one-time ones on its clock
        arn = self.c["scheduler"].create_schedule_group(Name=p["Name"])["ScheduleGroupArn"]
        self.physical[logical] = p["Name"]
        self.attrs[logical] = {"Arn": arn}

    def _create_AWS_SES_ConfigurationSet(self, logical, p, res):
        self.c["sesv2"].create_configuration_set(ConfigurationSetName=p["Name"])
        self.physical[logical] = p["Name"]

    def _create_AWS_SES_ConfigurationSetEventDestination(self, logical, p, res):
        # Recorded: the local mail relay publishes these SES events to EventBridge itself.
        d = p["EventDestination"]
        if "EventBridgeDestination" not in d:
            raise UnsupportedResource(f"{logical}: only EventBridge destinations are supported locally")
        if d.get("Enabled", False):
            self.ses_event_types.setdefault(p["ConfigurationSetName"], []).extend(
                t.lower() for t in d.get("MatchingEventTypes", []))
        self.physical[logical] = d["Name"]
