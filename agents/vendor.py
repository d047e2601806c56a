"""Vendors: technology domains, hidden true performance, optimistic claims, cash and exit."""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa
import numpy as np

from agents.outbox import Outbox
from sim.mechanisms.contracts import RiskTerms, contract_value, risk_premium

if TYPE_CHECKING:
    from agents.view import ModelView


#: Claims a vendor considers between its true performance and its optimistic claim.
CLAIM_STEPS = 4


class Vendor(mesa.Agent):
    """A technology vendor.

    Each vendor serves some domains. For each it has a *true* performance
    (a fraction of the catalogue's nominal benefit, hidden from cities) and a
    *claim* inflated by its optimism bias. It learns (unit cost falls by the
    domain's learning rate per doubling of units it has built), carries cash,
    and exits when insolvent or hit by the background default hazard.
    """

    def __init__(self, model: ModelView, index: int, rng: np.random.Generator) -> None:
        """Draw the vendor's hidden traits from the world stream.

        Args:
            model: The model.
            index: Position among vendors.
            rng: The world generator (draws are paired across policies).
        """
        super().__init__(model)
        w = model.scenario.world
        v = w.vendors
        self.index = index
        self.name = f"vendor{index}"
        self.outbox = Outbox()
        self.technology = w.technology
        self.ledger = model.ledger
        self.market = model.accounts["market"]
        self.account = model.ledger.open_account(self.name, "vendor", owner=self.name)
        domains = list(w.technology)
        # every domain has at least two vendors: round-robin plus random extras
        own = {domains[index % len(domains)], domains[(index + 1) % len(domains)]}
        own |= {d for d in domains if rng.random() < 0.25}
        self.domains = sorted(own, key=domains.index)
        self.optimism = max(0.0, rng.normal(v.optimism_bias_mean, v.optimism_bias_sd))
        self.true_perf: dict[str, float] = {}
        self.claim: dict[str, float] = {}
        for d in domains:  # drawn for all domains so streams do not depend on `own`
            t = w.technology[d]
            theta = max(0.02, rng.normal(t.true_performance_mean, t.true_performance_sd))
            self.true_perf[d] = theta
            self.claim[d] = theta * (1.0 + self.optimism)
        self.interop = float(
            np.clip(rng.normal(v.interoperability_mean, v.interoperability_sd), 0.0, 1.0)
        )
        self.appetite = float(np.clip(rng.normal(v.partnership_appetite_mean, 0.15), 0.0, 1.0))
        self.margin = v.margin
        self.hazard_month = 1.0 - (1.0 - v.default_hazard_annual) ** (1 / 12)
        self.units_built: dict[str, float] = dict.fromkeys(domains, 0.0)
        self.solvent = True
        self.exit_month = -1
        self.credit_line = v.cash_usd  # may run cash negative this far before insolvency
        model.ledger.transfer(0, self.market, self.account, v.cash_usd, "equity")

    def unit_cost(self, domain: str) -> float:
        """Current capex per unit after learning (Wright's law).

        Args:
            domain: Technology domain.

        Returns:
            Cost per unit in USD.
        """
        t = self.technology[domain]
        doublings = np.log2(1.0 + self.units_built[domain] / 1000.0)
        return t.capex_per_unit_usd * (1.0 - t.learning_rate) ** doublings

    def price(self, domain: str, discount: float = 0.0, partnering: bool = False) -> float:
        """Offer price per unit: cost plus margin (partnership appetite trims the margin).

        Args:
            domain: Technology domain.
            discount: Framework volume discount.
            partnering: A partnership (MOU) deal, where appetite trims the margin.

        Returns:
            Price per unit in USD.
        """
        margin = self.margin * (1.0 - 0.5 * self.appetite * partnering)
        return self.unit_cost(domain) * (1.0 + margin) * (1.0 - discount)

    def ask(self, domain: str, price: float, terms: RiskTerms) -> tuple[float, float] | None:
        """What it bids when the contract makes it bear performance risk: price and claim.

        The vendor knows its true performance (the city sees only the claim).
        Under a fixed-price contract it claims its optimistic figure; when the
        contract pays against the claim (a savings guarantee, pay for
        performance) an over-claim costs it a risk premium
        (:func:`sim.mechanisms.contracts.risk_premium`), so it chooses, among
        claims from its true performance up to its optimistic one, the one that
        offers the most claimed performance per dollar asked, and declines when
        even an honest claim's premium is above ``terms.max_loading`` of the
        contract's value to it (the price and the O&M fees it would be paid).

        Args:
            domain: Technology domain.
            price: Its price per unit before the risk premium.
            terms: The risk the contract transfers.

        Returns:
            (price asked per unit, claim), or None when it declines to bid.
        """
        tech = self.technology[domain]
        true = self.true_perf[domain]
        life = int(round(tech.lifetime_years * 12))
        value = price + contract_value(terms, tech.opex_per_unit_month_usd, self.margin, life)
        best: tuple[float, float] | None = None
        for k in range(CLAIM_STEPS + 1):
            claim = true + (self.claim[domain] - true) * k / CLAIM_STEPS
            premium = risk_premium(
                terms,
                price=price,
                claim=claim,
                true_perf=true,
                benefit_per_unit_month=tech.benefit_per_unit_month_usd,
                opex_per_unit_month=tech.opex_per_unit_month_usd,
                margin=self.margin,
                life_months=life,
            )
            if premium > terms.max_loading * value:
                continue
            if best is None or (price + premium) / claim < best[0] / best[1]:
                best = (float(price + premium), float(claim))
        return best

    @property
    def cash(self) -> float:
        """Cash on hand (ledger balance)."""
        return self.ledger.balance(self.account)

    def can_fund(self, amount: float) -> bool:
        """Whether the vendor can put up ``amount`` of its own capital.

        Args:
            amount: USD.

        Returns:
            True when cash plus the credit line covers it.
        """
        return self.solvent and self.cash + self.credit_line >= amount

    def build(
        self, domain: str, units: float, project: int, month: int, overrun: float = 1.0
    ) -> float:
        """Pay suppliers for ``units`` of equipment and learn from building them.

        Args:
            domain: Technology domain.
            units: Units built.
            project: Project id for the ledger.
            month: The month.
            overrun: Capex overrun multiplier of this project.

        Returns:
            What the equipment cost the vendor.
        """
        cost = self.unit_cost(domain) * units * overrun
        self.ledger.transfer(month, self.account, self.market, cost, "capex", project)
        self.units_built[domain] += units
        return cost

    def step(self) -> None:
        """Background default hazard and insolvency check; exit if either hits."""
        if not self.solvent:
            return
        if self.cash < -self.credit_line or self.model.rng_events.random() < self.hazard_month:
            self.exit(self.model.month)

    def exit(self, month: int) -> None:
        """Leave the market: contracts stop (the model tells the investors).

        Args:
            month: The month.
        """
        self.solvent = False
        self.exit_month = month
        self.outbox.note(None, "vendor_exit", vendor=self.name, cash=self.cash)
