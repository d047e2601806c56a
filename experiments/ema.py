"""The EMA Workbench on the alliance model: uncertainties, levers, outcomes and seeds.

:func:`ema_model` builds an EMA Workbench ``ReplicatorModel`` from scenario files:

- **uncertainties** are world parameters (``world.*``) by dotted path, with a
  range ``(low, high)`` or levels; integer where the schema's field is one;
- **levers** are policy parameters (``policy.*``), the same way, plus the
  **design**: a categorical lever ``design`` whose levels are the scenario files
  compared (``traditional``, ``alliance``, ...), when more than one is given;
- **outcomes** are KPIs of the catalogue (:mod:`sim.model.outputs`), each a
  ``ScalarOutcome`` to MAXIMIZE or MINIMIZE by its direction (INFO without one);
- **seeds** are common random numbers: every experiment, whatever its design
  and lever values, runs the same replications with the same seeds,
  :func:`experiments.engine.design.replication_seed` of the base seed (the
  engine's seeds, so run ``r`` here is run ``r`` of ``alliance run`` with that
  experiment seed). An outcome is the mean over the replications; with
  ``per_replication=True`` each KPI also has an ``ArrayOutcome``
  ``<kpi>.replications`` holding one value per replication.

Every range, level and path is checked when the model is built, without a run:
a path that is not a world (or policy) parameter, does not apply to one of the
designs, or whose range leaves the schema's bounds is refused with one line
per problem naming the path. Same seed, same numbers: the model function is a
picklable module-level object, so ``SequentialEvaluator`` and
``MultiprocessingEvaluator`` give the same outcomes. ::

    from ema_workbench import perform_experiments
    from experiments.ema import design_policies, ema_model, sample_scenarios

    model = ema_model(["traditional", "alliance"],
                      uncertainties={"world.rates.shift_bp": (-100, 300)}, months=60)
    experiments, outcomes = perform_experiments(
        model, sample_scenarios(model, 16, seed=1), design_policies(model))

The EMA Workbench is an optional extra (``pip install 'alliance-sim[interop]'``);
this module imports it only when a function here is called.
"""

from __future__ import annotations

import difflib
import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from experiments.engine.design import replication_seed
from experiments.engine.model import ScenarioModel
from experiments.engine.spec import inactive_parameters, kpi_problems, read_spec
from sim.config import ScenarioError
from sim.model.outputs import SCORECARD, kpi

if TYPE_CHECKING:
    import pandas as pd

INSTALL = "pip install 'alliance-sim[interop]'"
#: Name of the categorical lever that picks the scenario file (the design).
DESIGN = "design"
#: Name of the replication's seed in the model function's arguments.
SEED = "seed"

Range = tuple[float, float]
#: What a parameter may be given as: a range ``(low, high)``, or levels (a set, or a
#: sequence of strings or booleans).
ParameterValues = Sequence[Any] | set | frozenset


def ema() -> Any:
    """The ``ema_workbench`` package, or one clear ImportError saying how to install it.

    Returns:
        The imported package.

    Raises:
        ImportError: When the EMA Workbench is not installed.
    """
    try:
        with warnings.catch_warnings():  # EMA warns at import about an evaluator we never use
            warnings.filterwarnings("ignore", message="ipyparallel not installed")
            import ema_workbench
    except ImportError as exc:
        raise ImportError(
            f"experiments.ema needs the EMA Workbench (ema-workbench), which is not "
            f"installed: {INSTALL}"
        ) from exc
    return ema_workbench


@dataclass(frozen=True)
class Runner:
    """The function EMA calls: one run of a design with dotted-path values, by keyword.

    EMA passes every uncertainty, lever and constant by name, plus the
    replication's ``seed``; the ``design`` keyword names the scenario file (the
    first of ``designs`` when there is no design lever). Module-level and frozen,
    so it pickles into worker processes.
    """

    designs: tuple[str, ...]
    overlays: tuple[str, ...]
    months: int | None
    outputs: tuple[str, ...]

    def __call__(self, seed: int, design: str | None = None, **params: Any) -> dict[str, float]:
        """Run the design once.

        Args:
            seed: The replication's seed (the same in every experiment).
            design: The scenario file (default: the first design).
            **params: Dotted path -> value (uncertainties, levers, constants).

        Returns:
            The outcomes' KPIs, as floats.
        """
        model = ScenarioModel(design or self.designs[0], self.overlays, self.months)
        kpis = model(params, seed).kpis
        return {name: float(kpis[name]) for name in self.outputs}


