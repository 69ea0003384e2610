"""The data layer's named errors, and the one place DynamoDB's own errors become them."""

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import ClientError, ConnectionError as BotocoreConnectionError, HTTPClientError


class NotFoundError(Exception):
    """Something the request names does not exist; the message says what."""


class GroupNotFoundError(NotFoundError):
    """The referenced group does not exist."""


class StudyActivityNotFoundError(NotFoundError):
    """The referenced study activity does not exist."""


class SessionNotFoundError(NotFoundError):
    """The referenced study session does not exist."""


class WordNotFoundError(NotFoundError):
    """The referenced word does not exist."""


class WordNotInGroupError(Exception):
    """The word exists but is not in the group the study session practises."""


class InvalidCursorError(Exception):
    """A list cursor this service did not hand out."""


class TransactionConflictError(Exception):
    """Concurrent writes to the same items kept cancelling this one; nothing was written, a retry is safe."""


class CreateConflictError(Exception):
    """Other creates kept moving the lists' heads (store/ordinals.py) on every attempt: nothing was written."""


class TransactionFailedError(Exception):
    """DynamoDB cancelled a transaction for a reason no retry changes (a bug, or an item grown too large)."""


class DatabaseBusyError(Exception):
    """DynamoDB throttled the request or left part of it unprocessed; the caller may retry later."""


class DatabaseUnavailableError(Exception):
    """DynamoDB did not answer in time or could not be reached; a write may or may not have happened."""


class SessionIdCollisionError(Exception):
    """The freshly drawn session id was taken: nothing was written (odds about 1 in 2^53 / sessions stored)."""


class IdempotencyKeyReusedError(Exception):
    """The idempotency key was first used with a different request."""


class IdempotencyKeyInFlightError(Exception):
    """Another request with the same idempotency key is being written right now; nothing was written by this one."""


# DynamoDB's answers for "slow down" or "try again", once boto3's own retries are spent; the last two are the
# spellings of the same reasons inside a cancelled transaction.
BUSY_ERROR_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "ThrottlingError",
        "ProvisionedThroughputExceeded",
    }
)


@contextmanager
def database_errors() -> Iterator[None]:
    """Turn DynamoDB's throttling, availability and timeout errors into our named errors; re-raise the rest."""
    try:
        yield
    except ClientError as exc:
        if error_code(exc) in BUSY_ERROR_CODES:
            raise DatabaseBusyError(error_code(exc)) from exc
        raise
    except (BotocoreConnectionError, HTTPClientError) as exc:  # timeouts, refused and dropped connections
        raise DatabaseUnavailableError(type(exc).__name__) from exc


def error_code(exc: ClientError) -> str | None:
    """DynamoDB's error code of a failed call."""
    code: str | None = exc.response.get("Error", {}).get("Code")  # botocore is untyped: its response is Any
    return code
