"""Every session list and the dashboard answer what the whole history gives (tests/support/oracle.py: the service's
answers as computed before its lists became one page of reads), whatever the history: a hypothesis state machine
creates sessions, logs reviews, resets (through the API) and imports Flask files (merged into the table's history),
and every few writes reads every page of every list and both dashboard routes; and once after concurrent creates and
reviews. The state machine runs on moto and ministack, the concurrent writers on ministack only.

The clock: every write of the state machine goes through a repository whose clock is a fake one that only moves
forward, by a few milliseconds to a few days a step (now and then about a month), so histories span weeks and the
dashboard's streak and active-groups window matter, and no two sessions share a created_at (the oracle leaves ties
out of scope; imported sessions get times no other session has). The app's own repository gets the same clock:
chalicelib.runtime builds it by calling its module's StudyRepository name, which the `app_clock` fixture replaces
with StudyRepository bound to now=the fake clock (a public name, no private attribute), so the dashboard's "today"
is the fake clock's UTC date and the oracle is computed for that same day.

Each example starts on a table of its own: the first on the `seeded` fixture's, the others on the same table
deleted, created and seeded again, and the app's repository (its cache too) is built afresh for it. The model the
machine keeps is the set of sessions the table should hold (with their groups and times); the oracle itself reads
only the table, through a Scan."""

import contextlib
import functools
import json
import os
import random
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from chalice.test import Client
from hypothesis import HealthCheck, Phase, settings, strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    precondition,
    rule,
    run_state_machine_as_test,
)

import app as app_module
from chalicelib import runtime
from chalicelib.presenters import present_recent_session
from chalicelib.store import StudyRepository, errors
from chalicelib.store.items import format_timestamp
from chalicelib.store.mapping import session_word_counts
from chalicelib.store.table import create_table_if_missing
from scripts.flask_import import FlaskData, import_database
from scripts.local_stack import ROOT
from scripts.seed_data import GROUPS, STUDY_ACTIVITIES, load_seed
from tests.support import oracle
from tests.support.dynamodb import new_session, scan_items
from tests.support.openapi import ConformingClient
from tests.support.portal import STAGE

PAGE_SIZES = (1, 2, 3, 10, 100)
CURSOR_LIMITS = (1, 2, 5)
ORDERS = ("asc", "desc")
WORDS_OF_GROUP = {group["group_id"]: [word["id"] for word in group["words"]] for group in GROUPS}
ACTIVITY_ID = 1  # the seed's one activity
ACTIVITY_IDS = [activity["study_activity_id"] for activity in STUDY_ACTIVITIES]
# The run's cost is its reads of every page: 50 to 150 HTTP requests each, of 10 to 70 ms in Chalice's test client
# (two DynamoDB calls a page once the lists are paged; moto the slower backend). So a read waits for a few writes,
# a reset for a few sessions (histories grow), and a history stops growing at MAX_SESSIONS (a read's requests grow
# with it). ORACLE_EXAMPLES sets the examples per backend, to search longer than the default's minute.
EXAMPLES = int(os.environ.get("ORACLE_EXAMPLES", "5"))
WRITES_BETWEEN_READS = 4
RESET_FROM = 4  # sessions
MAX_SESSIONS = 12
RESET_ATTEMPTS = 20  # of POST /api/study-sessions/reset, which answers 503 while it is not finished
DAY_MS = 86_400_000
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
# How far the clock moves before a write: milliseconds, seconds to an hour, an hour to four days, or about the
# dashboard's 30 days (so that sessions fall on either side of the active-groups window's first day).
pauses = st.one_of(
    st.integers(min_value=1, max_value=999),
    st.integers(min_value=1_000, max_value=3_600_000),
    st.integers(min_value=3_600_000, max_value=4 * DAY_MS),
    st.integers(min_value=27 * DAY_MS, max_value=31 * DAY_MS),
).map(lambda milliseconds: timedelta(milliseconds=milliseconds))
# No shrinking: a read of every page costs seconds, so shrinking a failure (hypothesis gives it up to 5 minutes)
# would cost far more than the whole run; the failing steps are printed as found (15 at most).
MACHINE_SETTINGS = settings(
    max_examples=EXAMPLES,
    stateful_step_count=15,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow],
)


