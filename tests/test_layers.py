"""The house's layers run one way: no import circle, and no layer imports one above it.

Every import counts: module level, inside functions, and under ``TYPE_CHECKING``.
Layers, bottom to top (a module may import its own layer and those below)::

    sim.core < sim.instruments < sim.config < sim.mechanisms < agents < sim.model
      < experiments.engine < experiments.{sensitivity, discovery, search, workshop, ema}
      < experiments.app
      < experiments.cli
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("sim", "agents", "experiments", "scenarios")
LAYERS = (
    ("sim.core",),
    ("sim.instruments",),
    ("sim.config",),
    ("sim.mechanisms",),
    ("agents",),
    ("sim.model", "sim"),
    ("experiments.engine", "experiments", "scenarios"),
    # studies on the engine; ema: the EMA Workbench adaptor (optional extra, imported lazily)
    (
        "experiments.sensitivity",
        "experiments.discovery",
        "experiments.search",
        "experiments.workshop",
        "experiments.ema",
    ),
    ("experiments.app",),  # the what-if page: built on the workshop's studies and tables
    ("experiments.cli",),
)


def modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            out[name.removesuffix(".__init__")] = path
    return out


MODULES = modules()


def resolve(name: str) -> str | None:
    """The project module an import refers to (a package's ``__init__`` for a package)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def imports(module: str, path: Path) -> set[str]:
    """Project modules imported anywhere in a file."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            targets = [f"{base}.{a.name}" for a in node.names] or [base]
        else:
            continue
        for target in targets:
            hit = resolve(target)
            if (
                hit
                and hit != module
                and not (path.name == "__init__.py" and hit.startswith(module + "."))
            ):
                found.add(hit)
    return found


GRAPH = {m: imports(m, p) for m, p in MODULES.items()}


def layer(module: str) -> int:
    best, rank = -1, None
    for i, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, rank = len(prefix), i
    assert rank is not None, f"{module} belongs to no layer"
    return rank


def cycles() -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in GRAPH:
        if v not in index:
            visit(v)
    return out


def test_the_scan_sees_the_imports():
    assert (
        "sim.core.finance" in GRAPH["sim.instruments.go_bond"]
        or "sim.instruments.base" in GRAPH["sim.instruments.go_bond"]
    )
    assert "agents.city.treasury" in GRAPH["agents.city.city"]


def test_no_import_circle():
    assert cycles() == []


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_import_goes_up(module):
    up = sorted(t for t in GRAPH[module] if layer(t) > layer(module))
    assert not up, f"{module} (layer {layer(module)}) imports a layer above it: {up}"


def test_mechanisms_know_no_agent_and_no_model():
    low = [m for m in MODULES if layer(m) <= layer("sim.mechanisms")]
    offenders = {
        m: sorted(t for t in GRAPH[m] if t.startswith(("agents", "sim.model"))) for m in low
    }
    assert not {m: t for m, t in offenders.items() if t}
