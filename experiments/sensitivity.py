"""Global sensitivity analysis through SALib, on the experiment engine.

``alliance sensitivity SPEC`` reads a sensitivity spec (an experiment spec
plus a ``[sensitivity]`` table), samples the parameter space with the chosen
method's SALib sampler, turns the sample into an explicit list design, runs it
with :func:`experiments.batch.run_experiment` (any engine, resumable, the
crash-safe run store) and analyses every KPI from that one set of runs::

    [experiment]
    name = "sobol_alliance"
    seed = 20261130
    replications = 2              # per sample point; replication r has the same seed everywhere
    months = 240

    [[scenarios]]                 # exactly one for the alliance model (none for a function)
    file = "alliance"

    [sensitivity]
    method = "sobol"              # sobol | morris | fast | rbd_fast | delta | pawn
    n = 32                        # sobol: N, a power of two; morris: trajectories; else samples
    second_order = true
    kpis = ["fiscal_npv_usd", "min_budget_balance_usd"]
    bootstrap = 100               # resamples for the confidence intervals
    conf_level = 0.95
    [sensitivity.fixed]           # values set at every point (not analysed)
    "world.residents.simulated_agents" = 2000
    [sensitivity.parameters."world.rates.shift_bp"]
    bounds = [-100.0, 300.0]      # uniform by default
    [sensitivity.parameters."world.stress.performance_factor"]
    dist = "truncnorm"
    bounds = [0.3, 1.3]
    mean = 0.8
    sd = 0.2
    [sensitivity.parameters."policy.procurement.mode"]
    values = ["rfp", "rfi_mou"]   # categorical (or a switch: values = [false, true])

Replications are averaged per sample point before the analysis (the indices
describe E[KPI | parameters]); the part of the variance of those averages that
is replication noise is reported as the *noise share* (``noise.csv``).
Indices at N/2 and N are compared (``convergence.csv``). Everything is written
atomically into the experiment folder; see ``docs/sensitivity.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import fnmatch
import io
import json
import math
import os
import sys
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from experiments.spec import ALLIANCE, Experiment, ScenarioRef, Spec, read_spec, resolve_model
from sim.config import ScenarioError, load_scenario, parameters, validate
from sim.schema import field as schema_field

if TYPE_CHECKING:
    import pandas as pd

EXIT_INVALID = 2
EXIT_FAILED = 1

METHODS = ("sobol", "morris", "fast", "rbd_fast", "delta", "pawn")
#: The index each method ranks parameters by.
MAIN_INDEX = {"sobol": "ST", "morris": "mu_star", "fast": "ST", "rbd_fast": "S1",
              "delta": "delta", "pawn": "PAWN_median"}
#: Indices compared at N/2 and N.
CONVERGENCE_INDICES = {"sobol": ("S1", "ST"), "morris": ("mu_star",), "fast": ("S1", "ST"),
                       "rbd_fast": ("S1",), "delta": ("delta", "S1"), "pawn": ("PAWN_median",)}
METHOD_NAMES = {"sobol": "Sobol", "morris": "Morris elementary effects", "fast": "eFAST",
                "rbd_fast": "RBD-FAST", "delta": "delta moment-independent", "pawn": "PAWN"}
#: Unbounded distributions are truncated at these quantiles (so every value is finite).
TAIL = 0.001
#: Noise share above which a warning is printed.
NOISE_WARN = 0.10
#: Confidence half-width of a top-3 normalised index above which a warning is printed.
CI_WARN = 0.10


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class ParameterSpec(_Strict):
    """One analysed parameter: a range with a distribution, or categorical values."""

    bounds: list[float] = Field(default_factory=list, description="[low, high]")
    dist: Literal["unif", "logunif", "triang", "norm", "truncnorm", "lognorm"] = "unif"
    mean: float | None = Field(None, description="norm / truncnorm mean; lognorm: mean of ln x")
    sd: float | None = Field(None, description="norm / truncnorm sd; lognorm: sd of ln x")
    peak: float | None = Field(None, description="triang: the mode, inside bounds")
    values: list[Any] = Field(default_factory=list, description="categorical levels")
    integer: bool = False
    label: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> ParameterSpec:
        if self.values:
            if self.bounds or self.mean is not None or self.sd is not None:
                raise ValueError("give either values = [...] (categorical) or a range, not both")
            if len(self.values) < 2:
                raise ValueError("values needs at least two levels")
            return self
        needs_bounds = self.dist in ("unif", "logunif", "triang", "truncnorm")
        if needs_bounds and len(self.bounds) != 2:
            raise ValueError(f"dist = '{self.dist}' needs bounds = [low, high]")
        if self.bounds and (len(self.bounds) != 2 or not self.bounds[0] < self.bounds[1]):
            raise ValueError(f"bounds {self.bounds} must be [low, high] with low < high")
        if self.dist in ("norm", "truncnorm", "lognorm"):
            if self.mean is None or self.sd is None:
                raise ValueError(f"dist = '{self.dist}' needs mean and sd")
            if self.sd <= 0:
                raise ValueError(f"sd = {self.sd} must be > 0")
        if self.dist == "logunif" and self.bounds[0] <= 0:
            raise ValueError("logunif needs bounds > 0")
        if self.dist == "triang":
            if self.peak is None or not self.bounds[0] <= self.peak <= self.bounds[1]:
                raise ValueError("triang needs peak inside bounds")
        if self.dist == "truncnorm" and not self.bounds[0] <= self.mean <= self.bounds[1]:
            raise ValueError("truncnorm needs its mean inside bounds")
        return self

    def support(self) -> tuple[float, float]:
        """Smallest and largest value the design can take (unbounded tails truncated).

        Returns:
            (low, high).
        """
        lo, hi = self.to_values(np.array([0.0, 1.0]))
        return float(lo), float(hi)

    def to_values(self, u: np.ndarray) -> np.ndarray:
        """Map unit-interval samples to parameter values (inverse CDF; integer rounding).

        Args:
            u: Samples in [0, 1].

        Returns:
            Values (an object array for categorical levels).
        """
        from scipy import stats

        u = np.asarray(u, dtype=float)
        if self.values:
            idx = np.minimum((u * len(self.values)).astype(int), len(self.values) - 1)
            return np.array(self.values, dtype=object)[idx]
        lo, hi = (self.bounds + [np.nan, np.nan])[:2]
        clipped = np.clip(u, TAIL, 1 - TAIL)
        if self.dist == "unif":
            x = lo + u * (hi - lo)
        elif self.dist == "logunif":
            x = np.exp(np.log(lo) + u * (np.log(hi) - np.log(lo)))
        elif self.dist == "triang":
            c = (self.peak - lo) / (hi - lo)
            x = stats.triang.ppf(u, c, loc=lo, scale=hi - lo)
        elif self.dist == "norm":
            x = stats.norm.ppf(clipped, loc=self.mean, scale=self.sd)
        elif self.dist == "truncnorm":
            a, b = (lo - self.mean) / self.sd, (hi - self.mean) / self.sd
            x = stats.truncnorm.ppf(u, a, b, loc=self.mean, scale=self.sd)
        else:  # lognorm: mean and sd of ln x
            x = np.exp(stats.norm.ppf(clipped, loc=self.mean, scale=self.sd))
        return np.round(x).astype(np.int64) if self.integer else x


class Sensitivity(_Strict):
    """The ``[sensitivity]`` table: method, sample size, KPIs, parameters."""

    method: Literal["sobol", "morris", "fast", "rbd_fast", "delta", "pawn"] = "sobol"
    n: int = schema_field(
        64, "samples", 2, 10_000_000,
        "sobol: base samples N (a power of two); morris: trajectories; fast: samples per "
        "curve; rbd_fast, delta, pawn: Latin hypercube samples")
    second_order: bool = Field(True, description="sobol: S2 (runs N(2D+2) instead of N(D+2))")
    kpis: list[str] = Field(min_length=1)
    bootstrap: int = schema_field(100, "resamples", 10, 100_000, "bootstrap resamples for CIs")
    conf_level: float = schema_field(0.95, "probability", 0.5, 0.999)
    seed: int | None = schema_field(None, "", 0, 2**63 - 1, "sampling seed (default: experiment's)")
    num_levels: int = schema_field(4, "levels", 2, 100, "morris: grid levels")
    trajectory_pool: int = schema_field(
        0, "trajectories", 0, 100_000, "morris: choose the n most spread of this many (0: off)")
    harmonics: int = schema_field(0, "", 0, 100, "fast M (default 4), rbd_fast M (default 10)")
    slides: int = schema_field(10, "slides", 2, 1000, "pawn: conditioning intervals")
    tolerance: float = schema_field(
        0.05, "index", 0.0, 1.0, "convergence: allowed change N/2 -> N beyond the CI")
    fixed: dict[str, Any] = Field(default_factory=dict, description="values set at every point")
    parameters: dict[str, ParameterSpec] = Field(min_length=1)

    @property
    def m(self) -> int:
        """The FAST / RBD-FAST interference parameter in use."""
        return self.harmonics or (4 if self.method == "fast" else 10)


class SensitivitySpec(_Strict):
    """A whole sensitivity spec: experiment settings, the scenario, the analysis."""

    experiment: Experiment = Field(default_factory=Experiment)
    scenarios: list[ScenarioRef] = Field(default_factory=list)
    sensitivity: Sensitivity

    @property
    def seed(self) -> int:
        """The sampling and bootstrap seed."""
        s = self.sensitivity.seed
        return self.experiment.seed if s is None else s


# --------------------------------------------------------------------------- loading


def load_sensitivity_spec(source: str | Path | Mapping[str, Any]) -> SensitivitySpec:
    """Read and validate a sensitivity spec; every problem is one line.

    Checks the schema of the file, the method's sample-size rules (N a power of
    two for Sobol, ...), every parameter path against the scenario (unknown
    paths, types, and the parameter's whole range against the schema's allowed
    range, by loading the scenario at both ends), and the KPI names (by one
    one-month probe run).

    Args:
        source: A TOML file, a name in ``experiments/specs``, or a mapping.

    Returns:
        The validated spec.

    Raises:
        ScenarioError: One line per problem.
    """
    name, data = read_spec(source, "sensitivity spec")
    if "sensitivity" not in data:
        raise ScenarioError([f"{name}: sensitivity: missing [sensitivity] table (method, n, kpis, "
                             "parameters); for a plain experiment use 'alliance batch'"])
    spec = validate(SensitivitySpec, data, {}, name)
    problems = _method_problems(spec, name)
    if spec.experiment.model == ALLIANCE:
        problems += _scenario_problems(spec, name)
    else:
        if spec.scenarios:
            problems.append(f"{name}: scenarios: a function model "
                            f"({spec.experiment.model}) takes no [[scenarios]]")
        try:
            resolve_model(spec.experiment.model)
        except ScenarioError as exc:
            problems += [f"{name}: experiment.model: {p}" for p in exc.problems]
    if not problems:
        problems += _kpi_problems(spec, name)
    if problems:
        raise ScenarioError(problems)
    return spec


def _method_problems(spec: SensitivitySpec, name: str) -> list[str]:
    s = spec.sensitivity
    n, d, where = s.n, len(s.parameters), f"{name}: sensitivity.n"
    out = []
    if s.method == "sobol":
        if n & (n - 1) or n < 4:
            lower = 1 << max(2, n.bit_length() - 1)
            out.append(f"{where}: {n} is not a power of two >= 4; Sobol sampling needs "
                       f"N = 2^k (e.g. {lower} or {lower * 2})")
    elif s.method == "morris" and n < 4:
        out.append(f"{where}: {n} trajectories; Morris needs at least 4 (2 for the N/2 check)")
    elif s.method == "fast" and n // 2 <= 4 * s.m**2:
        out.append(f"{where}: {n} is too small for eFAST with M = {s.m}: the N/2 curve needs "
                   f"more than 4 M^2 = {4 * s.m**2} samples, so n >= {8 * s.m**2 + 2}")
    elif s.method == "rbd_fast" and n // 2 <= 2 * s.m:
        out.append(f"{where}: {n} is too small for RBD-FAST with M = {s.m}: "
                   f"n >= {4 * s.m + 2}")
    elif s.method == "delta" and n // 2 < 20:
        out.append(f"{where}: {n} is too small for the delta method: n >= 40")
    elif s.method == "pawn" and n // 2 < 2 * s.slides:
        out.append(f"{where}: {n} is too small for PAWN with {s.slides} slides: "
                   f"n >= {4 * s.slides}")
    if s.method == "morris" and s.trajectory_pool and s.trajectory_pool <= n:
        out.append(f"{name}: sensitivity.trajectory_pool: {s.trajectory_pool} must exceed "
                   f"n = {n} (the n most spread trajectories are chosen from the pool)")
    overlap = sorted(set(s.fixed) & set(s.parameters))
    if overlap:
        out.append(f"{name}: sensitivity.fixed: {overlap[0]} is also an analysed parameter")
    if s.method == "sobol" and d < 2:
        out.append(f"{name}: sensitivity.parameters: Sobol needs at least two parameters")
    return out


def _scenario_problems(spec: SensitivitySpec, name: str) -> list[str]:
    if len(spec.scenarios) != 1:
        return [f"{name}: scenarios: a sensitivity study of the alliance model runs exactly one "
                f"[[scenarios]] file ({len(spec.scenarios)} given); compare policies with "
                "'alliance sweep' and 'alliance discover --compare-to'"]
    ref = spec.scenarios[0]
    s = spec.sensitivity
    try:
        base = load_scenario(ref.file, overlays=ref.overlays)
    except ScenarioError as exc:
        return [f"{name}: scenarios ({ref.file}): {p}" for p in exc.problems]
    leaves = {p.path: p for p in parameters(base)}
    out = []
    probe: dict[str, Any] = dict(s.fixed)
    for path, p in s.parameters.items():
        where = f"{name}: sensitivity.parameters.{path}"
        matches = [leaves[k] for k in leaves if fnmatch.fnmatchcase(k, path)] if "*" in path \
            else [leaves[path]] if path in leaves else []
        if not matches:
            near = difflib.get_close_matches(path, list(leaves), n=1)
            hint = f"; did you mean '{near[0]}'?" if near else ""
            out.append(f"{where}: unknown parameter path{hint} "
                       "('alliance params SCENARIO' lists them)")
            continue
        kind = type(matches[0].value)
        if kind in (bool, str, list) and not p.values:
            example = "[false, true]" if kind is bool else "[...]"
            out.append(f"{where}: a {kind.__name__} parameter needs values = {example}")
            continue
        if p.values:
            probe[path] = p.values[0]
            ends = list(p.values)
        else:
            lo, hi = p.support()
            if kind is int:
                lo, hi = round(lo), round(hi)
            probe[path] = int(round((lo + hi) / 2)) if kind is int else (lo + hi) / 2
            ends = [lo, hi]
            for leaf in matches:
                span = _allowed(leaf.allowed)
                if span and not (span[0] <= lo and hi <= span[1]):
                    unit = f" {leaf.unit}" if leaf.unit else ""
                    out.append(f"{where}: the range {lo:g} .. {hi:g} reaches outside the allowed "
                               f"range {leaf.allowed}{unit}")
                    ends = []
                    break
        for value in ends:  # each end must load: consistency checks depend on values
            if kind is int and not isinstance(value, bool):
                value = int(value)
            try:
                load_scenario(ref.file, overlays=ref.overlays, overrides={path: value})
            except ScenarioError as exc:
                out += [f"{where} = {value!r}: {line}" for line in exc.problems]
                break
    if not out:
        try:
            load_scenario(ref.file, overlays=ref.overlays, overrides=probe)
        except ScenarioError as exc:
            out += [f"{name}: sensitivity: {line}" for line in exc.problems]
    return out


def _allowed(text: str) -> tuple[float, float] | None:
    if ".." not in text:
        return None
    lo, hi = (t.strip() for t in text.split("..", 1))
    return (float(lo) if lo else -math.inf, float(hi) if hi else math.inf)


def _kpi_problems(spec: SensitivitySpec, name: str) -> list[str]:
    """Probe the model once (one month, few residents) to learn the KPI names."""
    s = spec.sensitivity
    mid = {k: _plain(p.to_values(np.array([0.5]))[0]) for k, p in s.parameters.items()}
    for k in _int_paths(spec):
        mid[k] = int(round(mid[k]))
    try:
        if spec.experiment.model == ALLIANCE:
            from sim.api import run

            ref = spec.scenarios[0]
            overrides = {**s.fixed, **mid, "world.residents.simulated_agents": 100}
            names = set(run(ref.file, overlays=ref.overlays, seed=0, months=1,
                            overrides=overrides).kpis)
        else:
            names = set(resolve_model(spec.experiment.model)({**s.fixed, **mid}, 0))
    except Exception as exc:  # the probe itself fails: the runs would too
        return [f"{name}: the model fails at the middle of the ranges: "
                f"{type(exc).__name__}: {exc}"]
    out = []
    for kpi in s.kpis:
        if kpi not in names:
            near = difflib.get_close_matches(kpi, sorted(names), n=1)
            hint = f"did you mean '{near[0]}'? " if near else ""
            out.append(f"{name}: sensitivity.kpis: {kpi!r} is not a KPI of the model; {hint}"
                       f"known: {', '.join(sorted(names)[:12])}...")
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value


# --------------------------------------------------------------------------- design


@dataclass
class Plan:
    """The sample: unit-interval matrix, the points it becomes, and how rows group."""

    method: str
    names: list[str]
    unit: np.ndarray  # rows x D, in [0, 1] (analysis space)
    points: list[dict[str, Any]]
    block: np.ndarray  # per row: the Saltelli block / trajectory / row it belongs to
    half: np.ndarray  # per row: part of the N/2 design
    n: int
    n_half: int

    def problem(self) -> dict[str, Any]:
        """The SALib problem in analysis space (every input uniform on [0, 1]).

        Returns:
            ``{"num_vars", "names", "bounds"}`` with names ``p0, p1, ...``.
        """
        d = len(self.names)
        return {"num_vars": d, "names": [f"p{i}" for i in range(d)], "bounds": [[0.0, 1.0]] * d}


def build_plan(spec: SensitivitySpec) -> Plan:
    """Sample the parameter space with the method's SALib sampler and the spec's seed.

    Sampling happens in the unit hypercube; each column then goes through its
    parameter's inverse CDF (uniform, log-uniform, triangular, normal,
    truncated normal, lognormal; unbounded tails truncated at 0.1 % / 99.9 %),
    is rounded for integer parameters or mapped to a level for categorical
    ones. The analysis uses the unit-space matrix, so the indices describe the
    composite function (rounding included).

    Args:
        spec: The validated spec.

    Returns:
        The plan.
    """
    from SALib.sample import fast_sampler, latin
    from SALib.sample import morris as morris_sampler
    from SALib.sample import sobol as sobol_sampler

    s = spec.sensitivity
    names = list(s.parameters)
    d = len(names)
    seed = spec.seed % (2**32 - 1)
    problem = {"num_vars": d, "names": [f"p{i}" for i in range(d)], "bounds": [[0.0, 1.0]] * d}
    n = s.n
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if s.method == "sobol":
            unit = sobol_sampler.sample(problem, n, calc_second_order=s.second_order,
                                        scramble=True, seed=seed)
            step = 2 * d + 2 if s.second_order else d + 2
            block = np.arange(len(unit)) // step
            half = block < n // 2
            n_half = n // 2
        elif s.method == "morris":
            unit = morris_sampler.sample(problem, s.trajectory_pool or n, num_levels=s.num_levels,
                                         optimal_trajectories=n if s.trajectory_pool else None,
                                         local_optimization=True, seed=seed)
            block = np.arange(len(unit)) // (d + 1)
            half = block < n // 2
            n_half = n // 2
        elif s.method == "fast":  # the N curve, then an N/2 curve for the convergence check
            full = fast_sampler.sample(problem, n, M=s.m, seed=seed)
            n_half = n // 2
            part = fast_sampler.sample(problem, n_half, M=s.m, seed=seed + 1)
            unit = np.vstack([full, part])
            block = np.r_[np.zeros(len(full), int), np.ones(len(part), int)]
            half = block == 1
        else:
            unit = latin.sample(problem, n, seed=seed)
            block = np.arange(n)
            half = block < n // 2
            n_half = n // 2
    unit = np.clip(unit, 0.0, 1.0)
    columns = [s.parameters[k].to_values(unit[:, j]) for j, k in enumerate(names)]
    ints = _int_paths(spec)
    fixed = {k: _plain(v) for k, v in s.fixed.items()}
    points = []
    for i in range(len(unit)):
        point = dict(fixed)
        for k, col in zip(names, columns, strict=True):
            v = _plain(col[i])
            point[k] = int(round(v)) if k in ints else v
        points.append(point)
    return Plan(s.method, names, unit, points, block, half, n, n_half)


def _int_paths(spec: SensitivitySpec) -> set[str]:
    """Analysed paths that take integers: ``integer = true`` or an int schema field."""
    s = spec.sensitivity
    out = {k for k, p in s.parameters.items() if p.integer}
    if spec.experiment.model != ALLIANCE or not spec.scenarios:
        return out
    ref = spec.scenarios[0]
    leaves = {p.path: p.value for p in parameters(load_scenario(ref.file,
                                                                overlays=ref.overlays))}
    for k, p in s.parameters.items():
        if p.values:
            continue
        if any(isinstance(v, int) and not isinstance(v, bool)
               for leaf, v in leaves.items() if fnmatch.fnmatchcase(leaf, k)):
            out.add(k)
    return out


def experiment_spec(spec: SensitivitySpec, plan: Plan) -> Spec:
    """The experiment-engine spec that runs the plan: an explicit list design.

    Args:
        spec: The sensitivity spec.
        plan: Its plan.

    Returns:
        A :class:`experiments.spec.Spec` with ``design.kind = "list"``.
    """
    exp = spec.experiment.model_dump()
    if exp["kpis"]:  # keep what the analysis needs
        exp["kpis"] = list(dict.fromkeys([*exp["kpis"], *spec.sensitivity.kpis]))
    return Spec.model_validate({
        "experiment": exp, "scenarios": [r.model_dump() for r in spec.scenarios],
        "design": {"kind": "list", "points": plan.points}}, strict=False)


# --------------------------------------------------------------------------- analysis


@dataclass
class Analysis:
    """Everything the analysis of a sensitivity folder produced."""

    folder: Path
    method: str
    indices: pd.DataFrame
    convergence: pd.DataFrame
    verdicts: pd.DataFrame
    noise: pd.DataFrame
    warnings: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)

    def top(self, kpi: str, k: int = 3) -> pd.DataFrame:
        """The k most influential parameters for a KPI by the method's main index.

        Args:
            kpi: The KPI.
            k: How many.

        Returns:
            Rows of the indices table (parameter, index, value, ci), largest first.
        """
        main = MAIN_INDEX[self.method]
        t = self.indices
        t = t[(t["kpi"] == kpi) & (t["index"] == main)]
        return t.sort_values("value", ascending=False).head(k).reset_index(drop=True)


def point_values(runs: pd.DataFrame, kpi: str, n_points: int,
                 twins: Sequence[np.ndarray] = ()) -> tuple[np.ndarray, np.ndarray, int]:
    """Per design point, the KPI of every replication (NaN where a run failed or is missing).

    Args:
        runs: The runs table of the experiment.
        kpi: The KPI column.
        n_points: Number of design points.
        twins: Groups of points with identical values (rounding can make a Saltelli
            row equal to its neighbour): they share one run id, so the run store may
            hold only one of them; each fills the others (same values and seed, same
            result).

    Returns:
        (points x replications matrix, mask of complete points, replications).
    """
    import pandas as pd

    reps = int(runs["replication"].max()) + 1 if len(runs) else 1
    mat = np.full((n_points, reps), np.nan)
    ok = runs[runs["status"] == "ok"]
    if kpi in ok.columns:
        vals = pd.to_numeric(ok[kpi], errors="coerce").to_numpy(dtype=float)
        mat[ok["point"].to_numpy(int), ok["replication"].to_numpy(int)] = vals
    for group in twins:
        block = mat[group]
        known = ~np.isnan(block)
        if known.any() and not known.all():
            first = np.where(known.any(axis=0), np.nanmax(np.where(known, block, -np.inf),
                                                          axis=0), np.nan)
            mat[group] = np.where(known, block, first[None, :])
    return mat, ~np.isnan(mat).any(axis=1), reps


def _twin_groups(spec: SensitivitySpec, plan: Plan) -> list[np.ndarray]:
    """Groups of design points with identical values (rounding, categorical levels)."""
    rebuilt = build_plan(spec)
    if rebuilt.unit.shape != plan.unit.shape or not np.allclose(rebuilt.unit, plan.unit):
        return []  # another SALib version sampled differently: no twins assumed
    groups: dict[str, list[int]] = {}
    for i, point in enumerate(rebuilt.points):
        groups.setdefault(json.dumps(point, sort_keys=True, default=str), []).append(i)
    return [np.array(g) for g in groups.values() if len(g) > 1]


def noise_stats(mat: np.ndarray) -> dict[str, float]:
    """How much of the variance of replication-averaged outputs is replication noise.

    With ``R`` replications on common random numbers, ``Y[p, r] = m + a_p + b_r + e_pr``:
    ``a_p`` is the parameter effect, ``b_r`` the world of replication r (the same at
    every point, so it cancels in every index) and ``e_pr`` the noise that differs
    between points. The two-way residual mean square estimates ``var(e)``; the
    averaged output carries ``var(e) / R`` of it, so

    ``noise_share = (var(e) / R) / var(point means)``.

    ``noise_share_independent`` uses the whole within-point variance instead
    (what the share would be if every point drew its own seeds).

    Args:
        mat: Points x replications (complete points only).

    Returns:
        replications, points, var_means, var_within, var_interaction, noise_share,
        noise_share_independent, noise_share_single_run.
    """
    p, r = mat.shape
    means = mat.mean(axis=1)
    var_means = float(np.var(means, ddof=1)) if p > 1 else float("nan")
    out = {"replications": r, "points": p, "var_means": var_means}
    if r < 2 or p < 2:
        return {**out, "var_within": np.nan, "var_interaction": np.nan, "noise_share": np.nan,
                "noise_share_independent": np.nan, "noise_share_single_run": np.nan}
    within = float(np.var(mat, axis=1, ddof=1).mean())
    resid = mat - means[:, None] - mat.mean(axis=0)[None, :] + mat.mean()
    inter = float((resid**2).sum() / ((p - 1) * (r - 1)))
    total = float(np.var(mat, ddof=1))

    def share(v: float, ref: float) -> float:
        if ref <= 0:
            return 0.0 if v <= 0 else 1.0
        return float(min(1.0, v / ref))

    return {**out, "var_within": within, "var_interaction": inter,
            "noise_share": share(inter / r, var_means),
            "noise_share_independent": share(within / r, var_means),
            "noise_share_single_run": share(within, total)}


def _keep_rows(plan: Plan, good: np.ndarray) -> np.ndarray:
    """Rows usable for the analysis: whole blocks (Saltelli, trajectories) or single rows."""
    if plan.method in ("sobol", "morris"):
        bad_blocks = np.unique(plan.block[~good])
        return ~np.isin(plan.block, bad_blocks)
    return good.copy()


def _salib(plan: Plan, spec: SensitivitySpec, unit: np.ndarray, y: np.ndarray, n: int
           ) -> list[dict[str, Any]]:
    """Run the method's SALib analysis; one row per index."""
    from SALib.analyze import delta, fast, morris, pawn, rbd_fast, sobol
    from scipy import stats

    s = spec.sensitivity
    problem = plan.problem()
    names = plan.names
    bseed = spec.seed % (2**32 - 2) + 1
    common = {"num_resamples": s.bootstrap, "conf_level": s.conf_level}
    rows: list[dict[str, Any]] = []

    def add(index: str, values: Sequence[float], cis: Sequence[float] | None) -> None:
        for j, name in enumerate(names):
            ci = np.nan if cis is None else float(cis[j])
            rows.append({"parameter": name, "parameter2": "", "index": index,
                         "value": float(values[j]), "ci": ci, "n": n})

    with warnings.catch_warnings(record=True):  # SALib's notices (delta resets the filter)
        warnings.simplefilter("ignore")
        if s.method == "sobol":
            r = sobol.analyze(problem, y, calc_second_order=s.second_order, seed=bseed, **common)
            add("S1", r["S1"], r["S1_conf"])
            add("ST", r["ST"], r["ST_conf"])
            if s.second_order:
                for j in range(len(names)):
                    for k in range(j + 1, len(names)):
                        rows.append({"parameter": names[j], "parameter2": names[k],
                                     "index": "S2", "value": float(r["S2"][j, k]),
                                     "ci": float(r["S2_conf"][j, k]), "n": n})
        elif s.method == "morris":
            r = morris.analyze(problem, unit, y, num_levels=s.num_levels, seed=bseed, **common)
            add("mu_star", np.asarray(r["mu_star"]), np.asarray(r["mu_star_conf"]))
            add("mu", np.asarray(r["mu"]), None)
            add("sigma", np.asarray(r["sigma"]), None)
        elif s.method == "fast":
            r = fast.analyze(problem, y, M=s.m, seed=bseed, **common)
            add("S1", r["S1"], r["S1_conf"])
            add("ST", r["ST"], r["ST_conf"])
        elif s.method == "rbd_fast":
            r = rbd_fast.analyze(problem, unit, y, M=s.m, seed=bseed, **common)
            add("S1", r["S1"], r["S1_conf"])
        elif s.method == "delta":
            with contextlib.redirect_stdout(io.StringIO()):  # SALib prints bin notices
                r = delta.analyze(problem, unit, y, seed=bseed, method="all", **common)
            add("delta", r["delta_raw"], r["delta_raw_conf"])
            add("delta_balanced", r["delta_balanced"], r["delta_balanced_conf"])
            add("S1", r["S1"], r["S1_conf"])
        else:
            r = pawn.analyze(problem, unit, y, S=s.slides, seed=bseed)
            rng = np.random.default_rng(bseed)
            boot = np.empty((s.bootstrap, len(names)))
            for b in range(s.bootstrap):
                idx = rng.integers(0, len(y), len(y))
                boot[b] = pawn.analyze(problem, unit[idx], y[idx], S=s.slides)["median"]
            z = stats.norm.ppf(0.5 + s.conf_level / 2)
            add("PAWN_median", r["median"], z * np.nanstd(boot, axis=0, ddof=1))
            add("PAWN_mean", r["mean"], None)
            add("PAWN_max", r["maximum"], None)
            add("PAWN_CV", r["CV"], None)
    return rows


