"""Tests for the general-obligation bond (``sim.instruments.go_bond``, MODEL.md F1).

The city's treasury is a small fake desk on a real ledger; the expected
monthly payment is the annuity formula at the nominal monthly rate written
out in the test.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from instrument_fakes import Desk, Project, annuity
from pydantic import ValidationError

from sim.instruments import go_bond
from sim.instruments.base import GENERAL, Raised


def desk_with_fund(**kw):
    desk = Desk(**kw)
    inv = desk.add_lender("bond_fund", base_yield=0.045, capital=1e9)
    return desk, inv


def test_issue_books_proceeds_and_a_level_general_debt():
    desk, inv = desk_with_fund(rating="A")
    deal = Project(pid=4)
    amount, t = 2_000_000.0, 6
    before_inv = desk.balance(inv.account)
    raised = go_bond.issue(desk, deal, amount, t, go_bond.GOBond(term_years=20))
    assert raised == Raised(desk.general, amount)
    assert desk.balance(desk.general) == pytest.approx(amount)
    assert before_inv - desk.balance(inv.account) == pytest.approx(amount)
    assert inv.invested == amount
    assert inv.asked == [dict(rating="A", years=20, revenue=False, covered_share=0.0)]
    [d] = desk.debts
    assert (d.project, d.instrument, d.payer, d.payee, d.recourse) == (
        4,
        "go_bond",
        desk.general,
        inv.account,
        GENERAL,
    )
    assert d.start == t + 1 and d.rate_annual == 0.045 and d.principal == amount
    assert d.payments.shape == (240,)
    np.testing.assert_allclose(d.payments, annuity(amount, 0.045 / 12, 240), rtol=1e-12)
    desk.ledger.check_balanced()


def test_first_year_service_is_what_the_cap_is_asked_about():
    desk, _ = desk_with_fund()
    go_bond.issue(desk, Project(), 1e6, 3, go_bond.GOBond(term_years=15))
    [(asked, month)] = desk.cap_asks
    assert month == 3
    assert asked == pytest.approx(12 * annuity(1e6, 0.045 / 12, 180), rel=1e-12)


def test_serial_bond_pays_level_principal_plus_interest():
    desk, _ = desk_with_fund()
    go_bond.issue(desk, Project(), 240_000.0, 0, go_bond.GOBond(term_years=10, serial=True))
    [d] = desk.debts
    r = 0.045 / 12
    assert d.payments[0] == pytest.approx(2000.0 + 240_000.0 * r)
    assert d.payments[-1] == pytest.approx(2000.0 * (1 + r))
    assert d.payments.sum() - 240_000.0 == pytest.approx(
        sum((240_000.0 - 2000.0 * k) * r for k in range(120))
    )
    assert desk.cap_asks[0][0] == pytest.approx(d.payments[:12].sum())


def test_no_bond_fund_with_the_capital_means_no_bond():
    desk = Desk()
    desk.add_lender("bank", capital=1e9)  # the wrong kind
    small = desk.add_lender("bond_fund", capital=5e5)  # too small
    n = len(desk.ledger)
    assert go_bond.issue(desk, Project(), 1e6, 0, go_bond.GOBond()) is None
    assert desk.debts == [] and len(desk.ledger) == n and small.invested == 0.0
    assert desk.cap_asks == []


def test_debt_service_over_the_cap_refuses_the_bond():
    pay12 = 12 * annuity(1e6, 0.045 / 12, 240)
    desk, inv = desk_with_fund(cap=pay12 * 0.999)
    n = len(desk.ledger)
    assert go_bond.issue(desk, Project(), 1e6, 0, go_bond.GOBond()) is None
    assert desk.debts == [] and len(desk.ledger) == n and inv.invested == 0.0
    # the same bond fits exactly at the cap
    desk.cap = pay12 * 1.000001
    assert go_bond.issue(desk, Project(), 1e6, 0, go_bond.GOBond()) is not None


def test_existing_general_debt_uses_up_the_cap():
    pay12 = 12 * annuity(1e6, 0.045 / 12, 240)
    desk, _ = desk_with_fund(cap=1.5 * pay12)
    assert go_bond.issue(desk, Project(pid=1), 1e6, 0, go_bond.GOBond()) is not None
    assert go_bond.issue(desk, Project(pid=2), 1e6, 0, go_bond.GOBond()) is None
    assert len(desk.debts) == 1


def test_paying_the_bond_to_maturity_returns_principal_plus_interest_to_the_fund():
    desk, inv = desk_with_fund()
    go_bond.issue(desk, Project(), 500_000.0, 0, go_bond.GOBond(term_years=5))
    [d] = desk.debts
    start_inv = desk.balance(inv.account)
    for t in range(1, 62):
        assert d.pay(desk.ledger, t, d.payee) == 0.0
    assert d.paid == pytest.approx(60 * annuity(500_000.0, 0.045 / 12, 60))
    assert desk.balance(inv.account) - start_inv == pytest.approx(d.paid)
    assert desk.balance(desk.general) == pytest.approx(500_000.0 - d.paid)  # general recourse
    assert d.outstanding(60) == 0.0
    desk.ledger.check_balanced()


def test_terms_are_range_checked():
    with pytest.raises(ValidationError):
        go_bond.GOBond(term_years=0)
    with pytest.raises(ValidationError):
        go_bond.GOBond(term_years=41)


@settings(max_examples=20, deadline=None)
@given(st.floats(1e4, 1e9), st.floats(0.0, 0.12), st.integers(1, 40))
def test_the_schedule_is_worth_the_amount_at_the_bond_yield(amount, yld, years):
    desk = Desk()
    desk.add_lender("bond_fund", base_yield=yld, capital=2e9)
    go_bond.issue(desk, Project(), amount, 0, go_bond.GOBond(term_years=years))
    [d] = desk.debts
    r = yld / 12
    pv = sum(p / (1 + r) ** (k + 1) for k, p in enumerate(d.payments))
    assert pv == pytest.approx(amount, rel=1e-9)
    desk.ledger.check_balanced()