def ema_model(
    designs: str | Sequence[str] = "alliance",
    *,
    uncertainties: Mapping[str, ParameterValues] | str | None = None,
    levers: Mapping[str, ParameterValues] | str | None = None,
    outcomes: Sequence[str] | str = "scorecard",
    replications: int = 3,
    seed: int = 0,
    months: int | None = None,
    overlays: Iterable[str] = (),
    constants: Mapping[str, Any] | None = None,
    per_replication: bool = False,
    name: str = "alliance",
) -> Any:
    """An EMA Workbench model of scenario files: uncertainties, levers, outcomes, seeds.

    Args:
        designs: One scenario file or library name, or several: then the design is a
            categorical lever ``design`` over them (the same worlds in every design).
        uncertainties: World parameters, ``{"world.rates.shift_bp": (-100, 300)}``: a
            ``(low, high)`` range (integer when the schema's field is), or levels (a
            set, or a list of strings or booleans). A string names a spec in
            ``experiments/specs`` whose ``world.*`` parameters (and ranges) to take.
        levers: Policy parameters (``policy.*``), the same way.
        outcomes: KPI names, ``"scorecard"`` (:data:`sim.model.outputs.SCORECARD`) or
            ``"all"`` (every KPI all designs return).
        replications: Runs per experiment; outcomes are their mean.
        seed: Base seed: replication ``r`` runs with ``replication_seed(seed, r)`` in
            every experiment (common random numbers).
        months: Horizon (default: each scenario's).
        overlays: Stress overlays applied to every design.
        constants: Dotted-path values set in every run (e.g. fewer simulated residents).
        per_replication: Also keep each KPI's value in every replication, as an
            ``ArrayOutcome`` named ``<kpi>.replications`` (shape: experiments x
            replications).
        name: The model's name (letters and digits: EMA's rule).

    Returns:
        An ``ema_workbench.ReplicatorModel``; ``model.replications`` lists the seeds.

    Raises:
        ImportError: When the EMA Workbench is not installed.
        ValueError: One line per problem (a path, range, level, KPI or design).
    """
    wb = ema()
    designs = (designs,) if isinstance(designs, str) else tuple(designs)
    if not designs:
        raise ValueError("designs: name at least one scenario file")
    if len(set(designs)) != len(designs):
        raise ValueError(f"designs: {list(designs)} names a scenario twice")
    if replications < 1:
        raise ValueError(f"replications = {replications}: expected at least 1")
    if not name.isalnum():
        raise ValueError(f"name {name!r}: EMA model names are letters and digits only")
    overlays = tuple(overlays)
    models = {d: ScenarioModel(d, overlays, months) for d in designs}
    problems = _loads(models)
    if problems:
        raise ValueError("\n".join(problems))
    unc = _given(uncertainties, "world", "uncertainties")
    lev = _given(levers, "policy", "levers")
    constants = dict(constants or {})
    problems = _check(models, unc, "world", "uncertainties", constants)
    problems += _check(models, lev, "policy", "levers", constants)
    problems += _check_constants(models, constants, set(unc) | set(lev))
    if not problems:
        problems += _check_active(models, {**unc, **lev}, constants)
    names = _outcome_names(models, outcomes, problems)
    if problems:
        raise ValueError("\n".join(problems))
    leaves = {p.path: p for p in next(iter(models.values())).parameters()}
    model = wb.ReplicatorModel(name, function=Runner(designs, overlays, months, tuple(names)))
    model.uncertainties = [_parameter(wb, p, v, leaves[p].value) for p, v in unc.items()]
    model.levers = [_parameter(wb, p, v, leaves[p].value) for p, v in lev.items()] + (
        [wb.CategoricalParameter(DESIGN, list(designs))] if len(designs) > 1 else []
    )
    if constants:
        model.constants = [wb.Constant(p, v) for p, v in constants.items()]
    out = [wb.ScalarOutcome(n, kind=_kind(wb, n), function=np.mean) for n in names]
    if per_replication:
        out += [wb.ArrayOutcome(f"{n}.replications", variable_name=n) for n in names]
    model.outcomes = out
    model.replications = [{SEED: replication_seed(seed, r)} for r in range(replications)]
    return model