def _analyse_kpi(plan: Plan, spec: SensitivitySpec, y_point: np.ndarray, good: np.ndarray
                 ) -> tuple[list[dict], list[dict], int, int]:
    """Indices at N and at N/2 for one KPI's point means."""
    keep = _keep_rows(plan, good)
    method = plan.method
    if method == "fast":
        full, part = keep & ~plan.half, keep & plan.half
        if not full[~plan.half].all() or not part[plan.half].all():
            raise AnalysisError("eFAST needs every run of its search curves, and some failed "
                                "(see 'alliance status'); fix the cause and run into a new "
                                "--out, or use rbd_fast, which can drop points")
        n_full, n_half = plan.n, plan.n_half
        rows = _salib(plan, spec, plan.unit[full], y_point[full], n_full)
        half = _salib(plan, spec, plan.unit[part], y_point[part], n_half)
        return rows, half, n_full, n_half
    units = {"sobol": plan.block, "morris": plan.block}.get(method, np.arange(len(keep)))
    n_full = len(np.unique(units[keep]))
    sel_half = keep & plan.half
    n_half = len(np.unique(units[sel_half]))
    if n_full < 2:
        raise AnalysisError("fewer than two complete samples remain after dropping failed runs")
    rows = _salib(plan, spec, plan.unit[keep], y_point[keep], n_full)
    half = _salib(plan, spec, plan.unit[sel_half], y_point[sel_half], n_half) \
        if n_half >= 2 else []
    return rows, half, n_full, n_half


