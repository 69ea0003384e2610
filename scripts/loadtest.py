"""`make loadtest`: concurrent creates, resends and same-key bursts against `make dev` over loopback HTTP,
then an audit of the table: exactly the sessions answered 201, unique ids, no duplicate, loss, orphan or partial item.

It never touches `make dev` or its data: it runs its own `chalice local` and ministack on free ports, and removes
them afterwards. Bounded: a fixed number of requests, a 10 s timeout on each, and a deadline for the whole run."""

import argparse
import functools
import json
import shutil
import signal
import statistics
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from scripts.dev import start_chalice_local, stop_chalice_local, wait_for_http
from scripts.local_stack import (
    LOCAL_DIR,
    LOCAL_TABLE,
    LocalServerError,
    dynamodb_client,
    endpoint_url,
    free_port,
    start_ministack,
    stop_ministack,
    wait_until_ready,
)
from scripts.seed import seed_table
from scripts.seed_data import GROUPS

SESSION_FIELDS = {
    "id",
    "group_id",
    "group_name",
    "study_activity_id",
    "activity_name",
    "created_at",
    "end_time",
    "review_items_count",
}
GROUP_NAMES = {group["group_id"]: group["name"] for group in GROUPS}
_deserializer = TypeDeserializer()


@dataclass
class Sent:
    """One request and its answer."""

    kind: str  # create, resend, burst, reused-key, bad
    intent: str  # requests with the same intent must end in the same session
    body: dict[str, Any]
    key: str | None
    status: int = 0
    answer: dict[str, Any] = field(default_factory=dict)
    latency_ms: float = 0.0


EXPECTED = {"create": {201}, "resend": {201}, "burst": {201, 409}, "reused-key": {422}, "bad": {400, 404}}


def _post(base_url: str, sent: Sent) -> Sent:
    headers = {"Content-Type": "application/json"}
    if sent.key is not None:
        headers["Idempotency-Key"] = sent.key
    request = urllib.request.Request(
        f"{base_url}/study_sessions", data=json.dumps(sent.body).encode(), headers=headers, method="POST"
    )
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            sent.status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        sent.status, raw = error.code, error.read()
    except OSError as error:  # timeouts and refused connections: recorded as status 0, never retried here
        sent.status, raw = 0, json.dumps({"error": type(error).__name__}).encode()
    sent.latency_ms = (time.perf_counter() - started) * 1000
    sent.answer = json.loads(raw) if raw else {}
    return sent


