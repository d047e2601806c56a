"""Tests for the revolving innovation fund (``sim.instruments.revolving_fund``, MODEL.md F4).

The fund is seeded from the general fund, lends when it is large enough,
is repaid from a share of verified savings and earns the deposit rate on idle
cash: ``F(t+1) = F(t) - loans + repayments + interest``, checked here against
a recurrence written out in the test.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from instrument_fakes import Desk, Project, monthly

from sim.instruments import revolving_fund as rf
from sim.instruments.base import Arrangement, Raised

TERMS = rf.RevolvingFund(initial_usd=10e6, recycle_share=0.5, max_loan_share=0.5)


def seeded(terms=TERMS, general_cash=50e6):
    desk = Desk(general_cash=general_cash)
    rf.seed(desk.ledger, desk.general, desk.revolving, terms)
    return desk


def test_seed_moves_the_appropriation_from_the_general_fund_at_month_zero():
    desk = seeded()
    assert desk.balance(desk.revolving) == 10e6
    assert desk.balance(desk.general) == 40e6
    entries = desk.ledger.entries()
    last = entries.iloc[-1]
    assert (last.step, last.kind, last.project) == (0, "transfer", 0)
    desk.ledger.check_balanced()


def test_no_seed_records_nothing():
    desk = Desk(general_cash=1.0)
    n = len(desk.ledger)
    rf.seed(desk.ledger, desk.general, desk.revolving, rf.RevolvingFund())
    assert len(desk.ledger) == n and desk.balance(desk.revolving) == 0.0


def test_the_fund_lends_up_to_its_share_of_the_balance():
    desk = seeded()
    deal = Project(pid=2)
    assert rf.issue(desk, deal, 5e6, TERMS) == Raised(desk.revolving, 5e6)  # exactly 50 %
    arr = deal.arrangements[0]
    assert arr.instrument == "revolving_fund" and arr.revolving_outstanding == 5e6
    assert rf.issue(desk, deal, 1e6, TERMS) is not None  # the fund has not paid out yet
    assert arr.revolving_outstanding == 6e6


def test_a_fund_too_small_refuses_and_creates_no_arrangement():
    desk = seeded()
    deal = Project()
    n = len(desk.ledger)
    assert rf.issue(desk, deal, 5e6 + 1.0, TERMS) is None
    assert deal.arrangements == [] and len(desk.ledger) == n
    empty = Desk()
    assert rf.issue(empty, Project(), 1.0, TERMS) is None


def test_lending_moves_no_money_the_treasury_pays_the_vendor_from_the_fund():
    desk = seeded()
    n = len(desk.ledger)
    raised = rf.issue(desk, Project(), 2e6, TERMS)
    assert len(desk.ledger) == n
    assert raised.account == desk.revolving


def test_repayment_is_the_recycle_share_of_savings_until_the_loan_is_repaid():
    desk = seeded()
    arr = Arrangement("revolving_fund", revolving_outstanding=1000.0)
    fund, general = desk.balance(desk.revolving), desk.balance(desk.general)
    rf.repay(desk, arr, 600.0, 1, 9, TERMS)
    assert arr.revolving_outstanding == pytest.approx(700.0)
    assert desk.balance(desk.revolving) - fund == pytest.approx(300.0)
    assert general - desk.balance(desk.general) == pytest.approx(300.0)
    entry = desk.ledger.entries().iloc[-1]
    assert (entry.kind, entry.project) == ("loan_repayment", 9)
    for t in range(2, 6):
        rf.repay(desk, arr, 600.0, t, 9, TERMS)
    assert arr.revolving_outstanding == 0.0  # 300 + 300 + 300 + 100, then nothing
    assert desk.balance(desk.revolving) - fund == pytest.approx(1000.0)
    n = len(desk.ledger)
    rf.repay(desk, arr, 600.0, 7, 9, TERMS)
    assert len(desk.ledger) == n
    desk.ledger.check_balanced()


def test_a_loss_repays_nothing():
    desk = seeded()
    arr = Arrangement("revolving_fund", revolving_outstanding=1000.0)
    n = len(desk.ledger)
    rf.repay(desk, arr, -250.0, 1, 9, TERMS)
    assert len(desk.ledger) == n and arr.revolving_outstanding == 1000.0


def test_a_project_without_a_loan_repays_nothing():
    desk = seeded()
    n = len(desk.ledger)
    rf.repay(desk, Arrangement("go_bond"), 1e6, 1, 9, TERMS)
    assert len(desk.ledger) == n


def test_idle_cash_earns_the_monthly_equivalent_of_the_deposit_rate():
    desk = seeded()
    rf.earn_interest(desk.ledger, desk.revolving, desk.market, 0.03, 1)
    assert desk.balance(desk.revolving) == pytest.approx(10e6 * (1 + monthly(0.03)))
    entry = desk.ledger.entries().iloc[-1]
    assert (entry.kind, entry.credit_name) == ("interest", "market")
    empty = Desk()
    rf.earn_interest(empty.ledger, empty.revolving, empty.market, 0.03, 1)
    assert len(empty.ledger) == 0


@settings(max_examples=15, deadline=None)
@given(
    st.lists(st.tuples(st.floats(0.0, 4e6), st.floats(-1e5, 5e5)), min_size=1, max_size=24),
    st.floats(0.0, 0.08),
)
def test_the_fund_follows_its_law_of_motion(months, rate):
    desk = seeded()
    vendor = desk.add_vendor()
    arr = Arrangement("revolving_fund")
    deal = Project(arrangements=[arr])
    expected, owed = 10e6, 0.0
    for t, (ask, savings) in enumerate(months, start=1):
        loan = 0.0
        if rf.issue(desk, deal, ask, TERMS) is not None:
            desk.ledger.transfer(t, desk.revolving, vendor.account, ask, "capex", deal.pid)
            loan = ask
        else:
            assert ask > 0.5 * expected
        owed += loan
        repaid = min(owed, 0.5 * max(savings, 0.0))
        owed -= repaid
        rf.repay(desk, arr, savings, t, deal.pid, TERMS)
        interest = (expected - loan + repaid) * monthly(rate)
        rf.earn_interest(desk.ledger, desk.revolving, desk.market, rate, t)
        expected = expected - loan + repaid + max(interest, 0.0)
        assert desk.balance(desk.revolving) == pytest.approx(expected, rel=1e-9)
        assert arr.revolving_outstanding == pytest.approx(owed, abs=1e-6)
    assert desk.balance(desk.revolving) >= 0.0
    desk.ledger.check_balanced()
