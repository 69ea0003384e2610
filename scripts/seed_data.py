"""Seed data the portal's frontend and activities rely on, and the idempotent loader."""

from typing import Any

from chalicelib.store import StudyRepository
from scripts.flask_import.numbering import number_older_sessions


def _word(word_id: int, kanji: str, romaji: str, english: str, parts: list[tuple[str, list[str]]]) -> dict[str, Any]:
    """A word with the parts the Typing Tutor spells it by, piece by piece."""
    assert "".join(piece for piece, _ in parts) == kanji, kanji
    return {
        "id": word_id,
        "kanji": kanji,
        "romaji": romaji,
        "english": english,
        "parts": [{"kanji": piece, "romaji": syllables} for piece, syllables in parts],
    }


GROUPS: list[dict[str, Any]] = [
    {
        "group_id": 1,
        "name": "Core Verbs",
        "words": [
            _word(1, "食べる", "taberu", "to eat", [("食", ["ta"]), ("べ", ["be"]), ("る", ["ru"])]),
            _word(2, "飲む", "nomu", "to drink", [("飲", ["no"]), ("む", ["mu"])]),
            _word(3, "行く", "iku", "to go", [("行", ["i"]), ("く", ["ku"])]),
            _word(4, "来る", "kuru", "to come", [("来", ["ku"]), ("る", ["ru"])]),
            _word(5, "見る", "miru", "to see", [("見", ["mi"]), ("る", ["ru"])]),
            _word(6, "書く", "kaku", "to write", [("書", ["ka"]), ("く", ["ku"])]),
        ],
    },
    {
        "group_id": 2,
        "name": "Core Adjectives",
        "words": [
            _word(101, "大きい", "ookii", "big", [("大", ["o", "o"]), ("き", ["ki"]), ("い", ["i"])]),
            _word(102, "小さい", "chiisai", "small", [("小", ["chi", "i"]), ("さ", ["sa"]), ("い", ["i"])]),
            _word(103, "新しい", "atarashii", "new", [("新", ["a", "ta", "ra"]), ("し", ["shi"]), ("い", ["i"])]),
            _word(104, "古い", "furui", "old", [("古", ["fu", "ru"]), ("い", ["i"])]),
            _word(105, "高い", "takai", "expensive; tall", [("高", ["ta", "ka"]), ("い", ["i"])]),
        ],
    },
]

STUDY_ACTIVITIES: list[dict[str, Any]] = [
    {
        "study_activity_id": 1,
        "name": "Typing Tutor",
        "url": "http://localhost:8080",
        "preview_url": "/assets/study_activities/typing-tutor.png",
        "description": "Type each word of a group in romaji, piece by piece, as the Tutor shows its kanji.",
    },
]


def load_seed(repository: StudyRepository) -> int:
    """Give an empty catalog the seed's groups, words and activity, and number the sessions of a table written
    before the lists were numbered; return the items written.

    A table that already has groups (seeded before, or imported by `make import`) keeps its own, and one that has
    activities keeps those: `make dev` seeds on every start, and must never overwrite a user's data."""
    written = number_older_sessions(repository)
    if not repository.has_any(kind="GROUP"):
        for group in GROUPS:
            repository.put_group(**group)
        written += sum(1 + 2 * len(group["words"]) for group in GROUPS)
    if not repository.has_any(kind="ACTIVITY"):
        for activity in STUDY_ACTIVITIES:
            repository.put_study_activity(**activity)
        written += len(STUDY_ACTIVITIES)
    return written
