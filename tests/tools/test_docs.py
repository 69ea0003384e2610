"""The repository's own markdown (the README, docs/ and any other tracked *.md): every relative link names a file of
the repository and every anchor a heading of its file, and no link or path points outside the repository: no file
beside the checkout or path of a machine. Web addresses (http, https) are allowed on purpose: public references
(Chalice's docs, an upstream issue) any reader can open."""

import re
import subprocess
from pathlib import Path
from urllib.parse import unquote

import pytest

from scripts.local_stack import ROOT

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
# An inline code span: a run of backticks, then anything up to the same run, within one paragraph.
CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)((?:(?!\n[ \t]*\n).)+?)(?<!`)\1(?!`)", re.S)
INLINE_LINK = re.compile(r"!?\[(?P<text>(?:[^\[\]]|\[[^\[\]]*\])*)\]\(\s*<?(?P<target>[^\s)>]*)>?(?:\s+[\"'(][^)]*)?\)")
REFERENCE_DEFINITION = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(?P<target>[^\s>]+)>?", re.M)
HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(?P<text>.*?)(?:[ \t]+#+)?[ \t]*$")
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
# What points outside the repository however it is written: the files beside the checkout, and absolute paths
# of a machine (the system temp folder may be named: it is where a run must leave nothing).
OUTSIDE = re.compile(r"\.\./shared\b|portal-api\.md|(?<![\w.])(?:/work|/home|/Users|/root|/mnt|/srv)/|\bfile:/|~/")


def markdown_files() -> list[Path]:
    """The README, docs/*.md (new ones too) and every other markdown file git tracks."""
    found = {ROOT / "README.md", *(ROOT / "docs").glob("*.md")}
    listed = subprocess.run(["git", "ls-files", "-z", "--", "*.md"], cwd=ROOT, capture_output=True, text=True)
    if listed.returncode == 0:
        found.update(ROOT / name for name in listed.stdout.split("\0") if name)
    return sorted(path for path in found if path.is_file())


def without_fenced_code(text: str) -> str:
    """The text with every fenced code block's lines blanked (line numbers kept)."""
    lines, fence = [], None
    for line in text.splitlines():
        opening = FENCE.match(line)
        if fence is None and opening:
            fence = opening.group(1)
            lines.append("")
        elif fence is not None:
            if line.strip().startswith(fence[0] * len(fence)) and set(line.strip()) <= {fence[0]}:
                fence = None
            lines.append("")
        else:
            lines.append(line)
    return "\n".join(lines)


def prose(text: str) -> str:
    """The text outside code: fenced blocks and inline code spans blanked."""
    return CODE_SPAN.sub(lambda match: " " * len(match.group(0)), without_fenced_code(text))


def code_spans(text: str) -> list[str]:
    return [match.group(2) for match in CODE_SPAN.finditer(without_fenced_code(text))]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: its text as rendered, lowercased, punctuation but - and _ dropped, spaces
    to -."""
    text = re.sub(r"!?\[((?:[^\[\]]|\[[^\[\]]*\])*)\]\([^)]*\)", r"\1", heading)  # a link: its text
    text = re.sub(r"<[^>]+>", "", text).replace("`", "").replace("*", "")
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """The anchors of a markdown file's headings; a repeated heading's get -1, -2, ... as on GitHub."""
    seen: dict[str, int] = {}
    found = set()
    for line in without_fenced_code(path.read_text()).splitlines():
        heading = HEADING.match(line)
        if heading is None:
            continue
        base = slug(heading.group("text"))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def link_targets(text: str) -> list[str]:
    """Every link's target outside code: inline links, images and reference definitions."""
    outside_code = prose(text)
    return [match.group("target") for match in INLINE_LINK.finditer(outside_code)] + [
        match.group("target") for match in REFERENCE_DEFINITION.finditer(outside_code)
    ]


def inside(path: Path, root: Path) -> bool:
    return path.resolve().is_relative_to(root.resolve())


def link_problems(path: Path, *, root: Path = ROOT) -> list[str]:
    """What is wrong with the file's relative links: a target missing or outside the root, an unknown anchor."""
    problems = []
    for target in link_targets(path.read_text()):
        if SCHEME.match(target):
            if not target.lower().startswith(("http://", "https://", "mailto:")):
                problems.append(f"{target}: not a web address")
            continue
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / unquote(file_part)).resolve() if file_part else path.resolve()
        if file_part.startswith("/") or not inside(linked, root):
            problems.append(f"{target}: outside the repository")
        elif not linked.exists():
            problems.append(f"{target}: no such file")
        elif anchor:
            if linked.suffix != ".md" or linked.is_dir():
                problems.append(f"{target}: an anchor into a file that is not markdown")
            elif unquote(anchor) not in anchors(linked):
                problems.append(f"{target}: no heading with that anchor in {linked.relative_to(root.resolve())}")
    return problems


