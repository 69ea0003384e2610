"""`make bench`'s scale section: every session list and the dashboard against histories of 1,000, 10,000 and 100,000
sessions, each in a table of its own, to show whether a page's cost stays flat as the history grows.

Each history is a FlaskData made in memory: the seed's catalog (scripts/seed_data.py: its groups, words and activity)
and N sessions, one every SPACING going back from now, groups and activities round-robin, each with
REVIEWS_PER_SESSION reviews of its group's words. It is written into a fresh table by the Flask import: --build bulk
writes the import's plan (the items the data stands for) by the import's parallel BatchWriteItem and nothing else;
--build import runs the whole scripts.flask_import.import_database (it also reads every key first, reads everything
back and checks the counts, and in a layout that numbers sessions, numbers them); --build auto (the default) writes
the smallest history by bulk, reads it back through the app, and if the app shows it as built keeps bulk for every
size, else builds by import from then on. builds[] says which wrote each size, and how long it took.

Then each page is called through the app in process (Chalice's test client, as bench/measure.py does), --calls times
after a warm-up, within a time budget per page and size; each call's DynamoDB requests, items read (a Query's
ScannedCount, GetItem's item, BatchGetItem's items), bytes of the responses and read units (bench/meter.py) are
counted on the app's own client. The table is deleted before the next size.

`python -m bench.scale` runs this section alone on a ministack of its own (OUTPUT/scale.json and scale.png);
`python -m bench.run` runs it after the other sections, into latest.json's `scale` key."""

import argparse
import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from bench.meter import AccessLog, DynamoDBMeter, as_number, percentile, rounded
from bench.processes import TABLE, BenchError
from bench.routes import ORIGIN

DEFAULT_SIZES = (1_000, 10_000, 100_000)
DEFAULT_CALLS = 200
DEFAULT_PAGE_SECONDS = 25.0  # a page's budget at one size, warm-up included: 200 calls of up to 125 ms
MIN_CALLS = 2  # timed calls a page gets even past its budget (unless a call fails)
SETTLE_SECONDS = 180.0  # at most, waiting for the emulator to finish what timed-out calls left it doing
SETTLED_MS = 100.0  # a raw GetItem this fast: the emulator is idle again
WARMUP_CALLS = 3
SPACING = timedelta(minutes=30)  # between two sessions: 100,000 sessions span 5.7 years
REVIEWS_PER_SESSION = 3
PER_PAGE = 10
REQUESTS_LIMIT = 4  # DynamoDB requests a page may cost, at every size
RATIO_LIMIT = 1.5  # p50 at the largest size over p50 at the smallest
BUILDERS = ("auto", "bulk", "import")
DEFAULT_BUILDER = "auto"  # bulk where the app shows what it wrote (100,000 sessions in about 4 minutes), else import
SHOWN = ("sessions_page_1", "activity_sessions", "group_sessions", "cursor_list", "recent_session")  # auto's check
BUILD_ATTEMPTS = 10  # of each DynamoDB call while building: a bulk load on a busy emulator