class AnalysisError(Exception):
    """The runs cannot be analysed (e.g. an eFAST curve with failed runs)."""


def convergence_table(method: str, kpi: str, full: pd.DataFrame, half: pd.DataFrame,
                      tolerance: float) -> pd.DataFrame:
    """Indices at N/2 and N side by side, with the change and whether it settled.

    An index has *settled* when it moved by no more than its confidence
    half-width at N or ``tolerance`` (for Morris mu*: ``tolerance`` x the largest
    mu*), whichever is larger.

    Args:
        method: The method.
        kpi: The KPI.
        full: Index rows at N (parameter, index, value, ci, n).
        half: Index rows at N/2.
        tolerance: Allowed change beyond the CI.

    Returns:
        One row per (parameter, index).
    """
    kinds = CONVERGENCE_INDICES[method]
    f = full[full["index"].isin(kinds)].set_index(["parameter", "index"])
    if half.empty:
        h = f[["value", "ci", "n"]] * np.nan
    else:
        h = half[half["index"].isin(kinds)].set_index(["parameter", "index"])
    t = f[["value", "ci", "n"]].merge(h[["value", "ci", "n"]], how="left", left_index=True,
                                      right_index=True, suffixes=("", "_half"))
    t = t.reset_index()
    scale = t.groupby("index")["value"].transform(lambda v: np.nanmax(np.abs(v))) \
        if method == "morris" else 1.0
    t["change"] = t["value"] - t["value_half"]
    allowed = np.maximum(t["ci"].fillna(0.0), tolerance * scale)
    t["settled"] = (t["change"].abs() <= allowed) & t["value_half"].notna()
    t.insert(0, "kpi", kpi)
    t.insert(0, "method", method)
    return t[["method", "kpi", "parameter", "index", "n_half", "value_half", "ci_half", "n",
              "value", "ci", "change", "settled"]]


