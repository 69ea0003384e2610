"""The Settings page's reset of a long history: `python -m bench.reset_scale 100000`.

Builds a history of N sessions (3 reviews each) in bulk on a ministack of its own (bench/scale.py's build), then
POSTs /api/study-sessions/reset through the app in process until it answers 200, and after every call checks that
the Sessions page's total, the dashboard's total_sessions and the reset's sessions_left agree. Prints one line a
call and the total; scratch under .ministack/, removed at the end."""

import json
import os
import shutil
import sys
import time

from scripts.aws_env import isolate_aws
from scripts.local_stack import LOCAL_DIR, ROOT, free_port, start_ministack, stop_ministack, wait_until_ready

TABLE = "study-portal-bench-reset"
JSON = {"Content-Type": "application/json"}


def main(argv: list[str]) -> int:
    sessions = int(argv[0]) if argv else 100_000
    isolate_aws(TABLE_NAME=TABLE, ALLOW_RESET="true")
    work = LOCAL_DIR / f"reset-scale-{os.getpid()}"
    work.mkdir(parents=True, exist_ok=True)
    port = free_port()
    server = start_ministack(port=port, log_path=work / "ministack.log")
    try:
        wait_until_ready(port=port, process=server)
        os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = f"http://127.0.0.1:{port}"
        from chalice.test import Client

        import app as app_module
        from bench.scale import build
        from chalicelib import runtime

        _, built = build(sessions, table=TABLE, method="bulk", say=lambda line: None)
        print(f"built {built['sessions']:,} sessions, {built['reviews']:,} reviews in {built['seconds']} s")
        runtime.reset_repository()
        with Client(app_module.app, stage_name="local", project_dir=str(ROOT)) as client:
            calls, deleted, started = 0, 0, time.monotonic()
            while True:
                calls += 1
                began = time.monotonic()
                answer = client.http.post("/api/study-sessions/reset", body=b"", headers=JSON)
                body = json.loads(answer.body)
                deleted += body["sessions_deleted"]
                total = json.loads(client.http.get("/api/study-sessions?page=1&per_page=10").body)["total"]
                shown = json.loads(client.http.get("/dashboard/stats").body)["total_sessions"]
                if not total == shown == body["sessions_left"] == sessions - deleted:
                    print(f"call {calls}: the pages disagree: {total}, {shown}, {body['sessions_left']}")
                    return 1
                print(
                    f"call {calls}: {answer.status_code} in {time.monotonic() - began:.1f} s, "
                    f"{body['sessions_deleted']:,} deleted, {body['sessions_left']:,} left (the pages agree)"
                )
                if answer.status_code == 200:
                    break
            print(f"reset of {sessions:,} sessions: {calls} calls, {time.monotonic() - started:.0f} s")
    finally:
        stop_ministack(server)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
