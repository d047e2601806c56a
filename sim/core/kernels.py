"""Numba kernels over the resident arrays, each with a plain-Python reference twin.

The resident population (:mod:`agents.residents`) is a struct of arrays; these
kernels update it one month at a time. Every kernel ``name`` is compiled with
``@njit(cache=True)`` (no fastmath, so floating point follows IEEE like CPython)
and has a twin ``name_py`` running the same loop in plain Python. The twin is
the specification: tests check that both give the same result for the same
inputs and the same random draws (MODEL.md, "Residents").

Randomness: a kernel that needs it takes a ``np.random.Generator`` and draws
``rng.random()`` inside the loop. Numba reproduces NumPy's stream and advances
the generator's state, so a kernel and its twin called with generators seeded
alike draw the same numbers. Draw discipline: exactly one ``rng.random()`` per
resident per call, whatever branch the resident takes, so the number of draws
never depends on the state.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# --------------------------------------------------------------------------- adoption


def bass_monthly(p_annual: float, q_annual: float) -> tuple[float, float]:
    """Monthly Bass coefficients from annual ones (the one place they are converted).

    The literature's p and q are rates per year of the continuous Bass model
    ``dF/dt = (p + q F)(1 - F)``; a month is a twelfth of a year, so the
    monthly rates are ``p / 12`` and ``q / 12`` (the kernel's monthly adoption
    probability is ``c (p + q F)``).

    Args:
        p_annual: Innovation coefficient per year.
        q_annual: Imitation coefficient per year.

    Returns:
        (p, q) per month.
    """
    return p_annual / 12.0, q_annual / 12.0


@njit(cache=True)
def _clip01(x: float) -> float:
    """Clip a probability to [0, 1]."""
    return min(max(x, 0.0), 1.0)


def _clip01_py(x: float) -> float:
    return min(max(x, 0.0), 1.0)


def affordability(
    income_month: np.ndarray,
    fee_month: float,
    price_sensitivity: float,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Affordability of a fee per resident: ``exp(-sensitivity * fee / (1 % of income))``.

    A fee of 1 % of monthly income gives e^-1 at sensitivity 1; a free service is
    affordable to everyone (1) and a paid one to no one without income (0). One
    vectorised pass (NumPy's SIMD ``exp``), shared by :func:`adopt`, :func:`in_market`
    and their twins, so the kernels' loops hold no transcendental function.

    Args:
        income_month: Monthly income per resident (USD).
        fee_month: Fee per user per month (USD).
        price_sensitivity: Elasticity of adoption to the fee as a share of income.
        out: Optional array to write into.

    Returns:
        Affordability per resident, in [0, 1].
    """
    out = np.empty_like(income_month) if out is None else out
    if fee_month <= 0.0:
        out[:] = 1.0
        return out
    with np.errstate(divide="ignore"):
        np.divide(-price_sensitivity * fee_month / 0.01, income_month, out=out)
    if income_month.size and income_month.min() <= 0.0:  # rare: mask only without income
        out[income_month <= 0.0] = -np.inf
    return np.exp(out, out=out)


