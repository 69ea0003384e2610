"""Reading the session lists by ordinal (store/ordinals.py): heads, and a range of a list in one Query per block."""

from typing import Any

from chalicelib.store.dynamo import Table
from chalicelib.store.items import session_key
from chalicelib.store.mapping import Session, decode_cursor, encode_cursor, page_slice, session_from_item, sorted_by
from chalicelib.store.ordinals import (
    ALL,
    BLOCK_SIZE,
    COUNTERS,
    Head,
    block_partition,
    head_from_item,
    head_key,
    index_of,
    page_range,
    sort_key,
)


def read_head(table: Table, name: str) -> Head:
    """A list's head, read consistently: its count counts every session whose create has answered."""
    return head_from_item(name, table.get(head_key(name), consistent=True))


def read_range(
    table: Table, name: str, lowest: int, highest: int, *, descending: bool = True, projection: list[str] | None = None
) -> list[dict[str, Any]]:
    """The sessions with ordinals lowest..highest in the list, newest first (descending) or oldest first (only the
    projection's attributes, if given): one Query of a key range per block of BLOCK_SIZE ordinals it touches (a page:
    one, or two)."""
    index = index_of(name)
    names = {"#pk": f"{index}PK", "#sk": f"{index}SK"}
    extra: dict[str, Any] = {}
    if projection is not None:
        names.update({f"#p{number}": field for number, field in enumerate(projection)})
        extra["ProjectionExpression"] = ", ".join(f"#p{number}" for number in range(len(projection)))
    blocks = range((lowest - 1) // BLOCK_SIZE, (highest - 1) // BLOCK_SIZE + 1)
    items: list[dict[str, Any]] = []
    for block in reversed(blocks) if descending else blocks:
        first, last = max(lowest, block * BLOCK_SIZE + 1), min(highest, (block + 1) * BLOCK_SIZE)
        items += table.query_all(
            IndexName=index,
            KeyConditionExpression="#pk = :block AND #sk BETWEEN :first AND :last",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={
                ":block": {"S": block_partition(name, first)},
                ":first": {"S": sort_key(first)},
                ":last": {"S": sort_key(last)},
            },
            ScanIndexForward=not descending,
            **extra,
        )
    return items


def head_of_existing(table: Table, name: str, key: dict[str, str]) -> Head | None:
    """A list's head, or None when it has no sessions and `key` (its group or activity) does not exist: one
    consistent BatchGetItem of both."""
    found = {(item["PK"], item["SK"]): item for item in table.get_many([head_key(name), key], consistent=True)}
    stored = found.get((COUNTERS, name))
    if stored is None and (key["PK"], key["SK"]) not in found:
        return None
    return head_from_item(name, stored)


def list_page(
    table: Table, head: Head, *, page: int, per_page: int, descending: bool = True
) -> tuple[list[Session], int]:
    """Page `page` of the list (newest first, or oldest first) and its length: one Query of the page's ordinals
    (two, if the page spans two blocks)."""
    span = page_range(head.count, page=page, per_page=per_page, descending=descending)
    if span is None:
        return [], head.count
    items = read_range(table, head.name, *span, descending=descending)
    return [session_from_item(item) for item in items], head.count


def sorted_page(
    table: Table, head: Head, *, sort_by: str, descending: bool, page: int, per_page: int
) -> tuple[list[Session], int]:
    """Page `page` of the list sorted by a field that reviews change (end_time, review_items_count, ...): the sort
    fields of every session of the list (one Query per BLOCK_SIZE of them, projected to those fields), sorted here,
    then the page's sessions whole (one BatchGetItem). The bound is the list's length: a group's sessions."""
    if not head.count:
        return [], head.count
    fields = ["id", sort_by]
    keys = read_range(table, head.name, 1, head.count, projection=fields)
    ordered = sorted_by(
        [{"id": int(key["id"]), sort_by: key[sort_by]} for key in keys], key=sort_by, descending=descending
    )
    wanted = [row["id"] for row in page_slice(ordered, page=page, per_page=per_page)]
    found = {int(item["id"]): item for item in table.get_many([session_key(session_id) for session_id in wanted])}
    return [session_from_item(found[session_id]) for session_id in wanted if session_id in found], head.count


def sessions_after(table: Table, *, limit: int, cursor: str | None) -> tuple[list[Session], str | None]:
    """The `limit` sessions newest first after the cursor's (from the newest without one), and the next page's
    cursor (None at the end): the head of all sessions for the first page, then one Query (two across a block)."""
    highest = decode_cursor(cursor) - 1 if cursor is not None else read_head(table, ALL).count
    if highest < 1:
        return [], None
    items = read_range(table, ALL, max(1, highest - limit + 1), highest)
    sessions = [session_from_item(item) for item in items]
    if not items or int(items[-1]["ordinal"]) == 1:
        return sessions, None
    return sessions, encode_cursor(sessions[-1], ordinal=int(items[-1]["ordinal"]))


def newest_session(table: Table) -> Session | None:
    """The newest session, or None: the head of all sessions, then one Query for its newest ordinal."""
    head = read_head(table, ALL)
    items = read_range(table, ALL, head.count, head.count) if head.count else []
    return session_from_item(items[0]) if items else None
