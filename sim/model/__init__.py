"""The model layer: wiring agents (:mod:`sim.model.model`), KPIs, ``run`` and ``evaluate``."""

from sim.model.model import AllianceModel

__all__ = ["AllianceModel"]