class FakeClock:
    """A clock that says the same moment until it is moved forward."""

    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def now(self) -> datetime:
        return self.moment

    def advance(self, pause: timedelta) -> datetime:
        assert pause > timedelta(0)
        self.moment += pause
        return self.moment


class UniqueRealClock:
    """The real time, a millisecond past the last reading at least: threads sharing it never read one moment twice
    (created_at has millisecond precision)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.last = datetime.min.replace(tzinfo=UTC)

    def now(self) -> datetime:
        with self.lock:
            real = datetime.now(UTC)
            self.last = max(
                real.replace(microsecond=real.microsecond // 1000 * 1000), self.last + timedelta(milliseconds=1)
            )
            return self.last


@pytest.fixture
def app_clock(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The clock of the repository the app builds on its next request (chalicelib.runtime.get_repository)."""
    clock = FakeClock(EPOCH)
    monkeypatch.setattr(runtime, "StudyRepository", functools.partial(StudyRepository, now=clock.now))
    runtime.reset_repository()
    yield clock
    runtime.reset_repository()  # no later test may get a repository built with this clock


@pytest.fixture
def clocked_api(seeded: StudyRepository, app_clock: FakeClock) -> Any:
    """Chalice's test client on the dev stage (whose ALLOW_RESET is true) over the seeded table, its clock
    app_clock's."""
    with Client(app_module.app, stage_name=STAGE, project_dir=str(ROOT)) as client:
        yield ConformingClient(client.http)


def get(api: Any, path: str) -> Any:
    response = api.get(path)
    assert response.status_code == 200, (path, response.status_code, response.body)
    return json.loads(response.body)


# --- comparing every answer with the oracle's -----------------------------------------------------------------


def has_ties(sessions: list[dict[str, Any]]) -> bool:
    moments = [session["created_at"] for session in sessions]
    return len(set(moments)) < len(moments)


def assert_same_items(what: str, got: list[list[dict[str, Any]]], expected: list[list[dict[str, Any]]]) -> None:
    """The pages' items equal the oracle's, page by page. Sessions sharing a created_at (out of the oracle's scope:
    only the concurrent test's writers can make them) may come in any order among themselves in a list by time:
    then each page holds the same times and the whole list the same sessions."""
    assert len(got) == len(expected), f"{what}: {len(got)} pages, the oracle's {len(expected)}"
    everything = [session for page in expected for session in page]
    if not has_ties(everything):
        for number, (got_page, expected_page) in enumerate(zip(got, expected, strict=True), start=1):
            assert got_page == expected_page, f"{what}, page {number}"
        return
    times = [[session["created_at"] for session in page] for page in got]
    assert times == [[session["created_at"] for session in page] for page in expected], what
    assert sorted((session for page in got for session in page), key=lambda session: session["id"]) == sorted(
        everything, key=lambda session: session["id"]
    ), what


def assert_page_walk(api: Any, paths: list[str], expected: list[dict[str, Any]], *, items: str, by_time: bool) -> None:
    """GET each page; each answer's envelope equals the oracle's, and its items (under `items`) too."""
    got = [get(api, path) for path in paths]
    for path, got_page, expected_page in zip(paths, got, expected, strict=True):
        assert {**got_page, items: None} == {**expected_page, items: None}, path
    what = f"{paths[0]} and the pages after it"
    if by_time:
        assert_same_items(what, [page.get(items) for page in got], [page[items] for page in expected])
    else:
        for path, got_page, expected_page in zip(paths, got, expected, strict=True):
            assert got_page.get(items) == expected_page[items], path