def _verdict(method: str, kpi: str, conv: pd.DataFrame) -> dict[str, Any]:
    main = MAIN_INDEX[method]
    m = conv[conv["index"] == main]
    top_full = set(m.nlargest(3, "value")["parameter"])
    top_half = set(m.nlargest(3, "value_half")["parameter"])
    norm = 1.0 if method != "morris" else float(np.nanmax(m["value"].abs()) or 1.0)
    top_ci = float(m.nlargest(3, "value")["ci"].max() / norm) if len(m) else np.nan
    settled = bool(conv["settled"].all())
    stable = top_full == top_half
    precise = not top_ci > CI_WARN  # NaN (no CI) counts as precise
    return {"method": method, "kpi": kpi, "n_half": int(m["n_half"].max()) if len(m) else 0,
            "n": int(m["n"].max()) if len(m) else 0, "settled": settled, "top3_stable": stable,
            "unsettled": int((~conv["settled"]).sum()), "indices": len(conv),
            "max_top3_ci": top_ci, "precise": precise,
            "converged": settled and stable and precise}


def analyse(folder: str | Path, *, charts: bool = True) -> Analysis:
    """Analyse a sensitivity folder: indices, convergence, noise, charts; write them.

    Replications are averaged per design point before the analysis (with common
    random numbers, replication r has the same seed at every point). A point
    with any failed run is dropped, and with it its whole Saltelli block (Sobol)
    or trajectory (Morris); eFAST cannot drop rows and stops with an error.

    Args:
        folder: The experiment folder written by :func:`run_sensitivity`.
        charts: Also draw the PNG charts.

    Returns:
        The analysis (files written are listed in ``files``).

    Raises:
        FileNotFoundError: When the folder is not a sensitivity study.
        AnalysisError: When the runs cannot be analysed.
    """
    import pandas as pd

    from experiments.store import load, write_csv, write_json, write_parquet

    folder = Path(folder)
    meta_path = folder / "sensitivity.json"
    if not meta_path.is_file():
        raise FileNotFoundError(f"{folder}: no sensitivity.json: not a sensitivity study")
    meta = json.loads(meta_path.read_text())
    spec, plan = _stored_plan(folder, meta)
    runs = load(folder)
    s = spec.sensitivity
    labels = parameter_labels(spec)
    notes: list[str] = []
    failed = runs[runs["status"] != "ok"]
    if len(failed):
        bad_points = failed["point"].nunique()
        first = str(failed["error"].iloc[0])[:160]
        notes.append(f"{len(failed)} runs failed at {bad_points} points (first: {first}); "
                     "their points are dropped")
    twins = _twin_groups(spec, plan)
    recorded_points = set(runs["point"])
    for group in twins:  # a point whose identical twin ran counts as recorded
        if recorded_points & set(group.tolist()):
            recorded_points |= set(group.tolist())
    n_points = len(plan.unit)
    if len(recorded_points) < n_points:
        notes.append(f"{n_points - len(recorded_points)} of {n_points} points "
                     "have no runs yet (an interrupted experiment: rerun to finish it)")
    idx_rows, conv_frames, verdicts, noise_rows = [], [], [], []
    for kpi in s.kpis:
        mat, good, reps = point_values(runs, kpi, n_points, twins)
        if not good.any():
            notes.append(f"{kpi}: no complete point: skipped")
            continue
        y = np.where(good, mat.mean(axis=1), np.nan)
        ns = noise_stats(mat[good])
        noise_rows.append({"kpi": kpi, **ns})
        if not np.nanstd(y[good]) > 0:
            notes.append(f"{kpi}: constant over the design ({y[good][0]:g}): no indices")
            continue
        y_filled = np.where(good, y, 0.0)
        rows, half, n_full, n_half = _analyse_kpi(plan, spec, y_filled, good)
        dropped = int((~good).sum())
        if dropped:
            notes.append(f"{kpi}: {dropped} points incomplete; analysed N = {n_full} "
                         f"of {plan.n}")
        for r in rows:
            idx_rows.append({"method": s.method, "kpi": kpi, **r})
        full_df = pd.DataFrame(rows)
        half_df = pd.DataFrame(half)
        conv = convergence_table(s.method, kpi, full_df, half_df, s.tolerance)
        conv_frames.append(conv)
        verdicts.append(_verdict(s.method, kpi, conv))
        share = ns["noise_share"]
        if share == share and share > NOISE_WARN:
            notes.append(f"{kpi}: replication noise is {share:.0%} of the variance of the "
                         f"averaged output: total indices below ~{share:.2f} may be noise; "
                         f"raise replications (now {reps})")
    cols = ["method", "kpi", "parameter", "parameter2", "index", "value", "ci", "n"]
    indices = pd.DataFrame(idx_rows, columns=cols)
    indices["conf_level"] = s.conf_level
    convergence = pd.concat(conv_frames, ignore_index=True) if conv_frames else pd.DataFrame()
    verdict_df = pd.DataFrame(verdicts)
    noise = pd.DataFrame(noise_rows)
    for v in verdicts:
        if not v["converged"]:
            why = []
            if not v["settled"]:
                why.append(f"{v['unsettled']} of {v['indices']} indices moved by more than "
                           "their CI")
            if not v["top3_stable"]:
                why.append("the top three parameters differ")
            if not v["precise"]:
                what = " of the largest mu*" if s.method == "morris" else ""
                why.append(f"the top three's CIs reach +/- {v['max_top3_ci']:.2f}{what}, "
                           f"more than {CI_WARN:g}")
            notes.append(f"{v['kpi']}: not converged between N/2 = {v['n_half']} and "
                         f"N = {v['n']} ({'; '.join(why)}): double n")
    files = [
        write_csv(indices, folder / "indices.csv", index=False),
        write_parquet(indices, folder / "indices.parquet"),
        write_csv(convergence, folder / "convergence.csv", index=False),
        write_csv(noise, folder / "noise.csv", index=False),
    ]
    result = Analysis(folder, s.method, indices, convergence, verdict_df, noise, notes, files,
                      labels)
    if charts and len(indices):
        from experiments import sa_charts

        files += sa_charts.draw_all(result, kpi_units(s.kpis))
    summary = {"method": s.method, "n": plan.n, "kpis": s.kpis,
               "replications": spec.experiment.replications, "points": n_points,
               "verdicts": verdict_df.to_dict(orient="records"),
               "noise": noise.to_dict(orient="records"), "warnings": notes,
               "top": {k: result.top(k).to_dict(orient="records") for k in s.kpis}}
    files.append(write_json(summary, folder / "analysis.json"))
    return result


