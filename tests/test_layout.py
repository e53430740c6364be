"""The package's layout rules (issue 15): small source files and no import cycles.

Imports are read with :mod:`ast`, so nothing is imported to check them. Only module-level imports
count (an import inside a function runs when the function does, after both modules have loaded);
``if TYPE_CHECKING:`` blocks are skipped, since they never run.
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "skelgnn"
MAX_LINES = 600

OVERSIZED = {
    # Being split by the `core` helper right now (issue 15, items 4 and 7); remove when done.
    # (train.py is 503 lines today; listed so the split may pass through a longer state.)
    "skelgnn/cli.py",
    "skelgnn/train.py",
}
"""Files allowed over :data:`MAX_LINES`, each for a stated reason."""

KNOWN_CYCLES = {
    # evaluate imports inference (load_model) and inference imports evaluate (predict_sequence),
    # today both inside functions, so the module-level check does not see them; the `core`
    # helper is removing the pair (load_model -> checkpoint.py). Remove when done.
    frozenset({"skelgnn.evaluate", "skelgnn.inference"}),
}
"""Import cycles tolerated for now, as the set of modules on the cycle."""


def _module_name(path: Path, root: Path = SRC) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules(root: Path = SRC, package: str = PACKAGE) -> dict[str, Path]:
    return {_module_name(p, root): p for p in sorted((root / package).rglob("*.py"))}


def _top_level_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """Import statements that run when the module loads (also inside module-level try/if)."""
    out: list[ast.Import | ast.ImportFrom] = []
    todo: list[ast.stmt] = list(tree.body)
    while todo:
        node = todo.pop(0)
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            out.append(node)
        elif isinstance(node, ast.If):
            if "TYPE_CHECKING" not in ast.unparse(node.test):
                todo += node.body + node.orelse
        elif isinstance(node, ast.Try):
            todo += node.body + node.orelse + node.finalbody + [s for h in node.handlers for s in h.body]
    return out


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """``module -> package modules it imports at load time``.

    ``from a.b import c`` is an edge to ``a.b.c`` when that is a module, else to ``a.b``; relative
    imports are resolved against the importing module's package.
    """
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        edges: set[str] = set()
        for node in _top_level_imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                base = node.module or ""
                if node.level:
                    anchor = name.split(".") if is_package else name.split(".")[:-1]
                    anchor = anchor[:len(anchor) - node.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            edges |= {t for t in targets if t in modules and t != name}
        graph[name] = edges
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[frozenset[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(frozenset(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_source_file_over_the_limit():
    sizes = {str(p.relative_to(SRC)): len(p.read_text(encoding="utf-8").splitlines())
             for p in (SRC / PACKAGE).rglob("*.py")}
    too_long = {p: n for p, n in sizes.items() if n > MAX_LINES and p not in OVERSIZED}
    assert not too_long, f"split these files (over {MAX_LINES} lines): {too_long}"



def test_no_import_cycle():
    cycles = [c for c in find_cycles(import_graph(_modules())) if c not in KNOWN_CYCLES]
    assert not cycles, f"import cycles among skelgnn modules: {[sorted(c) for c in cycles]}"


def test_cycle_finder_finds_a_cycle_and_skips_lazy_imports():
    """The checker itself: a -> b -> c -> a is found, d (outside it) is not; an
    import inside a function and one under TYPE_CHECKING are not edges."""
    graph = {"p.a": {"p.b"}, "p.b": {"p.c"}, "p.c": {"p.a"}, "p.d": {"p.a"}}
    assert find_cycles(graph) == [frozenset({"p.a", "p.b", "p.c"})]
    tree = ast.parse("from typing import TYPE_CHECKING\nfrom . import b\nif TYPE_CHECKING:\n    import x\n"
                     "def f():\n    import y\n")
    names = [ast.unparse(n) for n in _top_level_imports(tree)]
    assert names == ["from typing import TYPE_CHECKING", "from . import b"]


def test_data_readers_and_prepare_load_without_torch():
    """``prepare/`` imports the numpy-only readers at module level: no torch on that path."""
    code = ("import sys; import skelgnn.prepare.bvh, skelgnn.prepare.h36m, skelgnn.prepare.mpi3dhp, "
            "skelgnn.data; print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={"PYTHONPATH": str(SRC), "PATH": ""}, check=True)
    assert out.stdout.strip() == "False", out.stderr


def test_import_graph_resolves_relative_and_submodule_imports(tmp_path):
    files = {"p/__init__.py": "from . import a\n", "p/a.py": "from .sub.b import f\n",
             "p/sub/__init__.py": "", "p/sub/b.py": "from p import a\ndef f():\n    import p.c\n",
             "p/c.py": "import os\n"}
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    graph = import_graph(_modules(tmp_path, "p"))
    assert graph == {"p": {"p.a"}, "p.a": {"p.sub.b"}, "p.sub": set(), "p.sub.b": {"p.a"}, "p.c": set()}
    assert find_cycles(graph) == [frozenset({"p.a", "p.sub.b"})]
