"""pytest plugin of both suites (pytest.ini loads it): scratch files under the project's git-ignored .tmp/, one
folder per run (so runs in parallel in one clone never delete each other's), removed when the run passes; and a
check that the run leaves no new entry in the system temp folder once its servers have stopped."""

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest

from scripts.local_stack import ROOT

SCRATCH = ROOT / ".tmp"
SYSTEM_TMP = Path(tempfile.gettempdir())
_before = pytest.StashKey[set[str]]()
_left = pytest.StashKey[list[str]]()


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    # tryfirst: pytest's tmp_path plugin reads basetemp in its own pytest_configure.
    if config.option.basetemp is None:
        SCRATCH.mkdir(exist_ok=True)  # pytest creates the basetemp itself, not its parent
        config.option.basetemp = str(SCRATCH / f"pytest-{os.getpid()}")
    config.stash[_before] = _ours()


def _ours() -> set[str]:
    """The system temp folder's entries owned by this user (other users' programs are not ours to judge)."""
    return {entry.name for entry in os.scandir(SYSTEM_TMP) if entry.stat(follow_symlinks=False).st_uid == os.getuid()}


@pytest.hookimpl(wrapper=True)
def pytest_sessionfinish(session: pytest.Session) -> Any:
    result = yield  # the session's fixtures, and the servers they started, are torn down inside
    left = sorted(_ours() - session.config.stash[_before])
    session.config.stash[_left] = left
    if left and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    basetemp = Path(session.config.option.basetemp)
    if session.exitstatus == pytest.ExitCode.OK and basetemp.parent == SCRATCH:
        shutil.rmtree(basetemp, ignore_errors=True)  # a failed run keeps its files for a look
    return result


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    left = config.stash.get(_left, [])
    if left:
        terminalreporter.section(f"FAILED: the run left {len(left)} new entries in {SYSTEM_TMP}", red=True)
        for name in left:
            terminalreporter.write_line(str(SYSTEM_TMP / name))
