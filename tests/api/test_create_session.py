"""The contract of POST /study_sessions, through Chalice's test client, on moto and on ministack."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from chalice.test import Client

import app as app_module
from chalicelib import runtime
from scripts.local_stack import ROOT
from tests.support.portal import PORTAL_ORIGIN, VALID

MAX_ID = 2**53 - 1


def error_of(response) -> str:
    """The error message of a response that must have our JSON error shape."""
    assert response.headers["Content-Type"].startswith("application/json")
    body = json.loads(response.body)
    assert isinstance(body["error"], str) and body["error"]
    return body["error"]


def test_create_session_returns_201_with_the_session_and_location(post_session, stored_sessions):
    before = datetime.now(UTC)
    response = post_session(VALID)
    assert response.status_code == 201
    assert response.headers["Content-Type"] == "application/json"
    body = json.loads(response.body)
    assert set(body) == {
        "id",
        "session_id",
        "group_id",
        "group_name",
        "study_activity_id",
        "activity_id",
        "activity_name",
        "created_at",
        "start_time",
        "end_time",
        "review_items_count",
        "correct_count",
        "wrong_count",
    }
    assert type(body["id"]) is int and 1 <= body["id"] <= MAX_ID
    assert body["session_id"] == body["id"]
    assert body["group_id"] == 1 and body["group_name"] == "Core Verbs"
    assert body["study_activity_id"] == body["activity_id"] == 1 and body["activity_name"] == "Typing Tutor"
    assert body["start_time"] == body["end_time"] == body["created_at"]
    assert body["review_items_count"] == 0
    assert response.headers["Location"] == f"/study_sessions/{body['id']}"
    # Ids go out as JSON integers, never 1.0 (DynamoDB hands numbers back as Decimal).
    assert f'"id":{body["id"]},' in response.body.decode()
    created = datetime.fromisoformat(body["created_at"])
    assert created.utcoffset() == timedelta(0) and body["created_at"].endswith("+00:00")
    assert before - timedelta(seconds=1) <= created <= datetime.now(UTC) + timedelta(seconds=1)
    [stored] = stored_sessions()
    assert stored["PK"] == f"SESSION#{body['id']}"
    assert {
        key: stored[key]
        for key in (
            "id",
            "group_id",
            "group_name",
            "study_activity_id",
            "activity_name",
            "created_at",
            "end_time",
            "review_items_count",
        )
    } == {
        key: body[key]
        for key in (
            "id",
            "group_id",
            "group_name",
            "study_activity_id",
            "activity_name",
            "created_at",
            "end_time",
            "review_items_count",
        )
    }


def test_create_session_copies_the_names_of_the_group_and_activity_it_names(post_session, stored_sessions):
    body = json.loads(post_session({"group_id": 2, "study_activity_id": 1}).body)
    assert (body["group_name"], body["activity_name"]) == ("Core Adjectives", "Typing Tutor")
    [stored] = stored_sessions()
    assert (stored["group_name"], stored["activity_name"]) == ("Core Adjectives", "Typing Tutor")


def test_create_session_gives_every_session_a_new_id(post_session, stored_sessions):
    ids = [json.loads(post_session(VALID).body)["id"] for _ in range(25)]
    assert len(set(ids)) == 25
    assert sorted(item["id"] for item in stored_sessions()) == sorted(ids)


def test_create_session_ignores_and_never_stores_other_fields(post_session, stored_sessions):
    body = {
        **VALID,
        "id": 7,
        "session_id": 7,
        "group_name": "Hacked",
        "activity_name": "Hacked",
        "created_at": "1999-01-01T00:00:00+00:00",
        "review_items_count": 99,
        "PK": "GROUP#1",
        "extra": "x",
    }
    response = post_session(body)
    assert response.status_code == 201
    created = json.loads(response.body)
    assert created["group_name"] == "Core Verbs" and created["review_items_count"] == 0
    assert created["created_at"] != body["created_at"]
    [stored] = stored_sessions()
    assert "extra" not in stored and stored["id"] == created["id"] and stored["group_name"] == "Core Verbs"


def test_create_session_accepts_json_with_a_utf8_charset(post_session):
    response = post_session(VALID, headers={"Content-Type": "Application/JSON; charset=UTF-8"})
    assert response.status_code == 201


BAD_IDS = [
    "null",
    "true",
    "false",
    "1.0",
    "1.5",
    "1e2",
    "1e400",
    '"1"',
    '"abc"',
    '""',
    "[]",
    "[1]",
    "{}",
    '{"id": 1}',
    "0",
    "-0",
    "-1",
    str(MAX_ID + 1),
    str(10**30),
    "-9007199254740991",
]


@pytest.mark.parametrize("raw", BAD_IDS)
@pytest.mark.parametrize("field", ["group_id", "study_activity_id"])
def test_create_session_with_a_bad_id_returns_400_and_stores_nothing(post_session, stored_sessions, field, raw):
    body = '{"group_id": 1, "study_activity_id": 1}'.replace(f'"{field}": 1', f'"{field}": {raw}').encode()
    response = post_session(body)
    assert response.status_code == 400
    assert field in error_of(response)
    assert stored_sessions() == []


@pytest.mark.parametrize("body", [{"study_activity_id": 1}, {"group_id": 1}, {}])
def test_create_session_with_a_missing_id_returns_400_naming_it(post_session, stored_sessions, body):
    response = post_session(body)
    assert response.status_code == 400
    missing = "group_id" if "group_id" not in body else "study_activity_id"
    assert error_of(response) == f"{missing} is required"
    assert stored_sessions() == []


@pytest.mark.parametrize("raw", [b"NaN", b"Infinity", b"-Infinity"])
def test_create_session_with_a_non_finite_id_returns_400(post_session, stored_sessions, raw):
    response = post_session(b'{"group_id": ' + raw + b', "study_activity_id": 1}')
    assert response.status_code == 400
    assert "not valid JSON" in error_of(response)
    assert stored_sessions() == []


@pytest.mark.parametrize(
    "body, expected",
    [
        (b"", "empty"),
        (b"   \n", "empty"),
        (b'{"group_id": 1,', "not valid JSON"),
        (b"{'group_id': 1}", "not valid JSON"),
        (b'{"group_id": 1, "study_activity_id": 1} trailing', "not valid JSON"),
        (b'{"group_id": 1, "study_activity_id": 1, "note": "\xff\xfe"}', "UTF-8"),
        (b"\xef\xbb\xbf" + json.dumps(VALID).encode(), "not valid JSON"),
        (b"[1, 1]", "JSON object"),
        (b'"group_id"', "JSON object"),
        (b"null", "JSON object"),
        (b"42", "JSON object"),
        (b'{"group_id": 1, "group_id": 2, "study_activity_id": 1}', "duplicate"),
        (b"[" * 30_000 + b"]" * 30_000, "not valid JSON"),
        (b'{"group_id": ' + b"9" * 5000 + b', "study_activity_id": 1}', "not valid JSON"),
    ],
)
def test_create_session_with_a_bad_body_returns_400_and_stores_nothing(post_session, stored_sessions, body, expected):
    response = post_session(body)
    assert response.status_code == 400
    assert expected in error_of(response)
    assert stored_sessions() == []


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Content-Type": "text/plain"},
        {"Content-Type": "text/plain;charset=UTF-8"},
        {"Content-Type": "application/x-www-form-urlencoded"},
        {"Content-Type": "multipart/form-data; boundary=x"},
        {"Content-Type": "text/plain, application/json"},
        {"Content-Type": "application/json; charset=latin-1"},
        {"Content-Type": "application/jsonx"},
    ],
)
def test_create_session_without_a_json_content_type_returns_415(post_session, stored_sessions, headers):
    response = post_session(VALID, headers=headers)
    assert response.status_code == 415
    assert "application/json" in error_of(response)
    assert stored_sessions() == []


def test_create_session_with_a_body_over_64_kib_returns_413(post_session, stored_sessions):
    body = json.dumps({**VALID, "padding": ""}).encode()
    at_limit = body.replace(b'""', b'"' + b"x" * (64 * 1024 - len(body)) + b'"')
    assert len(at_limit) == 64 * 1024
    assert post_session(at_limit).status_code == 201
    response = post_session(at_limit.replace(b'"x', b'"xx'))
    assert response.status_code == 413
    assert "65536 bytes" in error_of(response)
    assert len(stored_sessions()) == 1


def test_create_session_checks_group_id_before_study_activity_id(post_session):
    response = post_session({"group_id": "x", "study_activity_id": "y"})
    assert "group_id" in error_of(response)


def test_create_session_checks_types_before_existence(post_session):
    response = post_session({"group_id": 999, "study_activity_id": True})
    assert response.status_code == 400 and "study_activity_id" in error_of(response)


@pytest.mark.parametrize(
    "body, expected",
    [
        ({"group_id": 999, "study_activity_id": 1}, "Group 999 not found"),
        ({"group_id": 1, "study_activity_id": 77}, "Study activity 77 not found"),
        ({"group_id": 999, "study_activity_id": 77}, "Group 999 not found"),
        ({"group_id": MAX_ID, "study_activity_id": 1}, f"Group {MAX_ID} not found"),
    ],
)
def test_create_session_for_an_unknown_group_or_activity_returns_404(post_session, stored_sessions, body, expected):
    response = post_session(body)
    assert response.status_code == 404
    assert error_of(response) == expected
    assert stored_sessions() == []


def test_create_session_makes_one_read_and_one_transaction(post_session, dynamodb_calls):
    assert post_session(VALID).status_code == 201
    assert dynamodb_calls == ["BatchGetItem", "TransactWriteItems"]


def test_the_app_builds_one_dynamodb_client_per_process(post_session, botocore_events):
    created = []
    botocore_events.register("creating-client-class.dynamodb", lambda **_: created.append(1))
    assert post_session(VALID).status_code == 201
    repository = runtime.get_repository()
    assert post_session(VALID).status_code == 201
    assert runtime.get_repository() is repository and len(created) == 1


def test_create_session_reads_the_group_and_activity_with_a_consistent_read(post_session, botocore_events, table):
    # Emulators are always consistent, so this one is checked on the request: a group created a moment ago must count.
    requests = []
    botocore_events.register(
        "before-parameter-build.dynamodb.BatchGetItem", lambda params, **_: requests.append(params)
    )
    assert post_session(VALID).status_code == 201
    [params] = requests
    assert params["RequestItems"][table]["ConsistentRead"] is True


def test_create_session_for_an_unknown_group_only_reads(post_session, dynamodb_calls):
    assert post_session({"group_id": 999, "study_activity_id": 1}).status_code == 404
    assert dynamodb_calls == ["BatchGetItem"]


def test_create_session_with_bad_input_calls_no_dynamodb(post_session, dynamodb_calls):
    assert post_session({"group_id": True, "study_activity_id": 1}).status_code == 400
    assert post_session(b"{", {"Content-Type": "application/json"}).status_code == 400
    assert dynamodb_calls == []


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_other_methods_on_study_sessions_return_405_in_our_error_shape(api, method):
    response = api.request(method, "/study_sessions", headers={"Origin": PORTAL_ORIGIN})
    assert response.status_code == 405
    assert method in error_of(response)
    assert response.headers["Access-Control-Allow-Origin"] == PORTAL_ORIGIN


@pytest.mark.parametrize("origin", [PORTAL_ORIGIN, "http://localhost:8080"])
def test_preflight_from_an_allowed_origin_allows_post_with_json(api, origin):
    response = api.request(
        "OPTIONS",
        "/study_sessions",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == origin
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert "content-type" in response.headers["Access-Control-Allow-Headers"].lower()
    assert "Origin" in response.headers["Vary"]


def test_preflight_from_another_origin_gets_no_cors_grant(api):
    response = api.request(
        "OPTIONS",
        "/study_sessions",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "Access-Control-Allow-Origin" not in response.headers
    assert "Access-Control-Allow-Methods" not in response.headers


@pytest.mark.parametrize(
    "body, headers, status",
    [
        (VALID, {"Content-Type": "application/json"}, 201),
        ({"group_id": 0, "study_activity_id": 1}, {"Content-Type": "application/json"}, 400),
        ({"group_id": 999, "study_activity_id": 1}, {"Content-Type": "application/json"}, 404),
        (VALID, {"Content-Type": "text/plain"}, 415),
    ],
)
def test_responses_carry_cors_headers_for_the_portal_errors_included(post_session, body, headers, status):
    response = post_session(body, headers={**headers, "Origin": PORTAL_ORIGIN})
    assert response.status_code == status
    assert response.headers["Access-Control-Allow-Origin"] == PORTAL_ORIGIN
    assert "Location" in response.headers["Access-Control-Expose-Headers"]


def test_responses_to_another_origin_carry_no_cors_grant(post_session):
    response = post_session(VALID, headers={"Content-Type": "application/json", "Origin": "https://evil.example"})
    assert response.status_code == 201
    assert "Access-Control-Allow-Origin" not in response.headers


@pytest.mark.parametrize(
    "stage, origin, allowed",
    [
        ("dev", PORTAL_ORIGIN, True),
        ("local", PORTAL_ORIGIN, True),
        ("local", "http://localhost:8080", True),  # the Typing Tutor
        # The same pages opened on 127.0.0.1, on both stages the unchanged clients use.
        ("local", "http://127.0.0.1:5173", True),
        ("local", "http://127.0.0.1:8080", True),
        ("dev", "http://127.0.0.1:5173", True),
        ("dev", "http://127.0.0.1:8080", True),
        ("local", "http://127.0.0.1:5174", False),  # another port is another origin
        ("local", "http://127.0.0.2:5173", False),
        ("prod", PORTAL_ORIGIN, False),  # prod's origins come only from the deployment (CorsAllowOrigins)
        ("prod", "https://portal.example.com", False),
    ],
)
def test_allowed_origins_are_configured_per_stage(stage, origin, allowed):
    with Client(app_module.app, stage_name=stage, project_dir=str(ROOT)) as client:
        response = client.http.request("OPTIONS", "/study_sessions", headers={"Origin": origin})
    assert response.status_code == 204
    assert response.headers.get("Access-Control-Allow-Origin") == (origin if allowed else None)


def lambda_event(body: str, path: str) -> dict:
    """An API Gateway (REST, proxy) event as Lambda receives it."""
    return {
        "resource": "/study_sessions",
        "path": "/study_sessions",
        "httpMethod": "POST",
        "headers": {"Content-Type": "application/json", "Origin": PORTAL_ORIGIN},
        "multiValueHeaders": {},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "isBase64Encoded": False,
        "body": body,
        "requestContext": {
            "resourcePath": "/study_sessions",
            "httpMethod": "POST",
            "path": path,
            "stage": "api",
            "requestId": "r-1",
            "identity": {"sourceIp": "127.0.0.1"},
        },
    }


class FakeLambdaContext:
    aws_request_id = "lambda-request-1"
    function_name = "study-portal-dev"


def test_lambda_invocation_keeps_the_api_gateway_stage_in_location(seeded, table, monkeypatch, stored_sessions):
    runtime.reset_repository()
    monkeypatch.setenv("TABLE_NAME", table)
    monkeypatch.setenv("CORS_ALLOW_ORIGINS", PORTAL_ORIGIN)
    result = app_module.app(lambda_event(json.dumps(VALID), "/api/study_sessions"), FakeLambdaContext())
    assert result["statusCode"] == 201
    body = json.loads(result["body"])
    assert result["headers"]["Location"] == f"/api/study_sessions/{body['id']}"
    assert result["headers"]["Access-Control-Allow-Origin"] == PORTAL_ORIGIN
    assert [item["id"] for item in stored_sessions()] == [body["id"]]


def test_lambda_invocation_internal_error_shows_the_lambda_request_id(seeded, table, monkeypatch, botocore_events):
    runtime.reset_repository()
    monkeypatch.setenv("TABLE_NAME", table)
    botocore_events.register("before-call.dynamodb.BatchGetItem", lambda **_: 1 / 0)
    result = app_module.app(lambda_event(json.dumps(VALID), "/api/study_sessions"), FakeLambdaContext())
    assert result["statusCode"] == 500
    assert json.loads(result["body"]) == {"error": "Internal server error", "request_id": "lambda-request-1"}
