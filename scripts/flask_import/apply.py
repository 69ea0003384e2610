"""`make import`: the original Flask portal's SQLite file (words.db), or one of its seed files, into the table.

Why it works the way it does (docs/ has the long form):
- Nothing is written until everything is checked. The file is opened read-only; a file that is not SQLite, lacks a
  table or column, or holds a value the service cannot store (an id outside 1..2^53-1, parts that are not
  [{kanji, romaji: [str]}], a time that does not parse, correct not 0/1) is an InvalidSourceError: one line naming
  the table and row. parts NULL or '' is stored as [] with a warning.
- Times: the file's times have no offset; they are read as UTC unless a zone is given, because CURRENT_TIMESTAMP,
  the schema's default and what every Flask review got, is UTC. (Flask's POST /study_sessions stamped sessions
  with datetime.now(), the server's local time: a file from a server off UTC has sessions in that zone.) A
  session's end_time is its latest review, never before its start (the two clocks above may disagree).
- Counts are counted from word_review_items, the one record of each review. word_reviews and groups.words_count
  are caches (Flask's reset deleted the reviews and left word_reviews as it was): where they differ, a warning.
- Reviews keep the file's ids in their keys (suffix imported-<row id>), so a rerun addresses the same items.
- The table may hold no session the file lacks: its reviews are in counts the import overwrites (ForeignSessionsError).
- The catalog becomes the file's: groups, members, words and activities the file lacks are deleted (the seed that
  `make dev` wrote first, say), so the pages show what the Flask pages showed. None of them carries history, as the
  table holds no session the file lacks. An activity keeps its description (the file has none) if its name stays.
- Idempotent by diff: every item meant is read first (consistent BatchGetItem) and only those that differ are
  written (BatchWriteItem, unprocessed items retried). Stale reviews go before their session is rewritten, and
  sessions before their reviews, so a review is never stored without its session and an interrupted run leaves
  what the next one needs to find. Afterwards every item written is read back, and the counts of all the items
  (groups' words, words' against their sessions', sessions' against their reviews, the lists' index) are checked.
- A seed file's words join a group by name; a word with the same kanji, romaji and english keeps its id.
"""
import json
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Container, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.store import StudyRepository
from chalicelib.store.dynamo import BATCH_GET_LIMIT, BATCH_WRITE_LIMIT, chunks
from chalicelib.store.errors import DatabaseBusyError, DatabaseUnavailableError
from chalicelib.store.items import (
    MAX_ID,
    activity_item,
    activity_key,
    format_timestamp,
    group_item,
    member_item,
    review_item,
    session_item,
    word_item,
    word_key,
)
from chalicelib.store.mapping import word_from_item

# The original schema's tables and the columns the import reads from each.
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "words": ("id", "kanji", "romaji", "english", "parts"),
    "groups": ("id", "name", "words_count"),
    "word_groups": ("word_id", "group_id"),
    "study_activities": ("id", "name", "url", "preview_url"),
    "study_sessions": ("id", "group_id", "study_activity_id", "created_at"),
    "word_review_items": ("id", "word_id", "study_session_id", "correct", "created_at"),
    "word_reviews": ("word_id", "correct_count", "wrong_count"),
}
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d{1,6})?")
_WORKERS = 8
_BATCH_ATTEMPTS = 4  # of a whole batch, each retrying its unprocessed items itself (Table.put_items, delete_keys)
_PROGRESS_FROM = 1000  # items; fewer go by without progress lines

Key = tuple[str, str]
Report = Callable[[str], None]


class InvalidSourceError(Exception):
    """The file to import is missing, not of the expected kind, or holds a value the service cannot store."""


class UnknownTimeZoneError(Exception):
    """The time zone given is not an IANA zone name this machine knows."""


class ForeignSessionsError(Exception):
    """The table holds study sessions the file does not: their counts could not agree with the file's."""


class ImportInterruptedError(Exception):
    """DynamoDB failed after part of the import was written; running it again finishes it."""


class VerificationError(Exception):
    """What was read back after the import differs from what was meant."""


@dataclass
class FlaskData:
    """A Flask portal's SQLite file, checked: ids as ints, parts as lists, times as naive datetimes."""
    groups: dict[int, dict[str, Any]]
    words: dict[int, dict[str, Any]]
    memberships: list[tuple[int, int]]
    activities: dict[int, dict[str, Any]]
    sessions: dict[int, dict[str, Any]]
    reviews: list[dict[str, Any]]
    word_reviews: dict[int, tuple[int, int]]
    warnings: list[str] = field(default_factory=list)


