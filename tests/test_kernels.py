"""Tests for the resident kernels (``sim.core.kernels``) and the population (``agents.residents``).

Each numba kernel is checked against its plain-Python twin on the same inputs and
the same seeded generator; behaviour is checked by direction (higher fee, higher q,
no coverage, quality, shocks, first come first served).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.residents import Population
from sim.config.schema import Residents, Technology
from sim.core import kernels

N = 3_000
N_DISTRICTS = 6


def adopt_inputs(seed: int, n: int = N) -> dict:
    """Random inputs for ``adopt`` covering every branch (some districts uncovered)."""
    r = np.random.default_rng(seed)
    district = r.integers(0, N_DISTRICTS, n)
    coverage = r.uniform(0.2, 1.0, N_DISTRICTS)
    coverage[0] = 0.0
    return dict(
        adopted=(r.random(n) < 0.3).astype(np.uint8),
        potential_u=r.random(n),
        district=district,
        city_of_district=np.array([0, 0, 0, 1, 1, 1]),
        afford=kernels.affordability(r.lognormal(np.log(5_000), 0.7, n), 20.0, 1.0),
        trust=r.random(n),
        coverage_d=coverage,
        share_d=r.uniform(0, 0.5, N_DISTRICTS),
        share_city=r.uniform(0, 0.5, 2),
        quality=0.8,
        p=0.03,
        q=0.38,
        churn=0.05,
        market_potential=0.9,
        network_weight_district=0.5,
        weight=np.full(n, 35.0),
        group_id=district,
        adopters_out=np.zeros(N_DISTRICTS),
        potential_out=np.zeros(N_DISTRICTS),
    )


def make_pop(
    seed: int = 1,
    agents: int = 4_000,
    pops: tuple = (700_000, 300_000),
    n_services: int = 2,
    **params,
) -> Population:
    return Population.create(
        np.random.default_rng(seed),
        city_populations=list(pops),
        districts_per_city=5,
        params=Residents(simulated_agents=agents, **params),
        n_services=n_services,
    )


def run_adoption(
    pop: Population,
    months: int,
    *,
    fee: float = 0.0,
    coverage: float = 1.0,
    seed: int = 7,
    tech: Technology | None = None,
    sensitivity: float = 1.0,
):
    tech = tech or Technology(
        user_facing=True,
        bass_p_annual=0.36,  # 0.03 a month
        bass_q_annual=4.8,  # 0.4 a month
        churn_monthly=0.01,
        market_potential=1.0,
    )
    rng = np.random.default_rng(seed)
    cov = np.full(pop.n_districts, coverage)
    for _ in range(months):
        out = pop.adoption_step(rng, 0, cov, fee, 1.0, tech, sensitivity, 0.5)
    return out


# --------------------------------------------------------------------------- twins


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_adopt_matches_twin(seed):
    a, b = adopt_inputs(seed), adopt_inputs(seed)
    rng_a, rng_b = np.random.default_rng(100 + seed), np.random.default_rng(100 + seed)
    for _ in range(3):
        kernels.adopt(**a, rng=rng_a)
        kernels.adopt_py(**b, rng=rng_b)
        np.testing.assert_array_equal(a["adopted"], b["adopted"])
        np.testing.assert_allclose(a["adopters_out"], b["adopters_out"], rtol=1e-12)
        np.testing.assert_allclose(a["potential_out"], b["potential_out"], rtol=1e-12)
        # the kernel's per-district tallies are the adopters and the market after the step
        np.testing.assert_allclose(
            a["adopters_out"], np.bincount(a["district"], a["adopted"] * a["weight"], N_DISTRICTS)
        )
    assert rng_a.random() == rng_b.random()  # one draw per resident in both
    tally = kernels.in_market(
        a["potential_u"],
        a["district"],
        a["afford"],
        a["trust"],
        a["weight"],
        a["quality"],
        a["market_potential"],
        N_DISTRICTS,
    )
    np.testing.assert_allclose(a["potential_out"], tally)


def test_adopt_draws_once_per_random_outcome():
    """One uniform per resident whose outcome is random (covered and in the market)."""
    x = adopt_inputs(3)
    market = x["potential_u"] < x["market_potential"] * x["trust"] * x["quality"] * x["afford"]
    covered = x["coverage_d"][x["district"]] > 0
    expected = int((market & covered).sum())
    assert 0 < expected < N
    rng = np.random.default_rng(3)
    kernels.adopt(**x, rng=rng)
    ref = np.random.default_rng(3)
    ref.random(expected)
    assert rng.random() == ref.random()


def test_in_market_matches_twin_and_counts_the_adoption_test():
    """The Bass potential per district equals the twin's and the adopt kernel's market test."""
    x = adopt_inputs(5)
    weight = np.full(N, 35.0)
    args = (
        x["potential_u"],
        x["district"],
        x["afford"],
        x["trust"],
        weight,
        x["quality"],
        x["market_potential"],
        N_DISTRICTS,
    )
    got = kernels.in_market(*args)
    np.testing.assert_allclose(got, kernels.in_market_py(*args), rtol=1e-12)
    mask = x["potential_u"] < x["market_potential"] * x["trust"] * x["quality"] * x["afford"]
    np.testing.assert_allclose(got, np.bincount(x["district"], mask * weight, N_DISTRICTS))
    income = np.random.default_rng(5).lognormal(np.log(5_000), 0.7, N)
    cheap = kernels.in_market(*args[:2], kernels.affordability(income, 20.0, 1.0), *args[3:])
    dear = kernels.in_market(*args[:2], kernels.affordability(income, 60.0, 1.0), *args[3:])
    assert dear.sum() < cheap.sum()


def test_affordability_known_values():
    """exp(-s * fee / (1 % of income)); free is 1; a paid service without income is 0."""
    income = np.array([1_000.0, 3_000.0, 0.0])
    got = kernels.affordability(income, 10.0, 1.0)
    np.testing.assert_allclose(got, [np.exp(-1.0), np.exp(-1 / 3), 0.0], rtol=1e-12)
    assert (kernels.affordability(income, 0.0, 1.0) == 1.0).all()
    assert kernels.affordability(income, 10.0, 2.0)[0] == pytest.approx(np.exp(-2.0))


def test_group_sums_matches_twin():
    r = np.random.default_rng(4)
    values, weights = r.random(N), r.uniform(1, 50, N)
    groups = r.integers(0, 17, N)
    got = kernels.group_sums(values, groups, weights, 17)
    np.testing.assert_allclose(got, kernels.group_sums_py(values, groups, weights, 17), rtol=1e-12)
    np.testing.assert_allclose(got, np.bincount(groups, values * weights, 17), rtol=1e-12)


def test_weighted_totals_match_twin_and_one_group_sums_to_the_bit():
    r = np.random.default_rng(6)
    x, y, weights = r.random(N), r.lognormal(0, 2, N), r.uniform(1, 50, N)
    one = np.zeros(N, dtype=np.int64)
    got = kernels.weighted_totals(x, y, weights)
    assert got == kernels.weighted_totals_py(x, y, weights)
    assert got == (
        kernels.group_sums(x, one, weights, 1)[0],
        kernels.group_sums(y, one, weights, 1)[0],
    )


def test_satisfaction_matches_twin():
    r = np.random.default_rng(5)
    adopted = (r.random((3, N)) < 0.4).astype(np.uint8)
    quality = np.array([0.9, 0.3, 1.4])
    district = r.integers(0, N_DISTRICTS, N)
    shock = r.uniform(0, 0.05, N_DISTRICTS)
    sat, trust = r.random(N), r.random(N)
    sat2, trust2 = sat.copy(), trust.copy()
    weight = r.uniform(1, 50, N)
    totals = kernels.satisfaction(sat, trust, adopted, quality, district, shock, 0.1, 0.05, weight)
    assert totals == kernels.satisfaction_py(
        sat2, trust2, adopted, quality, district, shock, 0.1, 0.05, weight
    )
    assert totals == kernels.weighted_totals(trust, sat, weight)
    np.testing.assert_array_equal(sat, sat2)
    np.testing.assert_array_equal(trust, trust2)


def subscribe_case(seed: int, n: int = 500):
    r = np.random.default_rng(seed)
    wants = r.integers(0, 60, n)
    weight = np.full(n, r.uniform(1, 40))
    order = np.argsort(r.random(n), kind="stable")
    return order, wants, weight


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 10_000), cap=st.integers(1, 50), supply=st.floats(0.0, 5e5, allow_nan=False)
)
def test_subscribe_matches_twin_and_rules(seed, cap, supply):
    order, wants, weight = subscribe_case(seed)
    bought, n_buyers, last = kernels.subscribe(order, wants, cap, weight, 500.0, supply)
    b2, n2, l2 = kernels.subscribe_py(order, wants, cap, weight, 500.0, supply)
    np.testing.assert_array_equal(bought, b2)
    assert (n_buyers, last) == (n2, l2)
    assert bought @ weight <= supply * (1 + 1e-12)  # never more than supply
    assert np.all(bought <= np.minimum(cap, wants))  # cap and wants respected
    assert n_buyers == int((bought > 0).sum())
    full = np.minimum(cap, wants)[order]
    got = bought[order]
    end = last if last >= 0 else len(order)
    np.testing.assert_array_equal(got[:end], full[:end])  # earlier arrivals fully served
    if last >= 0:
        assert np.all(got[last + 1 :] == 0)  # later arrivals get nothing
        left = supply - got[:last] @ weight[order][:last]
        assert left - got[last] * weight[0] < weight[0] * (1 + 1e-9)  # partial fill


# --------------------------------------------------------------------------- directions


def test_higher_fee_lowers_adoption_most_for_the_poorest():
    free, paid = make_pop(), make_pop()
    run_adoption(free, 24, fee=0.0)
    run_adoption(paid, 24, fee=40.0)
    q_free, q_paid = free.adoption_by_quintile(0), paid.adoption_by_quintile(0)
    assert paid.adoption_share(0) < free.adoption_share(0)
    drop = q_free - q_paid
    assert drop[0] > drop[4]
    assert (q_paid[4] - q_paid[0]) > (q_free[4] - q_free[0]) + 0.1


def test_higher_q_adopts_faster():
    slow, fast = make_pop(), make_pop()
    base = dict(user_facing=True, bass_p_annual=0.12, churn_monthly=0.01, market_potential=1.0)
    run_adoption(slow, 12, tech=Technology(bass_q_annual=1.2, **base))
    run_adoption(fast, 12, tech=Technology(bass_q_annual=9.6, **base))
    assert fast.adoption_share(0) > slow.adoption_share(0) + 0.05


def test_zero_coverage_means_no_adopters_and_churn():
    none = make_pop()
    assert run_adoption(none, 6, coverage=0.0).sum() == 0.0
    pop = make_pop()
    run_adoption(pop, 12)
    assert pop.adoption_share(0) > 0.1
    out = run_adoption(pop, 1, coverage=0.0)
    assert out.sum() == 0.0 and pop.adopted[0].sum() == 0


def test_adoption_step_returns_weighted_adopters_per_district():
    pop = make_pop()
    out = run_adoption(pop, 6)
    np.testing.assert_allclose(
        out, np.bincount(pop.district, pop.adopted[0] * pop.weight, pop.n_districts)
    )
    assert out.sum() == pytest.approx(pop.adoption_share(0) * 1e6)


def test_fees_by_group_add_up():
    pop = make_pop()
    run_adoption(pop, 6, fee=10.0)
    fees = pop.fees_by_group(0, 10.0)
    assert fees.shape == (pop.n_groups,) == (len(pop.group_labels()),)
    assert fees.sum() == pytest.approx(10.0 * pop.adoption_share(0) * 1e6)
    assert pop.group_labels()[7] == (0, 1, 2)


def test_satisfaction_and_trust_follow_quality_and_shocks():
    pop = make_pop()
    pop.adopted[0, :] = 1
    shock = np.zeros(pop.n_districts)
    for _ in range(30):
        pop.satisfaction_step(np.array([0.95, 0.1]), shock, 0.1, 0.05)
    assert pop.satisfaction.mean() > 0.9 and pop.trust.mean() > 0.6
    pop.adopted[0, :] = 0
    pop.adopted[1, :] = 1
    for _ in range(30):
        pop.satisfaction_step(np.array([0.95, 0.1]), shock, 0.1, 0.05)
    assert pop.satisfaction.mean() < 0.2
    before = pop.trust.copy()
    shock[0] = 0.1
    pop.satisfaction_step(np.array([0.95, 0.1]), shock, 0.0, 0.0)
    hit = pop.district == 0
    np.testing.assert_allclose(pop.trust[hit], np.clip(before[hit] - 0.1, 0, 1))
    np.testing.assert_array_equal(pop.trust[~hit], before[~hit])


# --------------------------------------------------------------------------- population


def test_create_weights_quintiles_and_median():
    pop = make_pop(agents=10_000, income_median_annual_usd=60_000.0)
    for c, people in enumerate((700_000, 300_000)):
        in_c = pop.city == c
        assert pop.weight[in_c].sum() == pytest.approx(people)
        shares = np.bincount(pop.quintile[in_c], pop.weight[in_c], 5) / people
        np.testing.assert_allclose(shares, 0.2, atol=0.002)
        assert set(pop.district[in_c] // 5) == {c}
    order = np.argsort(pop.income_month)
    cum = np.cumsum(pop.weight[order]) / pop.weight.sum()
    median = 12 * pop.income_month[order][np.searchsorted(cum, 0.5)]
    assert median == pytest.approx(60_000.0, rel=0.01)
    assert np.std(np.log(pop.income_month)) == pytest.approx(0.7, abs=0.05)
    assert pop.trust.min() >= 0 and pop.trust.max() <= 1
    assert pop.potential_u.shape == pop.adopted.shape == (2, pop.n)
    summary = pop.district_summary()
    assert len(summary) == 10 and summary["population"].sum() == pytest.approx(1e6)


def test_minimum_agents_per_district():
    pop = make_pop(agents=100, pops=(10_000_000, 5_000))
    assert np.bincount(pop.district, minlength=10).min() >= 1


def sale(pop: Population, premium: float, supply: float = 24_000):
    return pop.subscribe_minibonds(
        np.random.default_rng(11),
        city_index=0,
        price=500.0,
        cap=40,
        supply_bonds=supply,
        yield_premium=premium,
        interest_share=0.03,
        arrival_hours=8.0,
        premium_response=100.0,
        offering_hours=720.0,
    )


def test_minibonds_sell_faster_with_higher_premium():
    low, high = sale(make_pop(), 0.01), sale(make_pop(), 0.04)
    assert low.sold_out and high.sold_out
    assert high.sellout_hours < low.sellout_hours


def test_minibond_sale_accounting():
    pop = make_pop()
    savings = pop.savings.copy()
    s = sale(pop, 0.04)
    assert s.bonds_sold <= 24_000 * (1 + 1e-12)
    assert s.amount_usd == pytest.approx(500.0 * s.bonds_sold)
    assert s.by_group.sum() == pytest.approx(s.amount_usd)
    assert (savings - pop.savings) @ pop.weight == pytest.approx(s.amount_usd)
    assert pop.bonds.max() <= 40 and np.all(pop.bonds[pop.city == 1] == 0)
    assert np.all(pop.savings >= 0) and s.buyers > 0
    tiny = sale(make_pop(), 0.0, supply=1e9)
    assert not tiny.sold_out and tiny.sellout_hours == 720.0


def test_same_seed_same_population_and_steps():
    a, b = make_pop(seed=9), make_pop(seed=9)
    for name in (
        "city",
        "district",
        "weight",
        "income_month",
        "savings",
        "trust",
        "quintile",
        "potential_u",
    ):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    np.testing.assert_array_equal(run_adoption(a, 5, fee=5.0), run_adoption(b, 5, fee=5.0))
    np.testing.assert_array_equal(a.adopted, b.adopted)
    sa, sb = sale(a, 0.03), sale(b, 0.03)
    assert (sa.bonds_sold, sa.sellout_hours, sa.buyers) == (
        sb.bonds_sold,
        sb.sellout_hours,
        sb.buyers,
    )
    np.testing.assert_array_equal(sa.by_group, sb.by_group)
    np.testing.assert_array_equal(a.bonds, b.bonds)
    assert not np.array_equal(make_pop(seed=10).income_month, a.income_month)


@pytest.mark.parametrize("services", [3, 18])
def test_satisfaction_table_and_plain_loop_match_the_twin_to_the_bit(services):
    """The tabulated path (<= 16 services) and the plain loop both equal the twin exactly."""
    r = np.random.default_rng(services)
    n = 2_000
    adopted = (r.random((services, n)) < 0.3).astype(np.uint8)
    quality = r.random(services) * 1.2
    district = r.integers(0, 5, n)
    shock = np.array([0.0, 0.01, 0.0, 0.2, 0.0])
    sat, trust = r.random(n), r.random(n)
    sat2, trust2 = sat.copy(), trust.copy()
    weight = r.uniform(1, 50, n)
    totals = kernels.satisfaction(sat, trust, adopted, quality, district, shock, 0.1, 0.05, weight)
    assert totals == kernels.satisfaction_py(
        sat2, trust2, adopted, quality, district, shock, 0.1, 0.05, weight
    )
    assert totals == kernels.weighted_totals(trust, sat, weight)
    assert np.array_equal(sat, sat2) and np.array_equal(trust, trust2)


def test_bass_coefficients_are_annual_and_converted_once():
    from sim.core.kernels import bass_monthly

    assert bass_monthly(0.03, 0.38) == pytest.approx((0.0025, 0.38 / 12))
    # a month at the annual coefficients adopts a twelfth of what the same numbers read
    # as monthly would (the error the review found)
    monthly, annual = make_pop(), make_pop()
    base = dict(user_facing=True, churn_monthly=0.0, market_potential=1.0)
    run_adoption(monthly, 6, tech=Technology(bass_p_annual=0.36, bass_q_annual=0.0, **base))
    run_adoption(annual, 6, tech=Technology(bass_p_annual=0.03, bass_q_annual=0.0, **base))
    assert annual.adoption_share(0) < monthly.adoption_share(0) / 5


@pytest.mark.parametrize("seed", range(5))
def test_shares_match_the_numpy_twin_to_the_bit(seed):
    r = np.random.default_rng(seed)
    n_cities, per = 3, 4
    adopters = r.lognormal(3, 2, n_cities * per)
    potential = adopters * r.uniform(0.5, 3.0, adopters.size)
    potential[r.random(adopters.size) < 0.3] = 0.0
    city_of_district = np.repeat(np.arange(n_cities), per)
    got = kernels.shares(adopters, potential, city_of_district, n_cities)
    want = kernels.shares_py(adopters, potential, city_of_district, n_cities)
    for a, b in zip(got, want, strict=True):
        assert a.tobytes() == b.tobytes()
