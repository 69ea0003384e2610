"""Importing a checked words.db: only what differs is written, in an order a rerun can finish, then verified."""

import time
from dataclasses import dataclass
from datetime import UTC, tzinfo
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.store import StudyRepository
from chalicelib.store.errors import DatabaseBusyError, DatabaseUnavailableError
from chalicelib.store.items import activity_key, group_key, word_key
from chalicelib.store.mapping import session_word_counts
from chalicelib.store.ordinals import COUNTERS, Head
from scripts.flask_import.bulk import (
    Key,
    Progress,
    Report,
    counted,
    in_parallel,
    key_of,
    read_items,
    shown_ids,
    write,
)
from scripts.flask_import.numbering import number_sessions, numbering_of, put_heads, renumber, stored_sessions
from scripts.flask_import.plan import Plan, plan as make_plan
from scripts.flask_import.source import FlaskData


class SessionConflictError(Exception):
    """A session id in the file names another session in the table (another group, activity or start time)."""


class ImportInterruptedError(Exception):
    """DynamoDB failed after part of the import was written; running it again finishes it."""


class VerificationError(Exception):
    """What was read back after the import differs from what was meant."""


@dataclass
class ImportSummary:
    """What an import did."""

    groups: int
    words: int
    activities: int
    sessions: int
    sessions_kept: int
    reviews: int
    written: int
    unchanged: int
    deleted: int
    seconds: float
    warnings: list[str]


def import_database(
    *, repository: StudyRepository, data: FlaskData, zone: tzinfo = UTC, report: Report = lambda line: None
) -> ImportSummary:
    """Make the table hold the file's groups, words, activities, sessions and reviews: write only what differs,
    then read it back and check the counts. report() gets progress lines."""
    started = time.monotonic()
    plan = make_plan(data, zone=zone)
    table_sessions = stored_sessions(repository)
    kept = _merge(repository, plan=plan, table_sessions=table_sessions)
    stored = read_items(repository, keys=list(plan.items), report=report, what="reading the table")
    _keep_descriptions(plan, stored=stored)
    stale_reviews = _stale_reviews(repository, plan=plan, stored=stored)
    not_in_file = [key for key in _catalog_not_in_file(repository, plan=plan) if key not in kept.catalog]
    changed = [item for key, item in plan.items.items() if stored.get(key) != item]
    reviews = [item for item in changed if item["SK"].startswith("REVIEW#")]
    before_reviews = [item for item in changed if not item["SK"].startswith("REVIEW#")]
    progress = Progress(report=report, total=len(changed) + len(stale_reviews) + len(not_in_file), what="writing")
    # In an order that any interruption leaves findable by the next run: a stale review goes while its session
    # still differs from the file (the next run looks again); a review is written after its session (the reset
    # finds reviews through their sessions); what the file lacks is listed afresh by every run.
    steps = [
        ("delete", _keys(stale_reviews)),
        ("put", before_reviews),
        ("put", reviews),
        ("delete", _keys(not_in_file)),
    ]
    try:
        for kind, items in steps:
            write(repository, kind=kind, items=items, progress=progress)
        renumbered = renumber(repository, stored=kept.sessions, fields=kept.numbering)
        renumbered += _count_kept_words(repository, plan=plan, kept=kept)
        heads_written = put_heads(repository, heads=kept.heads)
    except (DatabaseBusyError, DatabaseUnavailableError, BotoCoreError, ClientError) as exc:
        raise ImportInterruptedError(
            f"DynamoDB failed after {progress.done:,} of {progress.total:,} writes ({exc}): run the same command "
            "again to finish (it writes only what is still missing)"
        ) from exc
    _verify(repository, plan=plan, stored=stored, written=[key_of(item) for item in changed], kept=kept, report=report)
    return ImportSummary(
        groups=len(plan.group_ids),
        words=len(plan.word_ids),
        activities=len(plan.activity_ids),
        sessions=len(plan.session_ids),
        sessions_kept=len(kept.sessions),
        reviews=plan.reviews,
        written=len(changed) + renumbered + heads_written,
        unchanged=len(plan.items) - len(changed),
        deleted=len(stale_reviews) + len(not_in_file),
        seconds=time.monotonic() - started,
        warnings=plan.warnings,
    )


def _keys(keys: list[Key]) -> list[dict[str, str]]:
    return [{"PK": pk, "SK": sk} for pk, sk in keys]


