"""Tests for energy-performance contracts (``sim.instruments.performance``, MODEL.md F8).

Guaranteed savings: the vendor pays the month's shortfall below 80 % of the
savings it claimed. Shared savings: an ESCO funds and runs the equipment and
takes a share of the verified savings, signing only if that share pays back
the equipment and the O&M at its cost of capital.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from instrument_fakes import Desk, Project, Tech, monthly

from sim.instruments import performance as perf
from sim.instruments.base import Arrangement

COC = 0.08


def setup(benefit="energy", **vendor):
    desk = Desk(general_cash=1e6)
    v = desk.add_vendor(**vendor)
    deal = Project(
        pid=4,
        tech=Tech(benefit_type=benefit, opex_per_unit_month_usd=2.0, lifetime_years=15.0),
        units=200.0,
        claim=0.9,
    )
    return desk, v, deal


def pv(amount, months, coc=COC):
    r = monthly(coc)
    return sum(amount / (1 + r) ** k for k in range(1, months + 1))


# ---------------------------------------------------------------- guaranteed savings


@pytest.mark.parametrize(
    "contract, benefit, expected",
    [
        ("guaranteed_savings", "energy", True),
        ("guaranteed_savings", "leakage", True),
        ("guaranteed_savings", "advertising", False),
        ("guaranteed_savings", "welfare", False),
        ("none", "energy", False),
        ("shared_savings", "energy", False),
    ],
)
def test_guaranteed_savings_applies_only_to_savings_domains(contract, benefit, expected):
    assert perf.guarantees_savings(contract, benefit) is expected


def test_the_penalty_is_the_shortfall_below_eighty_percent_of_claimed_savings():
    desk, v, deal = setup()
    guaranteed = 200.0 * 10.0 * 0.9 * 0.8  # units x nominal x claim x 80 %
    verified = 1000.0
    perf.shortfall_penalty(desk, deal, v, verified, nominal_per_unit=10.0, t=3, share=0.8)
    assert desk.balance(desk.general) - 1e6 == pytest.approx(guaranteed - verified)
    assert desk.balance(v.account) == pytest.approx(-(guaranteed - verified))
    entry = desk.ledger.entries().iloc[-1]
    assert (entry.step, entry.kind, entry.project) == (3, "penalty", 4)
    desk.ledger.check_balanced()


def test_no_penalty_when_the_savings_reach_the_guarantee():
    desk, v, deal = setup()
    n = len(desk.ledger)
    for verified in (1440.0, 1500.0, 1e6):
        perf.shortfall_penalty(desk, deal, v, verified, 10.0, 3, 0.8)
    assert len(desk.ledger) == n


@settings(max_examples=30, deadline=None)
@given(st.floats(-1e4, 1e5), st.floats(0.0, 100.0), st.floats(0.0, 1.5))
def test_savings_plus_penalty_never_fall_below_the_guarantee(verified, nominal, claim):
    desk, v, deal = setup()
    deal.claim = claim
    perf.shortfall_penalty(desk, deal, v, verified, nominal, 0, 0.8)
    penalty = desk.balance(desk.general) - 1e6
    guaranteed = deal.units * nominal * claim * 0.8
    assert penalty == pytest.approx(max(guaranteed - verified, 0.0), abs=1e-6)
    assert verified + penalty >= guaranteed - 1e-6


# ---------------------------------------------------------------- shared savings


def test_the_esco_takes_its_share_of_positive_savings():
    arr = Arrangement("shared_savings", owner="vendor", vendor_share=0.7)
    take = perf.partner_take(arr)
    assert take(1000.0) == pytest.approx(700.0)
    assert take(-300.0) == 0.0  # the city keeps a loss
    cash = np.array([100.0, -5.0, 40.0])
    np.testing.assert_allclose(take(cash), [70.0, 0.0, 28.0])


def test_no_esco_take_for_other_instruments_or_without_a_share():
    assert perf.partner_take(Arrangement("shared_savings", vendor_share=0.0)) is None
    assert perf.partner_take(Arrangement("revenue_share", vendor_share=0.5)) is None
    assert perf.partner_take(Arrangement("go_bond")) is None


def test_open_shared_signs_when_the_share_pays_back_equipment_and_om():
    desk, v, deal = setup(unit_cost=800.0, claim=1.0, domain="streetlights")
    months = 12 * 12
    needed = 800.0 + pv(2.0, months)
    cash = needed / pv(0.6, months) * 1.001  # just enough at the ESCO's own claim
    arr = perf.open_shared(desk, deal, v, 24, 0.6, 12, COC, cash)
    assert arr is not None and deal.arrangements == [arr]
    assert (arr.instrument, arr.owner, arr.vendor_share, arr.term_end) == (
        "shared_savings",
        "vendor",
        0.6,
        24 + 144,
    )
    assert len(desk.ledger) == 1  # signing moves no money (only the general fund's seed)


def test_open_shared_counts_the_om_the_esco_pays():
    # the share covers the equipment but not the equipment and the O&M
    desk, v, deal = setup(unit_cost=800.0, claim=1.0)
    months = 144
    cash = 800.0 / pv(0.6, months) * 1.01
    assert 800.0 <= pv(0.6 * cash, months) < 800.0 + pv(2.0, months)
    assert perf.open_shared(desk, deal, v, 0, 0.6, 12, COC, cash) is None
    assert deal.arrangements == []


def test_open_shared_values_the_deal_on_the_escos_own_claim():
    months = 144
    cash = (800.0 + pv(2.0, months)) / pv(0.6, months) * 1.05
    desk, v, deal = setup(unit_cost=800.0, claim=1.0)
    assert perf.open_shared(desk, deal, v, 0, 0.6, 12, COC, cash) is not None
    desk, v, deal = setup(unit_cost=800.0, claim=0.9)  # a more modest claim
    assert perf.open_shared(desk, deal, v, 0, 0.6, 12, COC, cash) is None


def test_open_shared_pays_at_most_over_the_equipments_life():
    months_life = 5 * 12
    cash = (800.0 + pv(2.0, months_life)) / pv(0.6, months_life) * 0.9
    desk, v, deal = setup(unit_cost=800.0, claim=1.0)
    deal.tech.lifetime_years = 5.0
    assert perf.open_shared(desk, deal, v, 0, 0.6, 12, COC, cash) is None
    deal.tech.lifetime_years = 15.0  # the same cash over the full 12-year term pays
    assert perf.open_shared(desk, deal, v, 0, 0.6, 12, COC, cash) is not None


@pytest.mark.parametrize("benefit", ["advertising", "user_fees", "welfare"])
def test_shared_savings_needs_verified_savings(benefit):
    desk, v, deal = setup(benefit=benefit)
    assert perf.open_shared(desk, deal, v, 0, 0.6, 12, COC, 1e6) is None


def test_the_guaranteed_share_sets_the_floor():
    desk, v, deal = setup()
    perf.shortfall_penalty(desk, deal, v, 0.0, 10.0, 3, share=0.5)
    assert desk.balance(desk.general) - 1e6 == pytest.approx(200.0 * 10.0 * 0.9 * 0.5)
