"""The package's shape: no import cycle (lazy imports inside functions count), no file over 400 lines.

The import graph is read from the sources with ``ast`` (nothing is imported): one node per module of
``dualaction_lib``, one edge per ``import`` / ``from … import`` of another module of the package, wherever
the statement is. A package's ``__init__`` re-exporting its own modules is an edge like any other; the
implicit import of a parent package when a submodule loads is not (it is Python's, not ours).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = "dualaction_lib"
ROOT = Path(__file__).resolve().parent.parent / PACKAGE
MAX_LINES = 400


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The longest prefix of a dotted name that is a module of the package."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in modules:
            return candidate
    return None


def import_graph() -> dict[str, set[str]]:
    """module → the package modules it imports (top level, inside functions, under TYPE_CHECKING)."""
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                # `from pkg import sub` imports the module pkg.sub; `from mod import name` imports mod.
                targets = [f"{base}.{alias.name}" for alias in node.names]
            else:
                continue
            for target in targets:
                resolved = _resolve(target, modules)
                if resolved is not None and resolved != name:
                    edges.add(resolved)
        graph[name] = edges
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each as a sorted list."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph.get(node, ())):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def test_the_graph_sees_lazy_and_relative_imports() -> None:
    graph = import_graph()
    assert "dualaction_lib.io" in graph["dualaction_lib.workbook.plan"]  # top-level absolute import
    assert "dualaction_lib.data.decode" in graph["dualaction_lib.data.extract"]  # relative import
    assert "dualaction_lib.engine.data" in graph["dualaction_lib.figures_job"]  # import inside a function
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycle() -> None:
    cycles = find_cycles(import_graph())
    assert not cycles, f"import cycles: {cycles}"


# Top-level module or sub-package → the ones it may import (docs/architecture.md, "Dependencies").
ALLOWED = {
    "io": set(),
    "errors": set(),
    "stats": set(),
    "threads": set(),
    "feature_names": set(),
    "choices": set(),
    "flow": set(),
    "locks": {"errors"},
    "config": {"choices", "io", "errors", "feature_names"},
    "data": {"choices", "io", "errors", "flow", "threads"},
    "models": {"choices", "io", "errors", "feature_names"},
    "losses": {"choices", "io", "feature_names"},
    "rundir": {
        "choices",
        "io",
        "config",
        "errors",
        "locks",
    },  # low-level: the run folder's files and identity
    "engine": {"choices", "config", "data", "models", "losses", "io", "errors", "locks", "feature_names"}
    | {"rundir"},
    "viz": {"io", "stats", "flow"},  # flow.color only: see test_viz_only_draws
    "study": {
        "choices",
        "engine",
        "losses",
        "flow",
        "viz",
        "config",
        "stats",
        "feature_names",
        "io",
        "models",
    }
    | {"data", "rundir"},
    "workbook": {"io", "errors", "locks", "threads"},
    "figures_job": {"workbook", "config", "engine", "io", "errors"},
    # what a plan's jobs train (estimate, SLURM tasks): the runner's hooks, outside the runner
    "plan_runs": {"workbook", "study", "engine", "io", "errors"},
    "__main__": {"data", "engine", "workbook", "figures_job", "plan_runs", "errors"},
}


def render_layers(allowed: dict[str, set[str]] = ALLOWED) -> str:
    """The "Dependencies" block of docs/architecture.md, written from ``ALLOWED`` (the enforced rules)."""
    leaves = sorted(name for name, deps in allowed.items() if not deps)
    lines = [f"{', '.join(leaves):<34} → nothing of the package (leaves)"]
    lines += [f"{name:<34} → {', '.join(sorted(deps))}" for name, deps in allowed.items() if deps]
    return "```\n" + "\n".join(lines) + "\n```"


def test_the_doc_states_the_enforced_layers() -> None:
    doc = (ROOT.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    assert render_layers() in doc, "docs/architecture.md's Dependencies block differs from ALLOWED:\n" + (
        render_layers()
    )


def _part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def test_dependencies_follow_the_documented_layers() -> None:
    for module, imports in import_graph().items():
        if module == PACKAGE:
            continue
        outside = {_part(m) for m in imports} - {_part(module)}
        assert outside <= ALLOWED[_part(module)], (
            f"{module} imports {sorted(outside - ALLOWED[_part(module)])}"
        )


def test_the_runner_does_not_know_its_jobs() -> None:
    graph = import_graph()
    runner = {m for m in graph if m.startswith(f"{PACKAGE}.workbook")}
    for module in runner:
        assert f"{PACKAGE}.figures_job" not in graph[module], module
    assert all(not m.startswith(f"{PACKAGE}.workbook") for m in graph[f"{PACKAGE}.viz.core"])


def test_viz_only_draws() -> None:
    """viz takes data and returns Figures: it loads no model, trains nothing, builds no config."""
    allowed = {f"{PACKAGE}.io", f"{PACKAGE}.stats", f"{PACKAGE}.flow.color"}
    for module, imports in import_graph().items():
        if module.startswith(f"{PACKAGE}.viz"):
            outside = {m for m in imports if not m.startswith(f"{PACKAGE}.viz")} - allowed
            assert not outside, f"{module} imports {sorted(outside)}"
    for path in (ROOT / "viz").glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        assert not [n for n in names if n.split(".")[0] == "torch"], f"{path.name} imports torch"


def test_no_file_over_400_lines() -> None:
    sizes = {name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in _modules().items()}
    too_long = {name: n for name, n in sizes.items() if n > MAX_LINES}
    assert not too_long, f"files over {MAX_LINES} lines: {too_long}"


def test_the_architecture_doc_is_in_the_repo_and_names_every_package() -> None:
    doc = (ROOT.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    for heading in ("## Package map", "## Data flow", "## Dependencies", "## Where each fact is defined"):
        assert heading in doc
    for part in sorted({_part(m) for m in _modules() if m != PACKAGE}):
        assert f"`{part}/`" in doc or f"`{part}.py`" in doc, f"docs/architecture.md does not map {part}"
    # Docstrings and notebooks cite docs/architecture.md, never a design document outside the repository.
    outside = re.compile(r"DESIGN(\s*§|'s|\.md)")
    for folder in ("dualaction_lib", "tests", "bench", "notebooks"):
        for path in (ROOT.parent / folder).rglob("*"):
            if path.suffix in (".py", ".ipynb", ".md") and path.name != Path(__file__).name:
                assert not outside.search(path.read_text(encoding="utf-8")), path
