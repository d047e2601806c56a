"""A city's debt book (``agents.city.debt_book``): the cap's debt service and paying debts.

Debts are built by hand on a bare ledger so that each one's recourse, schedule
and payer balance are chosen for the case at hand.
"""

import numpy as np
import pytest

from agents.city.debt_book import DebtBook
from sim.core import finance
from sim.core.ledger import Ledger
from sim.instruments.base import GENERAL, Debt, new_debt
from sim.instruments.mini_bonds import MiniBondDebt, zero_coupon_payments


class Deal:
    def __init__(self, pid):
        self.pid = pid


def ledger():
    led = Ledger(capacity=256)
    for name in ("general", "project", "tif", "vehicle", "lender", "vendor", "market"):
        led.open_account(name, "city")
    led.transfer(0, "market", "general", 1e6, "transfer")
    return led


def level(pid, instrument, recourse, monthly=1_000.0, months=24, start=1, payer=0, payee=4):
    return Debt(
        pid,
        instrument,
        payer,
        payee,
        start,
        np.full(months, monthly),
        monthly * months,
        0.05,
        recourse,
    )


def minibond(pid=9, principal=1e6, years=9, start=1):
    rate = finance.zero_coupon_yield(500.0, 750.0, years)
    base = new_debt(
        Deal(pid),
        "mini_bonds",
        0,
        -1,
        start - 1,
        zero_coupon_payments(1.5 * principal, years),
        principal,
        rate,
        GENERAL,
        "mini_bond_redemption",
    )
    return MiniBondDebt(
        **vars(base),
        holders=np.array([5, 6]),
        shares=np.array([0.25, 0.75]),
        cap_annual=float(finance.annuity_payment(principal, rate, years)),
    )


def test_existing_service_keeps_pace_with_the_budget():
    book = DebtBook(1_000.0)
    assert book.existing_service(1.0) == 1_000.0
    assert book.existing_service(1.1) == pytest.approx(1_100.0)
    assert book.annual_service(0, 1.1) == pytest.approx(12 * 1_100.0)


def test_cap_service_counts_general_debts_over_the_next_twelve_months():
    book = DebtBook(1_000.0)
    book.add(level(1, "go_bond", GENERAL, monthly=500.0, months=18, start=1))  # issued at 0
    assert book.annual_service(0, 1.0) == pytest.approx(12_000 + 12 * 500.0)  # months 1..12
    assert book.annual_service(12, 1.0) == pytest.approx(12_000 + 7 * 500.0)  # months 12..18
    assert book.annual_service(19, 1.0) == pytest.approx(12_000)
    assert DebtBook(1_000.0).annual_service(19, 1.2) == pytest.approx(1.2 * 12_000)


@pytest.mark.parametrize(
    ("instrument", "recourse"), [("revenue_bond", "project"), ("tif", "tif"), ("ppp", "vehicle")]
)
def test_debts_without_recourse_to_the_city_do_not_count(instrument, recourse):
    book = DebtBook(0.0)
    book.add(level(1, instrument, recourse, monthly=10_000.0))
    assert book.annual_service(0, 1.0) == 0.0
    book.add(level(2, "vendor_loan", GENERAL, monthly=100.0))
    assert book.annual_service(0, 1.0) == pytest.approx(1_200.0)


def test_mini_bonds_count_their_level_principal_service_until_redeemed():
    """A zero coupon pays nothing for years; the cap counts its principal's level service."""
    book = DebtBook(0.0)
    debt = book.add(minibond(principal=1e6, years=9))
    assert debt.annual_service(0) == 0.0  # nothing due in the next twelve months
    expected = finance.annuity_payment(1e6, debt.rate_annual, 9)
    assert book.annual_service(0, 1.0) == pytest.approx(expected)
    assert book.annual_service(100, 1.0) == pytest.approx(expected)
    assert book.annual_service(200, 1.0) == 0.0  # redeemed at month 108


