"""The city: a Mesa agent composed of small parts.

- :class:`~agents.city.budget.Budget`: revenue in, spending out (and the funds);
- :class:`~agents.city.treasury.Treasury`: debts, funds, rating (the instruments' desk);
- :class:`~agents.city.financing.Financing`: which instruments finance a tranche;
- :class:`~agents.city.operations.Operations`: deployed projects' monthly flows;
- :class:`~agents.city.procurement_office.ProcurementOffice`: starting and awarding projects;
- :class:`~agents.city.portfolio.Portfolio`: the lifecycle of every project;
- :class:`~agents.city.economics.Economics`: the projections decisions rest on.

Each month (:meth:`City.step`): the budget runs; deployed projects operate;
retentions and debts are paid; funds are swept; projects advance; new
procurements start; once a year the rating is reviewed. The city returns what
it noted (:class:`~agents.outbox.Report`) for the model to record.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa

from agents.city.budget import Budget, Funds
from agents.city.debt_book import DebtBook
from agents.city.economics import Economics
from agents.city.financing import Financing
from agents.city.operations import Operations
from agents.city.portfolio import Portfolio
from agents.city.procurement_office import ProcurementOffice
from agents.city.treasury import Treasury
from agents.outbox import Outbox, Report
from sim.instruments import revolving_fund
from sim.mechanisms.lifecycle import Project

if TYPE_CHECKING:
    from agents.view import ModelView


class City(mesa.Agent):
    """A municipality: revenues, spending, debt, rating, funds and its projects."""

    def __init__(self, model: ModelView, index: int, name: str) -> None:
        """Open the city's funds with its starting reserves and assemble its parts.

        Args:
            model: The model.
            index: Position among cities (its districts are ``index * D ...``).
            name: Key of the city in ``world.cities``.
        """
        super().__init__(model)
        spec = model.scenario.world.cities[name]
        self.index, self.name, self.spec = index, name, spec
        led = model.ledger
        self.funds = Funds.open(led, name)
        led.transfer(
            0, model.accounts["opening"], self.funds.general, spec.reserves_usd, "transfer"
        )
        self.outbox = Outbox()
        policy = model.scenario.policy
        above_floor = spec.reserves_usd - policy.budget.reserve_floor_share * (
            spec.general_revenue_annual_usd
        )
        seeded = revolving_fund.seed(
            led,
            self.funds.general,
            self.funds.revolving,
            policy.financing.revolving_fund,
            available=max(above_floor, 0.0),
        )
        if seeded < policy.financing.revolving_fund.initial_usd:  # the budget rule caps it
            self.outbox.note(
                None,
                "fund_seed_capped",
                city=name,
                asked=policy.financing.revolving_fund.initial_usd,
                seeded=seeded,
            )
        self.projects: list[Project] = []
        self.economics = Economics(spec.population, model.scenario.world)
        debts = DebtBook(spec.existing_debt_service_annual_usd / 12)
        self.budget = Budget(model, index, spec, self.funds, debts, self.outbox)
        self.office = ProcurementOffice(
            model, name, spec, self.projects, self.economics, self.outbox
        )
        self.treasury = Treasury(
            model, index, name, spec, self.funds, debts, self.budget, self.outbox, self.projects
        )
        self.financing = Financing(model, self.treasury, self.economics, self._belief)
        self.operations = Operations(model, index, spec, self.treasury, self.economics, self.outbox)
        self.portfolio = Portfolio(
            model,
            self.projects,
            self.treasury,
            self.financing,
            self.office,
            self.economics,
            self.outbox,
        )

    def _belief(self, pr: Project) -> tuple[float, float]:
        return self.portfolio.belief(pr)

    def step(self) -> Report:
        """One month: budget, project operations, debts, lifecycle, new procurements.

        Returns:
            What the city noted this month.
        """
        t = self.model.month
        self.budget.run_month(t)
        for project in self.projects:
            if project.deployed:
                self.operations.run(project, t)
        self.operations.pay_retentions(t)
        self.treasury.pay_debts(t)
        self.treasury.sweep(t)
        self.portfolio.advance_all(t)
        if not self.budget.below_floor():  # the budget rule defers new procurements
            self.office.start_projects(t)
        if t % 12 == 11:
            self.treasury.review_rating(t)
        return self.outbox.drain()

    # ------------------------------------------------------------------ what others read

    @property
    def general(self) -> int:
        """The general fund's ledger account."""
        return self.funds.general

    @property
    def rating_index(self) -> int:
        """Current rating notch (0 = AAA)."""
        return self.treasury.rating_index

    @property
    def revenue_month(self) -> float:
        """This month's general revenue."""
        return self.budget.revenue_month

    def debt_service_ratio(self, month: int) -> float:
        """Debt service over general revenue (both annual)."""
        return self.treasury.debt_service_ratio(month)
