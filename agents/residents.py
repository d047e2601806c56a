"""The resident population as one Mesa agent over the arrays of a :class:`Population`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import mesa
import numpy as np

from agents.population import Population
from sim.core import kernels

if TYPE_CHECKING:
    from agents.view import ModelView
    from sim.instruments.mini_bonds import MiniBondSale


class Residents(mesa.Agent):
    """The resident population as one Mesa agent.

    Each month: incomes follow the economy; every user-facing service's
    adoption moves (Bass diffusion with churn, network effects and price
    sensitivity by income, where and while the service covers a district);
    fees owed are totalled by (district, income quintile); satisfaction and
    trust follow service quality and incidents. Cities read the fees and users
    of their districts and offer mini-bonds to their residents.
    """

    def __init__(self, model: ModelView, population: Population, services: list[str]) -> None:
        """Wrap the population.

        Args:
            model: The model.
            population: The resident arrays.
            services: The user-facing domains (rows of the adoption arrays).
        """
        super().__init__(model)
        self.pop = population
        self.services = services
        self.world = model.scenario.world
        self.stream = model.rng_residents
        self.income0 = population.income_month.copy()
        self.fees = np.zeros((len(services), population.n_groups))
        self.users = np.zeros((len(services), population.n_districts))
        self.shock = np.zeros(population.n_districts)
        # incomes move with one economy-wide index, so the groups' totals do too
        self.income0_by_group = kernels.group_sums(
            self.income0, population.group_id, population.weight, population.n_groups
        )
        self.income = self.income0_by_group.copy()

    def service(self, domain: str) -> int:
        """Row of a user-facing domain in the arrays."""
        return self.services.index(domain)

    def step(
        self, coverage: Sequence[np.ndarray], quality: np.ndarray, income_index: float
    ) -> None:
        """Incomes, adoption, fees, satisfaction and trust for one month.

        Args:
            coverage: Coverage per global district of each service this month.
            quality: Realised quality of each service (delivered over claimed).
            income_index: The economy's income index.
        """
        w = self.world
        np.multiply(self.income0, income_index, out=self.pop.income_month)  # growth, recession
        np.multiply(self.income0_by_group, income_index, out=self.income)
        for s, domain in enumerate(self.services):
            tech = w.technology[domain]
            fee = tech.fee_per_user_month_usd
            self.users[s] = self.pop.adoption_step(
                self.stream,
                s,
                coverage[s],
                fee,
                quality[s],
                tech,
                w.residents.price_sensitivity,
                w.residents.network_weight_district,
            )
            self.fees[s] = self.pop.fees_by_group(s, fee) if fee > 0 else 0.0
        self.pop.satisfaction_step(
            quality, self.shock, w.residents.satisfaction_rate, w.residents.trust_response
        )
        self.shock[:] = 0.0

    def incident(self, districts: slice, covered: np.ndarray) -> None:
        """Residents of covered districts lose trust after a public incident.

        Args:
            districts: The city's districts.
            covered: Which of them the project covers.
        """
        self.shock[districts] += self.world.residents.incident_trust_loss * covered

    def income_of(self, groups: np.ndarray) -> np.ndarray:
        """The month's income of the given (district, quintile) groups (USD per group)."""
        return self.income[groups]

    def fees_of(self, groups: np.ndarray, domain: str) -> np.ndarray:
        """Fees the given (district, quintile) groups owe this month for a service.

        Args:
            groups: Group ids.
            domain: A user-facing domain.

        Returns:
            USD per group.
        """
        return self.fees[self.service(domain), groups]

    def users_in(self, districts: slice, domain: str) -> float:
        """Users of a service in the given districts (real people).

        Args:
            districts: Global district slice.
            domain: A user-facing domain.

        Returns:
            People.
        """
        return float(self.users[self.service(domain), districts].sum())

    def offer_minibonds(
        self,
        *,
        city_index: int,
        price: float,
        cap: int,
        supply_bonds: float,
        bond_yield: float,
        offering_hours: float,
    ) -> MiniBondSale:
        """Sell a mini-bond issue to one city's residents (F5).

        Args:
            city_index: The issuing city.
            price: Price of one bond.
            cap: Most bonds one person may buy.
            supply_bonds: Real bonds on offer.
            bond_yield: The bond's annual yield (its premium over savings drives interest).
            offering_hours: How long the offering stays open.

        Returns:
            The sale.
        """
        res = self.world.residents
        return self.pop.subscribe_minibonds(
            self.stream,
            city_index=city_index,
            price=price,
            cap=cap,
            supply_bonds=supply_bonds,
            yield_premium=bond_yield - res.savings_rate_annual,
            interest_share=res.minibond_interest_share,
            arrival_hours=res.minibond_arrival_hours,
            premium_response=res.minibond_premium_response,
            offering_hours=offering_hours,
        )
