"""ministack with a write-ahead journal of its DynamoDB writes, so a crash loses none of them.

Run by ministack's own interpreter (.venv-ministack/bin/python this-file), with PERSIST_STATE=1 and STATE_DIR set:
standard library and ministack only, none of the project's code.

ministack saves its state (STATE_DIR/dynamodb.json) only on a clean shutdown; a SIGKILL, an out-of-memory kill or
a power cut would lose everything since it started. Here every DynamoDB request that succeeds and may write is
appended to STATE_DIR/dynamodb.journal as it is answered (one line: the account, region, action and body), on the
event loop that runs DynamoDB's handlers one at a time, so the journal's order is the order they were applied in.
A SIGKILL loses nothing (the lines are in the kernel's page cache); a thread fsyncs the journal every second, which
bounds a power cut's loss to about a second. At start the journal is replayed onto the snapshot and a new snapshot
written; a clean shutdown's snapshot also starts a new journal.

Which journal belongs to which snapshot: each snapshot carries a generation (a random id) and each journal names
in its first line the generation it continues. A journal whose generation is not the snapshot's is already in it
(a crash came between writing a snapshot and starting the journal after it) and is dropped, never replayed twice.

The state folder is locked (STATE_DIR/lock, flock) for the life of the process: one server writes a state folder at
a time, or the last to stop would overwrite the other's writes."""

import fcntl
import json
import logging
import os
import sys
import threading
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from ministack.core import persistence, responses
from ministack.services import dynamodb

logger = logging.getLogger("durable")
SERVICE = "dynamodb"
# Actions that never change a table: not journalled. Anything else that succeeds is (ExecuteStatement may write).
READS = {
    "GetItem",
    "BatchGetItem",
    "Query",
    "Scan",
    "TransactGetItems",
    "DescribeTable",
    "ListTables",
    "DescribeTimeToLive",
    "DescribeContinuousBackups",
    "DescribeEndpoints",
    "ListTagsOfResource",
    "DescribeKinesisStreamingDestination",
    "DescribeContributorInsights",
    "ListContributorInsights",
    "GetResourcePolicy",
    "DescribeExport",
    "ListExports",
    "DescribeImport",
    "ListImports",
    "DescribeBackup",
    "ListBackups",
    "DescribeLimits",
}
# A journal this long is folded into a new snapshot while serving, so a restart never replays more than this
# (JOURNAL_COMPACT_AFTER: the tests' small one).
COMPACT_AFTER = int(os.environ.get("JOURNAL_COMPACT_AFTER") or 50_000)
LOCKED_EXIT = 75  # EX_TEMPFAIL: another process holds the state folder


class Journal:
    """STATE_DIR/dynamodb.journal: a first line naming its generation, then one JSON line per write."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd = -1
        self.entries = 0
        self.dirty = False
        self.lock = threading.Lock()  # between the loop's appends and the fsync thread

    def read(self, generation: str | None) -> list[dict[str, Any]]:
        """The writes to replay onto the snapshot of this generation: none if the journal continues another."""
        try:
            lines = self.path.read_bytes().split(b"\n")
        except FileNotFoundError:
            return []
        try:
            header = json.loads(lines[0])
        except ValueError:
            return []
        if header.get("generation") != generation:
            return []
        entries = []
        for line in lines[1:]:
            try:
                entries.append(json.loads(line))
            except ValueError:
                break  # the end, or a line cut short by a power cut: nothing after it was answered as written
        return entries

    def start(self, generation: str | None) -> None:
        """Begin an empty journal continuing the given snapshot's generation, in place of the old one."""
        fresh = self.path.with_suffix(".journal.tmp")
        with open(fresh, "wb") as file:
            file.write(json.dumps({"generation": generation}).encode() + b"\n")
            file.flush()
            os.fsync(file.fileno())
        os.replace(fresh, self.path)
        _sync_folder(self.path.parent)
        with self.lock:
            if self.fd >= 0:
                os.close(self.fd)
            self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
            self.entries = 0
            self.dirty = False

    def append(self, entry: dict[str, Any]) -> None:
        line = json.dumps(entry, separators=(",", ":")).encode() + b"\n"
        with self.lock:
            os.write(self.fd, line)
            self.entries += 1
            self.dirty = True

    def sync(self) -> None:
        with self.lock:
            if self.dirty:
                os.fsync(self.fd)
                self.dirty = False


