"""Reading and checking the file to import: a Flask portal's words.db, or one of its seed files."""

import json
import re
import sqlite3
from collections.abc import Container, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from chalicelib.store.items import MAX_ID
from scripts.flask_import.bulk import counted

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


class InvalidSourceError(Exception):
    """The file to import is missing, not of the expected kind, or holds a value the service cannot store."""


class UnknownTimeZoneError(Exception):
    """The time zone given is not an IANA zone name this machine knows."""


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


def time_zone(*, name: str) -> tzinfo:
    """The zone the file's times are in: UTC, or an IANA name such as Europe/Berlin."""
    if name.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise UnknownTimeZoneError(
            f"unknown time zone {name!r}: give an IANA name such as Europe/Berlin, or UTC"
        ) from exc


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
        data.groups[group_id] = {
            "name": _text(row["name"], where=where, column="name"),
            "cached_words_count": row["words_count"],
        }
    for row in rows("word_groups"):
        where = f"{name}: word_groups row word_id={row['word_id']!r}, group_id={row['group_id']!r}"
        data.memberships.append(
            (_id(row["word_id"], where=where, column="word_id"), _id(row["group_id"], where=where, column="group_id"))
        )
    for row in rows("study_activities"):
        where = f"{name}: study_activities row id={row['id']!r}"
        activity_id = first("study_activities", _id(row["id"], where=where, column="id"), data.activities)
        data.activities[activity_id] = {
            "name": _text(row["name"], where=where, column="name"),
            "url": _text(row["url"], where=where, column="url"),
            "preview_url": ""
            if row["preview_url"] is None
            else _text(row["preview_url"], where=where, column="preview_url"),
        }
    for row in rows("study_sessions"):
        where = f"{name}: study_sessions row id={row['id']!r}"
        session_id = first("study_sessions", _id(row["id"], where=where, column="id"), data.sessions)
        data.sessions[session_id] = {
            "group_id": _id(row["group_id"], where=where, column="group_id"),
            "study_activity_id": _id(row["study_activity_id"], where=where, column="study_activity_id"),
            "created_at": _time(row["created_at"], where=where),
        }
    review_ids: set[int] = set()
    for row in rows("word_review_items"):
        where = f"{name}: word_review_items row id={row['id']!r}"
        if row["correct"] not in (0, 1) or isinstance(row["correct"], float):
            raise InvalidSourceError(f"{where}: correct must be 0 or 1, not {row['correct']!r}")
        review_ids.add(first("word_review_items", _id(row["id"], where=where, column="id"), review_ids))
        data.reviews.append(
            {
                "id": row["id"],
                "word_id": _id(row["word_id"], where=where, column="word_id"),
                "session_id": _id(row["study_session_id"], where=where, column="study_session_id"),
                "correct": row["correct"] == 1,
                "created_at": _time(row["created_at"], where=where),
            }
        )
    # A cache, only compared with the reviews (and summed, as Flask's LEFT JOIN would list each row).
    data.word_reviews = {
        word_id: (correct, wrong)
        for word_id, correct, wrong in connection.execute(
            "SELECT word_id, SUM(COALESCE(correct_count, 0)), SUM(COALESCE(wrong_count, 0)) FROM word_reviews "
            "GROUP BY word_id"
        )
    }
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
    if not (
        isinstance(part, dict)
        and isinstance(part.get("kanji"), str)
        and isinstance(part.get("romaji"), list)
        and all(isinstance(syllable, str) for syllable in part["romaji"])
    ):
        raise InvalidSourceError(
            f'{where}: each part must be {{"kanji": str, "romaji": [str, ...]}}, '
            f"not {json.dumps(part, ensure_ascii=False):.80}"
        )
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
        text = {
            column: _text(entry.get(column), where=where, column=column) for column in ("kanji", "romaji", "english")
        }
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
