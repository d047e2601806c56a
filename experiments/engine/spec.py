"""Experiment specs: which scenarios, which design, how many replications, what to keep.

An experiment spec is a TOML file, validated like scenario files (one line per
problem naming the file, the dotted path, the bad value and what is allowed)::

    [experiment]
    name = "rates_and_pilots"
    seed = 20261129
    replications = 4
    months = 240                  # optional: the scenarios' horizon otherwise
    kpis = []                     # empty = every KPI
    timeseries = true             # keep monthly series ...
    timeseries_stride = 12        # ... every 12th month
    timeseries_columns = []       # empty = every column

    [[scenarios]]
    file = "traditional"
    [[scenarios]]
    file = "alliance"
    overlays = ["recession"]

    [design]
    kind = "lhs"                  # grid | lhs | list | none
    samples = 32
    [design.parameters."world.rates.shift_bp"]
    range = [0.0, 300.0]
    [design.parameters."policy.pilot.share_of_units"]
    values = [0.01, 0.05, 0.1]    # grid: these values; lhs: a range is required

A design point is a set of dotted-path values; every (scenario, design point,
replication) is one run. ``model = "package.module:function"`` replaces the
built-in model by any function ``f(params: dict, seed: int) -> dict[str, float]``
(it takes no ``[[scenarios]]``), as the EMA Workbench lets any callable be a model.
:func:`bind_models` turns the spec's ``model`` into the model objects the engine
runs (:mod:`experiments.engine.model`): the built-in bound to each
``[[scenarios]]`` entry, or the function.
"""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, NamedTuple

from pydantic import Field, model_validator

from experiments.engine.model import Model, ScenarioModel, declared_outputs, import_function
from sim.config import ScenarioError, check_tree, read_toml, validate
from sim.core.fields import Strict, field

#: The built-in model's reference in a spec (the default).
BUILT_IN = "alliance"
SPECS = Path(__file__).resolve().parents[1] / "specs"


class Experiment(Strict):
    """What to run and what to keep."""

    name: str = "experiment"
    description: str = ""
    model: str = Field(BUILT_IN, description=f"'{BUILT_IN}' or 'package.module:function'")
    seed: int = field(0, "", 0, 2**63 - 1, "seeds every run of the experiment")
    replications: int = field(1, "runs", 1, 100_000, "replications per scenario and point")
    months: int | None = field(None, "months", 1, 1200, "horizon (default: the scenario's)")
    kpis: list[str] = Field(default_factory=list, description="KPIs to keep (empty: all)")
    timeseries: bool = False
    timeseries_stride: int = field(12, "months", 1, 1200, "keep every n-th month")
    timeseries_columns: list[str] = Field(
        default_factory=list, description="names or patterns such as 'coverage.*' (empty: all)"
    )
    chunk_size: int = field(0, "runs", 0, 100_000, "runs per task (0: automatic)")
    flush_seconds: float = field(
        10.0, "s", 0.0, 3600.0, "write finished runs at least this often (work at risk)"
    )


class ScenarioRef(Strict):
    """A scenario file or library name, with overlays."""

    file: str
    overlays: list[str] = Field(default_factory=list)
    label: str = ""


class Parameter(Strict):
    """One design parameter: explicit values or a range."""

    values: list[Any] = Field(default_factory=list)
    range: list[float] = Field(default_factory=list, description="[low, high]")
    integer: bool = False

    @model_validator(mode="after")
    def _one_kind(self) -> Parameter:
        if self.range and len(self.range) != 2:
            raise ValueError("range must be [low, high]")
        if self.range and not self.range[0] < self.range[1]:
            raise ValueError(f"range [{self.range[0]}, {self.range[1]}] must have low < high")
        if not self.values and not self.range:
            raise ValueError("give values = [...] or range = [low, high]")
        return self


class Design(Strict):
    """The design over parameters."""

    kind: Literal["none", "grid", "lhs", "list"] = "none"
    samples: int = field(0, "points", 0, 10_000_000, "Latin hypercube points")
    parameters: dict[str, Parameter] = Field(default_factory=dict)
    points: list[dict[str, Any]] = Field(default_factory=list, description="kind = 'list'")

    @model_validator(mode="after")
    def _consistent(self) -> Design:
        if self.kind == "lhs":
            if self.samples < 1:
                raise ValueError("lhs needs samples >= 1")
            missing = [k for k, p in self.parameters.items() if not p.range]
            if missing:
                raise ValueError(f"lhs needs a range for {', '.join(missing)}")
        if self.kind == "grid" and not self.parameters:
            raise ValueError("grid needs at least one parameter")
        if self.kind == "list" and not self.points:
            raise ValueError("list needs points = [{...}, ...]")
        if self.kind in ("list", "none") and self.parameters:
            raise ValueError(
                f"kind = '{self.kind}' uses no [design.parameters] "
                f"({', '.join(self.parameters)}): put values in the points, or use grid / lhs"
            )
        if self.kind != "list" and self.points:
            raise ValueError(f"points are for kind = 'list', not '{self.kind}'")
        if self.kind != "lhs" and self.samples:
            raise ValueError(f"samples is for kind = 'lhs', not '{self.kind}'")
        return self


