"""pytest plugin of both suites (pytest.ini loads it): scratch files under the project's git-ignored .tmp/, one
folder per run (so runs in parallel in one clone never delete each other's), removed when the run passes; and the
check that the run leaves nothing behind in a temp folder once its servers have stopped.

Every process the run starts gets a temp folder of the run's own: TMPDIR is .tmp/tmp-<pid>/, set before any test
is collected, so Python's tempfile, ministack and the tools' children write there. The run fails if anything is
left in it. The system temp folder is other programs' too: there the run judges only names its own tools are known
to create when they ignore TMPDIR (TOOL_NAMES), never a stranger's file."""

import fnmatch
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest

from scripts.local_stack import ROOT

SCRATCH = ROOT / ".tmp"
# The system temp folder, as it was before a run (this one, or one that started this run) pointed TMPDIR elsewhere.
SYSTEM_TMP = Path(os.environ.setdefault("SUITE_SYSTEM_TMPDIR", tempfile.gettempdir()))
# What the suite's tools put in the system temp folder when they do not honour TMPDIR: pytest's default basetemp,
# ministack's PID file, log and default state folder, moto's and Chalice's scratch.
TOOL_NAMES = ("pytest-of-*", "ministack*", "moto*", "chalice*", "study-portal*")
_before = pytest.StashKey[set[str]]()
_left = pytest.StashKey[list[str]]()
_run_tmp = pytest.StashKey[Path]()


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    # tryfirst: pytest's tmp_path plugin reads basetemp in its own pytest_configure.
    if hasattr(config, "workerinput"):
        # A worker of `pytest -n`: it keeps the TMPDIR it inherited from the run's controller, and xdist gives it a
        # folder in the controller's basetemp; the controller checks both once every worker is done.
        return
    SCRATCH.mkdir(exist_ok=True)  # pytest creates the basetemp itself, not its parent
    if config.option.basetemp is None:
        config.option.basetemp = str(SCRATCH / f"pytest-{os.getpid()}")
    run_tmp = SCRATCH / f"tmp-{os.getpid()}"
    run_tmp.mkdir(exist_ok=True)
    os.environ["TMPDIR"] = str(run_tmp)  # inherited by every process the run starts
    tempfile.tempdir = None  # this process's tempfile reads TMPDIR again
    config.stash[_run_tmp] = run_tmp
    config.stash[_before] = _tools_entries()


def _tools_entries() -> set[str]:
    """The system temp folder's entries that this user owns and the suite's tools are known to create."""
    return {
        entry.name
        for entry in os.scandir(SYSTEM_TMP)
        if any(fnmatch.fnmatch(entry.name, pattern) for pattern in TOOL_NAMES)
        and entry.stat(follow_symlinks=False).st_uid == os.getuid()
    }


@pytest.hookimpl(wrapper=True)
def pytest_sessionfinish(session: pytest.Session) -> Any:
    result = yield  # the session's fixtures, and the servers they started, are torn down inside
    config = session.config
    if _run_tmp not in config.stash:  # a worker: its controller checks
        return result
    run_tmp = config.stash[_run_tmp]
    left = sorted(str(path) for path in run_tmp.iterdir()) if run_tmp.is_dir() else []
    left += sorted(str(SYSTEM_TMP / name) for name in _tools_entries() - config.stash[_before])
    config.stash[_left] = left
    if left and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    if session.exitstatus == pytest.ExitCode.OK:  # a failed run keeps its files for a look
        shutil.rmtree(run_tmp, ignore_errors=True)
        basetemp = Path(config.option.basetemp)
        if basetemp.parent == SCRATCH:
            shutil.rmtree(basetemp, ignore_errors=True)
    return result


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    left = config.stash.get(_left, [])
    if left:
        terminalreporter.section(f"FAILED: the run left {len(left)} entries in temp folders", red=True)
        for path in left:
            terminalreporter.write_line(path)
