"""Tests for tax-increment financing (``sim.instruments.tif``, MODEL.md F7).

The TIF area freezes its districts' base values; the increment above the base
goes to the TIF fund, which pays the TIF bonds (never from the general fund)
and releases cash beyond a year of their service. A TIF bond is sold only
when the increment projected at mid-term covers the debt service. Increments
and projections are computed by hand in the tests.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from instrument_fakes import Desk, Project, annuity

from sim.instruments import tif
from sim.instruments.base import Debt, Raised

TERMS = tif.TIF(districts=2, term_years=20)
YIELD = 0.04 + 0.01  # the fake bond fund's base yield plus its revenue-bond spread


def area(base=(100e6, 80e6), until=240):
    return tif.TIFDistrict(base=np.array(base), until=until)


def setup(**kw):
    desk = Desk(**kw)
    inv = desk.add_lender("bond_fund", base_yield=0.04, revenue_spread=0.01)
    return desk, inv


def projected_by_hand(trend, base, tax_annual, growth, years):
    g = (1 + growth) ** (years / 2)
    return sum(max(v * g - b, 0.0) * tax_annual / 12 for v, b in zip(trend, base, strict=False))


# ---------------------------------------------------------------- the area


def test_freeze_copies_the_first_districts_base_for_the_term():
    av = np.array([100e6, 80e6, 60e6, 40e6])
    a = tif.freeze(av, 6, TERMS)
    np.testing.assert_array_equal(a.base, [100e6, 80e6])
    assert a.size == 2 and a.until == 6 + 240
    av[0] = 1.0  # later values do not move the frozen base
    assert a.base[0] == 100e6
    assert a.capturing(6) and a.capturing(245) and not a.capturing(246)


def test_increment_is_the_value_above_the_base_times_the_tax_rate():
    a = area()
    av = np.array([110e6, 75e6, 999e6])  # the third district is outside the area
    inc = tif.increment(a, av, 0.012 / 12)
    np.testing.assert_allclose(inc, [10e6 * 0.001, 0.0])


# ---------------------------------------------------------------- issue


def test_a_tif_bond_is_sold_into_the_tif_fund_when_the_projection_covers_it():
    desk, inv = setup(general_cash=1e6)
    trend = np.array([100e6, 80e6, 50e6])
    raised = tif.issue(desk, Project(pid=3), 2e6, 5, TERMS, area(), trend, 0.012, 0.02)
    assert raised == Raised(desk.tif, 2e6)
    assert desk.balance(desk.tif) == 2e6 and desk.balance(desk.general) == 1e6
    assert inv.invested == 2e6
    assert inv.asked == [dict(rating="AA", years=20, revenue=True, covered_share=0.0)]
    [d] = desk.debts
    assert (d.instrument, d.recourse, d.payer, d.payee, d.start) == (
        "tif",
        "tif",
        desk.tif,
        inv.account,
        6,
    )
    np.testing.assert_allclose(d.payments, annuity(2e6, YIELD / 12, 240), rtol=1e-12)
    desk.ledger.check_balanced()


def test_a_tif_bond_whose_projected_increment_falls_short_is_refused():
    trend = np.array([100e6, 80e6])
    projected = projected_by_hand(trend, [100e6, 80e6], 0.012, 0.02, 20)
    assert projected > 0
    # the largest bond the projection covers, by the annuity formula
    most = projected / annuity(1.0, YIELD / 12, 240)
    desk, inv = setup()
    assert tif.issue(desk, Project(), most * 1.001, 0, TERMS, area(), trend, 0.012, 0.02) is None
    assert desk.debts == [] and inv.invested == 0.0 and desk.balance(desk.tif) == 0.0
    assert tif.issue(desk, Project(), most * 0.999, 0, TERMS, area(), trend, 0.012, 0.02)


def test_without_growth_or_above_base_value_there_is_nothing_to_borrow_against():
    desk, _ = setup()
    trend = np.array([90e6, 80e6])  # at or below the base
    assert tif.issue(desk, Project(), 1.0, 0, TERMS, area(), trend, 0.012, 0.0) is None


def test_earlier_tif_bonds_count_against_the_projection():
    trend = np.array([100e6, 80e6])
    projected = projected_by_hand(trend, [100e6, 80e6], 0.012, 0.02, 20)
    most = projected / annuity(1.0, YIELD / 12, 240)
    desk, _ = setup()
    assert tif.issue(desk, Project(pid=1), 0.6 * most, 0, TERMS, area(), trend, 0.012, 0.02)
    assert tif.issue(desk, Project(pid=2), 0.6 * most, 0, TERMS, area(), trend, 0.012, 0.02) is None
    assert tif.issue(desk, Project(pid=2), 0.39 * most, 0, TERMS, area(), trend, 0.012, 0.02)


def test_no_bond_fund_means_no_tif_bond():
    desk = Desk()
    assert (
        tif.issue(desk, Project(), 1.0, 0, TERMS, area(), np.array([200e6, 200e6]), 0.012, 0.02)
        is None
    )


# ---------------------------------------------------------------- recourse and release


def test_a_tif_debt_never_draws_the_general_fund():
    desk, inv = setup(general_cash=5e6)
    tif.issue(desk, Project(), 2e6, 0, TERMS, area(), np.array([150e6, 80e6]), 0.012, 0.02)
    desk.ledger.transfer(0, desk.tif, desk.market, 2e6, "capex")  # the proceeds are spent
    [d] = desk.debts
    desk.fund(desk.tif, 0.25 * d.due(1), t=1)  # a poor month of increment
    short = d.pay(desk.ledger, 1, d.payee)
    assert short == pytest.approx(0.75 * d.due(1))
    assert desk.balance(desk.general) == 5e6
    assert desk.balance(desk.tif) == pytest.approx(0.0, abs=1e-9)
    desk.ledger.check_balanced()


def test_release_keeps_a_year_of_tif_service_and_sends_the_rest_to_the_general_fund():
    desk, _ = setup()
    desk.debts += [
        Debt(1, "tif", desk.tif, 0, 0, np.full(24, 100.0), 2000.0, 0.05, "tif"),
        Debt(1, "go_bond", desk.general, 0, 0, np.full(24, 7e3), 1.0, 0.05),
    ]
    desk.fund(desk.tif, 5000.0)
    tif.release_surplus(desk.ledger, desk.tif, desk.general, desk.debts, 0)
    assert desk.balance(desk.tif) == pytest.approx(1200.0)
    assert desk.balance(desk.general) == pytest.approx(3800.0)
    n = len(desk.ledger)
    tif.release_surplus(desk.ledger, desk.tif, desk.general, desk.debts, 0)
    assert len(desk.ledger) == n  # nothing above the year's service
    # near the end only what is left of the schedule is kept
    tif.release_surplus(desk.ledger, desk.tif, desk.general, desk.debts, 19)
    assert desk.balance(desk.tif) == pytest.approx(400.0)
    desk.ledger.check_balanced()


def test_a_short_fund_releases_nothing():
    desk, _ = setup()
    desk.debts.append(Debt(1, "tif", desk.tif, 0, 0, np.full(24, 100.0), 2000.0, 0.05, "tif"))
    desk.fund(desk.tif, 500.0)
    tif.release_surplus(desk.ledger, desk.tif, desk.general, desk.debts, 0)
    assert desk.balance(desk.tif) == 500.0 and desk.balance(desk.general) == 0.0


# ---------------------------------------------------------------- but for


def test_but_for_share_by_hand():
    a = area(base=(100.0, 100.0))
    av = np.array([140.0, 120.0, 1e9])
    trend = np.array([110.0, 110.0, 1e9])
    assert tif.but_for([(a, av, trend)]) == pytest.approx((220 - 200) / (260 - 200))
    b = area(base=(50.0,))
    both = tif.but_for([(a, av, trend), (b, np.array([90.0]), np.array([50.0]))])
    assert both == pytest.approx((220 + 50 - 250) / (260 + 90 - 250))


def test_but_for_edge_cases():
    assert tif.but_for([]) == 0.0
    a = area(base=(100.0, 100.0))
    assert tif.but_for([(a, np.array([90.0, 100.0]), np.array([95.0, 95.0]))]) == 0.0
    # background growth beyond the services' own: clipped at 1
    assert tif.but_for([(a, np.array([110.0, 110.0]), np.array([150.0, 150.0]))]) == 1.0


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.floats(0.0, 1e9), min_size=3, max_size=3),
    st.lists(st.floats(0.0, 1e9), min_size=3, max_size=3),
    st.floats(0.0, 0.05),
)
def test_the_increment_is_never_negative_and_matches_the_hand_formula(base, av, rate):
    a = tif.TIFDistrict(base=np.array(base[:2]), until=12)
    rate_month = rate / 12
    inc = tif.increment(a, np.array(av), rate_month)
    assert inc.shape == (2,) and np.all(inc >= 0)
    np.testing.assert_allclose(
        inc,
        [max(v - b, 0.0) * rate_month for v, b in zip(av[:2], base[:2], strict=True)],
        rtol=1e-12,
        atol=1e-9,
    )
