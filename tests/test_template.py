"""template.yaml: lints clean, builds, declares every variable the code reads, and its
events/ match its routes."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import cfn_yaml

from localapi.template import Template
from tests.support.contract import SIGNED_ROUTES
from tests.support.events import EVENTS, ROOT
from tests.support.routes import ROUTES

BIN = ROOT / ".venv" / "bin"
# SAM needs python3.13 on PATH for `sam build` (aws-sam-cli#2634): the venv's comes first.
ENV = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "SAM_CLI_TELEMETRY": "0"}


def _run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=ENV, capture_output=True, text=True, timeout=300, check=False)


def test_cfn_lint_is_clean() -> None:
    result = _run(str(BIN / "cfn-lint"), "template.yaml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_sam_validate_lint_is_clean() -> None:
    result = _run(str(BIN / "sam"), "validate", "--lint")
    assert result.returncode == 0, result.stdout + result.stderr


LAMBDA_RESERVED = {"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_LAMBDA_FUNCTION_NAME", "AWS_EXECUTION_ENV"}


def test_every_variable_the_code_reads_is_declared(template: Template) -> None:
    sources = [*(ROOT / "layers/shared/python").rglob("*.py"), *(ROOT / "functions").rglob("*.py")]
    read = set()
    for path in sources:
        text = path.read_text()
        # env.get("X"), os.environ.get("X"), _bool(env, "X", ...), _first(env, "X", "Y") ...
        for call in re.finditer(r"(?:env|environ)\b[^\n]*", text):
            read.update(re.findall(r'"([A-Z][A-Z0-9_]{2,})"', call.group(0)))
    assert {"REDIS_URL", "REDIS_HOST", "HOST_REDIS", "KEY_PREFIX", "ENABLE_TRACING"} <= read
    read -= LAMBDA_RESERVED  # set by Lambda itself; a template may not declare them
    for name, fn in template.functions.items():
        missing = read - set(fn.environment)
        assert not missing, f"{name} does not declare {sorted(missing)}"


def test_each_route_has_an_event_and_each_event_a_route(template: Template) -> None:
    routes = {(r.method, r.path) for r in template.routes}
    events = set()
    for path in EVENTS.rglob("*.json"):
        event = json.loads(path.read_text())
        if "requestContext" not in event:  # the import worker's: an S3 notification, an import job
            assert path.parent.name == "import_worker", path
            continue
        http = event["requestContext"]["http"]
        method, route = event["routeKey"].split(" ", 1)
        assert event["version"] == "2.0" and method == http["method"]
        assert re.fullmatch(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(route)), event["rawPath"]), path
        events.add((method, route))
    assert routes == events


def test_routes_are_explicit_named_events(template: Template) -> None:
    assert all(r.method != "ANY" and "{proxy+}" not in r.path for r in template.routes)


def test_the_route_table_has_one_entry_per_template_route(template: Template) -> None:
    # tests/support/routes.py is what every list of routes in the suite reads.
    declared = {(r.method, r.path): r for r in template.routes}
    missing = sorted(f"{m} {p}" for m, p in set(declared) - set(ROUTES))
    assert not missing, f"template routes with no entry in tests/support/routes.py: {missing}"
    stale = sorted(f"{m} {p}" for m, p in set(ROUTES) - set(declared))
    assert not stale, f"route table entries the template does not declare: {stale}"
    for key, spec in ROUTES.items():
        route = declared[key]
        assert (route.function, route.iam) == (spec.function, spec.signed), key
        event = json.loads((EVENTS / f"{spec.event}.json").read_text())
        assert event["routeKey"] == f"{key[0]} {key[1]}", (key, spec.event)


def test_the_imports_bucket_is_private_and_the_function_reads_only_its_logs() -> None:
    from cfnlint.decode import cfn_yaml

    doc = cfn_yaml.load(str(ROOT / "template.yaml"))
    bucket = doc["Resources"]["ImportsBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    api = doc["Resources"]["ImportsFunction"]["Properties"]
    worker = doc["Resources"]["ImportWorkerFunction"]["Properties"]

    def grants(fn: dict[str, Any]) -> dict[str, tuple[str, ...]]:
        # [0] is the Redis access policy, when auth needs one; the last one is the bucket's.
        statements = fn["Policies"][-1]["Statement"]
        found = {}
        for s in statements:
            actions = s["Action"] if isinstance(s["Action"], list) else [s["Action"]]
            found[s["Resource"]["Fn::Sub"].rsplit("}", 1)[-1] or "(bucket)"] = tuple(sorted(actions))
        return found

    # The HTTP side only sizes objects (HEAD); the worker reads logs and other counters'
    # exports, and writes and reads exports; neither can touch anything else in the bucket.
    assert grants(api) == {
        "/logs/*": ("s3:GetObject",),
        "/exports/*": ("s3:GetObject",),
        "/imports/*": ("s3:GetObject",),
        "(bucket)": ("s3:ListBucket",),
    }
    assert grants(worker) == {
        "/logs/*": ("s3:GetObject",),
        "/imports/*": ("s3:GetObject",),
        "/exports/*": ("s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"),
        "(bucket)": ("s3:ListBucket",),
    }
    # The HTTP side answers well inside API Gateway's 30 s and may invoke only the worker.
    assert api["Timeout"] <= 29 and api["Policies"][1] == {
        "LambdaInvokePolicy": {"FunctionName": {"Ref": "ImportWorkerFunction"}}
    }
    # Through the live alias, so the worker's EventInvokeConfig (retries, failure queue) applies.
    assert api["Environment"]["Variables"]["IMPORT_WORKER_FUNCTION"] == {"Ref": "ImportWorkerFunction.Alias"}
    on_failure = worker["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]
    assert on_failure == {"Type": "SQS", "Destination": {"Fn::GetAtt": ["ImportFailuresQueue", "Arn"]}}
    assert worker["EphemeralStorage"]["Size"] == {"Fn::If": ["SnapStartOn", 512, 2048]} and worker["Timeout"] > 29
    trigger = worker["Events"]["LogUploaded"]["Properties"]
    assert trigger["Events"] == "s3:ObjectCreated:*"
    assert trigger["Filter"]["S3Key"]["Rules"] == [{"Name": "prefix", "Value": "logs/"}]


# --- after the SAM transform, per deploy mode ---------------------------------------------------

NEW_CACHE_IAM = {"DeployMode": "new-cache", "RedisAuth": "iam"}
NEW_CACHE_SECRET_SNAPSTART = {"DeployMode": "new-cache", "RedisAuth": "secret", "SnapStart": "true"}
EXISTING_SECRET = {
    "DeployMode": "existing-cache",
    "RedisAuth": "secret",
    "RedisHost": "cache.internal",
    "RedisTls": "true",
    "RedisSecretArn": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:redis-AbCdEf",
    "SubnetIds": "subnet-0a,subnet-0b",
    "SecurityGroupIds": "sg-0fn",
}


OUT_OF_VPC = {"DocsFunction", "PreTrafficHookFunction"}
HTTP_FUNCTIONS = ["HitsFunction", "SessionFunction", "ImportsFunction", "DocsFunction"]


def translate(overrides: dict[str, str], without_alias: bool = False) -> tuple[dict[str, Any], dict[str, Any]]:
    """template.yaml through SAM's own translator: the CloudFormation, and the parameters."""
    import boto3
    from cfnlint.decode import cfn_yaml
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    from localapi.template import parameters

    doc = json.loads(json.dumps(cfn_yaml.load(str(ROOT / "template.yaml"))))
    if without_alias:
        doc["Globals"]["Function"].pop("AutoPublishAlias")
        doc["Globals"]["Function"].pop("SnapStart")
        for resource in doc["Resources"].values():  # it needs the alias
            resource.get("Properties", {}).pop("DeploymentPreference", None)
        for name in ("PreTrafficHookFunction", "PreTrafficHookFunctionLogs"):  # no deployments, no hook
            doc["Resources"].pop(name)
        api_env = doc["Resources"]["ImportsFunction"]["Properties"]["Environment"]["Variables"]
        api_env["IMPORT_WORKER_FUNCTION"] = {"Ref": "ImportWorkerFunction"}
    for name, resource in doc["Resources"].items():  # as `sam package` leaves them (sam validate does the same)
        for uri in ("CodeUri", "ContentUri"):
            if uri in resource.get("Properties", {}):
                resource["Properties"][uri] = f"s3://packaged/{name}.zip"
    params = parameters(doc, overrides)
    for name in ("SubnetIds", "SecurityGroupIds"):
        if isinstance(overrides.get(name), str):
            params[name] = overrides[name].split(",")
    sam_params = {k: (",".join(v) if isinstance(v, list) else v) for k, v in params.items() if k != "__conditions__"}
    session = boto3.session.Session(region_name="us-east-1")  # pseudo parameters; no AWS call
    cfn = Translator(managed_policy_map=None, sam_parser=Parser(), boto_session=session).translate(
        doc, parameter_values=sam_params, get_managed_policy_map=lambda: {}
    )
    params["__conditions__"] = cfn.get("Conditions") or {}
    return cfn, params