def assert_every_answer_matches_the_oracle(api: Any, items: list[dict[str, Any]], *, today: Any) -> None:
    """Every page of every session list (each page size, each page to one past the last, each activity and group,
    each sort and order), the cursor walk at a few limits, and both dashboard routes, against the oracle over
    `items` (the table's raw items) and `today` (the app's UTC date)."""
    for per_page in PAGE_SIZES:
        pages = range(1, oracle.sessions_page(items, page=1, per_page=per_page)["total_pages"] + 2)
        assert_page_walk(
            api,
            [f"/api/study-sessions?page={page}&per_page={per_page}" for page in pages],
            [oracle.sessions_page(items, page=page, per_page=per_page) for page in pages],
            items="items",
            by_time=True,
        )
        for activity_id in oracle.ids_of(items, "study_activity"):
            listed = functools.partial(
                oracle.activity_sessions_page, items, study_activity_id=activity_id, per_page=per_page
            )
            pages = range(1, listed(page=1)["total_pages"] + 2)
            assert_page_walk(
                api,
                [f"/api/study-activities/{activity_id}/sessions?page={page}&per_page={per_page}" for page in pages],
                [listed(page=page) for page in pages],
                items="items",
                by_time=True,
            )
    sorts: list[tuple[str | None, str | None]] = [(None, None)]
    sorts += [(sort_by, order) for sort_by in oracle.SESSION_SORTS for order in ORDERS]
    for group_id in oracle.ids_of(items, "group"):
        for sort_by, order in sorts:
            listed = functools.partial(
                oracle.group_sessions_page, items, group_id=group_id, sort_by=sort_by, order=order
            )
            query = "" if sort_by is None else f"&sort_by={sort_by}&order={order}"
            pages = range(1, listed(page=1)["total_pages"] + 2)
            assert_page_walk(
                api,
                [f"/groups/{group_id}/study_sessions?page={page}{query}" for page in pages],
                [listed(page=page) for page in pages],
                items="study_sessions",
                by_time=sort_by in (None, "startTime"),
            )
    for limit in CURSOR_LIMITS:
        expected = oracle.cursor_pages(items, limit=limit)
        got, path = [], f"/study_sessions?limit={limit}"
        while len(got) <= len(expected):  # a walk that does not end stops one page past the oracle's
            body = get(api, path)
            got.append(body["items"])
            if body["next_cursor"] is None:
                break
            path = f"/study_sessions?limit={limit}&cursor={body['next_cursor']}"
        assert_same_items(f"/study_sessions?limit={limit} walked to the end", got, expected)
    recent = get(api, "/dashboard/recent-session")
    newest = oracle.newest_first(items)
    if has_ties(newest[:2]):
        tied = [present_recent_session(s) for s in newest if s["created_at"] == newest[0]["created_at"]]
        assert recent in tied, "/dashboard/recent-session"
    else:
        assert recent == oracle.recent_session(items), "/dashboard/recent-session"
    assert get(api, "/dashboard/stats") == oracle.dashboard_stats(items, today=today), "/dashboard/stats"


def assert_the_lists_count_every_session(api: Any, activity_ids: list[int], *, sessions: int) -> None:
    """The Sessions page's total is the number of sessions, and the activities' totals add up to it."""
    total = get(api, "/api/study-sessions?per_page=1")["total"]
    by_activity = [
        get(api, f"/api/study-activities/{activity_id}/sessions?per_page=1")["total"] for activity_id in activity_ids
    ]
    assert (total, sum(by_activity)) == (sessions, sessions)


def assert_every_word_counts_its_reviews(items: list[dict[str, Any]]) -> None:
    """A word's all-time counts are its reviews': the sums of its counts in every session."""
    from_sessions: dict[int, list[int]] = {}
    for session in oracle.of_type(items, "session"):
        for word_id, counts in session_word_counts(session).items():
            summed = from_sessions.setdefault(word_id, [0, 0])
            summed[0] += counts["correct_count"]
            summed[1] += counts["wrong_count"]
    words = {
        int(word["id"]): [int(word.get("correct_count", 0)), int(word.get("wrong_count", 0))]
        for word in oracle.of_type(items, "word")
    }
    assert words == {word_id: from_sessions.get(word_id, [0, 0]) for word_id in words}


# --- the state machine ----------------------------------------------------------------------------------------


