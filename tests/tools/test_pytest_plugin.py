"""The suite's own check: every process a run starts has a temp folder of the run's own; a run that leaves something
there, or leaves in the system temp folder a name the suite's tools use, fails and says what it left; a stranger's
files in the system temp folder, made and removed while the run goes on, never fail it."""

import os
import shutil
import threading
import uuid
from pathlib import Path

import pytest

from scripts.pytest_plugin import SCRATCH, SYSTEM_TMP

pytest_plugins = ["pytester"]


def run(pytester: pytest.Pytester, test: str, *options: str) -> pytest.RunResult:
    pytester.makepyfile(test)
    before = {path.name for path in SCRATCH.glob("tmp-*")}
    result = pytester.runpytest_subprocess("-p", "scripts.pytest_plugin", *options)
    for path in SCRATCH.glob("tmp-*"):  # a failed run keeps its folder for a look: not this test's to keep
        if path.name not in before:
            shutil.rmtree(path)
    return result


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["one process", "two workers"])
def test_every_process_of_a_run_gets_the_runs_own_temp_folder(pytester, workers):
    result = run(
        pytester,
        """
        import os, subprocess, sys, tempfile
        def test_the_run_and_its_children_use_one_temp_folder():
            mine = tempfile.gettempdir()
            assert os.path.basename(mine).startswith("tmp-") and "/.tmp/" in mine
            child = subprocess.run([sys.executable, "-c", "import tempfile; print(tempfile.gettempdir())"],
                                   capture_output=True, text=True, check=True)
            assert child.stdout.strip() == mine
        """,
        *workers,
    )
    assert result.ret == 0, result.stdout.str()


# make test runs on two workers (pytest -n 2): what a worker leaves must fail the run as well.
@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["one process", "two workers"])
def test_a_run_that_leaves_a_folder_in_its_temp_folder_fails_and_names_it(pytester, workers):
    result = run(
        pytester,
        """
        import tempfile
        def test_leaves_a_folder():
            tempfile.mkdtemp(prefix="left-by-a-test-")
        def test_leaves_nothing():
            pass
        """,
        *workers,
    )
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*FAILED: the run left 1 entries in temp folders*", "*/.tmp/tmp-*/left-by-a-test-*"])


def test_a_run_that_leaves_a_name_of_its_tools_in_the_system_temp_folder_fails_and_names_it(pytester):
    name = f"ministack-{uuid.uuid4().hex}.pid"  # as ministack's PID file would be, had it ignored TMPDIR
    try:
        result = run(
            pytester,
            f"""
            def test_leaves_a_pid_file():
                open({str(SYSTEM_TMP / name)!r}, "w").close()
            """,
        )
    finally:
        (SYSTEM_TMP / name).unlink(missing_ok=True)
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*FAILED: the run left 1 entries in temp folders*", f"*{name}"])


def test_a_run_passes_while_a_stranger_makes_and_removes_folders_in_the_system_temp_folder(pytester):
    stop = threading.Event()
    made: list[Path] = []

    def stranger() -> None:  # another program of this user: a folder every few ms, removed a little later
        while not stop.is_set():
            made.append(Path(SYSTEM_TMP / f"stranger-{uuid.uuid4().hex}"))
            made[-1].mkdir()
            if len(made) > 3:
                os.rmdir(made.pop(0))
            stop.wait(0.005)

    worker = threading.Thread(target=stranger)
    worker.start()
    try:
        result = run(
            pytester,
            """
            import tempfile, time
            def test_works_a_while():
                with tempfile.TemporaryDirectory():
                    time.sleep(1.5)
            """,
        )
    finally:
        stop.set()
        worker.join()
        for path in made:
            path.rmdir()
    assert result.ret == 0, result.stdout.str()


def test_a_run_that_cleans_up_passes_and_removes_its_temp_folder(pytester):
    before = set(SCRATCH.glob("tmp-*"))
    pytester.makepyfile("""
        import tempfile
        def test_cleans_up():
            with tempfile.TemporaryDirectory():
                pass
        """)
    result = pytester.runpytest_subprocess("-p", "scripts.pytest_plugin")
    assert result.ret == 0
    assert set(SCRATCH.glob("tmp-*")) == before
