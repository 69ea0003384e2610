"""Writing a new study session: the read that checks its group, activity, lists' heads and idempotency key, and the
one transaction that writes the session with its three lists' heads (store/ordinals.py)."""

import random
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from chalicelib.cache import ReferenceCache
from chalicelib.store import idempotency
from chalicelib.store.dynamo import Table
from chalicelib.store.errors import (
    BUSY_ERROR_CODES,
    CreateConflictError,
    DatabaseBusyError,
    IdempotencyKeyInFlightError,
    SessionIdCollisionError,
    database_errors,
)
from chalicelib.store.items import activity_key, format_timestamp, group_key, idempotency_key, session_item
from chalicelib.store.mapping import Activity, Group, Session, from_attributes, session_from_item, to_attributes
from chalicelib.store.ordinals import Head, after_session, head_from_item, head_key, head_write, numbering
from chalicelib.store.table import TTL_ATTRIBUTE

# Of a create whose lists' heads other creates moved meanwhile. Creates take turns on the head of all sessions: at
# worst one attempt in CREATE_ATTEMPTS wins per concurrent create, so this many covers tens of creates at once.
CREATE_ATTEMPTS = 20


class HeadsMovedError(Exception):
    """Another create changed a list's head since it was read: nothing was written. heads holds each head as the
    refusal showed it (None: not known, read it again)."""

    def __init__(self, heads: dict[str, Head | None]) -> None:
        super().__init__("a list's head moved")
        self.heads = heads


def read_before_create(
    table: Table, *, group_id: int, study_activity_id: int, lists: tuple[str, ...], key: str | None, now: datetime
) -> tuple[dict[str, Any] | None, dict[str, Any] | None, dict[str, Any] | None, dict[str, Head]]:
    """The group, the activity, the live record of the idempotency key (None for each one missing) and the heads
    of the session's lists: one consistent BatchGetItem, which must answer whole."""
    the_group, the_activity = group_key(group_id), activity_key(study_activity_id)
    record_key = idempotency_key(key) if key is not None else None
    keys = [the_group, the_activity, *(head_key(name) for name in lists)] + ([record_key] if record_key else [])
    with database_errors():
        response = table.client.batch_get_item(
            RequestItems={table.name: {"Keys": [to_attributes(each) for each in keys], "ConsistentRead": True}}
        )
    if response.get("UnprocessedKeys"):
        raise DatabaseBusyError("BatchGetItem left keys unprocessed")
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for attributes in response["Responses"].get(table.name, []):
        item = from_attributes(attributes)
        found[item["PK"], item["SK"]] = item
    record = found.get((record_key["PK"], record_key["SK"])) if record_key else None
    heads = {name: head_from_item(name, found.get(("COUNTERS", name))) for name in lists}
    return (
        found.get((the_group["PK"], the_group["SK"])),
        found.get((the_activity["PK"], the_activity["SK"])),
        record if idempotency.is_live(record, now=now) else None,
        heads,
    )