@dataclass
class ImportSummary:
    """What an import did."""
    groups: int
    words: int
    activities: int
    sessions: int
    reviews: int
    written: int
    unchanged: int
    deleted: int
    seconds: float
    warnings: list[str]


@dataclass
class WordsSummary:
    """What loading a seed file into a group did."""
    group_id: int
    group_name: str
    group_created: bool
    words: int
    new_words: int
    group_words: int
    written: bool
    seconds: float
    warnings: list[str]


def time_zone(*, name: str) -> tzinfo:
    """The zone the file's times are in: UTC, or an IANA name such as Europe/Berlin."""
    if name.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise UnknownTimeZoneError(f"unknown time zone {name!r}: give an IANA name such as Europe/Berlin, "
                                   "or UTC") from exc


# --- reading the file -----------------------------------------------------------------------------------------

def read_flask_database(*, path: Path) -> FlaskData:
    """Read and check a Flask portal's words.db, read-only; InvalidSourceError names the first problem."""
    if not path.is_file():
        raise InvalidSourceError(f"{path}: no such file")
    try:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise InvalidSourceError(f"{path}: cannot be opened as SQLite ({exc})") from exc
    try:
        return _read_tables(connection, name=path.name)
    except sqlite3.DatabaseError as exc:  # "file is not a database", a corrupt page
        raise InvalidSourceError(f"{path}: not a SQLite database of the Flask portal ({exc})") from exc
    finally:
        connection.close()


def _read_tables(connection: sqlite3.Connection, *, name: str) -> FlaskData:
    tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}
    missing = [table for table in REQUIRED_COLUMNS if table not in tables]
    if missing:
        raise InvalidSourceError(f"{name}: not the Flask portal's database: no table {', '.join(missing)}")
    for table, columns in REQUIRED_COLUMNS.items():
        present = {row[1] for row in connection.execute(f"PRAGMA table_info({table})")}
        absent = [column for column in columns if column not in present]
        if absent:
            raise InvalidSourceError(f"{name}: table {table} has no column {', '.join(absent)}")

    def rows(table: str) -> Iterable[dict[str, Any]]:
        columns = REQUIRED_COLUMNS[table]
        cursor = connection.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY rowid")
        return (dict(zip(columns, row)) for row in cursor)

    def first(table: str, row_id: int, seen: Container[int]) -> int:
        if row_id in seen:  # a schema without its PRIMARY KEY
            raise InvalidSourceError(f"{name}: {table} holds id {row_id} twice")
        return row_id

    data = FlaskData(groups={}, words={}, memberships=[], activities={}, sessions={}, reviews=[], word_reviews={})
    empty_parts = 0
    for row in rows("words"):
        where = f"{name}: words row id={row['id']!r}"
        word_id = first("words", _id(row["id"], where=where, column="id"), data.words)
        text = {column: _text(row[column], where=where, column=column) for column in ("kanji", "romaji", "english")}
        if row["parts"] is None or row["parts"] == "":
            empty_parts += 1
            parts: list[dict[str, Any]] = []
        else:
            parts = _parts(row["parts"], where=where)
        data.words[word_id] = {"id": word_id, **text, "parts": parts}
    if empty_parts:
        data.warnings.append(f"{counted(empty_parts, 'word')} without parts (NULL or ''): stored with parts []")
    for row in rows("groups"):
        where = f"{name}: groups row id={row['id']!r}"
        group_id = first("groups", _id(row["id"], where=where, column="id"), data.groups)
        data.groups[group_id] = {"name": _text(row["name"], where=where, column="name"),
                                 "cached_words_count": row["words_count"]}
    for row in rows("word_groups"):
        where = f"{name}: word_groups row word_id={row['word_id']!r}, group_id={row['group_id']!r}"
        data.memberships.append((_id(row["word_id"], where=where, column="word_id"),
                                 _id(row["group_id"], where=where, column="group_id")))
    for row in rows("study_activities"):
        where = f"{name}: study_activities row id={row['id']!r}"
        activity_id = first("study_activities", _id(row["id"], where=where, column="id"), data.activities)
        data.activities[activity_id] = {
            "name": _text(row["name"], where=where, column="name"),
            "url": _text(row["url"], where=where, column="url"),
            "preview_url": "" if row["preview_url"] is None else _text(row["preview_url"], where=where,
                                                                        column="preview_url")}
    for row in rows("study_sessions"):
        where = f"{name}: study_sessions row id={row['id']!r}"
        session_id = first("study_sessions", _id(row["id"], where=where, column="id"), data.sessions)
        data.sessions[session_id] = {
            "group_id": _id(row["group_id"], where=where, column="group_id"),
            "study_activity_id": _id(row["study_activity_id"], where=where, column="study_activity_id"),
            "created_at": _time(row["created_at"], where=where)}
    review_ids: set[int] = set()
    for row in rows("word_review_items"):
        where = f"{name}: word_review_items row id={row['id']!r}"
        if row["correct"] not in (0, 1) or isinstance(row["correct"], float):
            raise InvalidSourceError(f"{where}: correct must be 0 or 1, not {row['correct']!r}")
        review_ids.add(first("word_review_items", _id(row["id"], where=where, column="id"), review_ids))
        data.reviews.append({"id": row["id"],
                             "word_id": _id(row["word_id"], where=where, column="word_id"),
                             "session_id": _id(row["study_session_id"], where=where, column="study_session_id"),
                             "correct": row["correct"] == 1, "created_at": _time(row["created_at"], where=where)})
    # A cache, only compared with the reviews (and summed, as Flask's LEFT JOIN would list each row).
    data.word_reviews = {word_id: (correct, wrong) for word_id, correct, wrong in connection.execute(
        "SELECT word_id, SUM(COALESCE(correct_count, 0)), SUM(COALESCE(wrong_count, 0)) FROM word_reviews "
        "GROUP BY word_id")}
    return data


