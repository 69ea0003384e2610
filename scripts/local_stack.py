"""The local DynamoDB server (ministack) on loopback: its port, starting, probing and stopping it; shared by
`make dev`, `make seed`, `make loadtest` and the tests."""

import ctypes
import fcntl
import http.client
import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import boto3

ROOT = Path(__file__).resolve().parent.parent
MINISTACK = ROOT / ".venv-ministack" / "bin" / "ministack"
# ministack with a journal of its DynamoDB writes (scripts/durable_ministack.py), run by ministack's interpreter.
DURABLE_MINISTACK = [
    str(ROOT / ".venv-ministack" / "bin" / "python"),
    "-I",
    str(ROOT / "scripts" / "durable_ministack.py"),
]
LOCKED_EXIT = 75  # durable_ministack's exit code when another server holds the state folder
PR_SET_PDEATHSIG = 1
LOCAL_DIR = ROOT / ".ministack"  # make dev's ministack: state/, ministack.log and tmp/ (all git-ignored)
SERVERS_FILE = "servers.json"  # in the data folder: the running make dev's PIDs and ports (scripts/dev.py)
DEFAULT_DYNAMODB_PORT = 4566
LOCAL_TABLE = "study-portal-local"


class LocalServerError(Exception):
    """A local server cannot be started or reached; the message says why and what to do, in one line."""


def local_data_dir() -> Path:
    """make dev's data folder: DATA_DIR (relative to the checkout) if set, else .ministack/. make seed, import and
    reset take the same variable, so they use the history of the make dev they stand beside."""
    named = os.environ.get("DATA_DIR", "").strip()
    return (ROOT / named).resolve() if named else LOCAL_DIR


def state_locked(state_dir: Path) -> bool:
    """Whether a server holds the state folder's lock (scripts/durable_ministack.py takes it)."""
    try:
        with open(state_dir / "lock", "rb") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(lock, fcntl.LOCK_UN)
            return False
    except FileNotFoundError:
        return False


