"""Items to plain dicts, list order, pages and cursors, without a table."""

import base64
import json
from decimal import Decimal

import pytest

from chalicelib.store.errors import InvalidCursorError
from chalicelib.store.items import MAX_ID, session_item
from chalicelib.store.mapping import (
    counted_word_from_item,
    decode_cursor,
    encode_cursor,
    from_attributes,
    page_slice,
    session_from_item,
    session_word_counts,
    sorted_by,
    to_attributes,
)

CREATED = "2026-12-04T10:00:00.000+00:00"


def stored(item: dict) -> dict:
    """An item as DynamoDB hands it back: numbers as Decimal."""
    return from_attributes(to_attributes(item))


def test_a_session_item_becomes_a_dict_without_storage_keys_or_decimals():
    item = stored(
        session_item(
            session_id=7,
            group_id=1,
            group_name="Core Verbs",
            study_activity_id=1,
            activity_name="Typing Tutor",
            created_at=CREATED,
            word_counts={1: (2, 1), 3: (0, 1)},
        )
    )
    session = session_from_item(item)
    assert session == {
        "id": 7,
        "group_id": 1,
        "group_name": "Core Verbs",
        "study_activity_id": 1,
        "activity_name": "Typing Tutor",
        "created_at": CREATED,
        "end_time": CREATED,
        "review_items_count": 4,
        "correct_count": 2,
        "wrong_count": 2,
    }
    assert all(type(value) is not Decimal for value in session.values())
    assert session_word_counts(item) == {
        1: {"correct_count": 2, "wrong_count": 1},
        3: {"correct_count": 0, "wrong_count": 1},
    }


def test_a_word_never_reviewed_counts_zero_and_loses_its_parts():
    word = counted_word_from_item(
        {
            "PK": "WORD#1",
            "SK": "META",
            "id": Decimal(1),
            "kanji": "食べる",
            "romaji": "taberu",
            "english": "to eat",
            "parts": [],
        }
    )
    assert word == {
        "id": 1,
        "kanji": "食べる",
        "romaji": "taberu",
        "english": "to eat",
        "correct_count": 0,
        "wrong_count": 0,
    }


def test_sorted_by_breaks_ties_by_id_ascending_in_either_order():
    items = [{"id": 3, "n": 1}, {"id": 1, "n": 2}, {"id": 2, "n": 1}]
    assert [item["id"] for item in sorted_by(items, key="n", descending=False)] == [2, 3, 1]
    assert [item["id"] for item in sorted_by(items, key="n", descending=True)] == [1, 2, 3]


def test_text_sorts_by_code_point_as_sqlite_does():
    items = [{"id": 1, "t": "b"}, {"id": 2, "t": "B"}, {"id": 3, "t": "a"}]
    assert [item["t"] for item in sorted_by(items, key="t", descending=False)] == ["B", "a", "b"]


@pytest.mark.parametrize("page, expected", [(1, [1, 2]), (2, [3]), (3, [])])
def test_a_page_past_the_end_is_empty(page, expected):
    assert page_slice([1, 2, 3], page=page, per_page=2) == expected


def test_a_cursor_names_the_ordinal_the_next_page_starts_below():
    session = {"id": 42, "created_at": CREATED}
    assert decode_cursor(encode_cursor(session, ordinal=1234)) == 1234


def _cursor(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "not base64!",
        _cursor([CREATED]),
        _cursor([CREATED, 0]),
        _cursor([CREATED, MAX_ID + 1]),
        _cursor([CREATED, True]),
        _cursor(["2026-12-04 10:00:00", 1]),
        _cursor({"a": 1}),
        _cursor([CREATED, 1]),  # an older cursor, without the ordinal
        _cursor([CREATED, 1, 0]),
        _cursor([CREATED, 1, "2"]),
        _cursor([CREATED, 1, 2, 3]),
        "A" * 201,
        _cursor("[" * 50),
    ],
)
def test_a_cursor_this_service_did_not_hand_out_is_refused(cursor):
    with pytest.raises(InvalidCursorError):
        decode_cursor(cursor)
