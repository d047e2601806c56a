"""Financing instruments as the model uses them: feasibility, set-up and debts owed.

The pure formulas live in :mod:`sim.core.finance`; this module turns a decision
("finance this tranche with that instrument") into ledger transfers at
issuance and :class:`Debt` objects whose scheduled payments the city (or a
project's own account, a TIF fund, a PPP vehicle) must meet each month.

Recourse is explicit: a ``general`` debt is paid from the general fund even if
that drives it negative; a ``project`` debt (revenue bond) and a ``tif`` debt
are paid only from their own account, drawing the reserve first and then
defaulting, never touching the general fund (MODEL.md F2, F7).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sim.core import finance

#: Instruments the city borrows under (count against its debt-service cap).
DEBT_CAP_INSTRUMENTS = frozenset({"go_bond", "vendor_loan", "mini_bonds"})
#: Instruments where the vendor (or a vehicle) owns and runs the equipment for a term.
PRIVATELY_OWNED = frozenset({"as_a_service", "revenue_share", "shared_savings", "ppp"})


@dataclass
class Debt:
    """A schedule of monthly payments owed from one account to another."""

    project: int
    instrument: str
    payer: int
    payee: int
    start: int
    payments: np.ndarray
    principal: float
    rate_annual: float
    recourse: str = "general"
    kind: str = "debt_service"
    defaulted: bool = False
    unpaid: float = 0.0
    paid: float = 0.0
    principal_service: float = 0.0  # level-equivalent annual service (zero coupons, the cap)
    split_accounts: np.ndarray | None = None  # several payees (mini-bond holders' groups)
    split: np.ndarray | None = None

    def due(self, month: int) -> float:
        """Payment scheduled for ``month`` (0 outside the schedule)."""
        i = month - self.start
        return float(self.payments[i]) if 0 <= i < len(self.payments) else 0.0

    def outstanding(self, month: int) -> float:
        """PV at the debt's rate of the payments still to come after ``month``."""
        rest = self.payments[max(0, month - self.start + 1):]
        if rest.size == 0:
            return 0.0
        r = (1 + self.rate_annual) ** (1 / 12) - 1
        return float(np.sum(rest / (1 + r) ** np.arange(1, rest.size + 1)))

    def annual_service(self, month: int) -> float:
        """Debt service over the 12 months from ``month`` (for the debt-service ratio)."""
        i = max(0, month - self.start)
        return float(np.sum(self.payments[i:i + 12]))


def monthly_level_payments(principal: float, rate_annual: float, years: int,
                           serial: bool = False) -> np.ndarray:
    """Monthly debt service of a bond or loan (level, or level-principal serial).

    Args:
        principal: Amount borrowed.
        rate_annual: Annual coupon.
        years: Term.
        serial: Level principal instead of level payment.

    Returns:
        ``years * 12`` monthly payments.
    """
    n = years * 12
    r = rate_annual / 12  # the nominal convention of sim.core.finance.level_debt_service
    if serial:  # level principal plus interest on the opening balance
        opening = principal * (1 - np.arange(n) / n)
        return principal / n + opening * r
    return np.full(n, float(finance.annuity_payment(principal, r, n)))


def zero_coupon_payments(maturity_value: float, years: int) -> np.ndarray:
    """One payment of ``maturity_value`` at the end of ``years`` (mini-bonds).

    Args:
        maturity_value: Total repaid.
        years: Term.

    Returns:
        Monthly schedule with a single non-zero last payment.
    """
    out = np.zeros(years * 12)
    out[-1] = maturity_value
    return out


@dataclass
class Arrangement:
    """How a project is financed and who owns it: set at the first tranche."""

    instrument: str
    owner: str = "city"  # city | vendor | vehicle
    term_end: int = 10**9
    vendor_share: float = 0.0  # share of cash benefits paid to the vendor
    fee_per_unit_month: float = 0.0  # as-a-service fee or PPP availability payment
    revolving_outstanding: float = 0.0
    reserve_target: float = 0.0
    base_case_cash_month: float = 0.0
    guarantee_floor_month: float = 0.0
    vehicle: int = -1  # PPP vehicle account
    equity_investor: int = -1
    debts: list[Debt] = field(default_factory=list)
    equity: float = 0.0
    min_dscr: float = np.inf
    cfads_12: list[float] = field(default_factory=list)
    ds_12: list[float] = field(default_factory=list)


def required_fee(price_per_unit: float, opex_per_unit_month: float, term_months: int,
                 rate_annual: float, margin: float) -> float:
    """As-a-service fee per unit per month (MODEL.md F3).

    Args:
        price_per_unit: Equipment price.
        opex_per_unit_month: Running cost.
        term_months: Contract term.
        rate_annual: Vendor's cost of capital.
        margin: Service margin.

    Returns:
        Monthly fee per unit.
    """
    return finance.as_a_service_fee(price_per_unit, opex_per_unit_month, term_months,
                                    rate_annual, margin)


def pv_monthly(amount_month: float, rate_annual: float, months: int) -> float:
    """PV of a level monthly amount.

    Args:
        amount_month: Monthly amount.
        rate_annual: Annual discount rate.
        months: Number of months.

    Returns:
        Present value.
    """
    r = (1 + rate_annual) ** (1 / 12) - 1
    return float(amount_month * finance.pv_annuity_factor(r, months))


def ppp_availability_payment(price_per_unit: float, opex_per_unit_month: float,
                             term_years: int, debt_rate: float, equity_rate: float,
                             gearing: float) -> float:
    """Availability payment per unit per month that remunerates PPP capital.

    Capex is recovered as an annuity at the vehicle's weighted cost of capital
    (gearing x debt rate + (1 - gearing) x equity target), plus operating cost.

    Args:
        price_per_unit: Capex per unit.
        opex_per_unit_month: Running cost per unit.
        term_years: Concession term.
        debt_rate: Senior debt rate.
        equity_rate: Required equity IRR.
        gearing: Debt share of capex.

    Returns:
        Monthly availability payment per unit.
    """
    wacc = gearing * debt_rate + (1 - gearing) * equity_rate
    r = (1 + wacc) ** (1 / 12) - 1
    return float(finance.annuity_payment(price_per_unit, r, term_years * 12)
                 + opex_per_unit_month)
