"""A SQLite file with the original Flask portal's schema (its words.db), filled with deterministic sample data:
`python -m scripts.flask_sample --words 2000 --reviews 10000 --out PATH`. The import's tests build theirs here.

The data looks like what the Flask app wrote: sessions stamped with Python's datetime.now() (microseconds), reviews
with SQLite's CURRENT_TIMESTAMP (none), one word_reviews row per reviewed word, groups.words_count as its
counter cache, and some words in two groups."""

import argparse
import json
import random
import sqlite3
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

# The original schema (the Flask app's sql/setup/create_table_*.sql), column for column.
SCHEMA = """
CREATE TABLE IF NOT EXISTS words (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  kanji TEXT NOT NULL,
  romaji TEXT NOT NULL,
  english TEXT NOT NULL,
  parts TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS word_reviews (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  word_id INTEGER NOT NULL,
  correct_count INTEGER DEFAULT 0,
  wrong_count INTEGER DEFAULT 0,
  last_reviewed TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
  FOREIGN KEY (word_id) REFERENCES words(id)
);
CREATE TABLE IF NOT EXISTS word_review_items (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  word_id INTEGER NOT NULL,
  study_session_id INTEGER NOT NULL,
  correct BOOLEAN NOT NULL,
  created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
  FOREIGN KEY (word_id) REFERENCES words(id),
  FOREIGN KEY (study_session_id) REFERENCES study_sessions(id)
);
CREATE TABLE IF NOT EXISTS groups (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  words_count INTEGER DEFAULT 0
);
CREATE TABLE IF NOT EXISTS word_groups (
  word_id INTEGER NOT NULL,
  group_id INTEGER NOT NULL,
  FOREIGN KEY (word_id) REFERENCES words(id),
  FOREIGN KEY (group_id) REFERENCES groups(id)
);
CREATE TABLE IF NOT EXISTS study_activities (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  url TEXT NOT NULL,
  preview_url TEXT
);
CREATE TABLE IF NOT EXISTS study_sessions (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  group_id INTEGER NOT NULL,
  study_activity_id INTEGER NOT NULL,
  created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
  FOREIGN KEY (group_id) REFERENCES groups(id),
  FOREIGN KEY (study_activity_id) REFERENCES study_activities(id)
);
"""
COLUMNS: dict[str, tuple[str, ...]] = {
    "words": ("id", "kanji", "romaji", "english", "parts"),
    "groups": ("id", "name", "words_count"),
    "word_groups": ("word_id", "group_id"),
    "study_activities": ("id", "name", "url", "preview_url"),
    "study_sessions": ("id", "group_id", "study_activity_id", "created_at"),
    "word_review_items": ("id", "word_id", "study_session_id", "correct", "created_at"),
    "word_reviews": ("id", "word_id", "correct_count", "wrong_count", "last_reviewed"),
}
TYPING_TUTOR = (1, "Typing Tutor", "http://localhost:8080", "/assets/study_activities/typing-tutor.png")
_SYLLABLES = [
    ("か", "ka"),
    ("き", "ki"),
    ("く", "ku"),
    ("さ", "sa"),
    ("し", "shi"),
    ("す", "su"),
    ("た", "ta"),
    ("ち", "chi"),
    ("つ", "tsu"),
    ("な", "na"),
    ("に", "ni"),
    ("の", "no"),
    ("ま", "ma"),
    ("み", "mi"),
    ("る", "ru"),
    ("い", "i"),
    ("う", "u"),
    ("よ", "yo"),
    ("食", "ta"),
    ("行", "i"),
    ("書", "ka"),
]
_START = datetime(2025, 1, 6, 8, 0, 0)


def write_database(*, path: Path, rows: dict[str, list[tuple[Any, ...]]], not_null: bool = True) -> None:
    """Create a SQLite file with the original schema holding these rows (tuples in COLUMNS' order); without its
    NOT NULL constraints if not_null is False (for files a hand-edited or older schema let through)."""
    with sqlite3.connect(path) as connection:
        connection.executescript(SCHEMA if not_null else SCHEMA.replace(" NOT NULL", ""))
        for table, table_rows in rows.items():
            columns = COLUMNS[table]
            connection.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})", table_rows
            )
    connection.close()


