"""The one mapping between stored items and plain dicts: DynamoDB's attribute format, each kind's response shape
(no storage keys, no Decimals), list order and cursors."""

import base64
import binascii
import json
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, NotRequired, TypedDict, TypeVar

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from chalicelib.store.errors import InvalidCursorError
from chalicelib.store.items import MAX_ID

COUNT_COLUMNS = ("correct_count", "wrong_count")
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()
_Row = TypeVar("_Row", bound=Mapping[str, Any])  # a session, group or word, as the mapping functions give it
_Item = TypeVar("_Item")


class Session(TypedDict):
    id: int
    group_id: int
    group_name: str
    study_activity_id: int
    activity_name: str
    created_at: str
    end_time: str
    review_items_count: int
    correct_count: int
    wrong_count: int


class Part(TypedDict):
    kanji: str
    romaji: list[str]


class Word(TypedDict):
    id: int
    kanji: str
    romaji: str
    english: str
    parts: NotRequired[list[Part]]


class CountedWord(TypedDict):
    id: int
    kanji: str
    romaji: str
    english: str
    correct_count: int
    wrong_count: int


class Group(TypedDict):
    id: int
    name: str
    words_count: int


class Activity(TypedDict):
    id: int
    name: str
    url: str
    preview_url: str
    description: str


def to_attributes(item: dict[str, Any]) -> dict[str, Any]:
    """A plain dict (ints, strs, lists, sets) in DynamoDB's attribute format."""
    return {name: _serializer.serialize(value) for name, value in item.items()}


def from_attributes(attributes: dict[str, Any]) -> dict[str, Any]:
    """An item as DynamoDB returns it, as a plain dict (numbers as Decimal)."""
    return {name: _deserializer.deserialize(value) for name, value in attributes.items()}


def plain(value: Any) -> Any:
    return int(value) if isinstance(value, Decimal) else value


def session_from_item(item: dict[str, Any]) -> Session:
    """A stored session item as a plain dict."""
    return Session(
        id=plain(item["id"]),
        group_id=plain(item["group_id"]),
        group_name=item["group_name"],
        study_activity_id=plain(item["study_activity_id"]),
        activity_name=item["activity_name"],
        created_at=item["created_at"],
        end_time=item["end_time"],
        review_items_count=plain(item["review_items_count"]),
        correct_count=plain(item.get("correct_count", 0)),
        wrong_count=plain(item.get("wrong_count", 0)),
    )


def word_from_item(item: dict[str, Any]) -> Word:
    """A stored word (or a group's copy of one) as a plain dict."""
    word = Word(
        id=plain(item.get("id", item.get("word_id"))),
        kanji=item["kanji"],
        romaji=item["romaji"],
        english=item["english"],
    )
    if "parts" in item:
        word["parts"] = [Part(kanji=part["kanji"], romaji=list(part["romaji"])) for part in item["parts"]]
    return word


def counted_word_from_item(item: dict[str, Any]) -> CountedWord:
    """A stored word as the pages show it: its text and all-time counts (0 for a word never reviewed)."""
    return CountedWord(
        id=plain(item.get("id", item.get("word_id"))),
        kanji=item["kanji"],
        romaji=item["romaji"],
        english=item["english"],
        correct_count=plain(item.get("correct_count", 0)),
        wrong_count=plain(item.get("wrong_count", 0)),
    )


def group_from_item(item: dict[str, Any]) -> Group:
    """A stored group as a plain dict."""
    return Group(id=plain(item["id"]), name=item["name"], words_count=plain(item["words_count"]))


def activity_from_item(item: dict[str, Any]) -> Activity:
    """A stored study activity as a plain dict."""
    return Activity(
        id=plain(item["id"]),
        name=item["name"],
        url=item["url"],
        preview_url=item["preview_url"],
        description=item.get("description", ""),
    )


def session_word_counts(item: dict[str, Any]) -> dict[int, dict[str, int]]:
    """The per-word counts a session item carries, as {word id: {"correct_count": c, "wrong_count": w}}."""
    counts: dict[int, dict[str, int]] = {}
    for name, value in item.items():
        kind, _, word_id = name.partition("#")
        if kind in ("correct", "wrong") and word_id.isdigit():
            counts.setdefault(int(word_id), {"correct_count": 0, "wrong_count": 0})[f"{kind}_count"] = int(value)
    return counts


def sorted_by(items: list[_Row], *, key: str, descending: bool) -> list[_Row]:
    """Items in the order SQL's ORDER BY key would give, ties by id ascending; text compares by code point, as
    SQLite's default collation does."""
    return sorted(sorted(items, key=lambda item: item["id"]), key=lambda item: item[key], reverse=descending)


def page_slice(items: list[_Item], *, page: int, per_page: int) -> list[_Item]:
    """Page `page` (from 1) of a whole list; a page past the end is empty."""
    start = (page - 1) * per_page
    return items[start : start + per_page]


_CURSOR_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+00:00")
MAX_CURSOR_LENGTH = 200  # ours are about 60 characters; a long one is not worth decoding


def encode_cursor(session: Session, *, ordinal: int) -> str:
    """An opaque cursor naming the last session of a page (and its ordinal in the list of all sessions)."""
    raw = json.dumps([session["created_at"], session["id"], ordinal], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The ordinal of the session a cursor names (the next page starts below it); one we did not hand out raises
    InvalidCursorError."""
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise InvalidCursorError()
    try:
        created_at, session_id, ordinal = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError, binascii.Error, RecursionError) as exc:
        raise InvalidCursorError() from exc
    if not (
        isinstance(created_at, str)
        and _CURSOR_TIME.fullmatch(created_at)
        and type(session_id) is int
        and 1 <= session_id <= MAX_ID
        and type(ordinal) is int
        and 1 <= ordinal <= MAX_ID
    ):
        raise InvalidCursorError()
    return ordinal
