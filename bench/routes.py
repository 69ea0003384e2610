"""The one route table: every call `make bench` and `make costs` make, how to make it and what it must answer."""

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

ORIGIN = {"Origin": "http://localhost:5173"}
JSON_HEADERS = {"Content-Type": "application/json", **ORIGIN}


@dataclass(frozen=True)
class Row:
    """One measured route (or form of a route): how to call it and what it must answer."""

    label: str
    method: str
    resource: str  # the route as app.app.routes names it
    path: str  # {session}: the session the reads and reviews use
    body: Callable[[], dict[str, Any] | None] = lambda: None
    keyed: bool = False  # a fresh Idempotency-Key on each call
    status: int = 200
    single_read: bool = False
    what: str = ""  # what `make costs` says the call is, with the figures of its data set

    @property
    def floor(self) -> str:
        return "PutItem" if self.method == "POST" else "GetItem"

    @property
    def route(self) -> str:
        """The method and the path without its query, {id} for the session: as `make costs` prints it."""
        return f"{self.method} {self.path.split('?')[0].replace('{session}', '{id}')}"


def request(row: Row, session_id: int | str) -> tuple[str, dict[str, str], bytes]:
    """The path, headers and body of one call of the row (a fresh Idempotency-Key if it sends one)."""
    headers = dict(JSON_HEADERS if row.method == "POST" else ORIGIN)
    if row.keyed:
        headers["Idempotency-Key"] = str(uuid.uuid4())
    body = row.body()
    return row.path.format(session=session_id), headers, json.dumps(body).encode() if body else b""


def _create() -> dict[str, Any]:
    return {"group_id": 1, "study_activity_id": 1}


# Named where `make costs` measures them again with the table grown.
SESSIONS_BY_CURSOR = Row(
    "GET /study_sessions?limit=10", "GET", "/study_sessions", "/study_sessions?limit=10", what="10 sessions by cursor"
)
SESSIONS_PAGE = Row(
    "GET /api/study-sessions",
    "GET",
    "/api/study-sessions",
    "/api/study-sessions?page=1&per_page=10",
    what="Sessions page (of 32 sessions)",
)
GROUP_SESSIONS = Row(
    "GET /groups/{id}/study_sessions",
    "GET",
    "/groups/{group_id}/study_sessions",
    "/groups/1/study_sessions?page=1",
    what="Group page: sessions (of 32)",
)
DASHBOARD_STATS = Row(
    "GET /dashboard/stats",
    "GET",
    "/dashboard/stats",
    "/dashboard/stats",
    what="Dashboard: figures (11 words, 32 sessions)",
)
SESSION_AND_ACTIVITY_READS = [
    Row(
        "GET /study_sessions/{id}",
        "GET",
        "/study_sessions/{session_id}",
        "/study_sessions/{session}",
        single_read=True,
        what="a session",
    ),
    SESSIONS_BY_CURSOR,
    SESSIONS_PAGE,
    Row(
        "GET /api/study-sessions/{id}",
        "GET",
        "/api/study-sessions/{session_id}",
        "/api/study-sessions/{session}?page=1&per_page=10",
        single_read=True,
        what="Session page (6 words reviewed)",
    ),
    Row(
        "GET /api/study-activities",
        "GET",
        "/api/study-activities",
        "/api/study-activities",
        what="Study Activities page",
    ),
    Row(
        "GET /api/study-activities/{id}",
        "GET",
        "/api/study-activities/{activity_id}",
        "/api/study-activities/1",
        single_read=True,
        what="Activity page",
    ),
    Row(
        "GET /api/study-activities/{id}/sessions",
        "GET",
        "/api/study-activities/{activity_id}/sessions",
        "/api/study-activities/1/sessions?page=1&per_page=10",
        what="an activity's sessions (of 32)",
    ),
    Row(
        "GET /api/study-activities/{id}/launch",
        "GET",
        "/api/study-activities/{activity_id}/launch",
        "/api/study-activities/1/launch",
        what="Launch page",
    ),
]
GROUPS = Row(
    "GET /groups", "GET", "/groups", "/groups?page=1&sort_by=name&order=asc", what="Word Groups page (2 groups)"
)
GROUP = Row(
    "GET /groups/{id}", "GET", "/groups/{group_id}", "/groups/1", single_read=True, what="Group page: the group"
)
GROUP_WORDS = Row(
    "GET /groups/{id}/words",
    "GET",
    "/groups/{group_id}/words",
    "/groups/1/words?page=1&sort_by=kanji",
    what="Group page: words by kanji (6 words)",
)
GROUP_WORDS_RAW = Row(
    "GET /groups/{id}/words/raw",
    "GET",
    "/groups/{group_id}/words/raw",
    "/groups/1/words/raw",
    what="Typing Tutor's word list (6 words)",
)
WORD_AND_DASHBOARD_READS = [
    GROUP_SESSIONS,
    Row("GET /words", "GET", "/words", "/words?page=1&sort_by=kanji", what="Words page (11 words)"),
    Row("GET /words/{id}", "GET", "/words/{word_id}", "/words/1", single_read=True, what="Word page (1 group)"),
    Row(
        "GET /dashboard/recent-session",
        "GET",
        "/dashboard/recent-session",
        "/dashboard/recent-session",
        what="Dashboard: newest session",
    ),
    DASHBOARD_STATS,
]
SERVICE_ROWS = [
    Row("GET /", "GET", "/", "/", what="the service's index"),
    Row("GET /health", "GET", "/health", "/health", what="the health check (reads no table)"),
]
READ_ROWS = [
    *SESSION_AND_ACTIVITY_READS,
    GROUPS,
    GROUP,
    GROUP_WORDS,
    GROUP_WORDS_RAW,
    *WORD_AND_DASHBOARD_READS,
    *SERVICE_ROWS,
]
POST = Row(
    "POST /study_sessions", "POST", "/study_sessions", "/study_sessions", _create, status=201, what="create a session"
)
# Seed group 1 holds words 1 to 6; the measured session is one of group 1's.
REVIEW_ONE = Row(
    "POST /study_sessions/{id}/review (one)",
    "POST",
    "/study_sessions/{session_id}/review",
    "/study_sessions/{session}/review",
    lambda: {"word_id": 4, "correct": True},
    status=201,
    what="log one review (Typing Tutor)",
)
REVIEW_BATCH = Row(
    "POST /study_sessions/{id}/review (batch of 3)",
    "POST",
    "/study_sessions/{session_id}/review",
    "/study_sessions/{session}/review",
    lambda: {"reviews": [{"word_id": word, "is_correct": True} for word in (4, 5, 6)]},
    status=201,
    what="log a batch of 3 reviews of 3 words",
)
WRITE_ROWS = [
    POST,
    Row(
        "POST /study_sessions (Idempotency-Key)",
        "POST",
        "/study_sessions",
        "/study_sessions",
        _create,
        keyed=True,
        status=201,
    ),
    REVIEW_ONE,
    REVIEW_BATCH,
]
RESET = Row("POST /api/study-sessions/reset", "POST", "/api/study-sessions/reset", "/api/study-sessions/reset")
ROWS = READ_ROWS + WRITE_ROWS + [RESET]  # what `make bench` measures, in its order
BASELINE = Row(
    "baseline POST /study_sessions (naive port)", "POST", "/study_sessions", "/study_sessions", _create, status=201
)
SINGLE_READS = [row.label for row in ROWS if row.single_read]

