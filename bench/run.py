"""`make bench` (issue 12): what each route costs in DynamoDB requests and capacity, how fast it answers against
floors measured in the same run, how fast a cold process answers, how big the package is, how much memory a warm
process holds, and a naive port of the Flask portal's create as a yardstick.

One run against a ministack of its own on a free loopback port (stopped at the end; scratch under .ministack/,
removed):
1. per route: DynamoDB HTTP requests per call (botocore's before-send on the app's client), warm and cold, and the
   capacity units ministack reports (after-call), as read (GetItem, BatchGetItem, Query) and write units;
2. latency through the app in process (Chalice's test client): p50/p95/p99 over --calls calls per route, in batches
   alternating with batches of a raw GetItem (read routes) or PutItem (write routes) on the same server, the floors;
   read routes on the arranged data first, then the writes, the reset last;
3. cold start: --cold-runs fresh processes importing the app and serving POST /study_sessions as Lambda invokes it,
   alternating with fresh processes that only import boto3 and make the same DynamoDB calls; one cold process per
   route for its cold request count; an `-X importtime` profile of `import app`; all of them in the unzipped
   package (with the bytecode `make package` compiles into it), writing no .pyc, as Lambda runs it;
4. the Lambda package (`scripts.deploy package`): its size, and whether it bundles boto3 or botocore;
5. the peak memory of a warm process serving 200 mixed requests;
6. the baseline, bench/baseline.py, measured as the routes are.
Writes OUTPUT/latest.json and OUTPUT/latest.png and prints a table and the targets, PASS or FAIL."""
import argparse
import json
import logging
import math
import os
import platform
import random
import re
import shutil
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from scripts.local_stack import (
    LOCAL_DIR,
    ROOT,
    free_port,
    stage_environment,
    start_ministack,
    stop_ministack,
    wait_until_ready,
)

TABLE = "study-portal-bench"
ORIGIN = {"Origin": "http://localhost:5173"}
JSON_HEADERS = {"Content-Type": "application/json", **ORIGIN}
CHILD = Path(__file__).resolve().parent / "coldstart.py"
RESULT_PREFIX = "BENCH-RESULT "  # bench/coldstart.py's, not imported: the child must stay a lone script
READ_OPERATIONS = frozenset({"GetItem", "BatchGetItem", "Query", "Scan"})
WRITE_OPERATIONS = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"})
WARMUP_CALLS = 5
BATCHES = 10  # each route's calls come in this many batches, each followed by a floor batch a quarter its size
RSS_REQUESTS = 200
P50_TARGET, COLD_START_TARGET = 1.5, 1.2  # times the floor


class BenchError(Exception):
    """The bench cannot measure what it set out to (a route answered an unexpected status, a child failed)."""


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

    @property
    def floor(self) -> str:
        return "PutItem" if self.method == "POST" else "GetItem"


def _create() -> dict[str, Any]:
    return {"group_id": 1, "study_activity_id": 1}


READ_ROWS = [
    Row("GET /study_sessions/{id}", "GET", "/study_sessions/{session_id}", "/study_sessions/{session}",
        single_read=True),
    Row("GET /study_sessions?limit=10", "GET", "/study_sessions", "/study_sessions?limit=10"),
    Row("GET /api/study-sessions", "GET", "/api/study-sessions", "/api/study-sessions?page=1&per_page=10"),
    Row("GET /api/study-sessions/{id}", "GET", "/api/study-sessions/{session_id}",
        "/api/study-sessions/{session}?page=1&per_page=10", single_read=True),
    Row("GET /api/study-activities", "GET", "/api/study-activities", "/api/study-activities"),
    Row("GET /api/study-activities/{id}", "GET", "/api/study-activities/{activity_id}", "/api/study-activities/1",
        single_read=True),
    Row("GET /api/study-activities/{id}/sessions", "GET", "/api/study-activities/{activity_id}/sessions",
        "/api/study-activities/1/sessions?page=1&per_page=10"),
    Row("GET /api/study-activities/{id}/launch", "GET", "/api/study-activities/{activity_id}/launch",
        "/api/study-activities/1/launch"),
    Row("GET /groups", "GET", "/groups", "/groups?page=1&sort_by=name&order=asc"),
    Row("GET /groups/{id}", "GET", "/groups/{group_id}", "/groups/1", single_read=True),
    Row("GET /groups/{id}/words", "GET", "/groups/{group_id}/words", "/groups/1/words?page=1&sort_by=kanji"),
    Row("GET /groups/{id}/words/raw", "GET", "/groups/{group_id}/words/raw", "/groups/1/words/raw"),
    Row("GET /groups/{id}/study_sessions", "GET", "/groups/{group_id}/study_sessions",
        "/groups/1/study_sessions?page=1"),
    Row("GET /words", "GET", "/words", "/words?page=1&sort_by=kanji"),
    Row("GET /words/{id}", "GET", "/words/{word_id}", "/words/1", single_read=True),
    Row("GET /dashboard/recent-session", "GET", "/dashboard/recent-session", "/dashboard/recent-session"),
    Row("GET /dashboard/stats", "GET", "/dashboard/stats", "/dashboard/stats"),
]
POST = Row("POST /study_sessions", "POST", "/study_sessions", "/study_sessions", _create, status=201)
# Seed group 1 holds words 1 to 6; the measured session is one of group 1's.
REVIEW_ONE = Row("POST /study_sessions/{id}/review (one)", "POST", "/study_sessions/{session_id}/review",
                 "/study_sessions/{session}/review", lambda: {"word_id": 4, "correct": True}, status=201)
REVIEW_BATCH = Row("POST /study_sessions/{id}/review (batch of 3)", "POST", "/study_sessions/{session_id}/review",
                   "/study_sessions/{session}/review",
                   lambda: {"reviews": [{"word_id": word, "is_correct": True} for word in (4, 5, 6)]}, status=201)
