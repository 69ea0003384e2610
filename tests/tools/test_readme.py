"""The README is a user's page: short, and every curl in it answers what it says against a real `make dev`."""

import re
import subprocess

from app import app
from scripts.dev import DEFAULT_PORT, start_dev_server, stop_dev_server
from scripts.local_stack import LOCAL_TABLE, ROOT, dynamodb_client, endpoint_url, free_port, port_in_use
from tests.support.dynamodb import scan_items

README = (ROOT / "README.md").read_text()
CURL_STATUS = re.compile(r"^(curl .*?)\s+# (\d{3})\b")


def curl_blocks() -> list[tuple[str, list[int]]]:
    """Each ```sh block with curl commands: a script printing each curl's status, and the statuses the README shows."""
    blocks = []
    for block in re.findall(r"```sh\n(.*?)```", README, re.S):
        lines, expected = [], []
        for command in block.replace("\\\n", " ").splitlines():
            command = re.sub(r"\s+", " ", command.strip())
            match = CURL_STATUS.match(command)
            if match:
                lines.append(f"{match.group(1)} --silent --output /dev/null --write-out '%{{http_code}}\\n'")
                expected.append(int(match.group(2)))
            else:
                lines.append(command)
        if expected:
            blocks.append(("\n".join(lines), expected))
    return blocks


def test_the_readme_is_at_most_150_lines_and_starts_with_the_two_commands():
    assert len(README.splitlines()) <= 150
    first_block = README.split("```sh\n", 1)[1].split("```", 1)[0]
    assert first_block.startswith("make dev") and "make test" in first_block


def test_every_curl_in_the_readme_answers_the_status_it_shows_run_after_run(dev_place):
    blocks = curl_blocks()
    assert sum(len(expected) for _, expected in blocks) >= 19
    assert "/api/study-sessions/reset" in blocks[-1][0]
    # The README's port, unless a developer's own `make dev` holds it.
    port = DEFAULT_PORT if not port_in_use(DEFAULT_PORT) else free_port()
    dev = start_dev_server(
        port=port, dynamodb_port=dev_place.dynamodb_port, data_dir=dev_place.data_dir, log_path=dev_place.log_path
    )
    client = dynamodb_client(endpoint_url(dev_place.dynamodb_port))

    def sessions() -> int:
        return len([item for item in scan_items(client, LOCAL_TABLE) if item["PK"].startswith("SESSION#")])

    try:
        created = []
        # Copied twice, as a reader would: a fixed Idempotency-Key would replay the first run's (deleted) session.
        for _ in range(2):
            for script, expected in blocks:
                if "/api/study-sessions/reset" in script:  # the last block: it deletes what the run created
                    created.append(sessions())
                script = script.replace(f"127.0.0.1:{DEFAULT_PORT}", f"127.0.0.1:{port}")
                result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60)
                assert result.returncode == 0, result.stderr
                assert [int(status) for status in result.stdout.split()] == expected, script
            assert sessions() == 0
        assert created[1] == created[0] > 0
    finally:
        stop_dev_server(dev)


def test_the_readmes_endpoint_table_lists_every_route():
    table = README.split("## Endpoints", 1)[1].split("```", 1)[0]
    for path, methods in app.routes.items():
        for method in set(methods) - {"OPTIONS"}:
            assert f"`{method} {re.sub(r'{[a-z_]+}', '{id}', path)}" in table, (method, path)
