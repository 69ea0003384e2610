"""The region of the tools that call AWS (`make seed-stack`, `make import STACK=`, `make reset STACK=`): AWS_REGION,
then AWS_DEFAULT_REGION, then the profile's region, as the newer AWS SDKs find it (boto3 1.x reads only the last
two); none is one line and exit 1. End to end on a ministack with CloudFormation standing in for AWS, in a region
other than the placeholder's, so a client in the wrong region finds no stack."""

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib.store.table import TABLE_DEFINITION
from scripts import import_data, reset, seed
from scripts.aws_env import RegionMissingError, caller_client
from scripts.local_stack import ROOT, endpoint_url, free_port, start_ministack, stop_ministack, wait_until_ready
from tests.support.dynamodb import new_session, scan_items

REGION = "eu-west-2"
STACK = "study-portal-regions"
PROFILE = "study"
HARAU = {
    "kanji": "払う",
    "romaji": "harau",
    "english": "to pay",
    "parts": [{"kanji": "払", "romaji": ["ha", "ra"]}, {"kanji": "う", "romaji": ["u"]}],
}


def profile_config(directory: Path, *, region: str | None) -> Path:
    """An AWS config file whose profile PROFILE has this region (or none)."""
    path = directory / "aws-config"
    path.write_text(f"[profile {PROFILE}]\n" + (f"region = {region}\n" if region else "output = json\n"))
    return path


def use_region_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, *, env: dict[str, str], profile_region: str | None
) -> None:
    """Only these region settings: the variables in env, and a profile with profile_region if given."""
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    if profile_region:
        monkeypatch.setenv("AWS_CONFIG_FILE", str(profile_config(tmp_path, region=profile_region)))
        monkeypatch.setenv("AWS_PROFILE", PROFILE)


REGION_CASES = [
    pytest.param({"AWS_REGION": "eu-west-2"}, None, "eu-west-2", id="AWS_REGION only"),
    pytest.param({"AWS_DEFAULT_REGION": "ap-south-1"}, None, "ap-south-1", id="AWS_DEFAULT_REGION only"),
    pytest.param(
        {"AWS_REGION": "eu-west-2", "AWS_DEFAULT_REGION": "ap-south-1"}, None, "eu-west-2", id="both: AWS_REGION wins"
    ),
    pytest.param({}, "sa-east-1", "sa-east-1", id="the profile's region only"),
    pytest.param({"AWS_REGION": "eu-west-2"}, "sa-east-1", "eu-west-2", id="AWS_REGION over the profile's"),
    pytest.param(
        {"AWS_DEFAULT_REGION": "ap-south-1"}, "sa-east-1", "ap-south-1", id="AWS_DEFAULT_REGION over the profile's"
    ),
    pytest.param(
        {"AWS_REGION": "", "AWS_DEFAULT_REGION": "ap-south-1"}, None, "ap-south-1", id="an empty AWS_REGION is unset"
    ),
]


@pytest.mark.parametrize("env, profile_region, expected", REGION_CASES)
@pytest.mark.parametrize("service", ["cloudformation", "dynamodb"])
def test_the_tools_clients_use_the_region_the_newer_sdks_would(
    monkeypatch, tmp_path, service, env, profile_region, expected
):
    use_region_settings(monkeypatch, tmp_path, env=env, profile_region=profile_region)
    assert caller_client(service).meta.region_name == expected


NO_REGION_CASES = [
    pytest.param(False, id="nothing set"),
    pytest.param(True, id="a profile without a region"),
]
TOOLS = [
    pytest.param(seed.main, "make seed-stack", [], id="seed-stack"),
    pytest.param(import_data.main, "make import", ["--words", "{words}", "--group", "Travel"], id="import"),
    pytest.param(reset.main, "make reset", [], id="reset"),
]


@pytest.mark.parametrize("main, command, arguments", TOOLS)
@pytest.mark.parametrize("profile_without_region", NO_REGION_CASES)
def test_a_tool_given_a_stack_and_no_region_says_to_set_aws_region_in_one_line_before_any_request(
    monkeypatch, tmp_path, capsys, main, command, arguments, profile_without_region
):
    use_region_settings(monkeypatch, tmp_path, env={}, profile_region=None)
    if profile_without_region:
        monkeypatch.setenv("AWS_CONFIG_FILE", str(profile_config(tmp_path, region=None)))
        monkeypatch.setenv("AWS_PROFILE", PROFILE)
    words = tmp_path / "verbs.json"
    words.write_text(json.dumps([HARAU], ensure_ascii=False), encoding="utf-8")
    sent: list[Any] = []
    # The default session the tools' clients come from, made now that the settings are in place.
    boto3._get_default_session().events.register("before-send", lambda request, **_: sent.append(request.url))
    with pytest.raises(RegionMissingError):
        caller_client("cloudformation")
    code = main([argument.format(words=words) for argument in arguments] + ["--stack", STACK])
    out, err = capsys.readouterr()
    assert code == 1 and out == "" and sent == []
    assert err.splitlines() == [
        f"{command}: no AWS region is set: set AWS_REGION (e.g. AWS_REGION=eu-central-1), or a region in your "
        "AWS profile"
    ]


# --- end to end, as `make seed-stack` and `make import STACK=` run -------------------------------------------


@contextmanager
def emulated_aws(work: Path) -> Iterator[str]:
    """A ministack with DynamoDB and CloudFormation on loopback, standing in for AWS: its endpoint."""
    port = free_port()
    server = start_ministack(port=port, log_path=work / "ministack.log", services="dynamodb,cloudformation")
    try:
        wait_until_ready(port=port, process=server)
        yield endpoint_url(port)
    finally:
        stop_ministack(server)


