"""The import graph of what the functions run: no cycle, and the arrows the architecture allows.

Built from the source with ``ast`` (no import runs), over the three bodies of code that are
deployed: the inference runtime (``inference_runtime``, in the image), the shared core
(``lambda_shared``, in the image and keep-warm's layer) and keep-warm's code (``app`` and its
package ``warming``, keep-warm's CodeUri). The pre-traffic hook's code (``app`` and its package
``pretraffic``, functions/pretraffic) is walked in a graph of its own: its ``app`` and keep-warm's
are both the module ``app``, each in its own function. An edge is any import a module can execute,
at module scope or inside a function (the cycle this test was written against ran through
one); imports under ``if TYPE_CHECKING:`` never run and are left out.
"""

from __future__ import annotations

import ast
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import REPO_ROOT

#: Where each body of code lives: (folder on the path, its top-level packages and modules).
ROOTS = {
    REPO_ROOT / "layers" / "runtime": ("inference_runtime",),
    REPO_ROOT / "layers" / "shared": ("lambda_shared",),
    REPO_ROOT / "keepwarm": ("warming", "app"),
}
RUNTIME, CORE, KEEP_WARM = ("inference_runtime",), ("lambda_shared",), ("warming", "app")
#: The pre-traffic hook beside the core (its layer is keep-warm's: the core alone).
HOOK_DIR = REPO_ROOT / "functions" / "pretraffic"
HOOK = ("pretraffic", "app")
#: What the hook's function has besides its own code and the core's layer: the Lambda Python runtime's boto3.
LAMBDA_RUNTIME = ("boto3", "botocore")


def modules(roots: dict[Path, tuple[str, ...]]) -> dict[str, Path]:
    """Every module under ``roots`` by its dotted name (a package by its ``__init__.py``)."""
    found: dict[str, Path] = {}
    for root, tops in roots.items():
        for top in tops:
            single = root / f"{top}.py"
            paths = [single] if single.is_file() else sorted((root / top).rglob("*.py"))
            for path in paths:
                parts = list(path.relative_to(root).with_suffix("").parts)
                if parts[-1] == "__init__":
                    parts.pop()
                found[".".join(parts)] = path
    return found


def _runtime_imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """The import statements of a module that can run: all but those under ``if TYPE_CHECKING:``."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from (n for child in node.orelse for n in _runtime_imports_of(child))
            continue
        yield from _runtime_imports_of(node)


def _runtime_imports_of(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        yield node
    else:
        yield from _runtime_imports(node)


def import_graph(known: dict[str, Path]) -> dict[str, set[str]]:
    """module -> the modules it imports, among ``known`` and the names outside them (as written)."""
    graph: dict[str, set[str]] = {}
    for name, path in known.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in _runtime_imports(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
                continue
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                # `from package import module` imports the module; `from module import name`, the module.
                sub = f"{base}.{alias.name}"
                targets.add(sub if sub in known else base)
        graph[name] = targets
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle among the graph's own modules, as the path round it; None when there is none."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if target not in graph:
                continue
            if state.get(target) == 1:
                return path[path.index(target):] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def imports_of(graph: dict[str, set[str]], sources: tuple[str, ...], targets: tuple[str, ...]) -> list[str]:
    """Every 'a -> b' with a in ``sources`` and b in ``targets`` (each a top-level package or module)."""
    def within(name: str, tops: tuple[str, ...]) -> bool:
        return any(name == top or name.startswith(f"{top}.") for top in tops)

    return sorted(f"{a} -> {b}" for a, bs in graph.items() if within(a, sources) for b in bs if within(b, targets))


def foreign_imports(graph: dict[str, set[str]], sources: tuple[str, ...], allowed: tuple[str, ...]) -> list[str]:
    """Every 'a -> b' with a in ``sources`` and b neither in ``allowed``, nor ``sources``, nor the stdlib."""
    def top(name: str) -> str:
        return name.split(".", 1)[0]

    return sorted(f"{a} -> {b}" for a, bs in graph.items() if top(a) in sources for b in bs
                  if top(b) not in sources + allowed and top(b) not in sys.stdlib_module_names and b != "__future__")


def hook_graph(hook_dir: Path = HOOK_DIR) -> dict[str, set[str]]:
    """The hook's modules and the core's, with the runtime's known (so an import of it is named as a module)."""
    return import_graph(modules({hook_dir: HOOK, REPO_ROOT / "layers" / "shared": CORE,
                                 REPO_ROOT / "layers" / "runtime": RUNTIME}))


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph(modules(ROOTS))


