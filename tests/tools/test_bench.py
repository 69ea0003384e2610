"""`make bench` in small: every figure is there with a sensible type, every route has a row, the chart is a PNG.

No latency or timing is asserted here: performance claims come only from the bench command itself."""

import json
import subprocess
import sys
from datetime import datetime

import app as app_module
from bench.routes import COSTS, COSTS_AT_SCALE, ROWS
from scripts.local_stack import LOCAL_DIR, ROOT

NUMBERS = (
    "warm_post_ddb_requests",
    "cold_post_ddb_requests",
    "post_consumed_wcu",
    "post_consumed_rcu",
    "post_p50_ms",
    "post_p99_ms",
    "putitem_p50_ms",
    "getitem_p50_ms",
    "post_p50_ratio_to_putitem",
    "cold_start_ms",
    "cold_start_floor_ms",
    "cold_start_ratio_to_floor",
    "cold_start_process_ms",
    "cold_start_floor_process_ms",
    "cold_start_min_ms",
    "cold_start_floor_min_ms",
    "package_bytes",
    "warm_peak_rss_mib",
    "baseline_post_ddb_requests",
    "baseline_post_p50_ms",
    "baseline_post_p99_ms",
    "seconds",
)
ROW_NUMBERS = ("ddb_requests_warm", "rcu", "wcu", "p50_ms", "p95_ms", "p99_ms", "floor_p50_ms", "ratio_to_floor")
TARGETS = {
    "warm_post_1_request",
    "cold_post_at_most_2_requests",
    "warm_review_1_request",
    "warm_review_batch_1_request",
    "single_reads_1_request",
    "post_p50_within_1_5x_putitem",
    "single_reads_p50_within_1_5x_getitem",
    "cold_start_within_1_2x_floor",
    "package_has_no_boto",
}


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0


def _served() -> set[tuple[str, str]]:
    """Each (method, route) the app serves, as app.app.routes names it."""
    return {
        (method, path) for path, methods in app_module.app.routes.items() for method in methods if method != "OPTIONS"
    }


def test_the_route_table_has_a_row_for_every_route_and_costs_calls_only_served_routes():
    # The quick form of the check the bench run below makes on its report: a new route without a row fails here.
    assert _served() <= {(row.method, row.resource) for row in ROWS}
    assert {(row.method, row.resource) for row in COSTS + COSTS_AT_SCALE} <= _served()
    assert all(row.what for row in COSTS + COSTS_AT_SCALE)  # make costs prints what each call is


def test_a_small_bench_run_reports_every_figure_route_and_target(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "bench.run", "--calls", "5", "--cold-runs", "2", "--output", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((tmp_path / "latest.json").read_text())

    for name in NUMBERS:
        assert _is_number(report[name]), (name, report[name])
    assert report["calls_per_route"] == 5 and report["cold_runs"] == 2
    assert report["package_has_boto"] is False and report["package_bytes"] > 0
    assert report["baseline_post_ddb_requests"] > report["warm_post_ddb_requests"]
    assert isinstance(report["machine"]["cpu_count"], int) and report["machine"]["python"].startswith("3.")
    datetime.fromisoformat(report["started_at"])
    assert isinstance(report["ministack_version"], str)
    assert len(report["cold_import_top"]) == 15
    assert all(
        isinstance(entry["module"], str) and _is_number(entry["cumulative_ms"]) for entry in report["cold_import_top"]
    )
    assert isinstance(report["capacity_not_reported_by"], list)

    journal = report["journal"]
    assert journal["calls"] == 5 and journal["written_before_sigkill"] == 6
    assert journal["lost_after_sigkill"] == 0  # make dev's journal keeps every answered write through a SIGKILL
    assert all(_is_number(journal[name]) for name in ("plain_putitem_p50_ms", "journal_putitem_p50_ms", "p50_ratio"))
    assert "make dev's write journal: PutItem p50 " in result.stdout

    # Every route the app serves has a row, so a new route without one fails here.
    assert _served() <= {(row["method"], row["resource"]) for row in report["routes"].values()}
    for label, row in report["routes"].items():
        for name in ROW_NUMBERS:
            assert _is_number(row[name]), (label, name, row[name])
        assert row["calls"] == 5 and row["floor"] in ("GetItem", "PutItem")
        # Only the service's own routes (GET /, GET /health) answer without DynamoDB.
        service = row["resource"] in ("/", "/health")
        assert (row["ddb_requests_warm_max"] == 0) == service, label
        assert (row["ddb_requests_cold"] == 0) == service, label
        assert row["access_log_disagrees"] == 0, label  # the bench's count is the access log's
        assert set(row["capacity_unreported_operations"]) <= set(report["capacity_not_reported_by"]), label
    assert report["routes"]["POST /api/study-sessions/reset"]["first_call"]["sessions_deleted"] > 0

    assert set(report["targets"]) == TARGETS
    assert all(isinstance(target["pass"], bool) for target in report["targets"].values())
    # The targets that are counts, not times, hold in any run, however small.
    for name in (
        "warm_post_1_request",
        "cold_post_at_most_2_requests",
        "warm_review_1_request",
        "warm_review_batch_1_request",
        "single_reads_1_request",
        "package_has_no_boto",
    ):
        assert report["targets"][name]["pass"] is True, report["targets"][name]
    assert (report["warm_post_ddb_requests"], report["cold_post_ddb_requests"]) == (1, 2)

    assert (tmp_path / "latest.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert "targets:" in result.stdout and "POST /study_sessions" in result.stdout
    # Its ministack's state and the package's scratch are gone (bench-<pid>/; the scale test's are its own).
    assert not list(LOCAL_DIR.glob("bench-[0-9]*"))
