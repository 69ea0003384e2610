"""`make import`: the Flask portal's words.db and its seed files into the table. The files are built here with the
original schema (scripts/flask_sample.py); most tests run on moto, the key ones on ministack too."""

import json
import math
import os
import sqlite3
import subprocess
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib.store import StudyRepository
from chalicelib.store.items import (
    activity_item,
    group_item,
    member_item,
    review_item,
    session_item,
    word_item,
)
from scripts.flask_import import (
    ImportInterruptedError,
    InvalidSourceError,
    SessionConflictError,
    VerificationError,
    import_database,
    import_words,
    read_flask_database,
    read_seed_words,
    time_zone,
)
from scripts.flask_sample import TYPING_TUTOR, sample_rows, write_database
from scripts.import_data import main
from scripts.local_stack import LOCAL_TABLE, ROOT, dynamodb_client, endpoint_url
from scripts.seed_data import GROUPS, STUDY_ACTIVITIES
from tests.support.dynamodb import fake_response, http_error, scan_items

MOTO = pytest.mark.parametrize("backend", ["moto"], indirect=True)
STACK = "study-portal-dev"


def _parts(*pieces: tuple[str, list[str]]) -> str:
    return json.dumps([{"kanji": kanji, "romaji": romaji} for kanji, romaji in pieces], ensure_ascii=False)


def small_rows() -> dict[str, list[tuple[Any, ...]]]:
    """A hand-made history: word 3 is in both groups and reviewed in two sessions, session 3 has no reviews, and
    times come with and without microseconds, as Flask wrote them."""
    return {
        "words": [
            (1, "食べる", "taberu", "to eat", _parts(("食", ["ta"]), ("べ", ["be"]), ("る", ["ru"]))),
            (2, "飲む", "nomu", "to drink", _parts(("飲", ["no"]), ("む", ["mu"]))),
            (3, "行く", "iku", "to go", _parts(("行", ["i"]), ("く", ["ku"]))),
            (101, "大きい", "ookii", "big", _parts(("大", ["o", "o"]), ("き", ["ki"]), ("い", ["i"]))),
        ],
        "groups": [(1, "Core Verbs", 3), (2, "Core Adjectives", 2)],
        "word_groups": [(1, 1), (2, 1), (3, 1), (3, 2), (101, 2)],
        "study_activities": [TYPING_TUTOR],
        "study_sessions": [
            (1, 1, 1, "2025-02-10 09:00:00.123456"),
            (2, 2, 1, "2025-02-11 18:30:00"),
            (3, 1, 1, "2025-02-12 07:15:00.5"),
        ],
        "word_review_items": [
            (1, 1, 1, 1, "2025-02-10 09:00:05"),
            (2, 3, 1, 0, "2025-02-10 09:00:09.654321"),
            (3, 3, 1, 1, "2025-02-10 09:01:00"),
            (4, 3, 2, 1, "2025-02-11 18:30:10"),
            (5, 101, 2, 0, "2025-02-11 18:31:00.25"),
        ],
        "word_reviews": [
            (1, 1, 1, 0, "2025-02-10 09:00:05"),
            (2, 3, 2, 1, "2025-02-11 18:30:10"),
            (3, 101, 0, 1, "2025-02-11 18:31:00.25"),
        ],
    }


def word(word_id: int) -> dict[str, Any]:
    """A word of small_rows() as the table's builders take it."""
    row = next(row for row in small_rows()["words"] if row[0] == word_id)
    return {"id": word_id, "kanji": row[1], "romaji": row[2], "english": row[3], "parts": json.loads(row[4])}


def numbered(ordinal: int, group_id: int, group_ordinal: int, activity_ordinal: int, **before: str) -> dict[str, Any]:
    """A session's numbering: its ordinal in all sessions, its group's and activity 1's, and the heads before it."""
    return {
        "GSI2PK": "SESSIONS#0",
        "GSI2SK": f"{ordinal:012d}",
        "ordinal": ordinal,
        "GSI1PK": f"GROUP#{group_id}#0",
        "GSI1SK": f"{group_ordinal:012d}",
        "group_ordinal": group_ordinal,
        "GSI3PK": "ACTIVITY#1#0",
        "GSI3SK": f"{activity_ordinal:012d}",
        "activity_ordinal": activity_ordinal,
        **before,
    }


def head(name: str, count: int, **fields: str) -> dict[str, Any]:
    return {"PK": "COUNTERS", "SK": name, "item_type": "list_head", "count": count, **fields}


SMALL_HEADS = [
    head("ALL", 3, last_day="2025-02-12", run_start="2025-02-10", newest="2025-02-12T07:15:00.500+00:00"),
    head("GROUP#1", 2, last_day="2025-02-12"),
    head("GROUP#2", 1, last_day="2025-02-11"),
    head("ACTIVITY#1", 3),
]


