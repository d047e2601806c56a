"""Investors (``agents.investor``): required returns, guarantees, defaults and capital.

Yields are checked against the world's municipal curve read directly from the
scenario (10- and 20-year tenors), so the decomposition curve + shift + premium
(+ revenue spread) is explicit.
"""

import pytest

from agents.investor import KINDS
from sim.model.api import resolve
from sim.model.model import AllianceModel

SMALL = {"world.residents.simulated_agents": 2000}


def model(**overrides):
    return AllianceModel(resolve("alliance", {**SMALL, **overrides}), seed=0, months=12)


def test_kinds_cycle_and_each_investor_holds_its_capital():
    m = model(**{"world.investors.count": 7, "world.investors.capital_usd": 2e9})
    assert [i.kind for i in m.investors] == [KINDS[k % 3] for k in range(7)]
    assert m.investors[4].name == "investor4_bank"
    for inv in m.investors:
        assert m.ledger.balance(inv.account) == pytest.approx(2e9)
        assert (inv.capital, inv.invested, inv.premium, inv.defaults_seen) == (2e9, 0.0, 0.0, 0)


def test_bond_yield_is_curve_plus_shift_plus_premium_plus_revenue_spread():
    m = model(**{"world.rates.shift_bp": 50.0, "world.rates.revenue_bond_spread_bp": 80.0})
    rates = m.scenario.world.rates
    inv = m.investors[0]
    assert inv.bond_yield("AA", 10) == pytest.approx(rates.yields_10y["AA"] + 0.005)
    assert inv.bond_yield("Baa", 20) == pytest.approx(rates.yields_20y["Baa"] + 0.005)
    mid = (rates.yields_10y["A"] + rates.yields_20y["A"]) / 2
    assert inv.bond_yield("A", 15) == pytest.approx(mid + 0.005)
    assert inv.bond_yield("AA", 10, revenue=True) == pytest.approx(
        rates.yields_10y["AA"] + 0.005 + 0.008
    )
    inv.premium = 0.012
    assert inv.bond_yield("AA", 10) == pytest.approx(rates.yields_10y["AA"] + 0.005 + 0.012)
    assert inv.bond_yield("AA", 10, revenue=True) == pytest.approx(
        rates.yields_10y["AA"] + 0.005 + 0.012 + 0.008
    )


def test_rate_shock_moves_every_yield_from_its_month():
    m = model(**{"world.stress.rate_shock_bp": 200.0, "world.stress.rate_shock_month": 3})
    inv = m.investors[0]
    before = inv.bond_yield("AA", 10)
    m.market.advance(3)
    assert inv.bond_yield("AA", 10) == pytest.approx(before + 0.02)
    assert inv.project_debt_rate() == pytest.approx(m.scenario.world.rates.bank_rate_annual + 0.02)


def test_a_guarantee_removes_the_covered_share_of_the_premium():
    m = model()
    inv = m.investors[0]
    base = inv.bond_yield("AA", 20)
    spread = m.scenario.world.rates.revenue_bond_spread_bp / 1e4
    assert inv.bond_yield("AA", 20, covered_share=0.7) == pytest.approx(base)  # no premium yet
    assert inv.bond_yield("AA", 20, revenue=True, covered_share=0.25) == pytest.approx(
        base + 0.75 * spread
    )
    assert inv.bond_yield("AA", 20, revenue=True, covered_share=1.0) == pytest.approx(base)
    inv.premium = 0.01
    assert inv.bond_yield("AA", 20, revenue=True, covered_share=0.5) == pytest.approx(
        base + 0.5 * (0.01 + spread)
    )


def test_equity_return_adds_the_demand_premium_less_its_covered_share():
    m = model(
        **{"world.rates.equity_irr_required": 0.11, "world.investors.risk_premium_demand": 0.04}
    )
    inv = m.investors[2]
    assert inv.equity_return(demand_risk=False) == pytest.approx(0.11)
    assert inv.equity_return(demand_risk=True) == pytest.approx(0.15)
    assert inv.equity_return(demand_risk=True, covered_share=0.5) == pytest.approx(0.13)
    inv.premium = 0.01
    assert inv.equity_return(demand_risk=False) == pytest.approx(0.12)
    assert inv.project_debt_rate() == pytest.approx(m.scenario.world.rates.bank_rate_annual + 0.01)


def test_a_default_raises_the_premium_of_every_price():
    m = model(**{"world.investors.risk_premium_per_default": 0.004})
    inv = m.investors[0]
    y0, d0, e0 = (
        inv.bond_yield("AA", 10),
        inv.project_debt_rate(),
        inv.equity_return(demand_risk=False),
    )
    inv.observe_default("revenue_bond")
    inv.observe_default("vendor")
    assert inv.defaults_seen == 2
    assert inv.premium == pytest.approx(0.008)
    assert inv.bond_yield("AA", 10) == pytest.approx(y0 + 0.008)
    assert inv.project_debt_rate() == pytest.approx(d0 + 0.008)
    assert inv.equity_return(demand_risk=False) == pytest.approx(e0 + 0.008)


def test_the_premium_decays_monthly_to_the_annual_rate():
    m = model(**{"world.investors.premium_decay_annual": 0.3})
    inv = m.investors[1]
    inv.premium = 0.02
    inv.step()
    assert inv.premium == pytest.approx(0.02 * 0.7 ** (1 / 12))
    for _ in range(11):
        inv.step()
    assert inv.premium == pytest.approx(0.02 * 0.7)
    assert inv.defaults_seen == 0  # memory of the count stays


def test_no_decay_keeps_the_premium():
    m = model(**{"world.investors.premium_decay_annual": 0.0})
    inv = m.investors[0]
    inv.observe_default("tif")
    for _ in range(24):
        inv.step()
    assert inv.premium == pytest.approx(m.scenario.world.investors.risk_premium_per_default)


def test_capital_limits_what_an_investor_can_take():
    m = model(**{"world.investors.capital_usd": 1e8})
    inv = m.investors[0]
    assert inv.can_invest(1e8)
    assert not inv.can_invest(1e8 + 1)
    inv.invested = 6e7
    assert inv.can_invest(4e7)
    assert not inv.can_invest(4e7 + 1)


def test_the_model_tells_every_investor_of_a_vendor_exit():
    m = model()
    m.vendors[0].exit(0)
    m.book(m.vendors[0].outbox.drain())
    per = m.scenario.world.investors.risk_premium_per_default
    assert all(i.defaults_seen == 1 and i.premium == pytest.approx(per) for i in m.investors)
