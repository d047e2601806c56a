"""The resident population (``agents.population``): how it is drawn, adopts, pays and buys.

Complements ``tests/test_kernels.py`` (kernel twins and directions): here the
population's own bookkeeping is checked against sums computed from its arrays.
"""

import numpy as np
import pytest

from agents.population import Population, _split
from sim.config.schema import Residents, Technology
from sim.core import kernels

POPS = (600_000, 250_000, 150_000)
TECH = Technology(
    user_facing=True,
    bass_p_annual=0.6,  # 0.05 a month
    bass_q_annual=6.0,  # 0.5 a month
    churn_monthly=0.01,
    market_potential=1.0,
)


def make_pop(seed=3, agents=6_000, pops=POPS, districts=4, n_services=2, **params):
    return Population.create(
        np.random.default_rng(seed),
        city_populations=list(pops),
        districts_per_city=districts,
        params=Residents(simulated_agents=agents, **params),
        n_services=n_services,
    )


def adopt(pop, coverage, months=12, fee=0.0, service=0, seed=4):
    rng = np.random.default_rng(seed)
    for _ in range(months):
        out = pop.adoption_step(rng, service, coverage, fee, 1.0, TECH, 1.0, 0.5)
    return out


# --------------------------------------------------------------------------- drawing


def test_split_is_proportional_largest_remainder_with_a_minimum():
    counts = _split(1000, [600, 250, 150], 4)
    assert counts.tolist() == [600, 250, 150]
    counts = _split(10, [1, 1, 1], 1)
    assert counts.sum() == 10 and counts.max() - counts.min() <= 1
    assert _split(10, [1_000_000, 1], 3).tolist() == [10, 3]  # the minimum may add agents


def test_weights_sum_to_each_citys_population():
    pop = make_pop()
    for c, people in enumerate(POPS):
        assert pop.weight[pop.city == c].sum() == pytest.approx(people)
        assert np.unique(pop.weight[pop.city == c]).size == 1  # equal weights within a city
    np.testing.assert_allclose(pop.population_city, POPS)
    np.testing.assert_allclose(pop.population_d.reshape(3, 4).sum(axis=1), POPS)


