"""The bench's result: issue 12's targets, the JSON's shape, and the printed table."""

import json
import os
import platform
from datetime import datetime
from typing import Any

from bench.measure import Bench
from bench.meter import percentile, rounded
from bench.processes import ministack_version
from bench.routes import BASELINE, POST, RESET, REVIEW_BATCH, REVIEW_ONE, SINGLE_READS
from bench.scale import table as scale_table

P50_TARGET, COLD_START_TARGET = 1.5, 1.2  # times the floor


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
        "warm_post_1_request": target(
            "warm POST /study_sessions: exactly 1 DynamoDB request",
            result["warm_post_ddb_requests"],
            1,
            exactly_one(POST.label),
        ),
        "cold_post_at_most_2_requests": target(
            "cold POST /study_sessions: at most 2 DynamoDB requests",
            result["cold_post_ddb_requests"],
            2,
            result["cold_post_ddb_requests"] <= 2,
        ),
        "warm_review_1_request": target(
            "warm review (Typing Tutor's one): exactly 1 DynamoDB request",
            routes[REVIEW_ONE.label]["ddb_requests_warm"],
            1,
            exactly_one(REVIEW_ONE.label),
        ),
        "warm_review_batch_1_request": target(
            "warm review (batch of 3): exactly 1 DynamoDB request",
            routes[REVIEW_BATCH.label]["ddb_requests_warm"],
            1,
            exactly_one(REVIEW_BATCH.label),
        ),
        "single_reads_1_request": target(
            "single-item reads: exactly 1 DynamoDB request each",
            single,
            1,
            all(exactly_one(label) for label in SINGLE_READS),
        ),
        "post_p50_within_1_5x_putitem": target(
            "POST /study_sessions p50 at most 1.5x a raw PutItem's",
            post_ratio,
            P50_TARGET,
            post_ratio is not None and post_ratio <= P50_TARGET,
        ),
        "single_reads_p50_within_1_5x_getitem": target(
            "single-item reads' p50 at most 1.5x a raw GetItem's",
            ratios,
            P50_TARGET,
            all(ratio is not None and ratio <= P50_TARGET for ratio in ratios.values()),
        ),
        "cold_start_within_1_2x_floor": target(
            "cold start at most 1.2x its floor (boto3 + the same calls)",
            cold_ratio,
            COLD_START_TARGET,
            cold_ratio is not None and cold_ratio <= COLD_START_TARGET,
        ),
        "package_has_no_boto": target(
            "the Lambda package bundles neither boto3 nor botocore",
            result["package_has_boto"],
            False,
            not result["package_has_boto"],
        ),
    }


