"""`make reset`: the Settings page's reset from the command line. Local by default (the running make dev's ministack,
here the run's own), a stack only when named, a -prod stack only with YES_PROD=true; one line of output or error."""

import pytest

from chalicelib.store import StudyRepository
from chalicelib.store.table import create_table_if_missing
from scripts import reset
from scripts.local_stack import LOCAL_TABLE, dynamodb_client, endpoint_url
from scripts.seed_data import load_seed
from tests.tools.test_makefile import dry_run


@pytest.fixture
def local_history(ministack_port, monkeypatch):
    """make dev's local table on the run's ministack (as if make dev ran on DYNAMODB_PORT) with 3 sessions and 4
    reviews, deleted afterwards."""
    monkeypatch.setenv("DYNAMODB_PORT", str(ministack_port))
    client = dynamodb_client(endpoint_url(ministack_port))
    create_table_if_missing(client, table_name=LOCAL_TABLE)
    repository = StudyRepository(client=client, table_name=LOCAL_TABLE)
    load_seed(repository)
    first = repository.create_session(group_id=1, study_activity_id=1)
    repository.log_reviews(session_id=first["id"], reviews=[(1, True), (2, False)])
    second = repository.create_session(group_id=1, study_activity_id=1)
    repository.log_reviews(session_id=second["id"], reviews=[(1, True)])
    repository.log_reviews(session_id=second["id"], reviews=[(3, True)])
    repository.create_session(group_id=2, study_activity_id=1)
    try:
        yield client
    finally:
        client.delete_table(TableName=LOCAL_TABLE)


def test_make_reset_empties_the_local_history_and_zeroes_every_words_counts_in_one_line(local_history, capsys):
    code = reset.main([])
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    [line] = out.splitlines()
    assert line.startswith(
        f"reset the local table {LOCAL_TABLE}: deleted 3 sessions and their 4 reviews, zeroed every word's counts "
        "(3 words had some) in "
    ), line
    stored = local_history.scan(TableName=LOCAL_TABLE)["Items"]
    assert not [item for item in stored if item["PK"]["S"].startswith("SESSION#")]
    words = [item for item in stored if item["PK"]["S"].startswith("WORD#") and item["SK"]["S"] == "META"]
    assert words and all(
        int(word.get("correct_count", {"N": "0"})["N"]) == int(word.get("wrong_count", {"N": "0"})["N"]) == 0
        for word in words
    )
    assert {"GROUP#1", "GROUP#2", "ACTIVITY#1"} <= {item["PK"]["S"] for item in stored}  # the words and groups stay


def test_a_second_reset_finds_nothing_to_delete(local_history, capsys):
    assert reset.main([]) == 0
    capsys.readouterr()
    assert reset.main([]) == 0
    [line] = capsys.readouterr().out.splitlines()
    assert "deleted 0 sessions and their 0 reviews" in line and "(0 words had some)" in line


@pytest.mark.parametrize("stack", ["study-portal-prod", "my-portal-prod"])
def test_a_prod_stack_without_yes_prod_is_refused_in_one_line_before_any_request(stack, capsys):
    # The sandbox's endpoint is unset and its credentials placeholders: a request would fail with another message.
    code = reset.main(["--stack", stack])
    out, err = capsys.readouterr()
    assert (code, out) == (1, "")
    [line] = err.splitlines()
    assert line.startswith(f"make reset: {stack} is a prod stack") and "YES_PROD=true" in line


@pytest.mark.parametrize(
    "variables, arguments",
    [
        ([], []),
        (["STACK=study-portal-dev"], ["--stack", "'study-portal-dev'"]),
        (["STACK=study-portal-prod", "YES_PROD=true"], ["--stack", "'study-portal-prod'", "--yes-prod"]),
    ],
)
def test_make_reset_is_local_unless_a_stack_is_named_on_the_command_line(variables, arguments):
    last = dry_run("reset", *variables).replace("\\\n", " ").splitlines()[-1].split()
    assert last == [".venv/bin/python", "-m", "scripts.reset", *arguments]
