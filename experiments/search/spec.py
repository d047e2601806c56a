"""The search spec: levers, objectives with their robustness metric, worlds, budget.

A search spec is a TOML file (or a mapping) validated like every other spec: one
line per problem naming the file, the dotted path, the bad value and what is
allowed. :func:`load_search_spec` also checks it against the model without running
it: every lever and world parameter loads at each of its values, a lever that does
not apply to the base scenario anywhere (``active`` false in ``alliance params``) is
refused, and every objective's KPI must be one the model returns, with a direction
in the KPI catalogue. See ``docs/search.md`` for the fields and an example.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from experiments.engine.model import ScenarioModel
from experiments.engine.spec import inactive_parameters, kpi_problems, read_spec
from sim.config import ScenarioError, validate
from sim.core.fields import Strict, field

ROBUSTNESS = ("mean", "percentile", "regret", "satisficing")
ALGORITHMS = ("nsga2", "nsga3")
_CONDITION = re.compile(r"^\s*(>=|<=|>|<)\s*([-+]?[0-9.eE+-]+)\s*$")


class Search(Strict):
    """What to search, from where, with how much."""

    name: str = "search"
    description: str = ""
    scenario: str = Field("alliance", description="base scenario: a candidate is it + levers")
    seed: int = field(1, "", 0, 2**63 - 1, "seeds the optimiser and the worlds")
    algorithm: Literal["nsga2", "nsga3"] = "nsga2"
    population: int = field(20, "designs", 4, 10_000, "designs per generation")
    evaluations: int = field(200, "designs", 4, 10_000_000, "budget: designs evaluated")
    months: int | None = field(None, "months", 1, 1200, "horizon (default: the scenario's)")
    fixed: dict[str, Any] = Field(
        default_factory=dict, description="dotted path -> value set in every run (resolution)"
    )
    compare: list[str] = Field(
        default_factory=lambda: ["traditional", "alliance"],
        description="shipped designs: the regret reference, marked on the charts",
    )
    candidates: int = field(5, "designs", 0, 100, "candidate scenario files to write")


class Lever(Strict):
    """One lever: a range (real or integer) or a list of choices."""

    range: list[float] = Field(default_factory=list, description="[low, high]")
    integer: bool = False
    values: list[Any] = Field(default_factory=list, description="choices")

    @model_validator(mode="after")
    def _one_kind(self) -> Lever:
        if bool(self.range) == bool(self.values):
            raise ValueError("give range = [low, high] or values = [...], not both")
        if self.range:
            if len(self.range) != 2:
                raise ValueError("range must be [low, high]")
            lo, hi = self.range
            if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
                raise ValueError(f"range [{lo}, {hi}] must have finite low < high")
            if self.integer and (lo != int(lo) or hi != int(hi)):
                raise ValueError(f"integer range [{lo}, {hi}] must have whole ends")
        elif len(self.values) < 2:
            raise ValueError("values must list at least two choices")
        elif self.integer:
            raise ValueError("integer is for a range, not values")
        return self

    def levels(self) -> list[Any]:
        """Values to check the lever at: its choices, or its range's middle and ends."""
        if self.values:
            return list(self.values)
        lo, hi = self.range
        out = [(lo + hi) / 2, lo, hi]
        return [int(round(v)) for v in out] if self.integer else out


class Objective(Strict):
    """A KPI, the robustness metric across worlds, and its epsilon."""

    kpi: str
    robustness: Literal["mean", "percentile", "regret", "satisficing"] = "mean"
    percentile: float | None = field(
        None, "%", 0.0, 50.0, "worst share of worlds cut off (percentile 10, regret 0 = max)"
    )
    condition: str = Field("", description="satisficing: '>= 0', '< 0.2', ...")
    epsilon: float | None = field(None, "", 0.0, None, "epsilon box size, in the metric's unit")

    @model_validator(mode="after")
    def _consistent(self) -> Objective:
        if self.robustness == "satisficing":
            if not _CONDITION.match(self.condition):
                raise ValueError(
                    f"condition {self.condition!r}: satisficing needs a condition such as "
                    "'>= 0' (>=, >, <=, < and a number)"
                )
        elif self.condition:
            raise ValueError(
                f"condition is for robustness = 'satisficing', not {self.robustness!r}"
            )
        if self.percentile is not None and self.robustness not in ("percentile", "regret"):
            raise ValueError(f"percentile is for 'percentile' or 'regret', not {self.robustness!r}")
        return self

    @property
    def worst_percent(self) -> float:
        """The worst share of worlds cut off, in % (0: the worst world)."""
        if self.percentile is not None:
            return self.percentile
        return 10.0 if self.robustness == "percentile" else 0.0

    @property
    def threshold(self) -> tuple[str, float]:
        """Satisficing: (operator, number)."""
        m = _CONDITION.match(self.condition)
        assert m is not None
        return m.group(1), float(m.group(2))

    @property
    def name(self) -> str:
        """The objective's column name: ``mean:fiscal_npv_usd``, ``p10:welfare_usd``, ..."""
        if self.robustness == "mean":
            return f"mean:{self.kpi}"
        if self.robustness == "percentile":
            return f"p{self.worst_percent:g}:{self.kpi}"
        if self.robustness == "regret":
            stat = "max" if self.worst_percent == 0 else f"p{100 - self.worst_percent:g}"
            return f"regret_{stat}:{self.kpi}"
        op, x = self.threshold
        return f"share:{self.kpi}{op}{x:g}"


