"""A city's funds and its general budget: taxes in, spending out, month by month.

Revenue: property tax on each district's assessed value (its trend part and
the uplift services bring, split across the district's resident groups by
income) plus other revenue that follows the economy. Inside a TIF area during
its term the increment goes to the TIF fund instead
(:mod:`sim.instruments.tif`). Spending follows the *trend* budget, so a
recession opens a gap that projects do not close; the existing debt book is
rolled over with the budget. A PMO and framework membership cost a fee a
year; the revolving fund's idle cash earns interest. Inside a TIF area the
part of the increment that services' land-value uplift brings is booked as the
programme's (``tif_uplift``), as the uplift is outside the area.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from agents.city.debt_book import DebtBook
from sim.core.ledger import Ledger
from sim.instruments import revolving_fund, tif
from sim.instruments.base import PROGRAM
from sim.mechanisms.land import N_QUINTILES

if TYPE_CHECKING:
    from agents.outbox import Outbox
    from agents.view import ModelView
    from sim.config.schema import City as CitySpec


@dataclass
class Funds:
    """A city's ledger accounts and its TIF area."""

    general: int
    revolving: int
    tif: int
    tif_area: tif.TIFDistrict | None = None

    @classmethod
    def open(cls, ledger: Ledger, name: str) -> Funds:
        """Open the general, revolving and TIF funds of city ``name``."""
        return cls(
            *(
                ledger.open_account(f"{name}:{fund}", "city", owner=name)
                for fund in ("general", "revolving", "tif")
            )
        )