def flask_file(sessions: dict[int, dict[str, Any]], reviews: list[dict[str, Any]]) -> FlaskData:
    """A checked Flask words.db holding the seed's catalog (its groups, words and activity) and these sessions and
    reviews (times naive, read as UTC)."""
    word_reviews: dict[int, tuple[int, int]] = {}
    for review in reviews:
        correct, wrong = word_reviews.get(review["word_id"], (0, 0))
        word_reviews[review["word_id"]] = (correct + review["correct"], wrong + (not review["correct"]))
    return FlaskData(
        groups={
            group["group_id"]: {"name": group["name"], "cached_words_count": len(group["words"])} for group in GROUPS
        },
        words={
            word["id"]: {
                "id": word["id"],
                "kanji": word["kanji"],
                "romaji": word["romaji"],
                "english": word["english"],
                "parts": [{"kanji": part["kanji"], "romaji": list(part["romaji"])} for part in word["parts"]],
            }
            for group in GROUPS
            for word in group["words"]
        },
        memberships=[(word["id"], group["group_id"]) for group in GROUPS for word in group["words"]],
        activities={
            activity["study_activity_id"]: {
                "name": activity["name"],
                "url": activity["url"],
                "preview_url": activity["preview_url"],
            }
            for activity in STUDY_ACTIVITIES
        },
        sessions=sessions,
        reviews=reviews,
        word_reviews=word_reviews,
    )


@dataclass
class Place:
    """What the examples share: the backend's client and table, the app's client and clock."""

    dynamodb: Any
    table: str
    api: Any
    clock: FakeClock
    examples: int = 0

    def fresh_table(self) -> None:
        """The seeded table, with no history: the fixture's for the first example, made again for each other."""
        self.examples += 1
        if self.examples > 1:
            self.dynamodb.delete_table(TableName=self.table)
            self.dynamodb.get_waiter("table_not_exists").wait(
                TableName=self.table, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
            )
            create_table_if_missing(self.dynamodb, table_name=self.table)
            load_seed(StudyRepository(client=self.dynamodb, table_name=self.table))
        runtime.reset_repository()  # the app's next request builds a repository (and a cache) for this table


