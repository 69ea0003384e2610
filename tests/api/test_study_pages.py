"""The reads the portal's pages make (activities, launch, sessions, a session's words, the Typing Tutor's word
list), their pagination, the reset, preflights on every route, and that no route scans; on moto and ministack."""

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from chalice.test import Client

import app as app_module
from chalicelib import runtime
from chalicelib.store import StudyRepository
from scripts.local_stack import ROOT
from scripts.seed_data import GROUPS
from tests.support.dynamodb import http_error, scan_items
from tests.support.openapi import ConformingClient
from tests.support.portal import JSON_FROM_PORTAL, PORTAL_ORIGIN, VALID, assert_security_headers

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


def get(api: Any, path: str, origin: str = PORTAL_ORIGIN) -> tuple[int, Any]:
    response = api.get(path, headers={"Origin": origin})
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers.get("Access-Control-Allow-Origin") == origin
    return response.status_code, json.loads(response.body)


def create_sessions(repository: StudyRepository, count: int, *, group_id: int = 1) -> list[dict[str, Any]]:
    """`count` sessions, a second apart, oldest first (a clock that moves one second per session)."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    clock = iter(start + timedelta(seconds=index) for index in range(count))
    timed = StudyRepository(client=repository.client, table_name=repository.table_name, now=lambda: next(clock))
    return [timed.create_session(group_id=group_id, study_activity_id=1) for _ in range(count)]


def test_the_study_activities_page_gets_an_array_of_activities(api):
    status, body = get(api, "/api/study-activities")
    assert status == 200
    assert body == [
        {
            "id": 1,
            "title": "Typing Tutor",
            "launch_url": "http://localhost:8080",
            "preview_url": "/assets/study_activities/typing-tutor.png",
        }
    ]


def test_the_activity_page_gets_the_activity_with_its_description(api):
    status, body = get(api, "/api/study-activities/1")
    assert status == 200
    assert set(body) == {"id", "title", "launch_url", "preview_url", "description"} and body["description"]


def test_the_launch_page_gets_the_activity_and_every_group(api):
    status, body = get(api, "/api/study-activities/1/launch")
    assert status == 200
    assert body["activity"]["title"] == "Typing Tutor" and set(body["activity"]) == {
        "id",
        "title",
        "launch_url",
        "preview_url",
    }
    assert body["groups"] == [{"id": group["group_id"], "name": group["name"]} for group in GROUPS]


@pytest.mark.parametrize(
    "path, message",
    [
        ("/api/study-activities/7", "Study activity 7 not found"),
        ("/api/study-activities/7/launch", "Study activity 7 not found"),
        ("/api/study-activities/7/sessions", "Study activity 7 not found"),
        ("/api/study-sessions/7", "Study session 7 not found"),
        ("/study_sessions/7", "Study session 7 not found"),
        ("/groups/7/words/raw", "Group 7 not found"),
    ],
)
def test_unknown_ids_are_404_naming_what_is_missing(api, path, message):
    assert get(api, path) == (404, {"error": message})


@pytest.mark.parametrize(
    "path",
    [
        "/api/study-activities/x",
        "/api/study-activities/0/launch",
        "/api/study-activities/01/sessions",
        "/api/study-sessions/-3",
        "/study_sessions/1e3",
        "/groups/abc/words/raw",
        "/api/study-sessions?page=0",
        "/api/study-sessions?page=x",
        "/api/study-sessions?per_page=101",
        "/api/study-sessions?per_page=-1",
        "/api/study-activities/1/sessions?page=1.5",
        "/study_sessions?limit=0",
        "/study_sessions?limit=101",
        "/study_sessions?cursor=nonsense",
        "/study_sessions?cursor=WyJ4IiwxXQ",
        # found by tests/api/test_fuzz.py: leading zeros past the maximum, and a cursor nested past the recursion limit
        "/study_sessions?limit=000000000000000000101",
        "/api/study-sessions?per_page=0000000000000000000101",
        "/study_sessions?cursor=" + base64.urlsafe_b64encode(b"[" * 5000).decode().rstrip("="),
        "/study_sessions/" + "9" * 5000,
        "/api/study-activities/" + "9" * 17,  # past int()'s digit limit; 17 digits
    ],
)
def test_malformed_path_ids_and_query_values_are_400_before_any_dynamodb_request(bare_api, path):
    status, body = get(bare_api, path)
    assert status == 400 and set(body) == {"error"}


def test_get_study_session_is_what_post_returned_then_follows_its_reviews(api, post_session):
    created = post_session(VALID)
    session = json.loads(created.body)
    status, body = get(api, created.headers["Location"])
    assert (status, body) == (200, session)
    review = api.post(
        f"/study_sessions/{session['id']}/review",
        headers=JSON_FROM_PORTAL,
        body=json.dumps({"word_id": 5, "correct": False}),
    )
    _, after = get(api, f"/study_sessions/{session['id']}")
    assert after["review_items_count"] == 1 and after["end_time"] == json.loads(review.body)["created_at"]
    assert after["start_time"] == session["start_time"]


def test_the_session_page_lists_the_words_reviewed_in_it_by_kanji_with_this_sessions_counts(api, seeded):
    first = seeded.create_session(group_id=1, study_activity_id=1)
    other = seeded.create_session(group_id=1, study_activity_id=1)
    seeded.log_reviews(session_id=first["id"], reviews=[(5, True), (1, False), (5, True), (2, True)])
    seeded.log_reviews(session_id=other["id"], reviews=[(1, True)])
    status, body = get(api, f"/api/study-sessions/{first['id']}?page=1&per_page=2")
    assert status == 200
    assert set(body["session"]) >= SESSION_FIELDS and body["session"]["review_items_count"] == 4
    assert (body["total"], body["page"], body["per_page"], body["total_pages"]) == (3, 1, 2, 2)
    # 見る, 食べる, 飲む in code point order, as SQLite's default collation sorts kanji
    assert [(w["kanji"], w["correct_count"], w["wrong_count"]) for w in body["words"]] == [
        ("見る", 2, 0),
        ("食べる", 0, 1),
    ]
    assert set(body["words"][0]) == {"id", "kanji", "romaji", "english", "correct_count", "wrong_count"}
    _, second_page = get(api, f"/api/study-sessions/{first['id']}?page=2&per_page=2")
    assert [(w["kanji"], w["correct_count"]) for w in second_page["words"]] == [("飲む", 1)]
    _, past_the_end = get(api, f"/api/study-sessions/{first['id']}?page=3&per_page=2")
    assert past_the_end["words"] == [] and past_the_end["total"] == 3


def test_a_session_without_reviews_has_no_words(api, seeded):
    session = seeded.create_session(group_id=2, study_activity_id=1)
    status, body = get(api, f"/api/study-sessions/{session['id']}")
    assert status == 200 and body["words"] == [] and (body["total"], body["total_pages"]) == (0, 0)


@pytest.mark.parametrize("count, per_page", [(0, 10), (7, 3), (9, 3), (10, 10), (11, 10)])
def test_walking_every_page_returns_each_session_once_newest_first(api, seeded, count, per_page):
    created = create_sessions(seeded, count)
    newest_first = [session["id"] for session in reversed(created)]
    for path in ("/api/study-sessions", "/api/study-activities/1/sessions"):
        seen, page = [], 1
        while True:
            _, body = get(api, f"{path}?page={page}&per_page={per_page}")
            assert (body["total"], body["per_page"], body["total_pages"]) == (count, per_page, -(-count // per_page))
            if not body["items"]:
                break
            assert all(set(item) >= SESSION_FIELDS for item in body["items"])
            seen += [item["id"] for item in body["items"]]
            page += 1
        assert seen == newest_first and page == body["total_pages"] + 1


@pytest.mark.parametrize("count, limit", [(0, 5), (7, 3), (9, 3), (10, 10), (11, 10)])
def test_walking_the_cursor_returns_each_session_once_newest_first(api, seeded, count, limit):
    created = create_sessions(seeded, count)
    seen, path, pages = [], f"/study_sessions?limit={limit}", 0
    while True:
        status, body = get(api, path)
        assert status == 200 and len(body["items"]) <= limit
        seen += [item["id"] for item in body["items"]]
        pages += 1
        if body["next_cursor"] is None:
            break
        path = f"/study_sessions?limit={limit}&cursor={body['next_cursor']}"
    assert seen == [session["id"] for session in reversed(created)]
    assert pages == max(1, -(-count // limit))  # an exact multiple ends without an empty last page


def test_an_empty_cursor_is_the_first_page(api, seeded):
    created = create_sessions(seeded, 3)
    status, body = get(api, "/study_sessions?limit=2&cursor=")
    assert status == 200 and [item["id"] for item in body["items"]] == [created[2]["id"], created[1]["id"]]


def test_an_activitys_sessions_are_only_its_own(api, seeded, dynamodb, table):
    seeded.put_study_activity(
        study_activity_id=2, name="Flashcards", url="http://localhost:8081", preview_url="/flashcards.png"
    )
    mine = seeded.create_session(group_id=1, study_activity_id=2)
    seeded.create_session(group_id=1, study_activity_id=1)
    _, body = get(api, "/api/study-activities/2/sessions")
    assert [item["id"] for item in body["items"]] == [mine["id"]] and body["items"][0]["activity_name"] == "Flashcards"
    _, activities = get(api, "/api/study-activities")
    assert [activity["id"] for activity in activities] == [1, 2]


def test_the_typing_tutors_word_list_has_each_words_parts(api):
    status, body = get(api, "/groups/2/words/raw", origin="http://localhost:8080")
    assert status == 200
    assert (body["group_id"], body["group_name"]) == (2, "Core Adjectives")
    assert [word["id"] for word in body["words"]] == [101, 102, 103, 104, 105]
    big = body["words"][0]
    assert big == {
        "id": 101,
        "kanji": "大きい",
        "romaji": "ookii",
        "english": "big",
        "parts": [
            {"kanji": "大", "romaji": ["o", "o"]},
            {"kanji": "き", "romaji": ["ki"]},
            {"kanji": "い", "romaji": ["i"]},
        ],
    }


def reset(api: Any, body: bytes = b"", content_type: str = "application/json") -> tuple[int, dict[str, Any]]:
    response = api.post(
        "/api/study-sessions/reset", body=body, headers={"Content-Type": content_type, "Origin": PORTAL_ORIGIN}
    )
    return response.status_code, json.loads(response.body)


def test_reset_deletes_every_session_and_review_and_zeroes_every_word(api, seeded, dynamodb, table):
    sessions = create_sessions(seeded, 30)
    for session in sessions[:12]:
        seeded.log_reviews(session_id=session["id"], reviews=[(1, True), (2, False)])
    status, body = reset(api)
    assert status == 200
    assert (body["sessions_deleted"], body["reviews_deleted"], body["words_reset"]) == (30, 24, 2)
    assert body["message"].startswith("Study history reset: 30 study sessions") and body["seconds"] >= 0
    items = scan_items(dynamodb, table)
    assert not [item for item in items if item["PK"].startswith("SESSION#")]
    words = [item for item in items if item["PK"].startswith("WORD#")]
    assert len(words) == sum(len(group["words"]) for group in GROUPS)
    assert all(word["correct_count"] == word["wrong_count"] == 0 for word in words)
    assert get(api, "/api/study-sessions")[1]["total"] == 0
    assert reset(api)[1]["sessions_deleted"] == 0  # again: nothing left, still 200


def test_a_reset_cut_short_by_its_deadline_finishes_when_sent_again(seeded, dynamodb, table):
    for session in create_sessions(seeded, 60):
        seeded.log_reviews(session_id=session["id"], reviews=[(3, True)])
    assert seeded.reset(deadline=0)["complete"] is False  # the deadline has passed before the first step
    everything = seeded.reset(deadline=float("inf"))
    assert everything["complete"] is True and everything["sessions_deleted"] == 60
    assert not [item for item in scan_items(dynamodb, table) if item["PK"].startswith("SESSION#")]


def test_reset_deletes_a_session_stored_without_a_review_count(api, seeded, dynamodb, table):
    [session] = create_sessions(seeded, 1)
    dynamodb.update_item(
        TableName=table,
        Key={"PK": {"S": f"SESSION#{session['id']}"}, "SK": {"S": "META"}},
        UpdateExpression="REMOVE review_items_count",
    )  # as an older or hand-made item might be
    status, body = reset(api)
    assert status == 200 and (body["sessions_deleted"], body["reviews_deleted"]) == (1, 0)
    assert not [item for item in scan_items(dynamodb, table) if item["PK"].startswith("SESSION#")]


def orphans(dynamodb: Any, table: str) -> list[str]:
    """Review items whose session item is gone: nothing could ever find them again."""
    items = scan_items(dynamodb, table)
    sessions = {item["PK"] for item in items if item["SK"] == "META"}
    return [item["PK"] for item in items if item["SK"].startswith("REVIEW#") and item["PK"] not in sessions]


def test_a_reset_that_fails_midway_leaves_no_review_without_its_session_and_finishes_when_sent_again(
    backend, botocore_events, api, seeded, dynamodb, table
):
    sessions = create_sessions(seeded, 40)
    for session in sessions:
        seeded.log_reviews(session_id=session["id"], reviews=[(1, True), (2, False)])
    doomed = f'"SESSION#{sessions[7]["id"]}"'.encode()
    failed = []

    def fail_one_session(request: Any, **_: Any) -> Any:
        # DynamoDB fails every attempt to delete one session's reviews, so the session must stay to find them by.
        if doomed not in request.body or len(failed) >= 3:
            return None
        failed.append(1)
        request.url = "https://fault-injected.invalid/"
        return http_error("InternalServerError", 500)

    botocore_events.register_first("before-send.dynamodb.BatchWriteItem", fail_one_session)
    status, body = reset(api)
    assert (status, len(failed)) == (503, 3) and set(body) == {"error"}
    left = [item for item in scan_items(dynamodb, table) if item["PK"].startswith("SESSION#")]
    assert left and orphans(dynamodb, table) == []
    status, body = reset(api)
    assert status == 200 and body["sessions_deleted"] == len({item["PK"] for item in left})
    assert not [item for item in scan_items(dynamodb, table) if item["PK"].startswith("SESSION#")]


def test_a_review_logged_while_the_reset_runs_is_deleted_with_its_session(
    backend, botocore_events, api, seeded, dynamodb, table
):
    [session] = create_sessions(seeded, 1)
    seeded.log_reviews(session_id=session["id"], reviews=[(1, True)])
    arrived: list[Any] = []

    def review_first(**_: Any) -> None:
        # Between the reset's Query of the session and the transaction that deletes it: a Typing Tutor answer lands
        # (its own transaction passes through here too).
        if not arrived:
            arrived.append("sending")
            arrived.append(seeded.log_reviews(session_id=session["id"], reviews=[(2, True)]))

    botocore_events.register_first("before-send.dynamodb.TransactWriteItems", review_first)
    status, body = reset(api)
    assert status == 200 and arrived and (body["sessions_deleted"], body["reviews_deleted"]) == (1, 2)
    assert not [item for item in scan_items(dynamodb, table) if item["PK"].startswith("SESSION#")]


@pytest.mark.parametrize(
    "body, content_type, status",
    [
        (b"", "text/plain", 415),
        (b"", "", 415),
        (b"[1]", "application/json", 400),
        (b"{", "application/json", 400),
        (b"{}", "application/json", 200),
        (b"  ", "application/json", 200),
    ],
)
def test_reset_wants_json_with_an_empty_body(api, seeded, dynamodb, table, body, content_type, status):
    create_sessions(seeded, 1)
    assert reset(api, body, content_type)[0] == status
    sessions = [item for item in scan_items(dynamodb, table) if item["PK"].startswith("SESSION#")]
    assert len(sessions) == (0 if status == 200 else 1)


def test_reset_is_refused_on_prod_unless_the_deployment_allows_it(backend, monkeypatch):
    runtime.reset_repository()
    with Client(app_module.app, stage_name="prod", project_dir=str(ROOT)) as client:
        response = ConformingClient(client.http).post(
            "/api/study-sessions/reset", body=b"", headers={"Content-Type": "application/json"}
        )
    assert response.status_code == 403 and "AllowReset" in json.loads(response.body)["error"]


ROUTES = [
    ("POST", "/study_sessions"),
    ("GET", "/study_sessions"),
    ("GET", "/study_sessions/{session}"),
    ("POST", "/study_sessions/{session}/review"),
    ("GET", "/api/study-sessions"),
    ("GET", "/api/study-sessions/{session}"),
    ("POST", "/api/study-sessions/reset"),
    ("GET", "/api/study-activities"),
    ("GET", "/api/study-activities/1"),
    ("GET", "/api/study-activities/1/sessions"),
    ("GET", "/api/study-activities/1/launch"),
    ("GET", "/groups"),
    ("GET", "/groups/1"),
    ("GET", "/groups/1/words"),
    ("GET", "/groups/1/words/raw"),
    ("GET", "/groups/1/study_sessions"),
    ("GET", "/words"),
    ("GET", "/words/1"),
    ("GET", "/dashboard/recent-session"),
    ("GET", "/dashboard/stats"),
    ("GET", "/"),
    ("GET", "/health"),
]
BODIES = {
    "/study_sessions": VALID,
    "/study_sessions/{session}/review": {"word_id": 1, "correct": True},
    "/api/study-sessions/reset": None,
}


def test_every_route_is_in_the_list_these_tests_walk():
    routes = {
        (
            method,
            path.replace("{session_id}", "{session}")
            .replace("{activity_id}", "1")
            .replace("{group_id}", "1")
            .replace("{word_id}", "1"),
        )
        for path, methods in app_module.app.routes.items()
        for method in methods
        if method != "OPTIONS"
    }
    assert routes == set(ROUTES)


@pytest.mark.parametrize("method, path", ROUTES)
def test_every_route_answers_its_preflight(bare_api, method, path):
    response = bare_api.request(
        "OPTIONS",
        path.replace("{session}", "1"),
        headers={
            "Origin": "http://localhost:8080",
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "http://localhost:8080"
    assert method in response.headers["Access-Control-Allow-Methods"].split(", ")
    assert "Content-Type" in response.headers["Access-Control-Allow-Headers"]
    assert_security_headers(response.headers)


@pytest.mark.parametrize("method, path", ROUTES)
def test_no_route_scans_and_each_answers_with_cors_and_the_security_headers(backend, dynamodb_calls, api, method, path):
    session = json.loads(
        api.post("/study_sessions", body=json.dumps(VALID), headers={"Content-Type": "application/json"}).body
    )
    body = BODIES.get(path)
    response = api.request(
        method,
        path.replace("{session}", str(session["id"])),
        body=b"" if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Origin": PORTAL_ORIGIN},
    )
    assert response.status_code in (200, 201)
    assert response.headers["Access-Control-Allow-Origin"] == PORTAL_ORIGIN
    assert_security_headers(response.headers)
    assert dynamodb_calls and "Scan" not in dynamodb_calls
