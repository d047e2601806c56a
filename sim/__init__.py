"""alliance-sim's model: ``sim.run``, ``sim.evaluate`` and the layers beneath them.

Layers, bottom to top (each imports only from those below it):

- :mod:`sim.core`: fields, the finance library, the ledger, the resident kernels;
- :mod:`sim.instruments`: one module per financing instrument;
- :mod:`sim.config`: the scenario schema and loading;
- :mod:`sim.mechanisms`: lifecycle, procurement, contracts, governance, markets;
- ``agents/`` (a package of its own): the city, vendors, investors, residents, regulator;
- :mod:`sim.model`: the Mesa model wiring the agents, the KPIs, ``run`` and ``evaluate``.

The public names below are imported on first use, so that ``import sim.config``
stays light (importing Mesa sets the multiprocessing start method).
"""

from importlib import import_module as _import_module
from typing import Any as _Any

_PUBLIC = {
    "run": "sim.model.api",
    "evaluate": "sim.model.api",
    "evaluate_many": "sim.model.api",
    "kpi_info": "sim.model.api",
    "RunResult": "sim.model.api",
    "AllianceModel": "sim.model.model",
    "kpi_names": "sim.model.outputs",
    "load_scenario": "sim.config.loader",
    "ScenarioError": "sim.config.loader",
}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> _Any:
    if name in _PUBLIC:
        return getattr(_import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'sim' has no attribute {name!r}")


def __dir__() -> list[str]:
    mine = {n for n in globals() if not n.startswith("_") or n.endswith("__")}
    return sorted(mine | set(_PUBLIC))