class SessionHistory(RuleBasedStateMachine):
    """Creates, reviews, resets and imports in any order; every few writes, every page read equals the oracle's."""

    def __init__(self, place: Place) -> None:
        super().__init__()
        place.fresh_table()
        self.place = place
        self.clock = place.clock
        self.repository = StudyRepository(client=place.dynamodb, table_name=place.table, now=self.clock.now)
        self.sessions: dict[int, dict[str, Any]] = {}  # every session the table should hold: group_id, created_at
        self.moments: set[str] = set()  # every created_at used in this example
        self.next_flask_id = 1  # the imported files' session and review ids: small, never used twice
        self.next_review_id = 1
        self.writes = 0  # since the last read of every page

    @initialize(start=st.integers(min_value=0, max_value=365 * DAY_MS))
    def start_the_clock(self, start: int) -> None:
        self.clock.moment = EPOCH + timedelta(milliseconds=start)

    def items(self) -> list[dict[str, Any]]:
        return scan_items(self.place.dynamodb, self.place.table)

    def remember(self, session_id: int, *, group_id: int, created_at: str) -> None:
        assert created_at not in self.moments, f"two sessions created at {created_at}: the test's clock must move"
        self.moments.add(created_at)
        self.sessions[session_id] = {"group_id": group_id, "created_at": created_at}
        self.writes += 1

    @precondition(lambda self: len(self.sessions) < MAX_SESSIONS)
    @rule(pause=pauses, group_id=st.sampled_from(sorted(WORDS_OF_GROUP)))
    def create_a_session(self, pause: timedelta, group_id: int) -> None:
        self.clock.advance(pause)
        session = self.repository.create_session(group_id=group_id, study_activity_id=ACTIVITY_ID)
        self.remember(session["id"], group_id=group_id, created_at=session["created_at"])

    @precondition(lambda self: self.sessions)
    @rule(pause=pauses, data=st.data())
    def log_reviews(self, pause: timedelta, data: st.DataObject) -> None:
        session_id = data.draw(st.sampled_from(sorted(self.sessions)), label="session")
        words = WORDS_OF_GROUP[self.sessions[session_id]["group_id"]]
        reviews = data.draw(
            st.lists(st.tuples(st.sampled_from(words), st.booleans()), min_size=1, max_size=5), label="reviews"
        )
        self.clock.advance(pause)
        self.repository.log_reviews(session_id=session_id, reviews=reviews)
        self.writes += 1

    @precondition(lambda self: len(self.sessions) >= RESET_FROM)
    @rule()
    def reset_the_history(self) -> None:
        for _ in range(RESET_ATTEMPTS):
            response = self.place.api.post(
                "/api/study-sessions/reset", body=b"", headers={"Content-Type": "application/json"}
            )
            if response.status_code == 200:
                break
            assert response.status_code == 503, (response.status_code, response.body)  # not finished: send again
        else:
            pytest.fail(f"the reset did not finish in {RESET_ATTEMPTS} requests")
        self.sessions.clear()
        self.writes += 1

    @precondition(lambda self: len(self.sessions) < MAX_SESSIONS)
    @rule(pause=pauses, data=st.data())
    def import_a_flask_file(self, pause: timedelta, data: st.DataObject) -> None:
        """A file of the seed's catalog and 1-5 new sessions, each before, between or after the table's, with a few
        reviews; merged into the table: its sessions stay, the file's are added."""
        now = self.clock.advance(pause)
        earliest = min(
            (datetime.fromisoformat(session["created_at"]) for session in self.sessions.values()), default=now
        )
        first = earliest - timedelta(days=3)
        span = (now - first) // timedelta(milliseconds=1)
        sessions: dict[int, dict[str, Any]] = {}
        reviews: list[dict[str, Any]] = []
        most = min(5, MAX_SESSIONS - len(self.sessions))
        for _ in range(data.draw(st.integers(min_value=1, max_value=most), label="sessions")):
            moment = first + timedelta(milliseconds=data.draw(st.integers(min_value=0, max_value=span), label="at"))
            while format_timestamp(moment) in self.moments or any(
                format_timestamp(moment) == format_timestamp(session["created_at"].replace(tzinfo=UTC))
                for session in sessions.values()
            ):
                moment -= timedelta(milliseconds=1)  # no created_at twice
            group_id = data.draw(st.sampled_from(sorted(WORDS_OF_GROUP)), label="group")
            session_id, self.next_flask_id = self.next_flask_id, self.next_flask_id + 1
            sessions[session_id] = {
                "group_id": group_id,
                "study_activity_id": ACTIVITY_ID,
                "created_at": moment.replace(tzinfo=None),
            }
            for _ in range(data.draw(st.integers(min_value=1, max_value=3), label="reviews")):
                after = timedelta(milliseconds=data.draw(st.integers(min_value=0, max_value=600_000), label="after"))
                reviews.append(
                    {
                        "id": self.next_review_id,
                        "word_id": data.draw(st.sampled_from(WORDS_OF_GROUP[group_id]), label="word"),
                        "session_id": session_id,
                        "correct": data.draw(st.booleans(), label="correct"),
                        "created_at": min(moment + after, now).replace(tzinfo=None),
                    }
                )
                self.next_review_id += 1
        import_database(repository=self.repository, data=flask_file(sessions, reviews))
        for session_id, session in sessions.items():
            self.remember(
                session_id,
                group_id=session["group_id"],
                created_at=format_timestamp(session["created_at"].replace(tzinfo=UTC)),
            )

    @precondition(lambda self: self.writes >= WRITES_BETWEEN_READS)
    @rule(pause=st.none() | pauses)
    def read_every_page(self, pause: timedelta | None) -> None:
        """Every page, read at once or some time after the last write (the dashboard's today moves on)."""
        if pause is not None:
            self.clock.advance(pause)
        items = self.items()
        assert sorted(int(item["id"]) for item in oracle.of_type(items, "session")) == sorted(self.sessions)
        assert_every_word_counts_its_reviews(items)
        assert_every_answer_matches_the_oracle(self.place.api, items, today=self.clock.now().date())
        assert_the_lists_count_every_session(self.place.api, ACTIVITY_IDS, sessions=len(self.sessions))
        self.writes = 0

    def teardown(self) -> None:
        """The final check of every example (an invariant after every step would cost two whole-list reads a step
        on today's code): the lists count every session the table should hold."""
        assert_the_lists_count_every_session(self.place.api, ACTIVITY_IDS, sessions=len(self.sessions))


