"""`make reset`: the Settings page's reset from the command line. Local by default (the running make dev's ministack,
here the run's own, or one started on DATA_DIR's folder), a stack only when named, a prod stack (by its Stage
parameter or its name) only with YES_PROD=true; one line of output or error."""

import fcntl
import json
import time
from pathlib import Path

import pytest
from moto import mock_aws

from chalicelib.store import StudyRepository
from chalicelib.store.table import TABLE_DEFINITION, create_table_if_missing
from scripts import reset
from scripts.local_stack import LOCAL_DIR, LOCAL_TABLE, ROOT, dynamodb_client, endpoint_url, free_port, port_in_use
from scripts.seed_data import load_seed
from tests.support.dynamodb import new_session
from tests.tools.test_aws_region import emulated_aws, emulator_client
from tests.tools.test_makefile import dry_run


def three_sessions(repository: StudyRepository) -> None:
    """The seed, and 3 sessions with 4 reviews of 3 words between them."""
    load_seed(repository)
    first = repository.create_session(group_id=1, study_activity_id=1)
    repository.log_reviews(session_id=first["id"], reviews=[(1, True), (2, False)])
    second = repository.create_session(group_id=1, study_activity_id=1)
    repository.log_reviews(session_id=second["id"], reviews=[(1, True)])
    repository.log_reviews(session_id=second["id"], reviews=[(3, True)])
    repository.create_session(group_id=2, study_activity_id=1)


def sessions_in(client, table: str) -> int:
    items = client.scan(TableName=table)["Items"]
    return len([item for item in items if item["PK"]["S"].startswith("SESSION#") and item["SK"]["S"] == "META"])


@pytest.fixture
def local_history(ministack_port, monkeypatch):
    """make dev's local table on the run's ministack (as if make dev ran on DYNAMODB_PORT) with 3 sessions and 4
    reviews, deleted afterwards."""
    monkeypatch.setenv("DYNAMODB_PORT", str(ministack_port))
    client = dynamodb_client(endpoint_url(ministack_port))
    create_table_if_missing(client, table_name=LOCAL_TABLE)
    three_sessions(StudyRepository(client=client, table_name=LOCAL_TABLE))
    try:
        yield client
    finally:
        client.delete_table(TableName=LOCAL_TABLE)


