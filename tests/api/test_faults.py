"""DynamoDB faults, injected at the botocore layer: throttling, cancelled transactions, timeouts, crashes."""

import json

import pytest
from botocore.exceptions import ConnectTimeoutError, ReadTimeoutError
from chalice.test import Client

import app as app_module
from chalicelib import runtime
from scripts.local_stack import ROOT, free_port
from tests.support.dynamodb import (
    fake_error,
    fake_response,
    http_error,
    intercept_sends,
    scan_items,
    transaction_cancelled,
)
from tests.support.openapi import ConformingClient
from tests.support.portal import JSON_FROM_PORTAL, PORTAL_ORIGIN, STAGE, VALID, access_lines

WITH_KEY = {**JSON_FROM_PORTAL, "Idempotency-Key": "fault-test"}
ATTEMPTS = 3  # chalicelib.runtime.BOTO_CONFIG: standard retry mode, 3 attempts


def assert_unavailable_answer(response, message: str = "The database is busy; retry shortly") -> None:
    """503, Retry-After, our JSON error, CORS for the portal, and nothing of the fault's own text."""
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert json.loads(response.body) == {"error": message}
    assert response.headers["Access-Control-Allow-Origin"] == PORTAL_ORIGIN


@pytest.fixture
def stored_items(dynamodb, table):
    """Every item in the table: a fault must leave it exactly as it was."""
    return lambda: scan_items(dynamodb, table)


WRITES = [("TransactWriteItems", JSON_FROM_PORTAL), ("TransactWriteItems", WITH_KEY)]


@pytest.mark.parametrize(
    "operation, headers",
    [("BatchGetItem", JSON_FROM_PORTAL), *WRITES],
    ids=["BatchGetItem", "TransactWriteItems", "TransactWriteItems-keyed"],
)
@pytest.mark.parametrize("code", ["ThrottlingException", "ProvisionedThroughputExceededException"])
def test_throttling_that_outlasts_botocores_retries_returns_503_and_writes_nothing(
    post_session, stored_items, botocore_events, app_log, operation, headers, code
):
    before = stored_items()
    throttled = intercept_sends(botocore_events, operation, lambda: http_error(code))
    assert_unavailable_answer(post_session(VALID, headers=headers))
    assert len(throttled) == ATTEMPTS
    assert stored_items() == before
    [access] = access_lines(app_log())
    assert access["status"] == 503 and access["dynamodb_requests"] >= ATTEMPTS


def test_throttling_that_clears_within_the_retries_creates_the_session(post_session, stored_sessions, botocore_events):
    throttled = intercept_sends(
        botocore_events, "TransactWriteItems", lambda: http_error("ThrottlingException"), times=2
    )
    response = post_session(VALID)
    assert len(throttled) == 2 and response.status_code == 201
    assert [item["id"] for item in stored_sessions()] == [json.loads(response.body)["id"]]


@pytest.mark.parametrize(
    "operation, headers",
    [("BatchGetItem", JSON_FROM_PORTAL), *WRITES],
    ids=["BatchGetItem", "TransactWriteItems", "TransactWriteItems-keyed"],
)
@pytest.mark.parametrize(
    "code, status",
    [
        ("ProvisionedThroughputExceededException", 400),
        ("ThrottlingException", 400),
        ("RequestLimitExceeded", 400),
        ("InternalServerError", 500),
        ("ServiceUnavailable", 503),
    ],
)
def test_every_busy_code_left_after_the_retries_returns_503(
    post_session, stored_items, botocore_events, operation, headers, code, status
):
    # DynamoDB's final answer once botocore's retries are spent (answered at before-call, so no retry waits).
    before = stored_items()
    botocore_events.register(f"before-call.dynamodb.{operation}", lambda **_: fake_error(code, status))
    assert_unavailable_answer(post_session(VALID, headers=headers))
    assert stored_items() == before


def test_keys_left_unprocessed_return_503(post_session, stored_items, botocore_events, table):
    before = stored_items()
    unprocessed = {table: {"Keys": [{"PK": {"S": "GROUP#1"}, "SK": {"S": "META"}}]}}
    botocore_events.register(
        "before-call.dynamodb.BatchGetItem",
        lambda **_: fake_response({"Responses": {}, "UnprocessedKeys": unprocessed}),
    )
    assert_unavailable_answer(post_session(VALID, headers=JSON_FROM_PORTAL))
    assert stored_items() == before


@pytest.mark.parametrize(
    "reasons, status",
    [  # the session, the heads of all sessions, of its group and of its activity, the key's record
        (("None", "None", "None", "None", "ThrottlingError"), 503),
        (("ProvisionedThroughputExceeded", "None", "None", "None", "None"), 503),
        (("None", "None", "None", "None", "TransactionConflict"), 409),  # the key is being written
        (("TransactionConflict", "None", "None", "None", "None"), 409),
        (("None", "TransactionConflict", "None", "None", "None"), 409),  # other creates, on every attempt
        (("ConditionalCheckFailed", "None", "None", "None", "None"), 503),  # the drawn session id is taken
        (("None", "None", "None", "None", "ValidationError"), 500),
    ],
)
def test_a_cancelled_transaction_writes_nothing_and_answers_by_its_reasons(
    post_session, stored_items, botocore_events, reasons, status
):
    before = stored_items()
    intercept_sends(botocore_events, "TransactWriteItems", lambda: transaction_cancelled(*reasons))
    response = post_session(VALID, headers=WITH_KEY)
    assert response.status_code == status
    assert set(json.loads(response.body)) <= {"error", "request_id"}
    assert "injected" not in response.body.decode()
    assert stored_items() == before


