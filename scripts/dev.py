"""`make dev`: ministack on loopback, the table created and seeded, then `chalice local --stage local`."""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

from scripts.local_stack import (
    LOCAL_LOG,
    LOCAL_STATE_DIR,
    ROOT,
    port_in_use,
    stage_environment,
    start_ministack,
    stop_ministack,
    wait_until_ready,
)
from scripts.seed import seed_table


def _wait_for_http(port: int, process: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1)
            return
        except urllib.error.HTTPError:
            return  # any HTTP answer means chalice local is serving
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"chalice local did not answer on port {port}")


def _local_aws_environment() -> dict[str, str]:
    """The caller's environment without its AWS identity: placeholders that ministack accepts instead."""
    env = {name: value for name, value in os.environ.items()
           if name not in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")}
    return {**env, "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}


def _stop_chalice(process: subprocess.Popen) -> None:
    # Signal chalice local's whole process group (its pgid is its PID), so nothing it started outlives it.
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def copy_project(*, dest: Path, ministack_port: int) -> Path:
    """Copy the project (sharing its ministack virtualenv) with the local stage on another ministack port.

    For tests: `make dev` in the copy leaves a running `make dev` and its state untouched."""
    shutil.copytree(ROOT, dest, ignore=shutil.ignore_patterns(
        ".venv", ".venv-ministack", ".venv-deploy", ".ministack", ".git", "__pycache__", ".pytest_cache",
        ".hypothesis", "tests", "e2e", "build"))
    (dest / ".venv-ministack").symlink_to(ROOT / ".venv-ministack")
    config_path = dest / ".chalice" / "config.json"
    config = json.loads(config_path.read_text())
    config["stages"]["local"]["environment_variables"]["AWS_ENDPOINT_URL_DYNAMODB"] = \
        f"http://127.0.0.1:{ministack_port}"
    config_path.write_text(json.dumps(config))
    return dest


def start_dev_server(*, project_dir: Path, port: int, log_path: Path, state_dir: Path | None = None,
                     timeout: float = 90.0) -> subprocess.Popen:
    """Run this script in the background for project_dir, its output to log_path; return once it is ready."""
    command = [sys.executable, "-m", "scripts.dev", "--port", str(port)]
    if state_dir is not None:
        command += ["--state-dir", str(state_dir)]
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    # A file, not a pipe: a pipe nobody reads fills up with access-log lines and then blocks the server.
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=project_dir, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if any(line.startswith("ready in") for line in log_path.read_text(errors="replace").splitlines()):
            return process
        time.sleep(0.1)
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    raise RuntimeError("make dev did not become ready:\n" + log_path.read_text(errors="replace"))


def stop_dev_server(process: subprocess.Popen) -> None:
    """Ctrl-C, as a developer would press it, and wait for everything to stop."""
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        raise


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--state-dir", type=Path, default=LOCAL_STATE_DIR,
                        help="where ministack saves the tables between runs")
    args = parser.parse_args()
    started = time.monotonic()
    env = stage_environment("local")
    ministack_port = urlparse(env["AWS_ENDPOINT_URL_DYNAMODB"]).port
    for port, what in ((ministack_port, "ministack"), (args.port, "chalice local")):
        if port_in_use(port):
            print(f"port {port} (for {what}) is in use on 127.0.0.1: is another `make dev` running?",
                  file=sys.stderr)
            return 1
    # Ctrl-C and SIGTERM both unwind through the finally below, so both servers stop cleanly. SIGINT is set
    # explicitly because a shell starting us in the background hands it down ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    ministack = start_ministack(port=ministack_port, log_path=LOCAL_LOG, state_dir=args.state_dir)
    chalice = None
    try:
        wait_until_ready(port=ministack_port, process=ministack)
        print(f"ministack on http://127.0.0.1:{ministack_port} (state in {args.state_dir}, log in {LOCAL_LOG})")
        print(seed_table(endpoint_url=env["AWS_ENDPOINT_URL_DYNAMODB"], table_name=env["TABLE_NAME"]))
        chalice = subprocess.Popen(
            [sys.executable, "-m", "scripts.chalice_local", "local", "--stage", "local",
             "--host", "127.0.0.1", "--port", str(args.port),
             # Chalice's reloader either polls every file under the project (.venv included) each second
             # or, with current watchdog, restarts in a loop on its own file reads: restart `make dev` instead.
             "--no-autoreload"],
            cwd=ROOT, start_new_session=True, env=_local_aws_environment())
        _wait_for_http(args.port, chalice)
        print(f"ready in {time.monotonic() - started:.1f} s: http://127.0.0.1:{args.port}/study_sessions"
              " (Ctrl-C stops everything)", flush=True)
        return chalice.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        if chalice is not None:
            _stop_chalice(chalice)
        stop_ministack(ministack)
        print("stopped chalice local and ministack", flush=True)


if __name__ == "__main__":
    sys.exit(main())
