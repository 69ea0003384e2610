"""The dashboard's arithmetic, as pure functions of the words' counts and the sessions' days and groups."""

from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any, TypedDict

ACTIVE_GROUP_DAYS = 30  # the dashboard's active_groups: groups with a session on this many past days or today
MASTERED_REVIEWS = 5  # a mastered word: reviewed at least 5 times, at least 4 in 5 (80%) correctly


class StudyStats(TypedDict):
    total_vocabulary: int
    total_words_studied: int
    mastered_words: int
    success_rate: float
    total_sessions: int
    active_groups: int
    current_streak: int


def is_mastered(correct: int, wrong: int) -> bool:
    """At least MASTERED_REVIEWS reviews and at least 80% correct, in integers so exactly 80% counts."""
    return correct + wrong >= MASTERED_REVIEWS and 5 * correct >= 4 * (correct + wrong)


def streak(days: set[date], *, today: date) -> int:
    """Consecutive days with a session, ending today or yesterday (0 when neither has one)."""
    day = today if today in days else today - timedelta(days=1)
    count = 0
    while day in days:
        count, day = count + 1, day - timedelta(days=1)
    return count


def study_stats(*, word_counts: list[tuple[int, int]], sessions: Iterable[tuple[date, Any]], today: date) -> StudyStats:
    """Every dashboard figure from each word's (correct, wrong) and each session's (UTC day, group id); a group id
    is read only for a session in the active-groups window."""
    sessions = list(sessions)
    correct, reviews = sum(c for c, _ in word_counts), sum(c + w for c, w in word_counts)
    first_active_day = today - timedelta(days=ACTIVE_GROUP_DAYS)
    return StudyStats(
        total_vocabulary=len(word_counts),
        total_words_studied=sum(1 for c, w in word_counts if c + w),
        mastered_words=sum(1 for c, w in word_counts if is_mastered(c, w)),
        success_rate=correct / reviews if reviews else 0,
        total_sessions=len(sessions),
        active_groups=len({int(group_id) for day, group_id in sessions if day >= first_active_day}),
        current_streak=streak({day for day, _ in sessions}, today=today),
    )
