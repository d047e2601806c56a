"""What deployed projects deliver to districts: coverage, quality and the land-value uplift.

A project's units fill its city's districts one after another
(:meth:`~sim.mechanisms.lifecycle.Project.coverage_by_district`); its quality
is the performance it delivers this month over what its vendors claimed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sim.core.sums import np_mean
from sim.mechanisms.lifecycle import Project

#: Projects of one city with the city's global district slice.
CityProjects = tuple[slice, Sequence[Project]]


def coverage_and_quality(
    cities: Sequence[CityProjects],
    domain: str,
    n_districts: int,
    districts: int,
    month: int,
    performance_factor: float,
) -> tuple[np.ndarray, float]:
    """Coverage per district of one service and its mean quality across projects.

    Args:
        cities: Each city's districts and projects, in city order.
        domain: The service's domain.
        n_districts: Districts in the region.
        districts: Districts per city.
        month: The month.
        performance_factor: The underperformance overlay's multiplier.

    Returns:
        (coverage per global district, 0 where the service delivers nothing this month;
        mean quality over the deployed projects, 0 with none).
    """
    coverage = np.zeros(n_districts)
    quality = []
    for sl, projects in cities:
        for pr in projects:
            if pr.domain == domain and pr.deployed:
                theta = pr.performance(month, performance_factor)
                coverage[sl] = pr.coverage_by_district(districts) * (theta > 0)
                quality.append(theta / max(pr.claim, 1e-9))
    return coverage, np_mean(quality) if quality else 0.0


def land_uplift(
    cities: Sequence[CityProjects],
    n_districts: int,
    districts: int,
    month: int,
    performance_factor: float,
) -> np.ndarray:
    """Coverage x quality (at most 1) of the user-facing services, summed over services.

    Args:
        cities: Each city's districts and projects, in city order.
        n_districts: Districts in the region.
        districts: Districts per city.
        month: The month.
        performance_factor: The underperformance overlay's multiplier.

    Returns:
        Per global district: 1 for each service that covers it fully at the claimed quality.
    """
    uplift = np.zeros(n_districts)
    for sl, projects in cities:
        for pr in projects:
            if pr.deployed and pr.tech.user_facing:
                quality = min(pr.performance(month, performance_factor) / max(pr.claim, 1e-9), 1.0)
                uplift[sl] += pr.coverage_by_district(districts) * quality
    return uplift
