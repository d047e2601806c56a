"""F4 revolving innovation fund: lends to projects, repaid from their verified savings.

Terms: ``policy.financing.revolving_fund``. The city seeds the fund from its
general fund at the start (``initial_usd``); the fund lends a tranche when it
holds at least ``amount / max_loan_share``; the project repays
``recycle_share`` of its cash benefits each month until its loan is repaid;
idle cash earns the deposit rate (``world.rates.revolving_fund_deposit_rate_annual``).
So ``F(t+1) = F(t) - loans + repayments + interest`` (MODEL.md F4). The loan is
an internal transfer between the city's own funds: no debt, no cap.
"""

from __future__ import annotations

import numpy as np

from sim.core import finance
from sim.core.fields import Strict, field
from sim.core.ledger import Ledger
from sim.instruments.applicability import REVOLVING_FUND
from sim.instruments.base import PROGRAM, Arrangement, Deal, Desk, Raised

NAME = "revolving_fund"


class RevolvingFund(Strict):
    """F4 revolving innovation fund."""

    initial_usd: float = field(
        0.0, "USD", 0.0, 1e11, "seed appropriation (taken from the general fund even if unused)"
    )
    recycle_share: float = field(
        0.5, "fraction", 0.0, 1.0, "verified savings paid back", REVOLVING_FUND
    )
    max_loan_share: float = field(
        0.5, "fraction", 0.0, 1.0, "largest loan / fund balance", REVOLVING_FUND
    )


def seed(
    ledger: Ledger, general: int, fund: int, terms: RevolvingFund, available: float = np.inf
) -> float:
    """Appropriate the fund's seed from the general fund at the start of the run.

    Args:
        ledger: The ledger.
        general: The city's general fund.
        fund: The city's revolving fund.
        terms: Revolving-fund terms.
        available: The most the city can appropriate (its reserves above its floor).

    Returns:
        The seed: ``initial_usd``, or ``available`` when that is less.
    """
    amount = min(terms.initial_usd, available)
    if amount > 0:
        ledger.transfer(0, general, fund, amount, "transfer", PROGRAM)
    return max(amount, 0.0)


def issue(desk: Desk, deal: Deal, amount: float, terms: RevolvingFund) -> Raised | None:
    """Lend ``amount`` to the project if the fund can spare it.

    Args:
        desk: The city's treasury.
        deal: The project.
        amount: USD needed.
        terms: Revolving-fund terms.

    Returns:
        Where the loan sits (the revolving fund), or None.
    """
    if desk.ledger.balance(desk.revolving) * terms.max_loan_share < amount:
        return None
    desk.arrangement(deal, NAME).revolving_outstanding += amount
    return Raised(desk.revolving, amount)


def repay(
    desk: Desk, arr: Arrangement, cash: float, t: int, project: int, terms: RevolvingFund
) -> None:
    """Repay the fund from this month's cash benefits.

    Args:
        desk: The city's treasury.
        arr: The project's arrangement.
        cash: This month's cash benefits.
        t: Month.
        project: Project id.
        terms: Revolving-fund terms.
    """
    if arr.revolving_outstanding <= 0:  # nothing borrowed from the fund (most projects)
        return
    amount = finance.revolving_fund_repayment(cash, terms.recycle_share, arr.revolving_outstanding)
    desk.ledger.transfer(t, desk.general, desk.revolving, amount, "loan_repayment", project)
    arr.revolving_outstanding -= amount


def earn_interest(
    ledger: Ledger, fund: int, market: int, deposit_rate_annual: float, t: int
) -> None:
    """Idle cash in the fund earns the deposit rate for the month.

    Args:
        ledger: The ledger.
        fund: The revolving fund.
        market: The outside market account that pays the interest.
        deposit_rate_annual: Annual deposit rate.
        t: Month.
    """
    interest = finance.revolving_fund_interest(
        ledger.balance(fund), finance.annual_to_monthly(deposit_rate_annual)
    )
    ledger.transfer(t, market, fund, interest, "interest")
