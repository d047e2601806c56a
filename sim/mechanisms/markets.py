"""Markets: the municipal yield curve with its shocks, and the economy's indices.

Each month the market sets the revenue, property and income indices (trend
growth times a recession's fall and recovery) and the rate shift applied to
every yield: the scenario's curve shift, plus from the shock month the rate
shock and a spread widening per notch below AA (MODEL.md, Stress overlays).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.core import finance
from sim.core.fields import RATINGS

if TYPE_CHECKING:
    from sim.config.schema import World


def cycle_factor(t: int, start: int, length: int, drop: float) -> float:
    """1 - drop during [start, start + length), recovering linearly over as long again.

    Args:
        t: Month.
        start: First month of the downturn (-1: none).
        length: Months of the downturn.
        drop: Fall at the trough.

    Returns:
        The multiplier on the trend.
    """
    if start < 0 or t < start or drop <= 0:
        return 1.0
    if t < start + length:
        return 1.0 - drop
    return 1.0 - drop * max(0.0, 1.0 - (t - start - length) / length)


class Market:
    """Yields by rating and maturity, and the economy's indices, month by month."""

    def __init__(self, world: World) -> None:
        """Build the curve from the world's yields.

        Args:
            world: The world block of the scenario.
        """
        self.world = world
        self.curve = finance.YieldCurve(
            tenors_years=(10.0, 20.0),
            yields={r: (world.rates.yields_10y[r], world.rates.yields_20y[r]) for r in RATINGS},
        )
        self.month = 0
        self.revenue_index = self.revenue_trend = self.property_index = self.income_index = 1.0

    def advance(self, t: int) -> None:
        """Set the month's indices: trend growth and the recession's cycle.

        Args:
            t: Month.
        """
        w = self.world
        s = w.stress
        self.month = t
        income = cycle_factor(t, s.recession_month, s.recession_months, s.recession_income_drop)
        prop = cycle_factor(t, s.recession_month, s.recession_months, s.recession_property_drop)
        self.revenue_trend = (1 + w.macro.revenue_growth_annual) ** (t / 12)
        self.revenue_index = self.revenue_trend * income
        self.property_index = (1 + w.macro.property_growth_annual) ** (t / 12) * prop
        self.income_index = (1 + w.macro.income_growth_annual) ** (t / 12) * income

    def rate_shift(self, rating: str) -> float:
        """Yield shift for a rating this month: curve shift, rate shock, spread widening.

        Args:
            rating: The borrower's rating.

        Returns:
            The shift (decimal).
        """
        s = self.world.stress
        bp = self.world.rates.shift_bp
        if s.rate_shock_bp > 0 and self.month >= s.rate_shock_month:
            bp += s.rate_shock_bp + s.spread_widening_bp * max(0, RATINGS.index(rating) - 1)
        return bp / 1e4

    def municipal_yield(self, rating: str, years: float) -> float:
        """This month's municipal yield for a rating and maturity.

        Args:
            rating: The issuer's rating.
            years: Maturity.

        Returns:
            Annual yield.
        """
        return finance.bond_yield(rating, years, self.curve, shift=self.rate_shift(rating))
