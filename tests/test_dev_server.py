"""`make dev` for real: ministack and `chalice local` over HTTP on loopback, stopped and restarted."""
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from scripts.local_stack import ROOT, dynamodb_client, free_port, port_in_use


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, int]:
    """A copy of the project whose local stage uses a free ministack port, so a running `make dev` is untouched."""
    copy = tmp_path / "project"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(
        ".venv", ".venv-ministack", ".ministack", ".git", "__pycache__", ".pytest_cache", "tests"))
    (copy / ".venv-ministack").symlink_to(ROOT / ".venv-ministack")
    ministack_port = free_port()
    config_path = copy / ".chalice" / "config.json"
    config = json.loads(config_path.read_text())
    config["stages"]["local"]["environment_variables"]["AWS_ENDPOINT_URL_DYNAMODB"] = \
        f"http://127.0.0.1:{ministack_port}"
    config_path.write_text(json.dumps(config))
    return copy, ministack_port


def start_dev(project_dir: Path, port: int) -> subprocess.Popen:
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    process = subprocess.Popen([sys.executable, "-m", "scripts.dev", "--port", str(port)], cwd=project_dir,
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    deadline = time.monotonic() + 90
    seen = []
    while time.monotonic() < deadline:
        readable, _, _ = select.select([process.stdout], [], [], max(0.0, deadline - time.monotonic()))
        line = process.stdout.readline() if readable else ""
        if not line:
            break  # timed out, or the process closed its output
        seen.append(line)
        if line.startswith("ready in"):
            return process
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=30)
    raise AssertionError("make dev did not become ready:\n" + "".join(seen))


def stop_dev(process: subprocess.Popen) -> str:
    """Ctrl-C, as a developer would press it."""
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=60)
    return output


def post(port: int, body: bytes, content_type: str = "application/json") -> tuple[int, dict, dict]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/study_sessions", data=body, method="POST",
                                     headers={"Content-Type": content_type, "Origin": "http://localhost:5173"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


def test_make_dev_serves_the_contract_stops_on_ctrl_c_and_keeps_data_across_restarts(project):
    project_dir, ministack_port = project
    port = free_port()
    dev = start_dev(project_dir, port)
    try:
        status, headers, created = post(port, b'{"group_id": 1, "study_activity_id": 1}')
        assert status == 201 and created["group_name"] == "Core Verbs"
        assert headers["Location"] == f"/study_sessions/{created['id']}"
        assert headers["Access-Control-Allow-Origin"] == "http://localhost:5173"
        assert post(port, b'{"group_id": true, "study_activity_id": 1}')[:1] == (400,)
        assert post(port, b'{"group_id": 1, ')[2] == {"error": "Request body is not valid JSON"}
        assert post(port, b'{"group_id": 404, "study_activity_id": 1}')[2] == {"error": "Group 404 not found"}
        assert post(port, b"{}", "text/plain")[0] == 415
    finally:
        output = stop_dev(dev)
    assert dev.returncode == 0, output
    assert "stopped chalice local and ministack" in output
    assert not port_in_use(port) and not port_in_use(ministack_port)

    dev = start_dev(project_dir, port)
    try:
        table = json.loads((project_dir / ".chalice" / "config.json").read_text())[
            "stages"]["local"]["environment_variables"]["TABLE_NAME"]
        client = dynamodb_client(f"http://127.0.0.1:{ministack_port}")
        item = client.get_item(TableName=table, Key={"PK": {"S": f"SESSION#{created['id']}"}, "SK": {"S": "META"}})
        assert item["Item"]["group_name"] == {"S": "Core Verbs"}
        assert post(port, b'{"group_id": 2, "study_activity_id": 1}')[0] == 201
    finally:
        stop_dev(dev)
    assert not port_in_use(port) and not port_in_use(ministack_port)
