"""The package's layout rules: stage packages that import only downwards, small source files, no
import cycles, a short top level.

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

OVERSIZED: set[str] = set()
"""Files allowed over :data:`MAX_LINES`, each for a stated reason."""

KNOWN_CYCLES: set[frozenset[str]] = set()
"""Import cycles tolerated for now, as the set of modules on the cycle."""

STAGES = ("base", "data", "prepare", "layers", "models", "infer", "motion", "video", "evaluate", "train",
          "action", "cli")
"""The stage packages, lowest first; a module may import only from its own stage or a lower one.
``base`` is the top level (``skeleton``, ``geometry``, ``metrics``, ``fileio``, ``options``,
``tables``, ``progress``). ``evaluate`` sits above ``infer``, ``motion`` and ``video`` because the MPI-INF-3DHP
scorer lifts with the ``Lifter`` and ``skelgnn bench`` times the video pipeline; ``train`` above
``evaluate`` because the loop validates with the benchmark scorer. The package's ``__init__`` (the
lazy ``skelgnn.Lifter``) and ``__main__`` are entry points, outside the order."""

MODEL_STAGES = ("data", "layers", "models")
"""Stages that must never import the ones that use a model (:data:`USER_STAGES`)."""
USER_STAGES = ("train", "evaluate", "infer", "motion", "video", "cli")

MAX_TOP_LEVEL = 8
"""Modules allowed at the top of ``src/skelgnn`` besides the stage packages and the package's own
``__init__`` / ``__main__``: the seven of ``base`` (``progress`` among them: data preparation,
training, evaluation and the video pipeline all report through it, so it sits below every stage)."""


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


def all_imports(modules: dict[str, Path]) -> dict[str, set[str]]:
    """``module -> package modules it imports anywhere`` (also inside functions: those run too),
    skipping ``if TYPE_CHECKING:`` blocks."""
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skipped = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
                   and "TYPE_CHECKING" in ast.unparse(node.test) for n in ast.walk(node)}
        edges: set[str] = set()
        for node in ast.walk(tree):
            if id(node) in skipped or not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                assert not node.level, f"{name}: relative import (the package uses absolute ones)"
                base = node.module or ""
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            edges |= {t for t in targets if t in modules and t != name}
        graph[name] = edges
    return graph


def stage_of(module: str) -> str | None:
    """The stage of ``skelgnn.<stage>...`` (``base`` for top-level modules); None for the entry points."""
    parts = module.split(".")
    if len(parts) == 1 or parts[1] == "__main__":
        return None
    return parts[1] if parts[1] in STAGES else "base"


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """Every import from a lower stage to a higher one, as ``"importer -> imported"``."""
    out = []
    for name, targets in sorted(graph.items()):
        low = stage_of(name)
        for target in sorted(targets):
            high = stage_of(target)
            if low and high and STAGES.index(high) > STAGES.index(low):
                out.append(f"{name} -> {target}")
    return out


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


def test_no_import_runs_from_a_lower_stage_to_a_higher_one():
    wrong = upward_imports(all_imports(_modules()))
    assert not wrong, f"imports against the stage order {STAGES}: {wrong}"


def test_the_model_stages_never_import_training_evaluation_or_use():
    graph = all_imports(_modules())
    wrong = [f"{name} -> {target}" for name, targets in sorted(graph.items()) if stage_of(name) in MODEL_STAGES
             for target in sorted(targets) if stage_of(target) in USER_STAGES]
    assert not wrong, wrong


def test_stage_checker_finds_an_upward_import_inside_a_function(tmp_path):
    files = {"skelgnn/__init__.py": "", "skelgnn/geometry.py": "", "skelgnn/models/__init__.py": "",
             "skelgnn/models/a.py": "import skelgnn.geometry\nif TYPE_CHECKING:\n    import skelgnn.train.b\n",
             "skelgnn/models/c.py": "def f():\n    from skelgnn.train import b\n",
             "skelgnn/train/__init__.py": "", "skelgnn/train/b.py": "from skelgnn.models.a import x\n"}
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert upward_imports(all_imports(_modules(tmp_path))) == ["skelgnn.models.c -> skelgnn.train.b"]


def test_the_top_level_is_short_and_the_layer_is_one_step_from_it():
    top = sorted(p.name for p in (SRC / PACKAGE).glob("*.py") if p.name not in ("__init__.py", "__main__.py"))
    assert len(top) <= MAX_TOP_LEVEL, top
    packages = {p.name for p in (SRC / PACKAGE).iterdir() if (p / "__init__.py").is_file()}
    assert set(STAGES) - {"base"} <= packages
    assert (SRC / PACKAGE / "layers" / "dhcsf.py").is_file()


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
