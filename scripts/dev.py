"""`make dev`: ministack on loopback, the table created and seeded, then `chalice local --stage local`.

SIGINT or SIGTERM, once or repeatedly, to this script or to its whole process group (make's included), stops
both servers: the signal handler only records the request, and the shutdown below always runs to its end.

What keeps a learner's history safe: ministack journals every write (scripts/durable_ministack.py) and locks its
state folder; both servers get SIGTERM if this script dies, even by SIGKILL; their PIDs are recorded in
<data dir>/servers.json, so the next `make dev` stops any that outlived a killed one; a ministack that dies while
serving is restarted on its saved state; and this script stops when make, its parent, is gone."""

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from scripts.aws_env import scrubbed_environment
from scripts.local_stack import (
    LOCAL_TABLE,
    ROOT,
    SERVERS_FILE,
    LocalServerError,
    answers_as_ministack,
    die_with,
    dynamodb_port,
    endpoint_url,
    last_line,
    local_data_dir,
    local_environment,
    next_free_port,
    parse_port,
    port_in_use,
    recorded_servers,
    start_ministack,
    state_locked,
    stop_ministack,
    wait_until_ready,
)
from scripts.seed import seed_table

DEFAULT_PORT = 5000  # the port the portal's React frontend and Typing Tutor call
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# A ministack that dies is restarted on its saved state, unless it dies this often: then something is wrong.
RESTARTS, RESTART_WINDOW = 3, 60.0


class StopRequest:
    """The signal handler: it only records the request. No lock (a handler can run again inside itself, when a
    second signal arrives, and deadlock on one) and no exception (it would cut a shutdown step short)."""

    def __init__(self) -> None:
        self.requested = False

    def __call__(self, *_: object) -> None:
        self.requested = True

    def __bool__(self) -> bool:
        return self.requested


def second_instance_hint(*, port: int, dynamodb_port: int) -> str:
    """How to run another `make dev` beside a running one: a data folder and ports of its own."""
    return (
        f"`DATA_DIR=.ministack-2 PORT={next_free_port(port)} DYNAMODB_PORT={next_free_port(dynamodb_port)} make dev`"
        " (a second history, in .ministack-2/)"
    )


def airplay_hint(port: int) -> str:
    """Who holds port 5000 on a Mac, more often than not."""
    if port != DEFAULT_PORT:
        return ""
    return " (on macOS, often the AirPlay Receiver: System Settings > General > AirDrop & Handoff)"


def port_taken_message(*, port: int, dynamodb: bool, api_port: int = DEFAULT_PORT) -> str:
    """Why `make dev` cannot start on a taken port, and the variable that moves it."""
    if dynamodb:
        if answers_as_ministack(port):
            return (
                f"port {port}, which `make dev` wants for its local DynamoDB server (ministack), is in use on "
                f"127.0.0.1 by a ministack: is another `make dev` running, in this checkout or another? Stop it "
                f"(Ctrl-C in its terminal), or run this one beside it with a folder and ports of its own: "
                f"{second_instance_hint(port=api_port, dynamodb_port=port)}"
            )
        return (
            f"port {port}, which `make dev` wants for its local DynamoDB server (ministack), is in use on "
            f"127.0.0.1 by another program (LocalStack listens there too): run `DYNAMODB_PORT={next_free_port(port)}"
            " make dev` to use another port"
        )
    return (
        f"port {port}, which `make dev` wants for the API (chalice local), is in use on 127.0.0.1 by another "
        f"program{airplay_hint(port)}; run `PORT={next_free_port(port)} make dev` to use another port (the portal's "
        f"frontend and Typing Tutor call port {DEFAULT_PORT})"
    )