class Spec(Strict):
    """A whole experiment spec."""

    experiment: Experiment = Field(default_factory=Experiment)
    scenarios: list[ScenarioRef] = Field(default_factory=list)
    design: Design = Field(default_factory=Design)


class Binding(NamedTuple):
    """A model of a spec: its label in the runs table, the model, where the spec names it."""

    label: str
    model: Model
    where: str


def bind_models(
    experiment: Experiment, scenarios: Sequence[ScenarioRef], name: str = "<spec>"
) -> list[Binding]:
    """The models a spec runs: the one place that knows the built-in model by name.

    ``model = "alliance"`` (the default) binds the built-in model to each
    ``[[scenarios]]`` entry (:class:`~experiments.engine.model.ScenarioModel`:
    file, overlays, the experiment's horizon), labelled ``label`` or the file's
    stem and its overlays (``alliance+recession``). ``model =
    "package.module:function"`` imports the function, labelled ``model``.

    Args:
        experiment: The ``[experiment]`` table.
        scenarios: The ``[[scenarios]]`` entries.
        name: The spec, for messages.

    Returns:
        One binding per model, in the spec's order.

    Raises:
        ScenarioError: One line per problem (no scenario, cannot import, ...).
    """
    if experiment.model == BUILT_IN:
        if not scenarios:
            raise ScenarioError([f"{name}: scenarios: name at least one [[scenarios]] file"])
        return [
            Binding(
                ref.label or "+".join([Path(ref.file).stem, *ref.overlays]),
                ScenarioModel(ref.file, tuple(ref.overlays), experiment.months),
                f"scenarios ({ref.file})",
            )
            for ref in scenarios
        ]
    if scenarios:
        raise ScenarioError(
            [f"{name}: scenarios: a function model ({experiment.model}) takes no [[scenarios]]"]
        )
    if ":" not in experiment.model:
        raise ScenarioError(
            [
                f"{name}: experiment.model: {experiment.model!r}: expected "
                f"'{BUILT_IN}' or 'package.module:function'"
            ]
        )
    try:
        fn = import_function(experiment.model)
    except ScenarioError as exc:
        raise ScenarioError([f"{name}: experiment.model: {p}" for p in exc.problems]) from None
    return [Binding("model", fn, "experiment.model")]


def load_spec(source: str | Path | Mapping[str, Any]) -> Spec:
    """Read and validate an experiment spec, checking its models, paths and KPIs too.

    Every model that can check a design point (the built-in loads its scenario
    with the overrides) is given one point with a value for every design
    parameter, so a misspelt path or a value out of range fails here; KPIs to
    keep are checked against the models' declared outputs. Nothing runs.

    Args:
        source: A TOML file, a name in ``experiments/specs``, or a mapping.

    Returns:
        The validated spec.

    Raises:
        ScenarioError: One line per problem.
    """
    name, data = read_spec(source, "experiment spec")
    spec = validate(Spec, data, {}, name)
    bindings = bind_models(spec.experiment, spec.scenarios, name)
    labels = [b.label for b in bindings]
    twice = sorted({x for x in labels if labels.count(x) > 1})
    if twice:
        raise ScenarioError(
            [
                f"{name}: scenarios: label {x!r} is used twice: give each a distinct label"
                for x in twice
            ]
        )
    probe = {k: _probe_value(p) for k, p in spec.design.parameters.items()}
    for point in spec.design.points:
        probe.update(point)
    problems = []
    for b in bindings:
        check = getattr(b.model, "check", None)
        if check is None:
            continue
        # every model loads and accepts every design path with a value ...
        found = [f"{name}: {b.where}: {p}" for p in check(probe)]
        if not found:  # ... and every value: each level (a range's ends) and each point
            for point in _every_value(spec.design, probe):
                found += [
                    line
                    for line in (f"{name}: {b.where}: {x}" for x in check(point))
                    if line not in found
                ]
        problems += found
    if not problems:
        levels = {k: _levels(p) for k, p in spec.design.parameters.items()}
        for point in spec.design.points:
            for k, v in point.items():
                levels.setdefault(k, []).append(v)
        for b in bindings:
            problems += [
                f"{name}: design.parameters.{path}: {why}"
                for path, why in inactive_parameters(b.model, levels, label=b.label).items()
            ]
    if not problems:
        problems += unknown_kpis(
            spec.experiment.kpis, [b.model for b in bindings], f"{name}: experiment.kpis"
        )
    if problems:
        raise ScenarioError(problems)
    return spec


def unknown_kpis(requested: Sequence[str], models: Sequence[Model], where: str) -> list[str]:
    """The requested KPIs no model declares as an output, one line each.

    Args:
        requested: KPI names.
        models: The models (a model that declares no outputs makes the check impossible:
            then nothing is reported, and the names are checked after the runs).
        where: Prefix of every line (spec and field).

    Returns:
        Lines naming each unknown KPI, with a suggestion.
    """
    declared = [declared_outputs(m) for m in models]
    if not requested or any(d is None for d in declared):
        return []
    return kpi_problems(requested, {k for d in declared for k in d}, where)