def _id(value: Any, *, where: str, column: str) -> int:
    if type(value) is not int or not 1 <= value <= MAX_ID:
        raise InvalidSourceError(f"{where}: {column} must be an integer from 1 to {MAX_ID}, not {value!r}")
    return value


def _text(value: Any, *, where: str, column: str) -> str:
    if not isinstance(value, str):
        raise InvalidSourceError(f"{where}: {column} must be text, not {value!r}")
    return value


def _time(value: Any, *, where: str) -> datetime:
    if not isinstance(value, str) or not _TIME.fullmatch(value):
        raise InvalidSourceError(f"{where}: created_at must be a time 'YYYY-MM-DD HH:MM:SS[.ffffff]', not {value!r}")
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:  # the right shape, but no such day or hour
        raise InvalidSourceError(f"{where}: created_at {value!r} is no valid time") from exc


def _parts(raw: Any, *, where: str) -> list[dict[str, Any]]:
    """A word's parts, from its JSON text: [{kanji: str, romaji: [str, ...]}, ...]."""
    try:
        parts = json.loads(raw) if isinstance(raw, (str, bytes)) else None
    except ValueError as exc:
        raise InvalidSourceError(f"{where}: parts is not JSON ({exc})") from exc
    if not isinstance(parts, list):
        raise InvalidSourceError(f"{where}: parts must be a JSON array of {{kanji, romaji}}, not {raw!r:.80}")
    return [_part(part, where=where) for part in parts]


def _part(part: Any, *, where: str) -> dict[str, Any]:
    if not (isinstance(part, dict) and isinstance(part.get("kanji"), str) and isinstance(part.get("romaji"), list)
            and all(isinstance(syllable, str) for syllable in part["romaji"])):
        raise InvalidSourceError(f"{where}: each part must be {{\"kanji\": str, \"romaji\": [str, ...]}}, "
                                 f"not {json.dumps(part, ensure_ascii=False):.80}")
    return {"kanji": part["kanji"], "romaji": list(part["romaji"])}


