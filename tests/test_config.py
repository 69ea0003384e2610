"""Stage configuration, the retry budget, and what importing the app does (the deployed role: test_template.py)."""
import json
import subprocess
import sys


import app as app_module
from scripts.local_stack import ROOT, stage_environment

CONFIG = json.loads((ROOT / ".chalice" / "config.json").read_text())
DEPLOYED_STAGES = ["dev", "prod"]
DYNAMODB_CALLS_PER_REQUEST = 2  # BatchGetItem, then PutItem or TransactWriteItems
API_GATEWAY_TIMEOUT = 29


def test_stages_dev_prod_and_local_each_name_their_own_table():
    assert set(CONFIG["stages"]) == {"dev", "prod", "local"}
    names = [stage_environment(stage)["TABLE_NAME"] for stage in ("dev", "prod", "local")]
    assert len(set(names)) == 3


def test_only_the_local_stage_points_boto3_at_a_local_endpoint():
    assert stage_environment("local")["AWS_ENDPOINT_URL_DYNAMODB"].startswith("http://127.0.0.1:")
    for stage in DEPLOYED_STAGES:
        assert not any(name.startswith("AWS_ENDPOINT_URL") for name in stage_environment(stage))


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
