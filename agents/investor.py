"""Investors: bond funds, banks and infrastructure equity that price risk."""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa

from sim.core import finance

if TYPE_CHECKING:
    from agents.view import ModelView

KINDS = ("bond_fund", "bank", "equity")


class Investor(mesa.Agent):
    """An investor with capital and a required return by risk class.

    Required returns start from the market (the municipal curve by rating and
    maturity for bonds, the bank rate for project debt, the equity target IRR
    for PPP equity), move with the stress overlays' rate shock, and rise after
    every default the investor observes (revenue bond, PPP, TIF, vendor exit),
    decaying back over time. A guarantee removes the covered share of the
    risk premium (MODEL.md F8).
    """

    def __init__(self, model: ModelView, index: int) -> None:
        """Open the investor's account with its capital.

        Args:
            model: The model.
            index: Position; kinds cycle bond fund, bank, equity.
        """
        super().__init__(model)
        w = model.scenario.world
        self.world = w
        self.market = model.market
        self.kind = KINDS[index % len(KINDS)]
        self.name = f"investor{index}_{self.kind}"
        self.account = model.ledger.open_account(self.name, "investor", owner=self.name)
        self.capital = w.investors.capital_usd
        self.premium = 0.0  # added to every required return after defaults
        self.defaults_seen = 0
        self.invested = 0.0
        model.ledger.transfer(0, model.accounts["market"], self.account, self.capital, "equity")

    def bond_yield(
        self, rating: str, years: float, *, revenue: bool = False, covered_share: float = 0.0
    ) -> float:
        """Yield this investor requires on a municipal bond.

        Args:
            rating: The issuer's rating.
            years: Maturity.
            revenue: A revenue bond (adds the revenue-bond spread).
            covered_share: Share of the downside covered by a city guarantee.

        Returns:
            Annual yield.
        """
        base = self.market.municipal_yield(rating, years)
        premium = self.premium + (self.world.rates.revenue_bond_spread_bp / 1e4 if revenue else 0.0)
        return finance.guaranteed_required_return(base, premium, covered_share)

    def project_debt_rate(self) -> float:
        """Senior project-debt rate (bank rate, shifted by shocks, plus premium)."""
        return self.world.rates.bank_rate_annual + self.market.rate_shift("A") + self.premium

    def equity_return(self, *, demand_risk: bool, covered_share: float = 0.0) -> float:
        """Required equity IRR for a PPP.

        Args:
            demand_risk: The vehicle is paid by user fees (takes demand risk).
            covered_share: Share of revenue downside covered by a minimum revenue guarantee.

        Returns:
            Annual required IRR.
        """
        premium = self.premium + (self.world.investors.risk_premium_demand if demand_risk else 0.0)
        return finance.guaranteed_required_return(
            self.world.rates.equity_irr_required + self.market.rate_shift("A"),
            premium,
            covered_share,
        )

    def can_invest(self, amount: float) -> bool:
        """Whether the investor has the capital for ``amount``.

        Args:
            amount: USD.

        Returns:
            True when uncommitted capital covers it.
        """
        return self.capital - self.invested >= amount

    def observe_default(self, what: str) -> None:
        """Re-price after a default or a vendor exit.

        Args:
            what: What defaulted.
        """
        self.defaults_seen += 1
        self.premium += self.world.investors.risk_premium_per_default

    def step(self) -> None:
        """Let the memory of defaults fade."""
        decay = self.world.investors.premium_decay_annual
        self.premium *= (1.0 - decay) ** (1 / 12)
