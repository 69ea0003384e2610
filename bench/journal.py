"""The journal section of `make bench`: what make dev's write journal (scripts/durable_ministack.py) costs a write,
and what a SIGKILL loses with it.

Two fresh ministacks on free loopback ports, started the same way but for the journal: a plain one (the tests' and
the bench's), and the durable one make dev runs, with a state folder. The same PutItems go to each, in batches that
alternate between them, timed one by one from the client; the ratio of their p50s is the journal's cost. Then the
durable one is killed with SIGKILL straight after its last answered write, started again on its state folder, and
every item written is looked for: `lost_after_sigkill` counts the answered writes it no longer holds."""

import signal
import time
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from bench.meter import percentile, rounded
from bench.processes import BenchError
from chalicelib.store.table import create_table_if_missing
from scripts.local_stack import (
    LocalServerError,
    dynamodb_client,
    endpoint_url,
    free_port,
    start_ministack,
    stop_ministack,
    wait_until_ready,
)

TABLE = "bench-journal"
BATCH = 50  # calls to one server before the other's turn


def _item(server: str, number: int) -> dict[str, Any]:
    return {"PK": {"S": f"BENCH#{server}#{number:06d}"}, "SK": {"S": "META"}, "n": {"N": str(number)}}


def measure_journal(work: Path, *, calls: int) -> dict[str, Any]:
    """calls timed PutItems to each server; the p50 and p95 of each, their ratio, and the SIGKILL's losses."""
    try:
        return _measure(work, calls=calls)
    except (LocalServerError, BotoCoreError, ClientError, OSError) as exc:
        raise BenchError(f"the journal section: {exc}") from exc


def _measure(work: Path, *, calls: int) -> dict[str, Any]:
    servers: dict[str, Any] = {}
    clients: dict[str, Any] = {}
    ports = {"plain": free_port(), "journal": free_port()}

    def start(name: str) -> None:
        """The plain server, or the durable one on its state folder (again after the SIGKILL), ready."""
        log_path = work / name / "ministack.log"
        state_dir = work / name / "state" if name == "journal" else None
        servers[name] = start_ministack(port=ports[name], log_path=log_path, state_dir=state_dir)
        wait_until_ready(port=ports[name], process=servers[name], log_path=log_path)

    try:
        for name, port in ports.items():
            start(name)
            clients[name] = dynamodb_client(endpoint_url(port))
            create_table_if_missing(clients[name], table_name=TABLE)
            clients[name].put_item(TableName=TABLE, Item=_item(name, 0))  # a first call outside the timing
        timings: dict[str, list[float]] = {"plain": [], "journal": []}
        written = 0
        while written < calls:
            batch = range(written + 1, min(written + BATCH, calls) + 1)
            for name in ("plain", "journal") if written // BATCH % 2 == 0 else ("journal", "plain"):
                for number in batch:
                    started = time.perf_counter()
                    clients[name].put_item(TableName=TABLE, Item=_item(name, number))
                    timings[name].append((time.perf_counter() - started) * 1000)
            written = batch[-1]
        # The last write was answered: kill the durable server at once, as an out-of-memory kill would.
        servers["journal"].send_signal(signal.SIGKILL)
        servers["journal"].wait()
        start("journal")
        held = _numbers_held(clients["journal"], "journal")
    finally:
        for server in servers.values():
            stop_ministack(server)
    plain_p50, journal_p50 = percentile(timings["plain"], 50) or 0.0, percentile(timings["journal"], 50) or 0.0
    return {
        "calls": calls,
        "plain_putitem_p50_ms": rounded(plain_p50, 2),
        "plain_putitem_p95_ms": rounded(percentile(timings["plain"], 95), 2),
        "journal_putitem_p50_ms": rounded(journal_p50, 2),
        "journal_putitem_p95_ms": rounded(percentile(timings["journal"], 95), 2),
        "p50_ratio": round(journal_p50 / plain_p50, 2),
        "written_before_sigkill": calls + 1,
        "lost_after_sigkill": len(set(range(calls + 1)) - held),
    }


def _numbers_held(client: Any, server: str) -> set[int]:
    """The numbers of the items the server holds now (a consistent Scan of the bench's own small table)."""
    numbers: set[int] = set()
    kwargs: dict[str, Any] = {"TableName": TABLE, "ConsistentRead": True}
    while True:
        page = client.scan(**kwargs)
        numbers.update(int(item["n"]["N"]) for item in page["Items"] if item["PK"]["S"].startswith(f"BENCH#{server}#"))
        if "LastEvaluatedKey" not in page:
            return numbers
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