WRITE_ROWS = [
    POST,
    Row("POST /study_sessions (Idempotency-Key)", "POST", "/study_sessions", "/study_sessions", _create, keyed=True,
        status=201),
    REVIEW_ONE,
    REVIEW_BATCH,
]
RESET = Row("POST /api/study-sessions/reset", "POST", "/api/study-sessions/reset", "/api/study-sessions/reset")
ROWS = READ_ROWS + WRITE_ROWS + [RESET]
BASELINE = Row("baseline POST /study_sessions (naive port)", "POST", "/study_sessions", "/study_sessions", _create,
               status=201)
SINGLE_READS = [row.label for row in ROWS if row.single_read]


# --- measuring a client's DynamoDB traffic ------------------------------------------------------------------------

class DynamoDBMeter:
    """A client's DynamoDB HTTP requests (retries included) and reported capacity, as read and write units."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # the reset sends from threads
        self.sent: list[str] = []
        self.rcu = 0.0
        self.wcu = 0.0
        self.without_capacity: set[str] = set()
        self.with_capacity: set[str] = set()

    def attach(self, client: Any) -> None:
        client.meta.events.register("before-send.dynamodb", self._on_send)
        client.meta.events.register("after-call.dynamodb", self._on_call)

    def _on_send(self, event_name: str, **_: Any) -> None:
        with self._lock:
            self.sent.append(event_name.rsplit(".", 1)[1])

    def _on_call(self, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        consumed = parsed.get("ConsumedCapacity")
        entries = consumed if isinstance(consumed, list) else [consumed] if consumed else []
        units = sum(entry.get("CapacityUnits", 0) for entry in entries)
        with self._lock:
            if model.name in READ_OPERATIONS | WRITE_OPERATIONS:
                (self.with_capacity if entries else self.without_capacity).add(model.name)
            if model.name in READ_OPERATIONS:
                self.rcu += units
            elif model.name in WRITE_OPERATIONS:
                self.wcu += units

    def snapshot(self) -> tuple[int, float, float]:
        with self._lock:
            return len(self.sent), self.rcu, self.wcu


def ask_for_consumed_capacity(params: dict[str, Any], model: Any, **_: Any) -> None:
    """What the app does for its own client (chalicelib.runtime.ask_for_consumed_capacity), for the baseline's."""
    if model.name in READ_OPERATIONS | WRITE_OPERATIONS:
        params.setdefault("ReturnConsumedCapacity", "TOTAL")


class _FormatAndDrop(logging.Handler):
    """Formats each record as the app's stdout handler would, drops the line, keeps the last access line's fields."""

    def __init__(self, formatter: logging.Formatter | None) -> None:
        super().__init__()
        self.setFormatter(formatter)
        self.last: dict[str, Any] = {}

    def emit(self, record: logging.LogRecord) -> None:
        self.format(record)
        if record.getMessage() == "request":
            self.last = getattr(record, "fields", {})


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile, interpolated between the two nearest ranks."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _number(value: float | None) -> float | int | None:
    """A mean as an int when it is one (request counts), else rounded."""
    if value is None:
        return None
    return int(value) if float(value).is_integer() else round(value, 3)


# --- Lambda events and child processes ----------------------------------------------------------------------------

def lambda_event(row: Row, path: str, headers: dict[str, str], body: bytes | None) -> dict[str, Any]:
    """An API Gateway REST proxy event for the route, as Lambda hands it to the function (stage `api`)."""
    parts = urlsplit(path)
    query = parse_qs(parts.query) or None
    captured = {name[1:-1]: value for name, value in zip(row.resource.split("/"), parts.path.split("/"))
                if name.startswith("{")} or None
    request_id = str(uuid.uuid4())
    return {
        "resource": row.resource, "path": parts.path, "httpMethod": row.method,
        "headers": headers, "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": {name: values[-1] for name, values in query.items()} if query else None,
        "multiValueQueryStringParameters": query, "pathParameters": captured, "stageVariables": None,
        "requestContext": {"resourcePath": row.resource, "httpMethod": row.method, "path": f"/api{parts.path}",
                           "stage": "api", "requestId": request_id, "accountId": "000000000000", "apiId": "bench",
                           "protocol": "HTTP/1.1", "identity": {"sourceIp": "127.0.0.1"},
                           "requestTimeEpoch": int(time.time() * 1000)},
        "body": body.decode() if body else None, "isBase64Encoded": False,
    }


def child_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """A child's environment: this one's, the dev stage's variables with the bench's table, no .pyc written."""
    # As in Lambda, nothing is written to the task root (/var/task is read-only): the app runs from the bytecode the
    # package ships (scripts/deploy.py add_bytecode); boto3 and botocore come precompiled, as the runtime's.
    inherited = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
    return {**inherited, **stage_environment("dev"), "TABLE_NAME": TABLE, "PYTHONDONTWRITEBYTECODE": "1",
            **(extra or {})}


@dataclass
class ChildResult:
    """What a child process printed: its result, the app's access-log lines; and its whole run's time."""

    result: dict[str, Any]
    access_lines: list[dict[str, Any]]
    wall_ms: float


