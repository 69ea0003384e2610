"""Every session list numbered densely: a page of any list is a key range, and its total one small item.

Each session has an ordinal in three lists: all sessions, its group's and its activity's (1 for the oldest). A list's
count, and for the dashboard its newest day, sit in one small "head" item per list (PK=COUNTERS, SK=ALL,
GROUP#<id> or ACTIVITY#<id>), written in the same transaction as the session, on the condition that it still holds
what the writer read: so a writer that read a head knows every ordinal before its own, and the counts can never
disagree with the sessions. Ordinals follow creation times: a session's created_at is never before the newest one's.

The sessions of a list sit in index partitions of BLOCK_SIZE ordinals each (PK=<list>#<(ordinal - 1) // BLOCK_SIZE>,
SK=<ordinal>): page k of any list is one or two Queries of a key range, whatever the length of the history, and no
index partition takes the writes of more than BLOCK_SIZE sessions. A session remembers the heads as they were
before it (prev_*): the reset undoes creates newest first, leaving every head exact at every step.
docs/design.md ("Lists at any history size") has the costs."""

from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

from chalicelib.store.mapping import to_attributes
from chalicelib.store.table import ACTIVITY_SESSIONS_INDEX, ALL_SESSIONS_INDEX, GROUP_SESSIONS_INDEX

# Ordinals an index partition holds: at least the largest page (100), so a page spans two at most; and no more, as
# ministack's Query costs grow with the partition it reads (on DynamoDB a key range costs only its items).
BLOCK_SIZE = 100
COUNTERS = "COUNTERS"
ALL = "ALL"
ORDINAL_DIGITS = 12


def group_list(group_id: int) -> str:
    return f"GROUP#{group_id}"


def activity_list(study_activity_id: int) -> str:
    return f"ACTIVITY#{study_activity_id}"


def lists_of(*, group_id: int, study_activity_id: int) -> tuple[str, str, str]:
    """The three lists a session is in: all sessions, its group's, its activity's."""
    return ALL, group_list(group_id), activity_list(study_activity_id)


def head_key(name: str) -> dict[str, str]:
    return {"PK": COUNTERS, "SK": name}


# Each list's index, and the attribute that holds the session's ordinal in it.
_INDEX = {"ALL": ALL_SESSIONS_INDEX, "GROUP": GROUP_SESSIONS_INDEX, "ACTIVITY": ACTIVITY_SESSIONS_INDEX}
_ORDINAL_ATTRIBUTE = {"ALL": "ordinal", "GROUP": "group_ordinal", "ACTIVITY": "activity_ordinal"}


def _kind(name: str) -> str:
    return name.partition("#")[0]


def index_of(name: str) -> str:
    return _INDEX[_kind(name)]


def ordinal_attribute(name: str) -> str:
    return _ORDINAL_ATTRIBUTE[_kind(name)]


def block_partition(name: str, ordinal: int) -> str:
    """The index partition holding this ordinal of the list: ordinals 1 to BLOCK_SIZE in block 0, and so on."""
    return f"{'SESSIONS' if name == ALL else name}#{(ordinal - 1) // BLOCK_SIZE}"


def sort_key(ordinal: int) -> str:
    return f"{ordinal:0{ORDINAL_DIGITS}d}"


def index_keys(name: str, ordinal: int) -> dict[str, Any]:
    """The session's keys in the list's index, and its ordinal there."""
    index = index_of(name)
    return {
        f"{index}PK": block_partition(name, ordinal),
        f"{index}SK": sort_key(ordinal),
        ordinal_attribute(name): ordinal,
    }


@dataclass(frozen=True)
class Head:
    """A list's head as stored (stored=False: no item, an empty list). last_day (all sessions and a group's) is the
    UTC day of the newest session; run_start (all sessions) the first of the run of consecutive days with a session
    that ends on last_day; newest (all sessions) the newest created_at."""

    name: str
    count: int = 0
    last_day: str | None = None
    run_start: str | None = None
    newest: str | None = None
    stored: bool = False

    def item(self) -> dict[str, Any]:
        item: dict[str, Any] = {**head_key(self.name), "item_type": "list_head", "count": self.count}
        for field in ("last_day", "run_start", "newest"):
            if getattr(self, field) is not None:
                item[field] = getattr(self, field)
        return item


def head_from_item(name: str, item: dict[str, Any] | None) -> Head:
    """A head as read (None: no item)."""
    if item is None:
        return Head(name=name)
    return Head(
        name=name,
        count=int(item.get("count", 0)),
        last_day=item.get("last_day"),
        run_start=item.get("run_start"),
        newest=item.get("newest"),
        stored=True,
    )


def next_day(day: str) -> str:
    return (date.fromisoformat(day) + timedelta(days=1)).isoformat()


def after_session(head: Head, *, created_at: str) -> Head:
    """The head once a session created at created_at (never before head.newest) has joined its list."""
    day = created_at[:10]
    if head.name == ALL:
        if head.last_day == day or head.last_day is not None and next_day(head.last_day) == day:
            run_start = head.run_start
        else:
            run_start = day
        return replace(head, count=head.count + 1, last_day=day, run_start=run_start, newest=created_at, stored=True)
    if _kind(head.name) == "GROUP":
        return replace(head, count=head.count + 1, last_day=max(head.last_day or day, day), stored=True)
    return replace(head, count=head.count + 1, stored=True)


def numbering(heads: tuple[Head, Head, Head], *, created_at: str) -> dict[str, Any]:
    """A new session's ordinals and index keys in its three lists (all, group, activity: heads before it), and the
    heads before it, which the reset restores when it deletes the session."""
    fields: dict[str, Any] = {}
    for head in heads:
        fields.update(index_keys(head.name, head.count + 1))
    everything, group, _ = heads
    fields["prev_day"] = everything.last_day
    fields["prev_run_start"] = everything.run_start
    fields["prev_newest"] = everything.newest
    fields["prev_group_day"] = group.last_day
    return {name: value for name, value in fields.items() if value is not None}


def head_write(table_name: str, *, before: Head, after: Head) -> dict[str, Any]:
    """The transaction's write of a head: the new head, only if the stored one is still `before`."""
    condition: dict[str, Any] = (
        {"ConditionExpression": "#count = :count", "ExpressionAttributeValues": {":count": {"N": str(before.count)}}}
        if before.stored
        else {"ConditionExpression": "attribute_not_exists(PK)"}
    )
    if before.stored:
        condition["ExpressionAttributeNames"] = {"#count": "count"}
    if after.count == 0:
        return {
            "Delete": {
                "TableName": table_name,
                "Key": to_attributes(head_key(after.name)),
                **condition,
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }
    return {
        "Put": {
            "TableName": table_name,
            "Item": to_attributes(after.item()),
            **condition,
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
    }


def page_range(count: int, *, page: int, per_page: int, descending: bool = True) -> tuple[int, int] | None:
    """The ordinals (lowest, highest) of page `page` of a list of `count`, newest first or oldest first; None past
    the end."""
    skip = (page - 1) * per_page
    if skip >= count:
        return None
    if descending:
        highest = count - skip
        return max(1, highest - per_page + 1), highest
    lowest = skip + 1
    return lowest, min(count, lowest + per_page - 1)


def current_streak(head: Head, *, today: date) -> int:
    """Consecutive days with a session, ending today or yesterday (0 when neither has one)."""
    if head.last_day is None or head.run_start is None:
        return 0
    last = date.fromisoformat(head.last_day)
    if last not in (today, today - timedelta(days=1)):
        return 0
    return (last - date.fromisoformat(head.run_start)).days + 1
