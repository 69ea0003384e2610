"""The packaged template of each deployed stage (`make package`): table, role, log group, API stage and errors,
and the code zip."""

import compileall
import importlib.util
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from chalicelib.store.table import TABLE_DEFINITION, TTL_ATTRIBUTE
from scripts.deploy import DeployError, parameters
from scripts.local_stack import ROOT, stage_environment
from tests.support.portal import STAGE

DEPLOYED_STAGES = ["dev", "prod"]
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
        )
        packaged[stage] = build, result.stdout + result.stderr
    return packaged


@pytest.fixture(scope="session")
def templates(packages: dict[str, tuple[Path, str]]) -> dict[str, dict[str, Any]]:
    """The SAM template `make package` wrote for each deployed stage."""
    return {stage: yaml.safe_load((build / "sam.yaml").read_text()) for stage, (build, _) in packages.items()}


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
def test_the_zip_holds_the_app_and_chalicelib_sources_each_with_bytecode_of_exactly_that_source(
    packages, stage, templates
):
    build, _ = packages[stage]
    with zipfile.ZipFile(build / "deployment.zip") as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
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
        rf"for stage {stage}\n",
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
        "ALLOW_RESET": {"Fn::If": ["IsProd", {"Ref": "AllowReset"}, "true"]},
    }
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
    assert (parameters["ThrottlingRateLimit"]["Default"], parameters["ThrottlingBurstLimit"]["Default"]) == (100, 200)


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
@pytest.mark.parametrize(
    "response_type, status_code, body",
    [
        ("DEFAULT_4XX", None, '{"error": $context.error.messageString}'),
        ("DEFAULT_5XX", None, '{"error": $context.error.messageString}'),
        # An unknown path or method: API Gateway's 403 "Missing Authentication Token", answered as a 404.
        ("MISSING_AUTHENTICATION_TOKEN", "404", '{"error": "Not found"}'),
    ],
)
def test_api_gateway_errors_carry_cors_headers_and_the_error_shape(templates, stage, response_type, status_code, body):
    response = resource(templates[stage], "RestAPI")["Properties"]["GatewayResponses"][response_type]
    assert response.get("StatusCode") == status_code
    assert response["ResponseParameters"]["Headers"] == {
        "Access-Control-Allow-Origin": "method.request.header.Origin",
        "Vary": "'Origin'",
    }
    assert response["ResponseTemplates"] == {"application/json": body}


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


def test_make_deploy_gives_the_dev_stage_the_portals_local_origins_and_prod_only_what_it_is_told():
    assert (
        parameters(stage="dev", cors_origin="")
        == f"Stage=dev CorsAllowOrigins={stage_environment('dev')['CORS_ALLOW_ORIGINS']} AllowReset=false"
    )
    assert (
        parameters(stage="prod", cors_origin="https://a.example.org, https://b.example.org")
        == "Stage=prod CorsAllowOrigins=https://a.example.org,https://b.example.org AllowReset=false"
    )
    assert parameters(stage="prod", cors_origin="https://a.example.org", allow_reset="true").endswith(
        " AllowReset=true"
    )
    with pytest.raises(DeployError, match="ALLOW_RESET must be true or false"):
        parameters(stage="prod", cors_origin="https://a.example.org", allow_reset="yes")
    for refused in ("", "*", "http://a.example.org"):
        with pytest.raises(DeployError, match="STAGE=prod needs CORS_ORIGIN=https://"):
            parameters(stage="prod", cors_origin=refused)


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
