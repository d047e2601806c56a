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