def test_a_drawn_session_id_that_is_taken_returns_503_and_overwrites_nothing(
    post_session, stored_items, botocore_events
):
    # DynamoDB's answer when the session's put finds the id taken; the repository test does it for real.
    before = stored_items()
    intercept_sends(
        botocore_events, "TransactWriteItems", lambda: transaction_cancelled("ConditionalCheckFailed", "None", "None")
    )
    assert_unavailable_answer(post_session(VALID, headers=JSON_FROM_PORTAL))
    assert stored_items() == before


TIMED_OUT = "The database did not answer in time; retry shortly"


@pytest.mark.parametrize(
    "timeout",
    [
        lambda: ConnectTimeoutError(endpoint_url="https://dynamodb.invalid"),
        lambda: ReadTimeoutError(endpoint_url="https://dynamodb.invalid"),
    ],
    ids=["connect timeout", "read timeout"],
)
@pytest.mark.parametrize(
    "operation, headers",
    [("BatchGetItem", JSON_FROM_PORTAL), *WRITES],
    ids=["BatchGetItem", "TransactWriteItems", "TransactWriteItems-keyed"],
)
def test_timeouts_on_every_attempt_return_503_without_details(
    post_session, stored_items, botocore_events, operation, headers, timeout
):
    before = stored_items()

    def time_out():
        raise timeout()

    attempts = intercept_sends(botocore_events, operation, time_out)
    response = post_session(VALID, headers=headers)
    assert_unavailable_answer(response, TIMED_OUT)
    assert "invalid" not in response.body.decode()
    assert len(attempts) == ATTEMPTS
    assert stored_items() == before


@pytest.fixture
def app_against(monkeypatch):
    """The app on the dev stage with its DynamoDB client pointed at a given loopback endpoint."""

    def make(endpoint_url: str):
        runtime.reset_repository()
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", endpoint_url)
        return Client(app_module.app, stage_name=STAGE, project_dir=str(ROOT))

    return make


def test_a_dynamodb_that_accepts_but_never_answers_returns_503_after_the_read_timeouts(
    app_against, silent_server, dynamodb_sends, app_log
):
    with app_against(f"http://127.0.0.1:{silent_server}") as client:
        response = ConformingClient(client.http).post(
            "/study_sessions", body=json.dumps(VALID), headers=JSON_FROM_PORTAL
        )
    assert_unavailable_answer(response, TIMED_OUT)
    assert dynamodb_sends == ["BatchGetItem"] * ATTEMPTS
    [access] = access_lines(app_log())
    assert (access["status"], access["dynamodb_requests"]) == (503, ATTEMPTS)
    [warning] = [line for line in app_log() if line["level"] == "WARNING"]
    assert "ReadTimeoutError" in warning["message"] and "Traceback" in warning["exception"]


def test_a_dynamodb_that_refuses_connections_returns_503(app_against, dynamodb_sends):
    with app_against(f"http://127.0.0.1:{free_port()}") as client:
        response = ConformingClient(client.http).post(
            "/study_sessions", body=json.dumps(VALID), headers=JSON_FROM_PORTAL
        )
    assert_unavailable_answer(response, TIMED_OUT)
    assert dynamodb_sends == ["BatchGetItem"] * ATTEMPTS


def test_an_internal_error_returns_a_generic_500_and_logs_the_traceback_with_the_request_id(
    post_session, stored_items, botocore_events, app_log
):
    before = stored_items()

    def explode(**_):
        raise RuntimeError("secret-internal-detail")

    botocore_events.register("before-call.dynamodb.TransactWriteItems", explode)
    response = post_session(VALID, headers=JSON_FROM_PORTAL)
    assert response.status_code == 500
    body = json.loads(response.body)
    assert body == {"error": "Internal server error", "request_id": body["request_id"]} and body["request_id"]
    assert "secret-internal-detail" not in response.body.decode()
    assert response.headers["Access-Control-Allow-Origin"] == PORTAL_ORIGIN
    [traceback_line] = [line for line in app_log() if "exception" in line]
    assert "RuntimeError: secret-internal-detail" in traceback_line["exception"]
    assert all(line["request_id"] == body["request_id"] for line in app_log())
    assert stored_items() == before


@pytest.mark.parametrize("stage", ["dev", "prod", "local"])
def test_debug_is_off_in_every_stage_so_a_forced_error_answers_the_generic_500(
    stage, botocore_events, app_log, monkeypatch
):
    runtime.reset_repository()
    monkeypatch.setenv("TABLE_NAME", "any")  # the local stage's comes from make dev, not config.json

    def explode(**_):
        raise RuntimeError("secret-internal-detail")

    # Raised before anything is sent, so no stage's DynamoDB is contacted.
    botocore_events.register_first("before-send.dynamodb.BatchGetItem", explode)
    with Client(app_module.app, stage_name=stage, project_dir=str(ROOT)) as client:
        response = ConformingClient(client.http).post(
            "/study_sessions", body=json.dumps(VALID), headers={"Content-Type": "application/json"}
        )
    assert app_module.app.debug is False
    assert response.status_code == 500
    body = json.loads(response.body)
    assert body["error"] == "Internal server error"
    [access] = access_lines(app_log())
    assert body["request_id"] == access["request_id"] and access["status"] == 500
    assert "secret-internal-detail" not in response.body.decode() and "Traceback" not in response.body.decode()
