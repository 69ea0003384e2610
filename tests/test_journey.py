"""The study journey as the portal's unchanged clients make it, against a real `make dev` on port 5000: the exact
calls of the Launch page, the Typing Tutor, the Session and Sessions pages and Settings, in their order, with their
Origin, Content-Type and the preflights a browser sends first, checking what each page reads from each answer."""
import http.client
import json
from typing import Any
from urllib.parse import urlsplit

import pytest

from scripts.dev import DEFAULT_PORT, start_dev_server, stop_dev_server
from scripts.local_stack import LOCAL_TABLE, dynamodb_client, endpoint_url, free_port, port_in_use

FRONTEND = "http://localhost:5173"  # its API base is http://localhost:5000
TUTOR = "http://localhost:8080"  # its API base is http://127.0.0.1:5000


class Browser:
    """What a browser page does with fetch(): a preflight before a non-simple request, and CORS enforcement."""

    def __init__(self, *, origin: str, host: str, port: int) -> None:
        self.origin, self.host, self.port = origin, host, port

    def _send(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> tuple[int, Any, Any]:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            connection.request(method, path, body=body, headers={"Origin": self.origin, **headers})
            response = connection.getresponse()
            raw = response.read()
            return response.status, response.headers, json.loads(raw) if raw else None
        finally:
            connection.close()

    def fetch(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """fetch(url, {method, headers: {"Content-Type": "application/json"}, body}) as the clients call it."""
        headers = {}
        if method != "GET":
            # application/json is not a "simple" content type: the browser asks first.
            status, allowed, _ = self._send("OPTIONS", path, None, {
                "Access-Control-Request-Method": method, "Access-Control-Request-Headers": "content-type"})
            assert status in (200, 204), (path, status)
            assert allowed["Access-Control-Allow-Origin"] == self.origin
            assert method in allowed["Access-Control-Allow-Methods"] and \
                "content-type" in allowed["Access-Control-Allow-Headers"].lower()
            headers["Content-Type"] = "application/json"
        status, response_headers, answer = self._send(method, path, None if body is None else json.dumps(
            body).encode(), headers)
        # Without this header the browser hands the page nothing but "Failed to fetch".
        assert response_headers["Access-Control-Allow-Origin"] == self.origin, (method, path, status)
        assert response_headers["Content-Type"] == "application/json"
        return status, answer


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """`make dev` on port 5000 (another free port if a developer's own `make dev` holds it) with its own data."""
    place = tmp_path_factory.mktemp("journey")
    port = DEFAULT_PORT if not port_in_use(DEFAULT_PORT) else free_port()
    dynamodb_port = free_port()
    dev = start_dev_server(port=port, dynamodb_port=dynamodb_port, data_dir=place / "data",
                           log_path=place / "dev.log")
    try:
        yield port, dynamodb_client(endpoint_url(dynamodb_port))
    finally:
        stop_dev_server(dev)


def test_a_learner_launches_studies_and_reviews_a_session_through_the_unchanged_clients(portal):
    port, dynamodb = portal
    frontend = Browser(origin=FRONTEND, host="localhost", port=port)
    tutor = Browser(origin=TUTOR, host="127.0.0.1", port=port)

    # Study Activities page, then the Activity page.
    status, activities = frontend.fetch("GET", "/api/study-activities")
    assert status == 200 and activities[0]["title"] == "Typing Tutor"
    status, activity = frontend.fetch("GET", f"/api/study-activities/{activities[0]['id']}")
    assert status == 200 and activity["description"] and activity["preview_url"]

    # Launch page: the activity and the groups to choose from; start the session; open the Tutor's URL.
    status, launch = frontend.fetch("GET", "/api/study-activities/1/launch")
    assert status == 200 and launch["activity"]["launch_url"] == "http://localhost:8080"
    group = next(group for group in launch["groups"] if group["name"] == "Core Verbs")
    status, created = frontend.fetch("POST", "/study_sessions", {"group_id": group["id"], "study_activity_id": 1})
    assert status == 201
    session_id = created["session_id"]
    tutor_url = urlsplit(f"{launch['activity']['launch_url']}?group_id={group['id']}&session_id={session_id}")
    query = dict(pair.split("=") for pair in tutor_url.query.split("&"))

    # The Typing Tutor: its word list, then one review per word answered.
    status, word_list = tutor.fetch("GET", f"/groups/{query['group_id']}/words/raw")
    assert status == 200 and word_list["group_name"] == "Core Verbs"
    assert all(word["parts"] and word["id"] for word in word_list["words"])
    answers = [(word_list["words"][0]["id"], True), (word_list["words"][1]["id"], False),
               (word_list["words"][0]["id"], True)]
    for word_id, correct in answers:
        status, logged = tutor.fetch("POST", f"/study_sessions/{query['session_id']}/review",
                                     {"word_id": word_id, "correct": correct})
        assert status == 201 and (logged["word_id"], logged["correct"]) == (word_id, correct)

    # The frontend's own batch form of the same.
    status, batch = frontend.fetch("POST", f"/study_sessions/{session_id}/review",
                                   {"reviews": [{"word_id": word_list["words"][2]["id"], "is_correct": True}]})
    assert status == 201 and len(batch["reviews"]) == 1

    # The Session page: the session and its words with this session's counts.
    status, page = frontend.fetch("GET", f"/api/study-sessions/{session_id}?page=1&per_page=10")
    assert status == 200
    session = page["session"]
    assert (session["id"], session["group_name"], session["activity_name"], session["review_items_count"]) == (
        session_id, "Core Verbs", "Typing Tutor", 4)
    assert session["end_time"] > session["start_time"]
    counts = {word["id"]: (word["correct_count"], word["wrong_count"]) for word in page["words"]}
    assert counts == {word_list["words"][0]["id"]: (2, 0), word_list["words"][1]["id"]: (0, 1),
                      word_list["words"][2]["id"]: (1, 0)}
    assert page["total"] == 3 and [word["kanji"] for word in page["words"]] == sorted(
        word["kanji"] for word in page["words"])

    # The Sessions page: newest first.
    status, sessions = frontend.fetch("GET", "/api/study-sessions?page=1&per_page=10")
    assert status == 200 and sessions["items"][0]["id"] == session_id and sessions["total"] >= 1

    # The session resource POST's Location named.
    status, resource = frontend.fetch("GET", f"/study_sessions/{session_id}")
    assert status == 200 and resource["review_items_count"] == 4

    # Something the clients do not call: a JSON 404 the page can read.
    status, missing = frontend.fetch("GET", "/api/no-such-page")
    assert status == 404 and set(missing) == {"error"}

    # Settings: reset everything.
    status, reset = frontend.fetch("POST", "/api/study-sessions/reset")
    assert status == 200 and reset["message"] and reset["sessions_deleted"] >= 1
    status, sessions = frontend.fetch("GET", "/api/study-sessions?page=1&per_page=10")
    assert (sessions["items"], sessions["total"]) == ([], 0)
    word = dynamodb.get_item(TableName=LOCAL_TABLE, Key={"PK": {"S": f"WORD#{answers[0][0]}"}, "SK": {"S": "META"}})
    assert (word["Item"]["correct_count"], word["Item"]["wrong_count"]) == ({"N": "0"}, {"N": "0"})