def test_the_deployed_code_has_no_import_cycle(graph: dict[str, set[str]]) -> None:
    # GIVEN every module of the runtime, the core and keep-warm (a check that the walk found them)
    assert {"inference_runtime.config", "lambda_shared.tiers", "warming.policy", "app"} <= set(graph)
    # THEN no module imports itself back, however far round
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_the_runtime_and_keepwarm_meet_only_in_the_core(graph: dict[str, set[str]]) -> None:
    # The runtime never imports keep-warm or the tools (build-time code, never in the image) ...
    assert imports_of(graph, RUNTIME, KEEP_WARM + ("tools", "keepwarm")) == []
    # ... keep-warm never imports the runtime (its layer is the core alone) or the tools ...
    assert imports_of(graph, KEEP_WARM, RUNTIME + ("tools",)) == []
    # ... and the core imports neither: both functions stand on it.
    assert imports_of(graph, CORE, RUNTIME + KEEP_WARM + ("tools",)) == []
    # AND each does use the core (so the checks above are about real code)
    assert imports_of(graph, RUNTIME, CORE) and imports_of(graph, KEEP_WARM, CORE)


def test_the_pretraffic_hook_imports_only_the_core_boto3_and_the_stdlib() -> None:
    # GIVEN the hook's code (a check that the walk found it) beside the core and the runtime
    graph = hook_graph()
    assert {"app", "pretraffic", "pretraffic.hook", "pretraffic.settings"} <= set(graph)
    # THEN it imports nothing but the core, boto3/botocore and the stdlib: its function's layer is
    # the core alone, so an import of the runtime (or numpy, onnxruntime, ...) fails only once deployed
    assert foreign_imports(graph, HOOK, CORE + LAMBDA_RUNTIME) == []
    assert imports_of(graph, HOOK, RUNTIME + ("tools", "keepwarm", "warming")) == []
    # AND it does use the core (so the checks above are about real code), without a cycle
    assert imports_of(graph, HOOK, CORE)
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


@pytest.mark.parametrize("statement", ["from inference_runtime.config import RuntimeConfig",
                                       "import numpy as np"])
def test_the_hook_check_fails_when_the_hook_imports_more(tmp_path: Path, statement: str) -> None:
    # GIVEN a copy of the hook whose settings import, inside a function, the runtime (or a wheel
    # that only the image has)
    shutil.copytree(HOOK_DIR, tmp_path / "pretraffic_fn")
    settings = tmp_path / "pretraffic_fn" / "pretraffic" / "settings.py"
    settings.write_text(settings.read_text() + f"\n\ndef _late() -> None:\n    {statement}\n")
    # THEN the check names that import
    found = foreign_imports(hook_graph(tmp_path / "pretraffic_fn"), HOOK, CORE + LAMBDA_RUNTIME)
    assert found == [f"pretraffic.settings -> {statement.split()[1]}"]


def test_the_environment_variable_names_import_nothing(graph: dict[str, set[str]]) -> None:
    assert graph["lambda_shared.env"] == set()


def test_a_cycle_is_found_however_it_is_written(tmp_path: Path) -> None:
    # GIVEN a package whose config imports, inside a function, a module that imports config back
    # through a relative import two levels up (the shape of the cycle this test was written for)
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "config.py").write_text("def f():\n    from .sub import reader\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "reader.py").write_text("from typing import TYPE_CHECKING\nfrom ..metrics import M\n"
                                           "if TYPE_CHECKING:\n    from pkg import config\n")
    (pkg / "metrics.py").write_text("import os\nfrom pkg.config import f\nM = 1\n")
    graph = import_graph(modules({tmp_path: ("pkg",)}))
    # THEN the cycle is found, and the TYPE_CHECKING import (which never runs) is not an edge
    assert find_cycle(graph) == ["pkg.config", "pkg.sub.reader", "pkg.metrics", "pkg.config"]
    assert "pkg.config" not in graph["pkg.sub.reader"]
    # AND without the function's import there is none
    (pkg / "config.py").write_text("def f():\n    return 1\n")
    assert find_cycle(import_graph(modules({tmp_path: ("pkg",)}))) is None
