"""The documentation in docs/ names things that exist: files, links, `kubelite` command lines.

docs/ is read by people who have only the repository, so a path that moved or a flag that was
renamed sends them nowhere. What can be checked mechanically is checked here: every repository
path written in a code span (`src/kubelite/cli/server.py`, or a package path such as
`apiserver/auth.py`), every relative link and its `#anchor`, and every `kubelite ...` command line,
whose sub-command and `--flags` must be ones `kubelite`'s parser accepts, and every module run
with `python -m`.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import shlex
from pathlib import Path

import pytest

from kubelite.cli.main import build_parser

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))
PACKAGE = ROOT / "src" / "kubelite"

# Top-level folders of the repository, and the packages of src/kubelite/ that the pages name
# without the `src/kubelite/` prefix. A code span starting with one of them is a path to check;
# anything else (`tls/`, `db/state.db`: paths under a node's data dir) is not the repository's.
REPO_DIRS = ("src", "tests", "bench", "scripts", "tools", "images", "examples", "docs", ".ci")
PACKAGES = tuple(p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists())

_CODE_SPAN = re.compile(r"`([^`\n]+)`")
_FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
_LINK = re.compile(r"\]\(([^)\s]+)\)")
_PYTHON_M = re.compile(r"python -m ([\w.]+)")


def _code(text: str) -> list[str]:
    """The code spans of a page and the lines of its fenced blocks."""
    blocks = [line for block in _FENCE.findall(text) for line in block.splitlines()[1:-1]]
    return _CODE_SPAN.findall(_FENCE.sub("", text)) + blocks


def _repository_paths(text: str) -> set[str]:
    paths = set()
    for span in _code(text):
        for word in span.split():
            word = word.rstrip(",.;:)")
            if "/" not in word or "<" in word or "://" in word or word.startswith("/"):
                continue
            if word.split("/")[0] in REPO_DIRS + PACKAGES:
                paths.add(word)
    return paths


def _ignored(path: str) -> bool:
    """A path git ignores (`bench/results/`): made by running something, never committed."""
    return path in (ROOT / ".gitignore").read_text().split()


def _exists(path: str) -> bool:
    """A path of the repository, or of src/kubelite/ for a package path; `*` may glob."""
    for base in (ROOT, PACKAGE):
        if "*" in path:
            if list(base.glob(path)):
                return True
        elif (base / path).exists():
            return True
    return False


def _slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = _FENCE.sub("", page.read_text())
    return {_slug(m) for m in re.findall(r"^#+ (.+)$", text, re.MULTILINE)}


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _command_lines(text: str) -> list[str]:
    """`kubelite <command> ...` lines in code, each up to a comment, a pipe or its end."""
    lines = []
    for span in _code(text):
        span = re.split(r"(?:^|\s)#", span)[0]
        for match in re.finditer(r"(?:^|[\s/])kubelite ([a-z][a-z-]*(?:\s.*)?)$", span):
            lines.append(re.split(r"\||&&|;", match.group(1))[0].strip())
    return lines


def test_the_docs_are_there() -> None:
    assert {p.name for p in PAGES} >= {
        "README.md",
        "architecture.md",
        "kubectl-wire.md",
        "runtime.md",
        "contributing.md",
    }


def test_the_readme_links_the_docs() -> None:
    assert "(docs/README.md)" in (ROOT / "README.md").read_text()


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_path_named_exists(page: Path) -> None:
    missing = sorted(
        p for p in _repository_paths(page.read_text()) if not (_exists(p) or _ignored(p))
    )
    assert not missing, f"{page.name} names paths that do not exist: {missing}"


def _leads_somewhere(page: Path, target: str) -> bool:
    """Whether a relative link of `page` names a file that exists, and a heading of it."""
    file, _, anchor = target.partition("#")
    destination = (page.parent / file).resolve() if file else page
    if not destination.exists():
        return False
    return not anchor or destination.suffix != ".md" or anchor in _anchors(destination)


@pytest.mark.parametrize("page", [*PAGES, ROOT / "README.md"], ids=lambda p: p.name)
def test_every_link_leads_somewhere(page: Path) -> None:
    links = [t for t in _LINK.findall(page.read_text()) if "://" not in t]
    broken = [t for t in links if not _leads_somewhere(page, t)]
    assert not broken, f"{page.name} has broken links: {broken}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_kubelite_command_line_parses(page: Path) -> None:
    commands = _subcommands(build_parser())
    wrong = []
    for line in _command_lines(page.read_text()):
        words = shlex.split(line.replace("...", ""))
        if not words or words[0] not in commands:
            wrong.append(f"kubelite {line}: no such command")
            continue
        parser = commands[words[0]]
        nested = _subcommands(parser)
        if nested and len(words) > 1 and words[1] in nested:
            parser = nested[words[1]]
        for word in words[1:]:
            flag = word.split("=")[0]
            if flag.startswith("--") and flag not in parser._option_string_actions:
                wrong.append(f"kubelite {line}: {flag} is not a flag of {parser.prog}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_python_module_run_exists(page: Path) -> None:
    """`python -m kubelite....` and `python -m images.build` name modules that are there."""
    modules = {m for span in _code(page.read_text()) for m in _PYTHON_M.findall(span)}
    missing = sorted(m for m in modules if importlib.util.find_spec(m) is None)
    assert not missing, f"{page.name} runs modules that do not exist: {missing}"


def test_the_checks_see_what_they_check() -> None:
    """The extraction finds the command lines and paths the pages do have (a regex that finds
    nothing would pass every test above)."""
    text = "\n".join(p.read_text() for p in PAGES)
    assert "reset --data-dir D --bridge B" in _command_lines(text)
    assert "src/kubelite/runtime/" in _repository_paths(text)
    assert "apiserver/auth.py" in _repository_paths(text)
    assert "kubelite.cli.cluster.cluster_dns" in _PYTHON_M.findall(text)
    assert _slug("Cleaning a node: `kubelite reset`") == "cleaning-a-node-kubelite-reset"
