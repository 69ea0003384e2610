"""Seed data the portal's frontend and activities rely on, and the idempotent loader."""
from typing import Any

from chalicelib.repository import StudyRepository

GROUPS: list[dict[str, Any]] = [
    {"group_id": 1, "name": "Core Verbs", "words": [
        {"id": 1, "japanese": "食べる", "romaji": "taberu", "english": "to eat"},
        {"id": 2, "japanese": "飲む", "romaji": "nomu", "english": "to drink"},
        {"id": 3, "japanese": "行く", "romaji": "iku", "english": "to go"},
        {"id": 4, "japanese": "来る", "romaji": "kuru", "english": "to come"},
        {"id": 5, "japanese": "見る", "romaji": "miru", "english": "to see"},
        {"id": 6, "japanese": "書く", "romaji": "kaku", "english": "to write"},
    ]},
    {"group_id": 2, "name": "Core Adjectives", "words": [
        {"id": 101, "japanese": "大きい", "romaji": "ookii", "english": "big"},
        {"id": 102, "japanese": "小さい", "romaji": "chiisai", "english": "small"},
        {"id": 103, "japanese": "新しい", "romaji": "atarashii", "english": "new"},
        {"id": 104, "japanese": "古い", "romaji": "furui", "english": "old"},
        {"id": 105, "japanese": "高い", "romaji": "takai", "english": "expensive; tall"},
    ]},
]

STUDY_ACTIVITIES: list[dict[str, Any]] = [
    {"study_activity_id": 1, "name": "Typing Tutor", "url": "http://localhost:8080",
     "preview_url": "/assets/study_activities/typing-tutor.png"},
]


def load_seed(repository: StudyRepository) -> int:
    """Write every seed item (overwriting, so reruns change nothing); return the items written."""
    for group in GROUPS:
        repository.put_group(**group)
    for activity in STUDY_ACTIVITIES:
        repository.put_study_activity(**activity)
    return sum(1 + len(group["words"]) for group in GROUPS) + len(STUDY_ACTIVITIES)
