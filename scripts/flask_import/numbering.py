"""Numbering a whole history at once (store/ordinals.py): the import's merge, and a table written before ordinals.

Sessions are numbered in order of creation time (ties by id), each list from 1, with the heads the creates would
have left; `renumber` writes only the numbering fields of stored sessions (an UpdateItem of those fields alone, so a
review logged meanwhile keeps its counts) and the heads, where they differ."""

from typing import Any

from chalicelib.store import StudyRepository
from chalicelib.store.lists import read_head, read_range
from chalicelib.store.mapping import to_attributes
from chalicelib.store.ordinals import ALL, COUNTERS, Head, after_session, head_key, lists_of, numbering
from scripts.flask_import.bulk import Report, counted, in_parallel

# The attributes numbering gives a session: its keys and ordinals in the three lists, and the heads before it.
NUMBERING_FIELDS = (
    "GSI1PK",
    "GSI1SK",
    "GSI2PK",
    "GSI2SK",
    "GSI3PK",
    "GSI3SK",
    "ordinal",
    "group_ordinal",
    "activity_ordinal",
    "prev_day",
    "prev_run_start",
    "prev_newest",
    "prev_group_day",
)


def stored_sessions(repository: StudyRepository) -> dict[int, dict[str, Any]]:
    """Every session item in the table, by id: those numbered in the list of all sessions, and any a table
    written before ordinals lists under GSI2PK=SESSION. Reads the whole history: for the import only."""
    table = repository.table
    head = read_head(table, ALL)
    numbered = read_range(table, ALL, 1, head.count, descending=False) if head.count else []
    older = table.list_kind("SESSION")
    return {int(item["id"]): item for item in [*older, *numbered]}


def number_sessions(sessions: list[dict[str, Any]]) -> tuple[dict[int, dict[str, Any]], dict[str, Head]]:
    """Each session's numbering fields (by id) and every list's head, for this whole set of sessions."""
    heads: dict[str, Head] = {}
    fields: dict[int, dict[str, Any]] = {}
    for session in sorted(sessions, key=lambda session: (session["created_at"], int(session["id"]))):
        names = lists_of(group_id=int(session["group_id"]), study_activity_id=int(session["study_activity_id"]))
        before = tuple(heads.get(name) or Head(name=name) for name in names)
        fields[int(session["id"])] = numbering((before[0], before[1], before[2]), created_at=session["created_at"])
        for head in before:
            heads[head.name] = after_session(head, created_at=session["created_at"])
    return fields, heads


def numbering_of(item: dict[str, Any]) -> dict[str, Any]:
    """The numbering fields a stored session holds."""
    return {name: item[name] for name in NUMBERING_FIELDS if name in item}


def renumber(
    repository: StudyRepository, *, stored: dict[int, dict[str, Any]], fields: dict[int, dict[str, Any]]
) -> int:
    """Give these stored sessions these numbering fields where theirs differ; return how many were written."""
    stale = [
        session_id
        for session_id, wanted in fields.items()
        if session_id in stored and numbering_of(stored[session_id]) != wanted
    ]

    def write(session_id: int) -> None:
        wanted = fields[session_id]
        gone = [name for name in NUMBERING_FIELDS if name not in wanted and name in stored[session_id]]
        names = {f"#{name}": name for name in [*wanted, *gone]}
        update = "SET " + ", ".join(f"#{name} = :{name}" for name in wanted)
        if gone:
            update += " REMOVE " + ", ".join(f"#{name}" for name in gone)
        repository.table.update(
            {"PK": f"SESSION#{session_id}", "SK": "META"},
            UpdateExpression=update,
            ConditionExpression="attribute_exists(PK)",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=to_attributes({f":{name}": value for name, value in wanted.items()}),
        )

    in_parallel(write, stale)
    return len(stale)


def put_heads(repository: StudyRepository, *, heads: dict[str, Head]) -> int:
    """Make the stored heads exactly these (deleting any other); return how many items were written or deleted."""
    table = repository.table
    stored = {item["SK"]: item for item in table.partition(COUNTERS, consistent=True)}
    wanted = {name: head.item() for name, head in heads.items() if head.count}
    puts = [item for name, item in wanted.items() if stored.get(name) != item]
    deletes = [head_key(name) for name in stored if name not in wanted]
    table.put_items(puts)
    table.delete_keys(deletes)
    return len(puts) + len(deletes)


def number_older_sessions(repository: StudyRepository, *, report: Report = lambda line: None) -> int:
    """Number the whole history if the table holds sessions written before the lists were numbered (they are
    listed under GSI2PK=SESSION); return the items written. One Query for one key when there are none."""
    if not repository.has_any(kind="SESSION"):
        return 0
    stored = stored_sessions(repository)
    fields, heads = number_sessions(list(stored.values()))
    report(f"numbering {counted(len(stored), 'study session')} written before the lists were numbered")
    return renumber(repository, stored=stored, fields=fields) + put_heads(repository, heads=heads)