def wait_for_http(port: int, process: subprocess.Popen, stop: StopRequest | None = None, timeout: float = 60.0) -> None:
    """Wait until chalice local answers HTTP on the port, or a stop is requested."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not stop:
        if process.poll() is not None:
            raise LocalServerError(f"chalice local exited with code {process.returncode} before it was ready")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1):
                return
        except urllib.error.HTTPError:
            return  # any HTTP answer means chalice local is serving
        except OSError:
            time.sleep(0.1)
    if not stop:
        raise LocalServerError(f"chalice local did not answer on port {port} within {timeout:.0f} s")


def start_chalice_local(*, port: int, dynamodb_port: int, table: str, log_path: Path | None = None) -> subprocess.Popen:
    """`chalice local --stage local` on 127.0.0.1:port, against the given local DynamoDB server and table; its
    output to log_path if given, else to ours."""
    with open(log_path or os.devnull, "ab") as log:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "scripts.chalice_local",
                "local",
                "--stage",
                "local",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                # Chalice's reloader either polls every file under the project (.venv included) each second
                # or, with current watchdog, restarts in a loop on its own file reads: restart `make dev` instead.
                "--no-autoreload",
            ],
            cwd=ROOT,
            start_new_session=True,
            preexec_fn=die_with(os.getpid()),
            stdin=subprocess.DEVNULL,
            stdout=log if log_path else None,
            stderr=subprocess.STDOUT if log_path else None,
            # The caller's environment without its AWS settings, pointed at the local DynamoDB server and table.
            env=scrubbed_environment(**local_environment(dynamodb_port=dynamodb_port, table=table)),
        )


def stop_chalice_local(process: subprocess.Popen) -> None:
    # Signal chalice local's whole process group (its pgid is its PID), so nothing it started outlives it.
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _say(message: str, *, error: bool = False) -> None:
    """Print a line; a terminal that has gone away (SIGHUP) must not cut the shutdown short."""
    with contextlib.suppress(OSError):
        print(message, file=sys.stderr if error else sys.stdout, flush=True)


def record_servers(data_dir: Path, **pids: int | None) -> None:
    """Write <data dir>/servers.json (atomically): this script's PID, its ports and its servers' PIDs."""
    path = data_dir / SERVERS_FILE
    fresh = path.with_suffix(".tmp")
    fresh.write_text(json.dumps({"make_dev": os.getpid(), **pids}))
    os.replace(fresh, path)


def runs(pid: int | None, marker: str) -> bool:
    """Whether process `pid` is alive and runs our `marker` (a script's name) from this checkout: a recorded PID may
    since have been given to another program, which must not be stopped."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        folder = os.readlink(f"/proc/{pid}/cwd")
    except FileNotFoundError:
        return False  # no such process
    except OSError:  # no /proc (macOS), or not ours to look at
        result = subprocess.run(["ps", "-o", "command=", "-p", str(pid)], capture_output=True, text=True)
        command, folder = result.stdout, str(ROOT)
    return marker in command and (str(ROOT) in command or Path(folder) == ROOT)


def claim_data_dir(data_dir: Path, *, port: int, dynamodb_port: int) -> None:
    """Make the data folder this `make dev`'s: refuse while another `make dev` uses it; stop the servers a killed
    one left behind (SIGTERM: ministack saves its state), found by the PIDs it recorded."""
    recorded = recorded_servers(data_dir)
    other = recorded.get("make_dev")
    if other != os.getpid() and runs(other, "scripts.dev"):
        raise LocalServerError(
            f"another `make dev` (PID {other}, http://127.0.0.1:{recorded.get('port')}) is using {data_dir}: stop it "
            f"(Ctrl-C in its terminal), or run this one beside it with a folder and ports of its own: "
            f"{second_instance_hint(port=port, dynamodb_port=dynamodb_port)}"
        )
    orphans = {
        name: pid
        for name, pid, marker in (
            ("ministack", recorded.get("ministack"), "durable_ministack"),
            ("chalice local", recorded.get("chalice"), "scripts.chalice_local"),
        )
        if runs(pid, marker)
    }
    if orphans:
        _say(
            "stopping the servers a killed `make dev` left running on this data folder: "
            + ", ".join(f"{name} (PID {pid})" for name, pid in orphans.items())
        )
        for pid in orphans.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGTERM)  # each leads a session of its own: its pgid is its PID
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and any(runs(pid, "") for pid in orphans.values()):
            time.sleep(0.1)
        for pid in orphans.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)  # the journal holds every write ministack answered
    with contextlib.suppress(FileNotFoundError):
        (data_dir / SERVERS_FILE).unlink()
    if state_locked(data_dir / "state"):
        raise LocalServerError(
            f"another server holds {data_dir / 'state'} (its lock file): stop it, or run this `make dev` with a "
            f"folder and ports of its own: {second_instance_hint(port=port, dynamodb_port=dynamodb_port)}"
        )