@njit(cache=True)
def adopt(
    adopted,
    potential_u,
    district,
    city_of_district,
    afford,
    trust,
    coverage_d,
    share_d,
    share_city,
    quality,
    p,
    q,
    churn,
    market_potential,
    network_weight_district,
    rng,
    weight,
    group_id,
    adopters_out,
    potential_out,
):
    """One month of Bass diffusion with churn for one service, in place.

    A resident is in the market when ``potential_u[i] < market_potential * trust[i] *
    min(quality, 1) * a_i`` with the fee's affordability ``a_i`` (:func:`affordability`).
    A non-adopter in the market whose district has coverage ``c > 0`` adopts with
    probability ``c * (p + q * F)``, where ``F`` mixes the adopter share of the own
    district and of the city with weight ``network_weight_district``. An adopter churns
    with probability ``churn * (1 + max(0, 1 - quality))``, and always when coverage is 0
    or the resident left the market. Probabilities are clipped to [0, 1]; one
    ``rng.random()`` is drawn for each resident whose outcome is random (an adopter still
    covered and in the market, or a covered non-adopter in the market), so a service few
    can use costs few draws. The loop holds no transcendental function.

    Args:
        adopted: uint8 adoption state per resident (updated in place).
        potential_u: Fixed per-resident uniform of the market-potential test.
        district: Global district index per resident.
        city_of_district: City index per global district.
        afford: Affordability of the fee per resident (:func:`affordability`).
        trust: Trust in the city per resident, in [0, 1].
        coverage_d: Share of each district covered by the service, in [0, 1].
        share_d: Weighted adopter share per district before the step.
        share_city: Weighted adopter share per city before the step.
        quality: Realised service quality (1 = as claimed).
        p: Bass innovation coefficient (per month).
        q: Bass imitation coefficient (per month).
        churn: Base monthly churn probability.
        market_potential: Share of residents for whom the service is relevant.
        network_weight_district: Weight of the own district in the network effect.
        rng: ``np.random.Generator``, drawn once per resident whose outcome is random.
        weight: People each simulated resident stands for.
        group_id: Tally group per resident (e.g. district x 5 + income quintile).
        adopters_out: Filled with the weighted adopters per group after the step.
        potential_out: Filled with the weighted residents in the market per district (the
            Bass potential; the next step's share denominator), from this same pass.
    """
    q_cap = min(quality, 1.0)
    p_churn = _clip01(churn * (1.0 + max(0.0, 1.0 - quality)))
    w = network_weight_district
    adopters_out[:] = 0.0
    potential_out[:] = 0.0
    for i in range(adopted.shape[0]):
        d = district[i]
        c = coverage_d[d]
        in_market = potential_u[i] < market_potential * trust[i] * q_cap * afford[i]
        # a draw only where the outcome is random (the twin draws at the same places)
        if adopted[i] != 0:
            if c <= 0.0 or not in_market or rng.random() < p_churn:
                adopted[i] = 0
        elif in_market and c > 0.0:
            f = w * share_d[d] + (1.0 - w) * share_city[city_of_district[d]]
            if rng.random() < _clip01(c * (p + q * f)):
                adopted[i] = 1
        if in_market:
            potential_out[d] += weight[i]
        if adopted[i] != 0:
            adopters_out[group_id[i]] += weight[i]


def adopt_py(
    adopted,
    potential_u,
    district,
    city_of_district,
    afford,
    trust,
    coverage_d,
    share_d,
    share_city,
    quality,
    p,
    q,
    churn,
    market_potential,
    network_weight_district,
    rng,
    weight,
    group_id,
    adopters_out,
    potential_out,
):
    """Plain-Python twin of :func:`adopt` (same loop, same draws).

    Args:
        adopted: See :func:`adopt`.
        potential_u: See :func:`adopt`.
        district: See :func:`adopt`.
        city_of_district: See :func:`adopt`.
        afford: See :func:`adopt`.
        trust: See :func:`adopt`.
        coverage_d: See :func:`adopt`.
        share_d: See :func:`adopt`.
        share_city: See :func:`adopt`.
        quality: See :func:`adopt`.
        p: See :func:`adopt`.
        q: See :func:`adopt`.
        churn: See :func:`adopt`.
        market_potential: See :func:`adopt`.
        network_weight_district: See :func:`adopt`.
        rng: See :func:`adopt`.
        weight: See :func:`adopt`.
        group_id: See :func:`adopt`.
        adopters_out: See :func:`adopt`.
        potential_out: See :func:`adopt`.
    """
    q_cap = min(quality, 1.0)
    p_churn = _clip01_py(churn * (1.0 + max(0.0, 1.0 - quality)))
    w = network_weight_district
    adopters_out[:] = 0.0
    potential_out[:] = 0.0
    for i in range(adopted.shape[0]):
        d = district[i]
        c = coverage_d[d]
        in_market = potential_u[i] < market_potential * trust[i] * q_cap * afford[i]
        # a draw only where the outcome is random (the twin draws at the same places)
        if adopted[i] != 0:
            if c <= 0.0 or not in_market or rng.random() < p_churn:
                adopted[i] = 0
        elif in_market and c > 0.0:
            f = w * share_d[d] + (1.0 - w) * share_city[city_of_district[d]]
            if rng.random() < _clip01_py(c * (p + q * f)):
                adopted[i] = 1
        if in_market:
            potential_out[d] += weight[i]
        if adopted[i] != 0:
            adopters_out[group_id[i]] += weight[i]