def test_every_session_page_and_the_dashboard_answer_what_the_whole_history_gives_after_any_history(
    backend, seeded, dynamodb, table, clocked_api, app_clock
):
    place = Place(dynamodb=dynamodb, table=table, api=clocked_api, clock=app_clock)
    run_state_machine_as_test(lambda: SessionHistory(place), settings=MACHINE_SETTINGS)


# --- concurrent writers ---------------------------------------------------------------------------------------

THREADS = 4
CREATES_PER_THREAD = 6
# The errors a write answers 409 or 503 for, having written nothing: a create or a review other writers got in the
# way of (CreateConflictError comes with the paged lists, hence looked up by name).
REFUSED = tuple(
    getattr(errors, name)
    for name in ("TransactionConflictError", "CreateConflictError", "DatabaseBusyError")
    if hasattr(errors, name)
)


# moto's in-memory backend is not thread-safe (a transaction copies a table another thread is changing), so, as the
# suite's other concurrency tests, this one runs where concurrent requests are real: ministack.
@pytest.mark.parametrize("backend", ["ministack"], indirect=True)
def test_pages_match_the_oracle_after_concurrent_creates_and_reviews(backend, seeded, dynamodb, table, monkeypatch):
    """4 threads, each with its own repository and client, create sessions and log reviews at once; then every
    page equals the oracle's and the lists count exactly the creates that answered."""
    clock = UniqueRealClock()
    repositories = [
        StudyRepository(client=new_session().client("dynamodb"), table_name=table, now=clock.now)
        for _ in range(THREADS)
    ]
    start = threading.Barrier(THREADS)
    created: list[list[int]] = [[] for _ in range(THREADS)]
    failed: list[BaseException] = []

    def write(index: int) -> None:
        chance, repository = random.Random(index), repositories[index]
        try:
            start.wait()
            for _ in range(CREATES_PER_THREAD):
                group_id = chance.choice(sorted(WORDS_OF_GROUP))
                try:
                    session = repository.create_session(group_id=group_id, study_activity_id=ACTIVITY_ID)
                except REFUSED:
                    continue
                created[index].append(session["id"])
                words = WORDS_OF_GROUP[group_id]
                reviews = [(chance.choice(words), chance.random() < 0.7) for _ in range(chance.randint(1, 3))]
                with contextlib.suppress(REFUSED):  # a review another thread's got in the way of: nothing written
                    repository.log_reviews(session_id=session["id"], reviews=reviews)
        except BaseException as exc:  # re-raised by the test's own thread
            failed.append(exc)

    threads = [threading.Thread(target=write, args=(index,)) for index in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failed:
        raise failed[0]
    answered = {session_id for ids in created for session_id in ids}
    assert len(answered) == sum(len(ids) for ids in created) > 0
    items = scan_items(dynamodb, table)
    assert sorted(int(item["id"]) for item in oracle.of_type(items, "session")) == sorted(answered)
    # The app reads at one fixed moment, so its "today" is the oracle's whatever the hour.
    moment = datetime.now(UTC)
    monkeypatch.setattr(runtime, "StudyRepository", functools.partial(StudyRepository, now=lambda: moment))
    runtime.reset_repository()
    try:
        with Client(app_module.app, stage_name=STAGE, project_dir=str(ROOT)) as client:
            http = ConformingClient(client.http)
            assert_the_lists_count_every_session(http, oracle.ids_of(items, "study_activity"), sessions=len(answered))
            assert_every_answer_matches_the_oracle(http, items, today=moment.date())
    finally:
        runtime.reset_repository()