class WorldParameter(Strict):
    """An uncertain world parameter: a range sampled by Latin hypercube."""

    range: list[float]
    integer: bool = False

    @model_validator(mode="after")
    def _range(self) -> WorldParameter:
        if len(self.range) != 2 or not self.range[0] < self.range[1]:
            raise ValueError(f"range {self.range} must be [low, high] with low < high")
        return self


class Worlds(Strict):
    """The worlds every design runs in: world-parameter samples x seeds."""

    seeds: int = field(3, "seeds", 1, 10_000, "random worlds per sample")
    samples: int = field(1, "points", 1, 100_000, "Latin hypercube points of the parameters")
    parameters: dict[str, WorldParameter] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _samples(self) -> Worlds:
        if self.samples > 1 and not self.parameters:
            raise ValueError(f"samples = {self.samples} needs [worlds.parameters] to sample")
        return self

    @property
    def count(self) -> int:
        """Worlds in all: samples x seeds."""
        return self.samples * self.seeds


class Reevaluation(Strict):
    """The fresh worlds the front is run on again (0 seeds: no re-evaluation)."""

    seeds: int = field(3, "seeds", 0, 10_000, "random worlds per sample")
    samples: int = field(1, "points", 1, 100_000, "Latin hypercube points")
    designs: int = field(20, "designs", 1, 10_000, "front designs re-run (shortlist order)")


class SearchSpec(Strict):
    """A whole search spec."""

    search: Search = Field(default_factory=Search)
    levers: dict[str, Lever] = Field(default_factory=dict)
    objectives: list[Objective] = Field(default_factory=list)
    worlds: Worlds = Field(default_factory=Worlds)
    reevaluation: Reevaluation = Field(default_factory=Reevaluation)

    @model_validator(mode="after")
    def _enough(self) -> SearchSpec:
        if not self.levers:
            raise ValueError('levers: name at least one [levers."policy.path"]')
        if len(self.objectives) < 2:
            raise ValueError("objectives: name at least two [[objectives]]")
        names = [o.name for o in self.objectives]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"objectives: {', '.join(twice)} named twice")
        if self.search.evaluations < self.search.population:
            raise ValueError(
                f"search.evaluations = {self.search.evaluations} is less than one generation "
                f"(population {self.search.population})"
            )
        if self.reevaluation.samples > 1 and not self.worlds.parameters:
            raise ValueError("reevaluation.samples > 1 needs [worlds.parameters] to sample")
        return self

    @property
    def generations(self) -> int:
        """Generations the budget allows (the first is the initial population)."""
        return self.search.evaluations // self.search.population


def load_search_spec(source: str | Path | Mapping[str, Any]) -> SearchSpec:
    """Read and validate a search spec, checking levers, worlds and KPIs against the model.

    Nothing runs: the base scenario and the shipped designs load, every lever and world
    parameter is a known path with values in its range (each at its choices, or its
    range's middle and ends), levers are ``policy.*`` and apply to the base scenario
    at some value, world parameters are ``world.*``, and every objective is a KPI the
    model returns with a better direction in the KPI catalogue.

    Args:
        source: A TOML file, a name in ``experiments/specs``, or a mapping.

    Returns:
        The validated spec.

    Raises:
        ScenarioError: One line per problem.
    """
    name, data = read_spec(source, "search spec")
    spec = validate(SearchSpec, data, {}, name)
    s = spec.search
    model = ScenarioModel(s.scenario, (), s.months)
    problems = model.check({})
    for design in s.compare:
        problems += ScenarioModel(design).check({})
    if problems:
        raise ScenarioError([f"{name}: search: {p}" for p in problems])
    for path in spec.levers:
        if not path.startswith("policy."):
            problems.append(
                f"{name}: levers.{path}: a lever is a policy parameter ('policy.*'); "
                "put world parameters under [worlds.parameters]"
            )
    for path in spec.worlds.parameters:
        if not path.startswith("world."):
            problems.append(f"{name}: worlds.parameters.{path}: a world parameter is 'world.*'")
    for path in set(s.fixed) & (set(spec.levers) | set(spec.worlds.parameters)):
        problems.append(f"{name}: search.fixed.{path}: is also a lever or world parameter")
    if problems:
        raise ScenarioError(problems)
    levels = {k: v.levels() for k, v in spec.levers.items()}
    levels.update(
        {
            k: [
                (int(round(x)) if w.integer else x)
                for x in ((w.range[0] + w.range[1]) / 2, *w.range)
            ]
            for k, w in spec.worlds.parameters.items()
        }
    )
    base = {**s.fixed, **{k: v[0] for k, v in levels.items()}}
    found = model.check(base)
    if not found:
        for path, values in levels.items():
            for value in values[1:]:
                found += [p for p in model.check({**base, path: value}) if p not in found]
    if found:
        raise ScenarioError([f"{name}: {p}" for p in found])
    problems = [
        f"{name}: {'levers' if path in spec.levers else 'worlds.parameters'}.{path}: {why}"
        for path, why in inactive_parameters(model, levels, s.fixed, s.scenario).items()
    ]
    kpis = [o.kpi for o in spec.objectives]
    problems += kpi_problems(kpis, set(model.outputs), f"{name}: objectives")
    if not problems:
        from sim.model.outputs import kpi

        for i, o in enumerate(spec.objectives):
            if kpi(o.kpi).direction == 0:
                problems.append(
                    f"{name}: objectives[{i}].kpi: {o.kpi!r} has no better direction in the "
                    "KPI catalogue (sim.kpi_info()): choose a KPI that is better higher or lower"
                )
    if problems:
        raise ScenarioError(problems)
    return spec
