"""The import graph of src/scenelab, read from the source (ast): no circles, and no library
module importing the command line.

Imports under ``if TYPE_CHECKING:`` are not run and do not count; ``from package import
module`` is an import of that module, not of the package's ``__init__``.
"""

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "scenelab"

# Circles and command-line imports still to break: none. The test compares what it finds
# with these, so a new circle (or import) fails it, and so would fixing a listed one
# without deleting it here.
KNOWN_CIRCLES: list[list[str]] = []
KNOWN_CLI_IMPORTS: set[str] = set()


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def runtime_nodes(tree: ast.AST):
    """Every node except those under ``if TYPE_CHECKING:``."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        yield node
        yield from runtime_nodes(node)


def imports_of(path: Path, modules: set[str]) -> set[str]:
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in runtime_nodes(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            submodules = {f"{base}.{alias.name}" for alias in node.names} & modules
            names_outside = len(submodules) < len(node.names)
            found |= submodules | ({base} if names_outside else set())
    return {module for module in found if module in modules and module != name}


def import_graph() -> dict[str, set[str]]:
    paths = sorted(PACKAGE.rglob("*.py"))
    modules = {module_name(path) for path in paths}
    return {module_name(path): imports_of(path, modules) for path in paths}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), sorted."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in graph[node]:
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return sorted(found)


def test_the_reader_sees_a_circle_and_ignores_type_checking_imports():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert circles(graph) == [["a", "b", "c"]]
    source = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import x\nimport y\n"
    names = {
        node.names[0].name
        for node in runtime_nodes(ast.parse(source))
        if isinstance(node, ast.Import)
    }
    assert names == {"y"}


def test_the_package_has_no_new_import_circles():
    assert circles(import_graph()) == KNOWN_CIRCLES


def test_only_the_command_line_imports_the_command_line():
    importers = {
        module
        for module, imported in import_graph().items()
        if not module.startswith("scenelab.cli")
        and module != "scenelab.__main__"
        and any(name == "scenelab.cli" or name.startswith("scenelab.cli.") for name in imported)
    }
    assert importers == KNOWN_CLI_IMPORTS


def test_the_config_and_the_attack_settings_load_without_torch():
    """A run's settings are read, checked and resolved at the edge, before torch is loaded."""
    code = (
        "import sys, scenelab.config, scenelab.attack_settings\n"
        "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.')))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == "[]"
