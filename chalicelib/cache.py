"""An in-process cache of reference data, so a warm Lambda does not re-read what only seeding or an import changes."""

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any

REFERENCE_SECONDS = 60.0  # how stale a cached name or word text may be (docs/design.md, "The reference cache")
REFERENCE_ENTRIES = 20_000  # groups, activities, words and live sessions' groups; a few MB at most


class ReferenceCache:
    """Values kept for `seconds` after they were last read from the table, at most `entries` of them."""

    def __init__(
        self,
        *,
        seconds: float = REFERENCE_SECONDS,
        entries: int = REFERENCE_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._seconds = seconds
        self._entries = entries
        self._clock = clock
        self._values: dict[Hashable, tuple[float, Any]] = {}
        self._lock = threading.Lock()  # chalice local serves requests on threads

    def get(self, key: Hashable) -> Any | None:
        """The value stored under key, or None if there is none or it is older than the cache's lifetime."""
        entry = self._values.get(key)
        if entry is None or entry[0] <= self._clock():
            return None
        return entry[1]

    def put(self, key: Hashable, value: Any) -> None:
        """Keep value under key from now on; the least recently stored entries go when the cache is full."""
        expires = self._clock() + self._seconds
        with self._lock:
            self._values.pop(key, None)  # stored again at the end, as the newest
            self._values[key] = (expires, value)
            while len(self._values) > self._entries:
                del self._values[next(iter(self._values))]