def assemble(
    measured: dict[str, Any],
    *,
    package: dict[str, Any],
    imports: dict[str, Any],
    bench: Bench,
    started_at: datetime,
    seconds: float,
) -> dict[str, Any]:
    """The JSON: headline figures first, then every route's, the targets and the run's circumstances."""
    routes = measured["routes"]
    post, baseline = routes[POST.label], measured["baseline"]
    for row in [*routes.values(), baseline]:  # so nobody reads a row's 0 or 0.5 as all it costs
        row["capacity_unreported_operations"] = sorted(set(row["operations_warm"]) & bench.floor_meter.without_capacity)
    result = {
        "warm_post_ddb_requests": post["ddb_requests_warm"],
        "cold_post_ddb_requests": measured["cold_post_ddb_requests"],
        "post_consumed_wcu": post["wcu"],
        "post_consumed_rcu": post["rcu"],
        "post_p50_ms": post["p50_ms"],
        "post_p95_ms": post["p95_ms"],
        "post_p99_ms": post["p99_ms"],
        "putitem_p50_ms": rounded(percentile(bench.floor_pool["PutItem"], 50)),
        "getitem_p50_ms": rounded(percentile(bench.floor_pool["GetItem"], 50)),
        "post_p50_ratio_to_putitem": post["ratio_to_floor"],
        **{name: value for name, value in measured.items() if name.startswith("cold_start")},
        **package,
        "warm_peak_rss_mib": measured["warm_peak_rss_mib"],
        "baseline_post_ddb_requests": baseline["ddb_requests_warm"],
        "baseline_post_p50_ms": baseline["p50_ms"],
        "baseline_post_p99_ms": baseline["p99_ms"],
        "baseline_post_consumed_rcu": baseline["rcu"],
        "baseline_post_consumed_wcu": baseline["wcu"],
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
        "calls_per_route": bench.calls,
        "cold_runs": bench.cold_runs,
        "machine": {"cpu_count": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
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
            "created session item under another id of as many digits (same size, index keys as long, in "
            "partitions no list reads), "
            "unconditional, overwriting itself. Both ask for ReturnConsumedCapacity=TOTAL, as the app does.",
            "latency": "Through Chalice's test client in process (its event building and env patching included); "
            "the access log is formatted but not written.",
            "cold_start": "Median of cold_runs fresh processes: from the child script's first line to the response "
            "of app.app(event, context) for POST /study_sessions (REST proxy event); the floor "
            "imports boto3, builds a client with the app's Config and makes the calls the app's cold "
            "request made (cold_start_floor_calls: each conditional put under a new key, a session's "
            "index keys out of the lists, a list's head on a condition a new key meets). Both run in the "
            "unzipped package (its slim chalice first on the path) with PYTHONDONTWRITEBYTECODE, as Lambda's read-only "
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


def journal_line(journal: dict[str, Any]) -> str:
    return (
        f"make dev's write journal: PutItem p50 {journal['journal_putitem_p50_ms']} ms with it, "
        f"{journal['plain_putitem_p50_ms']} ms without ({journal['p50_ratio']}x, {journal['calls']} calls each); "
        f"a SIGKILL after {journal['written_before_sigkill']} answered writes lost {journal['lost_after_sigkill']}"
        + (" (FAIL: it must lose none)" if journal["lost_after_sigkill"] else "")
    )


def table(result: dict[str, Any]) -> str:
    """The printed summary: one line per route, then the headline figures and the targets."""
    lines = [
        f"{'route':<46} {'requests':>9} {'RCU':>6} {'WCU':>6} {'p50':>7} {'p95':>7} {'p99':>7}  ratio to floor",
        f"{'':<46} {'warm/cold':>9} {'':>6} {'':>6} {'ms':>7} {'ms':>7} {'ms':>7}",
    ]
    rows = {**result["routes"], BASELINE.label: result["baseline"]}
    for label, row in rows.items():
        cold = "-" if row["ddb_requests_cold"] is None else row["ddb_requests_cold"]
        requests = f"{row['ddb_requests_warm']:.3g}/{cold}"
        rcu = f"{row['rcu']:.3g}{'*' if row['capacity_unreported_operations'] else ''}"
        lines.append(
            f"{label:<46} {requests:>9} {rcu:>6} {row['wcu']:>6.3g} {row['p50_ms']:>7.2f} "
            f"{row['p95_ms']:>7.2f} {row['p99_ms']:>7.2f}  {row['ratio_to_floor']:.2f}x {row['floor']}"
        )
    first = result["routes"][RESET.label].get("first_call")
    if first:
        lines.append(
            f"  reset of the run's history: {first['sessions_deleted']} sessions, {first['reviews_deleted']}"
            f" reviews in {first['ms'] / 1000:.1f} s, {first['ddb_requests']} requests, {first['calls']} "
            f"call(s)"
        )
    lines += [
        "",
        f"*: also makes calls ministack reports no capacity for ({', '.join(result['capacity_not_reported_by'])})"
        if result["capacity_not_reported_by"]
        else "ministack reported capacity for every call",
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
        journal_line(result["journal"]),
        "",
        "targets:",
    ]
    for check in result["targets"].values():
        lines.append(f"  {'PASS' if check['pass'] else 'FAIL'}  {check['target']}: {json.dumps(check['value'])}")
    lines.append(
        f"{result['calls_per_route']} calls per route, {result['cold_runs']} cold runs, "
        f"{result['seconds']} s, ministack {result['ministack_version']}, {result['machine']['cpu_count']} "
        f"CPUs, Python {result['machine']['python']}"
    )
    scale = result.get("scale") or {}
    if scale.get("pages"):
        lines += ["", scale_table(scale)]
    elif scale.get("error"):
        lines.append(f"scale section FAILED: {scale['error']}")
    elif scale.get("skipped"):
        lines.append(f"scale section left out: {scale['skipped']}")
    return "\n".join(lines)