def run_child(mode: str, *, task_root: Path, env: dict[str, str] | None = None,
              stdin: str | None = None) -> ChildResult:
    """Run bench/coldstart.py MODE in a fresh interpreter in the task root; its result and access-log lines."""
    started = time.perf_counter()
    # The script's copy in the task root, so that the task root comes first on sys.path, as /var/task in Lambda.
    process = subprocess.run([sys.executable, str(task_root / CHILD.name), mode], env=child_environment(env),
                             input=stdin, cwd=task_root, capture_output=True, text=True, timeout=180)
    wall_ms = (time.perf_counter() - started) * 1000
    results = [line[len(RESULT_PREFIX):] for line in process.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    if process.returncode != 0 or not results:
        raise BenchError(f"child {mode} failed ({process.returncode}): {process.stderr[-3000:]}")
    access = []
    for line in process.stdout.splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            if entry.get("message") == "request":
                access.append(entry)
    return ChildResult(json.loads(results[-1]), access, wall_ms)


def fresh_calls(calls: list[list[Any]]) -> list[list[Any]]:
    """The calls a cold request made, ready to make again: each conditional put under a new key of the same length."""
    # The same length keeps the item's size; a new key keeps `attribute_not_exists` true; botocore draws a new token.
    fresh = json.loads(json.dumps(calls))
    for operation, params in fresh:
        params.pop("ClientRequestToken", None)
        puts = [params] if operation == "PutItem" else \
            [entry["Put"] for entry in params.get("TransactItems", []) if "Put" in entry]
        for put in puts:
            if "ConditionExpression" in put:
                key = put["Item"]["PK"]
                key["S"] = re.sub(r"\d", lambda _: random.choice("123456789"), key["S"])
    return fresh


def profile_imports(*, task_root: Path, top: int = 15) -> dict[str, Any]:
    """`python -X importtime -c "import app"` in the task root: its total, top entries, self time by package."""
    process = subprocess.run([sys.executable, "-X", "importtime", "-c", "import app"],
                             env=child_environment(), cwd=task_root, capture_output=True, text=True, timeout=120)
    if process.returncode != 0:
        raise BenchError(f"import app failed: {process.stderr[-3000:]}")
    entries = []
    for match in re.finditer(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)$", process.stderr, re.M):
        entries.append({"module": match[4], "cumulative_ms": int(match[2]) / 1000, "self_ms": int(match[1]) / 1000,
                        "depth": len(match[3]) // 2})
    by_package: dict[str, float] = {}
    for entry in entries:
        package = entry["module"].split(".")[0]
        by_package[package] = by_package.get(package, 0.0) + entry["self_ms"]
    app_entry = next((entry for entry in entries if entry["module"] == "app"), None)
    return {
        "top": [{**entry, "cumulative_ms": round(entry["cumulative_ms"], 1), "self_ms": round(entry["self_ms"], 1)}
                for entry in sorted(entries, key=lambda entry: -entry["cumulative_ms"])[:top]],
        "total_ms": round(app_entry["cumulative_ms"], 1) if app_entry else None,
        "by_package_ms": {name: round(ms, 1) for name, ms in
                          sorted(by_package.items(), key=lambda item: -item[1])[:10]},
        "modules": len(entries),
    }


def measure_package(build: Path, *, task_root: Path) -> dict[str, Any]:
    """`scripts.deploy package --stage dev`: the zip's size, whether it has boto3/botocore; unzipped to task_root."""
    scratch = build.parent / "package-tmp"
    scratch.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    process = subprocess.run([sys.executable, "-m", "scripts.deploy", "package", "--stage", "dev", "--build",
                              str(build)], env={**os.environ, "TMPDIR": str(scratch)}, cwd=ROOT,
                             capture_output=True, text=True, timeout=240)
    seconds = time.monotonic() - started
    if process.returncode != 0:
        raise BenchError(f"package failed: {process.stdout}{process.stderr}")
    archive = build / "deployment.zip"
    with zipfile.ZipFile(archive) as opened:
        names = opened.namelist()
        opened.extractall(task_root)
    shutil.copy(CHILD, task_root / CHILD.name)  # the cold processes' script, run from there
    bundled = sorted({part for name in names for part in name.split("/")[:-1] if part in ("boto3", "botocore")})
    size = archive.stat().st_size
    shutil.rmtree(build, ignore_errors=True)
    shutil.rmtree(scratch, ignore_errors=True)
    return {"package_bytes": size, "package_files": len(names), "package_has_boto": bool(bundled),
            "package_bundles": bundled, "package_seconds": round(seconds, 1)}


def ministack_version() -> str | None:
    found = sorted((ROOT / ".venv-ministack").glob("lib/python*/site-packages/ministack-*.dist-info"))
    return found[0].name.removeprefix("ministack-").removesuffix(".dist-info") if found else None


# --- the bench ----------------------------------------------------------------------------------------------------

@dataclass
class Samples:
    """What one row's timed calls measured."""

    ms: list[float] = field(default_factory=list)
    requests: list[int] = field(default_factory=list)
    rcu: list[float] = field(default_factory=list)
    wcu: list[float] = field(default_factory=list)
    operations: list[str] = field(default_factory=list)
    floor_ms: list[float] = field(default_factory=list)
    log_disagrees: int = 0


class Bench:
    """The measurements of one run, against the table on the server in AWS_ENDPOINT_URL_DYNAMODB."""

    def __init__(self, *, calls: int, cold_runs: int, task_root: Path) -> None:
        self.calls = calls
        self.task_root = task_root  # the unzipped package: Lambda's /var/task
        self.phase_seconds: dict[str, float] = {}
        self._lap_started = time.monotonic()
        self.cold_runs = cold_runs
        self.floor_pool: dict[str, list[float]] = {"GetItem": [], "PutItem": []}
        self.floor_meter = DynamoDBMeter()
        self.app_meter = DynamoDBMeter()
        self.app_meter_attached = False

    # arranging ---------------------------------------------------------------------------------------------------

    def arrange(self) -> None:
        """The seed, 10 sessions of group 1 (the first 5 with reviews of words 1-3) and the floors' items."""
        import boto3

        from chalicelib.runtime import BOTO_CONFIG
        from chalicelib.store import StudyRepository
        from chalicelib.store.items import session_key
        from chalicelib.store.table import create_table_if_missing
        from scripts.seed_data import load_seed

        setup = boto3.client("dynamodb")
        create_table_if_missing(setup, table_name=TABLE)
        repository = StudyRepository(client=setup, table_name=TABLE)
        load_seed(repository)
        made = [repository.create_session(group_id=1, study_activity_id=1) for _ in range(10)]
        for session in made[:5]:
            repository.log_reviews(session_id=session["id"], reviews=[(1, True), (2, False), (3, True)])
        self.session_id = made[0]["id"]
        # The floors' client is built as the app builds its own (chalicelib.runtime.get_repository).
        self.raw = boto3.client("dynamodb", config=BOTO_CONFIG)
        self.read_key = {name: {"S": value} for name, value in session_key(self.session_id).items()}
        fresh = self.raw.get_item(TableName=TABLE, ConsistentRead=True, Key={
            name: {"S": value} for name, value in session_key(made[-1]["id"]).items()})["Item"]
        # A copy of a just-created session under another id of as many digits: the same size, the same indexes.
        copy_id = str(made[-1]["id"])
        copy_id = str(int(copy_id) + 1) if not copy_id.startswith("9" * len(copy_id)) else str(int(copy_id) - 1)
        self.floor_item = {**fresh, "PK": {"S": f"SESSION#{copy_id}"}, "id": {"N": copy_id}}
        self.session_item_json_bytes = len(json.dumps(fresh))  # as DynamoDB JSON on the wire
        self.floor_meter.attach(self.raw)  # from here on, the client asks for capacity on every call
        for _ in range(WARMUP_CALLS):
            self.floor("GetItem")
            self.floor("PutItem")

    def floor(self, kind: str) -> float:
        """One raw GetItem (consistent, of the measured session) or PutItem (of a session-sized item), in ms."""
        started = time.perf_counter()
        if kind == "GetItem":
            self.raw.get_item(TableName=TABLE, Key=self.read_key, ConsistentRead=True, ReturnConsumedCapacity="TOTAL")
        else:
            self.raw.put_item(TableName=TABLE, Item=self.floor_item, ReturnConsumedCapacity="TOTAL")
        return (time.perf_counter() - started) * 1000

    def request_for(self, row: Row) -> tuple[str, dict[str, str], bytes]:
        """The path, headers and body of one call of the row (a fresh Idempotency-Key if it sends one)."""
        headers = dict(JSON_HEADERS if row.method == "POST" else ORIGIN)
        if row.keyed:
            headers["Idempotency-Key"] = str(uuid.uuid4())
        body = row.body()
        return row.path.format(session=self.session_id), headers, json.dumps(body).encode() if body else b""

    # warm: in process ------------------------------------------------------------------------------------------

    def call(self, http: Any, meter: DynamoDBMeter, row: Row, samples: Samples | None,
             log: _FormatAndDrop | None = None) -> Any:
        """One call of the row through the test client; its time, requests and units go into samples."""
        path, headers, body = self.request_for(row)
        sent, rcu, wcu = meter.snapshot()
        started = time.perf_counter()
        answer = http.request(row.method, path, headers=headers, body=body)
        elapsed = (time.perf_counter() - started) * 1000
        if answer.status_code != row.status:
            raise BenchError(f"{row.label}: {answer.status_code} {answer.body[:500]!r}, expected {row.status}")
        if samples is not None:
            after = meter.snapshot()
            samples.ms.append(elapsed)
            samples.requests.append(after[0] - sent)
            samples.rcu.append(after[1] - rcu)
            samples.wcu.append(after[2] - wcu)
            samples.operations = meter.sent[sent:after[0]]
            if log is not None and log.last.get("dynamodb_requests") != after[0] - sent:
                samples.log_disagrees += 1
        return answer

    def measure(self, http: Any, meter: DynamoDBMeter, row: Row, *, log: _FormatAndDrop | None = None,
                warmup: int = WARMUP_CALLS) -> Samples:
        """--calls timed calls after a warm-up, in batches alternating with batches of the row's floor."""
        for _ in range(min(warmup, self.calls)):
            self.call(http, meter, row, None)
        samples = Samples()
        batch = max(1, math.ceil(self.calls / BATCHES))
        while len(samples.ms) < self.calls:
            for _ in range(min(batch, self.calls - len(samples.ms))):
                self.call(http, meter, row, samples, log)
            for _ in range(max(1, batch // 4)):
                samples.floor_ms.append(self.floor(row.floor))
        self.floor_pool[row.floor] += samples.floor_ms
        return samples

    def summarize(self, row: Row, samples: Samples) -> dict[str, Any]:
        p50, floor_p50 = percentile(samples.ms, 50), percentile(samples.floor_ms, 50)
        return {
            "method": row.method, "resource": row.resource, "path": row.path,
            "kind": "read" if row.floor == "GetItem" else "write", "status": row.status, "calls": len(samples.ms),
            "ddb_requests_warm": _number(_mean(samples.requests)), "ddb_requests_warm_min": min(samples.requests),
            "ddb_requests_warm_max": max(samples.requests), "operations_warm": samples.operations,
            "ddb_requests_cold": None, "operations_cold": None,
            "rcu": _number(_mean(samples.rcu)), "wcu": _number(_mean(samples.wcu)),
            "p50_ms": _round(p50), "p95_ms": _round(percentile(samples.ms, 95)),
            "p99_ms": _round(percentile(samples.ms, 99)), "mean_ms": _round(_mean(samples.ms)),
            "floor": row.floor, "floor_p50_ms": _round(floor_p50), "floor_calls": len(samples.floor_ms),
            "ratio_to_floor": _round(p50 / floor_p50 if p50 and floor_p50 else None, 2),
            "access_log_disagrees": samples.log_disagrees,
        }

    def warm(self, rows: list[Row]) -> dict[str, dict[str, Any]]:
        """Each row's warm figures through the app in process (the reset's first call, on the whole history, apart)."""
        from chalice.test import Client

        import app as app_module
        from chalicelib import runtime

        meter = self.app_meter
        if not self.app_meter_attached:  # the client the app's routes use, built once per process as in Lambda
            meter.attach(runtime.get_repository().client)
            self.app_meter_attached = True
        handlers = app_module.app.log.handlers
        # The access log's line is still built and formatted (the middleware runs, the formatter too), only not
        # written to the terminal: a production Lambda writes it to stdout, which is a pipe to CloudWatch.
        log = _FormatAndDrop(handlers[0].formatter if handlers else None)
        app_module.app.log.handlers = [log]
        figures: dict[str, dict[str, Any]] = {}
        try:
            with Client(app_module.app, stage_name="local", project_dir=str(ROOT)) as client:
                for row in rows:
                    first = None
                    if row is RESET:
                        first = self.first_reset(client.http, meter)
                    samples = self.measure(client.http, meter, row, log=log)
                    figures[row.label] = self.summarize(row, samples)
                    if first is not None:
                        figures[row.label]["first_call"] = first
                    self.progress(row.label, figures[row.label])
            self.capacity_seen(meter)
        finally:
            app_module.app.log.handlers = handlers
        return figures

    def first_reset(self, http: Any, meter: DynamoDBMeter) -> dict[str, Any]:
        """The reset of the whole history the run wrote (sent again while it answers 503, not finished)."""
        sent, rcu, wcu = meter.snapshot()
        started = time.perf_counter()
        done = {"sessions_deleted": 0, "reviews_deleted": 0, "words_reset": 0}
        for attempt in range(1, 11):
            path, headers, body = self.request_for(RESET)
            answer = http.request("POST", path, headers=headers, body=body)
            if answer.status_code not in (200, 503):
                raise BenchError(f"reset: {answer.status_code} {answer.body[:500]!r}")
            summary = json.loads(answer.body)  # a 503 (not finished) says what it did too
            done = {name: count + (summary.get(name) or 0) for name, count in done.items()}
            if answer.status_code == 200:
                break
        else:
            raise BenchError("reset did not finish in 10 calls")
        after = meter.snapshot()
        return {"ms": _round((time.perf_counter() - started) * 1000, 1), "calls": attempt,
                "ddb_requests": after[0] - sent, "rcu": _number(after[1] - rcu), "wcu": _number(after[2] - wcu),
                **done}

    def baseline(self) -> dict[str, Any]:
        """The naive port's create, measured as the routes are."""
        from chalice.test import Client

        from bench import baseline

        baseline._client = None
        meter = DynamoDBMeter()
        client = baseline.get_client()
        client.meta.events.register("before-parameter-build.dynamodb", ask_for_consumed_capacity)
        meter.attach(client)
        with Client(baseline.app, stage_name="local", project_dir=str(ROOT)) as test_client:
            figures = self.summarize(BASELINE, self.measure(test_client.http, meter, BASELINE))
        self.capacity_seen(meter)
        self.progress(BASELINE.label, figures)
        return figures

    def capacity_seen(self, meter: DynamoDBMeter) -> None:
        self.floor_meter.with_capacity |= meter.with_capacity
        self.floor_meter.without_capacity |= meter.without_capacity

    # cold: child processes ---------------------------------------------------------------------------------------

    def event(self, row: Row) -> dict[str, Any]:
        path, headers, body = self.request_for(row)
        return lambda_event(row, path, headers, body)

    def probe(self, row: Row) -> dict[str, Any]:
        """One fresh process serving the row's request first: its DynamoDB requests and calls."""
        child = run_child("probe", task_root=self.task_root, env={"BENCH_EVENT": json.dumps(self.event(row))})
        if child.result["status"] != row.status:
            raise BenchError(f"cold {row.label}: {child.result['status']}, expected {row.status}")
        return child.result

    def probes(self) -> dict[str, dict[str, Any]]:
        """Each row's cold request, in a fresh process: reads two at a time (nothing is timed meanwhile), writes one."""
        # Two reviews of one session at once would conflict and retry, counting more requests.
        with ThreadPoolExecutor(max_workers=2) as pool:
            probed = dict(zip([row.label for row in READ_ROWS], pool.map(self.probe, READ_ROWS)))
        return {**probed, **{row.label: self.probe(row) for row in WRITE_ROWS}}

    def cold_start(self, post_calls: list[list[Any]]) -> dict[str, Any]:
        """--cold-runs cold POSTs as Lambda serves them, alternating with floor processes making the same calls."""
        from chalicelib.runtime import BOTO_CONFIG

        # Every option the app's Config was given (botocore keeps them in _user_provided_options), whatever they are.
        config = {name: getattr(BOTO_CONFIG, name) for name in BOTO_CONFIG._user_provided_options}
        app_runs: list[dict[str, float]] = []
        floor_runs: list[dict[str, float]] = []

        def app() -> None:
            child = run_child("app", task_root=self.task_root, env={"BENCH_EVENT": json.dumps(self.event(POST))})
            if child.result["status"] != POST.status or len(child.access_lines) != 1:
                raise BenchError(f"cold POST: {child.result}, {child.access_lines}")
            app_runs.append({"ms": child.result["ms"], "process_ms": child.wall_ms,
                             "ddb_requests": child.access_lines[0]["dynamodb_requests"]})

        def floor() -> None:
            spec = {"config": config, "calls": fresh_calls(post_calls)}
            child = run_child("floor", task_root=self.task_root, env={"BENCH_FLOOR": json.dumps(spec)})
            floor_runs.append({"ms": child.result["ms"], "process_ms": child.wall_ms})

        for run in range(self.cold_runs):
            for side in (app, floor) if run % 2 == 0 else (floor, app):  # neither always goes first
                side()
        app_ms = percentile([run["ms"] for run in app_runs], 50)
        floor_ms = percentile([run["ms"] for run in floor_runs], 50)
        return {
            "cold_start_ms": _round(app_ms, 1), "cold_start_floor_ms": _round(floor_ms, 1),
            "cold_start_ratio_to_floor": _round(app_ms / floor_ms if app_ms and floor_ms else None, 2),
            # For judging the noise of a busy machine: the fastest of each side, and the median of each run's
            # pair (an app process and the floor process next to it), which drift hits alike.
            "cold_start_min_ms": _round(min(run["ms"] for run in app_runs), 1),
            "cold_start_floor_min_ms": _round(min(run["ms"] for run in floor_runs), 1),
            "cold_start_paired_ratio_median": _round(percentile(
                [app_run["ms"] / floor_run["ms"] for app_run, floor_run in zip(app_runs, floor_runs)], 50), 2),
            "cold_start_process_ms": _round(percentile([run["process_ms"] for run in app_runs], 50), 1),
            "cold_start_floor_process_ms": _round(percentile([run["process_ms"] for run in floor_runs], 50), 1),
            "cold_post_ddb_requests": max(run["ddb_requests"] for run in app_runs),
            "cold_start_floor_calls": [{"operation": operation, "params": params}  # one run's, as an example
                                       for operation, params in fresh_calls(post_calls)],
            "cold_start_floor_config": config,
            "cold_start_runs": [{name: _round(value, 1) for name, value in run.items()} for run in app_runs],
            "cold_start_floor_runs": [{name: _round(value, 1) for name, value in run.items()} for run in floor_runs],
        }

    def warm_rss(self) -> float:
        """A process serving RSS_REQUESTS mixed requests (every read, creates, reviews) Lambda's way: peak MiB."""
        mix = READ_ROWS + WRITE_ROWS
        events = [self.event(mix[index % len(mix)]) for index in range(RSS_REQUESTS)]
        child = run_child("rss", task_root=self.task_root, stdin=json.dumps(events))
        wrong = [status for status in child.result["statuses"] if status not in (200, 201)]
        if wrong:
            raise BenchError(f"the warm-memory process got {wrong[:5]}")
        return round(child.result["mib"], 1)

    def sessions_stored(self) -> int:
        """How many sessions the table holds now (one COUNT Query of the lists index)."""
        from chalicelib.store.table import LISTS_INDEX

        count, query = 0, {"TableName": TABLE, "IndexName": LISTS_INDEX, "Select": "COUNT",
                           "ReturnConsumedCapacity": "TOTAL", "KeyConditionExpression": "GSI2PK = :kind",
                           "ExpressionAttributeValues": {":kind": {"S": "SESSION"}}}
        while True:
            page = self.raw.query(**query)
            count += page["Count"]
            if "LastEvaluatedKey" not in page:
                return count
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def lap(self, phase: str) -> None:
        """Record how long the phase took, since the last lap."""
        now = time.monotonic()
        self.phase_seconds[phase] = round(now - self._lap_started, 1)
        self._lap_started = now

    @staticmethod
    def say(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    def progress(self, label: str, figures: dict[str, Any]) -> None:
        print(f"  {label:<48} {figures['p50_ms']:>7.2f} ms p50  {figures['ddb_requests_warm']} requests",
              file=sys.stderr, flush=True)

    def run(self) -> dict[str, Any]:
        """Every measurement, in an order that keeps them apart: reads before writes grow the data, reset last."""
        from scripts.seed_data import GROUPS, STUDY_ACTIVITIES

        self.arrange()
        self.lap("arrange")
        self.say(f"cold requests: one fresh process per route ({len(ROWS) - 1})")
        cold = self.probes()
        self.lap("cold_requests")
        self.say(f"warm memory: one process, {RSS_REQUESTS} requests")
        rss = self.warm_rss()
        self.lap("warm_memory")
        self.say(f"warm latency: {self.calls} calls per route, floors interleaved")
        sessions_when_reading = self.sessions_stored()
        routes = self.warm(READ_ROWS)
        self.lap("warm_reads")
        routes.update(self.warm(WRITE_ROWS))
        routes[BASELINE.label] = self.baseline()
        self.lap("warm_writes_and_baseline")
        self.say(f"cold start: {self.cold_runs} processes each, app and floor")
        cold_start = self.cold_start(cold[POST.label]["calls"])
        self.lap("cold_start")
        self.say("reset, last")
        routes.update(self.warm([RESET]))
        cold[RESET.label] = self.probe(RESET)
        self.lap("reset")
        for label, result in cold.items():
            routes[label]["ddb_requests_cold"] = result["requests"]
            routes[label]["operations_cold"] = result["sent"]
            routes[label]["cold_probe_ms"] = _round(result["ms"], 1)
        baseline = routes.pop(BASELINE.label)
        return {"routes": routes, "baseline": baseline, "warm_peak_rss_mib": rss, **cold_start,
                "dataset": {"groups": len(GROUPS), "words": sum(len(group["words"]) for group in GROUPS),
                            "activities": len(STUDY_ACTIVITIES), "sessions_when_reading": sessions_when_reading,
                            "sessions_before_reset": routes[RESET.label]["first_call"]["sessions_deleted"]}}


# --- the report ---------------------------------------------------------------------------------------------------

def targets(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Issue 12's targets, each with the figure it reads, its limit and whether it passes."""
    routes = result["routes"]

    def target(what: str, value: Any, limit: Any, passed: bool) -> dict[str, Any]:
        return {"target": what, "value": value, "limit": limit, "pass": bool(passed)}

    def exactly_one(label: str) -> bool:
        row = routes[label]
        return row["ddb_requests_warm_min"] == row["ddb_requests_warm_max"] == 1

    single = {label: routes[label]["ddb_requests_warm"] for label in SINGLE_READS}
    ratios = {label: routes[label]["ratio_to_floor"] for label in SINGLE_READS}
    cold_ratio = result["cold_start_ratio_to_floor"]
    post_ratio = result["post_p50_ratio_to_putitem"]
    return {
        "warm_post_1_request": target("warm POST /study_sessions: exactly 1 DynamoDB request",
                                      result["warm_post_ddb_requests"], 1, exactly_one(POST.label)),
        "cold_post_at_most_2_requests": target("cold POST /study_sessions: at most 2 DynamoDB requests",
                                               result["cold_post_ddb_requests"], 2,
                                               result["cold_post_ddb_requests"] <= 2),
        "warm_review_1_request": target("warm review (Typing Tutor's one): exactly 1 DynamoDB request",
                                        routes[REVIEW_ONE.label]["ddb_requests_warm"], 1,
                                        exactly_one(REVIEW_ONE.label)),
        "warm_review_batch_1_request": target("warm review (batch of 3): exactly 1 DynamoDB request",
                                              routes[REVIEW_BATCH.label]["ddb_requests_warm"], 1,
                                              exactly_one(REVIEW_BATCH.label)),
        "single_reads_1_request": target("single-item reads: exactly 1 DynamoDB request each", single, 1,
                                         all(exactly_one(label) for label in SINGLE_READS)),
        "post_p50_within_1_5x_putitem": target("POST /study_sessions p50 at most 1.5x a raw PutItem's", post_ratio,
                                               P50_TARGET, post_ratio is not None and
                                               post_ratio <= P50_TARGET),
        "single_reads_p50_within_1_5x_getitem": target(
            "single-item reads' p50 at most 1.5x a raw GetItem's", ratios, P50_TARGET,
            all(ratio is not None and ratio <= P50_TARGET for ratio in ratios.values())),
        "cold_start_within_1_2x_floor": target("cold start at most 1.2x its floor (boto3 + the same calls)",
                                               cold_ratio, COLD_START_TARGET,
                                               cold_ratio is not None and cold_ratio <= COLD_START_TARGET),
        "package_has_no_boto": target("the Lambda package bundles neither boto3 nor botocore",
                                      result["package_has_boto"], False, not result["package_has_boto"]),
    }


def assemble(measured: dict[str, Any], *, package: dict[str, Any], imports: dict[str, Any], bench: Bench,
             started_at: datetime, seconds: float) -> dict[str, Any]:
    """The JSON: headline figures first, then every route's, the targets and the run's circumstances."""
    routes = measured["routes"]
    post, baseline = routes[POST.label], measured["baseline"]
    for row in [*routes.values(), baseline]:  # so nobody reads a row's 0 or 0.5 as all it costs
        row["capacity_unreported_operations"] = sorted(set(row["operations_warm"]) &
                                                       bench.floor_meter.without_capacity)
    result = {
        "warm_post_ddb_requests": post["ddb_requests_warm"],
        "cold_post_ddb_requests": measured["cold_post_ddb_requests"],
        "post_consumed_wcu": post["wcu"], "post_consumed_rcu": post["rcu"],
        "post_p50_ms": post["p50_ms"], "post_p95_ms": post["p95_ms"], "post_p99_ms": post["p99_ms"],
        "putitem_p50_ms": _round(percentile(bench.floor_pool["PutItem"], 50)),
        "getitem_p50_ms": _round(percentile(bench.floor_pool["GetItem"], 50)),
        "post_p50_ratio_to_putitem": post["ratio_to_floor"],
        **{name: value for name, value in measured.items() if name.startswith("cold_start")},
        **package,
        "warm_peak_rss_mib": measured["warm_peak_rss_mib"],
        "baseline_post_ddb_requests": baseline["ddb_requests_warm"],
        "baseline_post_p50_ms": baseline["p50_ms"], "baseline_post_p99_ms": baseline["p99_ms"],
        "baseline_post_consumed_rcu": baseline["rcu"], "baseline_post_consumed_wcu": baseline["wcu"],
        "baseline_post_ratio_to_putitem": baseline["ratio_to_floor"],
        "routes": routes,
        "baseline": baseline,
        "cold_import_top": imports["top"],
        "cold_import_ms": imports["total_ms"],
        "cold_import_by_package_ms": imports["by_package_ms"],
        "capacity_reported_by": sorted(bench.floor_meter.with_capacity),
        "capacity_not_reported_by": sorted(bench.floor_meter.without_capacity),
        "session_item_json_bytes": bench.session_item_json_bytes,
        "dataset": measured["dataset"],
        "calls_per_route": bench.calls, "cold_runs": bench.cold_runs,
        "machine": {"cpu_count": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
        "started_at": started_at.isoformat(timespec="seconds"),
        "seconds": round(seconds, 1),
        "phase_seconds": bench.phase_seconds,
        "ministack_version": ministack_version(),
        "notes": {
            "requests": "DynamoDB HTTP requests per call (botocore before-send on the app's client, retries "
                        "included): warm = mean over the timed calls after 5 warm-up calls; cold = the request a "
                        "fresh process serves first (bench/coldstart.py probe).",
            "capacity": "ConsumedCapacity.CapacityUnits as ministack reports it, mean per call; rcu sums GetItem, "
                        "BatchGetItem and Query, wcu the writes. Operations in capacity_not_reported_by came back "
                        "with no ConsumedCapacity: their 0 means unreported, not free.",
            "ratios": "Each route's p50 over the p50 of its own floor batches (GetItem for reads, PutItem for "
                      "writes), run alternately with its batches; putitem_p50_ms and getitem_p50_ms pool every "
                      "floor call of the run.",
            "floors": "GetItem: consistent, of the session the reads and reviews use. PutItem: a copy of a just-"
                      "created session item under another id of as many digits (same size, same index keys), "
                      "unconditional, overwriting itself. Both ask for ReturnConsumedCapacity=TOTAL, as the app does.",
            "latency": "Through Chalice's test client in process (its event building and env patching included); "
                       "the access log is formatted but not written.",
            "cold_start": "Median of cold_runs fresh processes: from the child script's first line to the response "
                          "of app.app(event, context) for POST /study_sessions (REST proxy event); the floor "
                          "imports boto3, builds a client with the app's Config and makes the calls the app's cold "
                          "request made (cold_start_floor_calls). Both run in the unzipped package (its slim "
                          "chalice first on the path) with PYTHONDONTWRITEBYTECODE, as Lambda's read-only "
                          "/var/task: the app runs from the bytecode the package ships; boto3 comes precompiled "
                          "from the virtualenv, as the runtime's. *_process_ms: the whole process, interpreter start "
                          "included; *_min_ms and the paired ratio: for judging noise. cold_import_*: the same "
                          "import under -X importtime (which inflates it).",
            "reset": "The reset row's timed calls reset an empty history (the steady state; its floor is PutItem as "
                     "for every POST, though then it only reads); first_call is the reset of everything the run "
                     "wrote.",
            "dataset": "The seed (its groups, words and activity) and 10 sessions of group 1, the first 5 with "
                       "reviews of words 1-3; the cold probes and the warm-memory process add a few before the "
                       "reads are timed (sessions_when_reading).",
        },
    }
    result["targets"] = targets(result)
    return result


def table(result: dict[str, Any]) -> str:
    """The printed summary: one line per route, then the headline figures and the targets."""
    lines = [f"{'route':<46} {'requests':>9} {'RCU':>6} {'WCU':>6} {'p50':>7} {'p95':>7} {'p99':>7}  ratio to floor",
             f"{'':<46} {'warm/cold':>9} {'':>6} {'':>6} {'ms':>7} {'ms':>7} {'ms':>7}"]
    rows = {**result["routes"], BASELINE.label: result["baseline"]}
    for label, row in rows.items():
        cold = "-" if row["ddb_requests_cold"] is None else row["ddb_requests_cold"]
        requests = f"{row['ddb_requests_warm']:.3g}/{cold}"
        rcu = f"{row['rcu']:.3g}{'*' if row['capacity_unreported_operations'] else ''}"
        lines.append(f"{label:<46} {requests:>9} {rcu:>6} {row['wcu']:>6.3g} {row['p50_ms']:>7.2f} "
                     f"{row['p95_ms']:>7.2f} {row['p99_ms']:>7.2f}  {row['ratio_to_floor']:.2f}x {row['floor']}")
    first = result["routes"][RESET.label].get("first_call")
    if first:
        lines.append(f"  reset of the run's history: {first['sessions_deleted']} sessions, {first['reviews_deleted']}"
                     f" reviews in {first['ms'] / 1000:.1f} s, {first['ddb_requests']} requests, {first['calls']} "
                     f"call(s)")
    lines += [
        "",
        f"*: also makes calls ministack reports no capacity for ({', '.join(result['capacity_not_reported_by'])})"
        if result["capacity_not_reported_by"] else "ministack reported capacity for every call",
        f"floors (p50 of every floor call): PutItem {result['putitem_p50_ms']} ms, GetItem {result['getitem_p50_ms']} "
        f"ms; each route's ratio is to the floor calls alternating with its own",
        f"cold start (median): {result['cold_start_ms']} ms vs floor {result['cold_start_floor_ms']} ms, "
        f"{result['cold_start_ratio_to_floor']}x (fastest {result['cold_start_min_ms']} vs "
        f"{result['cold_start_floor_min_ms']} ms; paired {result['cold_start_paired_ratio_median']}x; whole processes "
        f"{result['cold_start_process_ms']} vs {result['cold_start_floor_process_ms']} ms); cold POST "
        f"{result['cold_post_ddb_requests']} requests; import app under -X importtime {result['cold_import_ms']} ms",
        f"package: {result['package_bytes']:,} bytes, {result['package_files']} files, boto3/botocore bundled: "
        f"{result['package_has_boto']}; warm peak RSS {result['warm_peak_rss_mib']} MiB",
        f"baseline POST: {result['baseline_post_ddb_requests']} requests, p50 {result['baseline_post_p50_ms']} ms "
        f"vs POST {result['warm_post_ddb_requests']} requests, p50 {result['post_p50_ms']} ms",
        "",
        "targets:",
    ]
    for name, check in result["targets"].items():
        lines.append(f"  {'PASS' if check['pass'] else 'FAIL'}  {check['target']}: {json.dumps(check['value'])}")
    lines.append(f"{result['calls_per_route']} calls per route, {result['cold_runs']} cold runs, "
                 f"{result['seconds']} s, ministack {result['ministack_version']}, {result['machine']['cpu_count']} "
                 f"CPUs, Python {result['machine']['python']}")
    return "\n".join(lines)


def isolate_aws() -> None:
    """Placeholder credentials and region, and nothing of the caller's AWS configuration (no profile, no files)."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB",
                 "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_REGION"):
        os.environ.pop(name, None)
    os.environ.update({"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local",
                       "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": os.devnull,
                       "AWS_SHARED_CREDENTIALS_FILE": os.devnull, "TABLE_NAME": TABLE, "ALLOW_RESET": "true"})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=1000, help="timed calls per route (default 1000)")
    parser.add_argument("--cold-runs", type=int, default=20, help="cold processes each, app and floor (default 20)")
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results",
                        help="folder for latest.json and latest.png (default bench/results)")
    args = parser.parse_args(argv)
    if args.calls < 1 or args.cold_runs < 1:
        parser.error("--calls and --cold-runs must be at least 1")
    started_at, started = datetime.now(UTC), time.monotonic()
    isolate_aws()
    work = LOCAL_DIR / f"bench-{os.getpid()}"
    work.mkdir(parents=True, exist_ok=True)
    port = free_port()
    server = start_ministack(port=port, log_path=work / "ministack.log")
    try:
        print(f"ministack on 127.0.0.1:{port}; meanwhile, the package", file=sys.stderr)
        task_root = work / "task"
        package = measure_package(work / "package", task_root=task_root)
        wait_until_ready(port=port, process=server)
        imports = profile_imports(task_root=task_root)  # once ministack has started, which takes a core while it does
        os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = f"http://127.0.0.1:{port}"
        bench = Bench(calls=args.calls, cold_runs=args.cold_runs, task_root=task_root)
        bench.phase_seconds["package_ministack_and_import_profile"] = round(time.monotonic() - started, 1)
        measured = bench.run()
    except BenchError as exc:
        print(f"make bench: {exc}", file=sys.stderr)
        return 1
    finally:
        stop_ministack(server)
        shutil.rmtree(work, ignore_errors=True)
    result = assemble(measured, package=package, imports=imports, bench=bench, started_at=started_at,
                      seconds=time.monotonic() - started)
    args.output.mkdir(parents=True, exist_ok=True)
    from bench.chart import draw
    draw(result, args.output / "latest.png")
    result["seconds"] = round(time.monotonic() - started, 1)  # the chart included
    (args.output / "latest.json").write_text(json.dumps(result, indent=2) + "\n")
    print(table(result))
    print(f"wrote {args.output / 'latest.json'} and {args.output / 'latest.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
