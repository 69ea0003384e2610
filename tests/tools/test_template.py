"""The packaged template of each deployed stage and access mode (`make package`), and what SAM makes of it: table,
role, log groups, API stage, access, TLS, throttling, alarms and errors, and the code zip."""

import compileall
import importlib.util
import json
import os
import re
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from chalicelib.store.table import TABLE_DEFINITION, TTL_ATTRIBUTE
from scripts.deploy import ACCESS_MODES, DeployError, parameters
from scripts.local_stack import ROOT, stage_environment
from tests.support.portal import STAGE
from tests.support.sam import sam_translate

DEPLOYED_STAGES = ["dev", "prod"]
GATEWAY_HEADERS = {
    "Access-Control-Allow-Origin": "method.request.header.Origin",
    "Access-Control-Expose-Headers": "'Location, Retry-After'",
    "Vary": "'Origin'",
    "Cache-Control": "'no-store'",
    "X-Content-Type-Options": "'nosniff'",
    "Strict-Transport-Security": "'max-age=31536000; includeSubDomains'",
}
# The DynamoDB operations the app calls, and the IAM actions each needs.
ACTIONS_FOR_OPERATION = {
    "BatchGetItem": {"dynamodb:BatchGetItem"},
    "BatchWriteItem": {"dynamodb:BatchWriteItem"},
    "DeleteItem": {"dynamodb:DeleteItem"},
    "GetItem": {"dynamodb:GetItem"},
    "PutItem": {"dynamodb:PutItem"},
    "Query": {"dynamodb:Query"},
    "UpdateItem": {"dynamodb:UpdateItem"},
    # IAM checks each item of a transaction: ours are Puts and Updates, and the reset's Deletes.
    "TransactWriteItems": {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"},
}
TABLE_ARN = {"Fn::GetAtt": ["StudyTable", "Arn"]}


@pytest.fixture(scope="session")
def packages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, str]]:
    """`make package` for each deployed stage, as the deploy runs it: its build folder and what it printed."""
    # What any local run leaves: compiled files beside the code, which must not reach the zip.
    compileall.compile_dir(ROOT / "chalicelib", quiet=1)
    assert list((ROOT / "chalicelib" / "__pycache__").glob("*.pyc"))
    packaged = {}
    for stage in DEPLOYED_STAGES:
        build = tmp_path_factory.mktemp(f"package-{stage}") / "build"
        result = subprocess.run(
            ["make", "--no-print-directory", "-C", str(ROOT), "package", f"STAGE={stage}", f"BUILD={build}"],
            check=True,
            capture_output=True,
            text=True,
            # As a developer's shell runs it: Python writes bytecode wherever it imports from.
            env={name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"},
        )
        packaged[stage] = build, result.stdout + result.stderr
    return packaged


@pytest.fixture(scope="session")
def templates(packages: dict[str, tuple[Path, str]]) -> dict[str, dict[str, Any]]:
    """The SAM template `make package` wrote for each deployed stage, in the default access mode."""
    return {stage: yaml.safe_load((build / "sam.yaml").read_text()) for stage, (build, _) in packages.items()}


@pytest.fixture(scope="session")
def modes(
    templates: dict[str, dict[str, Any]], tmp_path_factory: pytest.TempPathFactory
) -> dict[tuple[str, str], dict[str, Any]]:
    """`make package ACCESS=...` for each stage and the other access modes; the default's is `templates`."""
    packaged = {(stage, "iam"): template for stage, template in templates.items()}
    for stage in DEPLOYED_STAGES:
        for access in ("ip", "public"):
            build = tmp_path_factory.mktemp(f"package-{stage}-{access}") / "build"
            subprocess.run(
                [
                    "make",
                    "--no-print-directory",
                    "-C",
                    str(ROOT),
                    "package",
                    f"STAGE={stage}",
                    f"ACCESS={access}",
                    f"BUILD={build}",
                ],
                check=True,
                capture_output=True,
            )
            packaged[stage, access] = yaml.safe_load((build / "sam.yaml").read_text())
    return packaged


@pytest.fixture(scope="session")
def translated(modes: dict[tuple[str, str], dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """What SAM makes of each packaged template on deploy."""
    return {key: sam_translate(template) for key, template in modes.items()}


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
def test_the_zip_holds_the_app_and_chalicelib_sources_each_with_bytecode_of_exactly_that_source(
    packages, stage, templates
):
    build, _ = packages[stage]
    with zipfile.ZipFile(build / "deployment.zip") as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
        assert len(files) == len(archive.namelist())  # no name twice (which one Lambda would unpack is unsaid)
    sources = {path.relative_to(ROOT).as_posix() for path in (ROOT / "chalicelib").rglob("*.py")}
    assert sources | {"app.py"} <= set(files)
    assert not any(name.startswith(("boto3/", "botocore/")) for name in files)
    runtime = templates[stage]["Resources"]["APIHandler"]["Properties"]["Runtime"]  # python3.11
    tag = f"cpython-{runtime.removeprefix('python').replace('.', '')}"
    expected = {
        importlib.util.cache_from_source(name).replace(sys.implementation.cache_tag, tag): name
        for name in files
        if name.endswith(".py")
    }
    # Only these: the stale local ones the fixture compiled stay out.
    assert {name for name in files if "__pycache__" in name or name.endswith(".pyc")} == set(expected)
    for pyc, source in expected.items():
        flags, source_hash = int.from_bytes(files[pyc][4:8], "little"), files[pyc][8:16]
        assert files[pyc][:4] == importlib.util.MAGIC_NUMBER and flags == 0b01  # hash-based, not checked
        assert source_hash == importlib.util.source_hash(files[source])


def test_python_runs_the_packaged_bytecode_without_compiling_the_sources(packages, tmp_path):
    build, _ = packages["dev"]
    with zipfile.ZipFile(build / "deployment.zip") as archive:
        archive.extractall(tmp_path)
    # Were the source compiled, this line would stop the import; the unchecked bytecode never looks at it.
    with (tmp_path / "app.py").open("a") as source:
        source.write("\nraise SystemExit('compiled from source')\n")
    result = subprocess.run(
        [sys.executable, "-c", "import app; print(app.app.app_name)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PYTHONDONTWRITEBYTECODE": "1", "PATH": "", "TMPDIR": os.environ["TMPDIR"]},
    )
    assert (result.returncode, result.stdout) == (0, "study-portal\n"), result.stderr


# What the Lambda imports, as Lambda imports it: from the unzipped package, its own files first on the path.
_IMPORTED_FROM_PACKAGE = """
import json, os, sys
import app
root = os.getcwd() + os.sep
print(json.dumps(sorted(os.path.relpath(module.__file__, root) for module in list(sys.modules.values())
                        if (getattr(module, "__file__", None) or "").startswith(root))))
"""


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
def test_the_zip_holds_exactly_the_modules_the_app_imports(packages, stage, tmp_path):
    build, _ = packages[stage]
    with zipfile.ZipFile(build / "deployment.zip") as archive:
        archive.extractall(tmp_path)
        packaged = {name for name in archive.namelist() if name.endswith(".py")}
    result = subprocess.run(
        [sys.executable, "-c", _IMPORTED_FROM_PACKAGE],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PYTHONDONTWRITEBYTECODE": "1", "PATH": "", "TMPDIR": os.environ["TMPDIR"]},
        check=True,
    )
    imported = set(json.loads(result.stdout))
    assert "chalicelib/store/repository.py" in imported and "chalice/app.py" in imported
    assert packaged == imported, f"packaged, never imported: {sorted(packaged - imported)}"


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
def test_make_package_says_what_it_wrote_in_one_line(packages, stage):
    build, output = packages[stage]
    size_kb = (build / "deployment.zip").stat().st_size / 1024
    assert re.fullmatch(
        rf"make package: {re.escape(str(build))}/sam.yaml and deployment.zip \((\d+) KB, \d+ files\) "
        rf"for stage {stage}, access iam\n",
        output,
    )
    assert abs(int(re.search(r"\((\d+) KB", output).group(1)) - size_kb) < 1


def resource(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    return template["Resources"][logical_id]


def role_statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    [policy] = resource(template, "ApiHandlerRole")["Properties"]["Policies"]
    return policy["PolicyDocument"]["Statement"]


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
def test_the_function_takes_its_table_from_the_table_resource_and_its_origins_from_a_required_parameter(
    templates, stage
):
    variables = resource(templates[stage], "APIHandler")["Properties"]["Environment"]["Variables"]
    assert variables == {
        "TABLE_NAME": {"Ref": "StudyTable"},
        "CORS_ALLOW_ORIGINS": {"Ref": "CorsAllowOrigins"},
        "ALLOW_RESET": {"Ref": "AllowReset"},
    }
    # Off on every deployed stage unless the deploy says ALLOW_RESET=true.
    assert templates[stage]["Parameters"]["AllowReset"]["Default"] == "false"
    parameter = templates[stage]["Parameters"]["CorsAllowOrigins"]
    assert "Default" not in parameter  # a deployment must name its origins; no placeholder ships
    pattern = re.compile(parameter["AllowedPattern"])
    assert pattern.fullmatch("https://portal.example.org") and pattern.fullmatch("http://localhost:5173,http://a:8080")
    assert not pattern.fullmatch("") and not pattern.fullmatch("portal.example.org")


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
def test_the_table_has_the_key_design_of_chalicelib_table_on_demand(templates, stage):
    table = resource(templates[stage], "StudyTable")
    assert table["Type"] == "AWS::DynamoDB::Table"
    assert {name: table["Properties"][name] for name in TABLE_DEFINITION} == TABLE_DEFINITION
    assert TABLE_DEFINITION["BillingMode"] == "PAY_PER_REQUEST"


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
def test_the_table_expires_key_records_keeps_point_in_time_recovery_and_is_encrypted(templates, stage):
    properties = resource(templates[stage], "StudyTable")["Properties"]
    assert properties["TimeToLiveSpecification"] == {"AttributeName": TTL_ATTRIBUTE, "Enabled": True}
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert properties["SSESpecification"] == {"SSEEnabled": True}


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
def test_only_the_prod_table_is_protected_from_deletion(templates, stage):
    template = templates[stage]
    assert template["Parameters"]["Stage"]["AllowedValues"] == DEPLOYED_STAGES
    assert template["Conditions"]["IsProd"] == {"Fn::Equals": [{"Ref": "Stage"}, "prod"]}
    assert resource(template, "StudyTable")["Properties"]["DeletionProtectionEnabled"] == {
        "Fn::If": ["IsProd", True, False]
    }


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
def test_the_function_runs_as_the_one_role_of_the_template(templates, stage):
    template = templates[stage]
    assert resource(template, "APIHandler")["Properties"]["Role"] == {"Fn::GetAtt": ["ApiHandlerRole", "Arn"]}
    roles = [name for name, body in template["Resources"].items() if body["Type"].startswith("AWS::IAM::")]
    assert roles == ["ApiHandlerRole"]
    assert "ManagedPolicyArns" not in resource(template, "ApiHandlerRole")["Properties"]


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
def test_the_role_grants_exactly_the_dynamodb_actions_the_code_calls_on_the_table_and_its_indexes(templates, stage):
    statements = role_statements(templates[stage])
    [dynamodb] = [s for s in statements if any(action.startswith("dynamodb:") for action in s["Action"])]
    assert sorted(dynamodb["Action"]) == sorted(set().union(*ACTIONS_FOR_OPERATION.values()))
    assert dynamodb["Resource"] == [TABLE_ARN, {"Fn::Sub": "${StudyTable.Arn}/index/*"}]
    for statement in statements:
        assert statement["Effect"] == "Allow"
        assert not any("*" in action for action in statement["Action"])


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
def test_the_role_writes_only_to_the_functions_log_group_created_first_with_a_retention(templates, stage):
    template = templates[stage]
    [logs] = [s for s in role_statements(template) if any(action.startswith("logs:") for action in s["Action"])]
    assert sorted(logs["Action"]) == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert logs["Resource"] == {"Fn::GetAtt": ["APIHandlerLogGroup", "Arn"]}
    group = resource(template, "APIHandlerLogGroup")["Properties"]
    function = resource(template, "APIHandler")
    # Lambda writes to /aws/lambda/<function name>: the group must be that one, and exist before the function.
    assert group["LogGroupName"] == {"Fn::Sub": "/aws/lambda/${AWS::StackName}"}
    assert function["Properties"]["FunctionName"] == {"Ref": "AWS::StackName"}
    assert function["DependsOn"] == "APIHandlerLogGroup"
    assert group["RetentionInDays"] == {"Fn::If": ["IsProd", 90, 14]}


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
def test_the_api_stage_throttles_every_method(templates, stage):
    template = templates[stage]
    [settings] = resource(template, "RestAPI")["Properties"]["MethodSettings"]
    assert settings == {
        "ResourcePath": "/*",
        "HttpMethod": "*",
        "ThrottlingRateLimit": {"Ref": "ThrottlingRateLimit"},
        "ThrottlingBurstLimit": {"Ref": "ThrottlingBurstLimit"},
    }
    parameters = template["Parameters"]
    # Sized for one learner: the portal's busiest page sends a handful of requests at once.
    assert (parameters["ThrottlingRateLimit"]["Default"], parameters["ThrottlingBurstLimit"]["Default"]) == (10, 20)


SIGNED_ONLY = (
    '{"error": "Forbidden: requests must be signed with AWS SigV4 (make proxy signs the portal\'s), to a route of'
    ' this API"}'
)


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
@pytest.mark.parametrize("access", ACCESS_MODES)
@pytest.mark.parametrize(
    "response_type, status_code, body, extra_headers",
    [
        ("DEFAULT_4XX", None, '{"error": $context.error.messageString}', {}),
        ("DEFAULT_5XX", None, '{"error": $context.error.messageString}', {}),
        # A fixed message: API Gateway's own names the account and the API's ARN to whoever it refuses.
        ("ACCESS_DENIED", "403", '{"error": "Forbidden: this API does not accept requests from this caller"}', {}),
        ("THROTTLED", "429", '{"error": "Too many requests; retry shortly"}', {"Retry-After": "'1'"}),
        # An unknown path or method (and, behind AWS_IAM, an unsigned request): "Missing Authentication Token".
        ("MISSING_AUTHENTICATION_TOKEN", "404", '{"error": "Not found"}', {}),
    ],
)
def test_api_gateway_errors_carry_cors_and_security_headers_and_the_error_shape(
    modes, stage, access, response_type, status_code, body, extra_headers
):
    response = resource(modes[stage, access], "RestAPI")["Properties"]["GatewayResponses"][response_type]
    if response_type == "MISSING_AUTHENTICATION_TOKEN" and access == "iam":
        status_code, body = "403", SIGNED_ONLY
    assert response.get("StatusCode") == status_code
    assert response["ResponseParameters"]["Headers"] == {**GATEWAY_HEADERS, **extra_headers}
    assert response["ResponseTemplates"] == {"application/json": body}


def methods(api_body: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, operation) for path, ops in api_body["paths"].items() for method, operation in ops.items()]


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
def test_by_default_every_method_preflights_included_needs_a_sigv4_signature_after_sams_transform(translated, stage):
    api = resource(translated[stage, "iam"], "RestAPI")["Properties"]
    assert api["Body"]["securityDefinitions"] == {
        "sigv4": {"type": "apiKey", "name": "Authorization", "in": "header", "x-amazon-apigateway-authtype": "awsSigv4"}
    }
    every = methods(api["Body"])
    assert len({path for path, _, _ in every}) == 19 + 2  # every route of the app, and its preflight
    assert {method for _, method, _ in every} == {"get", "post", "options"}
    assert all(operation["security"] == [{"sigv4": []}] for _, _, operation in every)
    assert "Policy" not in api


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
def test_access_ip_denies_every_address_outside_the_allowed_ips_parameter_in_the_apis_own_policy(translated, stage):
    template = translated[stage, "ip"]
    api = resource(template, "RestAPI")["Properties"]
    invoke = {"Principal": "*", "Action": "execute-api:Invoke", "Resource": "execute-api:/*"}
    assert api["Policy"] == {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", **invoke},
            {
                "Effect": "Deny",
                **invoke,
                "Condition": {"NotIpAddress": {"aws:SourceIp": {"Fn::Split": [",", {"Ref": "AllowedIps"}]}}},
            },
        ],
    }
    assert "x-amazon-apigateway-policy" not in api["Body"]
    assert not any("security" in operation for _, _, operation in methods(api["Body"]))
    assert "Default" not in template["Parameters"]["AllowedIps"]  # a deploy must name its ranges


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
def test_access_public_leaves_every_route_anonymous(translated, stage):
    api = resource(translated[stage, "public"], "RestAPI")["Properties"]
    assert "Policy" not in api and "securityDefinitions" not in api["Body"]
    assert not any("security" in operation for _, _, operation in methods(api["Body"]))
    assert "AllowedIps" not in translated[stage, "public"]["Parameters"]


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
def test_every_deploy_makes_a_new_api_deployment_so_a_changed_allow_list_takes_effect(modes, stage):
    # SAM names the deployment after a hash that ignores the Policy: with the same name, CloudFormation would keep
    # the old deployment, and API Gateway would go on applying the old policy.
    first = sam_translate(modes[stage, "ip"])
    time.sleep(1.1)  # SAM hashes the time in whole seconds: two deploys are never that close
    second = sam_translate(modes[stage, "ip"])
    deployments = [
        {name for name, body in t["Resources"].items() if body["Type"] == "AWS::ApiGateway::Deployment"}
        for t in (first, second)
    ]
    assert all(len(names) == 1 for names in deployments) and deployments[0] != deployments[1]


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
@pytest.mark.parametrize("access", ACCESS_MODES)
def test_the_api_takes_only_tls_1_3_on_its_edge_endpoint(translated, stage, access):
    api = resource(translated[stage, access], "RestAPI")["Properties"]
    assert api["EndpointConfiguration"] == {"Types": ["EDGE"]}
    # The strictest of the edge-optimized policies; an enhanced policy needs an access mode, and STRICT is AWS's advice.
    assert (api["SecurityPolicy"], api["EndpointAccessMode"]) == ("SecurityPolicy_TLS13_2025_EDGE", "STRICT")


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
def test_the_stage_writes_a_json_access_log_line_per_request_to_its_own_group_with_a_retention(translated, stage):
    template = translated[stage, "iam"]
    [stage_resource] = [body for body in template["Resources"].values() if body["Type"] == "AWS::ApiGateway::Stage"]
    setting = stage_resource["Properties"]["AccessLogSetting"]
    assert setting["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    line = json.loads(setting["Format"])  # JSON, with each variable quoted
    assert {"requestId", "ip", "caller", "method", "resource", "status", "error", "tls"} <= set(line)
    assert line["status"] == "$context.status" and line["error"] == "$context.error.responseType"
    group = resource(template, "ApiAccessLogGroup")["Properties"]
    assert group["RetentionInDays"] == {"Fn::If": ["IsProd", 90, 14]}
    assert group["LogGroupName"] == {"Fn::Sub": "/aws/apigateway/${AWS::StackName}-access"}


FUNCTION = [{"Name": "FunctionName", "Value": {"Ref": "APIHandler"}}]
TABLE = [{"Name": "TableName", "Value": {"Ref": "StudyTable"}}]
ALARMS = {
    "Api5xxAlarm": (
        "AWS/ApiGateway",
        "5XXError",
        [{"Name": "ApiName", "Value": {"Ref": "AWS::StackName"}}, {"Name": "Stage", "Value": "api"}],
    ),
    "LambdaErrorsAlarm": ("AWS/Lambda", "Errors", FUNCTION),
    "LambdaThrottlesAlarm": ("AWS/Lambda", "Throttles", FUNCTION),
    # Two alarms, not metric math on one: ministack's CloudFormation refuses an alarm's Metrics.
    "DynamoDBReadThrottlesAlarm": ("AWS/DynamoDB", "ReadThrottleEvents", TABLE),
    "DynamoDBWriteThrottlesAlarm": ("AWS/DynamoDB", "WriteThrottleEvents", TABLE),
}


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
def test_alarms_on_api_5xx_function_errors_and_throttles_and_table_throttling_tell_one_topic(templates, stage):
    template = templates[stage]
    alarms = {
        name: body["Properties"]
        for name, body in template["Resources"].items()
        if body["Type"] == "AWS::CloudWatch::Alarm"
    }
    assert set(alarms) == set(ALARMS)
    for name, (namespace, metric, dimensions) in ALARMS.items():
        assert (alarms[name]["Namespace"], alarms[name]["MetricName"]) == (namespace, metric)
        assert alarms[name]["Dimensions"] == dimensions
        assert (alarms[name]["Statistic"], alarms[name]["Period"], alarms[name]["EvaluationPeriods"]) == ("Sum", 300, 1)
    # The API is named after the stack, which the 5XX alarm's ApiName dimension names.
    assert resource(template, "RestAPI")["Properties"]["Name"] == {"Ref": "AWS::StackName"}
    for alarm in alarms.values():
        assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]
        assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
        assert alarm["TreatMissingData"] == "notBreaching"  # no traffic is not an alarm
    subscription = resource(template, "AlarmSubscription")
    assert subscription["Condition"] == "HasAlarmEmail"
    assert subscription["Properties"] == {
        "TopicArn": {"Ref": "AlarmTopic"},
        "Protocol": "email",
        "Endpoint": {"Ref": "AlarmEmail"},
    }
    assert template["Conditions"]["HasAlarmEmail"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmEmail"}, ""]}]}
    assert template["Parameters"]["AlarmEmail"]["Default"] == ""


def test_the_role_grants_exactly_the_operations_the_routes_call(templates, backend, dynamodb_calls, api, seeded):
    # Every route, with and without an Idempotency-Key where one applies, and the reset with reviews to delete.
    session = seeded.create_session(group_id=1, study_activity_id=1)
    seeded.log_reviews(session_id=session["id"], reviews=[(2, True)])
    json_headers = {"Content-Type": "application/json"}
    for headers in (json_headers, {**json_headers, "Idempotency-Key": "iam"}):
        assert (
            api.post("/study_sessions", body=b'{"group_id": 1, "study_activity_id": 1}', headers=headers).status_code
            == 201
        )
        assert (
            api.post(
                f"/study_sessions/{session['id']}/review", body=b'{"word_id": 1, "correct": true}', headers=headers
            ).status_code
            == 201
        )
    for path in (
        f"/study_sessions/{session['id']}",
        "/study_sessions",
        "/api/study-sessions",
        f"/api/study-sessions/{session['id']}",
        "/api/study-activities",
        "/api/study-activities/1",
        "/api/study-activities/1/sessions",
        "/api/study-activities/1/launch",
        "/groups/1/words/raw",
        "/groups",
        "/groups/1",
        "/groups/1/words?sort_by=wrong_count",
        "/groups/1/study_sessions",
        "/words",
        "/words/1",
        "/dashboard/recent-session",
        "/dashboard/stats",
    ):
        assert api.get(path).status_code == 200, path
    assert api.post("/api/study-sessions/reset", body=b"", headers=json_headers).status_code == 200
    [dynamodb] = [s for s in role_statements(templates[STAGE]) if "dynamodb:PutItem" in s["Action"]]
    needed = set().union(*(ACTIONS_FOR_OPERATION[operation] for operation in dynamodb_calls))
    assert needed == set(dynamodb["Action"])  # nothing missing, nothing granted that no route uses


DEFAULTS = "AllowReset=false ThrottlingRateLimit=10 ThrottlingBurstLimit=20 AlarmEmail="


def test_make_deploy_gives_the_dev_stage_the_portals_local_origins_and_prod_only_what_it_is_told():
    assert (
        parameters(stage="dev", cors_origin="")
        == f"Stage=dev CorsAllowOrigins={stage_environment('dev')['CORS_ALLOW_ORIGINS']} {DEFAULTS}"
    )
    assert (
        parameters(stage="prod", cors_origin="https://a.example.org, https://b.example.org")
        == f"Stage=prod CorsAllowOrigins=https://a.example.org,https://b.example.org {DEFAULTS}"
    )
    for refused in ("", "*", "http://a.example.org"):
        with pytest.raises(DeployError, match="STAGE=prod needs CORS_ORIGIN=https://"):
            parameters(stage="prod", cors_origin=refused)


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
def test_make_deploy_passes_every_parameter_so_a_redeploy_never_keeps_an_earlier_value(stage):
    passed = parameters(
        stage=stage,
        cors_origin="https://a.example.org",
        allow_reset="true",
        access="ip",
        allowed_ips="203.0.113.7, 198.51.100.0/24",
        throttle_rate="1",
        throttle_burst="2",
        alarm_email="learner@example.org",
    )
    assert dict(pair.split("=", 1) for pair in passed.split(" ")) == {
        "Stage": stage,
        "CorsAllowOrigins": "https://a.example.org",
        "AllowReset": "true",
        "ThrottlingRateLimit": "1",
        "ThrottlingBurstLimit": "2",
        "AlarmEmail": "learner@example.org",
        "AllowedIps": "203.0.113.7/32,198.51.100.0/24",
    }


@pytest.mark.parametrize(
    "options, message",
    [
        ({"allow_reset": "yes"}, "ALLOW_RESET must be true or false"),
        ({"access": "open"}, "ACCESS must be one of iam, ip, public"),
        ({"access": "ip"}, "ACCESS=ip needs ALLOWED_IPS="),
        ({"access": "ip", "allowed_ips": " , "}, "ACCESS=ip needs ALLOWED_IPS="),
        ({"access": "ip", "allowed_ips": "203.0.113.7/24"}, "host bits"),
        ({"access": "ip", "allowed_ips": "203.0.113.0/24;rm"}, "not '203.0.113.0/24;rm'"),
        ({"access": "ip", "allowed_ips": "localhost"}, "not 'localhost'"),
        ({"access": "ip", "allowed_ips": "203.0.113.7/32,0.0.0.0/0"}, "ALLOWED_IPS=0.0.0.0/0 is every address"),
        ({"access": "ip", "allowed_ips": "::/0", "stage": "prod"}, "say ACCESS=public for that (on prod, with"),
        ({"allowed_ips": "203.0.113.7/32"}, "ALLOWED_IPS applies only with ACCESS=ip"),
        ({"access": "public", "stage": "prod"}, "STAGE=prod ACCESS=public needs PUBLIC=true"),
        ({"access": "public", "stage": "prod", "public": "yes"}, "PUBLIC must be true or false"),
        ({"throttle_rate": "0"}, "THROTTLE_RATE must be a whole number of at least 1"),
        ({"throttle_burst": "2.5"}, "THROTTLE_BURST must be a whole number of at least 1"),
        ({"alarm_email": "learner"}, "ALARM_EMAIL must be one e-mail address"),
        ({"alarm_email": "a@example.org,b@example.org"}, "ALARM_EMAIL must be one e-mail address"),
    ],
)
def test_make_deploy_refuses_bad_settings_in_one_line_before_any_request(options, message):
    with pytest.raises(DeployError, match=re.escape(message)) as refused:
        parameters(**{"stage": "dev", "cors_origin": "https://a.example.org", **options})
    assert "\n" not in str(refused.value)


def test_a_public_prod_stack_needs_public_true_and_a_public_dev_stack_only_access_public():
    assert parameters(stage="prod", cors_origin="https://a.example.org", access="public", public="true")
    assert parameters(stage="dev", cors_origin="", access="public")


@pytest.mark.parametrize("ranges", ["203.0.113.7", "203.0.113.0/24,2001:db8::/32", "127.0.0.1/32"])
def test_the_ranges_make_deploy_passes_are_ones_the_template_accepts(modes, ranges):
    passed = parameters(stage="dev", cors_origin="", access="ip", allowed_ips=ranges).split("AllowedIps=")[1]
    assert re.fullmatch(modes["dev", "ip"]["Parameters"]["AllowedIps"]["AllowedPattern"], passed)


def test_the_alarm_address_make_deploy_passes_is_one_the_template_accepts(templates):
    passed = parameters(stage="dev", cors_origin="", alarm_email="learner@example.org").split("AlarmEmail=")[1]
    pattern = templates["dev"]["Parameters"]["AlarmEmail"]["AllowedPattern"]
    assert re.fullmatch(pattern, passed) and re.fullmatch(pattern, "")


@pytest.mark.parametrize(
    "origins",
    [
        "https://a.example.org/",
        "https://a.example.org/portal",
        "a.example.org",
        "https://a.example.org,,https://b.example.org/x",
    ],
)
def test_make_deploy_refuses_origins_the_template_would_reject_before_uploading_anything(templates, origins):
    with pytest.raises(DeployError, match="scheme://host"):
        parameters(stage="dev", cors_origin=origins)
    allowed = re.compile(templates["prod"]["Parameters"]["CorsAllowOrigins"]["AllowedPattern"])
    assert not allowed.fullmatch(origins)


@pytest.mark.parametrize(
    "stage, origins",
    [("prod", "https://a.example.org,https://b.example.org:8443"), ("dev", "*"), ("dev", "http://localhost:5173")],
)
def test_origins_make_deploy_passes_are_ones_the_template_accepts(templates, stage, origins):
    passed = parameters(stage=stage, cors_origin=origins).split("CorsAllowOrigins=")[1].split(" ")[0]
    assert re.fullmatch(templates[stage]["Parameters"]["CorsAllowOrigins"]["AllowedPattern"], passed)