@dataclass
class Kept:
    """What the table keeps beside the file: its sessions the file lacks (by id, as stored), the catalog keys they
    still refer to, and the numbering and heads of the merged history."""

    sessions: dict[int, dict[str, Any]]
    catalog: set[Key]
    numbering: dict[int, dict[str, Any]]
    heads: dict[str, Head]
    word_counts: dict[int, list[int]]


def _merge(repository: StudyRepository, *, plan: Plan, table_sessions: dict[int, dict[str, Any]]) -> Kept:
    """Merge the table's history into the plan: refuse a session id that names another session in the table; keep
    the table's other sessions and what they refer to (their groups with their words, their activities, the words
    reviewed in them); number the merged history; add the kept sessions' reviews to the words' counts."""
    file_sessions = {session_id: plan.items[(f"SESSION#{session_id}", "META")] for session_id in plan.session_ids}
    identity = ("group_id", "study_activity_id", "created_at")
    conflicts = sorted(
        session_id
        for session_id, item in file_sessions.items()
        if session_id in table_sessions
        and [table_sessions[session_id].get(name) for name in identity] != [item[name] for name in identity]
    )
    if conflicts:
        first = conflicts[0]
        raise SessionConflictError(
            f"{counted(len(conflicts), 'study session')} of the file (ids {shown_ids(conflicts)}) name other "
            f"sessions in the table: session {first} is group {table_sessions[first]['group_id']}, activity "
            f"{table_sessions[first]['study_activity_id']}, started {table_sessions[first]['created_at']} in the "
            f"table and group {file_sessions[first]['group_id']}, activity {file_sessions[first]['study_activity_id']}"
            f", started {file_sessions[first]['created_at']} in the file; nothing was written"
        )
    sessions = {session_id: item for session_id, item in table_sessions.items() if session_id not in file_sessions}
    catalog: set[Key] = set()
    word_counts: dict[int, list[int]] = {}
    for item in sessions.values():
        catalog.add(key_of(group_key(int(item["group_id"]))))
        catalog.add(key_of(activity_key(int(item["study_activity_id"]))))
        for word_id, counts in session_word_counts(item).items():
            catalog.add(key_of(word_key(word_id)))
            total = word_counts.setdefault(word_id, [0, 0])
            total[0] += counts["correct_count"]
            total[1] += counts["wrong_count"]
    for group_id in sorted({int(item["group_id"]) for item in sessions.values()} - plan.group_ids):
        members = repository.table.partition(f"GROUP#{group_id}", consistent=True, projection="PK, SK, word_id")
        catalog.update(key_of(member) for member in members)
        for member in members:
            if member["SK"].startswith("WORD#"):
                word = key_of(word_key(int(member["word_id"])))
                catalog.add(word)
                if word in plan.items:  # a file's word still in a group the table keeps
                    plan.items[word]["group_ids"] = {*plan.items[word].get("group_ids", set()), group_id}
    for word_id, (correct, wrong) in word_counts.items():
        word = key_of(word_key(word_id))
        if word in plan.items:
            plan.items[word]["correct_count"] += correct
            plan.items[word]["wrong_count"] += wrong
    numbering, heads = number_sessions([*file_sessions.values(), *sessions.values()])
    for session_id, item in file_sessions.items():
        item.update(numbering[session_id])
    return Kept(sessions=sessions, catalog=catalog, numbering=numbering, heads=heads, word_counts=word_counts)


def _count_kept_words(repository: StudyRepository, *, plan: Plan, kept: Kept) -> int:
    """Set the counts of the words the table keeps beside the file's to their kept sessions' (the file's sessions
    review only the file's words); return how many were written."""
    words = [key for key in kept.catalog if key[0].startswith("WORD#") and key not in plan.items]
    stored = repository.table.get_many(
        [{"PK": pk, "SK": sk} for pk, sk in words], consistent=True, projection="id, correct_count, wrong_count"
    )
    stale = []
    for item in stored:
        wanted = kept.word_counts.get(int(item["id"]), [0, 0])
        if [item.get("correct_count", 0), item.get("wrong_count", 0)] != wanted:
            stale.append((int(item["id"]), wanted))
    for word_id, (correct, wrong) in stale:
        repository.table.update(
            word_key(word_id),
            UpdateExpression="SET correct_count = :correct, wrong_count = :wrong",
            ExpressionAttributeValues={":correct": {"N": str(correct)}, ":wrong": {"N": str(wrong)}},
        )
    return len(stale)