def emulator_client(service: str, endpoint: str, *, region: str = REGION) -> Any:
    """A client of the emulator in a region, with its root credentials."""
    return new_session().client(
        service, endpoint_url=endpoint, region_name=region, aws_access_key_id="test", aws_secret_access_key="test"
    )


def deploy_table_stack(endpoint: str, *, stack: str, table: str, region: str = REGION) -> None:
    """A stack in the region whose output TableName names its DynamoDB table, as `make deploy`'s stack has."""
    template = {
        "Resources": {
            "Table": {"Type": "AWS::DynamoDB::Table", "Properties": {"TableName": table, **TABLE_DEFINITION}}
        },
        "Outputs": {"TableName": {"Value": {"Ref": "Table"}}},
    }
    cloudformation = emulator_client("cloudformation", endpoint, region=region)
    cloudformation.create_stack(StackName=stack, TemplateBody=json.dumps(template))
    deadline = time.monotonic() + 30
    while (status := cloudformation.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]) != "CREATE_COMPLETE":
        assert not status.endswith(("FAILED", "ROLLBACK_COMPLETE")) and time.monotonic() < deadline, status
        time.sleep(0.1)


def tool_environment(endpoint: str, home: Path, **aws: str) -> dict[str, str]:
    """A user's shell for a tool: the emulator as AWS (its endpoint and credentials), and of the region settings
    only those given; nothing of this machine's AWS settings."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "TMPDIR": os.environ["TMPDIR"],
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
        **aws,
    }


def run_tool(module: str, *arguments: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """`python -m module arguments`, as the make target runs it."""
    return subprocess.run(
        [sys.executable, "-m", module, *arguments], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def aws_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with emulated_aws(tmp_path_factory.mktemp("aws")) as endpoint:
        deploy_table_stack(endpoint, stack=STACK, table="study-portal-regions-table")
        yield endpoint


def test_seed_stack_in_process_with_only_aws_region_set_finds_the_stack_in_that_region(
    aws_emulator, monkeypatch, tmp_path, capsys
):
    # moto's CloudFormation needs extras this project does not install: the emulator's stands in, in process.
    use_region_settings(monkeypatch, tmp_path, env={"AWS_REGION": REGION}, profile_region=None)
    for name, value in {
        "AWS_ENDPOINT_URL": aws_emulator,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
    }.items():
        monkeypatch.setenv(name, value)
    code = seed.main(["--stack", STACK])
    out, err = capsys.readouterr()
    assert (code, err) == (0, ""), err
    assert out.startswith(f"table study-portal-regions-table of stack {STACK}: ") and out.endswith(
        " seed items written\n"
    )
    stored = scan_items(emulator_client("dynamodb", aws_emulator), "study-portal-regions-table")
    assert {"GROUP#1", "GROUP#2", "ACTIVITY#1"} <= {item["PK"] for item in stored}


def test_seed_stack_with_only_aws_region_set_seeds_the_stacks_table_in_that_region(aws_emulator, tmp_path):
    result = run_tool("scripts.seed", "--stack", STACK, env=tool_environment(aws_emulator, tmp_path, AWS_REGION=REGION))
    assert result.returncode == 0, result.stderr
    assert "You must specify a region" not in result.stderr
    [line] = result.stdout.splitlines()
    assert line.startswith(f"table study-portal-regions-table of stack {STACK}: ") and line.endswith(
        " seed items written"
    )
    stored = scan_items(emulator_client("dynamodb", aws_emulator), "study-portal-regions-table")
    assert {"GROUP#1", "GROUP#2", "ACTIVITY#1"} <= {item["PK"] for item in stored}


def test_seed_stack_in_another_region_finds_no_such_stack_in_one_line(aws_emulator, tmp_path):
    result = run_tool(
        "scripts.seed", "--stack", STACK, env=tool_environment(aws_emulator, tmp_path, AWS_REGION="ap-south-1")
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        "make seed-stack: An error occurred (ValidationError) when calling the DescribeStacks operation: "
        f"Stack with id {STACK} does not exist"
    ]


def test_import_into_a_stack_with_only_the_profiles_region_writes_the_stacks_table_in_that_region(
    aws_emulator, tmp_path
):
    words = tmp_path / "verbs.json"
    words.write_text(json.dumps([HARAU], ensure_ascii=False), encoding="utf-8")
    env = tool_environment(
        aws_emulator, tmp_path, AWS_PROFILE=PROFILE, AWS_CONFIG_FILE=str(profile_config(tmp_path, region=REGION))
    )
    result = run_tool("scripts.import_data", "--words", str(words), "--group", "Region test", "--stack", STACK, env=env)
    assert result.returncode == 0, result.stderr
    assert f"in table study-portal-regions-table of stack {STACK}" in result.stdout
    stored = scan_items(emulator_client("dynamodb", aws_emulator), "study-portal-regions-table")
    assert "Region test" in {item.get("name") for item in stored if item["SK"] == "META"}


def test_seed_stack_with_no_region_at_all_is_one_line_and_exit_1_without_a_traceback(tmp_path):
    env = tool_environment(f"http://127.0.0.1:{free_port()}", tmp_path)  # nothing listens: no request may be sent
    result = run_tool("scripts.seed", "--stack", STACK, env=env)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.splitlines() == [
        "make seed-stack: no AWS region is set: set AWS_REGION (e.g. AWS_REGION=eu-central-1), or a region in your "
        "AWS profile"
    ]