def _kind(wb: Any, name: str) -> int:
    """MAXIMIZE, MINIMIZE or INFO from the KPI catalogue's direction."""
    direction = kpi(name).direction
    if direction > 0:
        return wb.ScalarOutcome.MAXIMIZE
    if direction < 0:
        return wb.ScalarOutcome.MINIMIZE
    return wb.ScalarOutcome.INFO


def _loads(models: Mapping[str, ScenarioModel]) -> list[str]:
    """One line per design that does not load."""
    out = []
    for design, model in models.items():
        try:
            model.scenario  # noqa: B018 (loads and validates the file)
        except ScenarioError as exc:
            out += [f"designs: {design!r}: {p}" for p in exc.problems]
    return out


def _given(
    given: Mapping[str, ParameterValues] | str | None, root: str, what: str
) -> dict[str, ParameterValues]:
    """The parameters as a mapping; a spec name gives the spec's ``root.*`` parameters."""
    if given is None:
        return {}
    if isinstance(given, str):
        return spec_parameters(given, root)
    if not isinstance(given, Mapping):
        raise ValueError(
            f"{what}: expected a mapping of dotted path -> (low, high) or levels, "
            f"or a spec name, not {type(given).__name__}"
        )
    return dict(given)


def spec_parameters(spec: str | Path, root: str = "world") -> dict[str, ParameterValues]:
    """The ranges (or levels) of a spec's parameters under ``root`` (``world``, ``policy``).

    Reads ``[sensitivity.parameters]`` of a sensitivity spec (``bounds``, ``values``)
    or ``[design.parameters]`` of an experiment spec (``range``, ``values``), e.g.
    ``spec_parameters("discovery_alliance")`` for the worlds of the discovery study.

    Args:
        spec: A spec file or a name in ``experiments/specs``.
        root: ``world`` or ``policy``.

    Returns:
        Dotted path -> ``(low, high)`` or a set of levels.

    Raises:
        ValueError: When the spec is missing, or samples a range other than uniformly
            (EMA's samplers draw ranges uniformly).
    """
    try:
        where, data = read_spec(spec, "spec")
    except ScenarioError as exc:
        raise ValueError("\n".join(exc.problems)) from None
    table = data.get("sensitivity", data.get("design", {})).get("parameters", {})
    out: dict[str, ParameterValues] = {}
    for path, entry in table.items():
        if not path.startswith(root + "."):
            continue
        if entry.get("values"):
            out[path] = frozenset(entry["values"])
            continue
        if entry.get("dist", "unif") != "unif":
            raise ValueError(
                f"{where}: {path}: dist = {entry['dist']!r}: EMA samples a range "
                "uniformly; give the range by hand"
            )
        low, high = entry.get("bounds") or entry.get("range")
        out[path] = (low, high)
    return out


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float | np.integer | np.floating) and not isinstance(x, bool)


def _is_range(values: Any) -> bool:
    return (
        isinstance(values, Sequence)
        and not isinstance(values, str)
        and len(values) == 2
        and all(_is_number(v) for v in values)
    )


def _levels(values: Any) -> list[Any] | None:
    """The levels given (a set, or a sequence without numbers), or None."""
    if isinstance(values, set | frozenset):
        return sorted(values, key=str)
    if isinstance(values, Sequence) and not isinstance(values, str):
        if values and not any(_is_number(v) for v in values):
            return list(values)
    return None


def _bounds(allowed: str) -> tuple[float, float]:
    """The schema's ``"lo .. hi"`` as numbers (an open side is infinite)."""
    lo, _, hi = allowed.partition("..")
    lo, hi = lo.strip(), hi.strip()
    return (float(lo) if lo else -math.inf, float(hi) if hi else math.inf)