def read_seed_words(*, path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """The words of one of the Flask portal's seed files (a JSON array of {kanji, romaji, english, parts}), and
    warnings; InvalidSourceError names the first problem."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidSourceError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    except ValueError as exc:  # not UTF-8, or not JSON
        raise InvalidSourceError(f"{path}: not a JSON file ({exc})") from exc
    if not isinstance(raw, list):
        raise InvalidSourceError(f"{path}: must be a JSON array of {{kanji, romaji, english, parts}}")
    words, warnings, empty_parts = [], [], 0
    for index, entry in enumerate(raw):
        where = f"{path.name} entry {index}"
        if not isinstance(entry, dict):
            raise InvalidSourceError(f"{where}: must be an object {{kanji, romaji, english, parts}}")
        text = {column: _text(entry.get(column), where=where, column=column)
                for column in ("kanji", "romaji", "english")}
        if entry.get("parts") in (None, ""):
            empty_parts += 1
            parts: list[dict[str, Any]] = []
        elif isinstance(entry["parts"], str):  # as words.db stores them
            parts = _parts(entry["parts"], where=where)
        elif isinstance(entry["parts"], list):
            parts = [_part(part, where=where) for part in entry["parts"]]
        else:
            raise InvalidSourceError(f"{where}: parts must be an array of {{kanji, romaji}}")
        words.append({**text, "parts": parts})
    if empty_parts:
        warnings.append(f"{counted(empty_parts, 'word')} without parts: stored with parts []")
    return words, warnings


# --- what the table should hold -------------------------------------------------------------------------------

@dataclass
class _Plan:
    items: dict[Key, dict[str, Any]]
    group_ids: set[int]
    word_ids: set[int]
    activity_ids: set[int]
    session_ids: set[int]
    reviews: int
    warnings: list[str]


def _key(item: dict[str, Any]) -> Key:
    return item["PK"], item["SK"]


def _plan(data: FlaskData, *, zone: tzinfo) -> _Plan:
    """The items the file stands for, before the table is read; warnings about what was left out or differs."""
    warnings = list(data.warnings)

    def stamp(moment: datetime) -> str:
        return format_timestamp(moment.replace(tzinfo=zone))

    pairs = set(data.memberships)
    kept = {(word_id, group_id) for word_id, group_id in pairs if word_id in data.words and group_id in data.groups}
    if len(pairs) < len(data.memberships):
        warnings.append(f"word_groups repeats {counted(len(data.memberships) - len(pairs), 'row')} "
                        "(a word listed in a group again): each word imported once")
    skipped = sum(1 for pair in data.memberships if pair not in kept)
    if skipped:
        warnings.append(f"skipped {counted(skipped, 'word_groups row')} naming a word or group the file does not hold")
    members: dict[int, list[int]] = {group_id: [] for group_id in data.groups}
    groups_of: dict[int, set[int]] = {word_id: set() for word_id in data.words}
    for word_id, group_id in sorted(kept):
        members[group_id].append(word_id)
        groups_of[word_id].add(group_id)
    stale_cache = [group_id for group_id, group in data.groups.items()
                   if group["cached_words_count"] != len(members[group_id])]
    if stale_cache:
        warnings.append(f"groups.words_count differs from the group's words for {counted(len(stale_cache), 'group')} "
                        f"(ids {_ids(stale_cache)}): imported the number of its words")

    sessions = {session_id: session for session_id, session in data.sessions.items()
                if session["group_id"] in data.groups and session["study_activity_id"] in data.activities}
    if len(sessions) < len(data.sessions):
        warnings.append(f"skipped {counted(len(data.sessions) - len(sessions), 'session')} whose group or activity "
                        f"the file does not hold (ids {_ids(set(data.sessions) - set(sessions))})")
    reviews = [review for review in data.reviews
               if review["session_id"] in sessions and review["word_id"] in data.words]
    if len(reviews) < len(data.reviews):
        warnings.append(f"skipped {counted(len(data.reviews) - len(reviews), 'review')} whose session or word "
                        "is not imported")

    items: dict[Key, dict[str, Any]] = {}

    def add(item: dict[str, Any]) -> None:
        items[_key(item)] = item

    word_counts: dict[int, list[int]] = {word_id: [0, 0] for word_id in data.words}
    session_counts: dict[int, dict[int, list[int]]] = {session_id: {} for session_id in sessions}
    session_end: dict[int, datetime] = {session_id: session["created_at"] for session_id, session in sessions.items()}
    for review in reviews:
        column = 0 if review["correct"] else 1
        word_counts[review["word_id"]][column] += 1
        session_counts[review["session_id"]].setdefault(review["word_id"], [0, 0])[column] += 1
        session_end[review["session_id"]] = max(session_end[review["session_id"]], review["created_at"])
    disagreeing = [word_id for word_id, counts in word_counts.items()
                   if tuple(counts) != data.word_reviews.get(word_id, (0, 0))]
    if disagreeing:
        warnings.append(f"word_reviews disagrees with word_review_items for {counted(len(disagreeing), 'word')} "
                        f"(ids {_ids(disagreeing)}): imported the counts of the reviews themselves")

    for group_id, group in data.groups.items():
        add(group_item(group_id=group_id, name=group["name"], words_count=len(members[group_id])))
        for word_id in members[group_id]:
            add(member_item(group_id=group_id, word=data.words[word_id]))
    for word_id, word in data.words.items():
        correct, wrong = word_counts[word_id]
        add(word_item(word=word, group_ids=groups_of[word_id], correct_count=correct, wrong_count=wrong))
    for activity_id, activity in data.activities.items():
        add(activity_item(study_activity_id=activity_id, **activity))
    for session_id, session in sessions.items():
        add(session_item(session_id=session_id, group_id=session["group_id"],
                         group_name=data.groups[session["group_id"]]["name"],
                         study_activity_id=session["study_activity_id"],
                         activity_name=data.activities[session["study_activity_id"]]["name"],
                         created_at=stamp(session["created_at"]), end_time=stamp(session_end[session_id]),
                         word_counts={word_id: (counts[0], counts[1])
                                      for word_id, counts in session_counts[session_id].items()}))
    for review in reviews:
        add(review_item(session_id=review["session_id"], created_at=stamp(review["created_at"]),
                        reviews=[(review["word_id"], review["correct"])], suffix=f"imported-{review['id']:016d}"))
    return _Plan(items=items, group_ids=set(data.groups), word_ids=set(data.words),
                 activity_ids=set(data.activities), session_ids=set(sessions), reviews=len(reviews),
                 warnings=warnings)


# --- importing ------------------------------------------------------------------------------------------------

def import_database(*, repository: StudyRepository, data: FlaskData, zone: tzinfo = UTC,
                    report: Report = lambda line: None) -> ImportSummary:
    """Make the table hold the file's groups, words, activities, sessions and reviews: write only what differs,
    then read it back and check the counts. report() gets progress lines."""
    started = time.monotonic()
    plan = _plan(data, zone=zone)
    _refuse_foreign_sessions(repository, session_ids=plan.session_ids)
    stored = _read_items(repository, keys=list(plan.items), report=report, what="reading the table")
    _keep_descriptions(plan, stored=stored)
    stale_reviews = _stale_reviews(repository, plan=plan, stored=stored)
    not_in_file = _catalog_not_in_file(repository, plan=plan)
    changed = [item for key, item in plan.items.items() if stored.get(key) != item]
    reviews = [item for item in changed if item["SK"].startswith("REVIEW#")]
    before_reviews = [item for item in changed if not item["SK"].startswith("REVIEW#")]
    progress = _Progress(report=report, total=len(changed) + len(stale_reviews) + len(not_in_file), what="writing")
    # In an order that any interruption leaves findable by the next run: a stale review goes while its session
    # still differs from the file (the next run looks again); a review is written after its session (the reset
    # finds reviews through their sessions); what the file lacks is listed afresh by every run.
    steps = [("delete", _keys(stale_reviews)), ("put", before_reviews), ("put", reviews),
             ("delete", _keys(not_in_file))]
    try:
        for kind, items in steps:
            _write(repository, kind=kind, items=items, progress=progress)
    except (DatabaseBusyError, DatabaseUnavailableError, BotoCoreError, ClientError) as exc:
        raise ImportInterruptedError(
            f"DynamoDB failed after {progress.done:,} of {progress.total:,} writes ({exc}): run the same command "
            "again to finish (it writes only what is still missing)") from exc
    _verify(repository, plan=plan, stored=stored, written=[_key(item) for item in changed], report=report)
    return ImportSummary(groups=len(plan.group_ids), words=len(plan.word_ids), activities=len(plan.activity_ids),
                         sessions=len(plan.session_ids), reviews=plan.reviews, written=len(changed),
                         unchanged=len(plan.items) - len(changed), deleted=len(stale_reviews) + len(not_in_file),
                         seconds=time.monotonic() - started, warnings=plan.warnings)


def _keys(keys: list[Key]) -> list[dict[str, str]]:
    return [{"PK": pk, "SK": sk} for pk, sk in keys]


def _refuse_foreign_sessions(repository: StudyRepository, *, session_ids: set[int]) -> None:
    foreign = sorted(item_id for item_id in _listed_ids(repository, kind="SESSION") if item_id not in session_ids)
    if foreign:
        raise ForeignSessionsError(
            f"the table holds {counted(len(foreign), 'study session')} the file does not (ids {_ids(foreign)}); "
            "their reviews could not agree with the file's counts: reset the sessions first "
            "(POST /api/study-sessions/reset, the Settings page) or import into an empty table")


def _keep_descriptions(plan: _Plan, *, stored: dict[Key, dict[str, Any]]) -> None:
    """An activity keeps its stored description (the file has none) if it is still the same activity by name."""
    for activity_id in plan.activity_ids:
        key = _key(activity_key(activity_id))
        previous = stored.get(key, {})
        if previous.get("description") and previous.get("name") == plan.items[key]["name"]:
            plan.items[key]["description"] = previous["description"]


def _catalog_not_in_file(repository: StudyRepository, *, plan: _Plan) -> list[Key]:
    """The table's groups (with their members), members, words and activities the file does not hold: the import
    makes the catalog the file's, as the Flask pages showed it (the seed `make dev` wrote first, say). None of
    them carries history: the table holds no session the file lacks."""
    gone: list[Key] = []
    for group_id in sorted(_listed_ids(repository, kind="GROUP") | plan.group_ids):
        gone += [_key(item) for item in _partition(repository, partition=f"GROUP#{group_id}")
                 if _key(item) not in plan.items]
    gone += [_key(word_key(word_id)) for word_id in sorted(_listed_ids(repository, kind="WORD") - plan.word_ids)]
    gone += [_key(activity_key(activity_id))
             for activity_id in sorted(_listed_ids(repository, kind="ACTIVITY") - plan.activity_ids)]
    return gone


def _listed_ids(repository: StudyRepository, *, kind: str) -> set[int]:
    """The ids of every item of a kind (GROUP, WORD, ACTIVITY, SESSION), from the index that lists them."""
    items = repository.table.list_kind(kind, ProjectionExpression="PK")
    return {int(item["PK"].partition("#")[2]) for item in items}


def _stale_reviews(repository: StudyRepository, *, plan: _Plan, stored: dict[Key, dict[str, Any]]) -> list[Key]:
    """Reviews in the table under the file's sessions that the file does not hold (logged after an earlier import,
    or stamped in another zone): looked for only in sessions stored otherwise than meant, so a rerun costs no
    Query. They are deleted before their session is rewritten, so an interrupted run leaves it differing."""
    stale = []
    for session_id in sorted(plan.session_ids):
        key = (f"SESSION#{session_id}", "META")
        if key in stored and stored[key] != plan.items[key]:
            stale += [_key(item) for item in _partition(repository, partition=key[0])
                      if item["SK"] != "META" and _key(item) not in plan.items]
    return stale


def _partition(repository: StudyRepository, *, partition: str) -> list[dict[str, Any]]:
    return repository.table.partition(partition, consistent=True, projection="PK, SK")


def _verify(repository: StudyRepository, *, plan: _Plan, stored: dict[Key, dict[str, Any]], written: list[Key],
            report: Report) -> None:
    """Read back every item written and compare it with what was meant; over all items meant, check groups'
    members, words' counts against their sessions', sessions' counts against their reviews (counted in the table
    for every session written now), and that the lists' index holds exactly the file's groups, words, activities
    and sessions. Items found unchanged are not read again: this run read them consistently and wrote none of them
    (its other writes delete keys outside the plan), so a second read only repeats the first (a rerun of 15,200
    items: 3 s less)."""
    rewritten = set(written)
    found = {key: item for key, item in stored.items() if key in plan.items and key not in rewritten}
    found.update(_read_items(repository, keys=written, report=report, what="verifying"))
    problems = []
    differing = [key for key, item in plan.items.items() if found.get(key) != item]
    if differing:
        problems.append(f"{counted(len(differing), 'item')} read back differ from what was written "
                        f"(first: {differing[0][0]} {differing[0][1]})")
    for group_id in sorted(plan.group_ids):
        members = {_key(item) for item in _partition(repository, partition=f"GROUP#{group_id}")
                   if item["SK"].startswith("WORD#")}
        meant = {key for key in plan.items if key[0] == f"GROUP#{group_id}" and key[1].startswith("WORD#")}
        group = found.get((f"GROUP#{group_id}", "META"), {})
        if members != meant or group.get("words_count") != len(members):
            problems.append(f"group {group_id} holds {len(members)} words, its count says "
                            f"{group.get('words_count')}, the file {len(meant)}")
    from_sessions: dict[int, list[int]] = {}
    reviews_of: dict[str, list[dict[str, Any]]] = {}
    for (pk, sk), item in found.items():
        if sk.startswith("REVIEW#"):
            reviews_of.setdefault(pk, []).append(item)
        elif pk.startswith("SESSION#"):
            for name, value in item.items():
                kind, _, word_id = name.partition("#")
                if kind in ("correct", "wrong") and word_id.isdigit():
                    from_sessions.setdefault(int(word_id), [0, 0])[kind == "wrong"] += int(value)
    words_off = [word_id for word_id in plan.word_ids
                 if [found.get(_key(word_key(word_id)), {}).get(name) for name in ("correct_count", "wrong_count")]
                 != from_sessions.get(word_id, [0, 0])]
    if words_off:
        problems.append(f"{counted(len(words_off), 'word')} whose counts differ from their sessions' "
                        f"(ids {_ids(words_off)})")
    # A session written now is counted in the table, in case its partition holds reviews the file does not.
    written_sessions = sorted(pk for pk, sk in rewritten if pk.startswith("SESSION#") and sk == "META")
    in_partition = dict(zip(written_sessions, _in_parallel(
        lambda pk: sum(item["SK"].startswith("REVIEW#") for item in _partition(repository, partition=pk)),
        written_sessions)))
    sessions_off = [session_id for session_id in plan.session_ids
                    if found.get((f"SESSION#{session_id}", "META"), {}).get("review_items_count")
                    != in_partition.get(f"SESSION#{session_id}", len(reviews_of.get(f"SESSION#{session_id}", [])))]
    if sessions_off:
        problems.append(f"{counted(len(sessions_off), 'session')} whose review count differs from its reviews "
                        f"(ids {_ids(sessions_off)})")
    stored_reviews = sum(len(reviews) for reviews in reviews_of.values())
    if stored_reviews != plan.reviews:
        problems.append(f"{stored_reviews:,} reviews read back, {plan.reviews:,} imported")
    for kind, meant in (("GROUP", plan.group_ids), ("WORD", plan.word_ids), ("ACTIVITY", plan.activity_ids),
                        ("SESSION", plan.session_ids)):
        listed = _listed_once_caught_up(repository, kind=kind, meant=meant)
        if listed != meant:
            problems.append(f"the index lists {len(listed):,} items of kind {kind}, the file "
                            f"{len(meant):,} (first differing id: {min(listed ^ meant)})")
    if problems:
        raise VerificationError("verification failed: " + "; ".join(problems))


def _listed_once_caught_up(repository: StudyRepository, *, kind: str, meant: set[int]) -> set[int]:
    """The ids the lists' index holds for a kind, once it shows what was meant or a few seconds have passed (it is
    updated asynchronously on DynamoDB)."""
    for attempt in range(6):
        listed = _listed_ids(repository, kind=kind)
        if listed == meant:
            break
        time.sleep(0.5 * 2 ** attempt)
    return listed


# --- a seed file into a group ---------------------------------------------------------------------------------

def import_words(*, repository: StudyRepository, words: list[dict[str, Any]], group_name: str,
                 warnings: list[str] | None = None, report: Report = lambda line: None) -> WordsSummary:
    """Add a seed file's words to the group of that name (a new group if none): a word identical in kanji, romaji
    and english to a stored one keeps its id, others get new ids; the group keeps the words it had. Written
    through put_group, which keeps the words' counts and other groups; nothing when the group already holds them."""
    started = time.monotonic()
    warnings = list(warnings or [])
    groups = repository.list_groups()
    named = sorted(group["id"] for group in groups if group["name"] == group_name)
    if len(named) > 1:
        warnings.append(f"{len(named)} groups are named {group_name!r} (ids {_ids(named)}): using group {named[0]}")
    group_id = named[0] if named else max((group["id"] for group in groups), default=0) + 1
    fields = ("id", "kanji", "romaji", "english")
    stored_words = repository.table.list_kind(
        "WORD", ProjectionExpression=", ".join(f"#{name}" for name in fields),
        ExpressionAttributeNames={f"#{name}": name for name in fields})
    ids_by_text: dict[tuple[str, str, str], int] = {}
    for item in sorted(stored_words, key=lambda item: int(item["id"])):
        ids_by_text.setdefault((item["kanji"], item["romaji"], item["english"]), int(item["id"]))
    next_id = max((int(item["id"]) for item in stored_words), default=0) + 1
    members = _group_words(repository, group_id=group_id)[1] if named else {}
    placed: dict[int, dict[str, Any]] = {}
    new_words = 0
    for word in words:
        text = (word["kanji"], word["romaji"], word["english"])
        if text not in ids_by_text:
            ids_by_text[text] = next_id
            next_id += 1
            new_words += 1
        placed[ids_by_text[text]] = {"id": ids_by_text[text], **word}  # a repeated entry: the last one's parts
    if len(placed) < len(words):
        warnings.append(f"{counted(len(words) - len(placed), 'entry', 'entries')} repeat an earlier word's kanji, "
                        "romaji and english: loaded once")
    if next_id - 1 > MAX_ID or group_id > MAX_ID:
        raise InvalidSourceError(f"no ids left under {MAX_ID} for new words or groups")
    union = {**members, **placed}
    written = not named or any(members.get(word_id) != word for word_id, word in placed.items())
    if written:
        if len(union) >= _PROGRESS_FROM:
            report(f"writing group {group_id} and its {len(union):,} words")
        repository.put_group(group_id=group_id, name=group_name, words=[union[word_id] for word_id in sorted(union)])
    group, stored_members = _group_words(repository, group_id=group_id)
    if any(stored_members.get(word_id) != word for word_id, word in union.items()) or \
            group.get("words_count") != len(stored_members):
        raise VerificationError(f"verification failed: group {group_id} holds {len(stored_members)} words, "
                                f"its count says {group.get('words_count')}, {len(union)} meant")
    return WordsSummary(group_id=group_id, group_name=group_name, group_created=not named, words=len(placed),
                        new_words=new_words, group_words=len(stored_members), written=written,
                        seconds=time.monotonic() - started, warnings=warnings)


