"""Small stand-ins for the city's treasury, projects, lenders and vendors.

The instrument tests (``tests/test_instruments_*.py``) book through these
fakes so each test sets up exactly the situation it checks: a real
:class:`sim.core.ledger.Ledger` with the city's funds, the market and the
parties' accounts opened on it, a plain list of debts, and lenders and vendors
that implement only what :mod:`sim.core.parties` lists. They record what the
instruments ask of them (the yields asked for, the cap checks, the notes) so
the tests can assert on the instruments' requests as well as on the ledger.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from sim.core.ledger import Ledger
from sim.instruments.base import GENERAL, NO_TERM, Arrangement, Debt

INF = float("inf")


def normal_put(floor: float, mean: float, sd: float) -> float:
    """E[max(floor - X, 0)] for X ~ Normal(mean, sd), written with math.erf."""
    if sd == 0:
        return max(floor - mean, 0.0)
    z = (floor - mean) / sd
    cdf = 0.5 * (1 + math.erf(z / math.sqrt(2)))
    pdf = math.exp(-z * z / 2) / math.sqrt(2 * math.pi)
    return (floor - mean) * cdf + sd * pdf


def annuity(principal: float, rate: float, n: int) -> float:
    """Level payment P = D r / (1 - (1 + r)^-n), written out by hand."""
    if rate == 0:
        return principal / n
    return principal * rate / (1 - (1 + rate) ** -n)


def monthly(rate_annual: float) -> float:
    """Effective monthly rate equivalent to an annual rate."""
    return (1 + rate_annual) ** (1 / 12) - 1


@dataclass
class Tech:
    benefit_type: str = "energy"
    opex_per_unit_month_usd: float = 2.0
    lifetime_years: float = 15.0
    user_facing: bool = False


@dataclass
class Project:
    pid: int = 7
    domain: str = "streetlights"
    tech: Tech = field(default_factory=Tech)
    units: float = 100.0
    price_per_unit: float = 1000.0
    claim: float = 1.0
    overrun: float = 1.0
    instrument: str = ""
    capex_total: float = 0.0
    arrangements: list[Any] = field(default_factory=list)
    account: int = -1


class Lender:
    """An investor of one kind with fixed prices, recording every yield asked."""

    def __init__(
        self,
        ledger: Ledger,
        kind: str = "bond_fund",
        capital: float = 1e9,
        name: str | None = None,
        base_yield: float = 0.04,
        revenue_spread: float = 0.01,
        debt_rate: float = 0.05,
        equity_rate: float = 0.10,
        demand_premium: float = 0.03,
        premium: float = 0.0,
    ) -> None:
        self.kind = kind
        self.account = ledger.open_account(name or f"{kind}{ledger.n_accounts}", "investor")
        ledger.transfer(0, ledger.account("market"), self.account, capital, "equity")
        self.capital, self.invested, self.premium = capital, 0.0, premium
        self.base_yield, self.revenue_spread = base_yield, revenue_spread
        self.debt_rate, self.equity_rate, self.demand_premium = (
            debt_rate,
            equity_rate,
            demand_premium,
        )
        self.asked: list[dict[str, Any]] = []
        self.defaults: list[str] = []

    def can_invest(self, amount: float) -> bool:
        return self.capital - self.invested >= amount

    def bond_yield(
        self, rating: str, years: float, *, revenue: bool = False, covered_share: float = 0.0
    ) -> float:
        self.asked.append(
            dict(rating=rating, years=years, revenue=revenue, covered_share=covered_share)
        )
        spread = self.revenue_spread if revenue else 0.0
        return self.base_yield + (self.premium + spread) * (1 - covered_share)

    def project_debt_rate(self) -> float:
        return self.debt_rate + self.premium

    def equity_return(self, *, demand_risk: bool, covered_share: float = 0.0) -> float:
        self.asked.append(dict(demand_risk=demand_risk, covered_share=covered_share))
        premium = self.premium + (self.demand_premium if demand_risk else 0.0)
        return self.equity_rate + premium * (1 - covered_share)

    def observe_default(self, what: str) -> None:
        self.defaults.append(what)


class Vendor:
    """A vendor with a fixed unit cost, claim and capital; it records what it builds."""

    def __init__(
        self,
        ledger: Ledger,
        name: str = "vendorA",
        unit_cost: float = 800.0,
        claim: float = 1.0,
        capital: float = 1e8,
        domain: str = "streetlights",
        solvent: bool = True,
    ) -> None:
        self.unique_id = ledger.n_accounts
        self.name = name
        self.account = ledger.open_account(name, "vendor")
        self.solvent = solvent
        self.domains = [domain]
        self.claim = {domain: claim}
        self.true_perf = {domain: claim}
        self.interop, self.appetite = 0.5, 0.5
        self.capital = capital
        self._unit_cost = unit_cost
        self.built: list[tuple[str, float, int, int, float]] = []

    def price(self, domain: str, discount: float = 0.0, partnering: bool = False) -> float:
        return self._unit_cost * 1.2 * (1 - discount)

    def unit_cost(self, domain: str) -> float:
        return self._unit_cost

    def can_fund(self, amount: float) -> bool:
        return self.capital >= amount

    def build(
        self, domain: str, units: float, project: int, month: int, overrun: float = 1.0
    ) -> float:
        self.built.append((domain, units, project, month, overrun))
        return units * self._unit_cost * overrun


class Desk:
    """The city's treasury as the instruments see it, with a plain cap and debt list.

    ``cap`` is the most general-recourse debt service a year (the existing book's
    ``existing_annual`` plus every general debt's ``cap_service``) that fits.
    """

    def __init__(
        self,
        name: str = "cityA",
        rating: str = "AA",
        cap: float = INF,
        existing_annual: float = 0.0,
        general_cash: float = 0.0,
    ) -> None:
        self.name = name
        self.ledger = led = Ledger(capacity=256)
        self.general = led.open_account(f"{name}.general", "city", owner=name)
        self.revolving = led.open_account(f"{name}.revolving", "city", owner=name)
        self.tif = led.open_account(f"{name}.tif", "city", owner=name)
        self.market = led.open_account("market", "outside", external=True)
        self.debts: list[Debt] = []
        self.cap, self.existing_annual = cap, existing_annual
        self._rating = rating
        self.lenders: list[Lender] = []
        self.vendor: Vendor | None = None
        self.notes: list[tuple[Any, str, dict[str, Any]]] = []
        self.cap_asks: list[tuple[float, int]] = []
        self.contingent = 0.0
        if general_cash:
            self.fund(self.general, general_cash)

    # helpers of the tests
    def fund(self, account: int, amount: float, t: int = 0) -> None:
        """Put cash into an account from the market."""
        self.ledger.transfer(t, self.market, account, amount, "transfer")

    def add_lender(self, kind: str = "bond_fund", **kw: Any) -> Lender:
        inv = Lender(self.ledger, kind, **kw)
        self.lenders.append(inv)
        return inv

    def add_vendor(self, **kw: Any) -> Vendor:
        self.vendor = Vendor(self.ledger, **kw)
        return self.vendor

    def balance(self, account: int) -> float:
        return self.ledger.balance(account)

    # the Desk protocol
    @property
    def rating(self) -> str:
        return self._rating

    def willing_lenders(self, kind: str, amount: float) -> list[Lender]:
        return [i for i in self.lenders if i.kind == kind and i.can_invest(amount)]

    def lender(self, kind: str, amount: float) -> Lender | None:
        pool = self.willing_lenders(kind, amount)
        return min(pool, key=lambda i: i.premium) if pool else None

    def under_cap(self, new_annual: float, t: int) -> bool:
        self.cap_asks.append((new_annual, t))
        book = self.existing_annual + sum(
            d.cap_service(t) for d in self.debts if d.recourse == GENERAL
        )
        return book + new_annual <= self.cap

    def add_debt(self, debt: Debt) -> Debt:
        self.debts.append(debt)
        return debt

    def arrangement(
        self, deal: Project, instrument: str, owner: str = "city", term_end: int = NO_TERM
    ) -> Arrangement:
        if not deal.arrangements:
            deal.arrangements.append(Arrangement(instrument, owner=owner, term_end=term_end))
        return deal.arrangements[0]

    def project_account(self, deal: Project) -> int:
        if deal.account < 0:
            deal.account = self.ledger.open_account(
                f"{self.name}:project{deal.pid}", "city", owner=self.name
            )
        return deal.account

    def vendor_for(self, deal: Project) -> Vendor | None:
        v = self.vendor
        return v if v is not None and v.solvent else None

    def note(self, deal: Project | None, event: str, **info: Any) -> None:
        self.notes.append((deal, event, info))

    def add_contingent(self, expected: float, exposure: float) -> None:
        self.contingent += expected
        self.exposure = getattr(self, "exposure", 0.0) + exposure
