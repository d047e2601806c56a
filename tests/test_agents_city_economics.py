"""A city's per-unit projections (``agents.city.economics``) on the default catalogue."""

import math

import pytest

from agents.city.economics import EXPECTED_UPTAKE, Economics
from sim.config.schema import Technology, World
from sim.instruments.base import pv_monthly
from sim.mechanisms.lifecycle import Project

WORLD = World()
CAT = WORLD.technology
ECON = Economics(700_000, WORLD)


def project(domain, price=None, tech=None):
    tech = tech or CAT[domain]
    pr = Project(1, "city", domain, tech, ECON.units_for(tech))
    pr.price_per_unit = tech.capex_per_unit_usd if price is None else price
    return pr


def test_units_cover_the_city():
    assert ECON.units_for(CAT["streetlights"]) == pytest.approx(57.0 * 700)
    assert ECON.units_for(CAT["maas"]) == pytest.approx(0.2 * 700)
    assert Economics(1_400_000, WORLD).units_for(CAT["water"]) == pytest.approx(
        2 * ECON.units_for(CAT["water"])
    )


def test_users_per_unit_is_the_expected_uptake_of_the_potential():
    maas = CAT["maas"]
    users = maas.market_potential * EXPECTED_UPTAKE * 700_000
    assert ECON.users_per_unit(maas) == pytest.approx(users / (0.2 * 700))
    # the same whatever the city's size: units scale with residents
    assert Economics(50_000, WORLD).users_per_unit(maas) == pytest.approx(ECON.users_per_unit(maas))


@pytest.mark.parametrize(
    ("domain", "cash"),
    [
        ("maas", 30.0 * 0.12 * 0.3 * 1000 / 0.2),  # user fees: fee x users per unit
        ("wifi", 140.0),  # advertising: the nominal benefit
        ("traffic", 0.0),  # time saved: no cash
        ("streetlights", 14.0),  # energy savings
        ("water", 4.5),  # leakage avoided
    ],
)
def test_cash_per_unit_by_benefit_type(domain, cash):
    assert ECON.cash_per_unit(CAT[domain]) == pytest.approx(cash)


def test_welfare_per_unit_is_time_saved_plus_value_to_users():
    assert ECON.welfare_per_unit(CAT["traffic"]) == pytest.approx(900.0)
    assert ECON.welfare_per_unit(CAT["streetlights"]) == 0.0
    assert ECON.welfare_per_unit(CAT["maas"]) == pytest.approx(
        25.0 * ECON.users_per_unit(CAT["maas"])
    )
    wifi = CAT["wifi"]
    assert ECON.welfare_per_unit(wifi) == pytest.approx(4.0 * ECON.users_per_unit(wifi))
    both = Technology(
        benefit_type="time_saved",
        benefit_per_unit_month_usd=50.0,
        user_facing=True,
        welfare_per_user_month_usd=2.0,
    )
    assert ECON.welfare_per_unit(both) == pytest.approx(50.0 + 2.0 * ECON.users_per_unit(both))


def test_om_per_unit_adds_the_vendors_margin():
    assert ECON.margin == WORLD.vendors.margin == 0.15
    assert ECON.om_per_unit(CAT["buildings"]) == pytest.approx(400.0 * 1.15)


def test_expected_cash_is_performance_times_cash_less_om():
    pr = project("water")
    assert ECON.expected_cash_month(pr, 1000.0, 0.8) == pytest.approx(
        1000.0 * (4.5 * 0.8 - 0.6 * 1.15)
    )
    assert ECON.expected_cash_month(pr, 0.0, 0.8) == 0.0
    assert ECON.expected_cash_month(project("traffic"), 10.0, 1.0) == pytest.approx(
        -10.0 * 120.0 * 1.15
    )


@pytest.mark.parametrize(
    "domain", ["streetlights", "water", "buildings", "maas", "wifi", "traffic"]
)
def test_break_even_is_where_scaling_npv_is_zero(domain):
    pr = project(domain)
    tech = pr.tech
    life = int(tech.lifetime_years * 12)
    theta = ECON.break_even(pr)
    benefit = pv_monthly(
        ECON.cash_per_unit(tech) + ECON.welfare_per_unit(tech),
        WORLD.macro.discount_rate_annual,
        life,
    )
    opex = pv_monthly(ECON.om_per_unit(tech), WORLD.macro.discount_rate_annual, life)
    assert theta > 0
    assert theta * benefit - pr.price_per_unit - opex == pytest.approx(0.0, abs=1e-6 * benefit)


def test_break_even_rises_with_the_price_and_is_infinite_without_benefit():
    cheap, dear = project("streetlights", price=500.0), project("streetlights", price=1500.0)
    assert ECON.break_even(dear) > ECON.break_even(cheap)
    nothing = Technology(benefit_type="energy", benefit_per_unit_month_usd=0.0)
    assert math.isinf(ECON.break_even(project("x", tech=nothing)))
