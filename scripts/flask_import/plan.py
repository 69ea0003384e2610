"""What the table should hold: the items a checked file stands for, and warnings about what it leaves out."""

from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from chalicelib.store.items import (
    activity_item,
    format_timestamp,
    group_item,
    member_item,
    review_item,
    session_item,
    word_item,
)
from scripts.flask_import.bulk import Key, counted, key_of, shown_ids
from scripts.flask_import.source import FlaskData


@dataclass
class Plan:
    """The items the file stands for, by key; the ids of each kind and the number of reviews among them."""

    items: dict[Key, dict[str, Any]]
    group_ids: set[int]
    word_ids: set[int]
    activity_ids: set[int]
    session_ids: set[int]
    reviews: int
    warnings: list[str]


def plan(data: FlaskData, *, zone: tzinfo) -> Plan:
    """The items the file stands for, before the table is read; warnings about what was left out or differs."""
    warnings = list(data.warnings)

    def stamp(moment: datetime) -> str:
        return format_timestamp(moment.replace(tzinfo=zone))

    pairs = set(data.memberships)
    kept = {(word_id, group_id) for word_id, group_id in pairs if word_id in data.words and group_id in data.groups}
    if len(pairs) < len(data.memberships):
        warnings.append(
            f"word_groups repeats {counted(len(data.memberships) - len(pairs), 'row')} "
            "(a word listed in a group again): each word imported once"
        )
    skipped = sum(1 for pair in data.memberships if pair not in kept)
    if skipped:
        warnings.append(f"skipped {counted(skipped, 'word_groups row')} naming a word or group the file does not hold")
    members: dict[int, list[int]] = {group_id: [] for group_id in data.groups}
    groups_of: dict[int, set[int]] = {word_id: set() for word_id in data.words}
    for word_id, group_id in sorted(kept):
        members[group_id].append(word_id)
        groups_of[word_id].add(group_id)
    stale_cache = [
        group_id for group_id, group in data.groups.items() if group["cached_words_count"] != len(members[group_id])
    ]
    if stale_cache:
        warnings.append(
            f"groups.words_count differs from the group's words for {counted(len(stale_cache), 'group')} "
            f"(ids {shown_ids(stale_cache)}): imported the number of its words"
        )

    sessions = {
        session_id: session
        for session_id, session in data.sessions.items()
        if session["group_id"] in data.groups and session["study_activity_id"] in data.activities
    }
    if len(sessions) < len(data.sessions):
        warnings.append(
            f"skipped {counted(len(data.sessions) - len(sessions), 'session')} whose group or activity "
            f"the file does not hold (ids {shown_ids(set(data.sessions) - set(sessions))})"
        )
    reviews = [
        review for review in data.reviews if review["session_id"] in sessions and review["word_id"] in data.words
    ]
    if len(reviews) < len(data.reviews):
        warnings.append(
            f"skipped {counted(len(data.reviews) - len(reviews), 'review')} whose session or word is not imported"
        )

    items: dict[Key, dict[str, Any]] = {}

    def add(item: dict[str, Any]) -> None:
        items[key_of(item)] = item

    word_counts: dict[int, list[int]] = {word_id: [0, 0] for word_id in data.words}
    session_counts: dict[int, dict[int, list[int]]] = {session_id: {} for session_id in sessions}
    session_end: dict[int, datetime] = {session_id: session["created_at"] for session_id, session in sessions.items()}
    for review in reviews:
        column = 0 if review["correct"] else 1
        word_counts[review["word_id"]][column] += 1
        session_counts[review["session_id"]].setdefault(review["word_id"], [0, 0])[column] += 1
        session_end[review["session_id"]] = max(session_end[review["session_id"]], review["created_at"])
    disagreeing = [
        word_id for word_id, counts in word_counts.items() if tuple(counts) != data.word_reviews.get(word_id, (0, 0))
    ]
    if disagreeing:
        warnings.append(
            f"word_reviews disagrees with word_review_items for {counted(len(disagreeing), 'word')} "
            f"(ids {shown_ids(disagreeing)}): imported the counts of the reviews themselves"
        )

    for group_id, group in data.groups.items():
        add(group_item(group_id=group_id, name=group["name"], words_count=len(members[group_id])))
        for word_id in members[group_id]:
            add(member_item(group_id=group_id, word=data.words[word_id]))
    for word_id, word in data.words.items():
        correct, wrong = word_counts[word_id]
        add(word_item(word=word, group_ids=groups_of[word_id], correct_count=correct, wrong_count=wrong))
    for activity_id, activity in data.activities.items():
        add(activity_item(study_activity_id=activity_id, **activity))
    for session_id, session in sessions.items():
        add(
            session_item(
                session_id=session_id,
                group_id=session["group_id"],
                group_name=data.groups[session["group_id"]]["name"],
                study_activity_id=session["study_activity_id"],
                activity_name=data.activities[session["study_activity_id"]]["name"],
                created_at=stamp(session["created_at"]),
                end_time=stamp(session_end[session_id]),
                word_counts={word_id: (counts[0], counts[1]) for word_id, counts in session_counts[session_id].items()},
            )
        )
    for review in reviews:
        add(
            review_item(
                session_id=review["session_id"],
                created_at=stamp(review["created_at"]),
                reviews=[(review["word_id"], review["correct"])],
                suffix=f"imported-{review['id']:016d}",
            )
        )
    return Plan(
        items=items,
        group_ids=set(data.groups),
        word_ids=set(data.words),
        activity_ids=set(data.activities),
        session_ids=set(sessions),
        reviews=len(reviews),
        warnings=warnings,
    )