def run(*, port: int, dynamodb_port: int, data_dir: Path, stop: StopRequest) -> int:
    """Start ministack and chalice local, serve until a stop is requested, chalice local exits or make is gone,
    restarting ministack if it dies, then stop both."""
    started = time.monotonic()
    parent = os.getppid()
    if port == dynamodb_port:
        raise LocalServerError(f"PORT and DYNAMODB_PORT are both {port}: give the API and DynamoDB a port each")
    data_dir.mkdir(parents=True, exist_ok=True)
    claim_data_dir(data_dir, port=port, dynamodb_port=dynamodb_port)
    for taken, dynamodb in ((dynamodb_port, True), (port, False)):
        if port_in_use(taken):
            raise LocalServerError(port_taken_message(port=taken, dynamodb=dynamodb, api_port=port))
    log_path = data_dir / "ministack.log"

    def start_dynamodb() -> subprocess.Popen:
        server = start_ministack(
            port=dynamodb_port, log_path=log_path, state_dir=data_dir / "state", die_with_parent=True
        )
        record_servers(data_dir, ministack=server.pid, chalice=None, port=port, dynamodb_port=dynamodb_port)
        return server

    ministack = start_dynamodb()
    chalice = None
    restarts: list[float] = []
    try:
        # Even when a stop is requested meanwhile: ministack loads its saved state as it starts, and a stop in the
        # middle of that could save a partial copy over it.
        wait_until_ready(port=dynamodb_port, process=ministack, log_path=log_path)
        if stop:
            return 0
        _say(f"ministack on {endpoint_url(dynamodb_port)} (state in {data_dir / 'state'}, log in {log_path})")
        _say(seed_table(endpoint=endpoint_url(dynamodb_port), table_name=LOCAL_TABLE))
        chalice = start_chalice_local(port=port, dynamodb_port=dynamodb_port, table=LOCAL_TABLE)
        record_servers(data_dir, ministack=ministack.pid, chalice=chalice.pid, port=port, dynamodb_port=dynamodb_port)
        wait_for_http(port, chalice, stop)
        if stop:
            return 0
        _say(
            f"ready in {time.monotonic() - started:.1f} s: http://127.0.0.1:{port} (also http://localhost:{port}),"
            " e.g. POST /study_sessions. Ctrl-C stops everything."
        )
        while not stop:
            if chalice.poll() is not None:
                raise LocalServerError(f"chalice local exited with code {chalice.returncode}")
            if ministack.poll() is not None:
                now = time.monotonic()
                restarts = [when for when in restarts if now - when < RESTART_WINDOW] + [now]
                said = last_line(log_path)
                why = f"ministack exited with code {ministack.returncode}" + (f" ({said})" if said else "")
                if len(restarts) > RESTARTS:
                    raise LocalServerError(f"{why}, {len(restarts)} times in a minute: stopping; see {log_path}")
                _say(f"{why}: restarting it on its saved state (every write it answered is kept)", error=True)
                ministack = start_dynamodb()
                wait_until_ready(port=dynamodb_port, process=ministack, log_path=log_path)
                record_servers(
                    data_dir, ministack=ministack.pid, chalice=chalice.pid, port=port, dynamodb_port=dynamodb_port
                )
            if os.getppid() != parent:
                _say("make, which started this `make dev`, is gone: stopping")
                break
            time.sleep(0.2)
        return 0
    finally:
        if chalice is not None:
            stop_chalice_local(chalice)
        stop_ministack(ministack)
        with contextlib.suppress(FileNotFoundError):
            (data_dir / SERVERS_FILE).unlink()
        _say("stopped chalice local and ministack")


def start_dev_server(
    *, port: int, dynamodb_port: int, data_dir: Path, log_path: Path, timeout: float = 90.0
) -> subprocess.Popen:
    """`make dev` in the background, in a session of its own (its pgid is make's PID), on the given ports and data
    folder, its output to log_path; return once it is ready. For tests: a running `make dev` stays untouched."""
    command = [
        "make",
        "--no-print-directory",
        "-C",
        str(ROOT),
        "dev",
        f"PORT={port}",
        f"DYNAMODB_PORT={dynamodb_port}",
        f"ARGS=--data-dir {data_dir}",
    ]
    env = scrubbed_environment()
    # A file, not a pipe: a pipe nobody reads fills up with access-log lines and then blocks the server.
    with open(log_path, "ab") as log:
        offset = log.tell()  # a restart appends to the same log: look for "ready" only in its own lines
        process = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if b"ready in" in log_path.read_bytes()[offset:]:
            return process
        time.sleep(0.1)
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)
    raise RuntimeError("make dev did not become ready:\n" + log_path.read_text(errors="replace"))


def stop_dev_server(process: subprocess.Popen, *, timeout: float = 60.0) -> None:
    """Ctrl-C, as a terminal delivers it (to the whole process group), and wait for everything to stop."""
    os.killpg(process.pid, signal.SIGINT)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        raise


def main() -> int:
    # First of all: from here on a stop signal only sets this flag, so no step of the shutdown can be cut short
    # (make forwards a SIGTERM to us a second time, and a terminal's Ctrl-C may come twice).
    stop = StopRequest()
    for signum in STOP_SIGNALS:
        signal.signal(signum, stop)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", default=str(DEFAULT_PORT), help="the API's port (make dev's PORT)")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="ministack's saved state (kept across restarts), log and temporary files",
    )
    args = parser.parse_args()
    try:
        return run(
            port=parse_port(args.port, variable="PORT"),
            dynamodb_port=dynamodb_port(),
            data_dir=(args.data_dir or local_data_dir()).resolve(),
            stop=stop,
        )
    except (LocalServerError, BotoCoreError, ClientError) as exc:  # the seed's calls to ministack, too
        _say(f"make dev: {exc}", error=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
