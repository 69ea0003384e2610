"""`make dev` keeps a learner's history through crashes: a SIGKILL of everything, of make dev alone or of ministack
alone loses no write it answered; a killed make dev's servers are stopped (by themselves, or by the next make dev);
one server at a time uses a data folder. And the journal under it (scripts/durable_ministack.py) replays each write
once, whatever point a crash came at."""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from scripts.dev import SERVERS_FILE, stop_dev_server
from scripts.local_stack import (
    dynamodb_client,
    endpoint_url,
    free_port,
    port_in_use,
    start_ministack,
    stop_ministack,
    wait_until_ready,
)
from tests.tools.test_dev_server import STOPPED, make, request, start

REVIEW = b'{"reviews": [{"word_id": 2, "is_correct": false}, {"word_id": 3, "is_correct": true}]}'


def servers(dev_place) -> dict:
    return json.loads((dev_place.data_dir / SERVERS_FILE).read_text())


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"  # a zombie has exited


def wait_until(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def write_history(port: int, sessions: int = 3) -> dict[int, int]:
    """Sessions with two reviews each, written as fast as the API answers: {session id: its reviews}."""
    written = {}
    for _ in range(sessions):
        status, _, created = request(port, "POST", "/study_sessions", b'{"group_id": 1, "study_activity_id": 1}')
        assert status == 201
        status, _, _ = request(port, "POST", f"/study_sessions/{created['id']}/review", REVIEW)
        assert status == 201
        written[created["id"]] = 2
    return written


def served_history(port: int, written: dict[int, int]) -> dict[int, int | None]:
    """What make dev serves now for each session written: its review count, or None if the session is gone."""
    served = {}
    for session_id in written:
        status, _, session = request(port, "GET", f"/study_sessions/{session_id}")
        served[session_id] = session["review_items_count"] if status == 200 else None
    return served


@pytest.fixture
def launch(dev_place):
    """Start `make dev` in the test's place; whatever is still running at the end is stopped."""
    started: list[subprocess.Popen] = []

    def launch() -> subprocess.Popen:
        started.append(start(dev_place))
        return started[-1]

    yield launch
    for dev in started:
        if dev.poll() is None:
            stop_dev_server(dev)


def kill_everything(dev: subprocess.Popen, dev_place) -> None:
    """SIGKILL to make, make dev and both servers at once, as an out-of-memory kill or a power cut would."""
    pids = servers(dev_place)
    os.killpg(dev.pid, signal.SIGKILL)
    for name in ("ministack", "chalice"):
        os.killpg(pids[name], signal.SIGKILL)
    dev.wait()
    wait_until(lambda: not alive(pids["ministack"]) and not alive(pids["chalice"]))


def test_a_sigkill_of_every_process_loses_no_write_make_dev_answered(dev_place, launch):
    dev = launch()
    written = write_history(dev_place.port)
    kill_everything(dev, dev_place)  # at once: not even a second for a snapshot

    dev = launch()
    try:
        assert served_history(dev_place.port, written) == written
    finally:
        stop_dev_server(dev)


def test_when_make_dev_alone_is_killed_its_servers_stop_and_save_and_the_next_one_starts(dev_place, launch):
    dev = launch()
    written = write_history(dev_place.port, sessions=1)
    pids = servers(dev_place)
    os.killpg(dev.pid, signal.SIGKILL)  # make and make dev; the servers lead sessions of their own
    dev.wait()
    wait_until(lambda: not alive(pids["ministack"]) and not alive(pids["chalice"]))
    assert not port_in_use(dev_place.port) and not port_in_use(dev_place.dynamodb_port)

    dev = launch()
    try:
        assert served_history(dev_place.port, written) == written
    finally:
        stop_dev_server(dev)
    assert "another" not in dev_place.log_path.read_text()


def dead_pid() -> int:
    finished = subprocess.Popen(["true"])
    finished.wait()
    return finished.pid


def test_the_next_make_dev_stops_the_servers_a_killed_one_left_running_and_keeps_their_data(dev_place, launch):
    # What a killed make dev leaves where its servers cannot notice (no PR_SET_PDEATHSIG, as on macOS): its
    # ministack still running on the data folder, its PIDs recorded.
    dev_place.data_dir.mkdir(parents=True)
    orphan = start_ministack(
        port=dev_place.dynamodb_port,
        log_path=dev_place.data_dir / "ministack.log",
        state_dir=dev_place.data_dir / "state",
    )
    try:
        wait_until_ready(port=dev_place.dynamodb_port, process=orphan)
        client = dynamodb_client(endpoint_url(dev_place.dynamodb_port))
        client.create_table(
            TableName="left-behind",
            KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        client.put_item(TableName="left-behind", Item={"k": {"S": "written before the crash"}})
        recorded = {"make_dev": dead_pid(), "ministack": orphan.pid, "chalice": None}
        (dev_place.data_dir / SERVERS_FILE).write_text(json.dumps(recorded))

        dev = launch()
        try:
            assert orphan.poll() == 0  # stopped by SIGTERM, cleanly
            item = dynamodb_client(endpoint_url(dev_place.dynamodb_port)).get_item(
                TableName="left-behind", Key={"k": {"S": "written before the crash"}}
            )
            assert "Item" in item
        finally:
            stop_dev_server(dev)
    finally:
        stop_ministack(orphan)
    output = dev_place.log_path.read_text()
    assert (
        f"stopping the servers a killed `make dev` left running on this data folder: ministack (PID {orphan.pid})"
        in (output)
    )


def test_a_ministack_that_dies_while_make_dev_runs_is_restarted_on_its_state_with_one_line(dev_place, launch):
    dev = launch()
    try:
        written = write_history(dev_place.port, sessions=2)
        first = servers(dev_place)["ministack"]
        os.killpg(first, signal.SIGKILL)
        wait_until(lambda: servers(dev_place)["ministack"] != first and port_in_use(dev_place.dynamodb_port))
        wait_until(lambda: request(dev_place.port, "GET", "/dashboard/stats")[0] == 200)
        assert served_history(dev_place.port, written) == written
        written.update(write_history(dev_place.port, sessions=1))
    finally:
        stop_dev_server(dev)
    lines = [line for line in dev_place.log_path.read_text().splitlines() if "ministack exited" in line]
    assert lines == [
        "ministack exited with code -9: restarting it on its saved state (every write it answered is kept)"
    ]

    dev = launch()
    try:
        assert served_history(dev_place.port, written) == written
    finally:
        stop_dev_server(dev)


def test_a_second_make_dev_on_the_same_data_folder_is_refused_and_told_how_to_run_beside_it(dev_place, launch):
    dev = launch()
    try:
        result = make(
            "dev", f"PORT={free_port()}", f"DYNAMODB_PORT={free_port()}", f"ARGS=--data-dir {dev_place.data_dir}"
        )
        [line] = [line for line in result.stderr.splitlines() if not line.startswith("make: ***")]
        assert result.returncode != 0 and "another `make dev` (PID" in line and f"{dev_place.port}" in line
        assert "DATA_DIR=.ministack-2 PORT=" in line
        assert request(dev_place.port, "GET", "/dashboard/stats")[0] == 200  # the first one still serves
    finally:
        stop_dev_server(dev)
    assert dev_place.log_path.read_text().count(STOPPED) == 1


def test_make_dev_refuses_a_data_folder_another_server_holds(dev_place):
    port = free_port()
    holder = start_ministack(
        port=port, log_path=dev_place.data_dir.parent / "holder.log", state_dir=dev_place.data_dir / "state"
    )
    try:
        wait_until_ready(port=port, process=holder)
        result = make(
            "dev",
            f"PORT={dev_place.port}",
            f"DYNAMODB_PORT={dev_place.dynamodb_port}",
            f"ARGS=--data-dir {dev_place.data_dir}",
        )
        [line] = [line for line in result.stderr.splitlines() if not line.startswith("make: ***")]
        assert "another server holds" in line and "DATA_DIR=.ministack-2 PORT=" in line
        assert not port_in_use(dev_place.port) and not port_in_use(dev_place.dynamodb_port)
    finally:
        stop_ministack(holder)


# --- the journal under it ------------------------------------------------------------------------------------------


class Durable:
    """A durable ministack (as make dev runs it) on a state folder of the test's, started and stopped at will."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.port, self.process = folder, free_port(), None
        self.state = folder / "state"
        self.compact_after: int | None = None

    def start(self) -> None:
        self.process = start_ministack(
            port=self.port,
            log_path=self.folder / "ministack.log",
            state_dir=self.state,
            compact_after=self.compact_after,
        )
        wait_until_ready(port=self.port, process=self.process, log_path=self.folder / "ministack.log")

    def client(self):
        return dynamodb_client(endpoint_url(self.port))

    def count(self) -> int:
        item = self.client().get_item(TableName="counter", Key={"k": {"S": "n"}}, ConsistentRead=True)
        return int(item["Item"]["c"]["N"])

    def add(self, times: int) -> None:
        client = self.client()
        for _ in range(times):
            client.update_item(
                TableName="counter",
                Key={"k": {"S": "n"}},
                UpdateExpression="ADD c :one",
                ExpressionAttributeValues={":one": {"N": "1"}},
            )

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()

    def stop(self) -> None:
        stop_ministack(self.process)
        assert self.process.returncode == 0


@pytest.fixture
def durable(tmp_path: Path):
    server = Durable(tmp_path)
    server.start()
    server.client().create_table(
        TableName="counter",
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    yield server
    if server.process.poll() is None:
        server.stop()


def test_writes_since_the_last_snapshot_are_replayed_once_after_each_of_several_crashes(durable):
    durable.add(5)
    durable.kill()
    durable.start()
    assert durable.count() == 5
    durable.add(2)
    durable.kill()
    durable.start()
    assert durable.count() == 7
    durable.stop()  # a clean stop's snapshot, then its empty journal: nothing is replayed twice
    durable.start()
    assert durable.count() == 7


def test_a_journal_older_than_the_snapshot_is_not_replayed_again(durable):
    # A crash between writing a snapshot and starting its journal leaves the journal of the writes already in it.
    durable.add(4)
    journal = durable.state / "dynamodb.journal"
    old = journal.read_bytes()
    durable.stop()
    journal.write_bytes(old)
    durable.start()
    assert durable.count() == 4


def test_a_last_journal_line_cut_short_by_a_power_cut_is_dropped_and_every_whole_one_replayed(durable):
    durable.add(3)
    durable.kill()
    journal = durable.state / "dynamodb.journal"
    journal.write_bytes(journal.read_bytes() + b'{"account":"000000000000","region":"us-ea')
    durable.start()
    assert durable.count() == 3
    durable.add(1)
    assert durable.count() == 4


def test_a_long_journal_is_folded_into_a_snapshot_while_it_runs_and_a_crash_after_loses_nothing(durable):
    durable.stop()
    durable.compact_after = 10  # 50,000 in make dev
    durable.start()
    durable.add(25)  # folded at 10 and 20 entries: 5 left in the journal
    journal = durable.state / "dynamodb.journal"
    assert len(journal.read_text().splitlines()) == 1 + 5  # its header, then the writes since the last fold
    durable.kill()
    durable.start()
    assert durable.count() == 25
    durable.add(1)
    assert durable.count() == 26


def test_a_second_server_on_a_locked_state_folder_exits_saying_so(durable):
    second = start_ministack(port=free_port(), log_path=durable.folder / "second.log", state_dir=durable.state)
    try:
        assert second.wait(timeout=30) == 75
    finally:
        stop_ministack(second)
    assert "another server holds" in (durable.folder / "second.log").read_text()
    durable.add(1)  # the first one still serves its state
    assert durable.count() == 1
