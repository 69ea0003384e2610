"""The Settings page's reset: every session and review deleted, every word's counts set back to 0."""

import contextvars
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypedDict

from chalicelib.store.dynamo import BATCH_WRITE_LIMIT, Table, chunks
from chalicelib.store.errors import DatabaseBusyError
from chalicelib.store.mapping import to_attributes

RESET_WORKERS = 8
SESSION_DELETE_ATTEMPTS = 3  # of a session that reviews keep arriving in while it is deleted


class ResetSummary(TypedDict):
    sessions_deleted: int
    reviews_deleted: int
    words_reset: int
    complete: bool


def reset_history(table: Table, *, deadline: float) -> ResetSummary:
    """Delete every session and review and zero every word's counts, until time.monotonic() reaches deadline.

    Every step can be repeated: a session goes only after its reviews, and only if no review came in meanwhile,
    so its index entry always finds what is left; a word is zeroed by setting, not subtracting. complete is
    False when the deadline stopped it."""
    summary = ResetSummary(sessions_deleted=0, reviews_deleted=0, words_reset=0, complete=False)
    with ThreadPoolExecutor(max_workers=RESET_WORKERS) as pool:

        def each(function: Callable[[Any], Any], arguments: list[Any]) -> list[Any]:
            # In the caller's context, so the access log counts the requests the threads send.
            context = contextvars.copy_context()
            return list(pool.map(lambda argument: context.copy().run(function, argument), arguments))

        for sessions in table.list_kind_pages("SESSION", ProjectionExpression="PK"):
            deleted = each(lambda session: _delete_session(table, partition=session["PK"], deadline=deadline), sessions)
            done = [counts for counts in deleted if counts is not None]
            summary["sessions_deleted"] += sum(sessions for sessions, _ in done)
            summary["reviews_deleted"] += sum(reviews for _, reviews in done)
            if len(done) < len(deleted):
                return summary
        for words in table.list_kind_pages("WORD", ProjectionExpression="PK, SK"):
            if time.monotonic() >= deadline:
                return summary
            # The index may lag a review by a moment: the counts come from the table.
            current = table.get_many(
                [{"PK": word["PK"], "SK": word["SK"]} for word in words],
                consistent=True,
                projection="PK, SK, correct_count, wrong_count",
            )
            counted = [word for word in current if word.get("correct_count") or word.get("wrong_count")]
            each(lambda word: _zero_word_counts(table, word), counted)
            summary["words_reset"] += len(counted)
    return {**summary, "complete": True}


def _delete_session(table: Table, *, partition: str, deadline: float) -> tuple[int, int] | None:
    """Delete a session's reviews, then the session if no review came in meanwhile; return the sessions (1, or 0
    if it was gone) and reviews it deleted, or None if the deadline came first."""
    for _ in range(SESSION_DELETE_ATTEMPTS):
        if time.monotonic() >= deadline:
            return None
        items = table.partition(partition, consistent=True, projection="PK, SK, review_items_count")
        meta = next((item for item in items if item["SK"] == "META"), None)
        children = [item for item in items if item["SK"] != "META"]
        for batch in chunks(children, BATCH_WRITE_LIMIT):
            if time.monotonic() >= deadline:
                return None  # the session stays, so a later reset finds what is left
            table.delete_keys(batch)
        if meta is None:
            return 0, 0  # another reset got there first (the index still listed it)
        seen = meta.get("review_items_count")
        condition = (
            {"ConditionExpression": "attribute_not_exists(review_items_count)"}
            if seen is None
            else {
                "ConditionExpression": "review_items_count = :seen",
                "ExpressionAttributeValues": to_attributes({":seen": seen}),
            }
        )
        try:
            table.delete({"PK": partition, "SK": "META"}, **condition)
            return 1, int(seen or 0)
        except table.client.exceptions.ConditionalCheckFailedException:
            continue  # a review was logged since the Query: delete it too
    raise DatabaseBusyError(f"reviews kept arriving in {partition} during the reset")


def _zero_word_counts(table: Table, word: dict[str, Any]) -> None:
    table.update(
        {"PK": word["PK"], "SK": word["SK"]},
        UpdateExpression="SET correct_count = :zero, wrong_count = :zero",
        ConditionExpression="attribute_exists(PK)",
        ExpressionAttributeValues={":zero": {"N": "0"}},
    )