def recorded_servers(data_dir: Path) -> dict[str, int | None]:
    """What the make dev using this data folder recorded in it (scripts/dev.py): its PID, ports and servers' PIDs."""
    try:
        recorded = json.loads((data_dir / SERVERS_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return recorded if isinstance(recorded, dict) else {}


def stage_environment(stage: str, *, project_dir: Path = ROOT) -> dict[str, str]:
    """The environment variables .chalice/config.json gives the stage (top level, then the stage's own)."""
    config = json.loads((project_dir / ".chalice" / "config.json").read_text())
    return {**config.get("environment_variables", {}), **config["stages"][stage].get("environment_variables", {})}


def parse_port(value: str, *, variable: str) -> int:
    """A port number given in a variable (PORT, DYNAMODB_PORT), or a LocalServerError naming it."""
    if not value.isdigit() or not 1 <= int(value) <= 65535:
        raise LocalServerError(f"{variable} must be a port number from 1 to 65535, not {value!r}")
    return int(value)


def dynamodb_port() -> int:
    """The local DynamoDB server's port: DYNAMODB_PORT, or 4566."""
    return parse_port(os.environ.get("DYNAMODB_PORT") or str(DEFAULT_DYNAMODB_PORT), variable="DYNAMODB_PORT")


def endpoint_url(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def local_environment(*, dynamodb_port: int, table: str = LOCAL_TABLE) -> dict[str, str]:
    """What the local stage gets beyond .chalice/config.json: its DynamoDB endpoint and table."""
    return {"AWS_ENDPOINT_URL_DYNAMODB": endpoint_url(dynamodb_port), "TABLE_NAME": table}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def next_free_port(port: int) -> int | str:
    """The first port above `port` that nothing listens on, to suggest in a message."""
    return next(
        (candidate for candidate in range(port + 1, min(port + 200, 65536)) if not port_in_use(candidate)),
        "<a free port>",
    )


def answers_as_ministack(port: int, *, timeout: float = 1.0) -> bool:
    """Whether a ministack with DynamoDB answers its health check on the port (LocalStack and others do not)."""
    try:
        with urllib.request.urlopen(f"{endpoint_url(port)}/_ministack/health", timeout=timeout) as response:
            health = json.loads(response.read())
    # Refused, reset, timed out, an HTTP error status, an answer that is not HTTP at all, or not JSON.
    except (OSError, http.client.HTTPException, ValueError):
        return False
    return (
        isinstance(health, dict)
        and isinstance(health.get("services"), dict)
        and "dynamodb" in health["services"]
        and "edition" in health
    )


def local_client(service: str, endpoint: str) -> Any:
    """A client of one service of the local server, with ministack's root credentials (checked under AUTH=true)."""
    return boto3.client(
        service, endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
    )


def dynamodb_client(endpoint: str) -> Any:
    """A DynamoDB client for the local server."""
    return local_client("dynamodb", endpoint)


def die_with(parent: int) -> Any:
    """A Popen preexec_fn: the child gets SIGTERM (and so saves its state) when `parent` dies, even by SIGKILL.

    Linux's PR_SET_PDEATHSIG; elsewhere nothing, and the next `make dev` stops the orphans by their recorded PIDs."""

    def preexec() -> None:
        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        except (OSError, AttributeError):
            return
        if os.getppid() != parent:  # the parent died before prctl took effect
            os.kill(os.getpid(), signal.SIGTERM)

    return preexec


def start_ministack(
    *,
    port: int,
    log_path: Path,
    state_dir: Path | None = None,
    services: str = "dynamodb",
    enforce_iam: bool = False,
    die_with_parent: bool = False,
    compact_after: int | None = None,
) -> subprocess.Popen:
    """Start ministack on 127.0.0.1:port in its own session; persist state to state_dir if given.

    With a state_dir, the durable ministack: every DynamoDB write journalled as it is answered, so a crash loses
    none, and the folder locked while it runs (scripts/durable_ministack.py).
    Its temporary files (a PID file, Lambda code) go to a tmp/ folder beside its log, not the system's.
    With enforce_iam, ministack checks every call against IAM (AUTH=true), a Lambda's calls against its role.
    With die_with_parent, it stops when this process dies. compact_after: the journal entries after which the
    durable one folds them into a new snapshot while it runs (default 50,000)."""
    scratch = log_path.parent / "tmp"
    scratch.mkdir(parents=True, exist_ok=True)
    env = {
        # A clean environment: nothing of the caller's AWS settings leaks into the emulator.
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "TMPDIR": str(scratch),
        "BIND_HOST": "127.0.0.1",
        "IOT_MTLS_ENABLED": "0",
        "SFTP_ENABLED": "0",
        "GATEWAY_PORT": str(port),
        "SERVICES": services,
        "LOG_LEVEL": "WARNING",
    }
    if enforce_iam:
        env["AUTH"] = "true"
    command = [str(MINISTACK)]
    if state_dir is not None:
        state_dir.mkdir(parents=True, exist_ok=True)
        env.update(PERSIST_STATE="1", STATE_DIR=str(state_dir))
        if compact_after is not None:
            env["JOURNAL_COMPACT_AFTER"] = str(compact_after)
        command = DURABLE_MINISTACK
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            command,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=die_with(os.getpid()) if die_with_parent else None,
        )


def last_line(path: Path) -> str:
    """A log's last non-empty line, to quote in a message."""
    try:
        lines = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return lines[-1].strip() if lines else ""


def wait_until_ready(
    *, port: int, process: subprocess.Popen | None = None, timeout: float = 30.0, log_path: Path | None = None
) -> None:
    """Poll ministack's health endpoint until it answers.

    Raises LocalServerError if the process dies first (quoting its log's last line) or the timeout passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            why = f": {last_line(log_path)}" if log_path is not None and last_line(log_path) else ""
            raise LocalServerError(f"ministack exited with code {process.returncode} before it was ready{why}")
        if answers_as_ministack(port):
            return
        time.sleep(0.1)
    raise LocalServerError(f"ministack did not answer on port {port} within {timeout:.0f} s")


def stop_ministack(process: subprocess.Popen, *, timeout: float = 20.0) -> None:
    """Stop with SIGTERM and wait: ministack writes its persisted state only on a clean shutdown."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