def transformed(overrides: dict[str, str]) -> dict[str, Any]:
    """The translated template's resources, resolved for these parameters."""
    from localapi.template import resolve_deep

    cfn, params = translate(overrides)
    resources = {}
    for name, resource in cfn["Resources"].items():
        condition = resource.get("Condition")
        if condition and not resolve_deep({"Condition": condition}, params):
            continue
        resources[name] = resolve_deep(resource, params)
    return resources


def _of_type(resources: dict[str, Any], kind: str) -> dict[str, Any]:
    return {name: r for name, r in resources.items() if r["Type"] == kind}


def _no_wildcards(statement: dict[str, Any]) -> None:
    actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
    resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
    assert all("*" not in a for a in actions), statement
    assert all(r != "*" and not str(r).endswith(":*") for r in resources), statement


def test_new_cache_mode_wires_vpc_cache_and_iam_auth() -> None:
    resources = transformed(NEW_CACHE_IAM)
    functions = _of_type(resources, "AWS::Lambda::Function")
    assert len(functions) == 6
    for name, fn in functions.items():
        assert fn["Properties"]["Architectures"] == ["arm64"] and fn["Properties"]["Runtime"] == "python3.13"
        if name in OUT_OF_VPC:  # they need no network (docs) or the AWS APIs (the hook)
            assert "VpcConfig" not in fn["Properties"]
            continue
        vpc = fn["Properties"]["VpcConfig"]
        assert vpc == {"SubnetIds": ["PrivateSubnetA", "PrivateSubnetB"], "SecurityGroupIds": ["FunctionSecurityGroup"]}
        env = fn["Properties"]["Environment"]["Variables"]
        assert (env["REDIS_TLS"], env["REDIS_MODE"], env["REDIS_AUTH"]) == ("true", "cluster", "iam")
        assert env["REDIS_USERNAME"] == "hit-counter-dev-app" and env["REDIS_IAM_CACHE_NAME"] == "hit-counter-dev"
    # The cache admits Redis from the functions' security group, and from nothing else.
    (ingress,) = resources["CacheSecurityGroup"]["Properties"]["SecurityGroupIngress"]
    assert (ingress["FromPort"], ingress["SourceSecurityGroupId"]) == (6379, "FunctionSecurityGroup")
    assert "CidrIp" not in ingress
    cache = resources["Cache"]["Properties"]
    assert cache["SecurityGroupIds"] == ["CacheSecurityGroup"] and cache["UserGroupId"] == "CacheUserGroup"
    # The count lives only in the cache: daily snapshots, a week kept by default.
    assert (str(cache["SnapshotRetentionLimit"]), cache["DailySnapshotTime"]) == ("7", "04:00")
    assert resources["CacheAppUser"]["Properties"]["AuthenticationMode"] == {"Type": "iam"}
    assert "S3GatewayEndpoint" in resources and "SecretsManagerEndpoint" not in resources
    # Each function may connect as its user to its cache, and do nothing else of the kind.
    (statement,) = resources["RedisAccessPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Action"] == "elasticache:Connect"
    assert [r.split(":")[-2] for r in statement["Resource"]] == ["serverlesscache", "user"]
    roles = {k: v for k, v in _of_type(resources, "AWS::IAM::Role").items() if k != "CodeDeployServiceRole"}
    for name, role in roles.items():
        attached = role["Properties"].get("ManagedPolicyArns", [])
        out_of_vpc = name.removesuffix("Role") in OUT_OF_VPC
        assert ("RedisAccessPolicy" in attached) is not out_of_vpc, name
        # Least privilege: no VPC-access policy off the VPC, no X-Ray write while tracing is off.
        assert any("VPCAccess" in str(arn) for arn in attached) is not out_of_vpc, name
        assert not any("Xray" in str(arn) for arn in attached), name
        for policy in role["Properties"].get("Policies", []):
            for st in policy["PolicyDocument"]["Statement"]:
                if st["Action"] == "lambda:InvokeFunction" and name == "PreTrafficHookFunctionRole":
                    # Any version of the four functions it checks (the new version's number
                    # is known only at deploy time), and nothing else.
                    assert st["Resource"] == [f"${{{fn}.Arn}}:*" for fn in HTTP_FUNCTIONS], st
                elif st["Action"] != "s3:GetObject":
                    _no_wildcards(st)
    reads = [
        st
        for role in roles.values()
        for p in role["Properties"].get("Policies", [])
        for st in p["PolicyDocument"]["Statement"]
        if "s3:GetObject" in (st["Action"] if isinstance(st["Action"], list) else [st["Action"]])
    ]
    bucket = "hit-counter-dev-imports-123456789012-us-east-1"
    # The imports API (HEAD) and the worker, each on the logs, the exports and other
    # counters' exports, nothing else.
    assert sorted(st["Resource"].rsplit(":", 1)[-1] for st in reads) == sorted(
        [f"{bucket}/logs/*", f"{bucket}/exports/*", f"{bucket}/imports/*"] * 2
    )


