"""The sensitivity spec: its schema (pydantic) and its validation against the model.

A sensitivity spec is an experiment spec plus a ``[sensitivity]`` table (method,
sample size, KPIs, analysed and fixed parameters); see
:mod:`experiments.sensitivity` for an example and ``docs/sensitivity.md`` for
every field. :func:`load_sensitivity_spec` reads and validates one, without
running the model: the file's schema, the method's sample-size rules, every
parameter path and range against what the model declares (the built-in: its
scenario's parameters, loaded at both ends of every range; a parameter that does
not apply to the scenario anywhere in its range is refused), and the KPI names
against the model's declared outputs. Every problem is one line of a
:class:`sim.config.ScenarioError`.
"""

from __future__ import annotations

import difflib
import fnmatch
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator

from experiments.engine.model import declared_outputs
from experiments.engine.spec import (
    Binding,
    Experiment,
    ScenarioRef,
    bind_models,
    inactive_parameters,
    kpi_problems,
    read_spec,
)
from sim.config import ScenarioError, validate
from sim.core.fields import Strict
from sim.core.fields import field as schema_field

METHODS = ("sobol", "morris", "fast", "rbd_fast", "delta", "pawn", "emulator")
METHOD_NAMES = {
    "sobol": "Sobol",
    "morris": "Morris elementary effects",
    "fast": "eFAST",
    "rbd_fast": "RBD-FAST",
    "delta": "delta moment-independent",
    "pawn": "PAWN",
    "emulator": "emulator",
}
#: Unbounded distributions are truncated at these quantiles (so every value is finite).
TAIL = 0.001


class ParameterSpec(Strict):
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


class Sensitivity(Strict):
    """The ``[sensitivity]`` table: method, sample size, KPIs, parameters."""

    method: Literal["sobol", "morris", "fast", "rbd_fast", "delta", "pawn", "emulator"] = "sobol"
    n: int = schema_field(
        64,
        "samples",
        2,
        10_000_000,
        "sobol: base samples N (a power of two); morris: trajectories; fast: samples per "
        "curve; rbd_fast, delta, pawn: Latin hypercube samples; emulator: Sobol' sequence "
        "points (a power of two)",
    )
    second_order: bool = Field(
        True, description="sobol: S2 (runs N(2D+2) instead of N(D+2)); emulator: S2 reported"
    )
    kpis: list[str] = Field(min_length=1)
    bootstrap: int = schema_field(100, "resamples", 10, 100_000, "bootstrap resamples for CIs")
    conf_level: float = schema_field(0.95, "probability", 0.5, 0.999)
    seed: int | None = schema_field(None, "", 0, 2**63 - 1, "sampling seed (default: experiment's)")
    num_levels: int = schema_field(4, "levels", 2, 100, "morris: grid levels")
    trajectory_pool: int = schema_field(
        0, "trajectories", 0, 100_000, "morris: choose the n most spread of this many (0: off)"
    )
    harmonics: int = schema_field(0, "", 0, 100, "fast M (default 4), rbd_fast M (default 10)")
    slides: int = schema_field(10, "slides", 2, 1000, "pawn: conditioning intervals")
    tolerance: float = schema_field(
        0.05, "index", 0.0, 1.0, "convergence: allowed change N/2 -> N beyond the CI"
    )
    q2_threshold: float = schema_field(
        0.9, "", 0.0, 1.0, "emulator: indices withheld for a KPI whose validation Q2 is below"
    )
    emulator: Literal["auto", "pce", "gp"] = Field(
        "auto",
        description="emulator: pce (sparse polynomial chaos), gp (Gaussian process) or auto "
        "(per KPI, the one whose fit on the first half predicts the second half better; pce "
        "alone above 4,096 points)",
    )
    max_degree: int = schema_field(12, "degree", 1, 20, "emulator: highest polynomial degree")
    q_norm: float = schema_field(
        0.75, "", 0.1, 1.0, "emulator: hyperbolic truncation (1: every term of total degree p)"
    )
    max_interaction: int = schema_field(
        3, "inputs", 1, 10, "emulator: at most this many parameters in one term"
    )
    fixed: dict[str, Any] = Field(default_factory=dict, description="values set at every point")
    parameters: dict[str, ParameterSpec] = Field(min_length=1)

    @property
    def m(self) -> int:
        """The FAST / RBD-FAST interference parameter in use."""
        return self.harmonics or (4 if self.method == "fast" else 10)


