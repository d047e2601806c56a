"""Markets (``sim.mechanisms.markets``): the business cycle, the indices and municipal yields.

``cycle_factor`` at the trough and during recovery; the indices as trend growth
times the cycle; yields as the May-2025 curve plus the curve shift, and from the
shock month the rate shock and a spread widening per notch below AA.
"""

from __future__ import annotations

import pytest

from sim.config.schema import Macro, Rates, Stress, World
from sim.core.fields import RATINGS
from sim.mechanisms.markets import Market, cycle_factor

# --------------------------------------------------------------------------- cycle


@pytest.mark.parametrize(
    ("t", "expected"),
    [
        (0, 1.0),
        (9, 1.0),  # before the downturn
        (10, 0.8),
        (15, 0.8),
        (21, 0.8),  # trough: [10, 22)
        (22, 0.8),  # recovery starts from the trough
        (25, 1 - 0.2 * (1 - 3 / 12)),
        (28, 0.9),  # half way back
        (34, 1.0),
        (60, 1.0),  # recovered after as long again
    ],
)
def test_cycle_factor_trough_and_recovery(t, expected):
    assert cycle_factor(t, 10, 12, 0.2) == pytest.approx(expected)


def test_cycle_factor_without_a_downturn_is_one():
    assert all(cycle_factor(t, -1, 12, 0.5) == 1.0 for t in range(60))
    assert all(cycle_factor(t, 5, 12, 0.0) == 1.0 for t in range(60))


def test_recovery_is_monotone():
    path = [cycle_factor(t, 0, 6, 0.3) for t in range(6, 13)]
    assert all(a < b for a, b in zip(path, path[1:], strict=False))
    assert path[0] == pytest.approx(0.7) and path[-1] == pytest.approx(1.0)


# --------------------------------------------------------------------------- indices


def test_indices_are_trend_growth_times_the_cycle():
    world = World(
        macro=Macro(
            property_growth_annual=0.03, income_growth_annual=0.02, revenue_growth_annual=0.04
        ),
        stress=Stress(
            recession_month=12,
            recession_months=12,
            recession_property_drop=0.25,
            recession_income_drop=0.1,
        ),
    )
    m = Market(world)
    assert (m.revenue_index, m.property_index, m.income_index) == (1.0, 1.0, 1.0)
    m.advance(6)  # before the recession: trend only
    assert m.month == 6
    assert m.property_index == pytest.approx(1.03**0.5)
    assert m.income_index == pytest.approx(1.02**0.5)
    assert m.revenue_index == pytest.approx(1.04**0.5) == m.revenue_trend
    m.advance(18)  # in the trough
    assert m.property_index == pytest.approx(1.03**1.5 * 0.75)
    assert m.income_index == pytest.approx(1.02**1.5 * 0.9)
    assert m.revenue_index == pytest.approx(1.04**1.5 * 0.9)
    assert m.revenue_trend == pytest.approx(1.04**1.5)  # the trend ignores the cycle
    m.advance(30)  # half recovered
    assert m.property_index == pytest.approx(1.03**2.5 * (1 - 0.25 * 0.5))
    assert m.income_index == pytest.approx(1.02**2.5 * (1 - 0.1 * 0.5))


# --------------------------------------------------------------------------- yields


def test_municipal_yield_without_shock_is_the_curve_plus_shift():
    m = Market(World(rates=Rates(shift_bp=25.0)))
    m.advance(0)
    assert m.municipal_yield("AA", 10) == pytest.approx(0.0344 + 0.0025)
    assert m.municipal_yield("AA", 20) == pytest.approx(0.0438 + 0.0025)
    assert m.municipal_yield("AA", 15) == pytest.approx((0.0344 + 0.0438) / 2 + 0.0025)
    assert m.municipal_yield("Baa", 30) == pytest.approx(0.0505 + 0.0025)  # flat beyond 20y


SHOCK = Stress(rate_shock_bp=200.0, rate_shock_month=24, spread_widening_bp=50.0)


@pytest.mark.parametrize(
    ("rating", "notches_below_aa"),
    [
        ("AAA", 0),
        ("AA", 0),
        ("A", 1),
        ("Baa", 2),
        ("Ba", 3),
        ("B", 4),
    ],
)
def test_rate_shock_with_spread_widening_per_notch_below_aa(rating, notches_below_aa):
    m = Market(World(rates=Rates(shift_bp=10.0), stress=SHOCK))
    m.advance(23)
    assert m.rate_shift(rating) == pytest.approx(0.0010)  # before the shock month: the shift
    m.advance(24)
    expected = (10.0 + 200.0 + 50.0 * notches_below_aa) / 1e4
    assert m.rate_shift(rating) == pytest.approx(expected)
    base = Market(World())
    base.advance(24)
    assert m.municipal_yield(rating, 12) - base.municipal_yield(rating, 12) == pytest.approx(
        expected
    )


def test_known_shocked_yield():
    """Baa at 15 years after the shock: mid-curve 4.605 % + 200 bp + 2 x 50 bp = 7.605 %."""
    m = Market(World(stress=SHOCK))
    m.advance(36)
    assert m.municipal_yield("Baa", 15) == pytest.approx(0.07605)


def test_spread_widening_alone_does_nothing_without_a_rate_shock():
    m = Market(World(stress=Stress(spread_widening_bp=300.0, rate_shock_month=0)))
    m.advance(50)
    assert all(m.rate_shift(r) == 0.0 for r in RATINGS)


def test_worse_ratings_pay_more_after_the_shock():
    m = Market(World(stress=SHOCK))
    m.advance(30)
    ylds = [m.municipal_yield(r, 20) for r in RATINGS]
    assert all(a < b for a, b in zip(ylds, ylds[1:], strict=False))