def _group_words(repository: StudyRepository, *, group_id: int) -> tuple[dict[str, Any], dict[int, dict[str, Any]]]:
    """A group's item ({} if none) and its members' words by id, read consistently."""
    items = repository.table.partition(f"GROUP#{group_id}", consistent=True)
    group = next((item for item in items if item["SK"] == "META"), {})
    words = [word_from_item(item) for item in items if item["SK"].startswith("WORD#")]
    return group, {word["id"]: word for word in words}


# --- DynamoDB in bulk -----------------------------------------------------------------------------------------

class _Progress:
    """Progress lines for long runs, when there are many items: one each `every` of the way."""

    def __init__(self, *, report: Report, total: int, what: str, every: float = 0.1) -> None:
        self.report, self.total, self.what, self.done = report, total, what, 0
        self._lock = threading.Lock()
        self._step = int(total * every) if total >= _PROGRESS_FROM else 0
        self._next = self._step

    def add(self, count: int) -> None:
        with self._lock:
            self.done += count
            if self._step and self.done >= self._next:
                self.report(f"{self.what}: {self.done:,} of {self.total:,} items ({100 * self.done // self.total}%)")
                self._next = (self.done // self._step + 1) * self._step


def _in_parallel(function: Callable[[Any], Any], chunks: list[Any]) -> list[Any]:
    if len(chunks) <= 1:
        return [function(chunk) for chunk in chunks]
    with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
        return list(pool.map(function, chunks))


def _read_items(repository: StudyRepository, *, keys: list[Key], report: Report,
                what: str) -> dict[Key, dict[str, Any]]:
    """The stored items of these keys (consistent BatchGetItem, 100 a request, in parallel), by key."""
    progress = _Progress(report=report, total=len(keys), what=what, every=0.25)

    def read(chunk: list[Key]) -> list[dict[str, Any]]:
        found = repository.table.get_many([{"PK": pk, "SK": sk} for pk, sk in chunk], consistent=True)
        progress.add(len(chunk))
        return found

    found = _in_parallel(read, chunks(keys, BATCH_GET_LIMIT))
    return {_key(item): item for chunk in found for item in chunk}


def _write(repository: StudyRepository, *, kind: str, items: list[dict[str, Any]], progress: _Progress) -> None:
    """Puts (items) or deletes (keys), BATCH_WRITE_LIMIT a request, in parallel; a batch DynamoDB keeps leaving
    unprocessed is sent again after a pause (puts and deletes may be repeated)."""
    send = repository.table.put_items if kind == "put" else repository.table.delete_keys

    def write(batch: list[dict[str, Any]]) -> None:
        for attempt in range(_BATCH_ATTEMPTS):
            try:
                send(batch)
                break
            except DatabaseBusyError:
                if attempt == _BATCH_ATTEMPTS - 1:
                    raise
                time.sleep(2 ** attempt)
        progress.add(len(batch))

    _in_parallel(write, chunks(items, BATCH_WRITE_LIMIT))


def counted(number: int, singular: str, plural: str | None = None) -> str:
    """"1 word", "2,000 words": a number with its noun."""
    return f"{number:,} {singular if number == 1 else plural or singular + 's'}"


def _ids(ids: Iterable[int], *, shown: int = 5) -> str:
    ordered = sorted(ids)
    more = f" and {len(ordered) - shown:,} more" if len(ordered) > shown else ""
    return ", ".join(map(str, ordered[:shown])) + more