def flask_time(moment: datetime, *, microseconds: bool) -> str:
    """A time as the Flask app stored it: str(datetime.now()) with microseconds, CURRENT_TIMESTAMP without."""
    return str(moment) if microseconds else moment.strftime("%Y-%m-%d %H:%M:%S")


def sample_rows(
    *, words: int, reviews: int, sessions: int | None = None, groups: int = 3, seed: int = 1
) -> dict[str, list[tuple[Any, ...]]]:
    """Rows of a plausible portal history: every review names a word of its session's group."""
    rng = random.Random(seed)
    sessions = max(1, reviews // 10) if sessions is None else sessions
    rows: dict[str, list[tuple[Any, ...]]] = {table: [] for table in COLUMNS}
    for word_id in range(1, words + 1):
        syllables = [rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4))]
        parts = [{"kanji": kana, "romaji": [romaji]} for kana, romaji in syllables]
        rows["words"].append(
            (
                word_id,
                "".join(kana for kana, _ in syllables),
                "".join(romaji for _, romaji in syllables),
                f"sample word {word_id}",
                json.dumps(parts, ensure_ascii=False),
            )
        )
    members: dict[int, list[int]] = {group_id: [] for group_id in range(1, groups + 1)}
    for word_id in range(1, words + 1):
        first = (word_id - 1) % groups + 1
        members[first].append(word_id)
        if groups > 1 and rng.random() < 0.1:  # some words are in two groups
            members[rng.choice([group for group in members if group != first])].append(word_id)
    for group_id, word_ids in members.items():
        rows["groups"].append((group_id, f"Sample Group {group_id}", len(word_ids)))
        rows["word_groups"] += [(word_id, group_id) for word_id in word_ids]
    rows["study_activities"].append(TYPING_TUTOR)
    offsets = sorted(rng.sample(range(90 * 24 * 3600), sessions))
    starts: dict[int, tuple[int, datetime]] = {}
    for session_id, offset in enumerate(offsets, start=1):
        group_id = rng.randint(1, groups)
        moment = _START + timedelta(seconds=offset, microseconds=rng.randint(1, 999_999))
        starts[session_id] = (group_id, moment)
        rows["study_sessions"].append((session_id, group_id, 1, flask_time(moment, microseconds=session_id % 2 == 1)))
    counts: dict[int, list[Any]] = {}
    for review_id in range(1, reviews + 1):
        session_id = rng.randint(1, sessions)
        group_id, start = starts[session_id]
        word_id = rng.choice(members[group_id])
        correct = int(rng.random() < 0.75)
        moment = start + timedelta(seconds=rng.randint(1, 3600))
        created_at = flask_time(moment, microseconds=review_id % 7 == 0)
        rows["word_review_items"].append((review_id, word_id, session_id, correct, created_at))
        count = counts.setdefault(word_id, [0, 0, created_at])
        count[0 if correct else 1] += 1
        count[2] = max(count[2], created_at)
    rows["word_reviews"] = [
        (index, word_id, correct, wrong, last)
        for index, (word_id, (correct, wrong, last)) in enumerate(sorted(counts.items()), 1)
    ]
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--words", type=int, default=2000)
    parser.add_argument("--reviews", type=int, default=10000)
    parser.add_argument("--sessions", type=int, help="default: one per 10 reviews")
    parser.add_argument("--groups", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1, help="the same seed builds the same file")
    parser.add_argument("--out", type=Path, required=True, help="the file to write (replaced if it exists)")
    args = parser.parse_args(argv)
    if args.words < args.groups or args.groups < 1 or args.reviews < 0 or (args.sessions or 1) < 1:
        parser.error("needs at least one group, a word per group and one session")
    args.out.unlink(missing_ok=True)
    rows = sample_rows(
        words=args.words, reviews=args.reviews, sessions=args.sessions, groups=args.groups, seed=args.seed
    )
    write_database(path=args.out, rows=rows)
    print(
        f"{args.out}: {len(rows['groups'])} groups, {len(rows['words'])} words, "
        f"{len(rows['study_sessions'])} sessions, {len(rows['word_review_items'])} reviews"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