def test_secret_auth_with_snapstart() -> None:
    resources = transformed(NEW_CACHE_SECRET_SNAPSTART)
    assert "SecretsManagerEndpoint" in resources and "RedisSecret" in resources
    (statement,) = resources["RedisAccessPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert (statement["Action"], statement["Resource"]) == ("secretsmanager:GetSecretValue", "RedisSecret")
    for fn in _of_type(resources, "AWS::Lambda::Function").values():
        assert fn["Properties"]["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    worker = next(f for n, f in resources.items() if n == "ImportWorkerFunction")
    assert worker["Properties"]["EphemeralStorage"] == {"Size": 512}  # SnapStart's limit
    assert len(_of_type(resources, "AWS::Lambda::Alias")) == 6  # the live alias SnapStart needs


def test_existing_cache_mode_uses_the_given_network_and_secret() -> None:
    resources = transformed(EXISTING_SECRET)
    assert not {"Vpc", "Cache", "CacheSecurityGroup", "RedisSecret"} & set(resources)
    for name, fn in _of_type(resources, "AWS::Lambda::Function").items():
        if name in OUT_OF_VPC:
            continue
        assert fn["Properties"]["VpcConfig"] == {
            "SubnetIds": ["subnet-0a", "subnet-0b"],
            "SecurityGroupIds": ["sg-0fn"],
        }
        env = fn["Properties"]["Environment"]["Variables"]
        assert (env["REDIS_HOST"], env["REDIS_TLS"], env["REDIS_AUTH"]) == ("cache.internal", "true", "secret")
        assert env["REDIS_SECRET_ID"] == EXISTING_SECRET["RedisSecretArn"]
    (statement,) = resources["RedisAccessPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Resource"] == EXISTING_SECRET["RedisSecretArn"]
    _no_wildcards(statement)


def test_no_auth_and_no_vpc_attaches_nothing() -> None:
    resources = transformed({"DeployMode": "existing-cache", "RedisAuth": "none", "RedisHost": "redis.example"})
    assert "RedisAccessPolicy" not in resources
    for fn in _of_type(resources, "AWS::Lambda::Function").values():
        assert "VpcConfig" not in fn["Properties"]


def test_the_existing_cache_stack_creates_in_motos_cloudformation() -> None:
    """Created for real where moto can: moto has no ApiGatewayV2 in CloudFormation and cannot
    resolve a Ref to SAM's generated alias, so this copy has no AutoPublishAlias."""
    import io
    import zipfile

    import boto3
    from moto import mock_aws

    overrides = {"DeployMode": "existing-cache", "RedisAuth": "none", "RedisHost": "redis.example"}
    cfn, _ = translate(overrides, without_alias=True)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("app.py", "def lambda_handler(event, context):\n    return {}\n")
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="packaged")
        for key in (
            "SharedLayer",
            "DependenciesLayer",
            "HitsFunction",
            "SessionFunction",
            "ImportsFunction",
            "ImportWorkerFunction",
            "DocsFunction",
        ):
            s3.put_object(Bucket="packaged", Key=f"{key}.zip", Body=archive.getvalue())
        cloudformation = boto3.client("cloudformation", region_name="us-east-1")
        cloudformation.create_stack(
            StackName="hit-counter-dev",
            TemplateBody=json.dumps(cfn),
            Capabilities=["CAPABILITY_IAM"],
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in overrides.items()],
        )
        stack = cloudformation.describe_stacks(StackName="hit-counter-dev")["Stacks"][0]
        assert stack["StackStatus"] == "CREATE_COMPLETE"
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
        assert outputs["CacheEndpoint"] == "redis.example"
        lam = boto3.client("lambda", region_name="us-east-1")
        config = lam.get_function_configuration(FunctionName=outputs["HitsFunctionName"])
        # (moto's CloudFormation drops Architectures and Layers; arm64 is checked on the translated template)
        assert (config["Runtime"], config["Handler"]) == ("python3.13", "app.lambda_handler")
        env = config["Environment"]["Variables"]
        assert (env["REDIS_HOST"], env["REDIS_AUTH"], env["KEY_PREFIX"]) == ("redis.example", "none", "dev:")
        assert (config["Timeout"], config["MemorySize"]) == (10, 128)  # from Globals, as make bench chose
        # (moto neither attaches nor names layers from CloudFormation; both must exist)
        assert len(lam.list_layers()["Layers"]) == 2
        # (moto keeps no public access block from CloudFormation: checked on the template above)
        s3.head_bucket(Bucket=outputs["ImportsBucketName"])
        logs = boto3.client("logs", region_name="us-east-1")
        groups = logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/hit-counter-dev-")["logGroups"]
        assert {g["retentionInDays"] for g in groups} == {14} and len(groups) == 5


