"""The portal's HTTP contract (portal-api.md: POST /study_sessions, the sessions, reviews, activities, the Typing
Tutor's word list, groups, words, the dashboard, reset) over real HTTP, against each target (see conftest): what the
portal and the Typing Tutor see, and what the table holds afterwards. Tests create their own sessions and compare
relative changes, so a shared table's other data does not matter; reset runs last."""

import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from boto3.dynamodb.types import TypeDeserializer

from e2e import conftest
from e2e.conftest import VALID, Answer, Target
from scripts.seed_data import GROUPS, STUDY_ACTIVITIES
from tests.support.openapi import assert_conforms

PORTAL_ORIGIN = "http://localhost:5173"  # allowed by the dev and local stages
TUTOR_ORIGIN = "http://localhost:8080"  # the Typing Tutor's; allowed by the dev and local stages too
JSON = {"Content-Type": "application/json", "Origin": PORTAL_ORIGIN}
_deserializer = TypeDeserializer()


def send(
    base_url: str,
    method: str,
    path: str = "/study_sessions",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Answer:
    """One request of the contract's; its answer must be one docs/openapi.yaml gives that operation and status."""
    answer = conftest.send(base_url, method, path, body, headers)
    assert_conforms(method, path, answer.status, answer.raw, answer.headers)
    return answer


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
    assert {
        key: item[key]
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


def test_a_session_carries_the_names_of_the_group_and_activity_it_names(target):
    answer = post(target, {"group_id": 2, "study_activity_id": 1})
    assert answer.status == 201
    assert session_item(target, answer.body["id"])["group_name"] == answer.body["group_name"] == "Core Adjectives"


@pytest.mark.parametrize(
    "body, headers, status, message",
    [
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
    ],
    ids=[
        "truncated JSON",
        "empty body",
        "not an object",
        "true as an id",
        "a string id",
        "zero id",
        "fractional id",
        "missing id",
        "duplicate key",
        "unknown group",
        "unknown activity",
        "text/plain",
        "no content type",
        "70 KB body",
        "key too long",
    ],
)
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
    answer = send(
        target.base_url,
        "OPTIONS",
        headers={
            "Origin": PORTAL_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,idempotency-key",
        },
    )
    assert answer.status in (200, 204)
    assert answer.headers["access-control-allow-origin"] == PORTAL_ORIGIN
    assert "POST" in answer.headers["access-control-allow-methods"]
    allowed = {name.strip().lower() for name in answer.headers["access-control-allow-headers"].split(",")}
    assert {"content-type", "idempotency-key"} <= allowed


def test_another_origin_gets_no_cors_grant(target):
    before = stored(target)
    answer = post(target, headers={**JSON, "Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in answer.headers
    if target.name == "ministack-deploy":
        # make proxy signs nothing for a page the stack does not grant: another site could send it a form.
        assert answer.status == 403 and "does not grant it" in answer.error()
        assert stored(target) == before
    else:
        assert answer.status == 201


def test_an_unknown_route_answers_a_json_error_a_portal_page_can_read(target):
    # A real deployment's gateway responses give it; chalice local's through scripts/chalice_local.py; ministack
    # ignores gateway responses, and make proxy answers API Gateway's "no such route" in their place.
    answer = send(target.base_url, "GET", "/no_such_route", headers={"Origin": PORTAL_ORIGIN})
    assert 400 <= answer.status < 500
    assert answer.error()
    assert answer.headers["access-control-allow-origin"] == PORTAL_ORIGIN


# --- the portal's pages and the Typing Tutor (portal-api.md) ---------------------------------------------------

SESSION_FIELDS = {
    "id",
    "group_id",
    "group_name",
    "activity_id",
    "activity_name",
    "start_time",
    "end_time",
    "review_items_count",
}
WORD_FIELDS = {"id", "kanji", "romaji", "english", "correct_count", "wrong_count"}
ACTIVITY_FIELDS = {"id", "title", "launch_url", "preview_url"}
PAGE_FIELDS = {"total", "page", "per_page", "total_pages"}
[_TUTOR] = STUDY_ACTIVITIES
TYPING_TUTOR = {
    "id": _TUTOR["study_activity_id"],
    "title": _TUTOR["name"],
    "launch_url": _TUTOR["url"],
    "preview_url": _TUTOR["preview_url"],
}
SEEDED_WORDS = {word["id"]: word for group in GROUPS for word in group["words"]}
UNKNOWN = 987654321  # no seeded group, activity or word; a drawn session id is this one in 2^53
# Every route but POST /study_sessions, whose own tests are above; ids are filled in per test.
ROUTES = [
    ("GET", "/study_sessions"),
    ("GET", "/study_sessions/{id}"),
    ("POST", "/study_sessions/{id}/review"),
    ("GET", "/api/study-sessions"),
    ("GET", "/api/study-sessions/{id}"),
    ("POST", "/api/study-sessions/reset"),
    ("GET", "/api/study-activities"),
    ("GET", "/api/study-activities/{id}"),
    ("GET", "/api/study-activities/{id}/sessions"),
    ("GET", "/api/study-activities/{id}/launch"),
    ("GET", "/groups/{id}/words/raw"),
    ("GET", "/groups"),
    ("GET", "/groups/{id}"),
    ("GET", "/groups/{id}/words"),
    ("GET", "/groups/{id}/study_sessions"),
    ("GET", "/words"),
    ("GET", "/words/{id}"),
    ("GET", "/dashboard/recent-session"),
    ("GET", "/dashboard/stats"),
    ("GET", "/"),
    ("GET", "/health"),
]
TUTOR_ROUTES = [("GET", "/groups/{id}/words/raw"), ("POST", "/study_sessions/{id}/review")]
ID_ROUTES = [(method, path) for method, path in ROUTES if "{id}" in path]
A_REVIEW = {"word_id": 1, "correct": True}


def call(
    target: Target,
    method: str,
    path: str,
    *,
    origin: str = PORTAL_ORIGIN,
    body: Any = None,
    query: dict[str, Any] | None = None,
) -> Answer:
    """One request as a page served from `origin` sends it: a body is JSON, sent as application/json."""
    headers = {"Origin": origin}
    raw = None
    if body is not None:
        headers["Content-Type"] = "application/json"
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    if query:
        path = f"{path}?{urlencode({k: str(v) for k, v in query.items()})}"
    return send(target.base_url, method, path, raw, headers)


def answered(answer: Answer, status: int, origin: str = PORTAL_ORIGIN) -> Any:
    """The JSON body of an answer that must have this status and grant `origin` by CORS."""
    assert answer.status == status, (answer.status, answer.body)
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.headers.get("access-control-allow-origin") == origin
    return answer.body


def eventually(read: Callable[[], Any], holds: Callable[[Any], bool], seconds: float = 5.0) -> Any:
    """read() until holds() it, for up to `seconds`: lists come from indexes, which a real DynamoDB updates a
    moment after the write (ministack and make dev at once)."""
    deadline = time.monotonic() + seconds
    value = read()
    while not holds(value) and time.monotonic() < deadline:
        time.sleep(0.2)
        value = read()
    return value


def new_session(target: Target, group_id: int = 1) -> dict[str, Any]:
    """A new session of the group and the Typing Tutor, as POST /study_sessions answered it."""
    return answered(post(target, {"group_id": group_id, "study_activity_id": 1}), 201)


def as_listed(session: dict[str, Any]) -> dict[str, Any]:
    """The contract's Session fields of a session."""
    return {name: session[name] for name in SESSION_FIELDS}


def meta_item(target: Target, partition: str) -> dict[str, Any] | None:
    """The META item of a partition ("SESSION#<id>", "WORD#<id>") as stored now, or None."""
    found = target.dynamodb.get_item(
        TableName=target.table, ConsistentRead=True, Key={"PK": {"S": partition}, "SK": {"S": "META"}}
    )
    return (
        {name: _deserializer.deserialize(value) for name, value in found["Item"].items()} if "Item" in found else None
    )


def partition_items(target: Target, partition: str) -> list[dict[str, Any]]:
    """Every item of a partition (a session's META and its reviews) as stored now."""
    pages = target.dynamodb.get_paginator("query").paginate(
        TableName=target.table,
        ConsistentRead=True,
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": partition}},
    )
    return [
        {name: _deserializer.deserialize(value) for name, value in raw.items()}
        for page in pages
        for raw in page["Items"]
    ]


def word_counts(target: Target, word_id: int) -> tuple[int, int]:
    """A word's all-time (correct_count, wrong_count) as stored now."""
    word = meta_item(target, f"WORD#{word_id}")
    assert word is not None, word_id
    return int(word.get("correct_count", 0)), int(word.get("wrong_count", 0))


def test_the_study_activities_page_gets_an_array_of_activities_under_the_portals_names(target):
    body = answered(call(target, "GET", "/api/study-activities"), 200)
    assert isinstance(body, list) and TYPING_TUTOR in body
    assert all(set(activity) == ACTIVITY_FIELDS for activity in body)


def test_the_activity_page_gets_the_activity_and_its_description(target):
    body = answered(call(target, "GET", "/api/study-activities/1"), 200)
    assert {name: body[name] for name in ACTIVITY_FIELDS} == TYPING_TUTOR
    assert set(body) == ACTIVITY_FIELDS | {"description"} and body["description"] == _TUTOR["description"]


def test_the_launch_page_gets_the_activity_and_every_group_to_choose_from(target):
    body = answered(call(target, "GET", "/api/study-activities/1/launch"), 200)
    assert set(body) == {"activity", "groups"} and body["activity"] == TYPING_TUTOR
    assert all(set(group) == {"id", "name"} for group in body["groups"])
    assert [{"id": group["group_id"], "name": group["name"]} for group in GROUPS] == [
        group for group in body["groups"] if group["id"] in {seeded["group_id"] for seeded in GROUPS}
    ]


@pytest.mark.parametrize("group", GROUPS, ids=[group["name"] for group in GROUPS])
def test_the_typing_tutor_gets_each_word_of_the_group_with_the_parts_it_is_spelled_by(target, group):
    body = answered(
        call(target, "GET", f"/groups/{group['group_id']}/words/raw", origin=TUTOR_ORIGIN), 200, TUTOR_ORIGIN
    )
    assert body == {"group_id": group["group_id"], "group_name": group["name"], "words": group["words"]}
    assert all(set(word) == {"id", "kanji", "romaji", "english", "parts"} for word in body["words"])


def test_a_new_session_reads_back_by_id_with_no_reviews_and_its_start_as_end_time(target):
    session = new_session(target)
    body = answered(call(target, "GET", f"/study_sessions/{session['id']}"), 200)
    assert body == session
    assert set(body) >= SESSION_FIELDS
    assert (body["review_items_count"], body["end_time"], body["activity_id"]) == (0, body["start_time"], 1)


def test_the_cursor_list_pages_through_new_sessions_newest_first(target):
    oldest, middle, newest = (new_session(target) for _ in range(3))
    first = eventually(
        lambda: answered(call(target, "GET", "/study_sessions", query={"limit": 2}), 200),
        lambda body: body["items"][:1] == [newest],
    )
    assert set(first) == {"items", "next_cursor"}
    assert first["items"] == [newest, middle] and isinstance(first["next_cursor"], str)
    second = answered(call(target, "GET", "/study_sessions", query={"limit": 2, "cursor": first["next_cursor"]}), 200)
    assert second["items"][0] == oldest


def test_the_sessions_page_lists_sessions_newest_first_in_the_page_envelope(target):
    before = answered(call(target, "GET", "/api/study-sessions"), 200)
    assert set(before) == {"items"} | PAGE_FIELDS and (before["page"], before["per_page"]) == (1, 10)
    older, newer = new_session(target), new_session(target)
    body = eventually(
        lambda: answered(call(target, "GET", "/api/study-sessions", query={"page": 1, "per_page": 2}), 200),
        lambda body: body["total"] >= before["total"] + 2,
    )
    assert (body["total"], body["page"], body["per_page"]) == (before["total"] + 2, 1, 2)
    assert body["total_pages"] == -(-body["total"] // 2)
    assert [as_listed(item) for item in body["items"]] == [as_listed(newer), as_listed(older)]
    past = answered(
        call(target, "GET", "/api/study-sessions", query={"page": body["total_pages"] + 1, "per_page": 2}), 200
    )
    assert past["items"] == [] and past["total"] == body["total"]


def test_an_activitys_sessions_page_lists_its_new_session_first(target):
    before = answered(call(target, "GET", "/api/study-activities/1/sessions", query={"per_page": 5}), 200)
    session = new_session(target, group_id=2)
    body = eventually(
        lambda: answered(
            call(target, "GET", "/api/study-activities/1/sessions", query={"page": 1, "per_page": 5}), 200
        ),
        lambda body: body["total"] > before["total"],
    )
    assert set(body) == {"items"} | PAGE_FIELDS
    assert (body["total"], body["page"], body["per_page"]) == (before["total"] + 1, 1, 5)
    assert body["total_pages"] == -(-body["total"] // 5)
    assert as_listed(body["items"][0]) == as_listed(session)
    assert all(set(item) >= SESSION_FIELDS and item["activity_id"] == 1 for item in body["items"])


@pytest.mark.parametrize("correct", [True, False], ids=["correct", "wrong"])
def test_a_typing_tutor_review_moves_the_sessions_count_and_end_time_and_the_words_counts(target, correct):
    session = new_session(target)
    counts_before = word_counts(target, 3)
    body = answered(
        call(
            target,
            "POST",
            f"/study_sessions/{session['id']}/review",
            origin=TUTOR_ORIGIN,
            body={"word_id": 3, "correct": correct},
        ),
        201,
        TUTOR_ORIGIN,
    )
    assert body == {
        "study_session_id": session["id"],
        "word_id": 3,
        "correct": correct,
        "created_at": body["created_at"],
    }
    assert body["created_at"] >= session["start_time"]
    stored_session = meta_item(target, f"SESSION#{session['id']}")
    assert (stored_session["review_items_count"], stored_session["end_time"]) == (1, body["created_at"])
    assert word_counts(target, 3) == (counts_before[0] + correct, counts_before[1] + (not correct))
    again = answered(
        call(
            target,
            "POST",
            f"/study_sessions/{session['id']}/review",
            origin=TUTOR_ORIGIN,
            body={"word_id": 3, "correct": correct},
        ),
        201,
        TUTOR_ORIGIN,
    )
    read = answered(call(target, "GET", f"/study_sessions/{session['id']}"), 200)
    assert (read["review_items_count"], read["end_time"]) == (2, again["created_at"])
    assert again["created_at"] >= body["created_at"]
    assert word_counts(target, 3) == (counts_before[0] + 2 * correct, counts_before[1] + 2 * (not correct))


def test_a_batch_of_reviews_from_the_frontend_is_logged_in_one_answer_and_moves_every_count(target):
    session = new_session(target, group_id=2)
    before = {word_id: word_counts(target, word_id) for word_id in (101, 102)}
    reviews = [
        {"word_id": 101, "is_correct": True},
        {"word_id": 102, "is_correct": False},
        {"word_id": 101, "is_correct": False},
    ]
    body = answered(call(target, "POST", f"/study_sessions/{session['id']}/review", body={"reviews": reviews}), 201)
    assert set(body) == {"study_session_id", "reviews"} and body["study_session_id"] == session["id"]
    created_at = body["reviews"][0]["created_at"]
    assert body["reviews"] == [
        {"study_session_id": session["id"], **review, "created_at": created_at} for review in reviews
    ]
    stored_session = meta_item(target, f"SESSION#{session['id']}")
    assert (stored_session["review_items_count"], stored_session["end_time"]) == (3, created_at)
    assert word_counts(target, 101) == (before[101][0] + 1, before[101][1] + 1)
    assert word_counts(target, 102) == (before[102][0], before[102][1] + 1)


def test_the_session_page_gets_the_words_reviewed_in_it_by_kanji_with_counts_in_this_session(target):
    session = new_session(target, group_id=2)
    empty = answered(call(target, "GET", f"/api/study-sessions/{session['id']}"), 200)
    assert empty == {"session": empty["session"], "words": [], "total": 0, "page": 1, "per_page": 10, "total_pages": 0}
    assert as_listed(empty["session"]) == as_listed(session)
    reviews = [(103, True), (101, False), (101, True), (105, True)]
    logged = answered(
        call(
            target,
            "POST",
            f"/study_sessions/{session['id']}/review",
            body={"reviews": [{"word_id": word_id, "is_correct": correct} for word_id, correct in reviews]},
        ),
        201,
    )
    expected = [
        {
            **{name: SEEDED_WORDS[word_id][name] for name in ("id", "kanji", "romaji", "english")},
            "correct_count": correct,
            "wrong_count": wrong,
        }
        for word_id, correct, wrong in [(101, 1, 1), (103, 1, 0), (105, 1, 0)]
    ]
    assert [word["kanji"] for word in expected] == sorted(word["kanji"] for word in expected)
    first = answered(call(target, "GET", f"/api/study-sessions/{session['id']}", query={"page": 1, "per_page": 2}), 200)
    assert set(first) == {"session", "words"} | PAGE_FIELDS
    assert (first["total"], first["page"], first["per_page"], first["total_pages"]) == (3, 1, 2, 2)
    assert first["words"] == expected[:2] and all(set(word) == WORD_FIELDS for word in first["words"])
    assert as_listed(first["session"]) == {
        **as_listed(session),
        "review_items_count": 4,
        "end_time": logged["reviews"][0]["created_at"],
    }
    second = answered(
        call(target, "GET", f"/api/study-sessions/{session['id']}", query={"page": 2, "per_page": 2}), 200
    )
    assert second["words"] == expected[2:] and second["total"] == 3


# --- the Word Groups, Group, Words, Word and Dashboard pages (portal-api.md) ------------------------------------

GROUP_FIELDS = {"id", "group_name", "word_count"}
SEEDED_GROUPS = {
    group["group_id"]: {"id": group["group_id"], "group_name": group["name"], "word_count": len(group["words"])}
    for group in GROUPS
}
# The seed's words in ascending order of each text column, as SQLite's default collation orders them (by code
# point): for each group's words, then for the whole vocabulary (key None).
SEED_ORDER = {
    (1, "kanji"): [6, 4, 3, 5, 1, 2],
    (1, "romaji"): [3, 6, 4, 5, 2, 1],
    (1, "english"): [4, 2, 1, 3, 5, 6],
    (2, "kanji"): [104, 101, 102, 103, 105],
    (2, "romaji"): [103, 102, 104, 101, 105],
    (2, "english"): [101, 105, 103, 104, 102],
    (None, "kanji"): [104, 101, 102, 103, 6, 4, 3, 5, 1, 2, 105],
    (None, "romaji"): [103, 102, 104, 3, 6, 4, 5, 2, 101, 1, 105],
    (None, "english"): [101, 105, 103, 104, 102, 4, 2, 1, 3, 5, 6],
}
GROUP_SESSION_SORTS = {"startTime": "start_time", "endTime": "end_time", "reviewItemsCount": "review_items_count"}
STATS_FIELDS = {
    "total_vocabulary",
    "total_words_studied",
    "mastered_words",
    "success_rate",
    "total_sessions",
    "active_groups",
    "current_streak",
}


def every_page(
    target: Target, path: str, listed: str, per_page: int, query: dict[str, str], extra: frozenset[str] = frozenset()
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """A page-number list's items from page 1 to its last, and the page past the last: every page in the envelope
    {<listed>, total_pages, current_page, *extra}, every page but the last full, the one past the last empty."""
    items: list[dict[str, Any]] = []
    page, total_pages = 1, None
    while True:
        body = answered(call(target, "GET", path, query={**query, "page": page}), 200)
        assert set(body) == {listed, "total_pages", "current_page"} | extra and body["current_page"] == page
        total_pages = body["total_pages"] if total_pages is None else total_pages
        assert body["total_pages"] == total_pages, (path, query, page)
        if page > total_pages:
            assert body[listed] == []
            break
        if page < total_pages:
            assert len(body[listed]) == per_page, (path, query, page)
        else:
            assert 1 <= len(body[listed]) <= per_page, (path, query, page)
        items += body[listed]
        page += 1
    assert total_pages == -(-len(items) // per_page) and len({item["id"] for item in items}) == len(items)
    return items, body


def in_order(values: list[Any], order: str) -> bool:
    """Whether values are in this order ("asc" or "desc"), ties allowed."""
    return values == sorted(values, reverse=order == "desc")


def stored_words(target: Target) -> dict[int, tuple[int, int]]:
    """Every word's all-time (correct_count, wrong_count) as stored now (a consistent Scan: fine for a test table)."""
    words = {}
    for page in target.dynamodb.get_paginator("scan").paginate(TableName=target.table, ConsistentRead=True):
        for raw in page["Items"]:
            item = {name: _deserializer.deserialize(value) for name, value in raw.items()}
            if item["PK"].startswith("WORD#") and item["SK"] == "META":
                words[int(item["id"])] = (int(item.get("correct_count", 0)), int(item.get("wrong_count", 0)))
    return words


def as_seeded(word_id: int, counts: tuple[int, int]) -> dict[str, Any]:
    """A seeded word as the Group, Words and Word pages read it, with these all-time counts."""
    return {
        **{name: SEEDED_WORDS[word_id][name] for name in ("id", "kanji", "romaji", "english")},
        "correct_count": counts[0],
        "wrong_count": counts[1],
    }


def test_the_word_groups_page_lists_the_groups_by_name_or_word_count_either_way(target):
    # The seed's two groups come in the same order by name as by word count; the fuzz tests add a third.
    for (sort_by, field), order, seeded in [
        (("name", "group_name"), "asc", [2, 1]),
        (("name", "group_name"), "desc", [1, 2]),
        (("words_count", "word_count"), "asc", [2, 1]),
        (("words_count", "word_count"), "desc", [1, 2]),
    ]:
        groups, _ = every_page(target, "/groups", "groups", 10, {"sort_by": sort_by, "order": order})
        assert all(set(group) == GROUP_FIELDS for group in groups)
        assert [group for group in groups if group["id"] in SEEDED_GROUPS] == [SEEDED_GROUPS[i] for i in seeded]
        assert in_order([group[field] for group in groups], order), (sort_by, order)
    page = answered(call(target, "GET", "/groups", query={"page": 1, "sort_by": "name", "order": "asc"}), 200)
    assert answered(call(target, "GET", "/groups"), 200) == page  # the page's defaults: by name, ascending
    assert answered(call(target, "GET", "/groups", query={"sort_by": "size", "order": "up"}), 200) == page


def test_the_group_page_gets_the_groups_name_and_word_count(target):
    for group_id, group in SEEDED_GROUPS.items():
        assert answered(call(target, "GET", f"/groups/{group_id}"), 200) == group


def test_the_group_page_lists_its_words_10_a_page_with_all_time_counts_sorted_by_any_column(target):
    session = new_session(target)
    answered(
        call(
            target,
            "POST",
            f"/study_sessions/{session['id']}/review",
            body={
                "reviews": [
                    {"word_id": 5, "is_correct": True},
                    {"word_id": 5, "is_correct": True},
                    {"word_id": 2, "is_correct": False},
                ]
            },
        ),
        201,
    )
    counts = stored_words(target)
    for group_id, sort_by, order in [
        (1, "kanji", "asc"),
        (1, "romaji", "desc"),
        (1, "english", "asc"),
        (2, "kanji", "desc"),
        (2, "romaji", "asc"),
        (2, "english", "desc"),
    ]:
        ids = SEED_ORDER[(group_id, sort_by)] if order == "asc" else SEED_ORDER[(group_id, sort_by)][::-1]
        expected = [as_seeded(word_id, counts[word_id]) for word_id in ids]
        # Counts are read from the words' own items, which a real DynamoDB may serve a moment stale.
        words, _ = eventually(
            lambda: every_page(target, f"/groups/{group_id}/words", "words", 10, {"sort_by": sort_by, "order": order}),
            lambda listed: listed[0] == expected,
        )
        assert words == expected, (group_id, sort_by, order)
    for group_id, sort_by, order in [
        (1, "correct_count", "desc"),
        (1, "wrong_count", "asc"),
        (2, "wrong_count", "desc"),
    ]:
        words, _ = every_page(target, f"/groups/{group_id}/words", "words", 10, {"sort_by": sort_by, "order": order})
        assert sorted(words, key=lambda word: word["id"]) == [
            as_seeded(word_id, counts[word_id]) for word_id in sorted(SEED_ORDER[(group_id, "kanji")])
        ]
        assert in_order([word[sort_by] for word in words], order), (group_id, sort_by, order)
    page = answered(call(target, "GET", "/groups/1/words", query={"page": 1, "sort_by": "kanji", "order": "asc"}), 200)
    assert answered(call(target, "GET", "/groups/1/words"), 200) == page  # the page's defaults: kanji, ascending
    assert answered(call(target, "GET", "/groups/1/words", query={"sort_by": "id", "order": "random"}), 200) == page


def test_the_group_page_lists_its_sessions_10_a_page_newest_first_or_sorted_by_a_column(target):
    def group_session_ids() -> set[int]:
        return {
            item["id"]
            for (partition, sort_key), item in stored(target).items()
            if partition.startswith("SESSION#") and sort_key == "META" and item["group_id"] == 2
        }

    for _ in range(11 - len(group_session_ids())):  # 11 sessions at least: two pages
        new_session(target, group_id=2)
    older = new_session(target, group_id=2)
    logged = answered(
        call(
            target,
            "POST",
            f"/study_sessions/{older['id']}/review",
            body={"reviews": [{"word_id": 101, "is_correct": True}, {"word_id": 102, "is_correct": False}]},
        ),
        201,
    )
    newer = new_session(target, group_id=2)
    ids = group_session_ids()
    sessions, _ = eventually(
        lambda: every_page(target, "/groups/2/study_sessions", "study_sessions", 10, {}),
        lambda listed: {session["id"] for session in listed[0]} == ids,
    )
    assert {session["id"] for session in sessions} == ids and len(sessions) >= 13
    assert [as_listed(session) for session in sessions[:2]] == [
        as_listed(newer),
        {**as_listed(older), "review_items_count": 2, "end_time": logged["reviews"][0]["created_at"]},
    ]
    assert all(
        set(session) >= SESSION_FIELDS
        and (session["group_id"], session["group_name"], session["activity_id"]) == (2, "Core Adjectives", 1)
        for session in sessions
    )
    assert in_order([session["start_time"] for session in sessions], "desc")
    for (sort_by, field), order in zip(GROUP_SESSION_SORTS.items(), ("asc", "desc", "desc")):
        listed, _ = every_page(
            target, "/groups/2/study_sessions", "study_sessions", 10, {"sort_by": sort_by, "order": order}
        )
        assert {session["id"] for session in listed} == ids
        assert in_order([session[field] for session in listed], order), (sort_by, order)
    page = answered(
        call(target, "GET", "/groups/2/study_sessions", query={"page": 1, "sort_by": "startTime", "order": "desc"}), 200
    )
    assert page["study_sessions"] == sessions[:10]
    assert (
        answered(call(target, "GET", "/groups/2/study_sessions", query={"sort_by": "when", "order": "new"}), 200)
        == page
    )


def test_the_words_page_lists_the_whole_vocabulary_50_a_page_sorted_by_any_column(target):
    counts = stored_words(target)
    for sort_by, order in [
        ("kanji", "asc"),
        ("romaji", "desc"),
        ("english", "asc"),
        ("correct_count", "desc"),
        ("wrong_count", "asc"),
    ]:
        words, past = every_page(
            target, "/words", "words", 50, {"sort_by": sort_by, "order": order}, extra=frozenset({"total_words"})
        )
        assert past["total_words"] == len(words) == len(counts)
        assert all(set(word) == WORD_FIELDS for word in words)
        assert {word["id"]: (word["correct_count"], word["wrong_count"]) for word in words} == counts
        assert in_order([word[sort_by] for word in words], order), (sort_by, order)
        if (None, sort_by) in SEED_ORDER:
            expected = SEED_ORDER[(None, sort_by)]
            assert [word["id"] for word in words if word["id"] in SEEDED_WORDS] == (
                expected if order == "asc" else expected[::-1]
            )
    page = answered(call(target, "GET", "/words", query={"page": 1, "sort_by": "kanji", "order": "asc"}), 200)
    assert answered(call(target, "GET", "/words"), 200) == page  # the page's defaults: kanji, ascending
    assert answered(call(target, "GET", "/words", query={"sort_by": "kana", "order": "up"}), 200) == page


def test_the_word_page_gets_the_word_its_all_time_counts_and_groups_and_a_review_moves_them(target):
    for group in GROUPS:
        word_id = group["words"][0]["id"]
        assert answered(call(target, "GET", f"/words/{word_id}"), 200) == {
            "word": {
                **as_seeded(word_id, word_counts(target, word_id)),
                "groups": [{"id": group["group_id"], "name": group["name"]}],
            }
        }
    before = answered(call(target, "GET", "/words/6"), 200)["word"]
    session = new_session(target)
    answered(
        call(
            target,
            "POST",
            f"/study_sessions/{session['id']}/review",
            origin=TUTOR_ORIGIN,
            body={"word_id": 6, "correct": False},
        ),
        201,
        TUTOR_ORIGIN,
    )
    after = eventually(
        lambda: answered(call(target, "GET", "/words/6"), 200)["word"],
        lambda word: word["wrong_count"] > before["wrong_count"],
    )
    assert after == {**before, "wrong_count": before["wrong_count"] + 1}
    assert (after["correct_count"], after["wrong_count"]) == word_counts(target, 6)


def test_the_dashboard_shows_the_newest_session_with_its_reviews_and_figures_the_table_bears_out(target):
    before = answered(call(target, "GET", "/dashboard/stats"), 200)
    session = new_session(target, group_id=2)
    reviews = [(104, True), (104, True), (104, False), (104, True), (104, True), (105, False)]
    answered(
        call(
            target,
            "POST",
            f"/study_sessions/{session['id']}/review",
            body={"reviews": [{"word_id": word_id, "is_correct": correct} for word_id, correct in reviews]},
        ),
        201,
    )
    recent = eventually(
        lambda: answered(call(target, "GET", "/dashboard/recent-session"), 200),
        lambda body: body is not None and body["id"] == session["id"],
    )
    assert recent == {
        "id": session["id"],
        "group_id": 2,
        "activity_name": "Typing Tutor",
        "created_at": session["start_time"],
        "correct_count": 4,
        "wrong_count": 2,
    }
    stats = eventually(
        lambda: answered(call(target, "GET", "/dashboard/stats"), 200),
        lambda body: body["total_sessions"] > before["total_sessions"],
    )
    assert set(stats) == STATS_FIELDS and stats["total_sessions"] == before["total_sessions"] + 1
    counts = list(stored_words(target).values())
    correct, reviewed = sum(c for c, _ in counts), sum(c + w for c, w in counts)
    sessions = [
        item
        for (partition, sort_key), item in stored(target).items()
        if partition.startswith("SESSION#") and sort_key == "META"
    ]
    month_ago = (datetime.now(UTC) - timedelta(days=30)).date().isoformat()
    assert (
        {name: value for name, value in stats.items() if name != "success_rate"}
        == {
            "total_vocabulary": len(counts),
            "total_words_studied": sum(1 for c, w in counts if c + w),
            "mastered_words": sum(1 for c, w in counts if c + w >= 5 and 5 * c >= 4 * (c + w)),  # 104 among them
            "total_sessions": len(sessions),
            "active_groups": len({item["group_id"] for item in sessions if item["created_at"][:10] >= month_ago}),
            "current_streak": stats["current_streak"],
        }
    )
    assert stats["mastered_words"] >= 1 and stats["current_streak"] >= 1  # a session today
    assert stats["success_rate"] == pytest.approx(correct / reviewed)


@pytest.mark.parametrize(
    "body, status, message",
    [
        ({"word_id": 1, "correct": 1}, 400, "correct must be true or false"),
        ({"word_id": 1, "correct": "true"}, 400, "correct must be true or false"),
        ({"word_id": 1, "correct": None}, 400, "correct is required"),
        ({"word_id": 1}, 400, "correct is required"),
        ({"reviews": [{"word_id": 1, "is_correct": 0}]}, 400, "reviews[0].is_correct must be true or false"),
        ({"word_id": UNKNOWN, "correct": True}, 404, f"Word {UNKNOWN} not found"),
        ({"word_id": 101, "correct": True}, 422, "Word 101 is not in group 1"),
        (
            {"reviews": [{"word_id": 2, "is_correct": True}, {"word_id": 101, "is_correct": False}]},
            422,
            "Word 101 is not in group 1",
        ),
    ],
    ids=[
        "1 as correct",
        "a string as correct",
        "null correct",
        "no correct",
        "0 as is_correct",
        "unknown word",
        "word of another group",
        "a batch with a word of another group",
    ],
)
def test_a_refused_review_answers_a_json_error_with_cors_and_writes_nothing(target, body, status, message):
    origin = PORTAL_ORIGIN if "reviews" in body else TUTOR_ORIGIN  # the frontend batches, the Typing Tutor not
    session = new_session(target)
    stored_session = partition_items(target, f"SESSION#{session['id']}")
    counts = {word_id: word_counts(target, word_id) for word_id in (1, 2, 101)}
    answer = call(target, "POST", f"/study_sessions/{session['id']}/review", origin=origin, body=body)
    answered(answer, status, origin)
    assert message in answer.error()
    assert partition_items(target, f"SESSION#{session['id']}") == stored_session
    assert {word_id: word_counts(target, word_id) for word_id in counts} == counts


@pytest.mark.parametrize(
    "method, path, body, origin, message",
    [
        ("GET", "/study_sessions/{id}", None, PORTAL_ORIGIN, "Study session {id} not found"),
        ("GET", "/api/study-sessions/{id}", None, PORTAL_ORIGIN, "Study session {id} not found"),
        ("POST", "/study_sessions/{id}/review", A_REVIEW, TUTOR_ORIGIN, "Study session {id} not found"),
        ("GET", "/api/study-activities/{id}", None, PORTAL_ORIGIN, "Study activity {id} not found"),
        ("GET", "/api/study-activities/{id}/sessions", None, PORTAL_ORIGIN, "Study activity {id} not found"),
        ("GET", "/api/study-activities/{id}/launch", None, PORTAL_ORIGIN, "Study activity {id} not found"),
        ("GET", "/groups/{id}/words/raw", None, TUTOR_ORIGIN, "Group {id} not found"),
        ("GET", "/groups/{id}", None, PORTAL_ORIGIN, "Group {id} not found"),
        ("GET", "/groups/{id}/words", None, PORTAL_ORIGIN, "Group {id} not found"),
        ("GET", "/groups/{id}/study_sessions", None, PORTAL_ORIGIN, "Group {id} not found"),
        ("GET", "/words/{id}", None, PORTAL_ORIGIN, "Word {id} not found"),
    ],
    ids=[
        "session",
        "session page",
        "review's session",
        "activity",
        "activity's sessions",
        "activity's launch",
        "group's words (Tutor)",
        "group",
        "group's words",
        "group's sessions",
        "word",
    ],
)
def test_an_unknown_id_is_a_404_naming_what_is_missing(target, method, path, body, origin, message):
    answer = call(target, method, path.format(id=UNKNOWN), origin=origin, body=body)
    answered(answer, 404, origin)
    assert answer.error() == message.format(id=UNKNOWN)
    assert partition_items(target, f"SESSION#{UNKNOWN}") == []


@pytest.mark.parametrize("bad_id", ["abc", "0", "01", "-3", "1e3", str(2**53)])
@pytest.mark.parametrize("method, path", ID_ROUTES, ids=[path for _, path in ID_ROUTES])
def test_a_malformed_path_id_is_a_400(target, method, path, bad_id):
    answer = call(target, method, path.format(id=bad_id), body=A_REVIEW if method == "POST" else None)
    answered(answer, 400)
    assert "id must be an integer" in answer.error()


@pytest.mark.parametrize(
    "path, query",
    [
        ("/api/study-sessions", {"page": "0"}),
        ("/api/study-sessions", {"per_page": "101"}),
        ("/api/study-sessions/{session}", {"page": "x"}),
        ("/api/study-activities/1/sessions", {"per_page": "1.5"}),
        ("/study_sessions", {"limit": "0"}),
        ("/study_sessions", {"cursor": "nonsense"}),
        ("/groups", {"page": "0"}),
        ("/groups/1/words", {"page": "-1", "sort_by": "kanji"}),
        ("/groups/1/study_sessions", {"page": "1.5"}),
        ("/words", {"page": "x", "order": "desc"}),
    ],
    ids=[
        "page 0",
        "per_page 101",
        "a session's page x",
        "per_page 1.5",
        "limit 0",
        "a cursor not handed out",
        "groups page 0",
        "a group's words page -1",
        "a group's sessions page 1.5",
        "words page x",
    ],
)
def test_a_malformed_query_value_is_a_400(target, path, query):
    if "{session}" in path:
        path = path.format(session=new_session(target)["id"])
    answer = call(target, "GET", path, query=query)
    answered(answer, 400)
    assert answer.error()


@pytest.mark.parametrize("origin", ["http://127.0.0.1:5173", "http://127.0.0.1:8080"])
def test_the_pages_opened_on_127_0_0_1_get_the_same_cors_grant(target, origin):
    answered(call(target, "GET", "/groups/1/words/raw", origin=origin), 200, origin=origin)
    preflight = send(
        target.base_url,
        "OPTIONS",
        "/study_sessions/1/review",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert preflight.status == 204 and preflight.headers["access-control-allow-origin"] == origin


@pytest.mark.parametrize(
    "method, path, origin",
    [(method, path, PORTAL_ORIGIN) for method, path in ROUTES]
    + [(method, path, TUTOR_ORIGIN) for method, path in TUTOR_ROUTES],
    ids=[f"{method} {path}" for method, path in ROUTES] + [f"{method} {path} (Tutor)" for method, path in TUTOR_ROUTES],
)
def test_every_route_answers_the_preflight_of_the_page_that_calls_it(target, method, path, origin):
    answer = send(
        target.base_url,
        "OPTIONS",
        path.format(id=1),
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert answer.status == 204
    assert answer.headers["access-control-allow-origin"] == origin
    assert method in answer.headers["access-control-allow-methods"].split(", ")
    assert "content-type" in answer.headers["access-control-allow-headers"].lower()


def test_the_index_and_the_health_check_answer_on_every_target(target):
    index = answered(call(target, "GET", "/"), 200)
    assert index["name"] == "study-portal" and index["health"] == "/health" and "docs/contract.md" in index["docs"]
    assert answered(call(target, "GET", "/health"), 200) == {"status": "ok"}


# Last in the file: reset deletes every session, so it must run after the other tests on its target.
def test_reset_deletes_the_history_where_it_is_on_and_where_it_is_off_answers_403_and_deletes_nothing(target):
    """chalice local allows it (a table of its own); the deployed stage, deployed without ALLOW_RESET, refuses it
    (e2e/test_access.py walks a stack deployed with ALLOW_RESET=true through it)."""
    if target.name == "ministack-deploy":
        session = new_session(target)
        before = partition_items(target, f"SESSION#{session['id']}")
        refused = call(target, "POST", "/api/study-sessions/reset", body=b"")
        assert answered(refused, 403) == {"error": "Reset is turned off on this deployment (its AllowReset parameter)"}
        assert partition_items(target, f"SESSION#{session['id']}") == before != []
        assert answered(call(target, "GET", f"/study_sessions/{session['id']}"), 200)["id"] == session["id"]
        return
    if target.name != "chalice-local":
        pytest.skip("reset deletes every session of a running API's table, which is not this run's to delete")
    session = new_session(target)
    answered(
        call(
            target,
            "POST",
            f"/study_sessions/{session['id']}/review",
            body={"reviews": [{"word_id": 1, "is_correct": True}]},
        ),
        201,
    )
    before = {key: item for key, item in stored(target).items() if key[0].startswith("SESSION#") and key[1] == "META"}
    body = answered(call(target, "POST", "/api/study-sessions/reset", body=b""), 200)
    assert isinstance(body["message"], str) and body["message"] and body["sessions_deleted"] >= 1
    answered(call(target, "GET", f"/study_sessions/{session['id']}"), 404)
    assert partition_items(target, f"SESSION#{session['id']}") == []
    # No session is left: the recent session is JSON null.
    answer = call(target, "GET", "/dashboard/recent-session")
    assert answered(answer, 200) is None and answer.raw == b"null"
    assert body["sessions_deleted"] == len(before)
    assert body["reviews_deleted"] == sum(item["review_items_count"] for item in before.values())
    assert not [key for key in stored(target) if key[0].startswith("SESSION#")]
    assert [word_counts(target, word_id) for word_id in SEEDED_WORDS] == [(0, 0)] * len(SEEDED_WORDS)
    assert answered(call(target, "GET", "/api/study-sessions"), 200)["total"] == 0
    assert answered(call(target, "GET", "/dashboard/stats"), 200) == {
        "total_vocabulary": len(SEEDED_WORDS),
        "total_words_studied": 0,
        "mastered_words": 0,
        "success_rate": 0,
        "total_sessions": 0,
        "active_groups": 0,
        "current_streak": 0,
    }
    assert answered(call(target, "GET", "/groups/1/study_sessions"), 200) == {
        "study_sessions": [],
        "total_pages": 0,
        "current_page": 1,
    }
