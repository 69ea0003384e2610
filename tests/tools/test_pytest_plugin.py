"""The suite's own check: a run that leaves something in the system temp folder fails, and says what it left."""

import os
import shutil
import tempfile
from pathlib import Path

pytest_plugins = ["pytester"]


def test_a_run_that_leaves_an_entry_in_the_system_temp_folder_fails_and_names_it(pytester):
    pytester.makepyfile("""
        import tempfile
        def test_leaves_a_folder():
            tempfile.mkdtemp(prefix="left-by-a-test-")
        """)
    system_tmp = Path(tempfile.gettempdir())
    before = set(os.listdir(system_tmp))
    result = pytester.runpytest_subprocess("-p", "scripts.pytest_plugin")
    left = set(os.listdir(system_tmp)) - before
    for name in left:
        shutil.rmtree(system_tmp / name)
    assert [name for name in left if name.startswith("left-by-a-test-")] and len(left) == 1
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*FAILED: the run left 1 new entries in*", "*left-by-a-test-*"])


def test_a_run_that_cleans_up_passes(pytester):
    pytester.makepyfile("""
        import tempfile
        def test_cleans_up():
            with tempfile.TemporaryDirectory():
                pass
        """)
    assert pytester.runpytest_subprocess("-p", "scripts.pytest_plugin").ret == 0
