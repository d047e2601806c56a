"""A Mesa-compatible ``datacollector`` over the model's own monthly series.

Mesa's tools read a model's ``datacollector``: ``mesa.batch_run`` reads
``model_vars`` (name -> one value per step) and ``_agent_records``; SolaraViz's
plots call ``get_model_vars_dataframe()``. :class:`SeriesCollector` answers all
three from :class:`~sim.model.series.Series` (preallocated arrays filled once a
month), so there is one recorder and no second copy of the data.

Step ``s`` in Mesa's sense is the model after ``s + 1`` calls of ``step()``,
which is month ``s`` of the series. The run's KPIs are whole-run figures: they
are known only once the horizon is reached, so their columns (named
``kpi.<name>``, since a KPI such as ``coverage.maas`` shares its name with a
monthly series) hold the KPI at the last month and NaN ("not known yet")
before it. ``mesa.batch_run``'s default ``data_collection_period=-1`` collects
exactly that last month.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from sim.model.series import Series

#: Prefix of the KPI columns (``kpi.fiscal_npv_usd``), apart from the monthly series.
KPI_PREFIX = "kpi."


class SeriesCollector:
    """What Mesa's ``DataCollector`` offers, read from the model's series."""

    agent_reporters: Mapping[str, Any] = {}
    """No per-agent records: the residents are arrays, not agents (see the model)."""

    def __init__(
        self,
        series: Series,
        months_done: Callable[[], int],
        kpis: Callable[[], dict[str, float]],
        kpi_names: list[str],
    ) -> None:
        """Wrap a model's series.

        Args:
            series: The model's monthly series.
            months_done: How many months have been recorded so far.
            kpis: The run's KPIs (called once, when the horizon is reached).
            kpi_names: The KPIs' names, in order.
        """
        self._series = series
        self._done = months_done
        self._kpis = kpis
        self._kpi_names = list(kpi_names)
        self._final: dict[str, float] | None = None
        self._agent_records: dict[int, list] = {}

    @property
    def finished(self) -> bool:
        """Whether the horizon is reached (the KPIs are known)."""
        return self._done() >= len(self._series.data["month"])

    def kpis(self) -> dict[str, float]:
        """The run's KPIs.

        Returns:
            KPI name -> value.

        Raises:
            RuntimeError: Before the horizon is reached.
        """
        if not self.finished:
            raise RuntimeError(
                f"KPIs are known at the horizon: {self._done()} of "
                f"{len(self._series.data['month'])} months are done"
            )
        if self._final is None:
            self._final = self._kpis()
        return self._final

    @property
    def model_reporters(self) -> dict[str, str]:
        """The collected names: every monthly series, then every KPI."""
        names = [*self._series.data, *(KPI_PREFIX + k for k in self._kpi_names)]
        return {n: n for n in names}

    @property
    def model_vars(self) -> dict[str, np.ndarray]:
        """Name -> one value per month done so far (read-only views of the series).

        KPI columns (``kpi.<name>``) hold NaN before the last month, and the KPI at it.
        """
        done = self._done()
        out: dict[str, np.ndarray] = {}
        for name, values in self._series.data.items():
            view = values[:done].view()
            view.flags.writeable = False
            out[name] = view
        known = self.kpis() if self.finished else {}
        for name in self._kpi_names:
            column = np.full(done, np.nan)
            if done and name in known:
                column[-1] = known[name]
            out[KPI_PREFIX + name] = column
        return out

    def collect(self, model: Any) -> None:
        """Nothing to do: the model records its series every month.

        Args:
            model: The model (ignored).
        """

    def get_model_vars_dataframe(self) -> pd.DataFrame:
        """The monthly series (and KPIs) so far, indexed by integer month.

        Returns:
            One row per month done, one column per series or KPI.
        """
        frame = pd.DataFrame(self.model_vars)
        frame["month"] = frame["month"].astype(np.int64)
        return frame.set_index("month")

    def get_agent_vars_dataframe(self) -> pd.DataFrame:
        """No agent reporters are collected (Mesa returns an empty frame then, too).

        Returns:
            An empty frame.
        """
        return pd.DataFrame()
