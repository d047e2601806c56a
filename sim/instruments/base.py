"""What every financing instrument shares: debts, arrangements and the desk that books them.

An instrument module (``go_bond``, ``revenue_bond``, ``vendor_finance``,
``revolving_fund``, ``mini_bonds``, ``ppp``, ``tif``, ``guarantees``,
``performance``) holds one instrument's terms (the schema block of
``policy.financing``), its schedule (built on :mod:`sim.core.finance`), its
recourse and its booking (the ledger transfers it causes). It talks to the
city's treasury through :class:`Desk` and to projects through :class:`Deal`,
so it knows no agent and no model.

Recourse is explicit on every :class:`Debt`: a ``general`` debt is paid from
the general fund even if that drives it negative; a ``project`` debt (revenue
bond), a ``tif`` debt and a ``vehicle`` debt (PPP senior debt) are paid only
from their own account, defaulting on what it cannot pay, never touching the
general fund (MODEL.md F2, F6, F7).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

import numpy as np

from sim.core import finance
from sim.core.ledger import Ledger
from sim.core.parties import LenderLike, VendorLike
from sim.core.sums import window_sums

#: Recourse of a debt paid from the general fund whatever its balance.
GENERAL = "general"
#: Ledger project id of programme-level flows (PMO, framework fees, tax uplift, fund seed).
PROGRAM = 0
#: ``term_end`` of an arrangement without a term.
NO_TERM = 10**9


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
    recourse: str = GENERAL
    kind: str = "debt_service"
    defaulted: bool = False
    unpaid: float = 0.0
    paid: float = 0.0
    # every 12-month window's sum of the schedule, computed on first use (schedules are fixed)
    _windows: np.ndarray | None = field(default=None, init=False, repr=False, compare=False)

    def due(self, month: int) -> float:
        """Payment scheduled for ``month`` (0 outside the schedule)."""
        i = month - self.start
        return float(self.payments[i]) if 0 <= i < len(self.payments) else 0.0

    def outstanding(self, month: int) -> float:
        """PV of the payments still to come after ``month``, at the debt's own rate.

        The schedule's convention is nominal (the monthly rate is the annual rate / 12,
        :func:`sim.core.finance.level_debt_service`), so a debt is worth its principal
        at issue and its balance on the schedule afterwards.
        """
        rest = self.payments[max(0, month - self.start + 1) :]
        if rest.size == 0:
            return 0.0
        return finance.npv(self.rate_annual / 12, rest, t0=1)

    def annual_service(self, month: int) -> float:
        """Debt service over the 12 months from ``month`` (for the debt-service ratio)."""
        if self._windows is None:
            self._windows = window_sums(np.asarray(self.payments, dtype=np.float64), 12)
        i = max(0, month - self.start)
        return float(self._windows[i]) if i < self._windows.size else 0.0

    def cap_service(self, month: int) -> float:
        """What the debt counts against the debt-service cap over the next 12 months."""
        return self.annual_service(month)

    def pay(self, ledger: Ledger, t: int, payee: int) -> float:
        """Pay this month's instalment by the debt's recourse; returns the shortfall.

        A general-recourse debt is paid in full from the payer. Any other debt is
        paid from its own account up to the balance; what is missing is unpaid and
        the debt is in default from then on (no recourse to the general fund).

        Args:
            ledger: The ledger.
            t: Month.
            payee: Where the payment goes (an exited vendor's claim goes to the market).

        Returns:
            The unpaid part of the instalment (0 when paid in full).
        """
        due = self.due(t)
        if due <= 0:
            return 0.0
        if self.recourse == GENERAL:
            ledger.transfer(t, self.payer, payee, due, self.kind, self.project)
            self.paid += due
            return 0.0
        paid = min(due, max(ledger.balance(self.payer), 0.0))
        ledger.transfer(t, self.payer, payee, paid, self.kind, self.project)
        self.paid += paid
        if due - paid > 1e-6:
            self.unpaid += due - paid
            return due - paid
        return 0.0


@dataclass
class Arrangement:
    """How a project is financed and who owns it: set at the first tranche.

    The fields are read by the instrument named in brackets.
    """

    instrument: str
    owner: str = "city"  # city | vendor | vehicle
    term_end: int = NO_TERM
    vendor_share: float = 0.0  # share of cash benefits paid to the vendor (revenue/shared savings)
    fee_per_unit_month: float = 0.0  # as-a-service fee or PPP availability payment
    revolving_outstanding: float = 0.0  # (revolving_fund)
    reserve_target: float = 0.0  # debt-service reserve kept in the project fund (revenue_bond)
    base_case_cash_month: float = 0.0  # (guarantees)
    guarantee_floor_month: float = 0.0  # (guarantees)
    guarantee_end: int = -1  # first month the floor no longer holds (guarantees)
    vehicle: int = -1  # PPP vehicle account (ppp)
    equity_investor: int = -1  # (ppp)
    equity: float = 0.0  # (ppp)
    concession_share: float = 0.0  # share of user fees the vehicle pays the city (ppp)
    cfads: list[float] = field(default_factory=list)  # the vehicle's monthly CFADS (ppp)
    debt_service: list[float] = field(default_factory=list)  # and its debt service (ppp)

    def to_city(self) -> None:
        """Ownership passes to the city at the end of the term (hand-back)."""
        self.owner, self.vendor_share, self.fee_per_unit_month = "city", 0.0, 0.0
        self.term_end = NO_TERM


#: A cash amount: a float, or one value per payer (user fees by resident group).
Cash = float | np.ndarray


class Raised(NamedTuple):
    """Money raised by a city-funded instrument for a tranche."""

    account: int
    """The account holding it until the vendor is paid."""
    amount: float


class TechLike(Protocol):
    """What an instrument reads of a technology domain."""

    benefit_type: str
    opex_per_unit_month_usd: float
    lifetime_years: float
    user_facing: bool


class Deal(Protocol):
    """What an instrument reads and writes of a project."""

    pid: int
    domain: str
    tech: Any  # a TechLike
    units: float
    price_per_unit: float
    claim: float
    overrun: float
    instrument: str
    capex_total: float
    arrangements: list[Any]  # [Arrangement]
    account: int


class Desk(Protocol):
    """The city's treasury as an instrument sees it."""

    name: str
    ledger: Ledger
    general: int
    revolving: int
    tif: int
    market: int
    debts: list[Debt]

    @property
    def rating(self) -> str:
        """The city's credit rating."""
        ...

    def lender(self, kind: str, amount: float) -> LenderLike | None:
        """The cheapest lender of a kind with the capital for ``amount``."""
        ...

    def willing_lenders(self, kind: str, amount: float) -> list[LenderLike]:
        """Every lender of a kind willing and able to put up ``amount`` (the competition)."""
        ...

    def under_cap(self, new_annual: float, t: int) -> bool:
        """Whether new annual debt service fits under the debt-service cap."""
        ...

    def add_debt(self, debt: Debt) -> Debt:
        """Put a debt on the city's book."""
        ...

    def arrangement(
        self, deal: Deal, instrument: str, owner: str = "city", term_end: int = NO_TERM
    ) -> Arrangement:
        """The project's arrangement (created by its first tranche)."""
        ...

    def project_account(self, deal: Deal) -> int:
        """The project's own fund (opened on first use)."""
        ...

    def vendor_for(self, deal: Deal) -> VendorLike | None:
        """The partner that gets paid."""
        ...

    def note(self, deal: Deal | None, event: str, **info: Any) -> None:
        """Record an event for the run's log."""
        ...

    def add_contingent(self, expected: float, exposure: float) -> None:
        """Add a guarantee's expected cost and its exposure (the most it can call)."""
        ...


def new_debt(
    deal: Deal,
    instrument: str,
    payer: int,
    payee: int,
    t: int,
    payments: np.ndarray,
    principal: float,
    rate: float,
    recourse: str,
    kind: str = "debt_service",
) -> Debt:
    """A debt whose first instalment falls the month after issue.

    Args:
        deal: The project.
        instrument: Instrument name.
        payer: Paying account.
        payee: Receiving account.
        t: Month of issue.
        payments: Monthly schedule.
        principal: Amount borrowed.
        rate: Annual rate.
        recourse: ``general``, ``project``, ``tif`` or ``vehicle``.
        kind: Ledger kind of the instalments.

    Returns:
        The debt.
    """
    return Debt(
        deal.pid, instrument, payer, payee, t + 1, payments, principal, rate, recourse, kind
    )


def level_payments(
    principal: float, rate_annual: float, years: int, serial: bool = False
) -> np.ndarray:
    """Monthly debt service of a bond or loan: level, or serial (level principal).

    :func:`sim.core.finance.level_debt_service` or
    :func:`~sim.core.finance.serial_bond_schedule` at 12 payments a year (the
    nominal convention: the monthly rate is the annual coupon / 12).

    Args:
        principal: Amount borrowed.
        rate_annual: Annual coupon.
        years: Term.
        serial: Level principal instead of level payment.

    Returns:
        ``years * 12`` monthly payments.
    """
    schedule = finance.serial_bond_schedule if serial else finance.level_debt_service
    return schedule(principal, rate_annual, years, 12).payment


def pv_monthly(amount_month: float, rate_annual: float, months: int) -> float:
    """PV of a level monthly amount.

    Args:
        amount_month: Monthly amount.
        rate_annual: Annual discount rate.
        months: Number of months.

    Returns:
        Present value.
    """
    return float(
        amount_month * finance.pv_annuity_factor(finance.annual_to_monthly(rate_annual), months)
    )
