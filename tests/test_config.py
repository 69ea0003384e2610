"""Stage configuration, the hand-written IAM policies, and what importing the app does."""
import json
import subprocess
import sys

import pytest

import app as app_module
from conftest import STAGE
from scripts.local_stack import ROOT, stage_environment

CONFIG = json.loads((ROOT / ".chalice" / "config.json").read_text())
DEPLOYED_STAGES = ["dev", "prod"]
# The DynamoDB operations the app calls, and the IAM actions each needs.
ACTIONS_FOR_OPERATION = {
    "BatchGetItem": {"dynamodb:BatchGetItem"},
    "PutItem": {"dynamodb:PutItem"},
    "TransactWriteItems": {"dynamodb:PutItem"},  # IAM checks each item of the transaction: ours are two Puts
}
DYNAMODB_CALLS_PER_REQUEST = 2  # BatchGetItem, then PutItem or TransactWriteItems
API_GATEWAY_TIMEOUT = 29


def policy_statements(stage: str) -> list[dict]:
    policy_file = CONFIG["stages"][stage]["iam_policy_file"]
    return json.loads((ROOT / ".chalice" / policy_file).read_text())["Statement"]


def test_stages_dev_prod_and_local_each_name_their_own_table():
    assert set(CONFIG["stages"]) == {"dev", "prod", "local"}
    names = [stage_environment(stage)["TABLE_NAME"] for stage in ("dev", "prod", "local")]
    assert len(set(names)) == 3


def test_only_the_local_stage_points_boto3_at_a_local_endpoint():
    assert stage_environment("local")["AWS_ENDPOINT_URL_DYNAMODB"].startswith("http://127.0.0.1:")
    for stage in DEPLOYED_STAGES:
        assert not any(name.startswith("AWS_ENDPOINT_URL") for name in stage_environment(stage))


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
def test_deployed_stages_use_a_hand_written_policy(stage):
    assert CONFIG["autogen_policy"] is False
    assert (ROOT / ".chalice" / CONFIG["stages"][stage]["iam_policy_file"]).is_file()


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
def test_policy_grants_exactly_the_dynamodb_actions_the_code_calls_on_the_stage_table(stage):
    table = stage_environment(stage)["TABLE_NAME"]
    dynamodb = [s for s in policy_statements(stage) if any(a.startswith("dynamodb:") for a in s["Action"])]
    assert len(dynamodb) == 1
    assert set(dynamodb[0]["Action"]) == set().union(*ACTIONS_FOR_OPERATION.values())
    assert sorted(dynamodb[0]["Resource"]) == sorted([f"arn:aws:dynamodb:*:*:table/{table}",
                                                      f"arn:aws:dynamodb:*:*:table/{table}/index/*"])
    for statement in policy_statements(stage):
        assert statement["Effect"] == "Allow"
        assert not any("*" in action for action in statement["Action"])


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
def test_policy_lets_the_function_write_only_its_own_log_group(stage):
    [logs] = [s for s in policy_statements(stage) if any(a.startswith("logs:") for a in s["Action"])]
    group = f"arn:aws:logs:*:*:log-group:/aws/lambda/{CONFIG['app_name']}-{stage}"
    assert sorted(logs["Resource"]) == [group, f"{group}:*"]


@pytest.mark.parametrize("headers", [{}, {"Idempotency-Key": "k"}], ids=["no key", "with key"])
def test_a_create_calls_only_operations_the_policy_covers(post_session, dynamodb_calls, headers):
    post_session({"group_id": 1, "study_activity_id": 1}, headers={"Content-Type": "application/json", **headers})
    granted = set(policy_statements(STAGE)[0]["Action"])
    assert dynamodb_calls and all(ACTIONS_FOR_OPERATION[operation] <= granted for operation in dynamodb_calls)


def test_the_worst_case_of_dynamodb_timeouts_and_retries_ends_well_before_the_lambda_timeout():
    config = app_module._BOTO_CONFIG
    attempts = config.retries["total_max_attempts"]
    assert config.retries["mode"] == "standard"
    # botocore's standard mode waits at most min(2^(i-1), 20) s before retry i (throttling; other errors wait less).
    backoff = sum(min(2 ** (retry - 1), 20) for retry in range(1, attempts))
    per_call = attempts * (config.connect_timeout + config.read_timeout) + backoff
    worst_case = DYNAMODB_CALLS_PER_REQUEST * per_call
    assert worst_case == 18
    assert worst_case <= CONFIG["lambda_timeout"] - 10 and CONFIG["lambda_timeout"] < API_GATEWAY_TIMEOUT


def test_importing_the_app_creates_no_aws_client_and_needs_no_configuration():
    # A fresh interpreter with no AWS settings and no TABLE_NAME: the import must not touch either.
    code = ("import boto3, app; "
            "assert app._repository is None; "
            "assert boto3.DEFAULT_SESSION is None; "
            "assert app.app.debug is False")
    env = {"PATH": "/usr/bin:/bin", "AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent"}
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True)
