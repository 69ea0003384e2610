"""A seed file's words into a group by name, through the repository's put_group."""

import time
from dataclasses import dataclass
from typing import Any

from chalicelib.store import StudyRepository
from chalicelib.store.items import MAX_ID
from chalicelib.store.mapping import word_from_item
from scripts.flask_import.apply import VerificationError
from scripts.flask_import.bulk import PROGRESS_FROM, Report, counted, shown_ids
from scripts.flask_import.source import InvalidSourceError


@dataclass
class WordsSummary:
    """What loading a seed file into a group did."""

    group_id: int
    group_name: str
    group_created: bool
    words: int
    new_words: int
    group_words: int
    written: bool
    seconds: float
    warnings: list[str]


def import_words(
    *,
    repository: StudyRepository,
    words: list[dict[str, Any]],
    group_name: str,
    warnings: list[str] | None = None,
    report: Report = lambda line: None,
) -> WordsSummary:
    """Add a seed file's words to the group of that name (a new group if none): a word identical in kanji, romaji
    and english to a stored one keeps its id, others get new ids; the group keeps the words it had. Written
    through put_group, which keeps the words' counts and other groups; nothing when the group already holds them."""
    started = time.monotonic()
    warnings = list(warnings or [])
    groups = repository.list_groups()
    named = sorted(group["id"] for group in groups if group["name"] == group_name)
    if len(named) > 1:
        warnings.append(
            f"{len(named)} groups are named {group_name!r} (ids {shown_ids(named)}): using group {named[0]}"
        )
    group_id = named[0] if named else max((group["id"] for group in groups), default=0) + 1
    fields = ("id", "kanji", "romaji", "english")
    stored_words = repository.table.list_kind(
        "WORD",
        ProjectionExpression=", ".join(f"#{name}" for name in fields),
        ExpressionAttributeNames={f"#{name}": name for name in fields},
    )
    ids_by_text: dict[tuple[str, str, str], int] = {}
    for item in sorted(stored_words, key=lambda item: int(item["id"])):
        ids_by_text.setdefault((item["kanji"], item["romaji"], item["english"]), int(item["id"]))
    next_id = max((int(item["id"]) for item in stored_words), default=0) + 1
    members = _group_words(repository, group_id=group_id)[1] if named else {}
    placed: dict[int, dict[str, Any]] = {}
    new_words = 0
    for word in words:
        text = (word["kanji"], word["romaji"], word["english"])
        if text not in ids_by_text:
            ids_by_text[text] = next_id
            next_id += 1
            new_words += 1
        placed[ids_by_text[text]] = {"id": ids_by_text[text], **word}  # a repeated entry: the last one's parts
    if len(placed) < len(words):
        warnings.append(
            f"{counted(len(words) - len(placed), 'entry', 'entries')} repeat an earlier word's kanji, "
            "romaji and english: loaded once"
        )
    if next_id - 1 > MAX_ID or group_id > MAX_ID:
        raise InvalidSourceError(f"no ids left under {MAX_ID} for new words or groups")
    union = {**members, **placed}
    written = not named or any(members.get(word_id) != word for word_id, word in placed.items())
    if written:
        if len(union) >= PROGRESS_FROM:
            report(f"writing group {group_id} and its {len(union):,} words")
        repository.put_group(group_id=group_id, name=group_name, words=[union[word_id] for word_id in sorted(union)])
    group, stored_members = _group_words(repository, group_id=group_id)
    if any(stored_members.get(word_id) != word for word_id, word in union.items()) or group.get("words_count") != len(
        stored_members
    ):
        raise VerificationError(
            f"verification failed: group {group_id} holds {len(stored_members)} words, "
            f"its count says {group.get('words_count')}, {len(union)} meant"
        )
    return WordsSummary(
        group_id=group_id,
        group_name=group_name,
        group_created=not named,
        words=len(placed),
        new_words=new_words,
        group_words=len(stored_members),
        written=written,
        seconds=time.monotonic() - started,
        warnings=warnings,
    )


def _group_words(repository: StudyRepository, *, group_id: int) -> tuple[dict[str, Any], dict[int, dict[str, Any]]]:
    """A group's item ({} if none) and its members' words by id, read consistently."""
    items = repository.table.partition(f"GROUP#{group_id}", consistent=True)
    group = next((item for item in items if item["SK"] == "META"), {})
    words = [word_from_item(item) for item in items if item["SK"].startswith("WORD#")]
    return group, {word["id"]: word for word in words}