def test_residents_spread_evenly_over_their_citys_districts():
    pop = make_pop()
    assert pop.n == 6_000
    counts = np.bincount(pop.district, minlength=pop.n_districts).reshape(3, 4)
    assert (counts.max(axis=1) - counts.min(axis=1) <= 1).all()
    np.testing.assert_array_equal(pop.district // 4, pop.city)
    np.testing.assert_array_equal(pop.city_of_district, np.repeat([0, 1, 2], 4))


@pytest.mark.parametrize("median", [30_000.0, 72_000.0, 250_000.0])
def test_weighted_median_income_equals_the_parameter(median):
    pop = make_pop(income_median_annual_usd=median)
    annual = 12 * pop.income_month
    order = np.argsort(annual, kind="stable")
    cum = np.cumsum(pop.weight[order])
    at = order[np.searchsorted(cum, 0.5 * cum[-1])]
    assert annual[at] == pytest.approx(median, rel=1e-12)
    below = pop.weight[annual < median].sum() / pop.weight.sum()
    assert below == pytest.approx(0.5, abs=0.01)


def test_quintiles_are_balanced_by_weight_and_ordered_by_income_within_each_city():
    pop = make_pop()
    for c in range(3):
        in_c = pop.city == c
        shares = np.bincount(pop.quintile[in_c], pop.weight[in_c], 5) / pop.weight[in_c].sum()
        np.testing.assert_allclose(shares, 0.2, atol=1.5 / in_c.sum())
        inc, q = pop.income_month[in_c], pop.quintile[in_c]
        for k in range(4):
            assert inc[q == k].max() <= inc[q == k + 1].min()
    np.testing.assert_array_equal(pop.group_id, pop.district * 5 + pop.quintile)


def test_savings_and_trust_follow_their_parameters():
    pop = make_pop(agents=20_000, savings_months_of_income=6.0, trust_mean=0.7, trust_sd=0.0)
    ratio = pop.savings / pop.income_month
    assert ratio.mean() == pytest.approx(6.0, rel=0.05)
    assert (pop.savings >= 0).all()
    np.testing.assert_allclose(pop.trust, 0.7)
    assert pop.satisfaction.tolist() == [0.5] * pop.n
    assert pop.adopted.shape == pop.potential_u.shape == (2, pop.n)
    assert not pop.adopted.any() and not pop.bonds.any()


def test_group_labels_follow_group_ids():
    pop = make_pop()
    labels = pop.group_labels()
    assert len(labels) == pop.n_groups == 3 * 4 * 5
    assert labels[0] == (0, 0, 0) and labels[23] == (1, 0, 3) and labels[-1] == (2, 3, 4)
    for g in np.unique(pop.group_id):
        c, d, q = labels[g]
        members = pop.group_id == g
        assert (pop.city[members] == c).all() and (pop.district[members] == c * 4 + d).all()
        assert (pop.quintile[members] == q).all()


# --------------------------------------------------------------------------- adoption and fees


def test_adoption_happens_only_where_a_service_covers_the_district():
    pop = make_pop()
    coverage = np.zeros(pop.n_districts)
    coverage[[1, 6]] = 1.0
    out = adopt(pop, coverage)
    covered = np.isin(pop.district, [1, 6])
    assert pop.adopted[0, covered].mean() > 0.2
    assert not pop.adopted[0, ~covered].any()
    assert not pop.adopted[1].any()  # the other service is untouched
    assert set(np.flatnonzero(out)) == {1, 6}
    np.testing.assert_allclose(
        out,
        kernels.group_sums(pop.adopted[0].astype(float), pop.district, pop.weight, pop.n_districts),
    )


def test_an_idle_service_spends_no_draws():
    pop = make_pop()
    rng = np.random.default_rng(0)
    state = rng.bit_generator.state
    out = pop.adoption_step(rng, 1, np.zeros(pop.n_districts), 5.0, 1.0, TECH, 1.0, 0.5)
    assert rng.bit_generator.state == state
    assert not out.any()
    assert not pop.fees_by_group(1, 5.0).any()


def test_fees_by_group_equal_users_by_group_times_the_fee():
    pop = make_pop()
    adopt(pop, np.full(pop.n_districts, 0.8), fee=12.0)
    users = kernels.group_sums(pop.adopted[0].astype(float), pop.group_id, pop.weight, pop.n_groups)
    assert users.sum() > 0
    np.testing.assert_allclose(pop.fees_by_group(0, 12.0), 12.0 * users, rtol=1e-12)
    # before any adoption step, fees come straight from the arrays
    fresh = make_pop()
    fresh.adopted[0, :10] = 1
    fees = fresh.fees_by_group(0, 3.0)
    expected = np.zeros(fresh.n_groups)
    np.add.at(expected, fresh.group_id[:10], 3.0 * fresh.weight[:10])
    np.testing.assert_allclose(fees, expected)


def test_adoption_share_and_quintiles_read_the_arrays():
    pop = make_pop()
    adopt(pop, np.full(pop.n_districts, 1.0), fee=20.0)
    a = pop.adopted[0].astype(float)
    assert pop.adoption_share(0) == pytest.approx((a * pop.weight).sum() / pop.weight.sum())
    by_q = np.bincount(pop.quintile, a * pop.weight, 5) / np.bincount(pop.quintile, pop.weight, 5)
    np.testing.assert_allclose(pop.adoption_by_quintile(0), by_q)
    assert pop.weighted_mean(a) == pytest.approx(pop.adoption_share(0))


def test_district_summary_is_weighted_by_district():
    pop = make_pop()
    s = pop.district_summary()
    assert len(s) == 12
    assert s.city.tolist() == np.repeat([0, 1, 2], 4).tolist()
    d = 5
    in_d = pop.district == d
    assert s.population[d] == pytest.approx(pop.weight[in_d].sum())
    assert s.income_month[d] == pytest.approx(
        np.average(pop.income_month[in_d], weights=pop.weight[in_d])
    )
    assert s.trust[d] == pytest.approx(np.average(pop.trust[in_d], weights=pop.weight[in_d]))


# --------------------------------------------------------------------------- mini-bonds


def offer(pop, *, city=1, supply=5_000.0, cap=10, price=500.0, seed=2):
    return pop.subscribe_minibonds(
        np.random.default_rng(seed),
        city_index=city,
        price=price,
        cap=cap,
        supply_bonds=supply,
        yield_premium=0.04,
        interest_share=0.5,
        arrival_hours=8.0,
        premium_response=100.0,
        offering_hours=720.0,
    )


@pytest.mark.parametrize(("supply", "cap"), [(500.0, 10), (5_000.0, 3), (1e9, 25)])
def test_subscription_respects_supply_and_cap_and_takes_savings(supply, cap):
    pop = make_pop()
    savings = pop.savings.copy()
    sale = offer(pop, supply=supply, cap=cap)
    bought = pop.bonds
    assert sale.bonds_sold > 0
    assert sale.bonds_sold <= supply * (1 + 1e-12)
    assert bought.max() <= cap
    assert not bought[pop.city != 1].any()  # only the issuing city's residents
    np.testing.assert_allclose(savings - pop.savings, bought * 500.0)
    assert (bought * 500.0 <= 0.5 * savings + 1e-9).all()  # at most half one's savings
    assert sale.bonds_sold == pytest.approx(float(bought @ pop.weight))
    assert sale.amount_usd == pytest.approx(500.0 * sale.bonds_sold)
    assert sale.buyers == pytest.approx(pop.weight[bought > 0].sum())
    expected = np.zeros(pop.n_groups)
    np.add.at(expected, pop.group_id, bought * 500.0 * pop.weight)
    np.testing.assert_allclose(sale.by_group, expected)
    assert sale.sold_out == (supply < 1e9)


def test_a_second_offering_adds_to_holdings():
    pop = make_pop()
    first = offer(pop, seed=1)
    held = pop.bonds.copy()
    second = offer(pop, seed=2)
    assert second.bonds_sold > 0
    assert (pop.bonds >= held).all()
    assert float(pop.bonds @ pop.weight) == pytest.approx(first.bonds_sold + second.bonds_sold)


@pytest.mark.parametrize("spread", [0.3, 0.8])
def test_quintiles_rank_income_within_each_city_even_with_ties(spread):
    """Quintiles follow a stable sort of income per city, ties included.

    With ``district_income_spread == income_log_sd`` a district's residents share one
    income, so the log-income order cannot stand in for the sort.
    """
    pop = make_pop(district_income_spread=spread, income_log_sd=0.8)
    want = np.zeros(pop.n, dtype=np.int64)
    for c in range(pop.n_cities):
        idx = np.flatnonzero(pop.city == c)
        idx = idx[np.argsort(pop.income_month[idx], kind="stable")]
        cum = np.cumsum(pop.weight[idx])
        mid = (cum - 0.5 * pop.weight[idx]) / cum[-1]
        want[idx] = np.minimum((mid * 5).astype(np.int64), 4)
    np.testing.assert_array_equal(pop.quintile, want)