def _keep_descriptions(plan: Plan, *, stored: dict[Key, dict[str, Any]]) -> None:
    """An activity keeps its stored description (the file has none) if it is still the same activity by name."""
    for activity_id in plan.activity_ids:
        key = key_of(activity_key(activity_id))
        previous = stored.get(key, {})
        if previous.get("description") and previous.get("name") == plan.items[key]["name"]:
            plan.items[key]["description"] = previous["description"]


def _catalog_not_in_file(repository: StudyRepository, *, plan: Plan) -> list[Key]:
    """The table's groups (with their members), members, words and activities the file does not hold: the import
    makes the catalog the file's, as the Flask pages showed it (the seed `make dev` wrote first, say). None of
    them carries history: the table holds no session the file lacks."""
    gone: list[Key] = []
    for group_id in sorted(_listed_ids(repository, kind="GROUP") | plan.group_ids):
        gone += [
            key_of(item)
            for item in _partition(repository, partition=f"GROUP#{group_id}")
            if key_of(item) not in plan.items
        ]
    gone += [key_of(word_key(word_id)) for word_id in sorted(_listed_ids(repository, kind="WORD") - plan.word_ids)]
    gone += [
        key_of(activity_key(activity_id))
        for activity_id in sorted(_listed_ids(repository, kind="ACTIVITY") - plan.activity_ids)
    ]
    return gone


def _listed_ids(repository: StudyRepository, *, kind: str) -> set[int]:
    """The ids of every item of a kind (GROUP, WORD, ACTIVITY, SESSION), from the index that lists them."""
    items = repository.table.list_kind(kind, ProjectionExpression="PK")
    return {int(item["PK"].partition("#")[2]) for item in items}


def _stale_reviews(repository: StudyRepository, *, plan: Plan, stored: dict[Key, dict[str, Any]]) -> list[Key]:
    """Reviews in the table under the file's sessions that the file does not hold (logged after an earlier import,
    or stamped in another zone): looked for only in sessions stored otherwise than meant, so a rerun costs no
    Query. They are deleted before their session is rewritten, so an interrupted run leaves it differing."""
    stale = []
    for session_id in sorted(plan.session_ids):
        key = (f"SESSION#{session_id}", "META")
        if key in stored and stored[key] != plan.items[key]:
            stale += [
                key_of(item)
                for item in _partition(repository, partition=key[0])
                if item["SK"] != "META" and key_of(item) not in plan.items
            ]
    return stale


def _partition(repository: StudyRepository, *, partition: str) -> list[dict[str, Any]]:
    return repository.table.partition(partition, consistent=True, projection="PK, SK")


