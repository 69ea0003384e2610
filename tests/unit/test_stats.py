"""The dashboard's arithmetic on its own: streaks, mastery, the active-groups window, the success rate."""

from datetime import date, timedelta

import pytest

from chalicelib.store.stats import ACTIVE_GROUP_DAYS, is_mastered, streak, study_stats

TODAY = date(2026, 12, 4)


def days_ago(*offsets: int) -> set[date]:
    return {TODAY - timedelta(days=offset) for offset in offsets}


@pytest.mark.parametrize(
    "days, expected",
    [
        (set(), 0),
        (days_ago(0), 1),
        (days_ago(1), 1),  # yesterday still counts: today is not over
        (days_ago(0, 1, 2), 3),
        (days_ago(1, 2, 3), 3),
        (days_ago(0, 2, 3), 1),  # a gap ends it
        (days_ago(2, 3), 0),  # neither today nor yesterday
    ],
)
def test_the_streak_counts_consecutive_days_ending_today_or_yesterday(days, expected):
    assert streak(days, today=TODAY) == expected


@pytest.mark.parametrize(
    "correct, wrong, mastered",
    [
        (5, 0, True),
        (4, 1, True),  # exactly 80% counts
        (4, 0, False),  # too few reviews
        (8, 2, True),
        (7, 2, False),
        (3, 2, False),
        (0, 0, False),
    ],
)
def test_a_word_is_mastered_with_five_reviews_and_at_least_80_percent_correct(correct, wrong, mastered):
    assert is_mastered(correct, wrong) is mastered


def test_study_stats_counts_words_sessions_and_groups_active_in_the_window():
    first_active = TODAY - timedelta(days=ACTIVE_GROUP_DAYS)
    stats = study_stats(
        word_counts=[(5, 0), (1, 3), (0, 0)],
        sessions=[(TODAY, 1), (TODAY, 1), (first_active, 2), (first_active - timedelta(days=1), 3)],
        today=TODAY,
    )
    assert stats == {
        "total_vocabulary": 3,
        "total_words_studied": 2,
        "mastered_words": 1,
        "success_rate": 6 / 9,
        "total_sessions": 4,
        "active_groups": 2,
        "current_streak": 1,
    }


def test_study_stats_of_an_empty_history_are_zero():
    assert study_stats(word_counts=[], sessions=[], today=TODAY) == {
        "total_vocabulary": 0,
        "total_words_studied": 0,
        "mastered_words": 0,
        "success_rate": 0,
        "total_sessions": 0,
        "active_groups": 0,
        "current_streak": 0,
    }
