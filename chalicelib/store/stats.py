"""The dashboard's arithmetic, as pure functions of the words' counts and the lists' heads (store/ordinals.py)."""

from collections.abc import Iterable
from datetime import date, timedelta
from typing import TypedDict

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


def active_groups(last_days: Iterable[str], *, today: date) -> int:
    """Groups whose newest session's UTC day (ISO) is within ACTIVE_GROUP_DAYS of today."""
    first_active_day = (today - timedelta(days=ACTIVE_GROUP_DAYS)).isoformat()
    return sum(1 for day in last_days if day >= first_active_day)


def study_stats(
    *, word_counts: list[tuple[int, int]], total_sessions: int, active_groups: int, current_streak: int
) -> StudyStats:
    """Every dashboard figure from each word's (correct, wrong) and the session figures the lists' heads give."""
    correct, reviews = sum(c for c, _ in word_counts), sum(c + w for c, w in word_counts)
    return StudyStats(
        total_vocabulary=len(word_counts),
        total_words_studied=sum(1 for c, w in word_counts if c + w),
        mastered_words=sum(1 for c, w in word_counts if is_mastered(c, w)),
        success_rate=correct / reviews if reviews else 0,
        total_sessions=total_sessions,
        active_groups=active_groups,
        current_streak=current_streak,
    )