def test_make_reset_empties_the_local_history_and_zeroes_every_words_counts_in_one_line(local_history, capsys):
    code = reset.main([])
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    [line] = out.splitlines()
    endpoint = local_history.meta.endpoint_url
    assert line.startswith(
        f"reset the local table {LOCAL_TABLE} on {endpoint}: deleted 3 sessions and their 4 reviews, zeroed every "
        "word's counts (3 words had some) in "
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


def state_of(folder: Path) -> list[tuple[str, float]]:
    return sorted((str(path), path.stat().st_mtime) for path in folder.rglob("*")) if folder.exists() else []


@pytest.mark.parametrize("relative", [False, True], ids=["absolute DATA_DIR", "DATA_DIR relative to the checkout"])
def test_with_no_make_dev_running_the_reset_starts_ministack_on_data_dirs_folder_and_stops_it(
    tmp_path, monkeypatch, capsys, relative
):
    folder = tmp_path / "second"
    monkeypatch.setenv("DATA_DIR", str(folder.relative_to(ROOT) if relative else folder))
    port = free_port()
    monkeypatch.setenv("DYNAMODB_PORT", str(port))  # nothing listens there: the reset starts its own
    make_devs = state_of(LOCAL_DIR / "state")
    assert reset.main([]) == 0
    [line] = capsys.readouterr().out.splitlines()
    assert "deleted 0 sessions" in line
    # Its state was saved into DATA_DIR's folder, its server stopped, and make dev's own folder left alone.
    saved = json.loads((folder / "state" / "dynamodb.json").read_text())
    assert LOCAL_TABLE in json.dumps(saved)
    assert not port_in_use(port)
    assert state_of(LOCAL_DIR / "state") == make_devs


@pytest.mark.parametrize("recorded", [None, 4600], ids=["no server on the folder", "its make dev on 4600"])
def test_data_dir_is_never_reset_through_a_ministack_that_serves_another_folder(
    local_history, ministack_port, tmp_path, monkeypatch, capsys, recorded
):
    data = tmp_path / "mine"
    (data / "state").mkdir(parents=True)
    monkeypatch.setenv("DATA_DIR", str(data))  # DYNAMODB_PORT is the run's ministack, another folder's history
    with open(data / "state" / "lock", "wb") as lock:
        if recorded:  # as its own make dev holds it, on another port
            (data / "servers.json").write_text(json.dumps({"dynamodb_port": recorded}))
            fcntl.flock(lock, fcntl.LOCK_EX)
        code = reset.main([])
    out, err = capsys.readouterr()
    assert (code, out) == (1, "")
    [line] = err.splitlines()
    assert line.startswith(f"make reset: the ministack on port {ministack_port} does not serve {data} (")
    assert line.endswith(
        f"DYNAMODB_PORT={recorded} make reset`" if recorded else "DYNAMODB_PORT=<a free port> make reset`"
    )
    assert sessions_in(local_history, LOCAL_TABLE) == 3  # the other folder's history is untouched


def test_a_data_folder_another_server_holds_is_refused_in_one_line_naming_its_port(tmp_path, monkeypatch, capsys):
    data = tmp_path / "held"
    (data / "state").mkdir(parents=True)
    (data / "servers.json").write_text(json.dumps({"dynamodb_port": 4600}))
    monkeypatch.setenv("DATA_DIR", str(data))
    monkeypatch.setenv("DYNAMODB_PORT", str(free_port()))
    with open(data / "state" / "lock", "wb") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # as a make dev's ministack holds it
        code = reset.main([])
    out, err = capsys.readouterr()
    assert (code, out) == (1, "")
    assert err.splitlines() == [
        f"make reset: another server holds {data / 'state'} (a `make dev` on another port?): run "
        "`DYNAMODB_PORT=4600 make reset` to use it, or stop it first"
    ]
    assert sorted(path.name for path in (data / "state").iterdir()) == ["lock"]  # no second server wrote there


def test_a_reset_whose_calls_delete_nothing_stops_after_a_few_in_one_line():
    with mock_aws():
        client = new_session().client("dynamodb")
        create_table_if_missing(client, table_name="stalled")
        repository = StudyRepository(client=client, table_name="stalled")
        three_sessions(repository)
        # A call with no time left deletes nothing, as one would whose writes kept being refused.
        with pytest.raises(reset.ResetStalledError, match=r"^5 calls in a row deleted nothing \(3 sessions left\)"):
            reset.reset_until_done(repository, round_seconds=0)
        assert sessions_in(client, "stalled") == 3


# --- a deployed stack (ministack's CloudFormation standing in for AWS) -----------------------------------------

REGION = "eu-west-2"


def deploy_stack(endpoint: str, *, stack: str, table: str | None, stage: str) -> None:
    """A stack like make deploy's: a Stage parameter and, unless table is None, a table named in its TableName
    output."""
    template: dict = {"Parameters": {"Stage": {"Type": "String"}}, "Resources": {}, "Outputs": {}}
    if table is None:
        template["Resources"]["Nothing"] = {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": f"{stack}-q"}}
    else:
        template["Resources"]["Table"] = {
            "Type": "AWS::DynamoDB::Table",
            "Properties": {"TableName": table, **TABLE_DEFINITION},
        }
        template["Outputs"]["TableName"] = {"Value": {"Ref": "Table"}}
    cloudformation = emulator_client("cloudformation", endpoint, region=REGION)
    cloudformation.create_stack(
        StackName=stack,
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": "Stage", "ParameterValue": stage}],
    )
    deadline = time.monotonic() + 30
    while (status := cloudformation.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]) != "CREATE_COMPLETE":
        assert not status.endswith(("FAILED", "ROLLBACK_COMPLETE")) and time.monotonic() < deadline, status
        time.sleep(0.1)


@pytest.fixture(scope="module")
def stacks(tmp_path_factory):
    with emulated_aws(tmp_path_factory.mktemp("stacks")) as endpoint:
        deploy_stack(endpoint, stack="portal-dev", table="portal-dev-table", stage="dev")
        deploy_stack(endpoint, stack="learners", table="learners-table", stage="prod")
        deploy_stack(endpoint, stack="no-table", table=None, stage="dev")
        yield endpoint


@pytest.fixture
def as_caller(stacks, monkeypatch):
    """The caller's AWS settings pointing at the emulator, in REGION."""
    for name, value in {
        "AWS_ENDPOINT_URL": stacks,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    return emulator_client("dynamodb", stacks, region=REGION)


def test_a_named_dev_stacks_history_is_reset(as_caller, capsys):
    three_sessions(StudyRepository(client=as_caller, table_name="portal-dev-table"))
    assert reset.main(["--stack", "portal-dev"]) == 0
    [line] = capsys.readouterr().out.splitlines()
    assert line.startswith("reset table portal-dev-table of stack portal-dev: deleted 3 sessions and their 4 reviews")
    assert sessions_in(as_caller, "portal-dev-table") == 0


def test_a_stack_deployed_as_prod_under_any_name_needs_yes_prod(as_caller, capsys):
    three_sessions(StudyRepository(client=as_caller, table_name="learners-table"))
    assert reset.main(["--stack", "learners"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("make reset: learners is a prod stack") and "YES_PROD=true" in err
    assert sessions_in(as_caller, "learners-table") == 3  # nothing deleted
    assert reset.main(["--stack", "learners", "--yes-prod"]) == 0
    assert sessions_in(as_caller, "learners-table") == 0


def test_a_stack_without_a_table_output_is_one_line_not_a_traceback(as_caller, capsys):
    assert reset.main(["--stack", "no-table"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.splitlines() == [
        "make reset: stack no-table has no TableName output: it is not a stack `make deploy` created"
    ]


def test_make_reset_ignores_a_stack_set_in_the_environment():
    # Only STACK= on the command line reaches AWS; one left in the shell's environment does not.
    last = dry_run("reset", env_extra={"STACK": "study-portal-dev"}).replace("\\\n", " ").splitlines()[-1].split()
    assert last == [".venv/bin/python", "-m", "scripts.reset"]
