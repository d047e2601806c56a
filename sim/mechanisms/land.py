"""Districts, resident groups and land values.

Districts are numbered globally, ``district = city * districts_per_city +
local``; resident groups (the ledger's resident accounts) are ``district * 5 +
income quintile``. Each city's assessed value is split across its districts by
their residents' income; assessed values follow the property index and rise
with the coverage and quality of user-facing services: a hedonic uplift of
``world.macro.land_value_uplift_per_coverage`` per service that covers a
district fully at the claimed quality (MODEL.md F7: an assumption, 0 to 2 % per
service), capitalised with a lag of ``land_value_lag_months``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

N_QUINTILES = 5


@dataclass(frozen=True)
class DistrictMap:
    """The region's layout: districts per city and each resident group's ledger account."""

    districts: int
    """Districts per city."""
    group_accounts: np.ndarray
    """Ledger account of every (district, quintile) group."""
    group_tax_share: np.ndarray
    """Each group's share of its district's income (its share of the property tax)."""

    def district_slice(self, city: int) -> slice:
        """Global district indices of a city."""
        return slice(city * self.districts, (city + 1) * self.districts)

    def city_groups(self, city: int) -> np.ndarray:
        """Group ids of a city."""
        per_city = self.districts * N_QUINTILES
        return np.arange(city * per_city, (city + 1) * per_city)


def tax_shares(group_income: np.ndarray) -> np.ndarray:
    """Each group's share of its district's income.

    Args:
        group_income: Income per (district, quintile) group.

    Returns:
        Shares summing to 1 within each district (0 in a district without income).
    """
    by_district = group_income.reshape(-1, N_QUINTILES).sum(axis=1)
    return group_income / np.repeat(np.where(by_district > 0, by_district, 1), N_QUINTILES)


class LandValues:
    """Assessed value of every district: its trend and its value with services."""

    def __init__(self, av0: np.ndarray) -> None:
        """Start at the assessed values ``av0``.

        Args:
            av0: Assessed value per global district at month 0.
        """
        self.av0 = av0
        self.trend = av0.copy()
        self.av = av0.copy()
        self.uplift = np.zeros_like(av0)

    @classmethod
    def assess(
        cls, city_values: list[float], district_weight: np.ndarray, districts: int
    ) -> LandValues:
        """Split each city's assessed value across its districts in proportion to a weight.

        Args:
            city_values: Total assessed value of each city.
            district_weight: Weight of each global district (population x income).
            districts: Districts per city.

        Returns:
            The land values.
        """
        av0 = np.zeros(district_weight.size)
        for c, total in enumerate(city_values):
            sl = slice(c * districts, (c + 1) * districts)
            av0[sl] = total * district_weight[sl] / district_weight[sl].sum()
        return cls(av0)

    def update(
        self,
        property_index: float,
        service_uplift: np.ndarray,
        uplift_per_service: float,
        lag_months: float,
    ) -> None:
        """Values for the month: trend x (1 + the capitalised uplift of the services).

        The uplift moves ``1 / lag_months`` of the way towards ``uplift_per_service x``
        the services' coverage and quality each month.

        Args:
            property_index: The market's property index.
            service_uplift: Coverage x quality of user-facing services per district, summed
                over services (1 per service that fully covers the district as claimed).
            uplift_per_service: Land value rise per fully covering service.
            lag_months: Capitalisation lag.
        """
        self.trend = self.av0 * property_index
        self.uplift += (uplift_per_service * service_uplift - self.uplift) / lag_months
        self.av = self.trend * (1 + self.uplift)
