"""The reference cache's entries by kind: groups, activities and words' text as last read, and each recent
session's group (which never changes); what lets a warm create or review be one request."""

from collections.abc import Mapping
from typing import Any, TypeVar

from chalicelib.cache import ReferenceCache
from chalicelib.store.dynamo import Table
from chalicelib.store.items import word_key
from chalicelib.store.mapping import Session, word_from_item

_Cached = TypeVar("_Cached", bound=Mapping[str, Any])  # a group, activity or word text, as the cache keeps it


def remember(cache: ReferenceCache, kind: str, value: _Cached) -> _Cached:
    """Keep a group, activity or word (as the mapping functions give it) in the reference cache; return it."""
    cache.put((kind, value["id"]), value)
    return value


def remember_session(cache: ReferenceCache, session: Session) -> Session:
    """Keep a session's group (which never changes) in the reference cache, for its reviews; return it."""
    cache.put(("session-group", session["id"]), session["group_id"])
    return session


def remember_text(cache: ReferenceCache, word: Mapping[str, Any]) -> dict[str, Any]:
    """Keep a word's text (no parts, no counts) in the reference cache; return that text."""
    return remember(cache, "word", {name: word[name] for name in ("id", "kanji", "romaji", "english")})


def word_texts(cache: ReferenceCache, table: Table, *, word_ids: list[int]) -> list[dict[str, Any]]:
    """The words' {id, kanji, romaji, english}, from the reference cache or one BatchGetItem per 100 missing;
    a word that no longer exists is left out."""
    texts: dict[int, dict[str, Any] | None] = {word_id: cache.get(("word", word_id)) for word_id in word_ids}
    missing = [word_id for word_id, text in texts.items() if text is None]
    for item in table.get_many([word_key(word_id) for word_id in missing], projection="id, kanji, romaji, english"):
        texts[int(item["id"])] = remember_text(cache, word_from_item(item))
    return [text for text in texts.values() if text is not None]