def test_only_the_import_routes_need_aws_iam() -> None:
    """SAM's translator gives every route `security: none` unless told: the import routes must
    carry the IAM authorizer in every deploy mode, and the public routes must not."""
    for overrides in (NEW_CACHE_IAM, EXISTING_SECRET):
        body = transformed(overrides)["HttpApi"]["Properties"]["Body"]
        secured = {
            (method.upper(), path)
            for path, operations in body["paths"].items()
            for method, operation in operations.items()
            if operation.get("security") == [{"AWS_IAM": []}]
        }
        assert secured == SIGNED_ROUTES


def test_cost_and_load_are_bounded_and_requests_logged() -> None:
    resources = transformed(NEW_CACHE_IAM)
    stage = next(r for r in resources.values() if r["Type"] == "AWS::ApiGatewayV2::Stage")["Properties"]
    # Each route is its own bucket: GET / gets ThrottleRateLimit, every other route the lower
    # RouteThrottleRateLimit, the history's routes their own.
    assert stage["DefaultRouteSettings"] == {"ThrottlingRateLimit": "10", "ThrottlingBurstLimit": "20"}
    history_limits = {"ThrottlingRateLimit": "10", "ThrottlingBurstLimit": "20"}
    page_limits = {"ThrottlingRateLimit": "20", "ThrottlingBurstLimit": "40"}
    limits = {
        "root": {"ThrottlingRateLimit": "100", "ThrottlingBurstLimit": "200"},
        "page": page_limits,
        "history": history_limits,
    }
    assert stage["RouteSettings"] == {
        f"{method} {path}": limits[spec.throttle] for (method, path), spec in ROUTES.items() if spec.throttle != "route"
    }
    access = stage["AccessLogSettings"]
    raw_stage = next(
        r for r in translate(NEW_CACHE_IAM)[0]["Resources"].values() if r["Type"] == "AWS::ApiGatewayV2::Stage"
    )
    assert raw_stage["Properties"]["AccessLogSettings"]["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogs", "Arn"]}
    fields = json.loads(access["Format"])
    assert set(fields) == {"id", "ip", "route", "status", "ms", "err", "t"}
    assert resources["ApiAccessLogs"]["Properties"]["RetentionInDays"] == "14"
    worker = resources["ImportWorkerFunction"]["Properties"]
    assert worker["ReservedConcurrentExecutions"] == "2"  # imports never take the hit counter's share
    limits = resources["Cache"]["Properties"]["CacheUsageLimits"]
    assert limits == {
        "DataStorage": {"Maximum": "12", "Unit": "GB"},
        "ECPUPerSecond": {"Maximum": "5000"},
    }