def write_session(
    table: Table,
    *,
    item: dict[str, Any],
    heads: list[tuple[Head, Head]],
    record: dict[str, Any] | None = None,
    now: datetime,
) -> Session:
    """Write the new session, its lists' heads (each (before, after), only if still `before`) and the idempotency
    key's record (if any) together, or nothing; return the session (the key's, if a repeat took the key first).

    Raises HeadsMovedError when a head moved (the caller numbers the session again), SessionIdCollisionError when
    the id is taken."""
    put = {
        "TableName": table.name,
        "Item": to_attributes(item),
        "ConditionExpression": "attribute_not_exists(PK)",
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }
    items: list[dict[str, Any]] = [{"Put": put}]
    items += [head_write(table.name, before=before, after=after) for before, after in heads]
    if record is not None:
        items.append(idempotency.record_put(table_name=table.name, record=record, now=now))
    try:
        table.transact(items)
    except table.client.exceptions.TransactionCanceledException as exc:
        reasons = exc.response.get("CancellationReasons") or []
        reasons = reasons + [{}] * (len(items) - len(reasons))
        codes = [reason.get("Code") for reason in reasons]
        if record is not None and codes[-1] == "ConditionalCheckFailed" and "Item" in reasons[-1]:
            # The key was taken first: by a concurrent repeat, or by our own transaction that boto3 resent.
            return idempotency.replay_session(from_attributes(reasons[-1]["Item"]), request_hash=record["request_hash"])
        if codes[0] == "ConditionalCheckFailed":
            if reasons[0].get("Item") == items[0]["Put"]["Item"]:
                return session_from_item(item)  # boto3 resent our transaction after its answer was lost
            raise SessionIdCollisionError(item["id"]) from exc
        if record is not None and codes[-1] == "TransactionConflict":
            raise IdempotencyKeyInFlightError() from exc
        busy = set(codes) & BUSY_ERROR_CODES
        if busy:
            raise DatabaseBusyError(busy.pop()) from exc
        moved: dict[str, Head | None] = {}
        for (before, _), reason in zip(heads, reasons[1 : 1 + len(heads)]):
            if reason.get("Code") == "ConditionalCheckFailed":
                stored = from_attributes(reason["Item"]) if "Item" in reason else None
                moved[before.name] = head_from_item(before.name, stored)
        if "TransactionConflict" in codes:
            # Another create holds a head (or the session's key) this moment: read every head again.
            moved = {before.name: None for before, _ in heads}
        if moved:
            raise HeadsMovedError(moved) from exc
        raise
    return session_from_item(item)


def create_numbered(
    table: Table,
    *,
    session_id: int,
    group: Group,
    activity: Activity,
    heads: dict[str, Head | None],
    lists: tuple[str, str, str],
    key: str | None,
    request_hash: str | None,
    now: datetime,
    clock: Callable[[], datetime],
    cache: ReferenceCache,
) -> Session:
    """Number the new session in its three lists from their heads (None: read it) and write it with them; again,
    from the heads the refusal showed, while other creates move them first. Heads that this process wrote or saw
    are kept in the reference cache: the next create here is one request when no other process created meanwhile."""
    for attempt in range(1, CREATE_ATTEMPTS + 1):
        if attempt > 1:
            time.sleep(random.uniform(0, 0.002 * 2 ** min(attempt, 7)))  # full jitter: the creates that lost spread out
            now = clock()
        if None in heads.values():
            missing = [name for name, head in heads.items() if head is None]
            found = {item["SK"]: item for item in table.get_many([head_key(name) for name in missing], consistent=True)}
            heads = {**heads, **{name: head_from_item(name, found.get(name)) for name in missing}}
        olds = [head for head in (heads[name] for name in lists) if head is not None]
        # Never before the newest session: ordinals follow creation times, whatever each Lambda's clock says.
        created_at = max(format_timestamp(now), olds[0].newest or "")
        news = [after_session(head, created_at=created_at) for head in olds]
        item = session_item(
            session_id=session_id,
            group_id=group["id"],
            group_name=group["name"],
            study_activity_id=activity["id"],
            activity_name=activity["name"],
            created_at=created_at,
            numbering=numbering((olds[0], olds[1], olds[2]), created_at=created_at),
        )
        record = None
        if key is not None:
            record = {
                **idempotency_key(key),
                "item_type": "idempotency_key",
                "request_hash": request_hash,
                "session": session_from_item(item),
                TTL_ATTRIBUTE: idempotency.expires_at(now),
            }
        try:
            session = write_session(table, item=item, heads=list(zip(olds, news)), record=record, now=now)
        except HeadsMovedError as moved:
            heads = {**heads, **moved.heads}
            for head in moved.heads.values():
                if head is not None:
                    cache.put(("head", head.name), head)
            continue
        if session["id"] == session_id:  # ours, not the first request's of the key
            for head in news:
                cache.put(("head", head.name), head)
        return session
    raise CreateConflictError()