def _check(
    models: Mapping[str, ScenarioModel],
    given: Mapping[str, ParameterValues],
    root: str,
    what: str,
    constants: Mapping[str, Any],
) -> list[str]:
    """One line per problem of the given parameters: path, kind, range, levels, loading."""
    other = "policy" if root == "world" else "world"
    problems = [
        f"{what}: {path}: a {other} parameter, not a {root} one: give it in "
        f"{'levers' if other == 'policy' else 'uncertainties'}"
        for path in given
        if path.startswith(other + ".")
    ]
    given = {k: v for k, v in given.items() if not k.startswith(other + ".")}
    for design, model in models.items():
        leaves = {p.path: p for p in model.parameters()}
        known = sorted(p for p in leaves if p.startswith(root + "."))
        for path, values in given.items():
            where = f"{what}: {path}"
            if path not in leaves or not path.startswith(root + "."):
                near = difflib.get_close_matches(path, known, n=1)
                hint = f"; did you mean '{near[0]}'?" if near else ""
                problems.append(
                    f"{where}: not a {root} parameter of scenario '{design}'{hint} "
                    f"('alliance params {design}' lists them)"
                )
                continue
            leaf = leaves[path]
            found = _check_values(where, leaf, values)
            if not found:
                integer = isinstance(leaf.value, int) and not isinstance(leaf.value, bool)
                for v in _points(values, integer):
                    found += [
                        f"{where} = {v!r}, scenario '{design}': {line}"
                        for line in model.check({**constants, path: v})
                    ]
            problems += [p for p in found if p not in problems]
    return problems


def _check_values(where: str, leaf: Any, values: Any) -> list[str]:
    """Problems of a range or levels against the schema's type and bounds."""
    levels = _levels(values)
    if levels is not None:
        if len(levels) < 2:
            return [f"{where}: give at least two levels"]
        return []
    if isinstance(leaf.value, bool | str) or not _is_number(leaf.value):
        return [
            f"{where}: the schema's value is {leaf.value!r}: give levels as a set, "
            f"e.g. {{{leaf.value!r}, ...}}, not a range"
        ]
    if not _is_range(values):
        return [
            f"{where}: {values!r}: expected (low, high), or numeric levels as a set "
            "such as {6, 12, 24}"
        ]
    low, high = values
    if not low < high:
        return [f"{where}: range ({low}, {high}) must have low < high"]
    lo, hi = _bounds(leaf.allowed) if leaf.allowed else (-math.inf, math.inf)
    if low < lo or high > hi:
        unit = f" {leaf.unit}" if leaf.unit else ""
        return [
            f"{where}: range ({low:g}, {high:g}) lies outside the schema's {leaf.allowed}{unit}"
        ]
    if isinstance(leaf.value, int) and (low != int(low) or high != int(high)):
        return [f"{where}: an integer parameter: range ({low}, {high}) needs whole ends"]
    return []