@njit(cache=True)
def shares(adopters_d, potential_d, city_of_district, n_cities):
    """Adopters' share of the Bass potential per district and per city (at most 1).

    The share is 0 where there is no potential; a city's adopters and potential are
    its districts' summed in district order (as ``np.bincount``), so the bits are
    those of :func:`shares_py`, the NumPy version.

    Args:
        adopters_d: Weighted adopters per district.
        potential_d: Weighted residents in the market per district.
        city_of_district: City index per district.
        n_cities: Number of cities.

    Returns:
        (share per district, share per city).
    """
    n = adopters_d.shape[0]
    share_d = np.zeros(n)
    adopters_c = np.zeros(n_cities)
    potential_c = np.zeros(n_cities)
    for d in range(n):
        if potential_d[d] > 0:
            share_d[d] = min(1.0, adopters_d[d] / potential_d[d])
        adopters_c[city_of_district[d]] += adopters_d[d]
        potential_c[city_of_district[d]] += potential_d[d]
    share_city = np.zeros(n_cities)
    for c in range(n_cities):
        if potential_c[c] > 0:
            share_city[c] = min(1.0, adopters_c[c] / potential_c[c])
    return share_d, share_city


def shares_py(adopters_d, potential_d, city_of_district, n_cities):
    """NumPy twin of :func:`shares` (what the population computed before the kernel).

    Args:
        adopters_d: See :func:`shares`.
        potential_d: See :func:`shares`.
        city_of_district: See :func:`shares`.
        n_cities: See :func:`shares`.

    Returns:
        (share per district, share per city).
    """

    def share(adopters, potential):
        ratio = np.divide(adopters, potential, out=np.zeros_like(adopters), where=potential > 0)
        return np.minimum(1.0, ratio)

    return share(adopters_d, potential_d), share(
        np.bincount(city_of_district, adopters_d, n_cities),
        np.bincount(city_of_district, potential_d, n_cities),
    )


# --------------------------------------------------------------------------- group sums


@njit(cache=True)
def in_market(potential_u, district, afford, trust, weight, quality, market_potential, n_districts):
    """Weighted residents per district who pass the market-potential test of :func:`adopt`.

    Args:
        potential_u: Fixed per-resident uniform of the market-potential test.
        district: Global district index per resident.
        afford: Affordability of the fee per resident (:func:`affordability`).
        trust: Trust in the city per resident, in [0, 1].
        weight: People each simulated resident stands for.
        quality: Realised service quality (1 = as claimed).
        market_potential: Share of residents for whom the service is relevant.
        n_districts: Number of districts.

    Returns:
        float64 array of weighted in-market residents per district (the Bass potential).
    """
    out = np.zeros(n_districts)
    q_cap = min(quality, 1.0)
    for i in range(potential_u.shape[0]):
        if potential_u[i] < market_potential * trust[i] * q_cap * afford[i]:  # adopt's test
            out[district[i]] += weight[i]
    return out


def in_market_py(
    potential_u, district, afford, trust, weight, quality, market_potential, n_districts
):
    """Plain-Python twin of :func:`in_market`."""
    out = np.zeros(n_districts)
    q_cap = min(quality, 1.0)
    for i in range(potential_u.shape[0]):
        if potential_u[i] < market_potential * trust[i] * q_cap * afford[i]:  # adopt's test
            out[district[i]] += weight[i]
    return out


@njit(cache=True)
def group_sums(values, groups, weights, n_groups):
    """Sum ``values * weights`` per group.

    Args:
        values: Value per resident (any numeric dtype).
        groups: Group index per resident, in ``[0, n_groups)``.
        weights: Weight per resident (people each simulated resident stands for).
        n_groups: Number of groups.

    Returns:
        float64 array of length ``n_groups``.
    """
    out = np.zeros(n_groups, dtype=np.float64)
    for i in range(values.shape[0]):
        out[groups[i]] += values[i] * weights[i]
    return out


def group_sums_py(values, groups, weights, n_groups):
    """Plain-Python twin of :func:`group_sums`.

    Args:
        values: See :func:`group_sums`.
        groups: See :func:`group_sums`.
        weights: See :func:`group_sums`.
        n_groups: See :func:`group_sums`.

    Returns:
        float64 array of length ``n_groups``.
    """
    out = [0.0] * n_groups
    for i in range(len(values)):
        out[groups[i]] += float(values[i]) * float(weights[i])
    return np.array(out, dtype=np.float64)


