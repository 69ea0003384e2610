"""The bench's measurements in one run: arranging the data, each row warm in process and cold in fresh processes,
the cold start against its floor, a warm process's memory, the baseline."""

import json
import math
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.meter import AccessLog, DynamoDBMeter, as_number, mean, percentile, rounded
from bench.processes import TABLE, BenchError, fresh_calls, lambda_event, run_child, unlisted
from bench.routes import BASELINE, POST, READ_ROWS, RESET, ROWS, WRITE_ROWS, Row, request
from scripts.local_stack import ROOT

WARMUP_CALLS = 5
BATCHES = 10  # each route's calls come in this many batches, each followed by a floor batch a quarter its size
RSS_REQUESTS = 200


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
        fresh = self.raw.get_item(
            TableName=TABLE,
            ConsistentRead=True,
            Key={name: {"S": value} for name, value in session_key(made[-1]["id"]).items()},
        )["Item"]
        # A copy of a just-created session under another id of as many digits: the same size, as many index writes
        # (its index keys as long, in partitions no list reads: the lists count on one session per ordinal).
        copy_id = str(made[-1]["id"])
        copy_id = str(int(copy_id) + 1) if not copy_id.startswith("9" * len(copy_id)) else str(int(copy_id) - 1)
        self.floor_item = unlisted({**fresh, "PK": {"S": f"SESSION#{copy_id}"}, "id": {"N": copy_id}})
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

    # warm: in process ------------------------------------------------------------------------------------------

    def call(
        self, http: Any, meter: DynamoDBMeter, row: Row, samples: Samples | None, log: AccessLog | None = None
    ) -> Any:
        """One call of the row through the test client; its time, requests and units go into samples."""
        path, headers, body = request(row, self.session_id)
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
            samples.operations = meter.sent[sent : after[0]]
            if log is not None and log.last.get("dynamodb_requests") != after[0] - sent:
                samples.log_disagrees += 1
        return answer

    def measure(
        self, http: Any, meter: DynamoDBMeter, row: Row, *, log: AccessLog | None = None, warmup: int = WARMUP_CALLS
    ) -> Samples:
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
            "method": row.method,
            "resource": row.resource,
            "path": row.path,
            "kind": "read" if row.floor == "GetItem" else "write",
            "status": row.status,
            "calls": len(samples.ms),
            "ddb_requests_warm": as_number(mean(samples.requests)),
            "ddb_requests_warm_min": min(samples.requests),
            "ddb_requests_warm_max": max(samples.requests),
            "operations_warm": samples.operations,
            "ddb_requests_cold": None,
            "operations_cold": None,
            "rcu": as_number(mean(samples.rcu)),
            "wcu": as_number(mean(samples.wcu)),
            "p50_ms": rounded(p50),
            "p95_ms": rounded(percentile(samples.ms, 95)),
            "p99_ms": rounded(percentile(samples.ms, 99)),
            "mean_ms": rounded(mean(samples.ms)),
            "floor": row.floor,
            "floor_p50_ms": rounded(floor_p50),
            "floor_calls": len(samples.floor_ms),
            "ratio_to_floor": rounded(p50 / floor_p50 if p50 and floor_p50 else None, 2),
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
        log = AccessLog(handlers[0].formatter if handlers else None)
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
        calls = 0
        while True:
            calls += 1
            path, headers, body = request(RESET, self.session_id)
            answer = http.request("POST", path, headers=headers, body=body)
            if answer.status_code not in (200, 503):
                raise BenchError(f"reset: {answer.status_code} {answer.body[:500]!r}")
            summary = json.loads(answer.body)  # a 503 (not finished) says what it did too
            done = {name: count + (summary.get(name) or 0) for name, count in done.items()}
            if answer.status_code == 200:
                break
            if calls == 10:
                raise BenchError("reset did not finish in 10 calls")
        after = meter.snapshot()
        return {
            "ms": rounded((time.perf_counter() - started) * 1000, 1),
            "calls": calls,
            "ddb_requests": after[0] - sent,
            "rcu": as_number(after[1] - rcu),
            "wcu": as_number(after[2] - wcu),
            **done,
        }

    def baseline(self) -> dict[str, Any]:
        """The naive port's create, measured as the routes are."""
        from chalice.test import Client

        from bench import baseline
        from chalicelib.runtime import ask_for_consumed_capacity

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
        path, headers, body = request(row, self.session_id)
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
            app_runs.append(
                {
                    "ms": child.result["ms"],
                    "process_ms": child.wall_ms,
                    "ddb_requests": child.access_lines[0]["dynamodb_requests"],
                }
            )

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
            "cold_start_ms": rounded(app_ms, 1),
            "cold_start_floor_ms": rounded(floor_ms, 1),
            "cold_start_ratio_to_floor": rounded(app_ms / floor_ms if app_ms and floor_ms else None, 2),
            # For judging the noise of a busy machine: the fastest of each side, and the median of each run's
            # pair (an app process and the floor process next to it), which drift hits alike.
            "cold_start_min_ms": rounded(min(run["ms"] for run in app_runs), 1),
            "cold_start_floor_min_ms": rounded(min(run["ms"] for run in floor_runs), 1),
            "cold_start_paired_ratio_median": rounded(
                percentile([app_run["ms"] / floor_run["ms"] for app_run, floor_run in zip(app_runs, floor_runs)], 50), 2
            ),
            "cold_start_process_ms": rounded(percentile([run["process_ms"] for run in app_runs], 50), 1),
            "cold_start_floor_process_ms": rounded(percentile([run["process_ms"] for run in floor_runs], 50), 1),
            "cold_post_ddb_requests": max(run["ddb_requests"] for run in app_runs),
            "cold_start_floor_calls": [
                {"operation": operation, "params": params}  # one run's, as an example
                for operation, params in fresh_calls(post_calls)
            ],
            "cold_start_floor_config": config,
            "cold_start_runs": [{name: rounded(value, 1) for name, value in run.items()} for run in app_runs],
            "cold_start_floor_runs": [{name: rounded(value, 1) for name, value in run.items()} for run in floor_runs],
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
        from chalicelib.store.dynamo import kind_query

        count, query = 0, kind_query("SESSION", TableName=TABLE, Select="COUNT", ReturnConsumedCapacity="TOTAL")
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
        print(
            f"  {label:<48} {figures['p50_ms']:>7.2f} ms p50  {figures['ddb_requests_warm']} requests",
            file=sys.stderr,
            flush=True,
        )

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
            routes[label]["cold_probe_ms"] = rounded(result["ms"], 1)
        baseline = routes.pop(BASELINE.label)
        return {
            "routes": routes,
            "baseline": baseline,
            "warm_peak_rss_mib": rss,
            **cold_start,
            "dataset": {
                "groups": len(GROUPS),
                "words": sum(len(group["words"]) for group in GROUPS),
                "activities": len(STUDY_ACTIVITIES),
                "sessions_when_reading": sessions_when_reading,
                "sessions_before_reset": routes[RESET.label]["first_call"]["sessions_deleted"],
            },
        }