def expected_small_items() -> list[dict[str, Any]]:
    """Every item small_rows() stands for, its times read as UTC: sessions numbered by start time, and the lists'
    heads."""

    def review(review_id: int, session_id: int, created_at: str, word_id: int, correct: bool) -> dict[str, Any]:
        return review_item(
            session_id=session_id,
            created_at=created_at,
            reviews=[(word_id, correct)],
            suffix=f"imported-{review_id:016d}",
        )

    items = [
        group_item(group_id=1, name="Core Verbs", words_count=3),
        group_item(group_id=2, name="Core Adjectives", words_count=2),
        *[member_item(group_id=1, word=word(word_id)) for word_id in (1, 2, 3)],
        *[member_item(group_id=2, word=word(word_id)) for word_id in (3, 101)],
        word_item(word=word(1), group_ids={1}, correct_count=1),
        word_item(word=word(2), group_ids={1}),
        word_item(word=word(3), group_ids={1, 2}, correct_count=2, wrong_count=1),
        word_item(word=word(101), group_ids={2}, wrong_count=1),
        activity_item(
            study_activity_id=1,
            name="Typing Tutor",
            url="http://localhost:8080",
            preview_url="/assets/study_activities/typing-tutor.png",
        ),
        session_item(
            session_id=1,
            group_id=1,
            group_name="Core Verbs",
            study_activity_id=1,
            activity_name="Typing Tutor",
            created_at="2025-02-10T09:00:00.123+00:00",
            end_time="2025-02-10T09:01:00.000+00:00",
            word_counts={1: (1, 0), 3: (1, 1)},
            numbering=numbered(1, 1, 1, 1),
        ),
        session_item(
            session_id=2,
            group_id=2,
            group_name="Core Adjectives",
            study_activity_id=1,
            activity_name="Typing Tutor",
            created_at="2025-02-11T18:30:00.000+00:00",
            end_time="2025-02-11T18:31:00.250+00:00",
            word_counts={3: (1, 0), 101: (0, 1)},
            numbering=numbered(
                2,
                2,
                1,
                2,
                prev_day="2025-02-10",
                prev_run_start="2025-02-10",
                prev_newest="2025-02-10T09:00:00.123+00:00",
            ),
        ),
        session_item(
            session_id=3,
            group_id=1,
            group_name="Core Verbs",
            study_activity_id=1,
            activity_name="Typing Tutor",
            created_at="2025-02-12T07:15:00.500+00:00",
            numbering=numbered(
                3,
                1,
                2,
                3,
                prev_day="2025-02-11",
                prev_run_start="2025-02-10",
                prev_newest="2025-02-11T18:30:00.000+00:00",
                prev_group_day="2025-02-10",
            ),
        ),
        review(1, 1, "2025-02-10T09:00:05.000+00:00", 1, True),
        review(2, 1, "2025-02-10T09:00:09.654+00:00", 3, False),
        review(3, 1, "2025-02-10T09:01:00.000+00:00", 3, True),
        review(4, 2, "2025-02-11T18:30:10.000+00:00", 3, True),
        review(5, 2, "2025-02-11T18:31:00.250+00:00", 101, False),
        *SMALL_HEADS,
    ]
    return sorted(items, key=lambda item: (item["PK"], item["SK"]))


@pytest.fixture
def small_db(tmp_path: Path) -> Path:
    path = tmp_path / "words.db"
    write_database(path=path, rows=small_rows())
    return path


def build(tmp_path: Path, rows: dict[str, list[tuple[Any, ...]]], *, not_null: bool = True) -> Path:
    path = tmp_path / "words.db"
    write_database(path=path, rows=rows, not_null=not_null)
    return path