class SensitivitySpec(Strict):
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
    """Read and validate a sensitivity spec without running the model; every problem is one line.

    Checks the schema of the file, the method's sample-size rules (N a power of
    two for Sobol, ...), that the spec names exactly one model, every parameter
    path against the parameters the model declares (unknown paths, types, and
    the parameter's whole range against the allowed range; the built-in model
    also loads its scenario at both ends of every range), and the KPI names
    against the model's declared ``outputs``. A model that declares no outputs
    cannot have its KPIs checked here: :func:`kpi_check_note` says so, and the
    analysis checks them against what the runs returned.

    Args:
        source: A TOML file, a name in ``experiments/specs``, or a mapping.

    Returns:
        The validated spec.

    Raises:
        ScenarioError: One line per problem.
    """
    name, data = read_spec(source, "sensitivity spec")
    if "sensitivity" not in data:
        raise ScenarioError(
            [
                f"{name}: sensitivity: missing [sensitivity] table (method, n, kpis, "
                "parameters); for a plain experiment use 'alliance batch'"
            ]
        )
    spec = validate(SensitivitySpec, data, {}, name)
    problems = _method_problems(spec, name)
    try:
        bindings = bind_models(spec.experiment, spec.scenarios, name)
    except ScenarioError as exc:
        raise ScenarioError(problems + list(exc.problems)) from None
    if len(bindings) != 1:
        problems.append(
            f"{name}: scenarios: a sensitivity study runs one model, so exactly one "
            f"[[scenarios]] file ({len(bindings)} given); compare policies with "
            "'alliance sweep' and 'alliance discover --compare-to'"
        )
    else:
        problems += _parameter_problems(spec, name, bindings[0])
    if not problems:
        outputs = declared_outputs(bindings[0].model)
        if outputs is not None:  # else: checked after the runs (analysis.py), see kpi_check_note
            problems += kpi_problems(
                spec.sensitivity.kpis, set(outputs), f"{name}: sensitivity.kpis"
            )
    if problems:
        raise ScenarioError(problems)
    return spec


def kpi_check_note(spec: SensitivitySpec) -> str | None:
    """Why the spec's KPIs could not be checked before the runs, or None when they were.

    Args:
        spec: A validated spec.

    Returns:
        A one-line note for a model without declared ``outputs``, else None.
    """
    model = bind_models(spec.experiment, spec.scenarios)[0].model
    if declared_outputs(model) is not None:
        return None
    return (
        f"note: {spec.experiment.model} declares no outputs, so the KPIs "
        f"{', '.join(spec.sensitivity.kpis)} are checked after the runs, by the analysis "
        "(give the function an `outputs` attribute, e.g. f.outputs = ('y',), to check "
        "them before)"
    )


def _power_of_two(n: int, least: int, where: str, why: str) -> list[str]:
    """The line for an ``n`` that is not a power of two at least ``least`` (none if it is)."""
    if not (n & (n - 1) or n < least):
        return []
    lower = 1 << max(least.bit_length() - 1, n.bit_length() - 1)
    return [f"{where}: {n} is not a power of two >= {least}; {why} (e.g. {lower} or {lower * 2})"]


def _method_problems(spec: SensitivitySpec, name: str) -> list[str]:
    s = spec.sensitivity
    n, d, where = s.n, len(s.parameters), f"{name}: sensitivity.n"
    out = []
    if s.method == "emulator":
        out += _power_of_two(n, 16, where, "the emulator's Sobol' sequence needs n = 2^k points")
        out += [
            f"{name}: sensitivity.parameters.{path}: categorical (values = [...]); the "
            "emulator needs a numeric range: give bounds, fix it in "
            "[sensitivity.fixed], or use method = 'sobol'"
            for path, p in s.parameters.items()
            if p.values
        ]
    elif s.method == "sobol":
        out += _power_of_two(n, 4, where, "Sobol sampling needs N = 2^k")
    elif s.method == "morris" and n < 4:
        out.append(f"{where}: {n} trajectories; Morris needs at least 4 (2 for the N/2 check)")
    elif s.method == "fast" and n // 2 <= 4 * s.m**2:
        out.append(
            f"{where}: {n} is too small for eFAST with M = {s.m}: the N/2 curve needs "
            f"more than 4 M^2 = {4 * s.m**2} samples, so n >= {8 * s.m**2 + 2}"
        )
    elif s.method == "rbd_fast" and n // 2 <= 2 * s.m:
        out.append(f"{where}: {n} is too small for RBD-FAST with M = {s.m}: n >= {4 * s.m + 2}")
    elif s.method == "delta" and n // 2 < 20:
        out.append(f"{where}: {n} is too small for the delta method: n >= 40")
    elif s.method == "pawn" and n // 2 < 2 * s.slides:
        out.append(
            f"{where}: {n} is too small for PAWN with {s.slides} slides: n >= {4 * s.slides}"
        )
    if s.method == "morris" and s.trajectory_pool and s.trajectory_pool <= n:
        out.append(
            f"{name}: sensitivity.trajectory_pool: {s.trajectory_pool} must exceed "
            f"n = {n} (the n most spread trajectories are chosen from the pool)"
        )
    overlap = sorted(set(s.fixed) & set(s.parameters))
    if overlap:
        out.append(f"{name}: sensitivity.fixed: {overlap[0]} is also an analysed parameter")
    if s.method == "sobol" and d < 2:
        out.append(f"{name}: sensitivity.parameters: Sobol needs at least two parameters")
    return out


