"""Partnership and risk-sharing terms: how measured performance changes payments.

- ``fixed_price`` (traditional, supplier only): the vendor is paid in full
  whatever the technology delivers; the city keeps the performance risk.
- ``pay_for_performance``: the vendor's running payments (O&M fee, service
  fee, retention of capex) are multiplied by g(KPI): nothing below the
  threshold, full payment at target, linear in between, with the KPI measured
  with a lag.
- ``value_based``: running payments scale with the value measured against
  the value claimed (value-based billing), up to 150 %.

The KPI is realised performance over the vendor's claim, measured with noise.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from sim.core import finance

#: Most a value-based bill can exceed the base payment by.
VALUE_CAP = 1.5


def p4p_factor(kpi: float, threshold: float) -> float:
    """Pay-for-performance multiplier.

    Args:
        kpi: Measured performance over target (1 = on target).
        threshold: Below this nothing is paid.

    Returns:
        0 below the threshold, 1 at or above target, linear in between.
    """
    if kpi >= 1.0:
        return 1.0
    if kpi < threshold:
        return 0.0
    if threshold >= 1.0:
        return 1.0
    return (kpi - threshold) / (1.0 - threshold)


def payment_factor(mode: str, kpi: float, threshold: float) -> float:
    """Multiplier on a vendor's running payments under a contract's payment mode.

    Args:
        mode: ``fixed_price``, ``pay_for_performance`` or ``value_based``.
        kpi: Measured performance over target.
        threshold: Pay-for-performance threshold.

    Returns:
        The multiplier (1 under fixed price).
    """
    if mode == "pay_for_performance":
        return p4p_factor(kpi, threshold)
    if mode == "value_based":
        return min(max(kpi, 0.0), VALUE_CAP)
    return 1.0


def capex_upfront_share(mode: str, retention_share: float) -> float:
    """Share of the capex price paid on delivery; the rest is a retention paid against KPIs.

    Args:
        mode: Payment mode.
        retention_share: The policy's retention share.

    Returns:
        1 under fixed price and value-based billing; 1 - retention under pay for performance.
    """
    return 1.0 - retention_share if mode == "pay_for_performance" else 1.0


#: KPI measurement noise (sd of measured / true performance).
KPI_NOISE = 0.05


def measure_kpi(
    history: list[float], theta: float, target: float, noise: float, lag_months: int
) -> float:
    """Record this month's KPI and return the one the contract pays on (measured with a lag).

    Args:
        history: The project's KPI history (appended to).
        theta: Performance delivered this month.
        target: Performance the contract pays in full for.
        noise: A standard normal draw (measurement error).
        lag_months: Measurement lag.

    Returns:
        The KPI measured ``lag_months`` ago (1 before there is one).
    """
    history.append(theta / max(target, 1e-9) * (1 + KPI_NOISE * noise))
    return history[-1 - lag_months] if len(history) > lag_months else 1.0


#: Gauss-Hermite nodes (probabilists') for expectations over a lognormal KPI.
_NODES, _WEIGHTS = np.polynomial.hermite_e.hermegauss(40)
_WEIGHTS = _WEIGHTS / _WEIGHTS.sum()


def expected_payment_factor(mode: str, kpi_mean: float, sd_log: float, threshold: float) -> float:
    """Expected payment factor when the realised KPI is lognormal around ``kpi_mean``.

    What a vendor who knows its own true performance (``kpi_mean`` = true
    performance over its claim) expects to be paid per unit of a payment at
    risk; measurement noise is ignored (it is small and symmetric).

    Args:
        mode: Payment mode.
        kpi_mean: Expected realised KPI.
        sd_log: Log-sd of the site's realised performance.
        threshold: Pay-for-performance threshold.

    Returns:
        E[payment_factor(mode, KPI, threshold)].
    """
    if mode == "fixed_price":
        return 1.0
    kpis = kpi_mean * np.exp(sd_log * _NODES - 0.5 * sd_log**2)
    # weighted factors added one after another, in node order (the sum's bits)
    return float(sum((_WEIGHTS * payment_factors(mode, kpis, threshold)).tolist()))


def payment_factors(mode: str, kpis: np.ndarray, threshold: float) -> np.ndarray:
    """:func:`payment_factor` of every KPI in an array, element by element (the same bits).

    Args:
        mode: Payment mode.
        kpis: Measured performances over target.
        threshold: Pay-for-performance threshold.

    Returns:
        The multipliers.
    """
    if mode == "pay_for_performance":
        ramp = (kpis - threshold) / (1.0 - threshold) if threshold < 1.0 else np.ones_like(kpis)
        return np.where(kpis >= 1.0, 1.0, np.where(kpis < threshold, 0.0, ramp))
    if mode == "value_based":
        return np.minimum(np.maximum(kpis, 0.0), VALUE_CAP)
    return np.ones_like(kpis)


@dataclass(frozen=True)
class RiskTerms:
    """The performance risk a bid carries: what the contract makes the vendor bear.

    Attributes:
        payment: Payment mode (``fixed_price`` bears none).
        threshold: Pay-for-performance threshold.
        retention_share: Share of the capex price held back against KPIs.
        runs_equipment: The vendor is paid an O&M fee (scaled by the payment factor).
        guaranteed_share: Share of the claimed savings guaranteed (0: no guarantee).
        guarantee_months: Months the guarantee runs.
        cost_of_capital: The vendor's annual cost of capital (discounts the risk).
        risk_aversion: Loading on the expected cost of risk borne.
        sd_log: Log-sd of a site's realised performance around the vendor's true one.
        max_loading: A vendor whose risk premium exceeds this share of the contract's
            value to it (price and O&M fees) declines.
    """

    payment: str = "fixed_price"
    threshold: float = 0.8
    retention_share: float = 0.0
    runs_equipment: bool = True
    guaranteed_share: float = 0.0
    guarantee_months: int = 0
    cost_of_capital: float = 0.08
    risk_aversion: float = 0.5
    sd_log: float = 0.15
    max_loading: float = 0.5


def contract_value(
    terms: RiskTerms, opex_per_unit_month: float, margin: float, life_months: int
) -> float:
    """PV per unit, at the vendor's cost of capital, of the O&M fees it would be paid.

    Args:
        terms: The contract's risk terms.
        opex_per_unit_month: O&M cost per unit-month.
        margin: The vendors' margin on O&M.
        life_months: The equipment's life.

    Returns:
        USD per unit (0 when the vendor does not run the equipment).
    """
    if not terms.runs_equipment:
        return 0.0
    return opex_per_unit_month * (1 + margin) * _annuity(terms.cost_of_capital, life_months)


@lru_cache(maxsize=256)
def _annuity(cost_of_capital: float, months: int) -> float:
    """PV of 1 a month for ``months`` at an annual rate (bids ask for the same few, often)."""
    rate = finance.annual_to_monthly(cost_of_capital)
    return float(finance.pv_annuity_factor(rate, months))


def risk_premium(
    terms: RiskTerms,
    *,
    price: float,
    claim: float,
    true_perf: float,
    benefit_per_unit_month: float,
    opex_per_unit_month: float,
    margin: float,
    life_months: int,
) -> float:
    """The price mark-up per unit a vendor asks for the performance risk it takes.

    The vendor knows its true performance; what it does not know is the site
    (realised performance is lognormal around the true one with log-sd
    ``terms.sd_log``). It adds ``(1 + risk_aversion)`` times the present value,
    at its cost of capital, of what it expects to lose:

    - a savings guarantee of ``guaranteed_share`` x claim over
      ``guarantee_months``: the expected shortfall, a lognormal put
      (:func:`sim.core.finance.lognormal_put`) x the nominal savings per unit;
    - pay for performance or value-based billing: ``1 - E[payment factor]`` of
      the payments at risk (the retention of the price and the O&M fee over the
      equipment's life).

    Args:
        terms: The risk the contract transfers.
        price: The vendor's price per unit before the premium.
        claim: The performance it claims (what the contract measures against).
        true_perf: Its true performance.
        benefit_per_unit_month: Nominal savings per unit-month at full performance.
        opex_per_unit_month: O&M cost per unit-month.
        margin: The vendors' margin on O&M.
        life_months: The equipment's life.

    Returns:
        USD per unit (negative when value-based billing is expected to pay a bonus).
    """
    loss = 0.0
    if terms.guaranteed_share > 0 and terms.guarantee_months > 0:
        shortfall = finance.lognormal_put(terms.guaranteed_share * claim, true_perf, terms.sd_log)
        loss += (
            shortfall
            * benefit_per_unit_month
            * _annuity(terms.cost_of_capital, terms.guarantee_months)
        )
    if terms.payment != "fixed_price":
        paid = expected_payment_factor(
            terms.payment, true_perf / max(claim, 1e-9), terms.sd_log, terms.threshold
        )
        at_risk = terms.retention_share * price + contract_value(
            terms, opex_per_unit_month, margin, life_months
        )
        loss += (1.0 - paid) * at_risk
    return (1.0 + terms.risk_aversion) * loss
