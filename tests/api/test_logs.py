"""The access log: one JSON line per request, with what an operator needs and nothing a client sent."""

import json
import time

import pytest

from tests.support.dynamodb import http_error, intercept_sends
from tests.support.portal import VALID, access_lines

ACCESS_FIELDS = {
    "time",
    "level",
    "logger",
    "request_id",
    "message",
    "method",
    "path",
    "status",
    "latency_ms",
    "dynamodb_requests",
    "dynamodb_capacity",
    # Embedded Metric Format: the metrics' definition and their dimensions.
    "_aws",
    "stack",
    "route",
    "status_class",
}


@pytest.mark.parametrize(
    "body, headers, status, dynamodb_requests",
    [
        (VALID, {}, 201, 2),
        (VALID, {"Idempotency-Key": "log-test"}, 201, 2),
        ({"group_id": 999, "study_activity_id": 1}, {}, 404, 1),
        ({"group_id": True, "study_activity_id": 1}, {}, 400, 0),
        (VALID, {"Content-Type": "text/plain"}, 415, 0),
    ],
)
def test_each_request_logs_one_json_access_line(post_session, app_log, body, headers, status, dynamodb_requests):
    response = post_session(body, headers={"Content-Type": "application/json", **headers})
    assert response.status_code == status
    [access] = access_lines(app_log())
    assert set(access) == ACCESS_FIELDS
    assert (access["level"], access["method"], access["path"]) == ("INFO", "POST", "/study_sessions")
    assert access["status"] == status and access["dynamodb_requests"] == dynamodb_requests
    assert access["dynamodb_capacity"] >= 0 and (dynamodb_requests or access["dynamodb_capacity"] == 0)
    assert isinstance(access["latency_ms"], float) and access["latency_ms"] >= 0
    assert access["request_id"]


def test_the_access_line_counts_every_dynamodb_request_retries_included(post_session, app_log, botocore_events):
    intercept_sends(botocore_events, "TransactWriteItems", lambda: http_error("ThrottlingException"), times=2)
    assert post_session(VALID).status_code == 201
    [access] = access_lines(app_log())
    assert access["dynamodb_requests"] == 1 + 3  # BatchGetItem, then the transaction throttled twice and accepted


def test_a_replayed_request_logs_its_single_read(post_session, app_log):
    headers = {"Content-Type": "application/json", "Idempotency-Key": "log-replay"}
    post_session(VALID, headers=headers)
    post_session(VALID, headers=headers)
    assert [line["dynamodb_requests"] for line in access_lines(app_log())] == [2, 1]


def test_requests_get_distinct_request_ids(post_session, app_log):
    post_session(VALID)
    post_session(VALID)
    first, second = access_lines(app_log())
    assert first["request_id"] != second["request_id"]


def test_logs_hold_no_request_body_header_or_key(post_session, app_log, botocore_events):
    secrets = ["body-secret-41", "key-secret-42", "token-secret-43", "cookie-secret-44"]
    headers = {
        "Content-Type": "application/json",
        "Idempotency-Key": secrets[1],
        "Authorization": f"Bearer {secrets[2]}",
        "Cookie": f"session={secrets[3]}",
    }
    failing = []

    def explode_when_failing(**_):
        if failing:
            raise RuntimeError("boom")

    # Registered before the app's client exists: a client copies the session's handlers when it is made.
    botocore_events.register("before-call.dynamodb", explode_when_failing)
    post_session({**VALID, "note": secrets[0]}, headers=headers)
    post_session({**VALID, "note": secrets[0]}, headers=headers)  # a replay
    post_session({"group_id": secrets[0], "study_activity_id": 1}, headers=headers)  # a 400
    failing.append(True)
    post_session({**VALID, "note": secrets[0]}, headers={**headers, "Idempotency-Key": "another"})  # a 500
    logged = "\n".join(json.dumps(line) for line in app_log())
    assert [line["status"] for line in access_lines(app_log())] == [201, 201, 400, 500]
    assert "RuntimeError: boom" in logged
    for secret in secrets:
        assert secret not in logged


def test_every_dynamodb_call_asks_for_the_capacity_it_consumed_and_the_access_line_adds_it_up(
    backend, botocore_events, post_session, app_log
):
    asked = []
    botocore_events.register(
        "before-call.dynamodb",
        lambda params, model, **_: asked.append((model.name, json.loads(params["body"]).get("ReturnConsumedCapacity"))),
    )
    reported = []
    botocore_events.register("after-call.dynamodb", lambda parsed, **_: reported.append(parsed.get("ConsumedCapacity")))
    post_session(VALID, headers={"Content-Type": "application/json", "Idempotency-Key": "capacity"})
    assert asked == [("BatchGetItem", "TOTAL"), ("TransactWriteItems", "TOTAL")]
    units = sum(
        entry["CapacityUnits"]
        for answer in reported
        if answer
        for entry in (answer if isinstance(answer, list) else [answer])
    )
    [access] = access_lines(app_log())
    assert access["dynamodb_capacity"] == round(units, 2)


@pytest.mark.parametrize(
    "path, status, route, status_class",
    [
        ("/groups/1", 200, "GET /groups/{group_id}", "2xx"),
        ("/study_sessions/99999", 404, "GET /study_sessions/{session_id}", "4xx"),
        ("/groups/1/words?page=2", 200, "GET /groups/{group_id}/words", "2xx"),
    ],
)
def test_the_access_line_is_a_cloudwatch_metric_record_by_route_template_and_status_class(
    api, app_log, path, status, route, status_class
):
    assert api.get(path).status_code == status
    [access] = access_lines(app_log())
    [definition] = access["_aws"]["CloudWatchMetrics"]
    assert definition["Namespace"] == "StudyPortal"
    # CloudWatch takes each metric and dimension from the line's own keys, and skips a record whose key is missing.
    assert definition["Dimensions"] == [["stack", "route", "status_class"]]
    assert (access["stack"], access["route"], access["status_class"]) == ("local", route, status_class)
    assert {(m["Name"], m["Unit"]) for m in definition["Metrics"]} == {
        ("latency_ms", "Milliseconds"),
        ("dynamodb_requests", "Count"),
    }
    assert all(isinstance(access[m["Name"]], int | float) for m in definition["Metrics"])
    assert abs(access["_aws"]["Timestamp"] / 1000 - time.time()) < 60


def test_the_metrics_name_the_stack_the_function_runs_in(api, app_log, monkeypatch):
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "study-portal-dev")
    api.get("/groups/1")
    [access] = access_lines(app_log())
    assert access["stack"] == "study-portal-dev"