def _stored_plan(folder: Path, meta: dict[str, Any]) -> tuple[SensitivitySpec, Plan]:
    """The spec and the design as they were run (JSON sorts keys: restore the order)."""
    import pandas as pd

    order = list(meta["parameters"])
    data = meta["spec"]
    params = data["sensitivity"]["parameters"]
    data["sensitivity"]["parameters"] = {k: params[k] for k in order}
    spec = SensitivitySpec.model_validate(data, strict=False)
    design = pd.read_parquet(folder / "design.parquet")
    unit = design[[f"u.{k}" for k in order]].to_numpy(dtype=float)
    plan = Plan(spec.sensitivity.method, order, unit, [], design["block"].to_numpy(),
                design["half"].to_numpy(dtype=bool), int(meta["n"]), int(meta["n_half"]))
    return spec, plan


def parameter_labels(spec: SensitivitySpec) -> dict[str, str]:
    """Short labels of the analysed parameters (the spec's ``label`` or the path's tail).

    Args:
        spec: The spec.

    Returns:
        Dotted path -> label.
    """
    out = {}
    for path, p in spec.sensitivity.parameters.items():
        if p.label:
            out[path] = p.label
            continue
        parts = path.split(".")
        tail = ".".join(parts[1:]) if len(parts) > 1 else path
        out[path] = tail if len(tail) <= 40 else ".".join(parts[-2:])
    return out