# `make costs`: the writes first, the Typing Tutor's list before the groups, and a sort by a count, which the bench
# does not time.
GROUP_WORDS_BY_COUNT = Row(
    "GET /groups/{id}/words (by a count)",
    "GET",
    "/groups/{group_id}/words",
    "/groups/1/words?page=1&sort_by=correct_count&order=desc",
    what="Group page: words by a count",
)
COSTS = [
    POST,
    REVIEW_ONE,
    REVIEW_BATCH,
    *SESSION_AND_ACTIVITY_READS,
    GROUP_WORDS_RAW,
    GROUPS,
    GROUP,
    GROUP_WORDS,
    GROUP_WORDS_BY_COUNT,
    *WORD_AND_DASHBOARD_READS,
]
# Then, with the table grown (its sessions and a group of {vocabulary} more words, id 3), the lists that grow with it.
COSTS_AT_SCALE = [
    replace(SESSIONS_PAGE, what="Sessions page 1"),
    Row(
        "GET /api/study-sessions (page 100)",
        "GET",
        "/api/study-sessions",
        "/api/study-sessions?page=100&per_page=10",
        what="Sessions page 100",
    ),
    replace(SESSIONS_BY_CURSOR, what="10 sessions by cursor"),
    Row("GET /words (by english)", "GET", "/words", "/words?page=1&sort_by=english", what="Words page 1 by english"),
    Row(
        "GET /groups/{id}/words (the vocabulary by a count)",
        "GET",
        "/groups/{group_id}/words",
        "/groups/3/words?page=1&sort_by=wrong_count&order=desc",
        what="Group page: {vocabulary} words by a count",
    ),
    replace(GROUP_SESSIONS, what="Group page: sessions of group 1"),
    replace(DASHBOARD_STATS, what="Dashboard figures"),
]
