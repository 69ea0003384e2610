"""What the Makefile's housekeeping targets would run (make --dry-run, so nothing is deleted or installed): `make
clean` keeps make dev's history, `make clean-data` deletes it with a warning, `make package` needs only .venv,
the AWS CLI gets AWS_REGION, and a dry run of `make deploy` calls nothing."""

import os

import pytest

from scripts.local_stack import ROOT
from tests.tools.test_dev_server import make


def dry_run(*arguments: str, env_extra: dict[str, str] | None = None) -> str:
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"), **(env_extra or {})}
    result = make("--dry-run", "--always-make", *arguments, env=env)  # every prerequisite's recipe, as on a fresh clone
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_make_clean_removes_the_virtualenvs_and_scratch_but_keeps_make_devs_data():
    commands = dry_run("clean")
    assert "rm -rf .venv .venv-ministack .venv-deploy .venv-schemathesis .tmp" in commands
    assert ".ministack" not in commands


def test_make_clean_data_warns_in_one_line_then_deletes_make_devs_data():
    lines = dry_run("clean-data").splitlines()
    assert lines[-1] == "rm -rf .ministack"
    [warning] = [line for line in lines if "deleting .ministack/" in line]
    assert "every session and review" in warning


@pytest.mark.parametrize("other", [".venv-deploy", ".venv-ministack", ".venv-schemathesis"])
def test_make_package_installs_only_the_apps_virtualenv(other):
    commands = dry_run("package")
    assert "-m venv .venv\n" in commands and "scripts.deploy package" in commands
    assert other not in commands


def test_the_aws_cli_gets_aws_region_as_the_region_it_reads():
    # The AWS CLI v1 reads only AWS_DEFAULT_REGION and the profile's: AWS_REGION alone must reach it (destroy
    # stands for deploy too: every AWS CLI call goes through $(AWS)).
    commands = dry_run("destroy", "AWS_REGION=eu-west-2").splitlines()
    aws_calls = [line for line in commands if ".venv-deploy/bin/aws " in line]
    assert len(aws_calls) == 2 and all(
        "AWS_DEFAULT_REGION='eu-west-2' .venv-deploy/bin/aws " in line for line in aws_calls
    )
    makefile = (ROOT / "Makefile").read_text()
    assert makefile.count("$(DEPLOY_VENV)/bin/aws") == 1 and ".venv-deploy/bin/aws" not in makefile


def test_without_aws_region_the_aws_cli_keeps_the_callers_own_region_settings():
    commands = dry_run("destroy").splitlines()
    assert [line for line in commands if ".venv-deploy/bin/aws " in line]
    assert "AWS_DEFAULT_REGION" not in "\n".join(commands)  # nothing set, so a profile's region still counts


def test_a_dry_run_of_deploy_prints_the_deploy_with_its_access_mode_and_calls_nothing(tmp_path):
    # Nothing answers at this endpoint: an AWS call made for real would fail the dry run.
    closed = {"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"}
    build = tmp_path / "build"
    commands = dry_run(
        "deploy", "BUCKET=b", "ACCESS=ip", "ALLOWED_IPS=127.0.0.1/32", f"BUILD={build}", env_extra=closed
    )
    assert f"scripts.deploy package --stage dev --build {build} --access 'ip'" in commands
    assert '--access "ip" --allowed-ips "127.0.0.1/32"' in commands
    assert "cloudformation deploy" in commands and "--s3-bucket b" in commands
    assert not build.exists()


def test_the_switches_that_open_a_stack_count_only_on_the_command_line_not_from_the_environment(tmp_path):
    exported = {"ACCESS": "public", "PUBLIC": "true", "ALLOW_RESET": "true", "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}
    commands = dry_run("deploy", "BUCKET=b", "STAGE=prod", f"BUILD={tmp_path}", env_extra=exported)
    assert "--access 'iam'" in commands and '--access "iam"' in commands
    assert '--allow-reset ""' in commands and '--public ""' in commands
    said = dry_run(
        "deploy",
        "BUCKET=b",
        "STAGE=prod",
        f"BUILD={tmp_path}",
        "ACCESS=public",
        "PUBLIC=true",
        "ALLOW_RESET=true",
        env_extra={"AWS_ENDPOINT_URL": "http://127.0.0.1:9"},
    )
    assert '--access "public"' in said and '--allow-reset "true"' in said and '--public "true"' in said