def _verify(
    repository: StudyRepository,
    *,
    plan: Plan,
    stored: dict[Key, dict[str, Any]],
    written: list[Key],
    kept: Kept,
    report: Report,
) -> None:
    """Read back every item written and compare it with what was meant; over all items meant, check groups'
    members, words' counts against their sessions', sessions' counts against their reviews (counted in the table
    for every session written now), and that the lists' index holds exactly the file's groups, words, activities
    and sessions. Items found unchanged are not read again: this run read them consistently and wrote none of them
    (its other writes delete keys outside the plan), so a second read only repeats the first (a rerun of 15,200
    items: 3 s less)."""
    rewritten = set(written)
    found = {key: item for key, item in stored.items() if key in plan.items and key not in rewritten}
    found.update(read_items(repository, keys=written, report=report, what="verifying"))
    problems = []
    differing = [key for key, item in plan.items.items() if found.get(key) != item]
    if differing:
        problems.append(
            f"{counted(len(differing), 'item')} read back differ from what was written "
            f"(first: {differing[0][0]} {differing[0][1]})"
        )
    for group_id in sorted(plan.group_ids):
        members = {
            key_of(item)
            for item in _partition(repository, partition=f"GROUP#{group_id}")
            if item["SK"].startswith("WORD#")
        }
        meant = {key for key in plan.items if key[0] == f"GROUP#{group_id}" and key[1].startswith("WORD#")}
        group = found.get((f"GROUP#{group_id}", "META"), {})
        if members != meant or group.get("words_count") != len(members):
            problems.append(
                f"group {group_id} holds {len(members)} words, its count says "
                f"{group.get('words_count')}, the file {len(meant)}"
            )
    from_sessions: dict[int, list[int]] = {word_id: list(counts) for word_id, counts in kept.word_counts.items()}
    reviews_of: dict[str, list[dict[str, Any]]] = {}
    for (pk, sk), item in found.items():
        if sk.startswith("REVIEW#"):
            reviews_of.setdefault(pk, []).append(item)
        elif pk.startswith("SESSION#"):
            for name, value in item.items():
                kind, _, word_id = name.partition("#")
                if kind in ("correct", "wrong") and word_id.isdigit():
                    from_sessions.setdefault(int(word_id), [0, 0])[kind == "wrong"] += int(value)
    words_off = [
        word_id
        for word_id in plan.word_ids
        if [found.get(key_of(word_key(word_id)), {}).get(name) for name in ("correct_count", "wrong_count")]
        != from_sessions.get(word_id, [0, 0])
    ]
    if words_off:
        problems.append(
            f"{counted(len(words_off), 'word')} whose counts differ from their sessions' (ids {shown_ids(words_off)})"
        )
    # A session written now is counted in the table, in case its partition holds reviews the file does not.
    written_sessions = sorted(pk for pk, sk in rewritten if pk.startswith("SESSION#") and sk == "META")
    in_partition = dict(
        zip(
            written_sessions,
            in_parallel(
                lambda pk: sum(item["SK"].startswith("REVIEW#") for item in _partition(repository, partition=pk)),
                written_sessions,
            ),
        )
    )
    sessions_off = [
        session_id
        for session_id in plan.session_ids
        if found.get((f"SESSION#{session_id}", "META"), {}).get("review_items_count")
        != in_partition.get(f"SESSION#{session_id}", len(reviews_of.get(f"SESSION#{session_id}", [])))
    ]
    if sessions_off:
        problems.append(
            f"{counted(len(sessions_off), 'session')} whose review count differs from its reviews "
            f"(ids {shown_ids(sessions_off)})"
        )
    stored_reviews = sum(len(reviews) for reviews in reviews_of.values())
    if stored_reviews != plan.reviews:
        problems.append(f"{stored_reviews:,} reviews read back, {plan.reviews:,} imported")

    def kept_ids(kind: str) -> set[int]:
        return {int(pk.partition("#")[2]) for pk, sk in kept.catalog if pk.startswith(f"{kind}#") and sk == "META"}

    for kind, meant in (
        ("GROUP", plan.group_ids | kept_ids("GROUP")),
        ("WORD", plan.word_ids | kept_ids("WORD")),
        ("ACTIVITY", plan.activity_ids | kept_ids("ACTIVITY")),
    ):
        listed = _listed_once_caught_up(repository, kind=kind, meant=meant)
        if listed != meant:
            problems.append(
                f"the index lists {len(listed):,} items of kind {kind}, the file and the table's sessions "
                f"{len(meant):,} (first differing id: {min(listed ^ meant)})"
            )
    problems += _numbering_problems(repository, kept=kept)
    if problems:
        raise VerificationError("verification failed: " + "; ".join(problems))


def _numbering_problems(repository: StudyRepository, *, kept: Kept) -> list[str]:
    """What differs between the lists as stored (every session the list of all sessions holds, and the heads) and
    the merged history's numbering, once the index shows it or a few seconds have passed."""
    for attempt in range(6):
        listed = stored_sessions(repository)
        off = sorted(
            session_id
            for session_id in set(listed) | set(kept.numbering)
            if session_id not in listed or numbering_of(listed[session_id]) != kept.numbering.get(session_id)
        )
        if not off:
            break
        time.sleep(0.5 * 2**attempt)
    heads = {item["SK"]: item for item in repository.table.partition(COUNTERS, consistent=True)}
    wanted = {name: head.item() for name, head in kept.heads.items() if head.count}
    problems = []
    if off:
        problems.append(f"{counted(len(off), 'session')} listed otherwise than numbered (ids {shown_ids(off)})")
    if heads != wanted:
        problems.append(f"the lists' heads differ from the merged history's ({sorted(set(heads) ^ set(wanted))})")
    return problems


def _listed_once_caught_up(repository: StudyRepository, *, kind: str, meant: set[int]) -> set[int]:
    """The ids the lists' index holds for a kind, once it shows what was meant or a few seconds have passed (it is
    updated asynchronously on DynamoDB)."""
    for attempt in range(6):
        listed = _listed_ids(repository, kind=kind)
        if listed == meant:
            break
        time.sleep(0.5 * 2**attempt)
    return listed
