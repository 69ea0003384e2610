"""The table's keys and items, built in one place: the repository writes them, and so does `make import`.

Keys and indexes are laid out in chalicelib/store/table.py; every builder returns a plain dict (ints, strs, lists,
sets) ready for mapping.to_attributes."""

import hashlib
import secrets
from datetime import UTC, datetime
from typing import Any

MAX_ID = 2**53 - 1  # the largest integer a JavaScript client reads exactly


def new_session_id() -> int:
    """Draw a random id in 1..2^53-1: unique without a counter item, exact in JavaScript."""
    return secrets.randbelow(MAX_ID) + 1


def utc_now() -> datetime:
    return datetime.now(UTC)


def format_timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC with an explicit offset and fixed width, so strings sort by time."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def epoch_seconds(moment: datetime) -> int:
    return int(moment.timestamp())


def padded(number: int) -> str:
    """An id as a fixed-width sort key, so ids sort as numbers."""
    return f"{number:010d}"


def group_key(group_id: int) -> dict[str, str]:
    return {"PK": f"GROUP#{group_id}", "SK": "META"}


def member_key(group_id: int, word_id: int) -> dict[str, str]:
    return {"PK": f"GROUP#{group_id}", "SK": f"WORD#{padded(word_id)}"}


def word_key(word_id: int) -> dict[str, str]:
    return {"PK": f"WORD#{word_id}", "SK": "META"}


def activity_key(study_activity_id: int) -> dict[str, str]:
    return {"PK": f"ACTIVITY#{study_activity_id}", "SK": "META"}


def session_key(session_id: int) -> dict[str, str]:
    return {"PK": f"SESSION#{session_id}", "SK": "META"}


def idempotency_key(key: str, purpose: str = "CREATE_SESSION") -> dict[str, str]:
    """The record of a client's Idempotency-Key for one kind of request (CREATE_SESSION or REVIEW)."""
    # Hashed: a fixed-size key, and the client's string is never stored.
    return {"PK": f"IDEMPOTENCY#{hashlib.sha256(key.encode()).hexdigest()}", "SK": purpose}


def group_item(*, group_id: int, name: str, words_count: int) -> dict[str, Any]:
    return {
        **group_key(group_id),
        "GSI2PK": "GROUP",
        "GSI2SK": padded(group_id),
        "item_type": "group",
        "id": group_id,
        "name": name,
        "words_count": words_count,
    }


def word_text(word: dict[str, Any]) -> dict[str, Any]:
    """What a word is spelled and translated by: kanji, romaji, english and its parts."""
    return {
        "kanji": word["kanji"],
        "romaji": word["romaji"],
        "english": word["english"],
        "parts": [{"kanji": part["kanji"], "romaji": list(part["romaji"])} for part in word["parts"]],
    }


def member_item(*, group_id: int, word: dict[str, Any]) -> dict[str, Any]:
    """A group's copy of one of its words (text and parts, never counts): the Typing Tutor's list in one Query."""
    return {**member_key(group_id, word["id"]), "item_type": "group_word", "word_id": word["id"], **word_text(word)}


def word_item(
    *, word: dict[str, Any], group_ids: set[int], correct_count: int = 0, wrong_count: int = 0
) -> dict[str, Any]:
    """A word, stored once: its text, the groups it belongs to and its all-time review counts."""
    item = {
        **word_key(word["id"]),
        "GSI2PK": "WORD",
        "GSI2SK": padded(word["id"]),
        "item_type": "word",
        "id": word["id"],
        **word_text(word),
        "correct_count": correct_count,
        "wrong_count": wrong_count,
    }
    if group_ids:  # DynamoDB stores no empty set
        item["group_ids"] = set(group_ids)
    return item


def activity_item(
    *, study_activity_id: int, name: str, url: str, preview_url: str, description: str = ""
) -> dict[str, Any]:
    return {
        **activity_key(study_activity_id),
        "GSI2PK": "ACTIVITY",
        "GSI2SK": padded(study_activity_id),
        "item_type": "study_activity",
        "id": study_activity_id,
        "name": name,
        "url": url,
        "preview_url": preview_url,
        "description": description,
    }


def session_item(
    *,
    session_id: int,
    group_id: int,
    group_name: str,
    study_activity_id: int,
    activity_name: str,
    created_at: str,
    end_time: str | None = None,
    word_counts: dict[int, tuple[int, int]] | None = None,
    numbering: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A study session; word_counts ({word id: (correct, wrong)}) are its reviews' counts, from which its totals
    follow; numbering (ordinals.numbering) its ordinals and index keys in its three lists. Times are RFC 3339
    strings in UTC (format_timestamp)."""
    word_counts = word_counts or {}
    item = {
        **session_key(session_id),
        **(numbering or {}),
        "item_type": "session",
        "id": session_id,
        "group_id": group_id,
        "group_name": group_name,
        "study_activity_id": study_activity_id,
        "activity_name": activity_name,
        "created_at": created_at,
        "end_time": end_time or created_at,
        "review_items_count": sum(correct + wrong for correct, wrong in word_counts.values()),
        "correct_count": sum(correct for correct, _ in word_counts.values()),
        "wrong_count": sum(wrong for _, wrong in word_counts.values()),
    }
    for word_id, (correct, wrong) in word_counts.items():
        if correct:
            item[f"correct#{word_id}"] = correct
        if wrong:
            item[f"wrong#{word_id}"] = wrong
    return item


def review_item(*, session_id: int, created_at: str, reviews: list[tuple[int, bool]], suffix: str) -> dict[str, Any]:
    """The reviews one request logged (or one imported review): SK sorts by time, suffix makes it unique."""
    return {
        "PK": f"SESSION#{session_id}",
        "SK": f"REVIEW#{created_at}#{suffix}",
        "item_type": "review",
        "study_session_id": session_id,
        "created_at": created_at,
        "reviews": [{"word_id": word_id, "correct": correct} for word_id, correct in reviews],
    }