def _points(values: Any, integer: bool = False) -> list[Any]:
    """The values to load a parameter at: a range's ends and middle, or every level."""
    levels = _levels(values)
    if levels is not None:
        return levels
    low, high = values
    if integer:
        return [int(low), int(high), int(low + high) // 2]
    return [low, high, (low + high) / 2]


def _check_constants(
    models: Mapping[str, ScenarioModel], constants: Mapping[str, Any], varied: set[str]
) -> list[str]:
    """One line per constant that is also varied or does not load."""
    problems = [f"constants: {p}: also an uncertainty or lever" for p in constants if p in varied]
    if constants:
        for design, model in models.items():
            problems += [
                f"constants, scenario '{design}': {line}" for line in model.check(constants)
            ]
    return problems


def _check_active(
    models: Mapping[str, ScenarioModel],
    given: Mapping[str, ParameterValues],
    constants: Mapping[str, Any],
) -> list[str]:
    """One line per parameter that applies to a design at none of its values."""
    leaves = {p.path: p.value for p in next(iter(models.values())).parameters()}
    levels = {path: _points(v, type(leaves.get(path)) is int) for path, v in given.items()}
    problems = []
    for design, model in models.items():
        found = inactive_parameters(model, levels, constants, label=design)
        problems += [f"{path}: {why}" for path, why in found.items()]
    return problems


def _outcome_names(
    models: Mapping[str, ScenarioModel], outcomes: Sequence[str] | str, problems: list[str]
) -> list[str]:
    """The KPI names asked for (unknown ones go to ``problems``)."""
    common = None
    for model in models.values():
        names = model.outputs
        common = list(names) if common is None else [n for n in common if n in names]
    if outcomes == "scorecard":
        return list(SCORECARD)
    if outcomes == "all":
        return list(common)
    if isinstance(outcomes, str):
        outcomes = [outcomes]
    if not outcomes:
        problems.append("outcomes: name at least one KPI")
    twice = sorted({n for n in outcomes if list(outcomes).count(n) > 1})
    problems += [f"outcomes: {n!r} is named twice" for n in twice]
    problems += kpi_problems(list(outcomes), set(common), "outcomes")
    return list(outcomes)


def _parameter(wb: Any, path: str, values: Any, schema_value: Any) -> Any:
    """The EMA parameter of a checked range or levels."""
    levels = _levels(values)
    if levels is not None:
        return wb.CategoricalParameter(path, levels)
    low, high = values
    if isinstance(schema_value, int):
        return wb.IntegerParameter(path, int(low), int(high))
    return wb.RealParameter(path, float(low), float(high))


def _seeded(seed: int, draw: Any) -> Any:
    """Call ``draw()`` with NumPy's global generator seeded, then restore its state.

    EMA's samplers draw from NumPy's global generator; this makes a sample
    reproducible without changing the caller's random state.
    """
    state = np.random.get_state()  # noqa: NPY002 (EMA samples from the global generator)
    np.random.seed(seed)  # noqa: NPY002
    try:
        return draw()
    finally:
        np.random.set_state(state)  # noqa: NPY002


def sample_scenarios(model: Any, n: int, *, seed: int = 0, sampler: str = "lhs") -> list[Any]:
    """``n`` worlds sampled over the model's uncertainties, the same for the same seed.

    Args:
        model: A model from :func:`ema_model`.
        n: How many scenarios.
        seed: Seed of the sample.
        sampler: ``lhs`` (Latin hypercube) or ``mc`` (Monte Carlo).

    Returns:
        EMA ``Scenario`` objects, to pass as ``perform_experiments(model, scenarios)``.

    Raises:
        ValueError: When the model has no uncertainties, or the sampler is unknown.
    """
    wb = ema()
    from ema_workbench.em_framework.samplers import LHSSampler, MonteCarloSampler

    params = list(model.uncertainties)
    if not params:
        raise ValueError("sample_scenarios: the model has no uncertainties to sample")
    kinds = {"lhs": LHSSampler, "mc": MonteCarloSampler}
    if sampler not in kinds:
        raise ValueError(f"sampler {sampler!r}: expected one of {', '.join(kinds)}")
    design = _seeded(seed, lambda: kinds[sampler]().generate_designs(params, n))
    return [wb.Scenario(f"world{i}", **dict(point)) for i, point in enumerate(_points_of(design))]


def design_policies(model: Any, n: int = 0, *, seed: int = 0) -> list[Any]:
    """Every design, each with the same ``n`` sampled lever settings (or the files' own).

    Paired comparisons: design A and design B are run at the same lever values in
    the same worlds with the same seeds. With ``n = 0`` each design keeps its
    scenario file's lever values.

    Args:
        model: A model from :func:`ema_model`.
        n: Lever settings sampled (Latin hypercube) over the levers other than the
            design; 0 for none.
        seed: Seed of the sample.

    Returns:
        EMA ``Policy`` objects named ``<design>`` (or ``<design>.<i>``).

    Raises:
        ValueError: When ``n > 0`` and the model has no other lever to sample.
    """
    wb = ema()
    from ema_workbench.em_framework.samplers import LHSSampler

    names = [p.name for p in model.levers]
    designs = (
        [c.value for c in model.levers[DESIGN].categories]
        if DESIGN in names
        else [model.function.designs[0]]
    )
    others = [p for p in model.levers if p.name != DESIGN]
    if n and not others:
        raise ValueError("design_policies: the model has no lever but the design to sample")
    settings = (
        [
            dict(p)
            for p in _points_of(_seeded(seed, lambda: LHSSampler().generate_designs(others, n)))
        ]
        if n
        else [{}]
    )
    out = []
    for d in designs:
        for i, setting in enumerate(settings):
            label = d if not n else f"{d}.{i}"
            extra = {DESIGN: d} if DESIGN in names else {}
            out.append(wb.Policy(label, **extra, **setting))
    return out


def _points_of(design: Any) -> list[dict[str, Any]]:
    """The points of an EMA sample as plain dicts of parameter name -> value."""
    design.kind = dict
    return list(design)


def inputs(experiments: pd.DataFrame, model: Any) -> pd.DataFrame:
    """The experiments' uncertainty and lever columns: what PRIM and feature scoring read.

    Drops EMA's bookkeeping columns (``scenario``, ``policy``, ``model``), which
    repeat what the parameters say.

    Args:
        experiments: The first table ``perform_experiments`` returns.
        model: The model it ran.

    Returns:
        One column per uncertainty and lever (the design as a category).
    """
    names = [p.name for p in model.uncertainties] + [p.name for p in model.levers]
    return experiments[[n for n in names if n in experiments.columns]].copy()
