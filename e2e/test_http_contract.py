"""The contract of POST /study_sessions over real HTTP, against each target (see conftest): what the portal sees,
and what the table holds afterwards."""
import json
import uuid
from typing import Any

import pytest
from boto3.dynamodb.types import TypeDeserializer

from e2e.conftest import VALID, Answer, Target, send

PORTAL_ORIGIN = "http://localhost:5173"  # allowed by the dev and local stages
JSON = {"Content-Type": "application/json", "Origin": PORTAL_ORIGIN}
_deserializer = TypeDeserializer()


def post(target: Target, body: Any = VALID, headers: dict[str, str] | None = None) -> Answer:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return send(target.base_url, "POST", body=raw, headers=JSON if headers is None else headers)


def stored(target: Target) -> dict[tuple[str, str], dict[str, Any]]:
    """The table's sessions and idempotency-key records, by key (a consistent Scan: fine for a test table)."""
    items = {}
    for page in target.dynamodb.get_paginator("scan").paginate(TableName=target.table, ConsistentRead=True):
        for raw in page["Items"]:
            item = {name: _deserializer.deserialize(value) for name, value in raw.items()}
            if item["PK"].startswith(("SESSION#", "IDEMPOTENCY#")):
                items[(item["PK"], item["SK"])] = item
    return items


def session_item(target: Target, session_id: int) -> dict[str, Any]:
    return stored(target)[(f"SESSION#{session_id}", "META")]


def test_a_valid_post_returns_201_with_the_session_and_stores_exactly_it(target):
    before = stored(target)
    answer = post(target)
    assert answer.status == 201, answer
    body = answer.body
    assert (body["group_id"], body["group_name"]) == (1, "Core Verbs")
    assert (body["study_activity_id"], body["activity_name"]) == (1, "Typing Tutor")
    assert body["review_items_count"] == 0 and body["session_id"] == body["id"]
    assert answer.headers["location"] == f"{target.location_prefix}/study_sessions/{body['id']}"
    assert answer.headers["access-control-allow-origin"] == PORTAL_ORIGIN
    after = stored(target)
    assert set(after) - set(before) == {(f"SESSION#{body['id']}", "META")}
    item = after[(f"SESSION#{body['id']}", "META")]
    assert {key: item[key] for key in ("id", "group_id", "group_name", "study_activity_id", "activity_name",
                                       "created_at", "end_time", "review_items_count")} == {
        key: body[key] for key in ("id", "group_id", "group_name", "study_activity_id", "activity_name",
                                   "created_at", "end_time", "review_items_count")}


def test_a_session_carries_the_names_of_the_group_and_activity_it_names(target):
    answer = post(target, {"group_id": 2, "study_activity_id": 1})
    assert answer.status == 201
    assert session_item(target, answer.body["id"])["group_name"] == answer.body["group_name"] == "Core Adjectives"


@pytest.mark.parametrize("body, headers, status, message", [
    (b'{"group_id": 1,', JSON, 400, "Request body is not valid JSON"),
    (b"", JSON, 400, "empty"),
    (b"[1, 1]", JSON, 400, "JSON object"),
    (b'{"group_id": true, "study_activity_id": 1}', JSON, 400, "group_id"),
    (b'{"group_id": 1, "study_activity_id": "1"}', JSON, 400, "study_activity_id"),
    (b'{"group_id": 0, "study_activity_id": 1}', JSON, 400, "group_id"),
    (b'{"group_id": 1.5, "study_activity_id": 1}', JSON, 400, "group_id"),
    (b'{"study_activity_id": 1}', JSON, 400, "group_id is required"),
    (b'{"group_id": 1, "group_id": 2, "study_activity_id": 1}', JSON, 400, "duplicate"),
    (b'{"group_id": 999, "study_activity_id": 1}', JSON, 404, "Group 999 not found"),
    (b'{"group_id": 1, "study_activity_id": 77}', JSON, 404, "Study activity 77 not found"),
    (json.dumps(VALID).encode(), {"Content-Type": "text/plain", "Origin": PORTAL_ORIGIN}, 415, "application/json"),
    (json.dumps(VALID).encode(), {"Origin": PORTAL_ORIGIN}, 415, "application/json"),
    (json.dumps({**VALID, "padding": "x" * 70_000}).encode(), JSON, 413, "65536 bytes"),
    (json.dumps(VALID).encode(), {**JSON, "Idempotency-Key": "x" * 256}, 400, "Idempotency-Key"),
], ids=["truncated JSON", "empty body", "not an object", "true as an id", "a string id", "zero id", "fractional id",
        "missing id", "duplicate key", "unknown group", "unknown activity", "text/plain", "no content type",
        "70 KB body", "key too long"])
def test_bad_input_gets_a_json_error_with_cors_and_writes_nothing(target, body, headers, status, message):
    before = stored(target)
    answer = post(target, body, headers)
    assert answer.status == status
    assert message in answer.error()
    assert answer.headers["access-control-allow-origin"] == PORTAL_ORIGIN
    assert stored(target) == before


def test_a_repeat_with_the_same_idempotency_key_returns_the_first_answer_and_writes_once(target):
    key = {**JSON, "Idempotency-Key": f"e2e-{uuid.uuid4()}"}  # new on every run, on a long-lived table too
    first = post(target, headers=key)
    assert first.status == 201
    after_first = stored(target)
    repeat = post(target, headers=key)
    assert (repeat.status, repeat.body, repeat.headers["location"]) == (201, first.body, first.headers["location"])
    assert stored(target) == after_first
    other_body = post(target, {"group_id": 2, "study_activity_id": 1}, headers=key)
    assert other_body.status == 422 and "Idempotency-Key" in other_body.error()
    assert stored(target) == after_first


def test_the_preflight_lets_the_portal_post_json_with_an_idempotency_key(target):
    answer = send(target.base_url, "OPTIONS", headers={"Origin": PORTAL_ORIGIN, "Access-Control-Request-Method": "POST",
                                              "Access-Control-Request-Headers": "content-type,idempotency-key"})
    assert answer.status in (200, 204)
    assert answer.headers["access-control-allow-origin"] == PORTAL_ORIGIN
    assert "POST" in answer.headers["access-control-allow-methods"]
    allowed = {name.strip().lower() for name in answer.headers["access-control-allow-headers"].split(",")}
    assert {"content-type", "idempotency-key"} <= allowed


def test_another_origin_gets_no_cors_grant(target):
    answer = post(target, headers={**JSON, "Origin": "https://evil.example"})
    assert answer.status == 201
    assert "access-control-allow-origin" not in answer.headers


def test_an_unknown_route_answers_a_json_error_a_portal_page_can_read(target, request):
    if not target.gateway_responses:
        request.applymarker(pytest.mark.xfail(strict=True, reason=(
            "API Gateway's own errors get the {error} shape and CORS from the template's gateway responses, "
            "which only a real deployment serves: chalice local has none, and ministack 1.5.33 ignores them")))
    answer = send(target.base_url, "GET", "/no_such_route", headers={"Origin": PORTAL_ORIGIN})
    assert 400 <= answer.status < 500
    assert answer.error()
    assert answer.headers["access-control-allow-origin"] == PORTAL_ORIGIN
