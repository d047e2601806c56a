"""Experiments: batch runs, sweeps, sensitivity, comparison, charts, engines, the CLI.

``experiments.load(folder)`` reads an experiment's runs table into pandas.
"""

from typing import Any

__all__ = ["load"]


def __getattr__(name: str) -> Any:
    if name == "load":
        from experiments.engine.store import load

        return load
    raise AttributeError(f"module 'experiments' has no attribute {name!r}")