def test_the_bucket_refuses_plain_http_and_listing_is_limited_to_logs() -> None:
    resources = transformed(NEW_CACHE_IAM)
    (deny,) = resources["ImportsBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert (deny["Effect"], deny["Action"], deny["Condition"]) == (
        "Deny",
        "s3:*",
        {"Bool": {"aws:SecureTransport": "false"}},
    )
    for name in ("ImportsFunction", "ImportWorkerFunction"):
        role = resources[f"{name}Role"]["Properties"]
        statements = [st for p in role.get("Policies", []) for st in p["PolicyDocument"]["Statement"]]
        (listing,) = [st for st in statements if st["Action"] == "s3:ListBucket"]
        assert listing["Condition"] == {"StringLike": {"s3:prefix": ["logs/*", "exports/*", "imports/*"]}}


# --- operations: alarms, dashboard, gradual deployment ------------------------------------

# The metric names and dimensions each namespace really publishes. HTTP APIs publish `5xx`,
# `4xx`, `Latency` per ApiId and Stage; `5XXError` and `ApiName` are the REST API's and never
# fire for an HTTP API.
EMITTED = {
    "AWS/ApiGateway": ({"5xx", "4xx", "Latency", "IntegrationLatency", "Count"}, {"ApiId", "Stage"}),
    "AWS/Lambda": ({"Errors", "Throttles", "ConcurrentExecutions", "Invocations", "Duration"}, {"FunctionName"}),
    "AWS/ElastiCache": (
        {"ThrottledCmds", "AuthenticationFailures", "ElastiCacheProcessingUnits", "BytesUsedForCache"},
        {"clusterId"},
    ),
}


def _app_metrics() -> set[str]:
    """The names the code passes to count_metric: the only metrics of the app's namespace."""
    import re

    code = ROOT / "layers" / "shared" / "python" / "hitcounter"
    sources = [*code.rglob("*.py"), *(ROOT / "functions").glob("*/app.py")]
    return {m for path in sources for m in re.findall(r'count_metric\("(\w+)"', path.read_text())}


def _filter_metrics() -> set[str]:
    """The app's metrics made by a metric filter on a log group (no dimension)."""
    from cfnlint.decode import cfn_yaml

    doc = cfn_yaml.load(str(ROOT / "template.yaml"))
    return {
        t["MetricName"]
        for r in doc["Resources"].values()
        if r["Type"] == "AWS::Logs::MetricFilter"
        for t in r["Properties"]["MetricTransformations"]
    }


def _check_metric(namespace: str, name: str, dimensions: dict[str, Any]) -> None:
    if namespace == "TwelveFactorHits" and name in _filter_metrics():
        assert dimensions == {}, (name, dimensions)
        return
    if namespace == "TwelveFactorHits":  # Powertools' default dimension: the service name
        assert name in _app_metrics() and dimensions == {"service": "hit-counter"}, (name, dimensions)
        return
    names, dims = EMITTED[namespace]
    assert name in names and set(dimensions) <= dims and dimensions, (namespace, name, dimensions)


def test_every_alarm_watches_a_metric_that_exists_and_notifies_the_topic() -> None:
    for mode in (NEW_CACHE_IAM, EXISTING_SECRET):
        resources = transformed(mode)
        alarms = _of_type(resources, "AWS::CloudWatch::Alarm")
        assert ("CacheThrottledAlarm" in alarms) is (mode is NEW_CACHE_IAM)
        for name, alarm in alarms.items():
            props = alarm["Properties"]
            assert props["AlarmActions"] == ["AlarmTopic"], name
            assert props["TreatMissingData"] == "notBreaching", name
            stats = [m["MetricStat"]["Metric"] for m in props.get("Metrics", []) if "MetricStat" in m]
            if not stats:
                stats = [props]
            for metric in stats:
                dims = {d["Name"]: d["Value"] for d in metric["Dimensions"]}
                _check_metric(metric["Namespace"], metric["MetricName"], dims)
        # Each function has its errors alarm; one alarm sums every function's throttles.
        functions = set(_of_type(resources, "AWS::Lambda::Function")) - {"PreTrafficHookFunction"}
        errors = {
            a["Properties"]["Dimensions"][0]["Value"]
            for a in alarms.values()
            if a["Properties"].get("MetricName") == "Errors"
        }
        assert errors == functions
        throttled = {
            m["MetricStat"]["Metric"]["Dimensions"][0]["Value"]
            for m in alarms["ThrottlesAlarm"]["Properties"]["Metrics"]
            if "MetricStat" in m
        }
        assert throttled == functions
        api = alarms["ApiServerErrorsAlarm"]["Properties"]
        assert (api["MetricName"], api["Dimensions"]) == (
            "5xx",
            [{"Name": "ApiId", "Value": "HttpApi"}, {"Name": "Stage", "Value": "$default"}],
        )


