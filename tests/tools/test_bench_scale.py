"""`make bench`'s scale section in small: two histories (150 and 1,500 sessions) on a ministack of its own, a few calls
a page; the JSON's shape, sensible counts, and that every page's DynamoDB requests and items read stay the same as
the history grows tenfold. (Not 2,000: its page 1, ordinals 1,991 to 2,000, would straddle two blocks of a layout
that keeps sessions in blocks of 1,000, one Query more for where the page falls rather than for the history's size.)

No latency or timing is asserted here: performance claims come only from the bench command itself."""

import argparse
import json
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from bench.meter import items_in
from bench.scale import PAGES, REVIEWS_PER_SESSION, SPACING, history_data, parse_sizes, section
from scripts.flask_import.plan import plan
from scripts.local_stack import LOCAL_DIR, ROOT

SIZES = [150, 1_500]
PAGE_SECONDS = 2  # a page's budget: a page that reads the whole history gets its 2 timed calls, no more
CALLS = 3
LISTS = ("p50_ms", "p95_ms", "requests", "items_read", "bytes_read", "rcu", "calls", "status", "settle_s", "path")


@pytest.fixture(scope="module")
def scale_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, subprocess.CompletedProcess, object]:
    output = tmp_path_factory.mktemp("scale")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.scale",
            "--sizes",
            ",".join(map(str, SIZES)),
            "--calls",
            str(CALLS),
            "--page-seconds",
            str(PAGE_SECONDS),
            "--output",
            str(output),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads((output / "scale.json").read_text()), result, output


def test_the_history_is_the_seed_catalog_and_evenly_spaced_sessions_the_import_takes_without_warnings():
    now = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    data, history = history_data(40, now=now)
    times = [data.sessions[session_id]["created_at"] for session_id in sorted(data.sessions)]
    assert len(times) == 40 and all(later - earlier == SPACING for earlier, later in zip(times, times[1:]))
    assert times[-1] == datetime(2026, 12, 4, 11, 30)  # naive UTC, as words.db holds them; the newest before now
    assert {session["group_id"] for session in data.sessions.values()} == set(data.groups) == {1, 2}
    assert len(data.reviews) == 40 * REVIEWS_PER_SESSION
    group_words = {group_id: {word for word, group in data.memberships if group == group_id} for group_id in (1, 2)}
    assert all(
        review["word_id"] in group_words[data.sessions[review["session_id"]]["group_id"]] for review in data.reviews
    )
    planned = plan(data, zone=UTC)
    assert planned.warnings == [] and len(planned.session_ids) == 40 and planned.reviews == 120
    assert (history.size, history.group_sessions, history.activity_sessions, history.middle_session_id) == (
        40,
        20,
        40,
        20,
    )
    assert history.middle_page(1_500) == 75


def test_sizes_parse_and_too_small_a_history_is_refused():
    assert parse_sizes("10000,1_000,100000") == [1_000, 10_000, 100_000]
    assert parse_sizes("none") == []
    for wrong in ("a,b", "10"):
        with pytest.raises(argparse.ArgumentTypeError, match="size"):
            parse_sizes(wrong)


def test_items_read_are_what_each_read_answer_says_it_read():
    assert items_in("Query", {"Count": 3, "ScannedCount": 5, "Items": []}) == 5  # before a filter: what it cost
    assert items_in("Query", {"Count": 3}) == 3
    assert items_in("GetItem", {"Item": {}}) == 1 and items_in("GetItem", {}) == 0
    assert items_in("BatchGetItem", {"Responses": {"t": [{}, {}], "u": [{}]}}) == 3
    assert items_in("PutItem", {}) == 0


def test_the_targets_read_flat_counts_and_the_ratio():
    def run(p50: float, requests: int, items: int) -> dict:
        return {
            "path": "/x",
            "calls": 200,
            "p50_ms": p50,
            "p95_ms": p50,
            "requests": requests,
            "requests_max": requests,
            "items_read": items,
            "bytes_read": 100,
            "rcu": 1,
            "status": 200,
            "failed_ms": None,
            "problem": None,
            "budget_spent": False,
            "settle_s": 0.0,
        }

    flat = {page.name: [run(2.0, 2, 11), run(2.5, 2, 11)] for page in PAGES}
    result = section(sizes=SIZES, builds=[], measured=flat, calls=200, page_seconds=10, builder="bulk", seconds=1)
    assert all(target["pass"] for target in result["targets"].values()), result["targets"]
    assert result["pages"]["sessions_page"]["ratio_largest_to_smallest"] == 1.25
    growing = {**flat, "sessions_page": [run(2.0, 1, 200), run(20.0, 5, 2000)]}
    result = section(sizes=SIZES, builds=[], measured=growing, calls=200, page_seconds=10, builder="bulk", seconds=1)
    assert [name for name, target in result["targets"].items() if not target["pass"]] == [
        "scale_requests_at_most_4_and_flat",
        "scale_items_read_flat",
        "scale_p50_ratio_at_most_1_5",
    ]


def test_a_small_scale_run_reports_every_page_at_every_size(scale_run):
    report, result, output = scale_run
    assert report["sizes"] == SIZES and report["calls_per_page"] == CALLS
    assert [build["size"] for build in report["builds"]] == SIZES
    for build, size in zip(report["builds"], SIZES):
        assert build["sessions"] == size and build["reviews"] == REVIEWS_PER_SESSION * size, build
        assert build["seconds"] > 0 and build["warnings"] == [] and build["method"] in ("bulk", "import")
    assert len({build["method"] for build in report["builds"]}) == 1  # auto decides once, at the smallest size
    assert list(report["pages"]) == [page.name for page in PAGES]
    for name, page in report["pages"].items():
        for figure in LISTS:
            assert len(page[figure]) == len(SIZES), (name, figure)
        assert page["status"] == [200, 200], (name, page["status"], page["problem"])
        assert page["problem"] == [None, None], (name, page["problem"])  # a full page, the history's total
        # Every call asked for, or as many as the page's budget allowed (at least 2): no timing is judged here.
        assert all(
            calls == CALLS or (spent and calls >= 2) for calls, spent in zip(page["calls"], page["budget_spent"])
        )
        assert all(p50 > 0 for p50 in page["p50_ms"]) and all(
            p95 >= p50 for p50, p95 in zip(page["p50_ms"], page["p95_ms"])
        )
        assert all(requests >= 1 for requests in page["requests"]), name  # every page reads DynamoDB today
        assert all(items >= 1 for items in page["items_read"]), name
        assert all(size > 0 for size in page["bytes_read"]), name
        assert page["ratio_largest_to_smallest"] > 0, name
    assert set(report["targets"]) == {
        "scale_requests_at_most_4_and_flat",
        "scale_items_read_flat",
        "scale_p50_ratio_at_most_1_5",
        "scale_every_page_answers",
    }
    assert all(isinstance(target["pass"], bool) for target in report["targets"].values())
    assert (output / "scale.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert "scale targets:" in result.stdout and "sessions_page" in result.stdout
    assert not list(LOCAL_DIR.glob("bench-scale-*"))  # its ministack's state is gone


def test_every_page_costs_the_same_requests_and_items_at_both_sizes(scale_run):
    report, _, _ = scale_run
    costs = {name: (page["requests"], page["items_read"]) for name, page in report["pages"].items()}
    growing = {name: cost for name, cost in costs.items() if len(set(cost[0])) > 1 or len(set(cost[1])) > 1}
    assert growing == {}, f"requests and items read at {SIZES} sessions, per page: {growing}"
    assert all(page["requests"][0] <= 4 for page in report["pages"].values()), costs