def _sync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_snapshot(state: dict[str, Any], generation: str) -> None:
    """persistence.save_state's file, its format and name, with the generation, written to disk before it replaces
    the old one (save_state itself neither fsyncs nor says whether it failed)."""
    path = Path(persistence.STATE_DIR) / f"{SERVICE}.json"
    fresh = path.with_suffix(".json.tmp")
    payload = {**state, "journal_generation": generation}
    with open(fresh, "w") as file:
        json.dump(
            {"__ministack_format__": persistence._state_format_version(SERVICE), "payload": payload},
            file,
            default=persistence._json_default,
        )
        file.flush()
        os.fsync(file.fileno())
    os.replace(fresh, path)
    _sync_folder(path.parent)


def run_to_end(coroutine: Awaitable[Any]) -> Any:
    """Run a coroutine that never waits (DynamoDB's handle_request) without an event loop."""
    try:
        coroutine.send(None)  # type: ignore[attr-defined]
    except StopIteration as done:
        return done.value
    raise RuntimeError("a DynamoDB request waited during replay")


def replay(original: Callable[..., Awaitable[Any]], entries: list[dict[str, Any]]) -> int:
    """Apply the journal's writes in their order, each in the account and region it was made in."""
    failed = 0
    for entry in entries:
        responses.set_request_account_id(entry["account"])
        responses.set_request_region(entry["region"])
        status, _, _ = run_to_end(original("POST", "/", {"x-amz-target": entry["target"]}, entry["body"].encode(), {}))
        failed += status >= 300
    return failed


def snapshot(journal: Journal) -> None:
    """Fold everything so far into a new snapshot and start its journal; on the loop, between two requests."""
    generation = uuid.uuid4().hex
    write_snapshot(dynamodb.get_state(), generation)
    journal.start(generation)


def main() -> None:
    state_dir = Path(persistence.STATE_DIR)
    state_dir.mkdir(parents=True, exist_ok=True)
    with open(state_dir / "lock", "a+") as lock:  # held until this process ends
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"another server holds {state_dir} (its lock file)", file=sys.stderr, flush=True)
            sys.exit(LOCKED_EXIT)
        serve(state_dir)


def serve(state_dir: Path) -> None:
    """Replay the journal onto the snapshot, then run ministack with every write journalled."""
    original = dynamodb.handle_request
    journal = Journal(state_dir / f"{SERVICE}.journal")
    saved = persistence.load_state(SERVICE)
    generation = (saved or {}).get("journal_generation")
    entries = journal.read(generation)
    if entries:
        dynamodb.load_persisted_state(saved)
        failed = replay(original, entries)
        snapshot(journal)
        dynamodb.reset()  # ministack's own start loads the new snapshot
        print(f"replayed {len(entries)} journalled writes ({failed} refused)", file=sys.stderr, flush=True)
    else:
        journal.start(generation)

    async def journalled(method: str, path: str, headers: dict, body: bytes, query_params: dict) -> Any:
        answer = await original(method, path, headers, body, query_params)
        target = headers.get("x-amz-target", "")
        if answer[0] < 300 and target.rsplit(".", 1)[-1] not in READS:
            journal.append(
                {
                    "account": responses.get_account_id(),
                    "region": responses.get_region(),
                    "target": target,
                    "body": body.decode(),
                }
            )
            if journal.entries >= COMPACT_AFTER:
                snapshot(journal)
        return answer

    save_state = persistence.save_state

    def save_with_journal(service: str, data: dict) -> None:
        # ministack's clean shutdown: its snapshot gets a generation and a journal of its own.
        if service != SERVICE:
            save_state(service, data)
            return
        try:
            generation = uuid.uuid4().hex
            write_snapshot(data, generation)
            journal.start(generation)
        except OSError as exc:  # the journal still holds every write: the next start replays it
            logger.error("could not save DynamoDB's state: %s", exc)

    def sync_every_second() -> None:
        while not stopped.wait(1.0):
            journal.sync()

    dynamodb.handle_request = journalled
    persistence.save_state = save_with_journal
    stopped = threading.Event()
    threading.Thread(target=sync_every_second, name="journal-fsync", daemon=True).start()
    from ministack.app import main as run_ministack

    try:
        run_ministack()
    finally:
        stopped.set()
        journal.sync()


if __name__ == "__main__":
    main()
