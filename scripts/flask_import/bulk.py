"""DynamoDB in bulk for the import (batches read and written in parallel, progress lines), and how it words counts."""

import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from chalicelib.store import StudyRepository
from chalicelib.store.dynamo import BATCH_GET_LIMIT, BATCH_WRITE_LIMIT, chunks
from chalicelib.store.errors import DatabaseBusyError

WORKERS = 8
BATCH_ATTEMPTS = 4  # of a whole batch, each retrying its unprocessed items itself (Table.put_items, delete_keys)
PROGRESS_FROM = 1000  # items; fewer go by without progress lines

Key = tuple[str, str]
Report = Callable[[str], None]


def key_of(item: dict[str, Any]) -> Key:
    """An item's (PK, SK)."""
    return item["PK"], item["SK"]


class Progress:
    """Progress lines for long runs, when there are many items: one each `every` of the way."""

    def __init__(self, *, report: Report, total: int, what: str, every: float = 0.1) -> None:
        self.report, self.total, self.what, self.done = report, total, what, 0
        self._lock = threading.Lock()
        self._step = int(total * every) if total >= PROGRESS_FROM else 0
        self._next = self._step

    def add(self, count: int) -> None:
        with self._lock:
            self.done += count
            if self._step and self.done >= self._next:
                self.report(f"{self.what}: {self.done:,} of {self.total:,} items ({100 * self.done // self.total}%)")
                self._next = (self.done // self._step + 1) * self._step


def in_parallel(function: Callable[[Any], Any], chunks: list[Any]) -> list[Any]:
    """function over each chunk, in order; on WORKERS threads when there is more than one."""
    if len(chunks) <= 1:
        return [function(chunk) for chunk in chunks]
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        return list(pool.map(function, chunks))


def read_items(repository: StudyRepository, *, keys: list[Key], report: Report, what: str) -> dict[Key, dict[str, Any]]:
    """The stored items of these keys (consistent BatchGetItem, BATCH_GET_LIMIT a request, in parallel), by key."""
    progress = Progress(report=report, total=len(keys), what=what, every=0.25)

    def read(chunk: list[Key]) -> list[dict[str, Any]]:
        found = repository.table.get_many([{"PK": pk, "SK": sk} for pk, sk in chunk], consistent=True)
        progress.add(len(chunk))
        return found

    found = in_parallel(read, chunks(keys, BATCH_GET_LIMIT))
    return {key_of(item): item for chunk in found for item in chunk}


def write(repository: StudyRepository, *, kind: str, items: list[dict[str, Any]], progress: Progress) -> None:
    """Puts (items) or deletes (keys), BATCH_WRITE_LIMIT a request, in parallel; a batch DynamoDB keeps leaving
    unprocessed is sent again after a pause (puts and deletes may be repeated)."""
    send = repository.table.put_items if kind == "put" else repository.table.delete_keys

    def write_batch(batch: list[dict[str, Any]]) -> None:
        for attempt in range(BATCH_ATTEMPTS):
            try:
                send(batch)
                break
            except DatabaseBusyError:
                if attempt == BATCH_ATTEMPTS - 1:
                    raise
                time.sleep(2**attempt)
        progress.add(len(batch))

    in_parallel(write_batch, chunks(items, BATCH_WRITE_LIMIT))


def counted(number: int, singular: str, plural: str | None = None) -> str:
    """ "1 word", "2,000 words": a number with its noun."""
    return f"{number:,} {singular if number == 1 else plural or singular + 's'}"


def shown_ids(ids: Iterable[int], *, shown: int = 5) -> str:
    """The first ids in order: "1, 2, 3, 4, 5 and 7 more"."""
    ordered = sorted(ids)
    more = f" and {len(ordered) - shown:,} more" if len(ordered) > shown else ""
    return ", ".join(map(str, ordered[:shown])) + more