def kpi_units(kpis: Sequence[str]) -> dict[str, tuple[str, str]]:
    """Label and unit of each KPI (from :data:`sim.metrics.KPI_INFO` where known).

    Args:
        kpis: KPI names.

    Returns:
        KPI -> (label, unit).
    """
    from sim.metrics import KPI_INFO

    return {k: (KPI_INFO[k][0], KPI_INFO[k][1]) if k in KPI_INFO else (k, "") for k in kpis}


# --------------------------------------------------------------------------- running


@dataclass
class StudyResult:
    """A finished sensitivity study: the runs' summary, the analysis and the timings."""

    folder: Path
    analysis: Analysis
    runs_seconds: float
    analysis_seconds: float
    wall_seconds: float
    planned: int
    ran: int
    failed: int


def run_sensitivity(spec: SensitivitySpec, out: str | Path, *, engine: str = "serial",
                    workers: int = 2, scheduler: str | None = None,
                    progress: Callable[[str, dict], Any] | None = None,
                    spec_source: str = "", charts: bool = True) -> StudyResult:
    """Sample, run (or finish) the design on an engine, and analyse every KPI.

    Args:
        spec: The validated spec.
        out: The experiment folder (rerunning into it resumes).
        engine: ``serial``, ``processes`` or ``dask``.
        workers: Worker processes.
        scheduler: A running Dask scheduler's address.
        progress: Passed to :func:`experiments.batch.run_experiment`.
        spec_source: The spec file, recorded in the manifest.
        charts: Draw the charts.

    Returns:
        The study result.

    Raises:
        experiments.batch.ExperimentError: When the folder holds another experiment.
    """
    import pandas as pd

    from experiments.batch import run_experiment
    from experiments.store import write_json, write_parquet

    t0 = time.perf_counter()
    plan = build_plan(spec)
    exp_spec = experiment_spec(spec, plan)
    out = Path(out)
    summary = run_experiment(exp_spec, out, engine=engine, workers=workers, scheduler=scheduler,
                             resume=True, progress=progress, spec_source=spec_source)
    t1 = time.perf_counter()
    design = pd.DataFrame(plan.unit, columns=[f"u.{k}" for k in plan.names])
    design.insert(0, "block", plan.block)
    design.insert(0, "point", np.arange(len(plan.unit)))
    design["half"] = plan.half
    write_parquet(design, out / "design.parquet")
    write_json({"spec": spec.model_dump(mode="json"), "spec_file": spec_source,
                "method": spec.sensitivity.method, "n": plan.n, "n_half": plan.n_half,
                "points": len(plan.points), "parameters": plan.names,
                "labels": parameter_labels(spec)}, out / "sensitivity.json")
    analysis = analyse(out, charts=charts)
    t2 = time.perf_counter()
    timing = {"wall_seconds": round(t2 - t0, 3), "runs_seconds": round(t1 - t0, 3),
              "analysis_seconds": round(t2 - t1, 3), "engine": engine, "workers": workers,
              "runs_planned": summary.planned, "runs_this_invocation": summary.ran,
              "failed": summary.failed}
    path = out / "analysis.json"
    write_json({**json.loads(path.read_text()), "timing": timing}, path)
    return StudyResult(out, analysis, t1 - t0, t2 - t1, t2 - t0, summary.planned, summary.ran,
                       summary.failed)


