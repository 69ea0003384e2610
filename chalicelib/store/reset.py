"""The Settings page's reset: every session and review deleted, every word's counts set back to 0."""

import contextvars
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any, TypedDict

from chalicelib.store.dynamo import BATCH_WRITE_LIMIT, Table, chunks
from chalicelib.store.errors import BUSY_ERROR_CODES, DatabaseBusyError
from chalicelib.store.lists import read_head, read_range
from chalicelib.store.mapping import to_attributes
from chalicelib.store.ordinals import (
    ALL,
    Head,
    activity_list,
    group_list,
    head_from_item,
    head_key,
    head_write,
    ordinal_attribute,
)

RESET_WORKERS = 8
CHUNK = 40  # sessions one transaction deletes, with their lists' heads (DynamoDB and moto allow 100 items)
INDEX_WAITS = 20  # pauses for an index that has not caught up with the newest sessions yet (DynamoDB's lag)


class ResetSummary(TypedDict):
    sessions_deleted: int
    reviews_deleted: int
    words_reset: int
    sessions_left: int
    complete: bool


def reset_history(table: Table, *, deadline: float) -> ResetSummary:
    """Delete every session and review and zero every word's counts, until time.monotonic() reaches deadline.

    Sessions go newest first, CHUNK at a time, each chunk in one transaction with its lists' heads set back to what
    they were before its oldest session (store/ordinals.py): every list and the dashboard stay exact between
    chunks and between calls. A chunk's reviews go first; the chunk then goes only if no review came in meanwhile,
    and only if no session was created since its heads were read (else it is read again). A word is zeroed by
    setting, not subtracting. complete is False when the deadline stopped it; sessions_left says how many remain."""
    summary = ResetSummary(sessions_deleted=0, reviews_deleted=0, words_reset=0, sessions_left=0, complete=False)
    with ThreadPoolExecutor(max_workers=RESET_WORKERS) as pool:

        def each(function: Callable[[Any], Any], arguments: list[Any]) -> list[Any]:
            # In the caller's context, so the access log counts the requests the threads send.
            context = contextvars.copy_context()
            return list(pool.map(lambda argument: context.copy().run(function, argument), arguments))

        waits = 0
        while True:
            head = read_head(table, ALL)
            summary["sessions_left"] = head.count
            if head.count == 0:
                break
            if time.monotonic() >= deadline:
                return summary
            lowest = max(1, head.count - CHUNK + 1)
            sessions = read_range(table, ALL, lowest, head.count)
            if [int(session["ordinal"]) for session in sessions] != list(range(head.count, lowest - 1, -1)):
                waits += 1
                if waits > INDEX_WAITS:
                    raise DatabaseBusyError("the all-sessions index does not show the newest sessions")
                time.sleep(0.1)
                continue
            deleted = each(lambda session: _delete_reviews(table, partition=session["PK"], deadline=deadline), sessions)
            if None in deleted:
                return summary
            if _delete_chunk(table, head=head, sessions=sessions):
                summary["sessions_deleted"] += len(sessions)
                summary["reviews_deleted"] += sum(int(session.get("review_items_count", 0)) for session in sessions)
                summary["sessions_left"] = lowest - 1
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


def _delete_reviews(table: Table, *, partition: str, deadline: float) -> int | None:
    """Delete a session's review items (not the session); return how many, or None if the deadline came first."""
    items = table.partition(partition, consistent=True, projection="PK, SK")
    children = [item for item in items if item["SK"] != "META"]
    for batch in chunks(children, BATCH_WRITE_LIMIT):
        if time.monotonic() >= deadline:
            return None  # the session stays, so a later reset finds what is left
        table.delete_keys(batch)
    return len(children)


def _delete_chunk(table: Table, *, head: Head, sessions: list[dict[str, Any]]) -> bool:
    """Delete the newest sessions (newest first, their ordinals head.count down) with their lists' heads set back;
    False when a review or a create came in meanwhile (nothing was deleted)."""
    oldest = sessions[-1]
    lists: dict[str, list[dict[str, Any]]] = {}
    for session in sessions:
        lists.setdefault(group_list(int(session["group_id"])), []).append(session)
        lists.setdefault(activity_list(int(session["study_activity_id"])), []).append(session)
    found = {item["SK"]: item for item in table.get_many([head_key(name) for name in lists], consistent=True)}
    writes = [
        (
            head,
            Head(
                name=ALL,
                count=int(oldest["ordinal"]) - 1,
                last_day=oldest.get("prev_day"),
                run_start=oldest.get("prev_run_start"),
                newest=oldest.get("prev_newest"),
                stored=True,
            ),
        )
    ]
    for name, members in lists.items():
        before = head_from_item(name, found.get(name))
        # The newest sessions of all are the newest of each of their lists: each list shrinks from its end.
        first = min(int(session[ordinal_attribute(name)]) for session in members)
        last_day = members[-1].get("prev_group_day") if name.startswith("GROUP#") else None
        writes.append((before, replace(before, count=first - 1, last_day=last_day, stored=True)))
    items = [
        {
            "Delete": {
                "TableName": table.name,
                "Key": to_attributes({"PK": session["PK"], "SK": "META"}),
                **_unreviewed_since(session),
            }
        }
        for session in sessions
    ]
    items += [head_write(table.name, before=before, after=after) for before, after in writes]
    try:
        table.transact(items)
    except table.client.exceptions.TransactionCanceledException as exc:
        codes = {reason.get("Code") for reason in exc.response.get("CancellationReasons") or []}
        busy = codes & BUSY_ERROR_CODES
        if busy:
            raise DatabaseBusyError(busy.pop()) from exc
        return False  # a review or a create (or another reset) came first: read again
    return True


def _unreviewed_since(session: dict[str, Any]) -> dict[str, Any]:
    """The condition that no review came into the session since it was read."""
    seen = session.get("review_items_count")
    if seen is None:
        return {"ConditionExpression": "attribute_not_exists(review_items_count)"}
    return {
        "ConditionExpression": "review_items_count = :seen",
        "ExpressionAttributeValues": to_attributes({":seen": seen}),
    }


def _zero_word_counts(table: Table, word: dict[str, Any]) -> None:
    table.update(
        {"PK": word["PK"], "SK": word["SK"]},
        UpdateExpression="SET correct_count = :zero, wrong_count = :zero",
        ConditionExpression="attribute_exists(PK)",
        ExpressionAttributeValues={":zero": {"N": "0"}},
    )
