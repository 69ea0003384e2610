"""Stage configuration, the retry budget, and what importing the app does (the deployed role: test_template.py)."""

import json
import os
import subprocess
import sys

import pytest

from chalicelib import runtime
from scripts.local_stack import (
    DEFAULT_DYNAMODB_PORT,
    LOCAL_TABLE,
    ROOT,
    LocalServerError,
    dynamodb_port,
    local_environment,
    stage_environment,
)

CONFIG = json.loads((ROOT / ".chalice" / "config.json").read_text())
DEPLOYED_STAGES = ["dev", "prod"]
DYNAMODB_CALLS_PER_REQUEST = 2  # BatchGetItem, then PutItem or TransactWriteItems
API_GATEWAY_TIMEOUT = 29


def test_stages_dev_prod_and_local_each_name_their_own_table():
    assert set(CONFIG["stages"]) == {"dev", "prod", "local"}
    names = [stage_environment(stage)["TABLE_NAME"] for stage in DEPLOYED_STAGES] + [LOCAL_TABLE]
    assert len(set(names)) == 3


def test_no_stage_names_an_endpoint_make_dev_gives_the_local_stage_dynamodb_ports():
    for stage in CONFIG["stages"]:
        assert not any(name.startswith("AWS_ENDPOINT_URL") for name in stage_environment(stage))
    assert "TABLE_NAME" not in stage_environment("local")
    assert local_environment(dynamodb_port=4600) == {
        "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:4600",
        "TABLE_NAME": LOCAL_TABLE,
    }


@pytest.mark.parametrize("value, port", [(None, DEFAULT_DYNAMODB_PORT), ("", DEFAULT_DYNAMODB_PORT), ("4600", 4600)])
def test_dynamodb_port_comes_from_the_environment_or_defaults_to_4566(monkeypatch, value, port):
    if value is None:
        monkeypatch.delenv("DYNAMODB_PORT", raising=False)
    else:
        monkeypatch.setenv("DYNAMODB_PORT", value)
    assert dynamodb_port() == port


@pytest.mark.parametrize("value", ["abc", "0", "65536", "-1", "45 66"])
def test_a_malformed_dynamodb_port_is_refused_in_one_line(monkeypatch, value):
    monkeypatch.setenv("DYNAMODB_PORT", value)
    with pytest.raises(LocalServerError, match="DYNAMODB_PORT must be a port number"):
        dynamodb_port()


def test_the_worst_case_of_dynamodb_timeouts_and_retries_ends_well_before_the_lambda_timeout():
    config = runtime.BOTO_CONFIG
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
    code = (
        "import boto3, app; "
        "from chalicelib import runtime; assert runtime._repository is None; "
        "assert boto3.DEFAULT_SESSION is None; "
        "assert app.app.debug is False"
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "AWS_CONFIG_FILE": "/nonexistent",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
        "TMPDIR": os.environ["TMPDIR"],
    }
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True)