def format_indices(analysis: Analysis, kpi: str, k: int = 3) -> list[str]:
    """Lines naming the k most influential parameters of a KPI with index and CI.

    Args:
        analysis: The analysis.
        kpi: The KPI.
        k: How many.

    Returns:
        Printable lines.
    """
    method = analysis.method
    main = MAIN_INDEX[method]
    top = analysis.top(kpi, k)
    t = analysis.indices
    units = kpi_units([kpi])[kpi]
    lines = []
    width = max((len(p) for p in top["parameter"]), default=0)
    for i, row in enumerate(top.itertuples(), 1):
        text = f"  {i}. {row.parameter:<{width}}  {main} {_fmt_index(row.value, units[1], method)}"
        text += f" +/- {_fmt_index(row.ci, units[1], method)}"
        if method in ("sobol", "fast"):
            s1 = t[(t["kpi"] == kpi) & (t["index"] == "S1") & (t["parameter"] == row.parameter)]
            if len(s1):
                text += f"   (S1 {s1['value'].iloc[0]:.2f} +/- {s1['ci'].iloc[0]:.2f})"
        if method == "morris":
            sg = t[(t["kpi"] == kpi) & (t["index"] == "sigma") & (t["parameter"] == row.parameter)]
            if len(sg):
                text += f"   (sigma {_fmt_index(sg['value'].iloc[0], units[1], method)})"
        lines.append(text)
    return lines


def _fmt_index(value: float, unit: str, method: str) -> str:
    if value != value:
        return "n/a"
    if method == "morris" and unit == "USD":
        return f"${value / 1e6:,.1f}M"
    if method == "morris":
        return f"{value:,.3g}"
    return f"{value:.2f}"