class Budget:
    """Collects a city's revenue and pays its running spending each month."""

    def __init__(
        self,
        model: ModelView,
        index: int,
        spec: CitySpec,
        funds: Funds,
        debts: DebtBook,
        outbox: Outbox,
    ) -> None:
        """Set the budget at month-0 values.

        Args:
            model: The model.
            index: The city's position (its districts and resident groups).
            spec: The city's block of the scenario.
            funds: Its funds.
            debts: Its debt book (the existing book is serviced from the budget).
            outbox: The city's outbox (cuts, breaches and distress are noted there).
        """
        self.model = model
        self.outbox = outbox
        self.name = list(model.scenario.world.cities)[index]
        self.distressed = False
        self.in_breach = False
        self.spec = spec
        self.funds = funds
        self.debts = debts
        self.districts = model.layout.district_slice(index)
        self.groups = model.layout.city_groups(index)
        self.accounts = model.layout.group_accounts[self.groups]  # the groups' ledger accounts
        self.tax_shares = model.layout.group_tax_share[self.groups]
        self.revenue_annual0 = spec.general_revenue_annual_usd
        self.property_base0 = spec.property_tax_share * spec.general_revenue_annual_usd
        self.revenue_month = self.revenue_annual0 / 12

    @property
    def annual_revenue(self) -> float:
        """Current general revenue, annualised."""
        return self.revenue_month * 12

    def floor(self) -> float:
        """The reserves the budget rule keeps: ``reserve_floor_share`` x annual revenue."""
        return self.model.scenario.policy.budget.reserve_floor_share * self.annual_revenue

    def below_floor(self) -> bool:
        """Whether the general fund was below the reserve floor at the start of the month.

        While it is, the city starts no procurement, defers scale-up tranches and
        cuts services spending (:meth:`run_month`).
        """
        return self.in_breach

    def _review(self) -> None:
        """Compare the opening balance with the floor (before the month's flows)."""
        balance = self.model.ledger.balance(self.funds.general)
        self.in_breach = balance < self.floor()
        distressed = balance < 0
        if distressed != self.distressed:
            self.distressed = distressed
            self.outbox.note(None, "distress" if distressed else "distress_over", city=self.name)
        if distressed:
            self.outbox.tally("distress_months", 1.0)
        if self.in_breach:
            self.outbox.tally("reserve_breach_months", 1.0)

    def _cut(self, spending: float) -> float:
        """The services spending cut this month (while below the floor)."""
        if not self.in_breach:
            return 0.0
        cut = self.model.scenario.policy.budget.cut_share * max(spending, 0.0)
        self.outbox.tally("service_cuts_usd", cut)
        return cut

    def run_month(self, t: int) -> None:
        """Collect the month's revenue, pay its spending, fees and the existing debt service.

        Args:
            t: Month.
        """
        self._review()
        self._households(t)
        m = self.model
        led, acc = m.ledger, m.accounts
        rate = self.spec.property_tax_rate / 12
        trend = m.land.trend[self.districts]
        tax_trend, uplift, captured = self._property_tax(t, rate)
        other = (self.revenue_annual0 - self.property_base0) / 12 * m.market.revenue_index
        led.transfer(t, acc["economy"], self.funds.general, other, "tax")
        self.revenue_month = float(other + tax_trend.sum() + uplift.sum() + captured)
        # spending follows the trend budget: a recession opens a gap, projects do not move it
        trend_rev = (
            self.revenue_annual0 - self.property_base0
        ) / 12 * m.market.revenue_trend + float((trend * rate).sum())
        existing = self.debts.existing_service(m.market.revenue_trend)
        cut = self._cut(trend_rev - existing)
        led.transfer(t, self.funds.general, acc["services"], trend_rev - existing - cut, "spending")
        led.transfer(t, self.funds.general, m.investors[0].account, existing, "debt_service")
        self._annual_fees(t)
        revolving_fund.earn_interest(
            led,
            self.funds.revolving,
            acc["market"],
            m.scenario.world.rates.revolving_fund_deposit_rate_annual,
            t,
        )

    def _households(self, t: int) -> None:
        """Residents live on their incomes: last month's remainder is spent, this month's paid.

        Each (district, quintile) group's account receives the group's income
        from the economy; what it has left after taxes, fees and bond purchases
        is spent (``consumption``) at the start of the next month. A group whose
        taxes and fees exceed its income keeps a negative balance (arrears).
        """
        m = self.model
        accounts = self.accounts
        left = m.ledger.snapshot_balances()[accounts]
        economy = m.accounts["economy"]
        m.ledger.transfer_many(t, accounts, economy, np.maximum(left, 0.0), "consumption")
        m.ledger.transfer_many(t, economy, accounts, m.residents.income_of(self.groups), "income")

    def _property_tax(self, t: int, rate: float) -> tuple[np.ndarray, np.ndarray, float]:
        """Book property tax by district: trend part and services' uplift, less any TIF capture.

        Returns:
            (trend tax, uplift tax) per district after the capture, and the capture's total.
        """
        m = self.model
        led = m.ledger
        accounts, shares = self.accounts, self.tax_shares
        av, trend = m.land.av[self.districts], m.land.trend[self.districts]
        tax_trend = trend * rate
        uplift = np.maximum(av - trend, 0.0) * rate
        area = self.funds.tif_area
        captured = 0.0
        if area is not None and area.capturing(t):  # the increment goes to the TIF fund
            k = area.size
            inc = tif.increment(area, av, rate)
            share = np.divide(
                inc,
                tax_trend[:k] + uplift[:k],
                out=np.zeros(k),
                where=(tax_trend[:k] + uplift[:k]) > 0,
            )
            # the increment takes its share of both parts of the tax: the uplift's part is the
            # programme's (as the uplift is outside a TIF area), the trend's would have come
            # anyway (the but-for part)
            driven = uplift[:k] * share
            for part, kind, project in (
                (inc - driven, "tif_increment", -1),
                (driven, "tif_uplift", PROGRAM),
            ):
                led.transfer_many(
                    t,
                    accounts[: k * N_QUINTILES],
                    self.funds.tif,
                    np.repeat(part, N_QUINTILES) * shares[: k * N_QUINTILES],
                    kind,
                    project,
                )
            tax_trend, uplift = tax_trend.copy(), uplift.copy()
            tax_trend[:k] *= 1 - share
            uplift[:k] *= 1 - share
            captured = inc.sum()
        led.transfer_many(
            t, accounts, self.funds.general, np.repeat(tax_trend, N_QUINTILES) * shares, "tax"
        )
        led.transfer_many(
            t,
            accounts,
            self.funds.general,
            np.repeat(uplift, N_QUINTILES) * shares,
            "tax_uplift",
            PROGRAM,
        )
        return tax_trend, uplift, captured

    def _annual_fees(self, t: int) -> None:
        """Programme costs billed once a year: the PMO and framework membership."""
        if t % 12 != 0:
            return
        m = self.model
        p = m.scenario.policy
        if p.governance.pmo:
            m.ledger.transfer(
                t,
                self.funds.general,
                m.accounts["services"],
                p.governance.pmo_cost_annual_usd,
                "opex",
                PROGRAM,
            )
        if p.procurement.mode == "framework":
            m.ledger.transfer(
                t,
                self.funds.general,
                m.accounts["framework"],
                m.scenario.world.procurement.framework_member_fee_annual_usd,
                "member_fee",
                PROGRAM,
            )