@dataclass(frozen=True)
class History:
    """What the pages' paths need to know of a built history."""

    size: int
    group_sessions: int  # group 1's
    activity_sessions: int  # activity 1's
    middle_session_id: int

    def middle_page(self, sessions: int) -> int:
        """The page in the middle of a list of that many sessions, PER_PAGE a page."""
        return max(1, (sessions + PER_PAGE - 1) // PER_PAGE // 2)


@dataclass(frozen=True)
class Page:
    """One measured page: its name in the JSON, what it is, its path at a history (and a cursor if it follows one)."""

    name: str
    what: str
    path: Callable[[History, str | None], str]
    items: str | None = "items"  # the answer's list of sessions, checked to hold PER_PAGE of them
    follows_cursor: bool = False


PAGES = [
    Page(
        "sessions_page",
        "Sessions page, the middle page",
        lambda history, _: f"/api/study-sessions?page={history.middle_page(history.size)}&per_page={PER_PAGE}",
    ),
    Page("sessions_page_1", "Sessions page 1", lambda history, _: f"/api/study-sessions?page=1&per_page={PER_PAGE}"),
    Page(
        "activity_sessions",
        "an activity's sessions, the middle page",
        lambda history, _: (
            f"/api/study-activities/1/sessions?page={history.middle_page(history.activity_sessions)}"
            f"&per_page={PER_PAGE}"
        ),
    ),
    Page(
        "group_sessions",
        "Group page: sessions, the middle page, newest first",
        lambda history, _: f"/groups/1/study_sessions?page={history.middle_page(history.group_sessions)}",
        items="study_sessions",
    ),
    Page("cursor_list", "10 sessions by cursor, the first page", lambda _, __: f"/study_sessions?limit={PER_PAGE}"),
    Page(
        "cursor_list_next",
        "10 sessions by cursor, the next page by the first's cursor",
        lambda history, cursor: f"/study_sessions?limit={PER_PAGE}&cursor={quote(cursor or '', safe='')}",
        follows_cursor=True,
    ),
    Page(
        "session_page",
        "Session page of a session in the middle of the history",
        lambda history, _: f"/api/study-sessions/{history.middle_session_id}",
        items="words",
    ),
    Page("recent_session", "Dashboard: newest session", lambda history, _: "/dashboard/recent-session", items=None),
    Page("dashboard_stats", "Dashboard: figures", lambda history, _: "/dashboard/stats", items=None),
]


# the history ------------------------------------------------------------------------------------------------------


def history_data(size: int, *, now: datetime) -> tuple[Any, History]:
    """The FlaskData of a history of `size` sessions (ids 1..size, oldest first, the newest SPACING before now), and
    what its pages need to know of it."""
    from scripts.flask_import import FlaskData
    from scripts.seed_data import GROUPS, STUDY_ACTIVITIES

    groups = {group["group_id"]: {"name": group["name"], "cached_words_count": len(group["words"])} for group in GROUPS}
    words = {
        word["id"]: {name: word[name] for name in ("id", "kanji", "romaji", "english", "parts")}
        for group in GROUPS
        for word in group["words"]
    }
    memberships = [(word["id"], group["group_id"]) for group in GROUPS for word in group["words"]]
    activities = {
        activity["study_activity_id"]: {name: activity[name] for name in ("name", "url", "preview_url")}
        for activity in STUDY_ACTIVITIES
    }
    group_words = {group["group_id"]: [word["id"] for word in group["words"]] for group in GROUPS}
    group_ids, activity_ids = sorted(groups), sorted(activities)
    first = now.astimezone(UTC).replace(tzinfo=None, microsecond=0) - size * SPACING  # naive UTC, as words.db's
    sessions: dict[int, dict[str, Any]] = {}
    reviews: list[dict[str, Any]] = []
    counts = {word_id: [0, 0] for word_id in words}
    for index in range(size):
        session_id, created_at = index + 1, first + index * SPACING
        group_id = group_ids[index % len(group_ids)]
        sessions[session_id] = {
            "group_id": group_id,
            "study_activity_id": activity_ids[index % len(activity_ids)],
            "created_at": created_at,
        }
        for review in range(REVIEWS_PER_SESSION):
            word_id = group_words[group_id][(index + review) % len(group_words[group_id])]
            correct = (index + review) % 4 != 0
            counts[word_id][0 if correct else 1] += 1
            reviews.append(
                {
                    "id": len(reviews) + 1,
                    "word_id": word_id,
                    "session_id": session_id,
                    "correct": correct,
                    "created_at": created_at + timedelta(minutes=review + 1),
                }
            )
    data = FlaskData(
        groups=groups,
        words=words,
        memberships=memberships,
        activities=activities,
        sessions=sessions,
        reviews=reviews,
        word_reviews={word_id: (correct, wrong) for word_id, (correct, wrong) in counts.items()},
    )
    history = History(
        size=size,
        group_sessions=sum(1 for session in sessions.values() if session["group_id"] == 1),
        activity_sessions=sum(1 for session in sessions.values() if session["study_activity_id"] == 1),
        middle_session_id=(size + 1) // 2,
    )
    return data, history


def build(size: int, *, table: str, method: str, say: Callable[[str], None]) -> tuple[History, dict[str, Any]]:
    """A fresh table holding a history of `size` sessions, by the Flask import; what it took.

    method "import": scripts.flask_import.import_database, all of it (it reads every key first, writes what
    differs, reads everything back and counts each session's reviews in the table). "bulk": what the same import
    writes into an empty table and nothing else, as a fresh table has nothing to compare or keep: its plan
    (scripts/flask_import/plan.py, the items the data stands for), numbered as the import numbers them where the
    layout numbers sessions (scripts/flask_import/numbering.py: each session's ordinals, the lists' heads), written
    by its parallel BatchWriteItem (scripts/flask_import/bulk.py)."""
    import boto3
    from botocore.config import Config

    from chalicelib.store import StudyRepository
    from chalicelib.store.table import create_table_if_missing
    from scripts.flask_import import import_database
    from scripts.flask_import.bulk import Progress, write
    from scripts.flask_import.plan import plan

    started = time.monotonic()
    data, history = history_data(size, now=datetime.now(UTC))
    made = time.monotonic() - started
    config = Config(
        read_timeout=120, max_pool_connections=16, retries={"mode": "standard", "total_max_attempts": BUILD_ATTEMPTS}
    )
    client = boto3.client("dynamodb", config=config)
    create_table_if_missing(client, table_name=table)
    repository = StudyRepository(client=client, table_name=table)
    report = lambda line: say(f"    {line}")  # noqa: E731
    if method == "import":
        summary = import_database(repository=repository, data=data, report=report)
        if summary.sessions != size:
            raise BenchError(f"the import of {size:,} sessions stored {summary.sessions:,}")
        figures = {"sessions": summary.sessions, "reviews": summary.reviews, "items_written": summary.written}
        warnings = summary.warnings
    else:
        planned = plan(data, zone=UTC)
        numbering = _numbering()
        heads: dict[str, Any] = {}
        if numbering is not None:  # as import_database's merge numbers a history with nothing kept beside it
            number_sessions, put_heads = numbering
            sessions = {
                session_id: planned.items[(f"SESSION#{session_id}", "META")] for session_id in planned.session_ids
            }
            fields, heads = number_sessions(list(sessions.values()))
            for session_id, item in sessions.items():
                item.update(fields[session_id])
        items = list(planned.items.values())
        write(repository, kind="put", items=items, progress=Progress(report=report, total=len(items), what="writing"))
        written = len(items) + (put_heads(repository, heads=heads) if numbering is not None else 0)
        figures = {"sessions": len(planned.session_ids), "reviews": planned.reviews, "items_written": written}
        warnings = planned.warnings
    return history, {
        "size": size,
        "method": method,
        "seconds": round(time.monotonic() - started, 1),
        "data_seconds": round(made, 1),
        **figures,
        "warnings": warnings,
    }


def _numbering() -> tuple[Callable[..., Any], Callable[..., Any]] | None:
    """The import's numbering of a whole history and its writing of the lists' heads, in a layout that numbers
    sessions (None in one that does not)."""
    try:
        from scripts.flask_import.numbering import number_sessions, put_heads
    except ImportError:
        return None
    return number_sessions, put_heads


def drop(table: str) -> None:
    """Delete a size's table (if it was made), so the emulator holds one history at a time."""
    import boto3

    client = boto3.client("dynamodb")
    try:
        client.delete_table(TableName=table)
    except client.exceptions.ResourceNotFoundException:
        return
    client.get_waiter("table_not_exists").wait(TableName=table, WaiterConfig={"Delay": 1, "MaxAttempts": 120})


# measuring --------------------------------------------------------------------------------------------------------


@dataclass
class Call:
    """One call's answer and what it cost."""

    status: int
    ms: float
    requests: int
    items: int
    bytes: int
    rcu: float
    body: Any = None


@dataclass
class PageRun:
    """A page's calls at one size."""

    path: str
    calls: list[Call] = field(default_factory=list)
    failed: Call | None = None
    problem: str | None = None  # what is wrong with a 200 answer (too few items, say)
    budget_spent: bool = False
    settle_s: float = 0.0  # waited before the page for the emulator to be idle

    def figures(self, *, budget: int) -> dict[str, Any]:
        costs = self.calls or ([self.failed] if self.failed else [])
        ms = [call.ms for call in self.calls]

        def median(values: list[float]) -> float | int | None:
            return as_number(percentile(values, 50)) if values else None

        return {
            "path": self.path,
            "calls": len(self.calls),
            "p50_ms": rounded(percentile(ms, 50)),
            "p95_ms": rounded(percentile(ms, 95)),
            "requests": median([call.requests for call in costs]),
            "requests_max": max((call.requests for call in costs), default=None),
            "items_read": median([call.items for call in costs]),
            "bytes_read": median([call.bytes for call in costs]),
            "rcu": median([call.rcu for call in costs]),
            "status": self.failed.status if self.failed else 200 if self.calls else None,
            "failed_ms": rounded(self.failed.ms, 1) if self.failed else None,
            "problem": self.problem,
            "budget_spent": self.budget_spent and len(self.calls) < budget,
            "settle_s": round(self.settle_s, 1),
        }


class Scale:
    """The scale section against the DynamoDB in AWS_ENDPOINT_URL_DYNAMODB (this process's environment)."""

    def __init__(
        self,
        *,
        sizes: list[int],
        calls: int = DEFAULT_CALLS,
        page_seconds: float = DEFAULT_PAGE_SECONDS,
        builder: str = DEFAULT_BUILDER,
        table_prefix: str = f"{TABLE}-scale",
    ) -> None:
        self.sizes = sorted(sizes)
        self.builder = builder
        self.calls = calls
        self.page_seconds = page_seconds
        self.table_prefix = table_prefix
        self._raw: Any = None  # a client of the emulator's for settle()

    @staticmethod
    def say(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    def run(self) -> dict[str, Any]:
        """Every size in turn: build, measure every page, drop the table. The JSON of the section."""
        from chalicelib import runtime

        started = time.monotonic()
        builds: list[dict[str, Any]] = []
        measured: dict[str, list[dict[str, Any]]] = {page.name: [] for page in PAGES}
        table_before = os.environ.get("TABLE_NAME")
        method = None if self.builder == "auto" else self.builder  # auto: decided at the smallest size
        try:
            for size in self.sizes:
                table = f"{self.table_prefix}-{size}"
                self.say(f"scale: building a history of {size:,} sessions in {table} ({method or 'bulk, to try'})")
                try:
                    if method is None:
                        method, history, built = self.build_auto(size, table=table)
                    else:
                        history, built = build(size, table=table, method=method, say=self.say)
                    builds.append(built)
                    self.say(
                        f"  built in {built['seconds']} s; {self.calls} calls a page, {self.page_seconds:g} s budget"
                    )
                    self.use(table)
                    measure_started = time.monotonic()
                    for page, figures in self.measure(history).items():
                        measured[page].append(figures)
                    built["measure_seconds"] = round(time.monotonic() - measure_started, 1)
                finally:
                    runtime.reset_repository()
                    drop(table)
        finally:
            if table_before is None:
                os.environ.pop("TABLE_NAME", None)
            else:
                os.environ["TABLE_NAME"] = table_before
        return section(
            sizes=self.sizes,
            builds=builds,
            measured=measured,
            calls=self.calls,
            page_seconds=self.page_seconds,
            builder=self.builder,
            seconds=time.monotonic() - started,
        )

    @staticmethod
    def use(table: str) -> None:
        """Point the app at a size's table: a fresh client and reference cache, as a new Lambda process has."""
        from chalicelib import runtime

        os.environ["TABLE_NAME"] = table
        runtime.reset_repository()

    def build_auto(self, size: int, *, table: str) -> tuple[str, History, dict[str, Any]]:
        """--build auto, at the smallest size: keep the bulk-written history if the app shows it as built (the
        lists' pages full, their totals the history's); if not (a layout whose import writes more than bulk knows
        of), or if bulk fails, build it again by import_database, which every larger size then uses too."""
        built: dict[str, Any] = {}
        try:
            history, built = build(size, table=table, method="bulk", say=self.say)
            self.use(table)
            problems = self.shows(history)
        except Exception as exc:  # the import's parts changed under bulk: the whole import is the reference
            problems = [f"bulk failed: {type(exc).__name__}: {exc}"]
        if not problems:
            return "bulk", history, built
        self.say(f"  bulk will not do ({problems[0]}): import_database writes every size")
        drop(table)
        history, rebuilt = build(size, table=table, method="import", say=self.say)
        return "import", history, {**rebuilt, "bulk_seconds": built.get("seconds"), "bulk_refused": problems}

    def shows(self, history: History) -> list[str]:
        """What is wrong with the lists' pages of a history, one call each (nothing if they show it as built)."""
        problems = []
        with self.app() as (http, meter):
            for page in PAGES:
                if page.name in SHOWN:
                    call = self.call(http, meter, page.path(history, None))
                    problem = self.check(page, history, call.body) if call.status == 200 else f"{call.status}"
                    if problem:
                        problems.append(f"{page.name}: {problem}")
        return problems

    @contextmanager
    def app(self) -> Iterator[tuple[Any, DynamoDBMeter]]:
        """The app in process (Chalice's test client) and a meter on its own DynamoDB client."""
        from chalice.test import Client

        import app as app_module
        from chalicelib import runtime
        from scripts.local_stack import ROOT

        meter = DynamoDBMeter()
        meter.attach(runtime.get_repository().client)
        handlers = app_module.app.log.handlers
        # The access line is still formatted, as in Lambda, only not written (as bench/measure.py does).
        app_module.app.log.handlers = [AccessLog(handlers[0].formatter if handlers else None)]
        try:
            with Client(app_module.app, stage_name="local", project_dir=str(ROOT)) as client:
                yield client.http, meter
        finally:
            app_module.app.log.handlers = handlers

    def measure(self, history: History) -> dict[str, dict[str, Any]]:
        """Every page at one history, through the app in process; the meter on the app's own client."""
        figures: dict[str, dict[str, Any]] = {}
        cursor: str | None = None
        with self.app() as (http, meter):
            for page in PAGES:
                settle_s = self.settle(history)
                run = self.measure_page(http, meter, page, history, cursor)
                run.settle_s = settle_s
                if page.name == "cursor_list" and run.calls:
                    cursor = (run.calls[-1].body or {}).get("next_cursor")
                figures[page.name] = run.figures(budget=self.calls)
                self.progress(page, figures[page.name])
        return figures

    def measure_page(
        self, http: Any, meter: DynamoDBMeter, page: Page, history: History, cursor: str | None
    ) -> PageRun:
        """A warm-up, then up to --calls timed calls within the page's budget (at least MIN_CALLS); the first call
        that does not answer 200 ends it."""
        run = PageRun(path=page.path(history, cursor))
        if page.follows_cursor and not cursor:
            run.problem = "the first page gave no next_cursor"
            return run
        started = time.monotonic()
        deadline = started + self.page_seconds
        for _ in range(min(WARMUP_CALLS, self.calls)):
            call = self.call(http, meter, run.path)
            if call.status != 200:
                run.failed = call
                return run
            if time.monotonic() - started > self.page_seconds / 4:  # a slow page: its budget is for timed calls
                break
        run.problem = self.check(page, history, call.body)
        while len(run.calls) < self.calls:
            if time.monotonic() > deadline and len(run.calls) >= MIN_CALLS:
                run.budget_spent = True
                break
            call = self.call(http, meter, run.path)
            if call.status != 200:
                run.failed = call
                break
            run.calls.append(call)
        return run

    def settle(self, history: History) -> float:
        """Wait until a raw GetItem answers within SETTLED_MS (at most SETTLE_SECONDS): a call the app gave up on
        (its 1 s read timeout) leaves the emulator working on what it asked, which would slow the next page.
        The seconds waited."""
        import boto3
        from botocore.config import Config

        from chalicelib.store.items import session_key

        if self._raw is None:
            config = Config(read_timeout=SETTLE_SECONDS, retries={"mode": "standard", "total_max_attempts": 1})
            self._raw = boto3.client("dynamodb", config=config)
        key = {name: {"S": value} for name, value in session_key(history.middle_session_id).items()}
        started = time.monotonic()
        while True:
            asked = time.perf_counter()
            self._raw.get_item(TableName=os.environ["TABLE_NAME"], Key=key)
            if (time.perf_counter() - asked) * 1000 < SETTLED_MS or time.monotonic() - started > SETTLE_SECONDS:
                return time.monotonic() - started
            time.sleep(0.5)

    @staticmethod
    def call(http: Any, meter: DynamoDBMeter, path: str) -> Call:
        before = meter.reading()
        started = time.perf_counter()
        answer = http.request("GET", path, headers=dict(ORIGIN))
        elapsed = (time.perf_counter() - started) * 1000
        after = meter.reading()
        try:
            body = json.loads(answer.body) if answer.body else None
        except ValueError:
            body = None
        return Call(
            status=answer.status_code,
            ms=elapsed,
            requests=after.requests - before.requests,
            items=after.items - before.items,
            bytes=after.bytes - before.bytes,
            rcu=after.rcu - before.rcu,
            body=body if answer.status_code == 200 else answer.body[:300],
        )

    @staticmethod
    def check(page: Page, history: History, body: Any) -> str | None:
        """What is wrong with a page's answer (a list shorter than a page, a total that is not the history's): the
        built history is what the pages show."""
        if page.items is None:
            return None if body else "an empty answer"
        listed = (body or {}).get(page.items) if isinstance(body, dict) else None
        wanted = {"words": 1}.get(page.items, PER_PAGE)  # a session's words: those its reviews name
        if not isinstance(listed, list) or len(listed) < wanted:
            return f"{page.items}: {len(listed) if isinstance(listed, list) else listed!r}, expected {wanted}+"
        totals = {
            "sessions_page": ("total", history.size),
            "sessions_page_1": ("total", history.size),
            "activity_sessions": ("total", history.activity_sessions),
            "group_sessions": ("total_pages", -(-history.group_sessions // PER_PAGE)),
        }
        if page.name in totals:
            name, expected = totals[page.name]
            if body.get(name) != expected:
                return f"{name} {body.get(name)!r}, expected {expected}"
        return None

    def progress(self, page: Page, figures: dict[str, Any]) -> None:
        p50 = "-" if figures["p50_ms"] is None else f"{figures['p50_ms']:.2f}"
        status = "" if figures["status"] == 200 else f"  answered {figures['status']}"
        self.say(
            f"  {page.name:<18} {p50:>9} ms p50 {figures['calls']:>4} calls  {figures['requests']} requests  "
            f"{figures['items_read']} items  {figures['bytes_read']} bytes{status}"
            + (f"  ({figures['problem']})" if figures["problem"] else "")
            + (f"  (waited {figures['settle_s']} s for the emulator first)" if figures["settle_s"] >= 1 else "")
        )


# the result -------------------------------------------------------------------------------------------------------


def section(
    *,
    sizes: list[int],
    builds: list[dict[str, Any]],
    measured: dict[str, list[dict[str, Any]]],
    calls: int,
    page_seconds: float,
    builder: str,
    seconds: float,
) -> dict[str, Any]:
    """The `scale` key of latest.json: per page, a list of each figure by size (smallest first), and the targets."""
    pages: dict[str, dict[str, Any]] = {}
    for page in PAGES:
        runs = measured[page.name]
        p50 = [run["p50_ms"] for run in runs]
        ratio = p50[-1] / p50[0] if len(p50) > 1 and p50[0] and p50[-1] is not None else None
        pages[page.name] = {
            "what": page.what,
            **{
                name: [run[name] for run in runs]
                for name in (
                    "p50_ms",
                    "p95_ms",
                    "requests",
                    "requests_max",
                    "items_read",
                    "bytes_read",
                    "rcu",
                    "calls",
                    "status",
                    "failed_ms",
                    "problem",
                    "budget_spent",
                    "settle_s",
                    "path",
                )
            },
            "ratio_largest_to_smallest": rounded(ratio, 2),
        }
    result = {
        "sizes": sizes,
        "pages": pages,
        "builds": builds,
        "calls_per_page": calls,
        "page_seconds": page_seconds,
        "seconds": round(seconds, 1),
        "history": {
            "spacing_minutes": SPACING.total_seconds() / 60,
            "reviews_per_session": REVIEWS_PER_SESSION,
            "build": builder,
        },
        "notes": {
            "history": "The seed's catalog (2 groups of 6 and 5 words, 1 activity) and N sessions with ids 1..N, one "
            "every spacing_minutes going back from now (the newest one spacing before the build), groups "
            "and activities round-robin, each with reviews_per_session reviews of its group's words a minute "
            "apart, as an in-memory FlaskData, into a fresh table per size (deleted after its pages are "
            "measured). bulk: the Flask import's plan (scripts/flask_import/plan.py, the items the data "
            "stands for) written by the import's parallel BatchWriteItem (bulk.write); import: the whole "
            "import_database (it also reads every key first, reads everything back and checks the "
            "counts, and numbers the sessions in a layout that numbers them); auto (--build's default): "
            "bulk at the smallest size, read back through the app (Sessions page 1, an activity's and a "
            "group's sessions, the cursor list, the newest session: full pages, the history's totals), "
            "kept for every size if the app shows it as built, else import from then on (builds[]."
            "bulk_refused says why). builds[].method: what wrote the size; seconds includes making the "
            "FlaskData.",
            "figures": "Per page, one value per size in `sizes` order: the median over the timed calls of the "
            "DynamoDB HTTP requests per call (retries included), items read (a Query's ScannedCount, "
            "GetItem's item, BatchGetItem's items), bytes of the response bodies and read units; p50/p95 "
            "through Chalice's test client in process, after a warm-up. ratio_largest_to_smallest: p50 at "
            "the largest size over p50 at the smallest.",
            "budget": "Each page gets calls_per_page calls at each size within page_seconds (at least 2 timed "
            "calls): budget_spent marks a page that stopped short. A call that does not answer 200 ends the "
            "page at that size: its status, its time (failed_ms) and, if no call answered, its requests, "
            "items and bytes are reported.",
            "settle": "Before each page, a raw GetItem (a client of its own, no retries) is sent every 0.5 s until it "
            "answers within 100 ms: a call the app gave up on (its 1 s read timeout, 3 attempts) leaves the "
            "emulator working on the abandoned requests, which would slow the next page. settle_s: the wait.",
            "pages": "sessions_page, activity_sessions and group_sessions ask for the middle page of their list "
            "(path says which); session_page for the session in the middle of the history; "
            "cursor_list_next for the page after the first by the first's next_cursor.",
        },
    }
    result["targets"] = targets(result)
    return result


def targets(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The scale targets, each with the figures it reads, its limit and whether it passes."""
    pages = result["pages"]

    def target(what: str, value: Any, limit: Any, passed: bool) -> dict[str, Any]:
        return {"target": what, "value": value, "limit": limit, "pass": bool(passed)}

    def flat(values: list[Any]) -> bool:
        return None not in values and len(set(values)) == 1

    return {
        "scale_requests_at_most_4_and_flat": target(
            f"each page: at most {REQUESTS_LIMIT} DynamoDB requests, the same at every size",
            {name: page["requests"] for name, page in pages.items()},
            REQUESTS_LIMIT,
            all(flat(page["requests"]) and page["requests"][0] <= REQUESTS_LIMIT for page in pages.values()),
        ),
        "scale_items_read_flat": target(
            "each page: the same items read at every size",
            {name: page["items_read"] for name, page in pages.items()},
            "flat",
            all(flat(page["items_read"]) for page in pages.values()),
        ),
        "scale_p50_ratio_at_most_1_5": target(
            f"each page: p50 at the largest size at most {RATIO_LIMIT}x the smallest's",
            {name: page["ratio_largest_to_smallest"] for name, page in pages.items()},
            RATIO_LIMIT,
            all(
                page["ratio_largest_to_smallest"] is not None and page["ratio_largest_to_smallest"] <= RATIO_LIMIT
                for page in pages.values()
            ),
        ),
        "scale_every_page_answers": target(
            f"each page answers 200, a right answer, {result['calls_per_page']} timed calls at every size",
            {
                name: [
                    status if status != 200 else problem or calls
                    for status, problem, calls in zip(page["status"], page["problem"], page["calls"])
                ]
                for name, page in pages.items()
            },
            result["calls_per_page"],
            all(
                status == 200 and problem is None and calls >= result["calls_per_page"]
                for page in pages.values()
                for status, problem, calls in zip(page["status"], page["problem"], page["calls"])
            ),
        ),
    }


def _cell(values: list[Any], digits: int = 0) -> str:
    def one(value: Any) -> str:
        if value is None:
            return "-"
        return f"{value:,.{digits}f}" if isinstance(value, float) or digits else f"{value:,}"

    return "/".join(one(value) for value in values)


def table(result: dict[str, Any]) -> str:
    """The printed summary of the section: one line per page, a figure per size in each column."""
    sizes = result["sizes"]
    builds = ", ".join(f"{build['size']:,} in {build['seconds']} s ({build['method']})" for build in result["builds"])
    lines = [
        f"scale: histories of {' / '.join(f'{size:,}' for size in sizes)} sessions (built by the Flask import: "
        f"{builds}); {result['calls_per_page']} calls a page within {result['page_seconds']:g} s",
        f"{'page':<18} {'requests':>12} {'items read':>22} {'KB read':>20} {'p50 ms':>22} {'p95 ms':>22} "
        f"{'calls':>12}  ratio",
    ]
    for name, page in result["pages"].items():
        statuses = ", ".join(
            f"{status} at {size:,}" for status, size in zip(page["status"], sizes) if status != 200
        ) or "; ".join(f"{problem} at {size:,}" for problem, size in zip(page["problem"], sizes) if problem)
        ratio = page["ratio_largest_to_smallest"]
        lines.append(
            f"{name:<18} {_cell(page['requests']):>12} {_cell(page['items_read']):>22} "
            f"{_cell([None if b is None else b / 1024 for b in page['bytes_read']], 1):>20} "
            f"{_cell(page['p50_ms'], 1):>22} {_cell(page['p95_ms'], 1):>22} {_cell(page['calls']):>12}  "
            f"{'-' if ratio is None else f'{ratio:.2f}x'}" + (f"  ({statuses})" if statuses else "")
        )
    lines.append("scale targets:")
    for check in result["targets"].values():
        lines.append(f"  {'PASS' if check['pass'] else 'FAIL'}  {check['target']}")
    lines.append(f"scale section: {result['seconds']} s")
    return "\n".join(lines)


# the command ------------------------------------------------------------------------------------------------------


def parse_sizes(text: str) -> list[int]:
    """--scale-sizes: comma-separated session counts ("1000,10000,100000"), or "none" for no scale section."""
    if text.strip().lower() in ("none", "0", ""):
        return []
    try:
        sizes = sorted({int(part.replace("_", "")) for part in text.split(",")})
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a list of sizes: {text!r}") from exc
    if sizes[0] < 2 * PER_PAGE * 2:
        raise argparse.ArgumentTypeError(f"each size must be at least {4 * PER_PAGE} sessions (two pages a group)")
    return sizes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.scale", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes",
        type=parse_sizes,
        default=list(DEFAULT_SIZES),
        help="history sizes, comma-separated (default 1000,10000,100000)",
    )
    parser.add_argument("--calls", type=int, default=DEFAULT_CALLS, help="timed calls a page (default 200)")
    parser.add_argument(
        "--page-seconds",
        type=float,
        default=DEFAULT_PAGE_SECONDS,
        help=f"each page's time budget at each size (default {DEFAULT_PAGE_SECONDS:g})",
    )
    parser.add_argument(
        "--build",
        choices=BUILDERS,
        default=DEFAULT_BUILDER,
        help="how each history is written: the import's plan by its bulk writes, the whole import, or auto (bulk if "
        "the app shows what it wrote at the smallest size, else import; the default)",
    )
    from scripts.local_stack import LOCAL_DIR, ROOT, free_port, start_ministack, stop_ministack, wait_until_ready

    parser.add_argument(
        "--output",
        type=Path,
        default=ROOT / "bench" / "results",
        help="folder for scale.json and scale.png (default bench/results)",
    )
    args = parser.parse_args(argv)
    if not args.sizes or args.calls < 1 or args.page_seconds <= 0:
        parser.error("give at least one size, --calls of at least 1 and a positive --page-seconds")
    from scripts.aws_env import isolate_aws

    isolate_aws(TABLE_NAME=TABLE)
    work = LOCAL_DIR / f"bench-scale-{os.getpid()}"
    work.mkdir(parents=True, exist_ok=True)
    port = free_port()
    server = start_ministack(port=port, log_path=work / "ministack.log")
    try:
        wait_until_ready(port=port, process=server)
        os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = f"http://127.0.0.1:{port}"
        result = Scale(sizes=args.sizes, calls=args.calls, page_seconds=args.page_seconds, builder=args.build).run()
    except BenchError as exc:
        print(f"bench.scale: {exc}", file=sys.stderr)
        return 1
    finally:
        stop_ministack(server)
        shutil.rmtree(work, ignore_errors=True)
    args.output.mkdir(parents=True, exist_ok=True)
    from bench.chart import draw_scale

    draw_scale(result, args.output / "scale.png")
    (args.output / "scale.json").write_text(json.dumps(result, indent=2) + "\n")
    print(table(result))
    print(f"wrote {args.output / 'scale.json'} and {args.output / 'scale.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