@njit(cache=True)
def weighted_totals(x, y, weights):
    """Sums of ``x * weights`` and of ``y * weights`` in one sequential pass.

    Each sum runs in resident order from 0.0, so it has the bits of
    :func:`group_sums` with one group, at a fraction of the time: the running
    totals stay in registers and the two chains overlap.

    Args:
        x: Value per resident.
        y: Another value per resident.
        weights: Weight per resident.

    Returns:
        (total of x, total of y), both weighted.
    """
    tx = 0.0
    ty = 0.0
    for i in range(weights.shape[0]):
        tx += x[i] * weights[i]
        ty += y[i] * weights[i]
    return tx, ty


def weighted_totals_py(x, y, weights):
    """Plain-Python twin of :func:`weighted_totals`.

    Args:
        x: See :func:`weighted_totals`.
        y: See :func:`weighted_totals`.
        weights: See :func:`weighted_totals`.

    Returns:
        (total of x, total of y), both weighted.
    """
    tx = 0.0
    ty = 0.0
    for i in range(len(weights)):
        tx += float(x[i]) * float(weights[i])
        ty += float(y[i]) * float(weights[i])
    return tx, ty


# --------------------------------------------------------------------------- satisfaction


@njit(cache=True)
def satisfaction(
    satisfaction, trust, adopted_2d, quality, district, district_shock, rate, trust_response, weight
):
    """Move satisfaction toward service quality and trust toward satisfaction, in place.

    The target of resident ``i`` is the mean of ``quality`` (clipped to [0, 1]) over the
    services ``i`` has adopted, or a neutral 0.5 with none; ``satisfaction += rate *
    (target - satisfaction)``. Then ``trust += trust_response * (satisfaction - trust) -
    district_shock[district[i]]``, clipped to [0, 1]. Deterministic. The same pass
    totals the new trust and satisfaction weighted by ``weight``, in resident order from
    0.0 (the bits of :func:`weighted_totals` on the updated arrays).

    Args:
        satisfaction: Satisfaction per resident, in [0, 1] (updated in place).
        trust: Trust per resident, in [0, 1] (updated in place).
        adopted_2d: uint8 adoption state, shape (n_services, N).
        quality: Realised quality per service.
        district: Global district index per resident.
        district_shock: Trust lost this month per district (>= 0, from incidents).
        rate: Monthly speed at which satisfaction follows quality.
        trust_response: Monthly speed at which trust follows satisfaction.
        weight: People each simulated resident stands for.

    Returns:
        (weighted total of trust, weighted total of satisfaction) after the update.
    """
    n_services = adopted_2d.shape[0]
    trust_total = 0.0
    sat_total = 0.0
    if n_services > 16:  # too many patterns to tabulate: the plain loop
        for i in range(satisfaction.shape[0]):
            total = 0.0
            count = 0
            for s in range(n_services):
                if adopted_2d[s, i] != 0:
                    total += _clip01(quality[s])
                    count += 1
            target = total / count if count > 0 else 0.5
            sat = satisfaction[i] + rate * (target - satisfaction[i])
            satisfaction[i] = sat
            t = _clip01(trust[i] + trust_response * (sat - trust[i]) - district_shock[district[i]])
            trust[i] = t
            trust_total += t * weight[i]
            sat_total += sat * weight[i]
        return trust_total, sat_total
    # the target depends only on which services a resident uses: tabulate it per pattern
    # (the same sums in the same order as the twin, so the same bits) and look it up
    table = np.empty(1 << n_services)
    for pattern in range(table.shape[0]):
        total = 0.0
        count = 0
        for s in range(n_services):
            if pattern >> s & 1:
                total += _clip01(quality[s])
                count += 1
        table[pattern] = total / count if count > 0 else 0.5
    # each resident's pattern, one service row at a time (a pass the compiler vectorises)
    n = satisfaction.shape[0]
    patterns = np.zeros(n, np.int64)
    for s in range(n_services):
        row = adopted_2d[s]
        for i in range(n):
            if row[i] != 0:
                patterns[i] |= 1 << s
    for i in range(n):
        target = table[patterns[i]]
        sat = satisfaction[i] + rate * (target - satisfaction[i])
        satisfaction[i] = sat
        t = _clip01(trust[i] + trust_response * (sat - trust[i]) - district_shock[district[i]])
        trust[i] = t
        trust_total += t * weight[i]
        sat_total += sat * weight[i]
    return trust_total, sat_total


