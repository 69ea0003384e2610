"""The whole portal as its unchanged clients use it: the exact calls of each page of the React frontend
(Dashboard, Study Activities, Activity, Launch, Sessions, Session, Word Groups, Group, Words, Word, Settings) and of
the Typing Tutor, in their order, with their Origin, Content-Type and the preflights a browser sends first, checking
the figures each page shows from each answer, and each answer against docs/openapi.yaml. Against `make dev`
(tests/tools/test_journey.py) and through `make proxy` to a deployed stack (e2e/test_access.py)."""

import http.client
import json
from typing import Any
from urllib.parse import urlsplit

from tests.support.openapi import assert_conforms

FRONTEND = "http://localhost:5173"  # its API base is http://localhost:5000
TUTOR = "http://localhost:8080"  # its API base is http://127.0.0.1:5000


class Browser:
    """What a browser page does with fetch(): a preflight before a non-simple request, and CORS enforcement."""

    def __init__(self, *, origin: str, host: str, port: int) -> None:
        self.origin, self.host, self.port = origin, host, port

    def _send(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> tuple[int, Any, bytes]:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            connection.request(method, path, body=body, headers={"Origin": self.origin, **headers})
            response = connection.getresponse()
            raw = response.read()
            assert_conforms(method, path, response.status, raw, dict(response.headers.items()))
            return response.status, response.headers, raw
        finally:
            connection.close()

    def fetch(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """fetch(url, {method, headers: {"Content-Type": "application/json"}, body}) as the clients call it."""
        headers = {}
        if method != "GET":
            # application/json is not a "simple" content type: the browser asks first.
            status, allowed, _ = self._send(
                "OPTIONS",
                path,
                None,
                {"Access-Control-Request-Method": method, "Access-Control-Request-Headers": "content-type"},
            )
            assert status in (200, 204), (path, status)
            assert allowed["Access-Control-Allow-Origin"] == self.origin
            assert (
                method in allowed["Access-Control-Allow-Methods"]
                and "content-type" in allowed["Access-Control-Allow-Headers"].lower()
            )
            headers["Content-Type"] = "application/json"
        status, response_headers, raw = self._send(
            method, path, None if body is None else json.dumps(body).encode(), headers
        )
        # Without this header the browser hands the page nothing but "Failed to fetch".
        assert response_headers["Access-Control-Allow-Origin"] == self.origin, (method, path, status)
        assert response_headers["Content-Type"] == "application/json"
        return status, json.loads(raw)  # as the page's response.json(), which an empty body makes throw


def walk_every_page(*, port: int, dynamodb: Any, table: str) -> None:
    """A learner's first study, page by page, from an empty history to the Settings page's reset; the API on
    localhost and 127.0.0.1 at `port`, its table read through `dynamodb`."""
    frontend = Browser(origin=FRONTEND, host="localhost", port=port)
    tutor = Browser(origin=TUTOR, host="127.0.0.1", port=port)

    # Dashboard, before any study: no recent session (JSON null), the vocabulary and zeros.
    assert frontend.fetch("GET", "/dashboard/recent-session") == (200, None)
    status, stats = frontend.fetch("GET", "/dashboard/stats")
    assert (status, stats) == (
        200,
        {
            "total_vocabulary": 11,
            "total_words_studied": 0,
            "mastered_words": 0,
            "success_rate": 0,
            "total_sessions": 0,
            "active_groups": 0,
            "current_streak": 0,
        },
    )

    # Study Activities page, then the Activity page and its sessions (none yet).
    status, activities = frontend.fetch("GET", "/api/study-activities")
    assert status == 200 and activities[0]["title"] == "Typing Tutor"
    activity_id = activities[0]["id"]
    status, activity = frontend.fetch("GET", f"/api/study-activities/{activity_id}")
    assert status == 200 and activity["description"] and activity["preview_url"]
    status, listed = frontend.fetch("GET", f"/api/study-activities/{activity_id}/sessions?page=1&per_page=10")
    assert status == 200 and (listed["items"], listed["total"]) == ([], 0)

    # Launch page: the activity and the groups to choose from; start the session; open the Tutor's URL.
    status, launch = frontend.fetch("GET", f"/api/study-activities/{activity_id}/launch")
    assert status == 200 and launch["activity"]["launch_url"] == "http://localhost:8080"
    group = next(group for group in launch["groups"] if group["name"] == "Core Verbs")
    status, created = frontend.fetch(
        "POST", "/study_sessions", {"group_id": group["id"], "study_activity_id": activity_id}
    )
    assert status == 201
    session_id = created["session_id"]
    tutor_url = urlsplit(f"{launch['activity']['launch_url']}?group_id={group['id']}&session_id={session_id}")
    query = dict(pair.split("=") for pair in tutor_url.query.split("&"))

    # The Typing Tutor: its word list, then one review per word answered.
    status, word_list = tutor.fetch("GET", f"/groups/{query['group_id']}/words/raw")
    assert status == 200 and word_list["group_name"] == "Core Verbs"
    assert all(word["parts"] and word["id"] for word in word_list["words"])
    first, second, third = (word["id"] for word in word_list["words"][:3])
    answers = [(first, True), (second, False), (first, True)]
    for word_id, correct in answers:
        status, logged = tutor.fetch(
            "POST", f"/study_sessions/{query['session_id']}/review", {"word_id": word_id, "correct": correct}
        )
        assert status == 201 and (logged["word_id"], logged["correct"]) == (word_id, correct)

    # The frontend's own batch form of the same.
    status, batch = frontend.fetch(
        "POST", f"/study_sessions/{session_id}/review", {"reviews": [{"word_id": third, "is_correct": True}]}
    )
    assert status == 201 and len(batch["reviews"]) == 1
    all_time = {first: (2, 0), second: (0, 1), third: (1, 0)}  # every word's counts so far; the rest are (0, 0)

    # The Sessions page: newest first.
    status, sessions = frontend.fetch("GET", "/api/study-sessions?page=1&per_page=10")
    assert status == 200 and sessions["items"][0]["id"] == session_id and sessions["total"] == 1
    assert sessions["items"][0]["review_items_count"] == 4

    # The Session page: the session and its words with this session's counts.
    status, page = frontend.fetch("GET", f"/api/study-sessions/{session_id}?page=1&per_page=10")
    assert status == 200
    session = page["session"]
    assert (session["id"], session["group_name"], session["activity_name"], session["review_items_count"]) == (
        session_id,
        "Core Verbs",
        "Typing Tutor",
        4,
    )
    assert session["end_time"] > session["start_time"]
    counts = {word["id"]: (word["correct_count"], word["wrong_count"]) for word in page["words"]}
    assert counts == all_time
    assert page["total"] == 3 and [word["kanji"] for word in page["words"]] == sorted(
        word["kanji"] for word in page["words"]
    )

    # The session resource POST's Location named.
    status, resource = frontend.fetch("GET", f"/study_sessions/{session_id}")
    assert status == 200 and resource["review_items_count"] == 4

    # Word Groups page: by name, ascending.
    status, groups = frontend.fetch("GET", "/groups?page=1&sort_by=name&order=asc")
    assert (status, groups) == (
        200,
        {
            "groups": [
                {"id": 2, "group_name": "Core Adjectives", "word_count": 5},
                {"id": 1, "group_name": "Core Verbs", "word_count": 6},
            ],
            "total_pages": 1,
            "current_page": 1,
        },
    )

    # Group page: its heading, its words by kanji with their all-time counts, and its sessions, newest first.
    status, heading = frontend.fetch("GET", f"/groups/{group['id']}")
    assert (status, heading) == (200, {"id": group["id"], "group_name": "Core Verbs", "word_count": 6})
    status, group_words = frontend.fetch("GET", f"/groups/{group['id']}/words?page=1&sort_by=kanji&order=asc")
    assert status == 200 and (group_words["total_pages"], group_words["current_page"]) == (1, 1)
    assert group_words["words"] == [
        {
            **{name: word[name] for name in ("id", "kanji", "romaji", "english")},
            **dict(zip(("correct_count", "wrong_count"), all_time.get(word["id"], (0, 0)))),
        }
        for word in sorted(word_list["words"], key=lambda word: word["kanji"])
    ]
    status, group_sessions = frontend.fetch(
        "GET", f"/groups/{group['id']}/study_sessions?page=1&sort_by=startTime&order=desc"
    )
    assert status == 200 and (group_sessions["total_pages"], group_sessions["current_page"]) == (1, 1)
    [listed] = group_sessions["study_sessions"]
    assert {
        name: listed[name]
        for name in ("id", "group_name", "activity_name", "start_time", "end_time", "review_items_count")
    } == {
        "id": session_id,
        "group_name": "Core Verbs",
        "activity_name": "Typing Tutor",
        "start_time": session["start_time"],
        "end_time": session["end_time"],
        "review_items_count": 4,
    }

    # Words page: the whole vocabulary by kanji, with all-time counts.
    status, words = frontend.fetch("GET", "/words?page=1&sort_by=kanji&order=asc")
    assert status == 200 and (words["total_words"], words["total_pages"], words["current_page"]) == (11, 1, 1)
    assert [word["kanji"] for word in words["words"]] == sorted(word["kanji"] for word in words["words"])
    assert {
        word["id"]: (word["correct_count"], word["wrong_count"])
        for word in words["words"]
        if word["correct_count"] or word["wrong_count"]
    } == all_time

    # Word page: the word most studied, its counts and its group.
    status, word = frontend.fetch("GET", f"/words/{first}")
    assert status == 200 and word["word"]["kanji"] == word_list["words"][0]["kanji"]
    assert (word["word"]["correct_count"], word["word"]["wrong_count"], word["word"]["groups"]) == (
        2,
        0,
        [{"id": group["id"], "name": "Core Verbs"}],
    )

    # Dashboard again: the session just studied and the figures its four reviews make.
    status, recent = frontend.fetch("GET", "/dashboard/recent-session")
    assert (status, recent) == (
        200,
        {
            "id": session_id,
            "group_id": group["id"],
            "activity_name": "Typing Tutor",
            "created_at": session["start_time"],
            "correct_count": 3,
            "wrong_count": 1,
        },
    )
    status, stats = frontend.fetch("GET", "/dashboard/stats")
    assert (status, stats) == (
        200,
        {
            "total_vocabulary": 11,
            "total_words_studied": 3,
            "mastered_words": 0,
            "success_rate": 0.75,
            "total_sessions": 1,
            "active_groups": 1,
            "current_streak": 1,
        },
    )

    # Something the clients do not call: a JSON 404 the page can read.
    status, missing = frontend.fetch("GET", "/api/no-such-page")
    assert status == 404 and set(missing) == {"error"}

    # Settings: reset everything; the Sessions page and the Dashboard start over.
    status, reset = frontend.fetch("POST", "/api/study-sessions/reset")
    assert status == 200 and reset["message"] and reset["sessions_deleted"] == 1
    status, sessions = frontend.fetch("GET", "/api/study-sessions?page=1&per_page=10")
    assert (sessions["items"], sessions["total"]) == ([], 0)
    word = dynamodb.get_item(TableName=table, Key={"PK": {"S": f"WORD#{answers[0][0]}"}, "SK": {"S": "META"}})
    assert (word["Item"]["correct_count"], word["Item"]["wrong_count"]) == ({"N": "0"}, {"N": "0"})
    assert frontend.fetch("GET", "/dashboard/recent-session") == (200, None)
    status, stats = frontend.fetch("GET", "/dashboard/stats")
    assert (stats["total_sessions"], stats["total_words_studied"], stats["success_rate"]) == (0, 0, 0)
