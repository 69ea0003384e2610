"""The README is a user's page: short, and every curl in it answers what it says against a real `make dev`."""

import json
import re
import sqlite3
import subprocess

from app import app
from scripts.dev import DEFAULT_PORT, start_dev_server, stop_dev_server
from scripts.local_stack import LOCAL_TABLE, ROOT, dynamodb_client, endpoint_url
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


def test_every_curl_in_the_readme_answers_the_status_it_shows_run_after_run(dev_place, portal_port):
    blocks = curl_blocks()
    assert sum(len(expected) for _, expected in blocks) >= 19
    assert "/api/study-sessions/reset" in blocks[-1][0]
    port = portal_port  # the README's port, unless a developer's own `make dev` holds it
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


OPERATIONS = (ROOT / "docs" / "operations.md").read_text()
BENCH = json.loads((ROOT / "bench" / "results" / "latest.json").read_text())


def bench_row(label: str) -> list[str]:
    performance = README.split("## Performance", 1)[1]
    [row] = [line for line in performance.splitlines() if line.startswith(f"| {label}")]
    return [cell.strip() for cell in row.strip("|").split("|")]


def test_the_readmes_bench_table_shows_the_bench_jsons_figures():
    routes = BENCH["routes"]
    post = bench_row("`POST /study_sessions`")
    assert post[3] == f"{BENCH['post_p50_ms']:.1f} ms" and post[4].startswith(f"{BENCH['post_p50_ratio_to_putitem']}")
    reviews = bench_row("a review of one word")
    one, three = (
        routes["POST /study_sessions/{id}/review (one)"],
        routes["POST /study_sessions/{id}/review (batch of 3)"],
    )
    assert reviews[3] == f"{one['p50_ms']:.1f} / {three['p50_ms']:.1f} ms"
    reads = bench_row("`GET /study_sessions/{id}`")
    single, page = routes["GET /study_sessions/{id}"], routes["GET /api/study-sessions/{id}"]
    assert reads[3] == f"{single['p50_ms']:.1f} / {page['p50_ms']:.1f} ms"
    cold = bench_row("cold start")
    assert cold[3] == f"{BENCH['cold_start_ms']:.0f} ms" and f"{BENCH['cold_start_floor_ms']:.0f} ms" in cold[4]
    journal, written = bench_row("`make dev`'s journal"), BENCH["journal"]
    assert journal[3] == f"{written['journal_putitem_p50_ms']:.1f} / {written['plain_putitem_p50_ms']:.1f} ms"
    assert journal[4] == (
        f"{written['p50_ratio']:.2f}; a `kill -9` after {written['written_before_sigkill']:,} writes lost "
        f"{written['lost_after_sigkill']}"
    )
    package = bench_row("the code package")
    assert package[3] == (
        f"{BENCH['package_bytes'] / 1024:.0f} KB, {BENCH['package_files']} files; {BENCH['warm_peak_rss_mib']:.0f} MiB"
    )


# A limit ("under 12 minutes", "at most 20 s") is a promise, not a measurement.
FIGURE = re.compile(r"(?<!under )(?<!at most )\b\d[\d,.]*\s?(?:ms|s|min|minutes|KB|MB|MiB|tests)\b")


def prose(text: str) -> str:
    """Text outside tables and code blocks: where a figure would be a copy of one measured elsewhere."""
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    return "\n".join(line for line in text.splitlines() if not line.startswith("|"))


def test_per_run_figures_are_not_copied_into_the_readmes_prose_or_make_help():
    # The bench's JSON and the README's table hold them; the budgets (under 12 minutes, under a minute) are not
    # measurements but promises, and are stated in words.
    assert FIGURE.findall(prose(README)) == []
    help_text = subprocess.run(
        ["make", "-C", str(ROOT), "--no-print-directory", "help"], capture_output=True, text=True
    )
    assert FIGURE.findall(help_text.stdout) == []


def test_make_help_and_the_readme_state_the_same_budgets():
    help_lines = subprocess.run(
        ["make", "-C", str(ROOT), "--no-print-directory", "help"], capture_output=True, text=True
    ).stdout.splitlines()
    for target, budget in (("test", "under 12 minutes"), ("check", "under a minute")):
        [line] = [line for line in help_lines if line.split()[:2] == ["make", target]]
        [readme_line] = [line for line in README.splitlines() if line.startswith(f"make {target} ")]
        assert budget in line and budget in readme_line, (line, readme_line)
        assert f"`make {target}` {budget}" in OPERATIONS.replace("\n  ", " "), target  # docs/ states the same


def test_the_readmes_sample_flask_database_command_builds_one_make_import_reads(tmp_path):
    [line] = [line for line in README.splitlines() if "scripts.flask_sample" in line]
    command = line.split("#")[0].replace("--out sample.db", f"--out {tmp_path / 'sample.db'}")
    result = subprocess.run(["bash", "-c", command], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(tmp_path / "sample.db") as db:
        assert db.execute("SELECT count(*) FROM study_sessions").fetchone()[0] > 0
        assert db.execute("SELECT count(*) FROM word_review_items").fetchone()[0] == 1000
