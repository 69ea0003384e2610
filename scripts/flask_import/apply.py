"""Importing a checked words.db: only what differs is written, in an order a rerun can finish, then verified."""

import time
from dataclasses import dataclass
from datetime import UTC, tzinfo
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.store import StudyRepository
from chalicelib.store.errors import DatabaseBusyError, DatabaseUnavailableError
from chalicelib.store.items import activity_key, word_key
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
from scripts.flask_import.plan import Plan, plan as make_plan
from scripts.flask_import.source import FlaskData


class ForeignSessionsError(Exception):
    """The table holds study sessions the file does not: their counts could not agree with the file's."""


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
    _refuse_foreign_sessions(repository, session_ids=plan.session_ids)
    stored = read_items(repository, keys=list(plan.items), report=report, what="reading the table")
    _keep_descriptions(plan, stored=stored)
    stale_reviews = _stale_reviews(repository, plan=plan, stored=stored)
    not_in_file = _catalog_not_in_file(repository, plan=plan)
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
    except (DatabaseBusyError, DatabaseUnavailableError, BotoCoreError, ClientError) as exc:
        raise ImportInterruptedError(
            f"DynamoDB failed after {progress.done:,} of {progress.total:,} writes ({exc}): run the same command "
            "again to finish (it writes only what is still missing)"
        ) from exc
    _verify(repository, plan=plan, stored=stored, written=[key_of(item) for item in changed], report=report)
    return ImportSummary(
        groups=len(plan.group_ids),
        words=len(plan.word_ids),
        activities=len(plan.activity_ids),
        sessions=len(plan.session_ids),
        reviews=plan.reviews,
        written=len(changed),
        unchanged=len(plan.items) - len(changed),
        deleted=len(stale_reviews) + len(not_in_file),
        seconds=time.monotonic() - started,
        warnings=plan.warnings,
    )


def _keys(keys: list[Key]) -> list[dict[str, str]]:
    return [{"PK": pk, "SK": sk} for pk, sk in keys]


def _refuse_foreign_sessions(repository: StudyRepository, *, session_ids: set[int]) -> None:
    foreign = sorted(item_id for item_id in _listed_ids(repository, kind="SESSION") if item_id not in session_ids)
    if foreign:
        raise ForeignSessionsError(
            f"the table holds {counted(len(foreign), 'study session')} the file does not (ids {shown_ids(foreign)}); "
            "their reviews could not agree with the file's counts: reset the sessions first "
            "(POST /api/study-sessions/reset, the Settings page) or import into an empty table"
        )


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
    repository: StudyRepository, *, plan: Plan, stored: dict[Key, dict[str, Any]], written: list[Key], report: Report
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
    from_sessions: dict[int, list[int]] = {}
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
    for kind, meant in (
        ("GROUP", plan.group_ids),
        ("WORD", plan.word_ids),
        ("ACTIVITY", plan.activity_ids),
        ("SESSION", plan.session_ids),
    ):
        listed = _listed_once_caught_up(repository, kind=kind, meant=meant)
        if listed != meant:
            problems.append(
                f"the index lists {len(listed):,} items of kind {kind}, the file "
                f"{len(meant):,} (first differing id: {min(listed ^ meant)})"
            )
    if problems:
        raise VerificationError("verification failed: " + "; ".join(problems))


def _listed_once_caught_up(repository: StudyRepository, *, kind: str, meant: set[int]) -> set[int]:
    """The ids the lists' index holds for a kind, once it shows what was meant or a few seconds have passed (it is
    updated asynchronously on DynamoDB)."""
    for attempt in range(6):
        listed = _listed_ids(repository, kind=kind)
        if listed == meant:
            break
        time.sleep(0.5 * 2**attempt)
    return listed
