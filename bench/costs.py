"""`make costs`: what each route costs in DynamoDB requests and capacity units, measured on moto and on ministack
(each emulator accounts capacity its own way: docs/design.md compares them with DynamoDB's rules), then, on ministack,
the lists, the Words page and the dashboard with 1,000 sessions and 2,000 more words, and the reset of those
sessions.

Runs the app in process (Chalice's test client) against moto and against a ministack of its own on a free loopback
port, with the seed data and 30 sessions (10 of them with reviews of 3 words), and reads each request's access-log
line. Stops by itself; leaves nothing behind."""
import argparse
import json
import logging
import os
import shutil
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from moto import mock_aws

from scripts.local_stack import LOCAL_DIR, free_port, start_ministack, stop_ministack, wait_until_ready

TABLE = "study-portal-costs"
ORIGIN = {"Origin": "http://localhost:5173"}
JSON = {"Content-Type": "application/json", **ORIGIN}


class _AccessLines(logging.Handler):
    """Keeps the fields of each access-log line."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage() == "request":
            self.lines.append(getattr(record, "fields", {}))


def _arrange(repository: Any, sessions: int, reviewed: int, workers: int = 1) -> list[dict[str, Any]]:
    """`sessions` sessions of group 1, the first `reviewed` with reviews of words 1, 2 and 3."""
    with ThreadPoolExecutor(max_workers=workers) as pool:  # moto is not thread-safe: one worker there
        made = list(pool.map(lambda _: repository.create_session(group_id=1, study_activity_id=1), range(sessions)))
        list(pool.map(lambda session: repository.log_reviews(
            session_id=session["id"], reviews=[(1, True), (2, False), (3, True)]), made[:reviewed]))
    return made


def measure(backend: str, *, reset_sessions: int, vocabulary: int = 0) -> dict[str, Any]:
    """Each route's requests and capacity (the second of two identical calls); with reset_sessions, the lists,
    the Words page and the dashboard with that many sessions and a group of `vocabulary` more words, and the
    reset's time."""
    import boto3
    from chalice.test import Client

    import app as app_module
    from chalicelib import runtime
    from chalicelib.store import StudyRepository
    from chalicelib.store.table import create_table_if_missing
    from scripts.local_stack import ROOT
    from scripts.seed_data import load_seed

    client = boto3.client("dynamodb")
    create_table_if_missing(client, table_name=TABLE)
    repository = StudyRepository(client=client, table_name=TABLE)
    load_seed(repository)
    session = _arrange(repository, 30, 10)[0]
    routes: list[tuple[str, str, str, Callable[[], bytes]]] = [
        ("POST", "/study_sessions", "create a session", lambda: json.dumps({"group_id": 1, "study_activity_id": 1})),
        ("POST", "/study_sessions/{id}/review", "log one review (Typing Tutor)",
         lambda: json.dumps({"word_id": 4, "correct": True})),
        ("POST", "/study_sessions/{id}/review", "log a batch of 3 reviews of 3 words",
         lambda: json.dumps({"reviews": [{"word_id": w, "is_correct": True} for w in (4, 5, 6)]})),
        ("GET", "/study_sessions/{id}", "a session", bytes),
        ("GET", "/study_sessions?limit=10", "10 sessions by cursor", bytes),
        ("GET", "/api/study-sessions?page=1&per_page=10", "Sessions page (of 32 sessions)", bytes),
        ("GET", "/api/study-sessions/{id}", "Session page (6 words reviewed)", bytes),
        ("GET", "/api/study-activities", "Study Activities page", bytes),
        ("GET", "/api/study-activities/1", "Activity page", bytes),
        ("GET", "/api/study-activities/1/sessions?page=1&per_page=10", "an activity's sessions (of 32)", bytes),
        ("GET", "/api/study-activities/1/launch", "Launch page", bytes),
        ("GET", "/groups/1/words/raw", "Typing Tutor's word list (6 words)", bytes),
        ("GET", "/groups?page=1&sort_by=name&order=asc", "Word Groups page (2 groups)", bytes),
        ("GET", "/groups/1", "Group page: the group", bytes),
        ("GET", "/groups/1/words?page=1&sort_by=kanji", "Group page: words by kanji (6 words)", bytes),
        ("GET", "/groups/1/words?page=1&sort_by=correct_count&order=desc", "Group page: words by a count", bytes),
        ("GET", "/groups/1/study_sessions?page=1", "Group page: sessions (of 32)", bytes),
        ("GET", "/words?page=1&sort_by=kanji", "Words page (11 words)", bytes),
        ("GET", "/words/1", "Word page (1 group)", bytes),
        ("GET", "/dashboard/recent-session", "Dashboard: newest session", bytes),
        ("GET", "/dashboard/stats", "Dashboard: figures (11 words, 32 sessions)", bytes),
    ]
    collector = _AccessLines()
    handlers, app_module.app.log.handlers = app_module.app.log.handlers, [collector]
    runtime.reset_repository()
    os.environ["TABLE_NAME"] = TABLE
    costs = []
    try:
        with Client(app_module.app, stage_name="local", project_dir=str(ROOT)) as test_client:
            for method, path, what, body in routes:
                for _ in range(2):  # the first call of a route may build the client; the second is the cost
                    answer = test_client.http.request(method, path.format(id=session["id"]), body=body() or b"",
                                                      headers=JSON if method == "POST" else ORIGIN)
                    assert answer.status_code in (200, 201), (path, answer.status_code, answer.body)
                line = collector.lines[-1]
                costs.append({"route": f"{method} {path.split('?')[0]}", "what": what,
                              "requests": line["dynamodb_requests"], "capacity": line["dynamodb_capacity"]})
            if not reset_sessions:
                return {"backend": backend, "routes": costs}
            _arrange(repository, reset_sessions - 32, reset_sessions // 2, workers=8)  # 32 made so far
            words = [{"id": 10_000 + n, "kanji": f"語{n:05d}", "romaji": f"go{n}", "english": f"word {n}",
                      "parts": [{"kanji": "語", "romaji": ["go"]}]} for n in range(vocabulary)]
            repository.put_group(group_id=3, name="Vocabulary", words=words)
            big = f"{reset_sessions} sessions, {vocabulary + 11} words"
            for what, path in (("Sessions page 1", "/api/study-sessions?page=1&per_page=10"),
                               ("Sessions page 100", "/api/study-sessions?page=100&per_page=10"),
                               ("10 sessions by cursor", "/study_sessions?limit=10"),
                               ("Words page 1 by english", "/words?page=1&sort_by=english"),
                               (f"Group page: {vocabulary} words by a count",
                                "/groups/3/words?page=1&sort_by=wrong_count&order=desc"),
                               ("Group page: sessions of group 1", "/groups/1/study_sessions?page=1"),
                               ("Dashboard figures", "/dashboard/stats")):
                started = time.monotonic()
                assert test_client.http.get(path, headers=ORIGIN).status_code == 200
                line = collector.lines[-1]
                costs.append({"route": f"GET {path.split('?')[0]}", "requests": line["dynamodb_requests"],
                              "what": f"{what} ({big}): {time.monotonic() - started:.2f} s",
                              "capacity": line["dynamodb_capacity"]})
            started = time.monotonic()
            answer = test_client.http.post("/api/study-sessions/reset", body=b"", headers=JSON)
            seconds = time.monotonic() - started
            reset = {**json.loads(answer.body), "status": answer.status_code, "measured_seconds": round(seconds, 2),
                     "requests": collector.lines[-1]["dynamodb_requests"],
                     "capacity": collector.lines[-1]["dynamodb_capacity"]}
    finally:
        app_module.app.log.handlers = handlers
        runtime.reset_repository()
    return {"backend": backend, "routes": costs, "reset": reset}


def report(result: dict[str, Any]) -> str:
    lines = [f"{result['backend']}: DynamoDB requests and capacity units per call (access log)"]
    for cost in result["routes"]:
        lines.append(f"  {cost['route']:<36} {cost['requests']:>3} requests {cost['capacity']:>7} units   "
                     f"{cost['what']}")
    if "reset" not in result:
        return "\n".join(lines)
    reset = result["reset"]
    lines.append(f"  reset of {reset['sessions_deleted']} sessions ({reset['reviews_deleted']} reviews): "
                 f"{reset['status']} in {reset['measured_seconds']} s, {reset['requests']} requests, "
                 f"{reset['capacity']} units")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reset-sessions", type=int, default=1000, help="sessions in the table the reset clears")
    parser.add_argument("--vocabulary", type=int, default=2000, help="words added for the Words page and dashboard")
    args = parser.parse_args()
    os.environ.update({"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local",
                       "AWS_DEFAULT_REGION": "us-east-1"})
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"):
        os.environ.pop(name, None)
    with mock_aws():  # moto copies its whole table on each transaction: 1,000 sessions would take minutes
        print(report(measure("moto", reset_sessions=0)), flush=True)
    work = LOCAL_DIR / f"costs-{os.getpid()}"
    port = free_port()
    server = start_ministack(port=port, log_path=work / "ministack.log")
    try:
        wait_until_ready(port=port, process=server)
        os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = f"http://127.0.0.1:{port}"
        print(report(measure("ministack", reset_sessions=args.reset_sessions, vocabulary=args.vocabulary)))
    finally:
        stop_ministack(server)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
