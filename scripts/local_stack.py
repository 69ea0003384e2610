"""Start, probe and stop a ministack server on loopback; shared by `make dev`, `make seed` and the tests."""
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import boto3

ROOT = Path(__file__).resolve().parent.parent
MINISTACK = ROOT / ".venv-ministack" / "bin" / "ministack"
LOCAL_STATE_DIR = ROOT / ".ministack" / "state"
LOCAL_LOG = ROOT / ".ministack" / "ministack.log"


def stage_environment(stage: str, *, project_dir: Path = ROOT) -> dict[str, str]:
    """The environment variables .chalice/config.json gives the stage (top level, then the stage's own)."""
    config = json.loads((project_dir / ".chalice" / "config.json").read_text())
    return {**config.get("environment_variables", {}),
            **config["stages"][stage].get("environment_variables", {})}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def local_client(service: str, endpoint_url: str) -> Any:
    """A client of one service of the local server, with ministack's root credentials (checked under AUTH=true)."""
    return boto3.client(service, endpoint_url=endpoint_url, region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test")


def dynamodb_client(endpoint_url: str) -> Any:
    """A DynamoDB client for the local server."""
    return local_client("dynamodb", endpoint_url)


def start_ministack(*, port: int, log_path: Path, state_dir: Path | None = None,
                    services: str = "dynamodb", enforce_iam: bool = False) -> subprocess.Popen:
    """Start ministack on 127.0.0.1:port in its own session; persist state to state_dir if given.

    With enforce_iam, ministack checks every call against IAM (AUTH=true), a Lambda's calls against its role."""
    env = {
        # A clean environment: nothing of the caller's AWS settings leaks into the emulator.
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "BIND_HOST": "127.0.0.1",
        "IOT_MTLS_ENABLED": "0",
        "SFTP_ENABLED": "0",
        "GATEWAY_PORT": str(port),
        "SERVICES": services,
        "LOG_LEVEL": "WARNING",
    }
    if enforce_iam:
        env["AUTH"] = "true"
    if state_dir is not None:
        state_dir.mkdir(parents=True, exist_ok=True)
        env.update(PERSIST_STATE="1", STATE_DIR=str(state_dir))
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        return subprocess.Popen([str(MINISTACK)], env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)


def wait_until_ready(*, port: int, process: subprocess.Popen | None = None, timeout: float = 30.0) -> None:
    """Poll ministack's health endpoint until it answers, the process dies, or the timeout passes."""
    deadline = time.monotonic() + timeout
    url = f"http://127.0.0.1:{port}/_ministack/health"
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"ministack exited with code {process.returncode} before it was ready")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.1)
    raise TimeoutError(f"ministack did not answer on port {port} within {timeout} s")


def stop_ministack(process: subprocess.Popen, *, timeout: float = 20.0) -> None:
    """Stop with SIGTERM and wait: ministack writes its persisted state only on a clean shutdown."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
