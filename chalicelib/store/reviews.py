"""Logging reviews: the one transaction that writes a request's reviews, and what its cancellation means."""

import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.store.dynamo import Table
from chalicelib.store.errors import (
    BUSY_ERROR_CODES,
    DatabaseBusyError,
    SessionNotFoundError,
    TransactionConflictError,
    TransactionFailedError,
    WordNotFoundError,
    WordNotInGroupError,
)
from chalicelib.store.idempotency import expires_at, record_put, replay_reviews
from chalicelib.store.items import format_timestamp, review_item, session_key, word_key
from chalicelib.store.mapping import from_attributes, to_attributes
from chalicelib.store.table import TTL_ATTRIBUTE

# One request's reviews are one transaction: the session, each distinct word, the review item and the idempotency
# key's record. moto allows 25 items in a transaction (DynamoDB 100), so 20 distinct words fit everywhere.
MAX_REVIEWS_PER_REQUEST = 20
TRANSACTION_ATTEMPTS = 3  # our own retries of a transaction another one on the same session cancelled


class TryAgain(Exception):
    """A transaction another one cancelled: nothing was written, so it may be sent again."""


@dataclass
class ReviewTransaction:
    """One attempt at logging a request's reviews: the reviews as answered, and the transaction's items (the
    session's update, each distinct word's, the review item, the idempotency key's record)."""

    session_id: int
    group_id: int
    word_ids: list[int]
    logged: list[dict[str, Any]]
    items: list[dict[str, Any]]
    keyed: bool

    @classmethod
    def build(
        cls,
        *,
        table_name: str,
        session_id: int,
        group_id: int,
        reviews: list[tuple[int, bool]],
        record_key: dict[str, str] | None,
        request_hash: str | None,
        now: datetime,
    ) -> "ReviewTransaction":
        created_at = format_timestamp(now)
        word_ids = list(dict.fromkeys(word_id for word_id, _ in reviews))
        logged = [{"word_id": word_id, "correct": correct, "created_at": created_at} for word_id, correct in reviews]
        review = review_item(session_id=session_id, created_at=created_at, reviews=reviews, suffix=secrets.token_hex(8))
        items = [_session_update(table_name, session_id=session_id, reviews=reviews, now=created_at)]
        items += [
            _word_update(
                table_name,
                word_id=word_id,
                group_id=group_id,
                reviews=[correct for word, correct in reviews if word == word_id],
            )
            for word_id in word_ids
        ]
        items.append(
            {
                "Put": {
                    "TableName": table_name,
                    "Item": to_attributes(review),
                    "ConditionExpression": "attribute_not_exists(PK)",
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            }
        )
        if record_key is not None:
            record = {
                **record_key,
                "item_type": "idempotency_key",
                "request_hash": request_hash,
                "study_session_id": session_id,
                "reviews": logged,
                TTL_ATTRIBUTE: expires_at(now),
            }
            items.append(record_put(table_name=table_name, record=record, now=now))
        return cls(
            session_id=session_id,
            group_id=group_id,
            word_ids=word_ids,
            logged=logged,
            items=items,
            keyed=record_key is not None,
        )

    def cancelled(
        self, reasons: list[dict[str, Any]], *, table: Table, request_hash: str | None
    ) -> list[dict[str, Any]]:
        """The reviews to answer after DynamoDB cancelled this transaction with these reasons, or the error they
        mean; TryAgain when another transaction got in the way (nothing was written)."""
        reasons = reasons + [{}] * (len(self.items) - len(reasons))
        codes = [reason.get("Code") for reason in reasons]
        review_index = 1 + len(self.word_ids)
        if self.keyed and codes[-1] == "ConditionalCheckFailed" and "Item" in reasons[-1]:
            # The key was taken first: by a concurrent repeat, or by our own transaction that boto3 resent.
            return replay_reviews(
                from_attributes(reasons[-1]["Item"]), session_id=self.session_id, request_hash=request_hash
            )
        if codes[review_index] == "ConditionalCheckFailed":
            if reasons[review_index].get("Item") == self.items[review_index]["Put"]["Item"]:
                return self.logged  # boto3 resent our transaction after its answer was lost: it was written once
            raise DatabaseBusyError("review key taken")  # 64 random bits drew a taken key; nothing was written
        if codes[0] == "ConditionalCheckFailed":
            raise SessionNotFoundError(f"Study session {self.session_id} not found")  # deleted since the read
        refused = {
            word_id: reason
            for word_id, reason in zip(self.word_ids, reasons[1:review_index])
            if reason.get("Code") == "ConditionalCheckFailed"
        }
        if refused:
            # Missing, or not in the group? The reason holds the word when it exists (ALL_OLD); one without it is
            # confirmed by a consistent read, on this error path only, rather than taken for "no such word".
            unsure = [word_id for word_id, reason in refused.items() if "Item" not in reason]
            found = {
                int(item["id"])
                for item in table.get_many([word_key(word_id) for word_id in unsure], consistent=True, projection="id")
            }
            missing = [word_id for word_id in unsure if word_id not in found]
            if missing:
                raise WordNotFoundError(f"Word {missing[0]} not found")
            word_id = next(iter(refused))
            raise WordNotInGroupError(f"Word {word_id} is not in group {self.group_id}, the study session's group")
        busy = set(codes) & BUSY_ERROR_CODES
        if busy:
            raise DatabaseBusyError(busy.pop())
        if "TransactionConflict" in codes:
            raise TryAgain()
        raise TransactionFailedError(f"review transaction cancelled: {codes}")


def write_reviews(
    table: Table,
    *,
    session_id: int,
    group_id: int,
    reviews: list[tuple[int, bool]],
    record_key: dict[str, str] | None,
    request_hash: str | None,
    now: datetime,
    clock: Callable[[], datetime],
) -> tuple[list[dict[str, Any]], bool]:
    """Send the review transaction, again a moment later while others on the same session cancel it; return the
    reviews to answer, and whether this call wrote them (False: a replay, or boto3's resend of our own write)."""
    for attempt in range(1, TRANSACTION_ATTEMPTS + 1):
        if attempt > 1:
            time.sleep(random.uniform(0.01, 0.05) * attempt)
            now = clock()  # a later attempt is a later review: end_time never moves back
        transaction = ReviewTransaction.build(
            table_name=table.name,
            session_id=session_id,
            group_id=group_id,
            reviews=reviews,
            record_key=record_key,
            request_hash=request_hash,
            now=now,
        )
        try:
            table.transact(transaction.items)
            return transaction.logged, True
        except table.client.exceptions.TransactionCanceledException as exc:
            try:
                reasons = exc.response.get("CancellationReasons") or []
                return transaction.cancelled(reasons, table=table, request_hash=request_hash), False
            except TryAgain:
                if attempt == TRANSACTION_ATTEMPTS:
                    raise TransactionConflictError() from exc
    raise AssertionError("unreachable")


def _session_update(table_name: str, *, session_id: int, reviews: list[tuple[int, bool]], now: str) -> dict[str, Any]:
    """Add the reviews to the session's counts, in all and per word, and set its end_time; only if it exists."""
    names: dict[str, str] = {}
    values: dict[str, Any] = {
        ":now": now,
        ":n": len(reviews),
        ":correct": sum(correct for _, correct in reviews),
        ":wrong": sum(not correct for _, correct in reviews),
    }
    adds = ["review_items_count :n", "correct_count :correct", "wrong_count :wrong"]
    for word_id, correct in reviews:
        kind = "correct" if correct else "wrong"
        name, value = f"#{kind}{word_id}", f":{kind}{word_id}"
        if name not in names:
            names[name] = f"{kind}#{word_id}"
            values[value] = 0
            adds.append(f"{name} {value}")
        values[value] += 1
    return {
        "Update": {
            "TableName": table_name,
            "Key": to_attributes(session_key(session_id)),
            "UpdateExpression": f"SET end_time = :now ADD {', '.join(adds)}",
            "ConditionExpression": "attribute_exists(PK)",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": to_attributes(values),
        }
    }


def _word_update(table_name: str, *, word_id: int, group_id: int, reviews: list[bool]) -> dict[str, Any]:
    """Add to the word's all-time counts; only if it exists and is still in the session's group."""
    return {
        "Update": {
            "TableName": table_name,
            "Key": to_attributes(word_key(word_id)),
            "UpdateExpression": "ADD correct_count :correct, wrong_count :wrong",
            # The word is still in the session's group: checked in the write, not only before it.
            "ConditionExpression": "attribute_exists(PK) AND contains(group_ids, :group)",
            "ExpressionAttributeValues": to_attributes(
                {":correct": sum(reviews), ":wrong": len(reviews) - sum(reviews), ":group": group_id}
            ),
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
    }
