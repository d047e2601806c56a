"""Tests for citizen mini-bonds (``sim.instruments.mini_bonds``, MODEL.md F5).

Denver 2014 sold $500 zero-coupon bonds redeemed at $750 after 9 years, a
yield of 4.61 % a year. The offering among residents is a fake that returns a
fixed sale; the tests check the yield it is offered at, the booking of the
sale, the redemption to the buyers' groups in proportion to what each bought,
and the debt's price before maturity.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from instrument_fakes import Desk, Project, annuity

from sim.instruments import mini_bonds as mb
from sim.instruments.base import GENERAL, Raised

DENVER = mb.MiniBonds(
    issue_size_usd=12e6,
    price_usd=500.0,
    maturity_value_usd=750.0,
    term_years=9,
    max_per_person=40,
    offering_days=30,
)
DENVER_YIELD = 1.5 ** (1 / 9) - 1


class Offer:
    """Sells ``by_group`` (USD per group) whatever it is offered, recording the call."""

    def __init__(self, by_group, hours=5.0, buyers=100.0):
        self.by_group = np.asarray(by_group, dtype=float)
        self.hours, self.buyers = hours, buyers
        self.calls = []

    def __call__(self, *, price, cap, supply_bonds, bond_yield, offering_hours):
        self.calls.append(
            dict(
                price=price,
                cap=cap,
                supply_bonds=supply_bonds,
                bond_yield=bond_yield,
                offering_hours=offering_hours,
            )
        )
        amount = float(self.by_group.sum())
        return mb.MiniBondSale(
            bonds_sold=amount / price,
            amount_usd=amount,
            sellout_hours=self.hours,
            sold_out=amount >= supply_bonds * price,
            by_group=self.by_group,
            buyers=self.buyers,
        )


def city_with_groups(n=4, cash_each=1e6, **kw):
    desk = Desk(**kw)
    groups = np.array([desk.ledger.open_account(f"g{i}", "resident") for i in range(n)])
    for g in groups:
        desk.fund(int(g), cash_each)
    return desk, groups


def test_denver_yield_is_4_61_percent():
    assert DENVER_YIELD == pytest.approx(0.0461, abs=5e-5)
    desk, groups = city_with_groups()
    offer = Offer([100_000.0, 0.0, 50_000.0, 0.0])
    mb.issue(desk, Project(), 1e6, 0, DENVER, offer, groups)
    [call] = offer.calls
    assert call["bond_yield"] == pytest.approx(DENVER_YIELD, rel=1e-12)
    assert call == dict(
        price=500.0,
        cap=40,
        supply_bonds=pytest.approx(2000.0),
        bond_yield=call["bond_yield"],
        offering_hours=720.0,
    )
    assert desk.debts[0].rate_annual == pytest.approx(DENVER_YIELD, rel=1e-12)


def test_supply_is_capped_by_the_issue_size():
    desk, groups = city_with_groups()
    offer = Offer([1000.0, 0.0, 0.0, 0.0])
    mb.issue(desk, Project(), 50e6, 0, DENVER, offer, groups)
    assert offer.calls[0]["supply_bonds"] == pytest.approx(12e6 / 500.0)


def test_a_sale_is_booked_from_the_buyers_and_owed_back_as_one_redemption():
    desk, groups = city_with_groups()
    by_group = [300_000.0, 0.0, 100_000.0, 200_000.0]
    deal = Project(pid=8)
    raised, sale = mb.issue(desk, deal, 1e6, 6, DENVER, Offer(by_group), groups)
    assert raised == Raised(desk.general, 600_000.0)
    assert sale.amount_usd == 600_000.0 and sale.bonds_sold == pytest.approx(1200.0)
    assert desk.balance(desk.general) == pytest.approx(600_000.0)
    for g, bought in zip(groups, by_group, strict=True):
        assert desk.balance(int(g)) == pytest.approx(1e6 - bought)
    [d] = desk.debts
    assert isinstance(d, mb.MiniBondDebt)
    assert (d.instrument, d.kind, d.recourse, d.payer, d.start) == (
        "mini_bonds",
        "mini_bond_redemption",
        GENERAL,
        desk.general,
        7,
    )
    assert d.payments.shape == (108,)
    assert np.count_nonzero(d.payments) == 1
    assert d.payments[-1] == pytest.approx(1200.0 * 750.0)
    assert d.due(6 + 108) == pytest.approx(900_000.0)  # 9 years after the sale
    np.testing.assert_array_equal(d.holders, groups[[0, 2, 3]])
    np.testing.assert_allclose(d.shares, [0.5, 1 / 6, 1 / 3])
    assert d.principal == pytest.approx(600_000.0)
    [(noted_deal, event, info)] = desk.notes
    assert noted_deal is deal and event == "minibond_sale"
    assert info == dict(amount=600_000.0, hours=5.0, sold_out=False, buyers=100.0)
    desk.ledger.check_balanced()


def test_redemption_pays_holders_in_proportion_to_what_they_bought():
    desk, groups = city_with_groups(general_cash=5e6)
    by_group = [300_000.0, 0.0, 100_000.0, 200_000.0]
    mb.issue(desk, Project(), 1e6, 0, DENVER, Offer(by_group), groups)
    [d] = desk.debts
    before = np.array([desk.balance(int(g)) for g in groups])
    general = desk.balance(desk.general)
    for t in range(1, 108):
        assert d.pay(desk.ledger, t, -1) == 0.0
    assert desk.balance(desk.general) == general  # nothing before maturity
    assert d.pay(desk.ledger, 108, -1) == 0.0
    gained = np.array([desk.balance(int(g)) for g in groups]) - before
    np.testing.assert_allclose(gained, np.array(by_group) * 1.5, rtol=1e-12)
    assert general - desk.balance(desk.general) == pytest.approx(900_000.0)
    assert d.paid == pytest.approx(900_000.0)
    desk.ledger.check_balanced()


def test_redemption_is_general_recourse_even_from_an_empty_fund():
    desk, groups = city_with_groups()
    mb.issue(desk, Project(), 1e6, 0, DENVER, Offer([1000.0, 1000.0, 0.0, 0.0]), groups)
    [d] = desk.debts
    desk.ledger.transfer(1, desk.general, desk.market, 2000.0, "transfer")
    assert d.pay(desk.ledger, 108, -1) == 0.0
    assert desk.balance(desk.general) == pytest.approx(-3000.0)


def test_the_debt_is_priced_at_its_yield_before_maturity_and_is_zero_after():
    desk, groups = city_with_groups()
    mb.issue(desk, Project(), 1e6, 0, DENVER, Offer([50_000.0, 0, 0, 0]), groups)
    [d] = desk.debts
    maturity = 75_000.0
    assert d.outstanding(0) == pytest.approx(50_000.0, rel=1e-9)  # the price paid
    assert d.outstanding(48) == pytest.approx(maturity / (1 + DENVER_YIELD) ** (60 / 12))
    assert d.outstanding(107) == pytest.approx(maturity / (1 + DENVER_YIELD) ** (1 / 12))
    assert d.outstanding(108) == 0.0
    assert d.outstanding(200) == 0.0
    assert d.outstanding(0) < d.outstanding(48) < d.outstanding(107) < maturity


def test_against_the_cap_it_counts_the_level_service_of_its_principal_until_redeemed():
    desk, groups = city_with_groups()
    mb.issue(desk, Project(), 1e6, 0, DENVER, Offer([50_000.0, 0, 0, 0]), groups)
    [d] = desk.debts
    level = annuity(50_000.0, DENVER_YIELD, 9)  # the measure of the offering's cap test
    assert d.cap_service(12) == pytest.approx(level)
    assert d.cap_service(108) == pytest.approx(level)  # the redemption month
    assert d.cap_service(109) == 0.0  # redeemed: nothing left to count
    assert d.cap_service(239) == 0.0
    assert d.annual_service(12) == 0.0  # while its cash service is nothing until maturity


def test_the_cap_is_asked_about_the_annual_service_of_the_largest_possible_issue():
    desk, groups = city_with_groups()
    mb.issue(desk, Project(), 3e6, 4, DENVER, Offer([1000.0, 0, 0, 0]), groups)
    [(asked, month)] = desk.cap_asks
    assert month == 4
    assert asked == pytest.approx(annuity(3e6, DENVER_YIELD, 9), rel=1e-12)


def test_over_the_cap_there_is_no_offering():
    desk, groups = city_with_groups(cap=annuity(1e6, DENVER_YIELD, 9) * 0.99)
    offer = Offer([1000.0, 0, 0, 0])
    n = len(desk.ledger)
    assert mb.issue(desk, Project(), 1e6, 0, DENVER, offer, groups) == (None, None)
    assert offer.calls == [] and desk.notes == [] and desk.debts == []
    assert len(desk.ledger) == n


def test_an_offering_that_sells_nothing_raises_nothing_but_is_noted():
    desk, groups = city_with_groups()
    n = len(desk.ledger)
    raised, sale = mb.issue(desk, Project(), 1e6, 0, DENVER, Offer([0.0] * 4), groups)
    assert raised is None and sale is not None and sale.amount_usd == 0.0
    assert desk.debts == [] and len(desk.ledger) == n
    assert [e for _, e, _ in desk.notes] == ["minibond_sale"]


def test_zero_coupon_payments_is_one_payment_at_the_end():
    pay = mb.zero_coupon_payments(750.0, 3)
    assert pay.shape == (36,) and pay[-1] == 750.0 and pay[:-1].sum() == 0.0


@settings(max_examples=20, deadline=None)
@given(st.lists(st.integers(0, 400), min_size=2, max_size=6).filter(lambda b: sum(b) > 0))
def test_holders_get_back_what_they_bought_times_maturity_over_price(bonds):
    by_group = np.array(bonds, dtype=float) * 500.0
    desk, groups = city_with_groups(n=len(bonds))
    mb.issue(desk, Project(), 1e8, 0, DENVER, Offer(by_group), groups)
    [d] = desk.debts
    assert d.shares.sum() == pytest.approx(1.0)
    before = np.array([desk.balance(int(g)) for g in groups])
    d.pay(desk.ledger, 108, -1)
    gained = np.array([desk.balance(int(g)) for g in groups]) - before
    np.testing.assert_allclose(gained, np.array(bonds) * 750.0, rtol=1e-9, atol=1e-6)
    desk.ledger.check_balanced()
