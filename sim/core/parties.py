"""The market's parties as mechanisms and instruments see them: small protocols.

Mechanisms (procurement, the lifecycle) and financing instruments deal with
vendors and lenders, but must not know the agent classes that play them
(``agents.vendor.Vendor``, ``agents.investor.Investor``): they type against
these protocols, which list only what they read and call.
"""

from __future__ import annotations

from typing import Any, Protocol


class VendorLike(Protocol):
    """A technology vendor: bids, claims, funds and builds."""

    unique_id: int
    name: str
    account: int
    solvent: bool
    domains: list[str]
    claim: dict[str, float]
    true_perf: dict[str, float]
    interop: float
    appetite: float

    def price(self, domain: str, discount: float = 0.0, partnering: bool = False) -> float:
        """Offer price per unit."""
        ...

    def unit_cost(self, domain: str) -> float:
        """Current capex per unit after learning."""
        ...

    def ask(self, domain: str, price: float, terms: Any) -> tuple[float, float] | None:
        """(price, claim) bid once the contract's performance risk is priced (None: declines)."""
        ...

    def can_fund(self, amount: float) -> bool:
        """Whether the vendor can put up ``amount`` of its own capital."""
        ...

    def build(
        self, domain: str, units: float, project: int, month: int, overrun: float = 1.0
    ) -> float:
        """Buy ``units`` of equipment from suppliers; returns what it cost."""
        ...


class LenderLike(Protocol):
    """An investor who prices and lends: bond fund, bank or infrastructure equity."""

    kind: str
    account: int
    premium: float
    invested: float

    def can_invest(self, amount: float) -> bool:
        """Whether uncommitted capital covers ``amount``."""
        ...

    def bond_yield(
        self, rating: str, years: float, *, revenue: bool = False, covered_share: float = 0.0
    ) -> float:
        """Yield required on a municipal bond."""
        ...

    def project_debt_rate(self) -> float:
        """Senior project-debt rate."""
        ...

    def equity_return(self, *, demand_risk: bool, covered_share: float = 0.0) -> float:
        """Required equity IRR for a PPP."""
        ...

    def observe_default(self, what: str) -> None:
        """Re-price after a default or a vendor exit."""
        ...
