"""`make costs`: what each route costs in DynamoDB requests and capacity units, measured on moto and on ministack
(each emulator accounts capacity its own way: docs/design.md compares them with DynamoDB's rules), then, on ministack,
the lists, the Words page and the dashboard with 1,000 sessions and 2,000 more words, and the reset of those
sessions.

Runs the app in process (Chalice's test client) against moto and against a ministack of its own on a free loopback
port, with the seed data and 30 sessions (10 of them with reviews of 3 words), and reads each request's access-log
line. Stops by itself; leaves nothing behind."""

import argparse
import json
import os
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from moto import mock_aws

from bench.meter import AccessLog
from bench.routes import COSTS, COSTS_AT_SCALE, RESET, request
from scripts.aws_env import isolate_aws
from scripts.local_stack import LOCAL_DIR, free_port, start_ministack, stop_ministack, wait_until_ready

TABLE = "study-portal-costs"


def _arrange(repository: Any, sessions: int, reviewed: int, workers: int = 1) -> list[dict[str, Any]]:
    """`sessions` sessions of group 1, the first `reviewed` with reviews of words 1, 2 and 3."""
    with ThreadPoolExecutor(max_workers=workers) as pool:  # moto is not thread-safe: one worker there
        made = list(pool.map(lambda _: repository.create_session(group_id=1, study_activity_id=1), range(sessions)))
        list(
            pool.map(
                lambda session: repository.log_reviews(
                    session_id=session["id"], reviews=[(1, True), (2, False), (3, True)]
                ),
                made[:reviewed],
            )
        )
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
    collector = AccessLog()
    handlers, app_module.app.log.handlers = app_module.app.log.handlers, [collector]
    runtime.reset_repository()
    os.environ["TABLE_NAME"] = TABLE
    costs = []
    try:
        with Client(app_module.app, stage_name="local", project_dir=str(ROOT)) as test_client:
            for row in COSTS:
                for _ in range(2):  # the first call of a route may build the client; the second is the cost
                    path, headers, body = request(row, session["id"])
                    answer = test_client.http.request(row.method, path, body=body, headers=headers)
                    assert answer.status_code in (200, 201), (path, answer.status_code, answer.body)
                line = collector.last
                costs.append(
                    {
                        "route": row.route,
                        "what": row.what,
                        "requests": line["dynamodb_requests"],
                        "capacity": line["dynamodb_capacity"],
                    }
                )
            if not reset_sessions:
                return {"backend": backend, "routes": costs}
            _arrange(repository, reset_sessions - 32, reset_sessions // 2, workers=8)  # 32 made so far
            words = [
                {
                    "id": 10_000 + n,
                    "kanji": f"語{n:05d}",
                    "romaji": f"go{n}",
                    "english": f"word {n}",
                    "parts": [{"kanji": "語", "romaji": ["go"]}],
                }
                for n in range(vocabulary)
            ]
            repository.put_group(group_id=3, name="Vocabulary", words=words)
            big = f"{reset_sessions} sessions, {vocabulary + 11} words"
            for row in COSTS_AT_SCALE:
                path, headers, body = request(row, session["id"])
                started = time.monotonic()
                assert test_client.http.request(row.method, path, body=body, headers=headers).status_code == 200
                line = collector.last
                costs.append(
                    {
                        "route": row.route,
                        "requests": line["dynamodb_requests"],
                        "what": f"{row.what.format(vocabulary=vocabulary)} ({big}): {time.monotonic() - started:.2f} s",
                        "capacity": line["dynamodb_capacity"],
                    }
                )
            path, headers, body = request(RESET, session["id"])
            started = time.monotonic()
            answer = test_client.http.request(RESET.method, path, body=body, headers=headers)
            seconds = time.monotonic() - started
            reset = {
                **json.loads(answer.body),
                "status": answer.status_code,
                "measured_seconds": round(seconds, 2),
                "requests": collector.last["dynamodb_requests"],
                "capacity": collector.last["dynamodb_capacity"],
            }
    finally:
        app_module.app.log.handlers = handlers
        runtime.reset_repository()
    return {"backend": backend, "routes": costs, "reset": reset}


def report(result: dict[str, Any]) -> str:
    lines = [f"{result['backend']}: DynamoDB requests and capacity units per call (access log)"]
    for cost in result["routes"]:
        lines.append(
            f"  {cost['route']:<36} {cost['requests']:>3} requests {cost['capacity']:>7} units   {cost['what']}"
        )
    if "reset" not in result:
        return "\n".join(lines)
    reset = result["reset"]
    lines.append(
        f"  reset of {reset['sessions_deleted']} sessions ({reset['reviews_deleted']} reviews): "
        f"{reset['status']} in {reset['measured_seconds']} s, {reset['requests']} requests, "
        f"{reset['capacity']} units"
    )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.costs", description=__doc__)
    parser.add_argument("--reset-sessions", type=int, default=1000, help="sessions in the table the reset clears")
    parser.add_argument("--vocabulary", type=int, default=2000, help="words added for the Words page and dashboard")
    args = parser.parse_args()
    isolate_aws()
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