def test_the_cap_service_is_recomputed_when_a_debt_is_added_or_the_month_moves():
    book = DebtBook(0.0)
    assert book.annual_service(0, 1.0) == 0.0
    book.add(level(1, "go_bond", GENERAL, monthly=100.0, months=6))
    assert book.annual_service(0, 1.0) == pytest.approx(600.0)
    assert book.annual_service(4, 1.0) == pytest.approx(300.0)  # instalments 4, 5, 6


def test_of_project_filters_by_project_and_instrument():
    book = DebtBook(0.0)
    a = book.add(level(1, "revenue_bond", "project"))
    b = book.add(level(1, "revenue_bond", "project"))
    book.add(level(1, "go_bond", GENERAL))
    book.add(level(2, "revenue_bond", "project"))
    assert book.of_project(1, "revenue_bond") == [a, b]
    assert book.of_project(3, "go_bond") == []


def test_pay_pays_general_debts_in_full_even_into_the_red():
    led = ledger()
    book = DebtBook(0.0)
    debt = book.add(level(1, "go_bond", GENERAL, monthly=2e6))
    assert book.pay(led, 1, {}) == []
    assert led.balance("general") == pytest.approx(1e6 - 2e6)
    assert led.balance("lender") == pytest.approx(2e6)
    assert debt.paid == pytest.approx(2e6) and not debt.defaulted


def test_a_default_is_reported_once_and_the_unpaid_part_accumulates():
    led = ledger()
    led.transfer(0, "market", "project", 600.0, "transfer")
    book = DebtBook(0.0)
    debt = book.add(level(5, "revenue_bond", "project", monthly=1_000.0, payer=1))
    (first,) = book.pay(led, 1, {})
    assert first[0] is debt and first[1] == pytest.approx(400.0)
    assert debt.defaulted and debt.unpaid == pytest.approx(400.0)
    assert led.balance("project") == 0.0 and led.balance("lender") == pytest.approx(600.0)
    assert led.balance("general") == pytest.approx(1e6)  # no recourse to the general fund
    assert book.pay(led, 2, {}) == []  # still short, no longer news
    assert debt.unpaid == pytest.approx(1_400.0)


def test_a_fully_paid_project_debt_does_not_default():
    led = ledger()
    led.transfer(0, "market", "tif", 5_000.0, "transfer")
    book = DebtBook(0.0)
    debt = book.add(level(5, "tif", "tif", monthly=1_000.0, payer=2))
    for t in range(1, 6):
        assert book.pay(led, t, {}) == []
    assert not debt.defaulted and debt.paid == pytest.approx(5_000.0)
    assert len(book.pay(led, 6, {})) == 1


def test_pay_redirects_payees_and_skips_the_excluded_instrument():
    led = ledger()
    book = DebtBook(0.0)
    book.add(level(1, "vendor_loan", GENERAL, monthly=100.0, payee=5))
    book.add(level(2, "revenue_bond", "project", monthly=1_000.0, payer=1))
    assert book.pay(led, 1, {5: 6}, exclude="revenue_bond") == []
    assert led.balance("vendor") == 0.0
    assert led.balance("market") == pytest.approx(-1e6 + 100.0)  # the exited vendor's claim
    assert led.balance("project") == 0.0 and led.balance("lender") == 0.0


def test_mini_bonds_are_redeemed_to_their_holders_at_maturity():
    led = Ledger(capacity=64)
    for name in ("general", "x1", "x2", "x3", "x4", "q1", "q2"):
        led.open_account(name, "city")
    book = DebtBook(0.0)
    debt = book.add(minibond(principal=1e6, years=1, start=1))
    for t in range(1, 12):
        book.pay(led, t, {})
    assert led.balance("q1") == 0.0
    book.pay(led, 12, {})
    assert led.balance("q1") == pytest.approx(0.25 * 1.5e6)
    assert led.balance("q2") == pytest.approx(0.75 * 1.5e6)
    assert debt.paid == pytest.approx(1.5e6)
