"""What the Makefile's housekeeping targets would run (make --dry-run, so nothing is deleted or installed): `make
clean` keeps make dev's history, `make clean-data` deletes it with a warning, `make package` needs only .venv."""

import pytest

from tests.tools.test_dev_server import make


def dry_run(*arguments: str) -> str:
    result = make("--dry-run", "--always-make", *arguments)  # every prerequisite's recipe, as on a fresh clone
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_make_clean_removes_the_virtualenvs_and_scratch_but_keeps_make_devs_data():
    commands = dry_run("clean")
    assert "rm -rf .venv .venv-ministack .venv-deploy .tmp" in commands
    assert ".ministack" not in commands


def test_make_clean_data_warns_in_one_line_then_deletes_make_devs_data():
    lines = dry_run("clean-data").splitlines()
    assert lines[-1] == "rm -rf .ministack"
    [warning] = [line for line in lines if "deleting .ministack/" in line]
    assert "every session and review" in warning


@pytest.mark.parametrize("other", [".venv-deploy", ".venv-ministack"])
def test_make_package_installs_only_the_apps_virtualenv(other):
    commands = dry_run("package")
    assert "-m venv .venv\n" in commands and "scripts.deploy package" in commands
    assert other not in commands
