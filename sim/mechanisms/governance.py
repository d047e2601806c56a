"""Governance: a champion, a PMO and silos change delays and capacity (MODEL.md, Governance).

A champion with authority multiplies procurement and decision delays by its
factor; a PMO raises how many projects the city runs at once; with neither,
silos add a delay to every procurement and decision.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sim.config.schema import Governance, ProcurementDurations


def delay(months: float, gov: Governance, durations: ProcurementDurations) -> float:
    """Scale a procurement or decision delay by the city's governance.

    Args:
        months: The delay before governance.
        gov: The policy's governance block.
        durations: The world's procurement durations (for the silo delay).

    Returns:
        Months after the champion factor and the silo delay.
    """
    if gov.champion:
        months *= gov.champion_delay_factor
    if not gov.champion and not gov.pmo:
        months += durations.silo_delay_months
    return months


def capacity(gov: Governance) -> int:
    """How many projects the city can run at once (a PMO raises it).

    Args:
        gov: The policy's governance block.

    Returns:
        Projects.
    """
    return gov.base_capacity_projects + (gov.pmo_extra_capacity if gov.pmo else 0)