def _parameter_problems(spec: SensitivitySpec, name: str, binding: Binding) -> list[str]:
    """Paths, types and ranges against the model's parameters; each end and the middle loaded.

    Only what the model declares is checked: ``parameters()`` for paths, types and
    allowed ranges, ``check(params)`` for loading a point. A plain function declares
    neither: its parameters are its own (a bad one shows in the runs).
    """
    model = binding.model
    check = getattr(model, "check", None)
    declared = getattr(model, "parameters", None)
    if check is None and declared is None:
        return []
    if check is not None and (base := check({})):
        return [f"{name}: {binding.where}: {p}" for p in base]
    leaves = {p.path: p for p in declared()} if declared is not None else {}
    s = spec.sensitivity
    out = []
    probe: dict[str, Any] = dict(s.fixed)
    levels: dict[str, list[Any]] = {}
    for path, p in s.parameters.items():
        where = f"{name}: sensitivity.parameters.{path}"
        problems, ends, middle = _range_problems(path, p, leaves, where, declared is not None)
        if problems:
            out += problems
            continue
        probe[path] = middle
        levels[path] = [middle] + [v for v in ends if v != middle]
        for value in ends if check is not None else ():  # consistency checks depend on values
            lines = check({path: value})
            if lines:
                out += [f"{where} = {value!r}: {line}" for line in lines]
                break
    if not out and check is not None:
        out += [f"{name}: sensitivity: {line}" for line in check(probe)]
    if not out:  # a parameter that applies nowhere in the design changes no run
        out += [
            f"{name}: sensitivity.parameters.{path}: {why}"
            for path, why in inactive_parameters(model, levels, s.fixed, binding.label).items()
        ]
    return out


def _range_problems(
    path: str, p: ParameterSpec, leaves: Mapping[str, Any], where: str, known: bool
) -> tuple[list[str], list[Any], Any]:
    """One parameter against the declared leaves: (problems, values to load, middle value)."""
    matches = (
        [leaves[k] for k in leaves if fnmatch.fnmatchcase(k, path)]
        if "*" in path
        else [leaves[path]]
        if path in leaves
        else []
    )
    if known and not matches:
        near = difflib.get_close_matches(path, list(leaves), n=1)
        hint = f"; did you mean '{near[0]}'?" if near else ""
        return (
            [f"{where}: unknown parameter path{hint} ('alliance params SCENARIO' lists them)"],
            [],
            None,
        )
    kind = type(matches[0].value) if matches else None
    if kind in (bool, str, list) and not p.values:
        example = "[false, true]" if kind is bool else "[...]"
        return [f"{where}: a {kind.__name__} parameter needs values = {example}"], [], None

    def typed(value: Any) -> Any:
        return int(value) if kind is int and not isinstance(value, bool) else value

    if p.values:
        return [], [typed(v) for v in p.values], p.values[0]
    lo, hi = p.support()
    if kind is int:
        lo, hi = round(lo), round(hi)
    middle = int(round((lo + hi) / 2)) if kind is int else (lo + hi) / 2
    for leaf in matches:
        span = _allowed(leaf.allowed)
        if span and not (span[0] <= lo and hi <= span[1]):
            unit = f" {leaf.unit}" if leaf.unit else ""
            return (
                [
                    f"{where}: the range {lo:g} .. {hi:g} reaches outside the allowed "
                    f"range {leaf.allowed}{unit}"
                ],
                [],
                middle,
            )
    return [], [typed(lo), typed(hi)], middle


def _allowed(text: str) -> tuple[float, float] | None:
    if ".." not in text:
        return None
    lo, hi = (t.strip() for t in text.split("..", 1))
    return (float(lo) if lo else -math.inf, float(hi) if hi else math.inf)


def plain_value(value: Any) -> Any:
    """A numpy scalar as the Python value (other values as they are).

    Args:
        value: A value from a sample.

    Returns:
        The plain value.
    """
    if isinstance(value, np.generic):
        return value.item()
    return value


def integer_paths(spec: SensitivitySpec) -> set[str]:
    """Analysed paths that take integers: ``integer = true``, or an int parameter of the model.

    Args:
        spec: A validated spec.

    Returns:
        The paths (patterns as written in the spec).
    """
    s = spec.sensitivity
    out = {k for k, p in s.parameters.items() if p.integer}
    declared = getattr(bind_models(spec.experiment, spec.scenarios)[0].model, "parameters", None)
    if declared is None:
        return out
    leaves = {p.path: p.value for p in declared()}
    for k, p in s.parameters.items():
        if p.values:
            continue
        if any(
            isinstance(v, int) and not isinstance(v, bool)
            for leaf, v in leaves.items()
            if fnmatch.fnmatchcase(leaf, k)
        ):
            out.add(k)
    return out
