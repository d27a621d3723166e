"""No import circle inside kubelite.apiserver.

Handlers import the request scope and the storages; storages import the generic store; nothing
imports back up. A circle (even one only type checkers follow, under `if TYPE_CHECKING:`) is how
"everything depends on one object" starts again, so this test reads every module's imports with
`ast`, without importing anything, and fails naming the circle it finds.
"""

from __future__ import annotations

import ast
from pathlib import Path

import kubelite.apiserver

PACKAGE = "kubelite.apiserver"
ROOT = Path(kubelite.apiserver.__file__).parent


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join((PACKAGE, *parts))


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The kubelite.apiserver modules `name` imports, wherever the import statement is."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name if is_package else name.rsplit(".", 1)[0]
                for _ in range(node.level - 1):
                    anchor = anchor.rsplit(".", 1)[0]
                base = f"{anchor}.{base}" if base else anchor
            # `from package import module` imports the module; `from module import name` the
            # module itself.
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                for alias in node.names
            ]
        else:
            continue
        found.update(t for t in targets if t in known and t != name)
    return found


def import_graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {name: imports_of(name, path, known) for name, path in found.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of `graph`, as the modules along it (first repeated last), or None."""
    done: set[str] = set()
    path: list[str] = []
    on_path: set[str] = set()

    def visit(node: str) -> list[str] | None:
        path.append(node)
        on_path.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt in on_path:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in done:
                cycle = visit(nxt)
                if cycle is not None:
                    return cycle
        path.pop()
        on_path.discard(node)
        done.add(node)
        return None

    for start in sorted(graph):
        if start not in done:
            cycle = visit(start)
            if cycle is not None:
                return cycle
    return None


def test_find_cycle_names_the_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_type_checking_imports_count() -> None:
    graph = import_graph()
    # The graph reads the modules themselves: a known edge, to be sure it sees something.
    assert f"{PACKAGE}.scope" in graph[f"{PACKAGE}.handlers.get"]


def test_no_import_circle_inside_apiserver() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle or [])


def test_storages_do_not_speak_http() -> None:
    """The storages (registry/) import neither aiohttp nor a handler, not even indirectly."""
    graph = import_graph()
    registry = [m for m in graph if m.startswith(f"{PACKAGE}.registry")]
    for start in registry:
        seen: set[str] = set()
        stack = [start]
        while stack:
            module = stack.pop()
            if module in seen:
                continue
            seen.add(module)
            stack.extend(graph[module])
        handlers = sorted(m for m in seen if m.startswith(f"{PACKAGE}.handlers"))
        assert not handlers, f"{start} reaches {handlers}"
        for module in seen:
            tree = ast.parse(modules()[module].read_text())
            names = {
                alias.name.split(".")[0]
                for node in ast.walk(tree)
                if isinstance(node, ast.Import)
                for alias in node.names
            } | {
                (node.module or "").split(".")[0]
                for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom) and not node.level
            }
            assert "aiohttp" not in names, f"{start} reaches {module}, which imports aiohttp"
