"""Tests for city guarantees (``sim.instruments.guarantees``, MODEL.md F8).

A floor on a revenue-bond tranche's or a PPP's cash books a contingent
liability of 12 x term x E[max(floor - X, 0)] (the normal put, written with
``math.erf`` in the test) and, each month the cash falls below the floor,
the general fund pays exactly the shortfall.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from instrument_fakes import Desk, normal_put
from pydantic import ValidationError

from sim.instruments import guarantees
from sim.instruments.base import Arrangement


def test_normal_put_reference_values():
    # at the money the put is sd / sqrt(2 pi); far out of the money it vanishes
    assert normal_put(10.0, 10.0, 2.0) == pytest.approx(2.0 * 0.3989422804014327)
    assert normal_put(0.0, 10.0, 1.0) == pytest.approx(0.0, abs=1e-20)
    assert normal_put(20.0, 10.0, 0.0) == 10.0


def test_cover_bond_books_twelve_times_term_times_the_expected_shortfall():
    desk = Desk()
    arr = Arrangement("revenue_bond")
    guarantees.cover_bond(desk, arr, 0.5, gross_month=10_000.0, mu=0.8, sd=0.25, term_years=15)
    base, floor, sd = 8000.0, 4000.0, 2500.0
    assert arr.base_case_cash_month == pytest.approx(base)
    assert arr.guarantee_floor_month == pytest.approx(floor)
    assert desk.contingent == pytest.approx(12 * 15 * normal_put(floor, base, sd), rel=1e-9)
    assert len(desk.ledger) == 0  # a contingent liability moves no cash


def test_cover_bond_accumulates_tranche_by_tranche():
    desk = Desk()
    arr = Arrangement("revenue_bond")
    guarantees.cover_bond(desk, arr, 0.5, 10_000.0, 0.8, 0.25, 15)
    first = desk.contingent
    guarantees.cover_bond(desk, arr, 0.5, 5_000.0, 0.8, 0.25, 10)
    assert arr.base_case_cash_month == pytest.approx(8000.0 + 4000.0)
    assert arr.guarantee_floor_month == pytest.approx(4000.0 + 2000.0)
    assert desk.contingent - first == pytest.approx(12 * 10 * normal_put(2000.0, 4000.0, 1250.0))


def test_a_certain_cash_above_the_floor_costs_nothing():
    desk = Desk()
    guarantees.cover_bond(desk, Arrangement("revenue_bond"), 0.9, 1000.0, 1.0, 0.0, 20)
    assert desk.contingent == 0.0


def test_cover_ppp_sets_the_floor_and_books_its_cost_with_a_thirty_percent_spread():
    desk = Desk()
    arr = Arrangement("ppp")
    guarantees.cover_ppp(desk, arr, 4000.0, 6000.0, 18)
    assert (arr.guarantee_floor_month, arr.base_case_cash_month) == (4000.0, 6000.0)
    assert guarantees.PPP_CASH_SD_SHARE == 0.3
    assert desk.contingent == pytest.approx(12 * 18 * normal_put(4000.0, 6000.0, 1800.0))


def test_cover_ppp_books_only_what_a_later_tranche_adds():
    """Two equal tranches book the expected calls of the doubled floor, not the first twice."""
    desk = Desk()
    arr = Arrangement("ppp")
    guarantees.cover_ppp(desk, arr, 2000.0, 3000.0, 18)
    guarantees.cover_ppp(desk, arr, 4000.0, 6000.0, 18)
    assert desk.contingent == pytest.approx(12 * 18 * normal_put(4000.0, 6000.0, 1800.0))


def test_cover_ppp_without_a_floor_books_nothing():
    desk = Desk()
    arr = Arrangement("ppp")
    guarantees.cover_ppp(desk, arr, 0.0, 6000.0, 18)
    assert desk.contingent == 0.0
    assert arr.base_case_cash_month == 6000.0


@settings(max_examples=25, deadline=None)
@given(st.floats(0.3, 0.95), st.floats(0.01, 0.5), st.floats(0.2, 0.5), st.integers(1, 30))
def test_a_higher_floor_or_more_risk_costs_more(share, extra, sd, years):
    def cost(s, sigma):
        desk = Desk()
        guarantees.cover_bond(desk, Arrangement("revenue_bond"), s, 1000.0, 0.9, sigma, years)
        return desk.contingent

    low = cost(share, sd)
    assert cost(min(share + extra, 1.0), sd) > low
    assert cost(share, sd * 1.5) > low
    assert low > 0


def test_a_call_pays_exactly_the_shortfall_below_the_floor():
    desk = Desk(general_cash=1e6)
    fund = desk.ledger.open_account("project", "city")
    arr = Arrangement("revenue_bond", guarantee_floor_month=5000.0)
    assert guarantees.call(desk, arr, 3200.0, fund, 4, 9) == pytest.approx(1800.0)
    assert desk.balance(fund) == pytest.approx(1800.0)
    assert desk.balance(desk.general) == pytest.approx(1e6 - 1800.0)
    entry = desk.ledger.entries().iloc[-1]
    assert (entry.step, entry.kind, entry.project) == (4, "guarantee_call", 9)
    desk.ledger.check_balanced()


def test_no_call_at_or_above_the_floor_or_without_a_floor():
    desk = Desk(general_cash=1e6)
    fund = desk.ledger.open_account("project", "city")
    n = len(desk.ledger)
    arr = Arrangement("revenue_bond", guarantee_floor_month=5000.0)
    assert guarantees.call(desk, arr, 5000.0, fund, 1, 9) == 0.0
    assert guarantees.call(desk, arr, 7000.0, fund, 1, 9) == 0.0
    assert guarantees.call(desk, Arrangement("revenue_bond"), 0.0, fund, 1, 9) == 0.0
    assert len(desk.ledger) == n


def test_a_loss_is_topped_up_to_the_floor():
    desk = Desk()
    fund = desk.ledger.open_account("vehicle", "vehicle")
    arr = Arrangement("ppp", guarantee_floor_month=1000.0)
    assert guarantees.call(desk, arr, -200.0, fund, 1, 9) == pytest.approx(1200.0)
    assert desk.balance(desk.general) == pytest.approx(-1200.0)  # the general fund always pays


@settings(max_examples=30, deadline=None)
@given(st.floats(0.0, 1e6), st.floats(-1e5, 2e6))
def test_after_a_call_the_month_reaches_the_floor(floor, cash):
    desk = Desk()
    fund = desk.ledger.open_account("project", "city")
    paid = guarantees.call(desk, Arrangement("x", guarantee_floor_month=floor), cash, fund, 0, 1)
    assert paid == pytest.approx(max(floor - cash, 0.0))
    assert cash + paid >= floor - 1e-6
    assert desk.balance(fund) == pytest.approx(paid)


def test_guarantee_terms_default_to_no_floor_and_are_range_checked():
    g = guarantees.Guarantee()
    assert g.savings_floor_share == 0.0 and g.revenue_floor_share == 0.0
    with pytest.raises(ValidationError):
        guarantees.Guarantee(revenue_floor_share=1.5)
    with pytest.raises(ValidationError):
        guarantees.Guarantee(savings_floor_share=-0.1)
