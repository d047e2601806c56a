"""Model core and mechanisms: scenario schema, finance engine, ledger, model.

``sim.run`` and ``sim.evaluate`` are imported lazily so that ``import sim.config``
stays light (importing Mesa sets the multiprocessing start method).
"""

from typing import Any

__all__ = ["run", "evaluate", "RunResult"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from sim.model import api

        return getattr(api, name)
    raise AttributeError(f"module 'sim' has no attribute {name!r}")