def test_the_alarm_topic_mails_only_when_asked_and_keeps_what_it_cannot_deliver() -> None:
    assert "AlarmEmailSubscription" not in transformed(NEW_CACHE_IAM)
    resources = transformed({**NEW_CACHE_IAM, "AlarmEmail": "oncall@example.com"})
    subscription = resources["AlarmEmailSubscription"]["Properties"]
    assert (subscription["Protocol"], subscription["Endpoint"]) == ("email", "oncall@example.com")
    raw = translate({**NEW_CACHE_IAM, "AlarmEmail": "oncall@example.com"})[0]["Resources"]["AlarmEmailSubscription"]
    assert raw["Properties"]["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["AlarmDeliveryFailuresQueue", "Arn"]}
    }
    (allow, deny) = resources["AlarmTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert allow["Principal"] == {"Service": "cloudwatch.amazonaws.com"} and allow["Action"] == "sns:Publish"
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_the_dashboard_shows_only_metrics_that_exist() -> None:
    from cfnlint.decode import cfn_yaml

    doc = cfn_yaml.load(str(ROOT / "template.yaml"))
    body, _ = doc["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    widgets = json.loads(body)["widgets"]
    seen = set()
    for widget in widgets:
        for metric in widget["properties"]["metrics"]:
            parts = [p for p in metric if isinstance(p, str)]
            namespace, name, *pairs = parts
            _check_metric(namespace, name, dict(zip(pairs[::2], pairs[1::2], strict=True)))
            seen.add(name)
    # What the issue asks to see: the API's errors and latency, each function's errors,
    # throttles and concurrency, the app's own counts, the cache's throttling, auth and ECPUs.
    assert {"5xx", "4xx", "Latency", "Errors", "Throttles", "ConcurrentExecutions"} <= seen
    assert {"Hits", "CounterStarted", "BackendUnavailable"} <= seen
    assert {"ThrottledCmds", "AuthenticationFailures", "ElastiCacheProcessingUnits"} <= seen


def test_releases_go_out_gradually_behind_the_pre_traffic_hook() -> None:
    stages = (("dev", "CodeDeployDefault.LambdaAllAtOnce"), ("prod", "CodeDeployDefault.LambdaCanary10Percent5Minutes"))
    for stage, config in stages:
        cfn, _ = translate({**NEW_CACHE_IAM, "Stage": stage})
        resources = transformed({**NEW_CACHE_IAM, "Stage": stage})
        groups = _of_type(resources, "AWS::CodeDeploy::DeploymentGroup")
        assert set(groups) == {f"{fn}DeploymentGroup" for fn in HTTP_FUNCTIONS}
        for fn in HTTP_FUNCTIONS:
            group = cfn["Resources"][f"{fn}DeploymentGroup"]["Properties"]
            chosen = group["DeploymentConfigName"]["Fn::If"][1 if stage == "prod" else 2]["Fn::Sub"]
            assert chosen[0].replace("${ConfigName}", chosen[1]["ConfigName"]) == config
            alarms = [a["Name"]["Ref"] for a in group["AlarmConfiguration"]["Alarms"]]
            assert alarms == [f"{fn.removesuffix('Function')}ErrorsAlarm", "BackendUnavailableAlarm"]
            assert "DEPLOYMENT_STOP_ON_ALARM" in group["AutoRollbackConfiguration"]["Events"]
            update = cfn["Resources"][f"{fn}Aliaslive"]["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]
            assert update["BeforeAllowTrafficHook"] == {"Ref": "PreTrafficHookFunction"}
    hook = resources["PreTrafficHookFunction"]["Properties"]
    # AWSCodeDeployRoleForLambda (CodeDeploy's role, from SAM) invokes only CodeDeployHook_*.
    assert hook["FunctionName"].startswith("CodeDeployHook_")
    assert "DeploymentPreference" not in cfn["Resources"]["PreTrafficHookFunction"].get("Properties", {})
    role = resources["PreTrafficHookFunctionRole"]["Properties"]
    statements = [st for p in role["Policies"] for st in p["PolicyDocument"]["Statement"]]
    report = next(st for st in statements if st["Sid"] == "ReadTheDeploymentAndReport")
    assert report["Action"] == ["codedeploy:GetDeployment", "codedeploy:PutLifecycleEventHookExecutionStatus"]
    assert report["Resource"].endswith(":deploymentgroup:ServerlessDeploymentApplication/*")


def test_the_serverless_rules_run_and_would_catch_a_lost_failure_destination(tmp_path: Path) -> None:
    """make lint's cfn-lint loads cfn-lint-serverless (.cfnlintrc): without the worker's
    on-failure destination, ES1007 fails the lint."""
    text = (ROOT / "template.yaml").read_text()
    start = text.index("      EventInvokeConfig:\n")
    end = text.index("      # For CPU, not memory", start)
    broken = tmp_path / "template.yaml"
    broken.write_text(text[:start] + text[end:])
    result = _run(str(ROOT / ".venv" / "bin" / "cfn-lint"), str(broken))
    assert result.returncode != 0 and "ES1007" in result.stdout, result.stdout


def test_the_cache_outlives_a_replacing_update_or_a_stack_deletion() -> None:
    resources = translate(NEW_CACHE_IAM)[0]["Resources"]
    cache = resources["Cache"]
    assert (cache["DeletionPolicy"], cache["UpdateReplacePolicy"]) == ("Retain", "Retain")
    # A new cache can start from a snapshot (the way back after a loss), and by default does not.
    assert "SnapshotArnsToRestore" not in transformed(NEW_CACHE_IAM)["Cache"]["Properties"]
    arn = "arn:aws:elasticache:us-east-1:123456789012:serverlesscachesnapshot:hit-counter-dev-2026-12-01"
    restored = transformed({**NEW_CACHE_IAM, "CacheRestoreSnapshotArn": arn})["Cache"]["Properties"]
    assert restored["SnapshotArnsToRestore"] == [arn]


def test_imported_logs_expire_and_abandoned_uploads_are_cleaned() -> None:
    rules = {
        r["Id"]: r for r in transformed(NEW_CACHE_IAM)["ImportsBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    }
    assert rules["ExpireImportedLogs"] == {
        "Id": "ExpireImportedLogs",
        "Status": "Enabled",
        "Prefix": "logs/",
        "ExpirationInDays": "30",
        "NoncurrentVersionExpiration": {"NoncurrentDays": 1},  # an imported log's old versions too
    }
    assert rules["AbortIncompleteUploads"]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}


def test_exports_survive_what_an_operator_does_and_writes_are_recorded() -> None:
    # The bucket holds the only copy of the numbers beyond the cache's snapshots (#28): kept
    # with the stack gone or replaced, versioned (an `aws s3 rm --recursive` leaves versions
    # behind, recoverable ExportVersionRetentionDays), every write in its access log.
    resources = transformed(NEW_CACHE_IAM)
    bucket = resources["ImportsBucket"]
    assert (bucket["DeletionPolicy"], bucket["UpdateReplacePolicy"]) == ("Retain", "Retain")
    props = bucket["Properties"]
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    rules = {r["Id"]: r for r in props["LifecycleConfiguration"]["Rules"]}
    assert "ExpirationInDays" not in rules["KeepOldExportsAWhile"]  # current exports are never expired
    assert rules["KeepOldExportsAWhile"]["Prefix"] == "exports/"
    assert rules["KeepOldExportsAWhile"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": "90"}
    logging = props["LoggingConfiguration"]
    assert logging["DestinationBucketName"] == "ImportsAccessLogBucket"  # a Ref, resolved to its name here
    logs = resources["ImportsAccessLogBucket"]
    assert (logs["DeletionPolicy"], logs["UpdateReplacePolicy"]) == ("Retain", "Retain")
    assert logs["Properties"]["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"] == "14"
    assert logs["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
        "ServerSideEncryptionByDefault"
    ] == {"SSEAlgorithm": "AES256"}  # what S3 server access logging delivers to
    delivery = resources["ImportsAccessLogBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    assert delivery["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert "aws:SourceAccount" in delivery["Condition"]["StringEquals"]
    queue = resources["ImportFailuresQueue"]
    assert (queue["DeletionPolicy"], queue["UpdateReplacePolicy"]) == ("Retain", "Retain")


def test_the_readmes_retention_figures_are_samconfigs() -> None:
    import tomllib

    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    prod = dict(item.split("=", 1) for item in config["prod"]["deploy"]["parameters"]["parameter_overrides"].split())
    dev = dict(item.split("=", 1) for item in config["dev"]["deploy"]["parameters"]["parameter_overrides"].split())
    default = cfn_yaml.load(str(ROOT / "template.yaml"))["Parameters"]["LogRetentionDays"]["Default"]
    readme = (ROOT / "README.md").read_text()
    assert f"`LogRetentionDays`: {default} days by default and in `dev`, {prod['LogRetentionDays']} in `prod`" in readme
    assert "LogRetentionDays" not in dev
    assert prod["EdgeProtection"] == "true"  # production runs behind the edge


def test_a_session_ttl_past_two_hours_is_refused_by_the_template_and_the_function() -> None:
    from cfnlint.decode import cfn_yaml

    from hitcounter.core.errors import ConfigError
    from hitcounter.core.settings import load_settings

    parameter = cfn_yaml.load(str(ROOT / "template.yaml"))["Parameters"]["SessionTtlSeconds"]
    assert parameter["MaxValue"] == 2 * 3600
    assert load_settings({"SESSION_TTL_SECONDS": "7200"}).session_ttl_seconds == 7200
    with pytest.raises(ConfigError, match="SESSION_TTL_SECONDS"):
        load_settings({"SESSION_TTL_SECONDS": "7201"})


def test_other_origins_may_read_without_credentials() -> None:
    api = next(r for r in translate(NEW_CACHE_IAM)[0]["Resources"].values() if r["Type"] == "AWS::ApiGatewayV2::Api")
    # SAM writes the configuration into the API's OpenAPI body, as API Gateway's extension.
    cors = api["Properties"]["Body"]["x-amazon-apigateway-cors"]
    assert cors["allowOrigins"] == ["*"] and cors["allowMethods"] == ["GET"]
    assert not cors.get("allowCredentials")


def test_every_function_logs_json_without_the_platforms_per_request_lines() -> None:
    # Chosen and measured in BENCHMARKS.md: the function writes nothing per warm hit, and
    # Lambda's START/END/REPORT lines (INFO) are dropped; warnings and errors still pass.
    resources = transformed(NEW_CACHE_IAM)
    functions = _of_type(resources, "AWS::Lambda::Function")
    for name, function in functions.items():
        config = function["Properties"]["LoggingConfig"]
        assert (config["LogFormat"], config["ApplicationLogLevel"], config["SystemLogLevel"]) == (
            "JSON",
            "INFO",
            "WARN",
        ), name
        if name != "PreTrafficHookFunction":
            assert "LogGroup" in config, name


def test_the_edge_puts_a_per_client_rule_and_a_brief_badge_cache_in_front_of_the_api() -> None:
    resources = transformed({**NEW_CACHE_IAM, "EdgeProtection": "true"})
    assert not {"EdgeDistribution", "EdgeWebAcl"} & set(transformed(NEW_CACHE_IAM))  # off by default
    rule, proxy = resources["EdgeWebAcl"]["Properties"]["Rules"]
    assert resources["EdgeWebAcl"]["Properties"]["Scope"] == "CLOUDFRONT"
    per_client = rule["Statement"]["RateBasedStatement"]
    assert (per_client["AggregateKeyType"], per_client["EvaluationWindowSec"], per_client["Limit"]) == ("IP", 60, "100")
    camo = per_client["ScopeDownStatement"]["NotStatement"]["Statement"]["ByteMatchStatement"]
    assert (camo["PositionalConstraint"], camo["SearchString"]) == ("STARTS_WITH", "github-camo")
    # GitHub's image proxy: its own, higher bound per address, for the same agent.
    assert proxy["Statement"]["RateBasedStatement"]["Limit"] == "1200"
    assert proxy["Statement"]["RateBasedStatement"]["ScopeDownStatement"]["ByteMatchStatement"] == camo
    assert rule["Action"]["Block"]["CustomResponse"]["ResponseCode"] == 429
    config = resources["EdgeDistribution"]["Properties"]["DistributionConfig"]
    raw = cfn_yaml.load(str(ROOT / "template.yaml"))["Resources"]["EdgeDistribution"]["Properties"]
    assert raw["DistributionConfig"]["WebACLId"] == {
        "Fn::If": ["EdgeMakesWebAcl", {"Fn::GetAtt": ["EdgeWebAcl", "Arn"]}, {"Ref": "EdgeWebAclArn"}]
    }  # never none: outside us-east-1 the template's rule asks for EdgeWebAclArn
    (origin,) = config["Origins"]
    assert origin["OriginCustomHeaders"][0]["HeaderName"] == "X-Origin-Verify"
    # One cache behaviour per badge route (make dev's emulation keys on the same query strings).
    from localapi import edge

    badge_routes = {path.replace("{page}", "*") for (_, path) in ROUTES if path.endswith("/badge.svg")}
    behaviours = {b["PathPattern"]: b for b in config["CacheBehaviors"]}
    assert set(behaviours) == {*badge_routes, "/count.js"}
    assert behaviours["/count.js"]["CachePolicyId"] == "658327ea-f89d-4fab-a63d-7e88639e58f6"  # CachingOptimized
    for badges in (behaviours[path] for path in badge_routes):
        assert badges["AllowedMethods"] == ["GET", "HEAD", "OPTIONS"]
        assert badges["CachePolicyId"] in ("EdgeBadgeCachePolicy", {"Ref": "EdgeBadgeCachePolicy"})
        assert edge.BADGE_PATH.match(badges["PathPattern"].replace("*", "a-page"))
    policy = resources["EdgeBadgeCachePolicy"]["Properties"]["CachePolicyConfig"]
    assert (policy["MinTTL"], policy["DefaultTTL"], policy["MaxTTL"]) == (0, 0, 10)
    keyed = policy["ParametersInCacheKeyAndForwardedToOrigin"]["QueryStringsConfig"]
    assert keyed == {"QueryStringBehavior": "whitelist", "QueryStrings": list(edge.CACHE_KEY_QUERY)}
    forwarded = resources["EdgeOriginRequestPolicy"]["Properties"]["OriginRequestPolicyConfig"]["HeadersConfig"]
    assert "CloudFront-Viewer-Address" in forwarded["Headers"] and "Host" not in forwarded["Headers"]
    # Every function is told the secret, so it can trust CloudFront-Viewer-Address.
    hits = resources["HitsFunction"]["Properties"]["Environment"]["Variables"]
    assert "resolve:secretsmanager" in json.dumps(hits["EDGE_ORIGIN_SECRET"])
    assert "EdgeUrl" in (translate({**NEW_CACHE_IAM, "EdgeProtection": "true"})[0]["Outputs"])


def test_each_alarm_on_the_apps_own_metrics_watches_one_the_code_emits() -> None:
    """An alarm on a metric nobody emits never fires: each TwelveFactorHits alarm's metric is
    one a ``count_metric`` call of the layer names (or the access log's metric filter)."""
    source = "".join(p.read_text() for p in (ROOT / "layers/shared/python/hitcounter").rglob("*.py"))
    emitted = set(re.findall(r'count_metric\("([A-Za-z]+)"', source)) | {"Hits"}
    doc = cfn_yaml.load(str(ROOT / "template.yaml"))
    watched = {
        name: res["Properties"]["MetricName"]
        for name, res in doc["Resources"].items()
        if res["Type"] == "AWS::CloudWatch::Alarm" and res["Properties"].get("Namespace") == "TwelveFactorHits"
    }
    assert {"ForeignOriginAlarm", "PageDeletedAlarm", "CounterStartedAlarm"} <= set(watched)
    assert {name: metric for name, metric in watched.items() if metric not in emitted} == {}