def line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def outside_problems(path: Path, *, root: Path = ROOT) -> list[str]:
    """What in the file points outside the root: the names and paths OUTSIDE matches anywhere in it, and a path in
    inline code that climbs out of its folder (../) to something the repository does not hold."""
    text = path.read_text()
    problems = [f"line {line_of(text, match.start())}: {match.group(0)!r}" for match in OUTSIDE.finditer(text)]
    for span in code_spans(text):
        for word in span.split():
            candidate = word.strip("'\"()[]{},;:")
            if not candidate.startswith("../"):
                continue
            climbed = path.parent / candidate.split("#")[0]
            if not inside(climbed, root) or not climbed.exists():
                problems.append(f"`{span}`: {candidate} is not a path of the repository")
    return problems


FILES = markdown_files()
IDS = [str(path.relative_to(ROOT)) for path in FILES]


def test_the_readme_and_every_doc_are_checked() -> None:
    assert {"README.md", "docs/design.md", "docs/operations.md", "docs/contract.md"} <= set(IDS)


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_every_relative_link_names_a_file_of_the_repository_and_a_heading_of_it(path: Path) -> None:
    assert link_problems(path) == []


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_nothing_in_the_file_points_outside_the_repository(path: Path) -> None:
    assert outside_problems(path) == []


@pytest.mark.parametrize(
    "heading, anchor",
    [
        ("Local development: `make dev`", "local-development-make-dev"),
        ("Importing a Flask portal's `words.db`: `make import`", "importing-a-flask-portals-wordsdb-make-import"),
        ("At 1,000,000 sessions and 10,000,000 reviews", "at-1000000-sessions-and-10000000-reviews"),
        ("Idempotency-Key", "idempotency-key"),
        ("The [README](../README.md) and *more*", "the-readme-and-more"),
        ("snake_case stays", "snake_case-stays"),
    ],
)
def test_a_headings_anchor_follows_githubs_slug_rules(heading: str, anchor: str) -> None:
    assert slug(heading) == anchor


def test_the_checker_finds_missing_files_unknown_anchors_and_paths_outside(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "other.md").write_text("# Other\n\n## Same\n\n## Same\n")
    page = tmp_path / "docs" / "page.md"
    page.write_text(
        "# Page\n\n"
        "[ok](../other.md#same-1) [here](#page) [web](https://example.com/x) [gone](missing.md)\n"
        "[no anchor](../other.md#elsewhere) [out](../../beside.md) [abs](/etc/hosts)\n"
        "```sh\n[in code](not-checked.md)\n```\n"
        "`[in code too](not-checked.md)` and `../shared/notes.md` and see /work/shared/portal-api.md\n"
    )
    assert link_problems(page, root=tmp_path) == [
        "missing.md: no such file",
        "../other.md#elsewhere: no heading with that anchor in other.md",
        "../../beside.md: outside the repository",
        "/etc/hosts: outside the repository",
    ]
    problems = outside_problems(page, root=tmp_path)
    assert len(problems) == 4, problems  # ../shared twice (as text and as a path), /work/, portal-api.md
    assert any("../shared/notes.md is not a path of the repository" in problem for problem in problems)
