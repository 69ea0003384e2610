"""StudyRepository: the portal's verbs over its one table, each reading and writing through store.dynamo.Table."""

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from chalicelib.cache import ReferenceCache
from chalicelib.store import catalog, idempotency, lists, sessions
from chalicelib.store.dynamo import Table
from chalicelib.store.errors import (
    GroupNotFoundError,
    SessionNotFoundError,
    StudyActivityNotFoundError,
    WordNotFoundError,
)
from chalicelib.store.items import (
    activity_item,
    activity_key,
    group_key,
    idempotency_key as record_key_of,
    new_session_id,
    session_key,
    utc_now,
    word_key,
)
from chalicelib.store.lists import read_head
from chalicelib.store.mapping import (
    COUNT_COLUMNS,
    Activity,
    CountedWord,
    Group,
    Session,
    Word,
    activity_from_item,
    counted_word_from_item,
    group_from_item,
    page_slice,
    session_from_item,
    session_word_counts,
    sorted_by,
    word_from_item,
)
from chalicelib.store.ordinals import (
    ALL,
    COUNTERS,
    Head,
    activity_list,
    current_streak,
    group_list,
    head_from_item,
    lists_of,
)
from chalicelib.store.references import remember, remember_session, remember_text, word_texts
from chalicelib.store.reset import ResetSummary, reset_history
from chalicelib.store.reviews import MAX_REVIEWS_PER_REQUEST, write_reviews
from chalicelib.store.stats import StudyStats, active_groups, study_stats

BATCH_GET_COUNTS_UP_TO = 100  # a group's words whose counts one BatchGetItem reads; more, one Query of them all