def report_lines(result: StudyResult, spec: SensitivitySpec) -> list[str]:
    """The closing note: top parameters per KPI, convergence, noise, wall time.

    Args:
        result: The study result.
        spec: Its spec.

    Returns:
        Printable lines.
    """
    a = result.analysis
    s = spec.sensitivity
    lines = []
    main = MAIN_INDEX[a.method]
    conf = f"{s.conf_level:.0%}"
    for kpi in s.kpis:
        if not (a.indices["kpi"] == kpi).any():
            continue
        label = kpi_units([kpi])[kpi][0]
        label = "" if label == kpi else f"{label}; "
        v = a.verdicts[a.verdicts["kpi"] == kpi].iloc[0]
        lines.append(f"Most influential for {kpi} ({label}{METHOD_NAMES[a.method]} {main} "
                     f"+/- {conf} CI, N = {v['n']}, {spec.experiment.replications} "
                     "replications averaged):")
        lines += format_indices(a, kpi)
        state = "passed" if v["converged"] else "NOT passed"
        lines.append(f"  convergence check (N/2 = {v['n_half']} vs N = {v['n']}): {state}")
        nz = a.noise[a.noise["kpi"] == kpi]
        if len(nz):
            share, indep = nz["noise_share"].iloc[0], nz["noise_share_independent"].iloc[0]
            if share == share:
                lines.append(f"  noise share: {share:.1%} of the variance of the averaged "
                             f"{kpi} (without common random numbers it would be {indep:.1%})")
            else:
                lines.append("  noise share: not estimable with one replication (for a "
                             "stochastic model the indices then hold for that one seed)")
    for note in a.warnings:
        lines.append(f"warning: {note}")
    lines.append(f"{result.planned} runs ({result.ran} run now, {result.failed} failed); wall "
                 f"time {result.wall_seconds:.1f} s (runs {result.runs_seconds:.1f} s, analysis "
                 f"and charts {result.analysis_seconds:.1f} s) -> {result.folder}")
    return lines


# --------------------------------------------------------------------------- command line


def cmd_sensitivity(args: argparse.Namespace) -> int:
    """Run a sensitivity spec on an engine, analyse it and print the closing note.

    Args:
        args: Parsed arguments (spec, engine, workers, scheduler, out, no_chart).

    Returns:
        The exit status (2 for invalid input).
    """
    from experiments.batch import ExperimentError
    from experiments.progress import progress_bar

    try:
        spec = load_sensitivity_spec(args.spec)
    except ScenarioError as exc:
        for line in exc.problems:
            print(line, file=sys.stderr)
        return EXIT_INVALID
    out = Path(args.out) if args.out else Path("results") / spec.experiment.name
    workers = "" if args.engine == "serial" else f" ({args.workers} workers)"
    progress, close = progress_bar(
        lambda info: f"{spec.experiment.name}: {METHOD_NAMES[spec.sensitivity.method]}, "
                     f"{len(spec.sensitivity.parameters)} parameters, n = {spec.sensitivity.n}: "
                     f"{info['planned']} runs planned, {info['skipped']} already stored, engine "
                     f"{args.engine}{workers} -> {out}")

    try:
        result = run_sensitivity(spec, out, engine=args.engine, workers=args.workers,
                                 scheduler=args.scheduler, progress=progress,
                                 spec_source=str(args.spec), charts=not args.no_chart)
    except (ExperimentError, AnalysisError) as exc:
        print(exc, file=sys.stderr)
        return EXIT_INVALID
    finally:
        close()
    for line in report_lines(result, spec):
        print(line)
    print(f"wrote {out}/: indices.csv/.parquet, convergence.csv, noise.csv, analysis.json, "
          "design.parquet, sensitivity.json" + ("" if args.no_chart else ", charts (*.png)"))
    if result.analysis.indices.empty:
        print(f"alliance sensitivity: no KPI could be analysed (see the warnings; "
              f"'alliance status {out}' lists failed runs)", file=sys.stderr)
        return EXIT_FAILED
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``sensitivity`` and ``discover`` on the ``alliance`` command's sub-parsers.

    Args:
        sub: The object returned by ``parser.add_subparsers()``.
    """
    p = sub.add_parser("sensitivity",
                       help="global sensitivity analysis of a spec (SALib: sobol, morris, fast, "
                            "rbd_fast, delta, pawn)")
    p.add_argument("spec", help="sensitivity spec (TOML) or a name in experiments/specs")
    p.add_argument("--engine", choices=("serial", "processes", "dask"), default="processes")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 2,
                   help="worker processes (default: CPU count)")
    p.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT",
                   help="join a running Dask scheduler instead of a LocalCluster")
    p.add_argument("--out", default=None, help="experiment folder (default results/NAME)")
    p.add_argument("--resume", action="store_true",
                   help="finish an interrupted study (rerunning into the same folder always "
                        "resumes: stored runs are skipped, the analysis is redone)")
    p.add_argument("--no-chart", action="store_true", help="skip the PNG charts")
    p.set_defaults(func=cmd_sensitivity)
    _add_discover(sub)


def cmd_discover(args: argparse.Namespace) -> int:
    """Scenario discovery (PRIM) on an experiment folder; see :mod:`experiments.discovery`.

    Args:
        args: Parsed arguments.

    Returns:
        The exit status (2 for invalid input).
    """
    from experiments.discovery import cmd_discover as run

    return run(args)


def _add_discover(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("discover", help="scenario discovery (PRIM): where in parameter space "
                                        "a design fails a KPI threshold")
    p.add_argument("folder", help="experiment folder (alliance sweep / sensitivity output)")
    p.add_argument("--kpi", required=True, help="KPI column, e.g. fiscal_npv_usd")
    p.add_argument("--threshold", type=float, default=None,
                   help="failure threshold (with --compare-to: on the difference; default 0)")
    side = p.add_mutually_exclusive_group()
    side.add_argument("--below", dest="direction", action="store_const", const="below",
                      help="failure = KPI below the threshold (default)")
    side.add_argument("--above", dest="direction", action="store_const", const="above",
                      help="failure = KPI above the threshold (e.g. debt-service ratio)")
    side.add_argument("--direction", choices=("below", "above"))
    p.set_defaults(direction="below")
    p.add_argument("--scenario", default=None, help="the judged scenario (if several)")
    p.add_argument("--compare-to", default=None, metavar="SCENARIO",
                   help="failure = worse than this scenario on the same world "
                        "(same design point and replication)")
    p.add_argument("--peel-alpha", type=float, default=0.05,
                   help="share of the box removed per peel (default 0.05)")
    p.add_argument("--min-mass", type=float, default=0.05,
                   help="stop peeling below this share of the runs (default 0.05)")
    p.add_argument("--min-density", type=float, default=None,
                   help="choose the highest-coverage box with this density (default: knee)")
    p.add_argument("--no-paste", action="store_true", help="do not paste the chosen box")
    p.add_argument("--keep-weak", action="store_true",
                   help="keep limits whose quasi-p-value is >= 0.05 (default: drop them)")
    p.add_argument("--out", default=None, help="where to write (default: the folder)")
    p.add_argument("--no-chart", action="store_true", help="skip the PNG")
    p.set_defaults(func=cmd_discover)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``sensitivity`` / ``discover`` without the ``alliance`` command (for testing).

    Args:
        argv: Arguments, e.g. ``["sensitivity", "experiments/specs/ishigami_sobol.toml"]``.

    Returns:
        The exit status.
    """
    parser = argparse.ArgumentParser(prog="python -m experiments.sensitivity")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_commands(sub)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ScenarioError as exc:
        for line in exc.problems:
            print(line, file=sys.stderr)
        return EXIT_INVALID


if __name__ == "__main__":
    sys.exit(main())
