"""Experiments on the model: batch runs, sweeps, sensitivity, discovery, workshops, the CLI.

Layers, bottom to top (each imports only those below it):

- :mod:`experiments.engine`: specs, the model interface, designs and seeds, the
  runner, the engines, the Parquet run store, batch runs;
- :mod:`experiments.sensitivity`, :mod:`experiments.discovery`,
  :mod:`experiments.workshop`: studies built on the engine (they do not import
  each other); :mod:`experiments.ema`, the EMA Workbench adaptor, sits beside them;
- :mod:`experiments.cli`: the ``alliance`` command.

``experiments.load(folder)`` reads an experiment's runs table into pandas.
"""

from typing import Any

__all__ = ["load"]


def __getattr__(name: str) -> Any:
    if name == "load":
        from experiments.engine.store import load

        return load
    raise AttributeError(f"module 'experiments' has no attribute {name!r}")
