"""F8 city guarantees: a savings or revenue floor that lowers investors' price.

Terms: ``policy.financing.guarantee``. A floor at share ``g`` of the base-case
cash of a revenue-bond project (savings floor for energy and water, revenue
floor otherwise) or of a PPP on user fees (a minimum revenue guarantee, the
larger of ``ppp.min_revenue_guarantee_share`` and the revenue floor) removes
that share of the investors' risk premium
(:func:`sim.core.finance.guaranteed_required_return`). In return the city
carries a contingent liability, booked at its expected cost
``E[max(floor - X, 0)]`` per month over the term
(:func:`sim.core.finance.guarantee_expected_cost`), and pays a call whenever a
month's cash falls below the floor: into the project's fund (revenue bond) or
the vehicle (PPP), from the general fund.
"""

from __future__ import annotations

from sim.core import finance
from sim.core.fields import Strict, field
from sim.instruments.applicability import REVENUE_FLOOR, SAVINGS_FLOOR
from sim.instruments.base import Arrangement, Desk

#: Standard deviation of a PPP's monthly user-fee cash, as a share of its base case.
PPP_CASH_SD_SHARE = 0.3


class Guarantee(Strict):
    """F8 city guarantees (contingent liabilities)."""

    savings_floor_share: float = field(
        0.0,
        "fraction",
        0.0,
        1.0,
        "city guarantees this share of a revenue bond's base-case savings",
        SAVINGS_FLOOR,
    )
    revenue_floor_share: float = field(
        0.0,
        "fraction",
        0.0,
        1.0,
        "city guarantees this share of a revenue bond's (or a demand-risk PPP's) base-case revenue",
        REVENUE_FLOOR,
    )


def cover_bond(
    desk: Desk,
    arr: Arrangement,
    floor_share: float,
    gross_month: float,
    mu: float,
    sd: float,
    term_years: int,
) -> None:
    """Guarantee a floor on a revenue-bond tranche's cash; book its expected cost and exposure.

    The exposure is the most the floor can call over the term: floor x 12 x term
    (MODEL.md: a savings floor g on base B for T years exposes g B T).

    Args:
        desk: The city's treasury.
        arr: The project's arrangement (its floor and base case grow by the tranche).
        floor_share: Share of the base case guaranteed.
        gross_month: Nominal monthly cash of the tranche at full performance.
        mu: Expected performance (the base case is ``gross_month * mu``).
        sd: Standard deviation of performance.
        term_years: Term over which the floor holds.
    """
    floor = floor_share * gross_month * mu
    arr.guarantee_floor_month += floor
    arr.base_case_cash_month += gross_month * mu
    months = 12 * term_years
    expected = finance.guarantee_expected_cost(floor, gross_month * mu, gross_month * sd)
    desk.add_contingent(months * expected, months * floor)


def cover_ppp(desk: Desk, arr: Arrangement, floor: float, base_case: float, years: int) -> None:
    """Raise a PPP's minimum revenue guarantee to a new floor; book the added cost and exposure.

    The contingent liability grows by what the new floor adds to the expected
    calls, and the exposure by what it adds to the most that can be called,
    over the remaining term (nothing is booked without a floor).

    Args:
        desk: The city's treasury.
        arr: The PPP's arrangement (its floor and base case are updated).
        floor: The new monthly floor.
        base_case: The new base-case monthly cash.
        years: Years of the guarantee left.
    """

    def expected_calls(floor_month: float, base_month: float) -> float:
        return finance.guarantee_expected_cost(
            floor_month, base_month, PPP_CASH_SD_SHARE * base_month
        )

    before = expected_calls(arr.guarantee_floor_month, arr.base_case_cash_month)
    added_floor = floor - arr.guarantee_floor_month
    arr.guarantee_floor_month, arr.base_case_cash_month = floor, base_case
    if floor > 0:
        desk.add_contingent(
            12 * years * (expected_calls(floor, base_case) - before), 12 * years * added_floor
        )


def expected_call(floor_month: float, mean_cash: float) -> float:
    """Expected monthly call of a floor on cash of the given mean (sd 0.3 of the mean).

    Args:
        floor_month: The monthly floor.
        mean_cash: Expected monthly cash.

    Returns:
        E[max(floor - X, 0)], X ~ Normal(mean, 0.3 mean).
    """
    return finance.guarantee_expected_cost(
        floor_month, mean_cash, PPP_CASH_SD_SHARE * max(mean_cash, 0.0)
    )


def call(desk: Desk, arr: Arrangement, cash: float, into: int, t: int, project: int) -> float:
    """Pay the floor's shortfall from the general fund when this month's cash is below it.

    Args:
        desk: The city's treasury.
        arr: The guaranteed arrangement.
        cash: This month's cash.
        into: The account topped up (project fund or vehicle).
        t: Month.
        project: Project id.

    Returns:
        The call paid (0 when cash reached the floor).
    """
    if arr.guarantee_floor_month <= cash:
        return 0.0
    amount = arr.guarantee_floor_month - cash
    desk.ledger.transfer(t, desk.general, into, amount, "guarantee_call", project)
    return amount
