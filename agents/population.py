"""The resident population: a struct of arrays updated by :mod:`sim.core.kernels`.

N simulated residents stand for the region's people; resident ``i`` carries
``weight[i] = city population / simulated residents of that city`` (MODEL.md,
"Residents"). Every money or count this module reports is weighted, i.e. in real
people or real USD. All randomness comes from the ``np.random.Generator`` passed
to each method; there is no global RNG.

Districts are numbered globally, ``district = city_index * districts_per_city +
local_district``; fee and welfare groups are ``district * 5 + quintile``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from sim.core import kernels
from sim.instruments.mini_bonds import MiniBondSale
from sim.mechanisms.land import N_QUINTILES

if TYPE_CHECKING:
    from sim.config.schema import Residents as ResidentParams
    from sim.config.schema import Technology


def _split(total: int, populations: list[int], minimum: int) -> np.ndarray:
    """Split ``total`` agents in proportion to ``populations`` (largest remainder), >= minimum."""
    pop = np.asarray(populations, dtype=np.float64)
    exact = total * pop / pop.sum()
    counts = np.floor(exact).astype(np.int64)
    short = total - int(counts.sum())
    counts[np.argsort(-(exact - counts), kind="stable")[:short]] += 1
    return np.maximum(counts, minimum)


def _weighted_median(x: np.ndarray, w: np.ndarray, order: np.ndarray) -> float:
    """Weighted median of ``x``, given ``order = np.argsort(x, kind="stable")``."""
    cum = np.cumsum(w[order])
    return float(x[order][np.searchsorted(cum, 0.5 * cum[-1])])


class Population:
    """Struct of arrays for the simulated residents; build it with :meth:`create`."""

    def __init__(
        self,
        *,
        city: np.ndarray,
        district: np.ndarray,
        weight: np.ndarray,
        income_month: np.ndarray,
        savings: np.ndarray,
        trust: np.ndarray,
        quintile: np.ndarray,
        potential_u: np.ndarray,
        n_cities: int,
        districts_per_city: int,
    ) -> None:
        self.city = city
        self.district = district
        self.weight = weight
        self.income_month = income_month
        self.savings = savings
        self.trust = trust
        self.quintile = quintile
        self.potential_u = potential_u
        self.n_cities = n_cities
        self.districts_per_city = districts_per_city
        self.n_districts = n_cities * districts_per_city
        self.n = city.shape[0]
        self.adopted = np.zeros(potential_u.shape, dtype=np.uint8)
        self._adopters_d: dict[int, np.ndarray] = {}
        self._potential_d: dict[int, np.ndarray] = {}
        self._by_group: dict[int, np.ndarray] = {}
        self._afford = np.empty(self.n)  # reused buffer for the fee's affordability
        self.satisfaction = np.full(self.n, 0.5)
        self.bonds = np.zeros(self.n, dtype=np.int32)
        self.city_of_district = np.repeat(np.arange(n_cities, dtype=np.int64), districts_per_city)
        self.group_id = district * N_QUINTILES + quintile
        self.population_d = kernels.group_sums(np.ones(self.n), district, weight, self.n_districts)
        self.population_city = kernels.group_sums(np.ones(self.n), city, weight, n_cities)
        self.people = float(self.population_city.sum())  # the region's real residents
        # weighted means as of the last satisfaction step (the only step that moves them)
        self.trust_mean, self.satisfaction_mean = self.weighted_means(trust, self.satisfaction)

    @classmethod
    def create(
        cls,
        rng: np.random.Generator,
        *,
        city_populations: list[int],
        districts_per_city: int,
        params: ResidentParams,
        n_services: int,
    ) -> Population:
        """Draw a population for the region.

        ``params.simulated_agents`` are split across cities in proportion to population
        (at least one per district) and spread evenly over each city's districts.
        Log income = district mean (sd ``district_income_spread``) + individual noise
        (sd ``sqrt(income_log_sd^2 - district_income_spread^2)``, 0 if negative), so the
        total sd is ``income_log_sd``; incomes are then rescaled so the weighted median
        equals ``income_median_annual_usd`` exactly. Savings are exponential with mean
        ``savings_months_of_income`` monthly incomes; trust is Normal clipped to [0, 1];
        quintiles (0 = poorest) are by weighted income within each city.

        Args:
            rng: Source of all random draws.
            city_populations: Real population of each city.
            districts_per_city: Districts in every city.
            params: The residents' block of the scenario.
            n_services: User-facing services tracked (rows of ``adopted``).

        Returns:
            The new population.
        """
        d_per = districts_per_city
        counts = _split(params.simulated_agents, city_populations, d_per)
        n_cities = len(city_populations)
        city = np.repeat(np.arange(n_cities, dtype=np.int64), counts)
        local = np.concatenate([np.arange(c, dtype=np.int64) % d_per for c in counts])
        district = city * d_per + local
        weight = (np.asarray(city_populations, dtype=np.float64) / counts)[city]
        n = city.shape[0]

        district_mean = rng.normal(0.0, params.district_income_spread, n_cities * d_per)
        within_sd = np.sqrt(max(params.income_log_sd**2 - params.district_income_spread**2, 0.0))
        log_income = district_mean[district] + rng.normal(0.0, within_sd, n)
        order = np.argsort(log_income, kind="stable")
        log_income += np.log(params.income_median_annual_usd) - _weighted_median(
            log_income, weight, order
        )
        income_month = np.exp(log_income) / 12.0
        savings = rng.exponential(params.savings_months_of_income, n) * income_month
        trust = np.clip(rng.normal(params.trust_mean, params.trust_sd, n), 0.0, 1.0)
        potential_u = rng.random((n_services, n))

        quintile = np.zeros(n, dtype=np.int64)
        for c in range(n_cities):
            # the log-income order is the income order unless incomes tie (then sort again)
            idx = order[city[order] == c]
            ranked = income_month[idx]
            if not (ranked[1:] > ranked[:-1]).all():
                idx = np.flatnonzero(city == c)
                idx = idx[np.argsort(income_month[idx], kind="stable")]
            cum = np.cumsum(weight[idx])
            mid = (cum - 0.5 * weight[idx]) / cum[-1]
            quintile[idx] = np.minimum((mid * N_QUINTILES).astype(np.int64), N_QUINTILES - 1)

        return cls(
            city=city,
            district=district,
            weight=weight,
            income_month=income_month,
            savings=savings,
            trust=trust,
            quintile=quintile,
            potential_u=potential_u,
            n_cities=n_cities,
            districts_per_city=d_per,
        )

    # ------------------------------------------------------------------ adoption

    def adoption_step(
        self,
        rng: np.random.Generator,
        service: int,
        coverage_d: np.ndarray,
        fee_month: float,
        quality: float,
        tech: Technology,
        price_sensitivity: float,
        network_weight_district: float,
    ) -> np.ndarray:
        """Advance adoption of one service by a month (Bass diffusion with churn).

        Args:
            rng: Source of the one uniform drawn per resident.
            service: Row of ``adopted`` (service index).
            coverage_d: Coverage per global district, in [0, 1].
            fee_month: Fee per user per month (USD).
            quality: Realised service quality (1 = as claimed).
            tech: The technology (Bass p and q, churn, market potential).
            price_sensitivity: Elasticity of adoption to the fee as a share of income.
            network_weight_district: Weight of the own district in network effects.

        Returns:
            Weighted adopters per global district after the step.
        """
        row = self.adopted[service]
        adopters_d = self._adopters_d.get(service)
        if adopters_d is None:
            adopters_d = kernels.group_sums(row, self.district, self.weight, self.n_districts)
        coverage_d = np.asarray(coverage_d, dtype=np.float64)
        if not coverage_d.any() and not adopters_d.any():
            return adopters_d  # no service and no users: nothing can change (no draws spent)
        # Bass: imitation acts on the adopters' share of the residents in the market (the
        # potential), counted in the previous step's pass (one step is a month)
        afford = kernels.affordability(
            self.income_month, float(fee_month), float(price_sensitivity), out=self._afford
        )
        potential_d = self._potential_d.get(service)
        if potential_d is None:
            potential_d = kernels.in_market(
                self.potential_u[service],
                self.district,
                afford,
                self.trust,
                self.weight,
                float(quality),
                tech.market_potential,
                self.n_districts,
            )
        share_d, share_city = kernels.shares(
            adopters_d, potential_d, self.city_of_district, self.n_cities
        )
        by_group, potential_d = np.empty(self.n_groups), np.empty(self.n_districts)
        kernels.adopt(
            row,
            self.potential_u[service],
            self.district,
            self.city_of_district,
            afford,
            self.trust,
            coverage_d,
            share_d,
            share_city,
            float(quality),
            *kernels.bass_monthly(tech.bass_p_annual, tech.bass_q_annual),
            tech.churn_monthly,
            tech.market_potential,
            float(network_weight_district),
            rng,
            self.weight,
            self.group_id,
            by_group,
            potential_d,
        )
        adopters_d = by_group.reshape(self.n_districts, N_QUINTILES).sum(axis=1)
        self._by_group[service] = by_group  # only this method changes ``adopted``
        self._adopters_d[service] = adopters_d
        self._potential_d[service] = potential_d
        return adopters_d

    @property
    def n_groups(self) -> int:
        """Number of (district, income quintile) groups."""
        return self.n_districts * N_QUINTILES

    def group_labels(self) -> list[tuple[int, int, int]]:
        """(city index, local district, quintile) of every group, in group-id order."""
        return [
            (d // self.districts_per_city, d % self.districts_per_city, k)
            for d in range(self.n_districts)
            for k in range(N_QUINTILES)
        ]

    def fees_by_group(self, service: int, fee_month: float) -> np.ndarray:
        """Weighted monthly fees paid per (district, quintile) group for one service (USD)."""
        if service in self._by_group:  # the adoption kernel tallied users by group
            return self._by_group[service] * float(fee_month)
        if service in self._adopters_d:  # idle service, never adopted
            return np.zeros(self.n_groups)
        fees = self.adopted[service] * float(fee_month)
        return kernels.group_sums(fees, self.group_id, self.weight, self.n_groups)

    def adoption_by_quintile(self, service: int) -> np.ndarray:
        """Weighted adoption share of one service per income quintile (all cities)."""
        if service in self._by_group:
            users = self._by_group[service].reshape(-1, N_QUINTILES).sum(axis=0)
        else:
            users = kernels.group_sums(
                self.adopted[service], self.quintile, self.weight, N_QUINTILES
            )
        if getattr(self, "_people_q", None) is None:  # constant: weights and quintiles never move
            self._people_q = kernels.group_sums(
                np.ones(self.n), self.quintile, self.weight, N_QUINTILES
            )
        return users / self._people_q

    def weighted_mean(self, values: np.ndarray) -> float:
        """Weighted mean over residents (one sequential pass: the same bits on any machine)."""
        if getattr(self, "_one_group", None) is None:
            self._one_group = np.zeros(self.n, dtype=np.int64)
        total = kernels.group_sums(values, self._one_group, self.weight, 1)[0]
        return float(total / self.people)

    def weighted_means(self, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        """Weighted means of two resident arrays in one pass (the bits of :meth:`weighted_mean`)."""
        tx, ty = kernels.weighted_totals(x, y, self.weight)
        return tx / self.people, ty / self.people

    def adoption_share(self, service: int) -> float:
        """Weighted share of all residents who use one service."""
        if service in self._adopters_d:
            return float(self._adopters_d[service].sum()) / self.people
        return float(np.sum(self.adopted[service] * self.weight) / self.weight.sum())

    # ------------------------------------------------------------------ satisfaction

    def satisfaction_step(
        self,
        quality_by_service: np.ndarray,
        district_shock: np.ndarray,
        rate: float,
        trust_response: float,
    ) -> None:
        """Move satisfaction toward the quality of adopted services and trust toward it.

        The same pass updates :attr:`trust_mean` and :attr:`satisfaction_mean` (the bits
        of :meth:`weighted_means` on the new arrays).

        Args:
            quality_by_service: Realised quality per service (rows of ``adopted``).
            district_shock: Trust lost this month per global district (>= 0).
            rate: Monthly speed at which satisfaction follows quality.
            trust_response: Monthly speed at which trust follows satisfaction.
        """
        trust_total, satisfaction_total = kernels.satisfaction(
            self.satisfaction,
            self.trust,
            self.adopted,
            np.asarray(quality_by_service, dtype=np.float64),
            self.district,
            np.asarray(district_shock, dtype=np.float64),
            float(rate),
            float(trust_response),
            self.weight,
        )
        self.trust_mean = trust_total / self.people
        self.satisfaction_mean = satisfaction_total / self.people

    # ------------------------------------------------------------------ mini-bonds

    def subscribe_minibonds(
        self,
        rng: np.random.Generator,
        *,
        city_index: int,
        price: float,
        cap: int,
        supply_bonds: float,
        yield_premium: float,
        interest_share: float,
        arrival_hours: float,
        premium_response: float,
        offering_hours: float,
    ) -> MiniBondSale:
        """Sell a mini-bond issue to one city's residents, first come first served (F5).

        With ``boost = 1 + premium_response * max(yield_premium, 0)`` (premium = bond yield
        minus what savings earn, per year), resident ``i`` is interested with probability
        ``min(1, interest_share * trust_i * boost / (1 + premium_response * 0.01))``: i.e.
        ``interest_share`` is the interest of a fully trusting resident at a 1-point
        premium, and a higher premium raises interest. An interested resident wants
        ``min(cap, floor(0.5 * savings_i / price))`` bonds and arrives after an exponential
        time with mean ``arrival_hours / boost``; arrivals after ``offering_hours`` miss it.
        One uniform and one exponential are drawn per city resident, whatever the premium,
        so two premiums on the same seed use the same random numbers. Bought bonds are
        added to ``bonds`` (simulated bonds: each of the ``weight`` people holds them) and
        their cost is taken from ``savings``.

        Args:
            rng: Source of all random draws.
            city_index: The issuing city; only its residents may buy.
            price: Price of one bond (USD).
            cap: Most bonds one person may buy.
            supply_bonds: Real bonds on offer.
            yield_premium: Bond yield minus the savings rate (fraction per year).
            interest_share: See above.
            arrival_hours: Mean arrival time at no premium (hours).
            premium_response: Rise of interest and speed per unit of premium.
            offering_hours: How long the offering stays open (hours).

        Returns:
            The sale's outcome.
        """
        idx = np.flatnonzero(self.city == city_index)
        boost = 1.0 + premium_response * max(yield_premium, 0.0)
        prob = np.minimum(
            1.0, interest_share * self.trust[idx] * boost / (1.0 + premium_response * 0.01)
        )
        interested = rng.random(idx.shape[0]) < prob
        arrival = rng.exponential(arrival_hours / boost, idx.shape[0])
        wants = np.minimum(cap, np.floor(0.5 * self.savings[idx] / price)).astype(np.int64)
        wants[~interested] = 0
        candidates = np.flatnonzero((wants > 0) & (arrival <= offering_hours))
        order = candidates[np.argsort(arrival[candidates], kind="stable")]
        bought_local, _, last = kernels.subscribe(
            order, wants, int(cap), self.weight[idx], float(price), float(supply_bonds)
        )
        bought = np.zeros(self.n, dtype=np.int32)
        bought[idx] = bought_local
        self.bonds += bought
        self.savings -= bought * float(price)
        bonds_sold = float(np.sum(bought * self.weight))
        return MiniBondSale(
            bonds_sold=bonds_sold,
            amount_usd=bonds_sold * price,
            sellout_hours=float(arrival[order[last]]) if last >= 0 else float(offering_hours),
            sold_out=last >= 0,
            by_group=kernels.group_sums(
                bought * float(price), self.group_id, self.weight, self.n_groups
            ),
            buyers=float(self.weight[bought > 0].sum()),
        )

    # ------------------------------------------------------------------ reporting

    def district_summary(self) -> pd.DataFrame:
        """Per district: weighted population, mean monthly income, satisfaction and trust."""
        pop = self.population_d

        def mean(x: np.ndarray) -> np.ndarray:
            return kernels.group_sums(x, self.district, self.weight, self.n_districts) / pop

        d = np.arange(self.n_districts)
        return pd.DataFrame(
            {
                "city": d // self.districts_per_city,
                "district": d % self.districts_per_city,
                "population": pop,
                "income_month": mean(self.income_month),
                "satisfaction": mean(self.satisfaction),
                "trust": mean(self.trust),
            },
            index=pd.Index(d, name="global_district"),
        )
