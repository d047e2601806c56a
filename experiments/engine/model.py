"""Models: what the engine runs. One interface for the built-in model and any function.

A model is a callable ``model(params, seed)``:

- ``params``: a dict of parameter name (a dotted path for the built-in) -> value, one
  design point;
- ``seed``: the replication's seed (the same for every scenario and point);
- it returns the run's KPIs: a mapping ``name -> float``, or an object with ``.kpis``
  (that mapping) and ``.timeseries`` (a DataFrame with a row per month and a ``month``
  column, or None), such as :class:`Outcome` or :class:`sim.RunResult`. The engine
  keeps the series when the spec asks for them (``timeseries = true``).

A model may declare more; the engine uses each attribute where present, and a plain
function needs none of them:

- ``outputs``: the names of the KPIs a run returns. Specs are checked against them
  before anything runs; without them a misspelt KPI shows up only in the results;
- ``fingerprint``: a short text naming what the model computes beyond its reference
  (the built-in: a hash of its resolved scenario); it enters the run id, so an edited
  scenario file gives new runs;
- ``parameters(params=None)``: the model's parameters, objects with ``path``, ``value``,
  ``unit``, ``allowed`` (``"lo .. hi"``), ``doc`` and, optionally, ``active`` and
  ``applies_when`` (as :func:`sim.config.parameters`; at the design point ``params``
  when given), to check design paths, types and ranges, to refuse a design parameter
  that does not apply, and to describe them in rules and charts;
- ``check(params)``: the problems of a design point, one line each, without running;
- ``warm_up()``: called once in every worker process before its first run.

:class:`ScenarioModel` is the built-in alliance model bound to a scenario file,
overlays and a horizon; :func:`experiments.engine.spec.bind_models` turns a spec's
``model`` reference into model objects. A function declares its outputs as an
attribute::

    def my_model(params: dict, seed: int) -> dict[str, float]:
        return {"cost": 2.0 * params["x"], "risk": params["x"] ** 2}

    my_model.outputs = ("cost", "risk")
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol

from sim.config import ScenarioError

if TYPE_CHECKING:
    import pandas as pd

    from sim.model.api import RunResult


class Model(Protocol):
    """A model: ``model(params, seed)`` returns KPIs (optional attributes: see the module)."""

    def __call__(self, params: dict[str, Any], seed: int) -> Mapping[str, float] | Outcome:
        """Run once.

        Args:
            params: One design point.
            seed: The replication's seed.

        Returns:
            KPIs, or an object with ``.kpis`` and ``.timeseries``.
        """


@dataclass(frozen=True)
class Outcome:
    """What a run may return instead of a plain mapping: KPIs and monthly series."""

    kpis: Mapping[str, float]
    timeseries: pd.DataFrame | None = None


def split_outcome(result: Any) -> tuple[Mapping[str, float], pd.DataFrame | None]:
    """The KPIs and the time series (or None) of what a model returned.

    Args:
        result: A mapping of KPIs, or an object with ``.kpis`` (and ``.timeseries``).

    Returns:
        (KPIs, series or None).
    """
    if isinstance(result, Mapping):
        return result, None
    series = getattr(result, "timeseries", None)
    if series is not None and series.index.name == "month":
        series = series.reset_index()  # sim.run's series are indexed by month
    return result.kpis, series


def declared_outputs(model: Any) -> tuple[str, ...] | None:
    """The KPI names a model declares (``outputs``), or None when it declares none.

    Args:
        model: The model.

    Returns:
        The names, or None.
    """
    outputs = getattr(model, "outputs", None)
    return None if outputs is None else tuple(outputs)


@lru_cache(maxsize=32)
def _scenario(file: str, overlays: tuple[str, ...]) -> Any:
    from sim.config import load_scenario

    return load_scenario(file, overlays=list(overlays))


_WARM: list[bool] = []  # set once this process ran its warm-up


@dataclass(frozen=True)
class ScenarioModel:
    """The built-in alliance model on a scenario file with overlays, over a horizon.

    ``ScenarioModel("alliance", ("recession",), 120)(params, seed)`` runs
    :func:`sim.model.api.run` with ``params`` as dotted-path overrides and returns
    its :class:`sim.RunResult` (KPIs and monthly series). It declares its
    ``outputs`` (:func:`sim.model.outputs.kpi_names` of the scenario, without a
    run), its ``parameters()`` and a ``check`` of overrides, so specs are checked
    without running it. Picklable (the loaded scenario is cached per process).
    """

    file: str
    overlays: tuple[str, ...] = ()
    months: int | None = None

    def __call__(self, params: dict[str, Any], seed: int) -> RunResult:
        """Run the scenario once with ``params`` as overrides.

        Args:
            params: Dotted path -> value.
            seed: Seed of every random stream.

        Returns:
            The run (``.kpis``, ``.timeseries``, events, ledger).
        """
        from sim.model.api import run

        return run(self.scenario, seed=seed, months=self.months, overrides=params or None)

    @property
    def scenario(self) -> Any:
        """The resolved scenario (file and overlays, no overrides).

        Raises:
            ScenarioError: When the file or an overlay does not load.
        """
        return _scenario(self.file, self.overlays)

    @property
    def outputs(self) -> tuple[str, ...]:
        """The KPI names a run returns, from the scenario (no run)."""
        from sim.model.outputs import kpi_names

        return tuple(kpi_names(self.scenario))

    @property
    def fingerprint(self) -> str:
        """16 hex digits of the resolved scenario's content."""
        return hashlib.sha256(self.scenario.model_dump_json().encode()).hexdigest()[:16]

    def parameters(self, params: Mapping[str, Any] | None = None) -> list[Any]:
        """Every parameter of the scenario by dotted path (:func:`sim.config.parameters`).

        Args:
            params: A design point (dotted path -> value): the parameters are listed as
                they stand at that point (whether each applies depends on the others,
                e.g. a rate shock's month only with a shock). None: the scenario itself.

        Returns:
            Leaves with ``path``, ``value``, ``unit``, ``allowed``, ``doc``, ``active``
            and ``applies_when``.

        Raises:
            ScenarioError: When the point does not load.
        """
        from sim.config import load_scenario, parameters

        overrides = dict(params or {})
        if self.months is not None:  # whether a parameter applies may depend on the horizon
            overrides.setdefault("world.horizon_months", self.months)
        if not overrides:
            return parameters(self.scenario)
        return parameters(
            load_scenario(self.file, overlays=list(self.overlays), overrides=overrides)
        )

    def check(self, params: Mapping[str, Any]) -> list[str]:
        """Load the scenario with ``params`` as overrides, without running it.

        Args:
            params: Dotted path -> value (may be empty: the scenario itself).

        Returns:
            One line per problem (none when it loads).
        """
        from sim.config import load_scenario

        try:
            load_scenario(self.file, overlays=list(self.overlays), overrides=dict(params))
        except ScenarioError as exc:
            return list(exc.problems)
        return []

    def warm_up(self) -> None:
        """Load numba's compiled kernels (from its on-disk cache) once per process."""
        if _WARM:
            return
        from sim.model.api import run

        run(self.scenario, months=1, overrides={"world.residents.simulated_agents": 200})
        _WARM.append(True)


def import_function(ref: str) -> Callable[[dict[str, Any], int], Any]:
    """Import a model function from ``package.module:function``.

    Args:
        ref: The reference.

    Returns:
        The function.

    Raises:
        ScenarioError: When it cannot be imported or is not callable.
    """
    module, sep, attr = ref.partition(":")
    if not sep or not module or not attr:
        raise ScenarioError([f"{ref!r}: expected 'package.module:function'"])
    try:
        fn = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise ScenarioError([f"{ref!r}: cannot import: {exc}"]) from None
    if not callable(fn):
        raise ScenarioError([f"{ref!r}: not callable"])
    return fn