@pytest.fixture
def stack(botocore_events: Any, table: str) -> str:
    """A deployed stack whose output TableName is the test's table: DescribeStacks answered at the botocore layer,
    and the CLI's DynamoDB client is the backend's."""

    def describe(params: dict[str, Any], **_: Any) -> Any:
        assert params["body"]["StackName"] == STACK  # the query protocol's form fields
        return fake_response(
            {
                "Stacks": [
                    {
                        "StackName": STACK,
                        "StackStatus": "CREATE_COMPLETE",
                        "Outputs": [
                            {"OutputKey": "EndpointURL", "OutputValue": "https://example.invalid/api/"},
                            {"OutputKey": "TableName", "OutputValue": table},
                        ],
                    }
                ]
            }
        )

    botocore_events.register("before-call.cloudformation.DescribeStacks", describe)
    return STACK


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str], list[str]]:
    """scripts.import_data's main as `make import` runs it: its exit code, stdout lines and stderr lines."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out.splitlines(), err.splitlines()


# --- the round trip -------------------------------------------------------------------------------------------


def test_import_stores_every_group_word_activity_session_and_review_of_the_file(repository, dynamodb, table, small_db):
    summary = import_database(repository=repository, data=read_flask_database(path=small_db))
    assert scan_items(dynamodb, table) == expected_small_items()
    assert (summary.groups, summary.words, summary.activities, summary.sessions, summary.reviews) == (2, 4, 1, 3, 5)
    assert (summary.written, summary.unchanged, summary.deleted, summary.warnings) == (24, 0, 0, [])  # 4 heads


def test_import_twice_writes_nothing_the_second_time_and_leaves_the_table_identical(
    repository, dynamodb, table, small_db
):
    import_database(repository=repository, data=read_flask_database(path=small_db))
    first = scan_items(dynamodb, table)
    again = import_database(repository=repository, data=read_flask_database(path=small_db))
    assert (again.written, again.unchanged, again.deleted) == (0, 20, 0)
    assert scan_items(dynamodb, table) == first


@MOTO
def test_the_repository_reads_the_imported_sessions_and_words_as_the_service_logged_them(backend, repository, small_db):
    import_database(repository=repository, data=read_flask_database(path=small_db))
    session, words = repository.get_session_words(session_id=1)
    assert (session["review_items_count"], session["correct_count"], session["wrong_count"]) == (3, 2, 1)
    assert [(word["id"], word["correct_count"], word["wrong_count"]) for word in words] == [(3, 1, 1), (1, 1, 0)]
    assert [session["id"] for session in repository.list_sessions(page=1, per_page=10)[0]] == [3, 2, 1]
    group, members = repository.get_group_words(group_id=2)
    assert group["words_count"] == 2 and [member["id"] for member in members] == [3, 101]


@MOTO
def test_the_files_times_are_taken_as_utc_unless_a_zone_is_given(backend, repository, dynamodb, table, small_db):
    import_database(
        repository=repository, data=read_flask_database(path=small_db), zone=time_zone(name="Europe/Berlin")
    )
    sessions = {
        item["id"]: item
        for item in scan_items(dynamodb, table)
        if item["SK"] == "META" and item["PK"].startswith("SESSION#")
    }
    # February in Berlin is UTC+1: every time moves an hour back, microseconds cut to milliseconds.
    assert (sessions[1]["created_at"], sessions[1]["end_time"]) == (
        "2025-02-10T08:00:00.123+00:00",
        "2025-02-10T08:01:00.000+00:00",
    )
    assert [sessions[session_id]["ordinal"] for session_id in (1, 2, 3)] == [1, 2, 3]
    reviews = [
        item["SK"]
        for item in scan_items(dynamodb, table)
        if item["PK"] == "SESSION#2" and item["SK"].startswith("REVIEW#")
    ]
    assert reviews == [
        "REVIEW#2025-02-11T17:30:10.000+00:00#imported-0000000000000004",
        "REVIEW#2025-02-11T17:31:00.250+00:00#imported-0000000000000005",
    ]


@MOTO
def test_a_session_ends_at_its_latest_review_but_never_before_it_started(
    backend, repository, dynamodb, table, tmp_path
):
    rows = small_rows()
    # Flask stamped sessions with the server's local time and reviews in UTC: a review may look older than its session.
    rows["study_sessions"][1] = (2, 2, 1, "2025-02-11 19:30:00.000001")
    import_database(repository=repository, data=read_flask_database(path=build(tmp_path, rows)))
    [session] = [item for item in scan_items(dynamodb, table) if (item["PK"], item["SK"]) == ("SESSION#2", "META")]
    assert session["end_time"] == session["created_at"] == "2025-02-11T19:30:00.000+00:00"


@MOTO
def test_counts_come_from_the_reviews_and_disagreeing_caches_are_warned_about(
    backend, repository, dynamodb, table, tmp_path
):
    rows = small_rows()
    rows["groups"][0] = (1, "Core Verbs", 7)  # a stale counter cache
    rows["word_reviews"].append((4, 2, 5, 5, "2025-01-01 00:00:00"))  # left behind by Flask's reset
    rows["words"].append((4, "来る", "kuru", "to come", None))
    rows["words"].append((5, "見る", "miru", "to see", ""))
    rows["word_groups"] += [(4, 1), (4, 1), (3, 9)]  # a pair twice, a group the file lacks
    rows["study_sessions"].append((4, 9, 1, "2025-02-13 10:00:00"))  # a group the file lacks
    rows["word_review_items"] += [(6, 1, 4, 1, "2025-02-13 10:00:01"), (7, 999, 1, 1, "2025-02-10 09:02:00")]
    path = build(tmp_path, rows, not_null=False)
    summary = import_database(repository=repository, data=read_flask_database(path=path))
    items = {(item["PK"], item["SK"]): item for item in scan_items(dynamodb, table)}
    assert items[("GROUP#1", "META")]["words_count"] == 4  # words 1, 2, 3 and 4
    assert (items[("WORD#2", "META")]["correct_count"], items[("WORD#2", "META")]["wrong_count"]) == (0, 0)
    assert items[("WORD#4", "META")]["parts"] == [] and items[("WORD#5", "META")]["parts"] == []
    assert ("SESSION#4", "META") not in items and items[("SESSION#1", "META")]["review_items_count"] == 3
    assert summary.warnings == [
        "2 words without parts (NULL or ''): stored with parts []",
        "word_groups repeats 1 row (a word listed in a group again): each word imported once",
        "skipped 1 word_groups row naming a word or group the file does not hold",
        "groups.words_count differs from the group's words for 1 group (ids 1): imported the number of its words",
        "skipped 1 session whose group or activity the file does not hold (ids 4)",
        "skipped 2 reviews whose session or word is not imported",
        "word_reviews disagrees with word_review_items for 1 word (ids 2): imported the counts of the reviews "
        "themselves",
    ]


# --- files that cannot be imported ----------------------------------------------------------------------------

# Each case: a row replaced (table, index, row) or a statement run on the file, and what the one line says.
BAD_FILES: dict[str, tuple[tuple[str, int, tuple[Any, ...]] | None, str | None, str]] = {
    "missing table": (None, "DROP TABLE word_reviews", "no table word_reviews"),
    # as some forks of the Flask app named it
    "missing column": (
        None,
        "ALTER TABLE study_sessions RENAME COLUMN study_activity_id TO activity_id",
        "table study_sessions has no column study_activity_id",
    ),
    "parts not JSON": (
        ("words", 1, (2, "飲む", "nomu", "to drink", "[{kanji")),
        None,
        "words row id=2: parts is not JSON",
    ),
    "parts of the wrong shape": (
        ("words", 1, (2, "飲む", "nomu", "to drink", '[{"kanji": "飲", "romaji": "no"}]')),
        None,
        "words row id=2: each part must be",
    ),
    "id 0": (
        ("groups", 1, (0, "Core Adjectives", 2)),
        None,
        "groups row id=0: id must be an integer from 1 to 9007199254740991",
    ),
    "id past 2^53": (
        ("study_sessions", 2, (2**53, 1, 1, "2025-02-12 07:15:00")),
        None,
        "study_sessions row id=9007199254740992: id must be an integer",
    ),
    "a time that does not parse": (
        ("word_review_items", 3, (4, 3, 2, 1, "11/02/2025 18:30")),
        None,
        "word_review_items row id=4: created_at must be a time",
    ),
    "no such day": (
        ("study_sessions", 0, (1, 1, 1, "2025-02-30 09:00:00")),
        None,
        "study_sessions row id=1: created_at '2025-02-30 09:00:00' is no valid time",
    ),
    "correct neither 0 nor 1": (
        ("word_review_items", 0, (1, 1, 1, "true", "2025-02-10 09:00:05")),
        None,
        "word_review_items row id=1: correct must be 0 or 1, not 'true'",
    ),
    "kanji NULL": (
        ("words", 0, (1, None, "taberu", "to eat", "[]")),
        None,
        "words row id=1: kanji must be text, not None",
    ),
    "an id twice": (
        None,
        "INSERT INTO study_sessions VALUES (2, 1, 1, '2025-02-12 07:15:00')",
        "study_sessions holds id 2 twice",
    ),
}


def _write_bad_file(tmp_path: Path, case: str) -> Path:
    replaced, statement, _ = BAD_FILES[case]
    rows = small_rows()
    if replaced is not None:
        table, index, row = replaced
        rows[table][index] = row
    path = build(tmp_path, rows, not_null=False)  # NOT NULL would refuse some of the rows
    with closing(sqlite3.connect(path)) as connection:
        if statement is not None:
            if case == "an id twice":  # a schema without its PRIMARY KEY
                connection.execute("CREATE TABLE copy AS SELECT * FROM study_sessions")
                connection.execute("DROP TABLE study_sessions")
                connection.execute("ALTER TABLE copy RENAME TO study_sessions")
            connection.execute(statement)
            connection.commit()
    return path


@MOTO
@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_a_file_with_a_value_the_service_cannot_store_is_one_line_exit_1_before_any_dynamodb_request(
    backend, table, stack, dynamodb_calls, capsys, tmp_path, case
):
    code, out, err = run_cli(capsys, "--db", str(_write_bad_file(tmp_path, case)), "--stack", stack)
    assert code == 1 and out == []
    assert len(err) == 1 and err[0].startswith("make import: words.db: ") and BAD_FILES[case][2] in err[0], err
    assert dynamodb_calls == []  # the whole file is checked first: nothing read, nothing written


@MOTO
@pytest.mark.parametrize(
    "content, message",
    [
        (b"SQLite format 2\x00 not really", "not a SQLite database of the Flask portal"),
        ("Kanji,Romaji\n食べる,taberu\n".encode(), "not a SQLite database of the Flask portal"),
        (None, "no such file"),
    ],
)
def test_a_file_that_is_no_such_database_is_one_line_exit_1_and_nothing_written(
    backend, seeded, dynamodb, table, stack, dynamodb_calls, capsys, tmp_path, content, message
):
    path = tmp_path / "words.db"
    if content is not None:
        path.write_bytes(content)
    before = scan_items(dynamodb, table)
    code, out, err = run_cli(capsys, "--db", str(path), "--stack", stack)
    assert (code, out, len(err)) == (1, [], 1) and message in err[0] and str(path) in err[0]
    assert dynamodb_calls == [] and scan_items(dynamodb, table) == before


def test_an_empty_sqlite_file_names_every_missing_table(tmp_path):
    path = tmp_path / "empty.db"
    sqlite3.connect(path).close()
    with pytest.raises(
        InvalidSourceError,
        match="no table words, groups, word_groups, study_activities, study_sessions, word_review_items, word_reviews",
    ):
        read_flask_database(path=path)


def test_the_file_is_opened_read_only(small_db):
    small_db.chmod(0o444)
    before = small_db.read_bytes()
    read_flask_database(path=small_db)
    assert small_db.read_bytes() == before and sorted(path.name for path in small_db.parent.iterdir()) == ["words.db"]


@MOTO
def test_an_import_into_a_table_in_use_keeps_its_sessions_and_what_they_refer_to_and_adds_the_files(
    backend, seeded, dynamodb, table, small_db
):
    # Studied on the serverless portal first: group 1 (word 1 is in the file too) and group 3 (not in the file).
    for group_id, word_id in ((3, 900), (4, 901)):
        seeded.put_group(
            group_id=group_id,
            name=f"Group {group_id}",
            words=[{"id": word_id, "kanji": "字", "romaji": "ji", "english": "letter", "parts": []}],
        )
    between = StudyRepository(client=dynamodb, table_name=table, now=lambda: datetime(2025, 2, 11, tzinfo=UTC))
    other = between.create_session(group_id=3, study_activity_id=1)
    late = StudyRepository(client=dynamodb, table_name=table, now=lambda: datetime(2026, 3, 1, 12, tzinfo=UTC))
    kept = late.create_session(group_id=1, study_activity_id=1)
    late.log_reviews(session_id=kept["id"], reviews=[(1, True), (1, False)])
    summary = import_database(repository=seeded, data=read_flask_database(path=small_db))
    assert (summary.sessions, summary.sessions_kept) == (3, 2)
    items = {(item["PK"], item["SK"]): item for item in scan_items(dynamodb, table)}
    listed = sorted((item["ordinal"], item["id"]) for item in items.values() if item.get("item_type") == "session")
    # Numbered by start time, the kept sessions among the file's: 10 Feb, 11 Feb 00:00 (kept), 11 Feb 18:30, ...
    assert listed == [(1, 1), (2, other["id"]), (3, 2), (4, 3), (5, kept["id"])]
    assert items[("SESSION#" + str(kept["id"]), "META")]["review_items_count"] == 2
    assert items[("COUNTERS", "ALL")]["count"] == 5 and items[("COUNTERS", "GROUP#1")]["count"] == 3
    # Word 1: the file's one correct review and the kept session's two.
    assert (items[("WORD#1", "META")]["correct_count"], items[("WORD#1", "META")]["wrong_count"]) == (2, 1)
    # Group 3, which a kept session is in, stays with its word; group 4 (no session) goes, and its word.
    assert {("GROUP#3", "META"), ("GROUP#3", "WORD#0000000900"), ("WORD#900", "META")} <= set(items)
    assert not {("GROUP#4", "META"), ("WORD#901", "META")} & set(items)
    again = import_database(repository=seeded, data=read_flask_database(path=small_db))
    assert again.written == 0 and {(item["PK"], item["SK"]): item for item in scan_items(dynamodb, table)} == items


@MOTO
def test_a_file_session_naming_another_session_in_the_table_is_refused_before_any_write(
    backend, seeded, dynamodb, table, stack, capsys, small_db
):
    clash = StudyRepository(
        client=dynamodb, table_name=table, new_id=lambda: 2, now=lambda: datetime(2026, 3, 1, 12, tzinfo=UTC)
    ).create_session(group_id=1, study_activity_id=1)
    before = scan_items(dynamodb, table)
    code, out, err = run_cli(capsys, "--db", str(small_db), "--stack", stack)
    assert (code, out) == (1, [])
    assert err[-1] == (
        "make import: 1 study session of the file (ids 2) name other sessions in the table: session 2 is group 1, "
        f"activity 1, started {clash['created_at']} in the table and group 2, activity 1, started "
        "2025-02-11T18:30:00.000+00:00 in the file; nothing was written"
    )
    assert scan_items(dynamodb, table) == before
    with pytest.raises(SessionConflictError):
        import_database(repository=seeded, data=read_flask_database(path=small_db))


@MOTO
def test_an_unknown_time_zone_is_one_line_exit_1(backend, table, stack, capsys, small_db):
    code, out, err = run_cli(capsys, "--db", str(small_db), "--stack", stack, "--timezone", "Mars/Olympus_Mons")
    assert (code, out) == (1, [])
    assert err == [
        "make import: unknown time zone 'Mars/Olympus_Mons': give an IANA name such as Europe/Berlin, or UTC"
    ]


# --- the table's other data -----------------------------------------------------------------------------------


@MOTO
def test_the_catalog_becomes_the_files_and_its_activity_keeps_the_description_of_the_same_name(
    backend, seeded, dynamodb, table, small_db
):
    # As after `make dev` then `make import`: the seed's groups 1 and 2 (words 1-6, 101-105), activity 1 with a
    # description, and a group the file lacks holding one of the file's words.
    seeded.put_group(group_id=7, name="Favourites", words=[GROUPS[0]["words"][0]])
    seeded.put_study_activity(study_activity_id=9, name="Flashcards", url="http://localhost:8081", preview_url="")
    summary = import_database(repository=seeded, data=read_flask_database(path=small_db))
    described = [
        {**item, "description": STUDY_ACTIVITIES[0]["description"]} if item["PK"] == "ACTIVITY#1" else item
        for item in expected_small_items()
    ]
    assert scan_items(dynamodb, table) == described
    # gone: the seed's 7 other words, 7 members of groups 1 and 2 the file lacks, group 7 with its member, activity 9
    assert summary.deleted == 7 + 7 + 2 + 1
    again = import_database(repository=seeded, data=read_flask_database(path=small_db))
    assert (again.written, again.deleted) == (0, 0) and scan_items(dynamodb, table) == described


@MOTO
def test_an_activity_renamed_in_the_file_loses_the_old_description(backend, seeded, dynamodb, table, tmp_path):
    rows = small_rows()
    rows["study_activities"] = [(1, "Typing Drills", *rows["study_activities"][0][2:])]
    import_database(repository=seeded, data=read_flask_database(path=build(tmp_path, rows)))
    [activity] = [item for item in scan_items(dynamodb, table) if item["PK"] == "ACTIVITY#1"]
    assert (activity["name"], activity["description"]) == ("Typing Drills", "")


@MOTO
def test_reviews_logged_after_an_import_into_one_of_its_sessions_are_replaced_by_the_files(
    backend, repository, dynamodb, table, small_db
):
    import_database(repository=repository, data=read_flask_database(path=small_db))
    repository.log_reviews(session_id=3, reviews=[(1, True), (2, False)])
    summary = import_database(repository=repository, data=read_flask_database(path=small_db))
    assert (summary.written, summary.deleted) == (3, 1)  # session 3 and words 1 and 2; the logged review
    assert scan_items(dynamodb, table) == expected_small_items()


# --- DynamoDB's answers ---------------------------------------------------------------------------------------


@MOTO
def test_an_import_broken_off_while_replacing_a_sessions_reviews_is_finished_by_the_next(
    backend, repository, dynamodb, table, botocore_events, small_db
):
    import_database(repository=repository, data=read_flask_database(path=small_db))
    repository.log_reviews(session_id=3, reviews=[(1, True), (2, False)])  # into an imported session
    sends: list[int] = []

    def fail_the_second(request: Any, **_: Any) -> Any:
        sends.append(1)
        if len(sends) == 2:  # one batch went through, the next did not
            request.url = "https://fault-injected.invalid/"  # (moto's own handler ignores unknown URLs)
            return http_error("ValidationException")
        return None

    botocore_events.register_first("before-send.dynamodb.BatchWriteItem", fail_the_second)
    broken = StudyRepository(client=boto3.client("dynamodb"), table_name=table)  # the events' session
    with pytest.raises(ImportInterruptedError, match="after 1 of 4 writes"):
        import_database(repository=broken, data=read_flask_database(path=small_db))
    # Had the session been rewritten first, it would now match the file and its stale review go unnoticed.
    finished = import_database(repository=broken, data=read_flask_database(path=small_db))
    assert (finished.written, finished.deleted) == (3, 0)  # session 3, words 1 and 2
    assert scan_items(dynamodb, table) == expected_small_items()


@MOTO
def test_items_dynamodb_leaves_unprocessed_are_sent_again(backend, table, dynamodb, botocore_events, small_db):
    sent: list[int] = []

    def leave_unprocessed(params: dict[str, Any], **_: Any) -> Any:
        request_items = json.loads(params["body"])["RequestItems"]  # the request as sent, already serialised
        sent.append(len(request_items[table]))
        if len(sent) <= 3:  # DynamoDB took none of the first batch, three times over
            return fake_response({"UnprocessedItems": request_items})
        return None

    botocore_events.register("before-call.dynamodb.BatchWriteItem", leave_unprocessed)
    repository = StudyRepository(client=boto3.client("dynamodb"), table_name=table)  # the events' session
    import_database(repository=repository, data=read_flask_database(path=small_db))
    assert sent == [15, 15, 15, 15, 5, 4]  # sessions and the rest, then the reviews, then the lists' heads
    assert scan_items(dynamodb, table) == expected_small_items()


@MOTO
def test_an_item_that_reads_back_otherwise_fails_the_verification(backend, table, botocore_events, small_db):
    reads: list[int] = []

    def lose_one(parsed: dict[str, Any], **_: Any) -> None:
        reads.append(1)
        if len(reads) == 2:  # the read after writing
            parsed["Responses"][table].pop()

    botocore_events.register("after-call.dynamodb.BatchGetItem", lose_one)
    repository = StudyRepository(client=boto3.client("dynamodb"), table_name=table)
    with pytest.raises(VerificationError, match="1 item read back differ from what was written"):
        import_database(repository=repository, data=read_flask_database(path=small_db))


@MOTO
def test_an_import_dynamodb_breaks_off_says_so_in_one_line_and_running_it_again_finishes_it(
    backend, table, dynamodb, botocore_events, stack, capsys, small_db
):
    sends: list[str] = []

    def refuse_the_reviews(request: Any, **_: Any) -> Any:
        sends.append("BatchWriteItem")
        if len(sends) == 2:  # the groups, words, activity and sessions went through; then the reviews' batch
            request.url = "https://fault-injected.invalid/"  # (moto's own handler ignores unknown URLs)
            return http_error("ValidationException")
        return None

    botocore_events.register_first("before-send.dynamodb.BatchWriteItem", refuse_the_reviews)
    code, out, err = run_cli(capsys, "--db", str(small_db), "--stack", stack)
    assert (code, out) == (1, [])
    assert err[-1].startswith("make import: DynamoDB failed after 15 of 20 writes (") and err[-1].endswith(
        "): run the same command again to finish (it writes only what is still missing)"
    )
    assert not [item for item in scan_items(dynamodb, table) if item["SK"].startswith("REVIEW#")]
    code, out, err = run_cli(capsys, "--db", str(small_db), "--stack", stack)
    assert code == 0 and "(9 items written, 15 unchanged)" in out[0]  # the reviews, and the lists' 4 heads
    assert scan_items(dynamodb, table) == expected_small_items()


@pytest.mark.parametrize("backend", ["ministack"], indirect=True)
def test_a_large_file_shows_progress_and_its_counts_verify(backend, repository, tmp_path):
    path = build(tmp_path, sample_rows(words=120, reviews=800, sessions=80))
    lines: list[str] = []
    summary = import_database(repository=repository, data=read_flask_database(path=path), report=lines.append)
    writing = [line for line in lines if line.startswith("writing: ")]
    assert summary.written > 1000 and len(writing) == 10 and writing[-1].endswith("(100%)")
    assert (summary.sessions, summary.reviews, summary.warnings) == (80, 800, [])


# --- the command ----------------------------------------------------------------------------------------------


def test_the_command_imports_into_the_local_table_on_the_running_ministack_and_a_rerun_writes_nothing(
    ministack_port, monkeypatch, capsys, small_db
):
    monkeypatch.setenv("DYNAMODB_PORT", str(ministack_port))
    client = dynamodb_client(endpoint_url(ministack_port))
    try:
        code, out, err = run_cli(capsys, "--db", str(small_db))
        assert code == 0, err
        assert err == [
            "importing words.db into the local table study-portal-local; the file's times are taken as "
            "UTC (TIMEZONE= / --timezone to change)"
        ]
        [line] = out
        assert line.startswith(
            "imported from words.db: 2 groups, 4 words, 1 activity, 3 sessions, 5 reviews "
            "(24 items written, 0 unchanged) in "
        ) and line.endswith(" s; verified")
        code, out, err = run_cli(capsys, "--db", str(small_db), "--timezone", "UTC")
        assert code == 0 and out[0].startswith(
            "imported from words.db: 2 groups, 4 words, 1 activity, 3 sessions, "
            "5 reviews (0 items written, 20 unchanged) in "
        )
        assert out[0].endswith("; verified; the table already held all of it")
        stored = {item["PK"]["S"] for item in client.scan(TableName=LOCAL_TABLE)["Items"]}
        assert {"GROUP#1", "GROUP#2", "WORD#101", "SESSION#3", "ACTIVITY#1"} <= stored
    finally:
        client.delete_table(TableName=LOCAL_TABLE)


def make(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "--no-print-directory", "-C", str(ROOT), *arguments],
        capture_output=True,
        text=True,
        timeout=30,
        env={"PATH": "/usr/bin:/bin", "HOME": str(ROOT), "TMPDIR": os.environ["TMPDIR"]},
    )


def test_make_import_without_db_or_words_prints_the_usage_and_exits_2():
    result = make("import")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.splitlines()[:2] == [
        "usage: make import DB=words.db [TIMEZONE=Europe/Berlin] [STACK=study-portal-dev]",
        '       make import WORDS=verbs.json GROUP="Core Verbs" [STACK=study-portal-dev]',
    ]


@pytest.mark.parametrize(
    "variables, arguments",
    [
        (["DB=my words.db"], "--db 'my words.db'"),
        (
            ["DB=w.db", "TIMEZONE=Europe/Berlin", "STACK=study-portal-prod"],
            "--db 'w.db' --timezone 'Europe/Berlin' --stack 'study-portal-prod'",
        ),
        (["WORDS=verbs.json", "GROUP=Core Verbs"], "--words 'verbs.json' --group 'Core Verbs'"),
    ],
)
def test_make_import_passes_its_variables_and_a_stack_only_when_given(variables, arguments):
    result = make("--dry-run", "import", *variables)
    command = " ".join(result.stdout.split("scripts.import_data")[1].replace("\\\n", " ").split())
    assert command == arguments


# --- seed files -----------------------------------------------------------------------------------------------


def seed_file(tmp_path: Path, entries: list[dict[str, Any]], name: str = "verbs.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(entries, ensure_ascii=False), encoding="utf-8")
    return path


HARAU = {
    "kanji": "払う",
    "romaji": "harau",
    "english": "to pay",
    "parts": [{"kanji": "払", "romaji": ["ha", "ra"]}, {"kanji": "う", "romaji": ["u"]}],
}


@MOTO
def test_a_seed_file_into_a_new_group_reuses_identical_words_and_a_rerun_changes_nothing(
    backend, seeded, dynamodb, table, stack, capsys, tmp_path
):
    taberu = {key: value for key, value in GROUPS[0]["words"][0].items() if key != "id"}
    path = seed_file(tmp_path, [taberu, HARAU])
    code, out, err = run_cli(capsys, "--words", str(path), "--group", "Travel", "--stack", stack)
    assert (code, err) == (0, [])
    assert out[0].startswith(
        f"loaded verbs.json into group 3 'Travel' (new) in table {table} of stack {STACK}: "
        "2 words (1 new, 1 already stored); the group has 2 words ("
    )
    items = {(item["PK"], item["SK"]): item for item in scan_items(dynamodb, table)}
    assert items[("GROUP#3", "META")]["words_count"] == 2
    assert sorted(sk for pk, sk in items if pk == "GROUP#3") == ["META", "WORD#0000000001", "WORD#0000000106"]
    assert items[("WORD#1", "META")]["group_ids"] == {1, 3} and items[("WORD#106", "META")]["romaji"] == "harau"
    before = scan_items(dynamodb, table)
    code, out, err = run_cli(capsys, "--words", str(path), "--group", "Travel", "--stack", stack)
    assert code == 0 and out == [
        f"nothing to write: group 3 'Travel' in table {table} of stack {STACK} already "
        "holds the 2 words of verbs.json; it has 2 words"
    ]
    assert scan_items(dynamodb, table) == before


@MOTO
def test_a_seed_file_into_an_existing_group_adds_to_its_words(backend, seeded, tmp_path):
    words, warnings = read_seed_words(path=seed_file(tmp_path, [HARAU, HARAU]))
    summary = import_words(repository=seeded, words=words, group_name="Core Verbs", warnings=warnings)
    assert (summary.group_id, summary.group_created, summary.new_words, summary.group_words) == (1, False, 1, 7)
    assert summary.warnings == ["1 entry repeat an earlier word's kanji, romaji and english: loaded once"]
    group, members = seeded.get_group_words(group_id=1)
    assert group["words_count"] == 7 and [member["id"] for member in members] == [1, 2, 3, 4, 5, 6, 106]


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"kanji": "払う"}', "must be a JSON array of {kanji, romaji, english, parts}"),
        ('[{"kanji": "払う", "romaji": "harau"}]', "verbs.json entry 0: english must be text, not None"),
        (
            '[{"kanji": "払う", "romaji": "harau", "english": "to pay", "parts": [{"kanji": "払"}]}]',
            "verbs.json entry 0: each part must be",
        ),
        ("[{", "not a JSON file"),
        (None, "cannot be read"),
    ],
)
def test_a_bad_seed_file_is_one_line_exit_1_before_any_dynamodb_request(
    capsys, tmp_path, dynamodb_calls, content, message
):
    path = tmp_path / "verbs.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    code, out, err = run_cli(capsys, "--words", str(path), "--group", "Core Verbs")
    assert (code, out, len(err)) == (1, [], 1) and message in err[0]
    assert dynamodb_calls == []


# --- what the portal's pages show -----------------------------------------------------------------------------


def flask_figures(path: Path) -> dict[str, Any]:
    """Every number the Flask backend's pages showed for this file: its routes' SQL, run on the file."""
    with closing(sqlite3.connect(path)) as db:

        def rows(sql: str, *args: Any) -> list[tuple[Any, ...]]:
            return db.execute(sql, args).fetchall()

        def one(sql: str, *args: Any) -> Any:
            return rows(sql, *args)[0][0]

        groups = dict(rows("SELECT id, words_count FROM groups"))
        sessions_sql = (
            "SELECT ss.id, COUNT(wri.id) FROM study_sessions ss JOIN groups g ON g.id = ss.group_id "
            "JOIN study_activities sa ON sa.id = ss.study_activity_id "
            "LEFT JOIN word_review_items wri ON wri.study_session_id = ss.id {} GROUP BY ss.id"
        )
        studied = "FROM word_review_items wri JOIN study_sessions ss ON wri.study_session_id = ss.id"
        return {
            "groups": groups,
            "group_words": {
                group_id: {
                    word_id: (correct, wrong)
                    for word_id, correct, wrong in rows(
                        "SELECT w.id, COALESCE(wr.correct_count, 0), COALESCE(wr.wrong_count, 0) FROM words w "
                        "JOIN word_groups wg ON w.id = wg.word_id LEFT JOIN word_reviews wr ON w.id = wr.word_id "
                        "WHERE wg.group_id = ?",
                        group_id,
                    )
                }
                for group_id in groups
            },
            "group_words_total": {
                group_id: one("SELECT COUNT(*) FROM word_groups WHERE group_id = ?", group_id) for group_id in groups
            },
            "group_sessions": {
                group_id: dict(rows(sessions_sql.format("WHERE ss.group_id = ?"), group_id)) for group_id in groups
            },
            "words": {
                word_id: (correct, wrong)
                for word_id, correct, wrong in rows(
                    "SELECT w.id, COALESCE(r.correct_count, 0), COALESCE(r.wrong_count, 0) FROM words w "
                    "LEFT JOIN word_reviews r ON w.id = r.word_id"
                )
            },
            "word_groups": {
                word_id: sorted(int(group) for group in ids.split(","))
                for word_id, ids in rows(
                    "SELECT wg.word_id, GROUP_CONCAT(DISTINCT g.id) FROM word_groups wg JOIN groups g "
                    "ON wg.group_id = g.id GROUP BY wg.word_id"
                )
            },
            "sessions": dict(rows(sessions_sql.format(""))),
            "activity_sessions": dict(rows(sessions_sql.format("WHERE ss.study_activity_id = 1"))),
            "session_words": {
                session_id: {
                    word_id: (correct, wrong)
                    for word_id, correct, wrong in rows(
                        "SELECT w.id, SUM(CASE WHEN wri.correct = 1 THEN 1 ELSE 0 END), "
                        "SUM(CASE WHEN wri.correct = 0 THEN 1 ELSE 0 END) FROM words w "
                        "JOIN word_review_items wri ON wri.word_id = w.id WHERE wri.study_session_id = ? GROUP BY w.id",
                        session_id,
                    )
                }
                for (session_id,) in rows("SELECT id FROM study_sessions")
            },
            "recent": rows(
                "SELECT ss.id, COUNT(CASE WHEN wri.correct = 1 THEN 1 END), "
                "COUNT(CASE WHEN wri.correct = 0 THEN 1 END) FROM study_sessions ss "
                "JOIN study_activities sa ON ss.study_activity_id = sa.id "
                "LEFT JOIN word_review_items wri ON ss.id = wri.study_session_id "
                "GROUP BY ss.id ORDER BY ss.created_at DESC LIMIT 1"
            )[0],
            "stats": {
                "total_vocabulary": one("SELECT COUNT(*) FROM words"),
                "total_words_studied": one(f"SELECT COUNT(DISTINCT word_id) {studied}"),
                "mastered_words": one(
                    f"SELECT COUNT(*) FROM (SELECT word_id {studied} GROUP BY word_id "
                    "HAVING COUNT(*) >= 5 AND SUM(correct = 1) * 1.0 / COUNT(*) >= 0.8)"
                ),
                "success_rate": one(f"SELECT SUM(correct = 1) * 1.0 / COUNT(*) {studied}") or 0,
                "total_sessions": one("SELECT COUNT(*) FROM study_sessions"),
            },
        }


def pages(api: Any, path: str, key: str) -> list[dict[str, Any]]:
    """Every item of a page-numbered list, walking page 1, 2, ... to its total_pages."""
    items, page, total_pages = [], 1, 1
    while page <= total_pages:
        answer = read(api, f"{path}{'&' if '?' in path else '?'}page={page}")
        items += answer[key]
        total_pages = answer["total_pages"]
        page += 1
    return items


def read(api: Any, path: str) -> Any:
    response = api.get(path)
    assert response.status_code == 200, (path, response.body)
    return json.loads(response.body)


@MOTO
def test_every_figure_the_pages_show_after_an_import_is_what_the_flask_sql_showed_for_the_file(
    backend, repository, api, tmp_path
):
    rows = sample_rows(words=30, reviews=200, sessions=20, groups=3, seed=7)
    rows["study_sessions"].append((21, 2, 1, "2025-01-01 12:00:00"))  # an older session without reviews
    path = build(tmp_path, rows)
    flask = flask_figures(path)
    # The file has what the test is about: words in two groups, some never reviewed, a session without reviews,
    # times with and without microseconds.
    assert sum(len(groups) > 1 for groups in flask["word_groups"].values()) == 4
    assert flask["stats"]["total_words_studied"] == 28 and flask["sessions"][21] == 0
    assert {len(row[4]) for row in rows["word_review_items"]} == {19, 26}
    import_database(repository=repository, data=read_flask_database(path=path))

    groups = pages(api, "/groups", "groups")
    assert {group["id"]: group["word_count"] for group in groups} == flask["groups"]
    for group_id, words_count in flask["groups"].items():
        assert read(api, f"/groups/{group_id}")["word_count"] == words_count
        shown = pages(api, f"/groups/{group_id}/words", "words")
        assert {word["id"]: (word["correct_count"], word["wrong_count"]) for word in shown} == flask["group_words"][
            group_id
        ]
        assert read(api, f"/groups/{group_id}/words")["total_pages"] == math.ceil(
            flask["group_words_total"][group_id] / 10
        )
        sessions = pages(api, f"/groups/{group_id}/study_sessions", "study_sessions")
        assert {session["id"]: session["review_items_count"] for session in sessions} == flask["group_sessions"][
            group_id
        ]

    words = read(api, "/words")
    assert words["total_words"] == len(flask["words"]) and words["total_pages"] == math.ceil(len(flask["words"]) / 50)
    assert {
        word["id"]: (word["correct_count"], word["wrong_count"]) for word in pages(api, "/words", "words")
    } == flask["words"]
    for word_id, counts in flask["words"].items():
        shown = read(api, f"/words/{word_id}")["word"]
        assert (shown["correct_count"], shown["wrong_count"]) == counts
        assert [group["id"] for group in shown["groups"]] == flask["word_groups"].get(word_id, [])

    listed = read(api, "/api/study-sessions?page=1&per_page=100")
    assert listed["total"] == len(flask["sessions"])
    assert {session["id"]: session["review_items_count"] for session in listed["items"]} == flask["sessions"]
    for session_id, words_in_session in flask["session_words"].items():
        shown = read(api, f"/api/study-sessions/{session_id}?page=1&per_page=100")
        assert shown["session"]["review_items_count"] == flask["sessions"][session_id]
        assert shown["total"] == len(words_in_session)
        assert {word["id"]: (word["correct_count"], word["wrong_count"]) for word in shown["words"]} == words_in_session
    by_activity = read(api, "/api/study-activities/1/sessions?page=1&per_page=100")
    assert by_activity["total"] == len(flask["activity_sessions"])
    assert {session["id"]: session["review_items_count"] for session in by_activity["items"]} == flask[
        "activity_sessions"
    ]

    recent = read(api, "/dashboard/recent-session")
    assert (recent["id"], recent["correct_count"], recent["wrong_count"]) == flask["recent"]
    stats = read(api, "/dashboard/stats")
    assert {name: stats[name] for name in flask["stats"]} == {
        **flask["stats"],
        "success_rate": pytest.approx(flask["stats"]["success_rate"]),
    }
