"""The residents agent (``agents.residents``): monthly step, fees and users by city, mini-bonds.

A two-city world (``central`` and a smaller ``north``, three districts each) is
built and the residents are stepped directly with chosen coverage, so which
rows and districts each reader returns is unambiguous.
"""

import numpy as np
import pytest

from sim.model.api import resolve
from sim.model.model import AllianceModel

TWO_CITIES = {
    "world.residents.simulated_agents": 3000,
    "world.region.districts_per_city": 3,
    "world.cities.north": {"population": 200_000, "general_revenue_annual_usd": 3e8},
    # app-like adoption speeds (per year), so a few months show users everywhere covered
    "world.technology.maas.bass_p_annual": 0.36,
    "world.technology.maas.bass_q_annual": 4.56,
    "world.technology.wifi.bass_p_annual": 0.36,
    "world.technology.wifi.bass_q_annual": 3.6,
}
NORTH = slice(3, 6)


def model(seed=0, **overrides):
    return AllianceModel(resolve("alliance", {**TWO_CITIES, **overrides}), seed=seed, months=12)


def step(m, maas=(), wifi=(), months=6, quality=1.0, income=1.0):
    """Step the residents with maas / wifi covering the given global districts."""
    n = m.population.n_districts
    cov = [np.zeros(n), np.zeros(n)]
    cov[0][list(maas)] = 1.0
    cov[1][list(wifi)] = 1.0
    for _ in range(months):
        m.residents.step(cov, np.array([quality, quality]), income)


def test_the_services_are_the_user_facing_domains():
    m = model()
    r = m.residents
    assert r.services == [d for d, t in m.scenario.world.technology.items() if t.user_facing]
    assert r.services == ["maas", "wifi"]
    assert r.service("wifi") == 1
    assert r.fees.shape == (2, m.population.n_groups) and r.users.shape == (2, 6)
    assert r.stream is m.rng_residents


def test_adoption_only_where_covered_and_users_in_reads_the_right_rows():
    m = model()
    step(m, maas=[3, 4], months=24)
    r = m.residents
    assert r.users[0, [3, 4]].min() > 0
    assert not r.users[0, [0, 1, 2, 5]].any()
    assert not r.users[1].any()  # wifi covers nothing
    assert r.users_in(NORTH, "maas") == pytest.approx(r.users[0, 3:6].sum())
    assert r.users_in(NORTH, "maas") == pytest.approx(
        float(m.population.adopted[0] @ (m.population.weight * (m.population.city == 1)))
    )
    assert r.users_in(slice(0, 3), "maas") == 0.0
    assert r.users_in(NORTH, "wifi") == 0.0


def test_fees_by_group_equal_users_times_the_fee_and_fees_of_reads_the_citys_groups():
    m = model()
    step(m, maas=[0, 4], wifi=[0, 4])
    r = m.residents
    fee = m.scenario.world.technology["maas"].fee_per_user_month_usd
    pop = m.population
    users = np.bincount(pop.group_id, pop.adopted[0] * pop.weight, pop.n_groups)
    np.testing.assert_allclose(r.fees[0], fee * users, rtol=1e-12)
    north = m.layout.city_groups(1)
    np.testing.assert_array_equal(r.fees_of(north, "maas"), r.fees[0, north])
    assert r.fees_of(north, "maas").sum() == pytest.approx(fee * r.users_in(NORTH, "maas"))
    central = m.layout.city_groups(0)
    assert r.fees_of(central, "maas").sum() == pytest.approx(fee * r.users_in(slice(0, 3), "maas"))
    assert r.users_in(NORTH, "wifi") > 0
    assert not r.fees_of(north, "wifi").any()  # wi-fi is free: advertising pays


def test_incomes_follow_the_index_without_compounding():
    m = model()
    income0 = m.residents.income0.copy()
    step(m, months=3, income=1.1)
    np.testing.assert_allclose(m.population.income_month, income0 * 1.1)
    step(m, months=1, income=0.9)
    np.testing.assert_allclose(m.population.income_month, income0 * 0.9)


def test_an_incident_costs_trust_in_the_covered_districts_once():
    m = model(**{"world.residents.incident_trust_loss": 0.2, "world.residents.trust_response": 0.0})
    pop = m.population
    trust = pop.trust.copy()
    covered = np.array([False, True, False])
    m.residents.incident(NORTH, covered)
    np.testing.assert_allclose(m.residents.shock, [0, 0, 0, 0, 0.2, 0])
    step(m, months=1)
    hit = pop.district == 4
    np.testing.assert_allclose(pop.trust[hit], np.clip(trust[hit] - 0.2, 0, 1))
    np.testing.assert_array_equal(pop.trust[~hit], trust[~hit])
    assert not m.residents.shock.any()  # applied once, then cleared
    step(m, months=1)
    np.testing.assert_allclose(pop.trust[hit], np.clip(trust[hit] - 0.2, 0, 1))


def test_minibond_offer_prices_the_premium_over_savings():
    """The residents pass bond yield minus the savings rate to the population's sale."""
    a, b = model(seed=4), model(seed=4)
    res = a.scenario.world.residents
    sale = a.residents.offer_minibonds(
        city_index=1,
        price=500.0,
        cap=40,
        supply_bonds=2_000.0,
        bond_yield=0.045,
        offering_hours=720.0,
    )
    same = b.population.subscribe_minibonds(
        b.rng_residents,
        city_index=1,
        price=500.0,
        cap=40,
        supply_bonds=2_000.0,
        yield_premium=0.045 - res.savings_rate_annual,
        interest_share=res.minibond_interest_share,
        arrival_hours=res.minibond_arrival_hours,
        premium_response=res.minibond_premium_response,
        offering_hours=720.0,
    )
    assert sale.bonds_sold > 0
    assert (sale.bonds_sold, sale.sellout_hours, sale.buyers) == (
        same.bonds_sold,
        same.sellout_hours,
        same.buyers,
    )
    np.testing.assert_array_equal(sale.by_group, same.by_group)


def test_minibond_offer_never_exceeds_supply_or_the_cap_and_takes_savings():
    m = model(**{"world.residents.minibond_interest_share": 0.5})
    pop = m.population
    savings = pop.savings.copy()
    sale = m.residents.offer_minibonds(
        city_index=1,
        price=500.0,
        cap=5,
        supply_bonds=3_000.0,
        bond_yield=0.04,
        offering_hours=720.0,
    )
    assert sale.sold_out
    assert 0 < sale.bonds_sold <= 3_000.0
    assert pop.bonds.max() <= 5
    assert not pop.bonds[pop.city == 0].any()
    np.testing.assert_allclose(savings - pop.savings, 500.0 * pop.bonds)
    north = m.layout.city_groups(1)
    assert sale.by_group[north].sum() == pytest.approx(sale.amount_usd)
