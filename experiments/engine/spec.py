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
alliance model by any function ``f(params: dict, seed: int) -> dict[str, float]``
(scenarios are then not used), as the EMA Workbench lets any callable be a model.
"""

from __future__ import annotations

import importlib
import itertools
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator

from sim.config import ScenarioError, load_scenario, read_toml, validate
from sim.core.fields import Strict, field

ALLIANCE = "alliance"
SPECS = Path(__file__).resolve().parents[1] / "specs"


class Experiment(Strict):
    """What to run and what to keep."""

    name: str = "experiment"
    description: str = ""
    model: str = Field(ALLIANCE, description="'alliance' or 'package.module:function'")
    seed: int = field(0, "", 0, 2**63 - 1, "seeds every run of the experiment")
    replications: int = field(1, "runs", 1, 100_000, "replications per scenario and point")
    months: int | None = field(None, "months", 1, 1200, "horizon (default: the scenario's)")
    kpis: list[str] = Field(default_factory=list, description="KPIs to keep (empty: all)")
    timeseries: bool = False
    timeseries_stride: int = field(12, "months", 1, 1200, "keep every n-th month")
    timeseries_columns: list[str] = Field(
        default_factory=list, description="names or patterns such as 'coverage.*' (empty: all)")
    chunk_size: int = field(0, "runs", 0, 100_000, "runs per task (0: automatic)")
    flush_seconds: float = field(
        10.0, "s", 0.0, 3600.0, "write finished runs at least this often (work at risk)")


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
        return self


class Spec(Strict):
    """A whole experiment spec."""

    experiment: Experiment = Field(default_factory=Experiment)
    scenarios: list[ScenarioRef] = Field(default_factory=list)
    design: Design = Field(default_factory=Design)


def load_spec(source: str | Path | Mapping[str, Any]) -> Spec:
    """Read and validate an experiment spec, checking scenarios and parameter paths too.

    Args:
        source: A TOML file, a name in ``experiments/specs``, or a mapping.

    Returns:
        The validated spec.

    Raises:
        ScenarioError: One line per problem.
    """
    name, data = read_spec(source, "experiment spec")
    spec = validate(Spec, data, {}, name)
    problems = []
    if spec.experiment.model == ALLIANCE:
        if not spec.scenarios:
            problems.append(f"{name}: scenarios: name at least one [[scenarios]] file")
        probe = {k: _probe_value(p) for k, p in spec.design.parameters.items()}
        for point in spec.design.points:
            probe.update(point)
        for ref in spec.scenarios:
            try:  # every scenario loads and accepts every design path with a sample value
                load_scenario(ref.file, overlays=ref.overlays, overrides=probe)
            except ScenarioError as exc:
                problems += [f"{name}: scenarios ({ref.file}): {p}" for p in exc.problems]
    else:
        try:
            resolve_model(spec.experiment.model)
        except ScenarioError as exc:
            problems += [f"{name}: experiment.model: {p}" for p in exc.problems]
    if problems:
        raise ScenarioError(problems)
    return spec


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
        return "<spec>", dict(source)
    path = Path(source)
    if not path.is_file() and (SPECS / f"{path.stem}.toml").is_file():
        path = SPECS / f"{path.stem}.toml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in SPECS.glob("*.toml")))
        raise ScenarioError([f"{source}: no such {kind}; examples: {known}"])
    return str(path), read_toml(path)


def _probe_value(p: Parameter) -> Any:
    if p.values:
        return p.values[0]
    mid = (p.range[0] + p.range[1]) / 2
    return int(round(mid)) if p.integer else mid


def resolve_model(ref: str) -> Callable[[dict[str, Any], int], dict[str, float]]:
    """Import a model function from ``package.module:function``.

    Args:
        ref: The reference.

    Returns:
        The function.

    Raises:
        ScenarioError: When it cannot be imported.
    """
    module, sep, attr = ref.partition(":")
    if not sep or not module or not attr:
        raise ScenarioError([f"{ref!r}: expected 'alliance' or 'package.module:function'"])
    try:
        fn = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise ScenarioError([f"{ref!r}: cannot import: {exc}"]) from None
    if not callable(fn):
        raise ScenarioError([f"{ref!r}: not callable"])
    return fn


def design_points(design: Design, seed: int) -> list[dict[str, Any]]:
    """The design's points as dicts of dotted path -> value.

    Args:
        design: The design.
        seed: Seed of the Latin hypercube.

    Returns:
        Points in a fixed order (``[{}]`` when the design is empty).
    """
    params = design.parameters
    if design.kind == "none":
        return [{}]
    if design.kind == "list":
        return [dict(p) for p in design.points]
    if design.kind == "grid":
        axes = [p.values or _grid_axis(p) for p in params.values()]
        return [dict(zip(params, combo, strict=True)) for combo in itertools.product(*axes)]
    from scipy.stats import qmc  # imported here: every `alliance` command imports this module

    sampler = qmc.LatinHypercube(d=len(params), seed=np.random.default_rng(seed))
    unit = sampler.random(design.samples)
    lows = np.array([p.range[0] for p in params.values()])
    highs = np.array([p.range[1] for p in params.values()])
    scaled = qmc.scale(unit, lows, highs)
    points = []
    for row in scaled:
        point = {}
        for (key, p), value in zip(params.items(), row, strict=True):
            point[key] = int(round(value)) if p.integer else float(value)
        points.append(point)
    return points


def _grid_axis(p: Parameter) -> list[float]:
    """A range in a grid without values: its two ends and the middle."""
    lo, hi = p.range
    axis = [lo, (lo + hi) / 2, hi]
    return [int(round(v)) for v in axis] if p.integer else axis