def satisfaction_py(
    satisfaction, trust, adopted_2d, quality, district, district_shock, rate, trust_response, weight
):
    """Plain-Python twin of :func:`satisfaction`.

    Args:
        satisfaction: See :func:`satisfaction`.
        trust: See :func:`satisfaction`.
        adopted_2d: See :func:`satisfaction`.
        quality: See :func:`satisfaction`.
        district: See :func:`satisfaction`.
        district_shock: See :func:`satisfaction`.
        rate: See :func:`satisfaction`.
        trust_response: See :func:`satisfaction`.
        weight: See :func:`satisfaction`.

    Returns:
        (weighted total of trust, weighted total of satisfaction) after the update.
    """
    n_services = adopted_2d.shape[0]
    trust_total = 0.0
    sat_total = 0.0
    for i in range(satisfaction.shape[0]):
        total = 0.0
        count = 0
        for s in range(n_services):
            if adopted_2d[s, i] != 0:
                total += _clip01_py(quality[s])
                count += 1
        target = total / count if count > 0 else 0.5
        sat = satisfaction[i] + rate * (target - satisfaction[i])
        satisfaction[i] = sat
        t = _clip01_py(trust[i] + trust_response * (sat - trust[i]) - district_shock[district[i]])
        trust[i] = t
        trust_total += float(t) * float(weight[i])
        sat_total += float(sat) * float(weight[i])
    return trust_total, sat_total


# --------------------------------------------------------------------------- subscription


@njit(cache=True)
def subscribe(order, wants, cap, weight, price, supply_bonds):
    """First-come-first-served allocation of a bond issue (mini-bonds, F5).

    Residents are served in ``order``; each orders ``min(cap, wants[i])`` simulated bonds,
    i.e. ``bonds * weight[i]`` real bonds. When an order exceeds the real supply left, the
    resident gets the whole number of simulated bonds that still fits (rounded down) and
    the sale stops there. ``price`` does not change the allocation (orders are already
    in bonds); it is part of the signature so callers pass the sale's terms together.

    Args:
        order: Resident indices sorted by arrival time.
        wants: Simulated bonds each resident wants (int).
        cap: Largest order per person, in bonds.
        weight: People each simulated resident stands for.
        price: Price of one bond (USD); not used by the allocation.
        supply_bonds: Real bonds on offer.

    Returns:
        ``(bought, n_buyers, last_index)``: int32 simulated bonds bought per resident,
        the number of simulated residents who bought, and the position in ``order`` at
        which supply ran out (-1 if it never did).
    """
    bought = np.zeros(wants.shape[0], dtype=np.int32)
    left = float(supply_bonds)
    n_buyers = 0
    last_index = -1
    for k in range(order.shape[0]):
        i = order[k]
        n = min(cap, wants[i])
        if n <= 0:
            continue
        w = weight[i]
        if n * w < left:
            bought[i] = n
            left -= n * w
            n_buyers += 1
            continue
        fill = min(n, int(math.floor(left / w)))
        while fill > 0 and fill * w > left:  # guard against rounding up in left / w
            fill -= 1
        if fill > 0:
            bought[i] = fill
            n_buyers += 1
        last_index = k
        break
    return bought, n_buyers, last_index


def subscribe_py(order, wants, cap, weight, price, supply_bonds):
    """Plain-Python twin of :func:`subscribe`.

    Args:
        order: See :func:`subscribe`.
        wants: See :func:`subscribe`.
        cap: See :func:`subscribe`.
        weight: See :func:`subscribe`.
        price: See :func:`subscribe`.
        supply_bonds: See :func:`subscribe`.

    Returns:
        ``(bought, n_buyers, last_index)`` as :func:`subscribe`.
    """
    bought = np.zeros(len(wants), dtype=np.int32)
    left = float(supply_bonds)
    n_buyers = 0
    last_index = -1
    for k in range(len(order)):
        i = order[k]
        n = min(int(cap), int(wants[i]))
        if n <= 0:
            continue
        w = float(weight[i])
        if n * w < left:
            bought[i] = n
            left -= n * w
            n_buyers += 1
            continue
        fill = min(n, int(math.floor(left / w)))
        while fill > 0 and fill * w > left:
            fill -= 1
        if fill > 0:
            bought[i] = fill
            n_buyers += 1
        last_index = k
        break
    return bought, n_buyers, last_index