def kpi_problems(
    requested: Sequence[str], known: Sequence[str] | set[str], where: str
) -> list[str]:
    """One line per requested KPI that is not among the known names.

    Args:
        requested: KPI names asked for.
        known: KPI names the model returns (declared, or found in its runs).
        where: Prefix of every line.

    Returns:
        e.g. ``"spec.toml: sensitivity.kpis: 'yy' is not a KPI of the model; did you
        mean 'y'? known: noise, y"``.
    """
    names = sorted(known)
    more = "..." if len(names) > 12 else ""
    out = []
    for kpi in requested:
        if kpi not in known:
            near = difflib.get_close_matches(kpi, names, n=1)
            hint = f"did you mean '{near[0]}'? " if near else ""
            out.append(
                f"{where}: {kpi!r} is not a KPI of the model; {hint}"
                f"known: {', '.join(names[:12])}{more}"
            )
    return out


def read_spec(source: str | Path | Mapping[str, Any], kind: str) -> tuple[str, dict[str, Any]]:
    """Find and parse a spec: a mapping, a TOML file, or a name in ``experiments/specs``.

    Args:
        source: The spec.
        kind: What it is, for the error message ("experiment spec", ...).

    Returns:
        (name for messages, parsed data).

    Raises:
        ScenarioError: When there is no such file (with the shipped examples).
    """
    if isinstance(source, Mapping):
        check_tree(source, "<spec>")
        return "<spec>", dict(source)
    path = Path(source)
    if not path.is_file() and (SPECS / f"{path.stem}.toml").is_file():
        path = SPECS / f"{path.stem}.toml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in SPECS.glob("*.toml")))
        raise ScenarioError([f"{source}: no such {kind}; examples: {known}"])
    return str(path), read_toml(path)


def inactive_parameters(
    model: Model,
    levels: Mapping[str, Sequence[Any]],
    fixed: Mapping[str, Any] | None = None,
    label: str = "",
) -> dict[str, str]:
    """Design parameters that apply at none of a few points of the design, with why.

    A parameter that does not apply to a scenario (``active`` false in
    :func:`sim.config.parameters`: a pilot's length without pilots, a PPP term without a
    PPP) changes no run, so sampling it wastes the runs and shows a flat, misleading
    effect. Whether a parameter applies can depend on other design parameters (a rate
    shock's month only with a shock), so the points are: every parameter at its first
    level, then each parameter at each of its other levels in turn (``fixed`` values
    everywhere). A parameter is refused when it applies at none of them. Models that
    declare no ``parameters`` (plain functions), or whose parameters carry no ``active``,
    are not checked.

    Args:
        model: The model.
        levels: Design path -> the values to try (the first is the default).
        fixed: Values set at every point.
        label: The model's label (the scenario), for the message.

    Returns:
        Path -> one line: which scenario it does not apply to, and when it would.
    """
    declared = getattr(model, "parameters", None)
    if declared is None or not levels:
        return {}
    base = {**(fixed or {}), **{k: v[0] for k, v in levels.items() if v}}
    points = [base] + [
        {**base, path: value} for path, values in levels.items() for value in values[1:]
    ]
    status: dict[str, tuple[bool, str]] = {}
    for point in points:
        try:
            leaves = declared(point)
        except (ScenarioError, TypeError):
            continue  # a point that does not load is reported by the other checks
        for path in levels:
            for leaf in leaves:
                if leaf.path == path or ("*" in path and fnmatch.fnmatchcase(leaf.path, path)):
                    active = getattr(leaf, "active", True)
                    seen, _ = status.get(path, (False, ""))
                    status[path] = (seen or active, getattr(leaf, "applies_when", ""))
    where = f"scenario '{label}'" if label else "the model"
    return {
        path: (
            f"does not apply to {where} (it applies when {when}), so sampling it changes "
            "none of its runs; drop it or sample it only where it applies ('alliance "
            "params SCENARIO --inactive' lists what does not)"
        )
        for path, (active, when) in status.items()
        if not active
    }


def _levels(p: Parameter) -> list[Any]:
    """Values of a design parameter to check it at: its values, or its range's middle and ends."""
    if p.values:
        return list(p.values)
    lo, hi = p.range
    mid = (lo + hi) / 2
    values = [mid, lo, hi]
    return [int(round(v)) for v in values] if p.integer else values


def _every_value(design: Design, probe: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Points that, with ``probe``, show a model every value the design can give.

    Each parameter at each of its levels other than the probe's (every grid
    value; a range's ends), then every listed point but the last (in the probe).
    """
    for k, p in design.parameters.items():
        for v in _levels(p)[1:]:
            yield {**probe, k: v}
    for point in design.points[:-1]:
        yield {**probe, **point}


def _probe_value(p: Parameter) -> Any:
    if p.values:
        return p.values[0]
    mid = (p.range[0] + p.range[1]) / 2
    return int(round(mid)) if p.integer else mid
