"""The shape of the code: the data layer needs no web framework, tools use only its public names, and no module
of the service outgrows a read."""

import ast
import functools
import subprocess
import sys

import pytest

from scripts.local_stack import ROOT

STORE = ROOT / "chalicelib" / "store"
SERVICE_FILES = sorted([ROOT / "app.py", *(ROOT / "chalicelib").rglob("*.py")])
MAX_SERVICE_LINES = 400
OUTSIDE_STORE = sorted(
    path
    for folder in ("chalicelib", "scripts", "bench", "tests", "e2e")
    for path in (ROOT / folder).rglob("*.py")
    if STORE not in path.parents
) + [ROOT / "app.py"]


def _private_names(tree: ast.AST) -> set[str]:
    """Every single-underscore name a module defines: functions, classes, methods, globals, instance attributes."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
    return {name for name in names if name.startswith("_") and not name.startswith("__")}


@functools.cache
def _store_private_names() -> frozenset[str]:
    return frozenset().union(*(_private_names(ast.parse(module.read_text())) for module in STORE.glob("*.py")))


def _uses_of(tree: ast.AST, names: set[str], *, own: frozenset[str] = frozenset()) -> list[tuple[int, str]]:
    """Where a module imports one of these names from the data layer, or reads one as an attribute; `own` names
    the module defines itself, which it may read on its own objects (self, cls) only."""
    uses = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("chalicelib.store"):
            uses += [(node.lineno, alias.name) for alias in node.names if alias.name.startswith("_")]
        elif isinstance(node, ast.Attribute) and node.attr in names:
            on_itself = isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")
            if not (on_itself and node.attr in own):
                uses.append((node.lineno, node.attr))
    return uses


def test_no_module_of_the_data_layer_imports_chalice():
    modules = sorted(f"chalicelib.store.{path.stem}" for path in STORE.glob("*.py") if path.stem != "__init__")
    code = (
        f"import sys; import {', '.join(modules)}; "
        "loaded = [name for name in sys.modules if name.split('.')[0] == 'chalice']; "
        "assert not loaded, loaded"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
    for path in STORE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            imported = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            assert not [name for name in imported if name.split(".")[0] == "chalice"], path


@pytest.mark.parametrize("path", OUTSIDE_STORE, ids=lambda path: str(path.relative_to(ROOT)))
def test_nothing_outside_the_data_layer_uses_a_private_name_of_it(path):
    tree = ast.parse(path.read_text())
    # A name the module defines for its own objects is its own, whatever the data layer calls its private ones.
    assert _uses_of(tree, set(_store_private_names()), own=frozenset(_private_names(tree))) == []


@pytest.mark.parametrize("path", SERVICE_FILES, ids=lambda path: str(path.relative_to(ROOT)))
def test_no_module_of_the_service_is_over_400_lines(path):
    assert len(path.read_text().splitlines()) <= MAX_SERVICE_LINES


def test_the_layout_checks_see_a_private_use_and_a_chalice_import():
    # The checks above would pass on anything if they could not see; here they must.
    tree = ast.parse(
        "from chalicelib.store.reviews import _session_update\nrepository.table._write_batch([])\n"
        "self._write_batch([])\nrepository._cache.get(1)\n"
    )
    assert _uses_of(tree, {"_write_batch", "_cache"}, own=frozenset({"_cache"})) == [
        (1, "_session_update"),
        (2, "_write_batch"),
        (3, "_write_batch"),
        (4, "_cache"),
    ]
    assert "_write_batch" in _store_private_names()