class StudyRepository:
    """Reads and writes groups, words, study activities and study sessions in one table."""

    def __init__(
        self,
        *,
        client: Any,
        table_name: str,
        new_id: Callable[[], int] = new_session_id,
        now: Callable[[], datetime] = utc_now,
        cache: ReferenceCache | None = None,
    ) -> None:
        self.table = Table(client=client, name=table_name)
        self._new_id = new_id
        self._now = now
        # Groups, activities and words as last read, and each recent session's group (which never changes):
        # what lets a warm create or review be one request (docs/design.md, "The reference cache").
        self._cache = ReferenceCache() if cache is None else cache
        self._create_lock = threading.Lock()

    @property
    def client(self) -> Any:
        return self.table.client

    @property
    def table_name(self) -> str:
        return self.table.name

    # --- creating a session ------------------------------------------------------------------------------------

    def create_session(
        self,
        *,
        group_id: int,
        study_activity_id: int,
        idempotency_key: str | None = None,
        request_hash: str | None = None,
    ) -> Session:
        """Start a study session for an existing group and activity: one conditional write, after one consistent
        read of the group and activity unless the reference cache holds both.

        With an idempotency key, a repeat of the same request (same request_hash) within 24 hours returns the
        session the first one created, and the key is written in the same transaction as the session.
        """
        now = self._now()
        lists = lists_of(group_id=group_id, study_activity_id=study_activity_id)
        group: Group | None = self._cache.get(("group", group_id))
        activity: Activity | None = self._cache.get(("activity", study_activity_id))
        heads: dict[str, Head | None] = {name: self._cache.get(("head", name)) for name in lists}
        if group is None or activity is None or None in heads.values():
            stored_group, stored_activity, previous, read = sessions.read_before_create(
                self.table,
                group_id=group_id,
                study_activity_id=study_activity_id,
                lists=lists,
                key=idempotency_key,
                now=now,
            )
            if previous is not None:
                return remember_session(self._cache, idempotency.replay_session(previous, request_hash=request_hash))
            if stored_group is None:
                raise GroupNotFoundError(f"Group {group_id} not found")
            if stored_activity is None:
                raise StudyActivityNotFoundError(f"Study activity {study_activity_id} not found")
            group = remember(self._cache, "group", group_from_item(stored_group))
            activity = remember(self._cache, "activity", activity_from_item(stored_activity))
            heads = {**read}
        # This process's creates take turns here rather than on the heads in DynamoDB (where a loser must try again).
        with self._create_lock:
            # The heads as this process's last create left them, if it wrote any since they were read.
            heads = {name: self._cache.get(("head", name)) or head for name, head in heads.items()}
            session = sessions.create_numbered(
                self.table,
                session_id=self._new_id(),
                group=group,
                activity=activity,
                heads=heads,
                lists=lists,
                key=idempotency_key,
                request_hash=request_hash,
                now=now,
                clock=self._now,
                cache=self._cache,
            )
        return remember_session(self._cache, session)

    # --- sessions ----------------------------------------------------------------------------------------------

    def get_session(self, *, session_id: int) -> Session:
        """One session, as stored now: one consistent GetItem."""
        item = self.table.get(session_key(session_id), consistent=True)
        if item is None:
            raise SessionNotFoundError(f"Study session {session_id} not found")
        return remember_session(self._cache, session_from_item(item))

    def get_session_words(self, *, session_id: int) -> tuple[Session, list[dict[str, Any]]]:
        """A session and the words reviewed in it, sorted by kanji, with their counts in this session: one
        consistent GetItem, and one BatchGetItem of the words' text the reference cache lacks."""
        item = self.table.get(session_key(session_id), consistent=True)
        if item is None:
            raise SessionNotFoundError(f"Study session {session_id} not found")
        counts = session_word_counts(item)
        words = word_texts(self._cache, self.table, word_ids=sorted(counts))
        reviewed = [{**word, **counts[word["id"]]} for word in words]
        reviewed.sort(key=lambda word: (word["kanji"], word["id"]))
        return remember_session(self._cache, session_from_item(item)), reviewed

    def list_sessions(self, *, page: int, per_page: int) -> tuple[list[Session], int]:
        """Page `page` of every session, newest first, and how many there are (lists.list_page)."""
        return lists.list_page(self.table, read_head(self.table, ALL), page=page, per_page=per_page)

    def list_sessions_page(self, *, limit: int, cursor: str | None = None) -> tuple[list[Session], str | None]:
        """One page of sessions, newest first, after the cursor; and the cursor of the next page (None at the end)."""
        return lists.sessions_after(self.table, limit=limit, cursor=cursor)

    def list_activity_sessions(self, *, study_activity_id: int, page: int, per_page: int) -> tuple[list[Session], int]:
        """Page `page` of an activity's sessions, newest first, and how many it has; raises
        StudyActivityNotFoundError for an unknown activity."""
        head = lists.head_of_existing(self.table, activity_list(study_activity_id), activity_key(study_activity_id))
        if head is None:
            raise StudyActivityNotFoundError(f"Study activity {study_activity_id} not found")
        return lists.list_page(self.table, head, page=page, per_page=per_page)

    def list_group_sessions(
        self, *, group_id: int, page: int, per_page: int, sort_by: str = "created_at", descending: bool = True
    ) -> tuple[list[Session], int]:
        """Page `page` of a group's sessions by start time or sorted by another field, and how many it has; raises
        GroupNotFoundError for an unknown group."""
        head = lists.head_of_existing(self.table, group_list(group_id), group_key(group_id))
        if head is None:
            raise GroupNotFoundError(f"Group {group_id} not found")
        if sort_by == "created_at":
            return lists.list_page(self.table, head, page=page, per_page=per_page, descending=descending)
        return lists.sorted_page(self.table, head, sort_by=sort_by, descending=descending, page=page, per_page=per_page)

    # --- activities, groups and words --------------------------------------------------------------------------

    def list_study_activities(self) -> list[Activity]:
        """Every study activity, by id."""
        return [
            remember(self._cache, "activity", activity_from_item(item)) for item in self.table.list_kind("ACTIVITY")
        ]

    def get_study_activity(self, *, study_activity_id: int, cached: bool = False) -> Activity:
        """One study activity; cached: a copy read in the reference cache's lifetime will do."""
        activity: Activity | None = self._cache.get(("activity", study_activity_id)) if cached else None
        if activity is not None:
            return activity
        item = self.table.get(activity_key(study_activity_id))
        if item is None:
            raise StudyActivityNotFoundError(f"Study activity {study_activity_id} not found")
        return remember(self._cache, "activity", activity_from_item(item))

    def list_groups(self, *, sort_by: str | None = None, descending: bool = False) -> list[Group]:
        """Every group as {id, name, words_count}, by id or sorted by a field."""
        groups = [remember(self._cache, "group", group_from_item(item)) for item in self.table.list_kind("GROUP")]
        return groups if sort_by is None else sorted_by(groups, key=sort_by, descending=descending)

    def get_group(self, *, group_id: int) -> Group:
        """One group as {id, name, words_count}."""
        item = self.table.get(group_key(group_id))
        if item is None:
            raise GroupNotFoundError(f"Group {group_id} not found")
        return remember(self._cache, "group", group_from_item(item))

    def get_group_words(self, *, group_id: int) -> tuple[Group, list[Word]]:
        """A group and its words with their parts, by word id: one Query of the group's partition."""
        items = self.table.partition(f"GROUP#{group_id}")
        group = next((item for item in items if item["SK"] == "META"), None)
        if group is None:
            raise GroupNotFoundError(f"Group {group_id} not found")
        words = [word_from_item(item) for item in items if item["SK"].startswith("WORD#")]
        for word in words:
            remember_text(self._cache, word)
        return remember(self._cache, "group", group_from_item(group)), words

    def list_group_words(
        self, *, group_id: int, sort_by: str, descending: bool, page: int, per_page: int
    ) -> tuple[list[CountedWord], int]:
        """A page of a group's words with their all-time counts, in order, and how many words the group has.

        One Query of the group's partition, then the counts of only the page's words. Sorted by a count, it needs
        the counts of all its words: up to 100 words, one BatchGetItem; more, one Query of the whole vocabulary's
        counts, as BatchGetItem charges at least half a read unit per word and a Query only for the bytes read."""
        _, words = self.get_group_words(group_id=group_id)
        if sort_by in COUNT_COLUMNS:
            if len(words) <= BATCH_GET_COUNTS_UP_TO:
                counted = self._with_counts(words)
            else:
                vocabulary = {word["id"]: word for word in self.list_words()}
                counted = [vocabulary.get(word["id"]) or counted_word_from_item(dict(word)) for word in words]
            listed = page_slice(sorted_by(counted, key=sort_by, descending=descending), page=page, per_page=per_page)
        else:
            listed = self._with_counts(
                page_slice(sorted_by(words, key=sort_by, descending=descending), page=page, per_page=per_page)
            )
        return listed, len(words)

    def _with_counts(self, words: list[Word]) -> list[CountedWord]:
        """The words (from a group's copies) with each one's all-time counts from its own item, in the same order."""
        stored = {
            int(item["id"]): item
            for item in self.table.get_many(
                [word_key(word["id"]) for word in words], projection="id, correct_count, wrong_count"
            )
        }
        return [counted_word_from_item({**word, **stored.get(word["id"], {})}) for word in words]

    def list_words(self, *, sort_by: str | None = None, descending: bool = False) -> list[CountedWord]:
        """The whole vocabulary with all-time counts, by id or sorted by a field: one Query of the words' index,
        one request per MB."""
        items = self.table.list_kind(
            "WORD", ProjectionExpression="id, kanji, romaji, english, correct_count, wrong_count"
        )
        words = [counted_word_from_item(item) for item in items]
        for word in words:
            remember_text(self._cache, word)
        return words if sort_by is None else sorted_by(words, key=sort_by, descending=descending)

    def get_word(self, *, word_id: int) -> dict[str, Any]:
        """One word with its all-time counts and the groups it belongs to ({id, name}, by id)."""
        item = self.table.get(word_key(word_id))
        if item is None:
            raise WordNotFoundError(f"Word {word_id} not found")
        group_ids = sorted(int(group_id) for group_id in item.get("group_ids", ()))
        groups: dict[int, Group | None] = {group_id: self._cache.get(("group", group_id)) for group_id in group_ids}
        missing = [group_id for group_id, group in groups.items() if group is None]
        for stored in self.table.get_many(
            [group_key(group_id) for group_id in missing], projection="id, #name, words_count", names={"#name": "name"}
        ):
            groups[int(stored["id"])] = remember(self._cache, "group", group_from_item(stored))
        return {
            **counted_word_from_item(item),
            "groups": [{"id": group_id, "name": group["name"]} for group_id, group in groups.items() if group],
        }

    # --- the dashboard -----------------------------------------------------------------------------------------

    def get_recent_session(self) -> Session | None:
        """The newest session, or None: the list's head, then one Query for its newest ordinal."""
        return lists.newest_session(self.table)

    def get_study_stats(self) -> StudyStats:
        """The dashboard's figures: one Query of the lists' heads (one a group and an activity, and all sessions')
        and one of the words' counts; neither grows with the sessions or reviews."""
        words = self.table.list_kind("WORD", ProjectionExpression="correct_count, wrong_count")
        heads = {item["SK"]: item for item in self.table.partition(COUNTERS, consistent=True)}
        everything = head_from_item(ALL, heads.get(ALL))
        group_days = [item.get("last_day") for name, item in heads.items() if name.startswith("GROUP#")]
        today = self._now().astimezone(UTC).date()
        return study_stats(
            word_counts=[(int(word.get("correct_count", 0)), int(word.get("wrong_count", 0))) for word in words],
            total_sessions=everything.count,
            active_groups=active_groups([day for day in group_days if day], today=today),
            current_streak=current_streak(everything, today=today),
        )

    # --- reviews -----------------------------------------------------------------------------------------------

    def log_reviews(
        self,
        *,
        session_id: int,
        reviews: list[tuple[int, bool]],
        idempotency_key: str | None = None,
        request_hash: str | None = None,
    ) -> list[dict[str, Any]]:
        """Log reviews of words of the session's group, all or none: one transaction, after one consistent read of
        the session unless the reference cache knows its group.

        The transaction writes the review item, adds to the session's counts (in all, and per word) and sets its
        end_time, and adds to each word's all-time counts, so these can never disagree. Its conditions check that
        the session and each word exist and that each word is in the session's group."""
        if not 1 <= len(reviews) <= MAX_REVIEWS_PER_REQUEST:
            raise ValueError(f"1 to {MAX_REVIEWS_PER_REQUEST} reviews a request")
        now = self._now()
        record_key = record_key_of(idempotency_key, "REVIEW") if idempotency_key is not None else None
        group_id: int | None = self._cache.get(("session-group", session_id))
        if group_id is None:
            found = self.table.get_many(
                [session_key(session_id), *([record_key] if record_key else [])], consistent=True
            )
            by_key = {(item["PK"], item["SK"]): item for item in found}
            record = by_key.get((record_key["PK"], record_key["SK"])) if record_key else None
            if idempotency.is_live(record, now=now):
                return idempotency.replay_reviews(record, session_id=session_id, request_hash=request_hash)
            the_session = session_key(session_id)
            session = by_key.get((the_session["PK"], the_session["SK"]))
            if session is None:
                raise SessionNotFoundError(f"Study session {session_id} not found")
            group_id = remember_session(self._cache, session_from_item(session))["group_id"]
        logged, written = write_reviews(
            self.table,
            session_id=session_id,
            group_id=group_id,
            reviews=reviews,
            record_key=record_key,
            request_hash=request_hash,
            now=now,
            clock=self._now,
        )
        if written:
            self._cache.put(("session-group", session_id), group_id)  # kept while the session is in use
        return logged

    # --- reset -------------------------------------------------------------------------------------------------

    def reset(self, *, deadline: float) -> ResetSummary:
        """The Settings page's reset, until time.monotonic() reaches deadline (store/reset.py)."""
        return reset_history(self.table, deadline=deadline)

    # --- seeding and importing ---------------------------------------------------------------------------------

    def put_group(self, *, group_id: int, name: str, words: list[dict[str, Any]]) -> None:
        """Store a group and its words (overwriting their text, keeping the words' review counts and other groups;
        a word whose text changes gets it in its other groups' copies too)."""
        catalog.put_group(self.table, group_id=group_id, name=name, words=words)
        # This process sees its own change at once; others within the reference cache's lifetime.
        remember(self._cache, "group", Group(id=group_id, name=name, words_count=len(words)))
        for word in words:
            remember_text(self._cache, word)

    def has_any(self, *, kind: str) -> bool:
        """Whether the table holds an item of this kind (GROUP, WORD, ACTIVITY, SESSION): one Query for one key."""
        return bool(self.table.list_kind(kind, limit=1, ProjectionExpression="PK"))

    def put_study_activity(
        self, *, study_activity_id: int, name: str, url: str, preview_url: str, description: str = ""
    ) -> None:
        """Store a study activity (overwriting)."""
        item = activity_item(
            study_activity_id=study_activity_id, name=name, url=url, preview_url=preview_url, description=description
        )
        self.table.put(item)
        remember(self._cache, "activity", activity_from_item(item))