def _plan(creates: int, run: str) -> list[list[Sent]]:
    """Jobs of requests sent one after another by one client: creates, some resent with their key, a few bad."""
    jobs = []
    for n in range(creates):
        body = {"group_id": 1 + n % 2, "study_activity_id": 1}
        if n % 2:  # half the creates carry a key and are resent once or twice, as a client on a flaky network would
            key = f"{run}-{n}"
            job = [Sent("create", key, body, key)] + [Sent("resend", key, body, key) for _ in range(1 + n % 4 // 2)]
            if n % 10 == 1:
                job.append(Sent("reused-key", key, {**body, "group_id": 3 - body["group_id"]}, key))
        else:
            job = [Sent("create", f"{run}-{n}", body, None)]
        if n % 10 == 0:
            job.append(
                Sent("bad", f"{run}-bad-{n}", {"group_id": [True, 999][n % 20 // 10], "study_activity_id": 1}, None)
            )
        jobs.append(job)
    return jobs


def _scan(client: Any, table: str) -> dict[str, dict[str, Any]]:
    items = {}
    for page in client.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        for raw in page["Items"]:
            item = {name: _deserializer.deserialize(value) for name, value in raw.items()}
            items[item["PK"]] = item
    return items


def audit(sent: list[Sent], before: dict[str, dict], after: dict[str, dict]) -> dict[str, Any]:
    """Compare what the clients were told with what the table holds; every count but the first ones must be 0."""
    new = {pk: item for pk, item in after.items() if pk not in before}
    changed = [pk for pk, item in before.items() if after.get(pk) != item]
    sessions = {int(item["id"]): item for item in new.values() if item["PK"].startswith("SESSION#")}
    records = [item for item in new.values() if item["PK"].startswith("IDEMPOTENCY#")]
    ids_by_intent: dict[str, set[int]] = {}
    for request in sent:
        if request.status == 201:
            ids_by_intent.setdefault(request.intent, set()).add(request.answer["id"])
    answered = [next(iter(ids)) for ids in ids_by_intent.values() if len(ids) == 1]
    keyed_intents = {request.intent for request in sent if request.key is not None and request.status == 201}
    return {
        "requests": len(sent),
        "sessions_created": len(sessions),
        "intents_answered_201": len(ids_by_intent),
        "unexpected_statuses": sum(request.status not in EXPECTED[request.kind] for request in sent),
        "answers_for_another_request": sum(
            request.status == 201 and request.answer["group_id"] != request.body["group_id"] for request in sent
        ),
        "intents_with_more_than_one_id": sum(len(ids) > 1 for ids in ids_by_intent.values()),
        "ids_shared_by_intents": len(answered) - len(set(answered)),
        "lost_sessions": len(set(answered) - set(sessions)),  # answered 201, not stored
        "orphan_sessions": len(set(sessions) - set(answered)),  # stored, never answered 201
        "partial_sessions": sum(
            not set(item) >= SESSION_FIELDS or item["group_name"] != GROUP_NAMES.get(item["group_id"])
            for item in sessions.values()
        ),
        "key_records": len(records),
        "key_records_missing": len(keyed_intents) - len(records),
        "key_records_without_their_session": sum(int(record["session"]["id"]) not in sessions for record in records),
        "items_changed_or_deleted": len(changed),
    }


def run_load(
    *, base_url: str, endpoint: str, table: str, creates: int, clients: int, bursts: int, deadline_s: float = 300.0
) -> dict[str, Any]:
    """Send the planned requests from `clients` threads, then audit the table; returns the figures."""
    client = dynamodb_client(endpoint)
    before = _scan(client, table)
    run = uuid.uuid4().hex[:12]
    deadline = time.monotonic() + deadline_s
    sent: list[Sent] = []
    lock = threading.Lock()

    def do_job(job: list[Sent]) -> None:
        for request in job:
            if time.monotonic() > deadline:
                return
            _post(base_url, request)
            with lock:
                sent.append(request)

    def fire_together(barrier: threading.Barrier, key: str, _: int) -> None:
        barrier.wait(timeout=30)
        do_job([Sent("burst", key, {"group_id": 1, "study_activity_id": 1}, key)])

    jobs = _plan(creates, run)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(do_job, jobs))
        # Same-key bursts: every client sends the same request at the same moment.
        for burst in range(bursts):
            fire = functools.partial(fire_together, threading.Barrier(clients), f"{run}-burst-{burst}")
            list(pool.map(fire, range(clients)))
    elapsed = time.perf_counter() - started
    figures = audit(sent, before, _scan(client, table))
    latencies = sorted(request.latency_ms for request in sent)
    statuses: dict[int, int] = {}
    for request in sent:
        statuses[request.status] = statuses.get(request.status, 0) + 1
    return {
        **figures,
        "planned_requests": sum(len(job) for job in jobs) + bursts * clients,
        "clients": clients,
        "statuses": dict(sorted(statuses.items())),
        "seconds": round(elapsed, 2),
        "requests_per_second": round(len(sent) / elapsed, 1),
        "latency_ms": {
            "p50": round(statistics.median(latencies), 1),
            "p95": round(latencies[int(len(latencies) * 0.95) - 1], 1),
            "p99": round(latencies[int(len(latencies) * 0.99) - 1], 1),
            "max": round(latencies[-1], 1),
        },
    }


MUST_BE_ZERO = (
    "unexpected_statuses",
    "answers_for_another_request",
    "intents_with_more_than_one_id",
    "ids_shared_by_intents",
    "lost_sessions",
    "orphan_sessions",
    "partial_sessions",
    "key_records_missing",
    "key_records_without_their_session",
    "items_changed_or_deleted",
)


def failures(figures: dict[str, Any]) -> list[str]:
    """What the audit found wrong; empty when the run was clean."""
    found = [f"{name} = {figures[name]}" for name in MUST_BE_ZERO if figures[name]]
    if figures["requests"] != figures["planned_requests"]:
        found.append(f"only {figures['requests']} of {figures['planned_requests']} requests sent before the deadline")
    if figures["sessions_created"] != figures["intents_answered_201"]:
        found.append("sessions stored differ from the requests answered 201")
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--creates", type=int, default=400, help="sessions to create (half of them resent)")
    parser.add_argument("--clients", type=int, default=20, help="concurrent clients")
    parser.add_argument("--bursts", type=int, default=10, help="keys each sent by every client at once")
    parser.add_argument("--deadline", type=float, default=300.0, help="seconds before sending stops")
    args = parser.parse_args()
    run = uuid.uuid4().hex[:12]
    scratch = LOCAL_DIR / f"loadtest-{run}"
    scratch.mkdir(parents=True)
    dynamodb_port, api_port = free_port(), free_port()
    print(
        f"loading an API and a DynamoDB server of its own (ports {api_port} and {dynamodb_port}), removed "
        "afterwards; make dev and its data are never touched",
        flush=True,
    )
    ministack = chalice = None
    try:
        ministack = start_ministack(port=dynamodb_port, log_path=scratch / "ministack.log")
        wait_until_ready(port=dynamodb_port, process=ministack)
        seed_table(endpoint=endpoint_url(dynamodb_port), table_name=LOCAL_TABLE)
        chalice = start_chalice_local(
            port=api_port, dynamodb_port=dynamodb_port, table=LOCAL_TABLE, log_path=scratch / "chalice-local.log"
        )
        wait_for_http(api_port, chalice)
        figures = run_load(
            base_url=f"http://127.0.0.1:{api_port}",
            endpoint=endpoint_url(dynamodb_port),
            table=LOCAL_TABLE,
            creates=args.creates,
            clients=args.clients,
            bursts=args.bursts,
            deadline_s=args.deadline,
        )
    except LocalServerError as exc:
        print(f"make loadtest: {exc}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the cleanup short
        if chalice is not None:
            stop_chalice_local(chalice)
        if ministack is not None:
            stop_ministack(ministack)
        shutil.rmtree(scratch, ignore_errors=True)
    print(json.dumps(figures, indent=2))
    problems = failures(figures)
    print("\n".join(["FAILED:", *problems]) if problems else "OK: every check of the table passed")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
