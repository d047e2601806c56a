"""The finance library: the formulas of the financing instruments F1-F8 of MODEL.md.

Every function is pure (no I/O, no hidden state), typed, tested on known
values, and called by the model: the instruments (:mod:`sim.instruments`) book
what these functions compute, so the tested formulas are the ones the model
runs. Rates are decimal fractions (0.05 = 5 %). Unless stated otherwise, a
cash-flow array holds one value per period with element ``k`` falling at the
end of period ``k + 1`` (ordinary annuity timing, Brealey-Myers-Allen,
*Principles of Corporate Finance*, ch. 2); ``npv``/``irr`` instead place
``flows[0]`` at t = 0. Functions of one period (a month's waterfall, a month's
share) take and return plain floats.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import optimize, special, stats

from sim.core.fields import RATINGS as RATINGS  # one rating scale, best to worst

ArrayLike = npt.ArrayLike
FloatOrArray = float | np.ndarray

_EPS = 1e-9


# --------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------
def _check(ok: bool, name: str, value: object, rule: str) -> None:
    """Raise ``ValueError`` naming the argument and the bad value."""
    if not ok:
        raise ValueError(f"{name} must be {rule}, got {value!r}")


def _finite_all(value: ArrayLike, test: Callable[[np.ndarray], np.ndarray]) -> bool:
    """Whether every value is finite and passes ``test`` (plain numbers take a fast path)."""
    if isinstance(value, (float, int)):
        return math.isfinite(value) and bool(test(value))
    arr = np.asarray(value, dtype=float)
    return bool(np.all(np.isfinite(arr)) and np.all(test(arr)))


def _check_rate(rate: ArrayLike, name: str = "rate") -> None:
    _check(_finite_all(rate, lambda x: x > -1.0), name, rate, "finite and > -1")


def _check_nonneg(value: ArrayLike, name: str) -> None:
    _check(_finite_all(value, lambda x: x >= 0.0), name, value, "finite and >= 0")


def _check_positive(value: ArrayLike, name: str) -> None:
    _check(_finite_all(value, lambda x: x > 0.0), name, value, "finite and > 0")


def _check_share(value: float, name: str) -> None:
    _check(0.0 <= value <= 1.0, name, value, "in [0, 1]")


def _as_1d(values: ArrayLike, name: str) -> np.ndarray:
    arr = np.atleast_1d(np.asarray(values, dtype=float))
    _check(arr.ndim == 1 and bool(np.all(np.isfinite(arr))), name, values, "a finite 1-D array")
    return arr


def _check_len(arr: np.ndarray, n: int, name: str) -> None:
    if arr.size != n:
        raise ValueError(f"{name} must have {n} values, got {arr.size}")


def _scalar_or_array(x: np.ndarray) -> FloatOrArray:
    return float(x) if np.ndim(x) == 0 else x


# --------------------------------------------------------------------------
# Time value of money
# --------------------------------------------------------------------------
@lru_cache(maxsize=1024)  # pure; the model asks for the same few rates every month
def annual_to_monthly(rate_annual: float) -> float:
    """Convert an effective annual rate to the equivalent monthly rate.

    Source: compound-interest equivalence (1 + r_m)^12 = 1 + r_a.

    Args:
        rate_annual: Effective annual rate (decimal, > -1).

    Returns:
        Effective monthly rate (1 + r_a)^(1/12) - 1.

    """
    _check_rate(rate_annual, "rate_annual")
    return float(math.expm1(math.log1p(rate_annual) / 12.0))


def pv_annuity_factor(rate: ArrayLike, n: ArrayLike) -> FloatOrArray:
    """Present value of 1 per period for ``n`` periods, paid in arrears.

    Source: a(n, r) = (1 - (1 + r)^-n) / r; a(n, 0) = n.

    Args:
        rate: Per-period rate (> -1); scalar or array (broadcast).
        n: Number of periods (>= 0).

    Returns:
        The annuity factor (float for scalar input, else array).

    """
    _check_rate(rate)
    _check_nonneg(n, "n")
    r = np.asarray(rate, dtype=float)
    n_arr = np.asarray(n, dtype=float)
    safe = np.where(r == 0.0, 1.0, r)
    factor = np.where(r == 0.0, n_arr, -np.expm1(-n_arr * np.log1p(safe)) / safe)
    return _scalar_or_array(factor)


def annuity_payment(principal: ArrayLike, rate: ArrayLike, n_periods: ArrayLike) -> FloatOrArray:
    """Level payment amortising ``principal`` over ``n_periods`` (MODEL.md F1).

    Source: P = D r / (1 - (1 + r)^-n); P = D / n when r = 0.

    Args:
        principal: Amount borrowed D (>= 0); scalar or array.
        rate: Per-period rate r (> -1); scalar or array.
        n_periods: Number of payments n (> 0); scalar or array.

    Returns:
        Payment per period (float for scalar input, else broadcast array).

    """
    _check_nonneg(principal, "principal")
    _check_positive(n_periods, "n_periods")
    return _scalar_or_array(
        np.asarray(principal, dtype=float) / np.asarray(pv_annuity_factor(rate, n_periods))
    )


def npv(rate: float, flows: ArrayLike, *, t0: int = 0) -> float:
    """Net present value with ``flows[k]`` at time ``t0 + k``.

    With the default ``t0 = 0`` the first flow is undiscounted (Excel's NPV
    corresponds to ``t0 = 1``).

    Args:
        rate: Per-period discount rate (> -1).
        flows: Cash flows, one per period.
        t0: Time index of ``flows[0]``.

    Returns:
        sum_k flows[k] / (1 + rate)^(t0 + k).

    """
    _check_rate(rate)
    cf = _as_1d(flows, "flows")
    times = t0 + np.arange(cf.size, dtype=float)
    return float(np.sum(cf * np.exp(-times * np.log1p(rate))))


def _pv_arrears(flows: np.ndarray, rate: float) -> float:
    """PV of ``flows`` with element k at the end of period k + 1."""
    return npv(rate, flows, t0=1)


def irr(flows: ArrayLike) -> float:
    """Compute the internal rate of return by bracketing and Brent's method.

    The NPV (``flows[0]`` at t = 0) is evaluated on a grid over (-0.99, 10);
    each sign change is refined with ``scipy.optimize.brentq``. If several
    roots exist the one nearest zero is returned; with no sign change the IRR
    is undefined and ``nan`` is returned.

    Args:
        flows: Cash flows, ``flows[0]`` at t = 0.

    Returns:
        The per-period IRR, or ``nan`` if none is bracketed.

    """
    cf = _as_1d(flows, "flows")
    grid = np.unique(np.concatenate([np.linspace(-0.99, 1.0, 400), np.geomspace(1.0, 10.0, 100)]))
    times = np.arange(cf.size, dtype=float)
    with np.errstate(over="ignore", invalid="ignore"):
        values = (cf[None, :] * (1.0 + grid[:, None]) ** -times[None, :]).sum(1)
    roots = [float(g) for g, v in zip(grid, values, strict=True) if v == 0.0]
    for i in range(grid.size - 1):
        a, b = values[i], values[i + 1]
        if np.isfinite(a) and np.isfinite(b) and a * b < 0.0:
            roots.append(optimize.brentq(lambda r: npv(r, cf), grid[i], grid[i + 1], xtol=1e-14))
    return min(roots, key=abs) if roots else float("nan")


# --------------------------------------------------------------------------
# F1 General-obligation bonds
# --------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Schedule:
    """An amortisation table as arrays, one value per period (``frame()`` for pandas)."""

    payment: np.ndarray
    interest: np.ndarray
    principal: np.ndarray
    balance: np.ndarray
    """Balance after the period's payment."""

    @classmethod
    def from_balances(
        cls, opening: np.ndarray, closing: np.ndarray, rate_period: float
    ) -> Schedule:
        """Build the table from opening and closing balances at a per-period rate."""
        interest = rate_period * opening
        principal = opening - closing
        return cls(interest + principal, interest, principal, closing)

    def __len__(self) -> int:
        """Number of periods."""
        return self.payment.size

    def frame(self) -> pd.DataFrame:
        """The table as a DataFrame: period (from 1), payment, interest, principal, balance."""
        return pd.DataFrame(
            {
                "period": np.arange(1, len(self) + 1),
                "payment": self.payment,
                "interest": self.interest,
                "principal": self.principal,
                "balance": self.balance,
            }
        )


def _check_loan(principal: float, rate: float, years: int, periods_per_year: int) -> None:
    _check_nonneg(principal, "principal")
    _check_rate(rate)
    _check(int(years) == years and years > 0, "years", years, "an integer > 0")
    _check(
        int(periods_per_year) == periods_per_year and periods_per_year > 0,
        "periods_per_year",
        periods_per_year,
        "an integer > 0",
    )


def level_debt_service(
    principal: float, rate: float, years: int, periods_per_year: int = 1
) -> Schedule:
    """Amortisation table of a level-payment (annuity) bond or loan (F1).

    Nominal convention: ``rate`` is the annual coupon and the per-period rate
    is ``rate / periods_per_year``. The balance after k payments is
    P * a(n - k, r), so it is non-increasing and ends exactly at 0.

    Args:
        principal: Amount borrowed (>= 0).
        rate: Annual nominal coupon rate.
        years: Term in years (integer > 0).
        periods_per_year: Payments per year.

    Returns:
        The schedule (payment, interest, principal, balance per period).

    """
    _check_loan(principal, rate, years, periods_per_year)
    n = int(years * periods_per_year)
    r = rate / periods_per_year
    payment = annuity_payment(principal, r, n)
    remaining = np.arange(n - 1, -1, -1, dtype=float)
    closing = payment * np.asarray(pv_annuity_factor(r, remaining), dtype=float)
    closing[np.abs(closing) < _EPS * max(principal, 1.0)] = 0.0
    closing = np.maximum(np.minimum.accumulate(closing), 0.0)
    opening = np.concatenate([[float(principal)], closing[:-1]])
    return Schedule.from_balances(opening, closing, r)


def serial_bond_schedule(
    principal: float, rate: float, years: int, periods_per_year: int = 1
) -> Schedule:
    """Serial-bond table: equal principal each period, interest on balance (F1).

    Source: standard serial (level-principal) municipal bond structure; the
    per-period rate is ``rate / periods_per_year`` (nominal convention).

    Args:
        principal: Amount borrowed (>= 0).
        rate: Annual nominal coupon rate.
        years: Term in years (integer > 0).
        periods_per_year: Payments per year.

    Returns:
        The schedule (payment, interest, principal, balance per period).

    """
    _check_loan(principal, rate, years, periods_per_year)
    n = int(years * periods_per_year)
    closing = principal * (1.0 - np.arange(1, n + 1, dtype=float) / n)
    closing[-1] = 0.0
    opening = np.concatenate([[float(principal)], closing[:-1]])
    return Schedule.from_balances(opening, np.maximum(closing, 0.0), rate / periods_per_year)


def _default_yields() -> dict[str, tuple[float, ...]]:
    return {
        "AAA": (0.0333, 0.0417),
        "AA": (0.0344, 0.0438),
        "A": (0.0368, 0.0461),
        "Baa": (0.0416, 0.0505),
    }


BA_SPREAD_OVER_BAA = 0.010
"""Model assumption: Ba yield = Baa + 100 bp at every tenor."""
B_SPREAD_OVER_BAA = 0.025
"""Model assumption: B yield = Baa + 250 bp at every tenor."""


@dataclass(frozen=True)
class YieldCurve:
    """Municipal yields by rating at given tenors (MODEL.md F1, May 2025).

    Defaults: 10-year AAA/AA/A/Baa 3.33/3.44/3.68/4.16 %, 20-year
    4.17/4.38/4.61/5.05 %. Sub-investment grades are a model assumption:
    Ba = Baa + 1.0 % and B = Baa + 2.5 % at each tenor; they are derived
    from Baa whenever they are not given explicitly.
    """

    tenors_years: tuple[float, ...] = (10.0, 20.0)
    yields: dict[str, tuple[float, ...]] = field(default_factory=_default_yields)

    def __post_init__(self) -> None:
        """Validate tenors and derive Ba/B yields from Baa if missing."""
        tenors = np.asarray(self.tenors_years, dtype=float)
        _check(
            tenors.size > 0 and bool(np.all(np.diff(tenors) > 0)),
            "tenors_years",
            self.tenors_years,
            "non-empty and increasing",
        )
        ylds = {k: tuple(float(v) for v in vs) for k, vs in self.yields.items()}
        for rating, values in ylds.items():
            _check(
                len(values) == tenors.size,
                f"yields[{rating!r}]",
                values,
                f"of length {tenors.size}",
            )
        if "Baa" in ylds:
            for rating, spread in (("Ba", BA_SPREAD_OVER_BAA), ("B", B_SPREAD_OVER_BAA)):
                ylds.setdefault(rating, tuple(y + spread for y in ylds["Baa"]))
        object.__setattr__(self, "yields", ylds)

    def __hash__(self) -> int:
        """Hash by value (the ``yields`` dict is treated as immutable)."""
        return hash((tuple(self.tenors_years), tuple(sorted(self.yields.items()))))

    def yield_for(self, rating: str, years: float, shift: float = 0.0) -> float:
        """Yield for a rating and maturity.

        Linear interpolation in tenor, flat extrapolation outside the
        tenor range, plus a parallel ``shift`` (e.g. 0.02 for +200 bp).

        Args:
            rating: One of the curve's ratings (e.g. ``RATINGS``).
            years: Maturity in years (> 0).
            shift: Parallel shift added to the yield.

        Returns:
            Annual yield (decimal).

        """
        if rating not in self.yields:
            allowed = [r for r in RATINGS if r in self.yields] + sorted(
                r for r in self.yields if r not in RATINGS
            )
            raise ValueError(f"rating must be one of {allowed}, got {rating!r}")
        _check_positive(years, "years")
        value = np.interp(years, self.tenors_years, self.yields[rating])
        return float(value) + float(shift)


def bond_yield(
    rating: str, years: float, curve: YieldCurve | None = None, shift: float = 0.0
) -> float:
    """Look up a yield on a curve (wrapper of :meth:`YieldCurve.yield_for`).

    Args:
        rating: Rating grade.
        years: Maturity in years.
        curve: Yield curve; defaults to the MODEL.md May-2025 curve.
        shift: Parallel shift (decimal).

    Returns:
        Annual yield (decimal).

    """
    return (curve or YieldCurve()).yield_for(rating, years, shift)


def debt_service_ratio(debt_service: ArrayLike, general_revenue: ArrayLike) -> FloatOrArray:
    """Debt-service ratio = debt service / general revenue (MODEL.md KPIs).

    Args:
        debt_service: Debt service per period (>= 0).
        general_revenue: General revenue per period (> 0).

    Returns:
        The ratio (float or array).

    """
    _check_nonneg(debt_service, "debt_service")
    _check_positive(general_revenue, "general_revenue")
    if isinstance(debt_service, float | int) and isinstance(general_revenue, float | int):
        return float(debt_service) / float(general_revenue)  # the bits of the array path
    return _scalar_or_array(
        np.asarray(debt_service, dtype=float) / np.asarray(general_revenue, dtype=float)
    )


# --------------------------------------------------------------------------
# F2 Revenue bonds
# --------------------------------------------------------------------------
class RevenueBondMonth(NamedTuple):
    """One month of a revenue bond's waterfall."""

    paid: float
    """Debt service paid to the bondholders."""
    shortfall: float
    """Debt service the fund could not pay (a default: no recourse beyond the fund)."""
    released: float
    """Cash above the reserve target, released to the issuer."""


def revenue_bond_month(
    available: float, debt_service: float, reserve_target: float
) -> RevenueBondMonth:
    """Waterfall of a revenue bond's fund for one period (F2).

    The fund holds the debt-service reserve plus the period's net pledged
    revenue (``available``, negative when operating costs exceeded revenue).
    It pays the debt service as far as it can, drawing the reserve when
    revenue falls short; what it cannot pay is a shortfall (a default: there
    is no recourse to any general fund, MODEL.md F2); cash above the reserve
    target after paying is released. Over many periods, with the reserve
    refilled up to its target from surpluses, the bond defaults exactly when a
    shortfall of revenue exceeds what the reserve holds.

    Args:
        available: Cash in the fund before debt service (reserve + net revenue).
        debt_service: Debt service due (>= 0).
        reserve_target: Reserve the fund keeps (>= 0).

    Returns:
        (paid, shortfall, released).

    """
    _check(math.isfinite(available), "available", available, "finite")
    _check(
        debt_service >= 0.0 and math.isfinite(debt_service),
        "debt_service",
        debt_service,
        "finite and >= 0",
    )
    _check(
        reserve_target >= 0.0 and math.isfinite(reserve_target),
        "reserve_target",
        reserve_target,
        "finite and >= 0",
    )
    paid = min(debt_service, max(available, 0.0))
    return RevenueBondMonth(paid, debt_service - paid, max(available - paid - reserve_target, 0.0))


# --------------------------------------------------------------------------
# F3 Vendor financing
# --------------------------------------------------------------------------
def vendor_loan_schedule(
    principal: float,
    vendor_cost_of_capital: float,
    margin: float,
    years: int,
    periods_per_year: int = 12,
) -> pd.DataFrame:
    """Vendor loan: level debt service at cost of capital + margin (F3).

    Args:
        principal: Amount financed (>= 0).
        vendor_cost_of_capital: Vendor's annual cost of capital.
        margin: Annual margin added by the vendor.
        years: Term in years.
        periods_per_year: Payments per year (monthly by default).

    Returns:
        Amortisation table as in :func:`level_debt_service`.

    """
    return level_debt_service(principal, vendor_cost_of_capital + margin, years, periods_per_year)


def as_a_service_fee(
    capex_per_unit: float,
    opex_per_unit_month: float,
    term_months: int,
    cost_of_capital_annual: float,
    margin: float,
) -> float:
    """Monthly as-a-service fee per unit (F3).

    fee = (annuity(capex, r_m, T) + opex) * (1 + margin), with r_m the
    compound-equivalent monthly rate of the annual cost of capital.

    Args:
        capex_per_unit: Upfront cost per unit (>= 0).
        opex_per_unit_month: Operating cost per unit per month (>= 0).
        term_months: Contract term in months (> 0).
        cost_of_capital_annual: Vendor's effective annual cost of capital.
        margin: Vendor mark-up on cost (>= 0).

    Returns:
        Fee per unit per month.

    """
    _check_nonneg(capex_per_unit, "capex_per_unit")
    _check_nonneg(opex_per_unit_month, "opex_per_unit_month")
    _check_positive(term_months, "term_months")
    _check_nonneg(margin, "margin")
    r_m = annual_to_monthly(cost_of_capital_annual)
    capex = float(annuity_payment(capex_per_unit, r_m, term_months))
    return (capex + opex_per_unit_month) * (1.0 + margin)


def revenue_share_payment(revenue: ArrayLike, share: float) -> FloatOrArray:
    """Vendor revenue share for one period: share s of revenue, no fixed fee (F3).

    The term T is the contract's: the share is paid while it runs. A loss
    (negative revenue) yields no payment.

    Args:
        revenue: The period's revenue (a scalar, or one value per payer).
        share: Vendor share s in [0, 1].

    Returns:
        Payment to the vendor; the issuer keeps ``revenue`` less it.

    """
    _check_share(share, "share")
    if isinstance(revenue, (float, int)):  # one payer: plain arithmetic
        return share * max(revenue, 0.0)
    return _scalar_or_array(share * np.maximum(revenue, 0.0))


# --------------------------------------------------------------------------
# F4 Revolving innovation fund
# --------------------------------------------------------------------------
def revolving_fund_repayment(savings: float, recycle_share: float, outstanding: float) -> float:
    """A project's repayment to a revolving fund for one period (F4).

    The project pays ``recycle_share`` of its verified savings until its loan
    is repaid: repayment = min(outstanding, recycle_share x max(savings, 0)).
    With :func:`revolving_fund_interest` this is the fund's law of motion
    F(t+1) = F(t) - loans + repayments + interest (MODEL.md F4).

    Args:
        savings: The period's verified savings.
        recycle_share: Share of savings repaid to the fund, in [0, 1].
        outstanding: Loan still owed (>= 0).

    Returns:
        The repayment.

    """
    _check_share(recycle_share, "recycle_share")
    _check_nonneg(outstanding, "outstanding")
    return min(outstanding, recycle_share * max(savings, 0.0))


def revolving_fund_interest(balance: float, rate_per_period: float) -> float:
    """Interest a revolving fund's idle cash earns in one period (F4).

    Args:
        balance: The fund's balance at the start of the period.
        rate_per_period: Deposit rate per period.

    Returns:
        rate x balance on a positive balance; 0 otherwise.

    """
    _check_rate(rate_per_period, "rate_per_period")
    return balance * rate_per_period if balance > 0.0 else 0.0


# --------------------------------------------------------------------------
# F5 Citizen mini-bonds (zero-coupon)
# --------------------------------------------------------------------------
def zero_coupon_yield(price: float, maturity_value: float, years: float) -> float:
    """Annual yield of a zero-coupon bond: (M / P)^(1/n) - 1 (F5).

    Denver 2014: $500 -> $750 at 9 years = 4.61 %/yr.

    Args:
        price: Purchase price P (> 0).
        maturity_value: Redemption value M (> 0).
        years: Years to maturity n (> 0).

    Returns:
        Effective annual yield.

    """
    _check_positive(price, "price")
    _check_positive(maturity_value, "maturity_value")
    _check_positive(years, "years")
    return math.expm1(math.log(maturity_value / price) / years)


def zero_coupon_price(maturity_value: float, rate: float, years: float) -> float:
    """Price P = M / (1 + r)^n of a zero-coupon bond (F5).

    Args:
        maturity_value: Redemption value (> 0).
        rate: Effective annual yield.
        years: Years to maturity (> 0).

    Returns:
        Present price.

    """
    _check_positive(maturity_value, "maturity_value")
    _check_rate(rate)
    _check_positive(years, "years")
    return maturity_value * math.exp(-years * math.log1p(rate))


# --------------------------------------------------------------------------
# F6 Public-private partnership (project finance)
# --------------------------------------------------------------------------
def sculpted_debt_service(cfads: ArrayLike, dscr: float) -> np.ndarray:
    """Debt service sculpted to a constant DSCR: max(CFADS, 0) / DSCR (F6).

    Source: Yescombe, *Principles of Project Finance*, ch. 12 (sculpting).

    Args:
        cfads: Cash flow available for debt service per period.
        dscr: Target debt-service cover ratio (> 0).

    Returns:
        Debt service per period (never negative).

    """
    _check_positive(dscr, "dscr")
    return np.maximum(_as_1d(cfads, "cfads"), 0.0) / dscr


def size_debt_by_dscr(cfads: ArrayLike, rate: float, dscr: float) -> float:
    """Senior debt sized on cash flow: PV(CFADS / DSCR) at the debt rate (F6).

    Args:
        cfads: CFADS per period (first value at the end of period 1).
        rate: Per-period debt interest rate.
        dscr: Minimum DSCR (MODEL.md: 1.15-1.2 availability, 1.5-2.0 demand).

    Returns:
        Maximum senior debt.

    """
    return _pv_arrears(sculpted_debt_service(cfads, dscr), rate)


def llcr(cfads: ArrayLike, rate: float, debt: float) -> float:
    """Loan-life cover ratio = PV(CFADS over the loan life) / debt (F6).

    Args:
        cfads: CFADS per period over the loan life.
        rate: Per-period debt interest rate.
        debt: Outstanding debt (> 0).

    Returns:
        The LLCR.

    """
    _check_positive(debt, "debt")
    return _pv_arrears(_as_1d(cfads, "cfads"), rate) / debt


def dscr_series(cfads: ArrayLike, debt_service: ArrayLike) -> np.ndarray:
    """Period DSCR = CFADS / debt service (inf where debt service is 0).

    Args:
        cfads: CFADS per period.
        debt_service: Debt service per period (>= 0), same length.

    Returns:
        DSCR per period.

    """
    cf = _as_1d(cfads, "cfads")
    ds = _as_1d(debt_service, "debt_service")
    _check_nonneg(ds, "debt_service")
    _check_len(ds, cf.size, "debt_service")
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(ds > 0.0, cf / np.where(ds > 0.0, ds, 1.0), np.inf)


def value_for_money(
    psc_cost_pv: float,
    partner_payments: ArrayLike,
    rate: float,
    retained_risk_pv: float,
    contract_management_pv: float,
) -> float:
    """Value for money of a PPP against the public sector comparator (F6).

    VfM = PSC - PV(payments to the partner) - retained risk - contract
    management cost; payments fall at the end of periods 1..n.

    Args:
        psc_cost_pv: PV cost of the public sector comparator.
        partner_payments: Payments to the partner per period.
        rate: Per-period public discount rate.
        retained_risk_pv: PV of risk retained by the city (>= 0).
        contract_management_pv: PV of contract-management cost (>= 0).

    Returns:
        VfM (positive means the PPP is cheaper).

    """
    _check_nonneg(retained_risk_pv, "retained_risk_pv")
    _check_nonneg(contract_management_pv, "contract_management_pv")
    pv_pay = _pv_arrears(_as_1d(partner_payments, "partner_payments"), rate)
    return psc_cost_pv - pv_pay - retained_risk_pv - contract_management_pv


@dataclass(frozen=True, eq=False)
class PPPStructure:
    """Capital structure of a DBFOM project vehicle (F6); arrays read-only."""

    debt: float
    equity: float
    debt_service: np.ndarray
    equity_flows: np.ndarray
    equity_irr: float
    llcr: float
    min_dscr: float
    equity_target_irr: float
    meets_equity_target: bool


def ppp_structure(
    capex: float,
    cfads: ArrayLike,
    debt_rate: float,
    dscr: float,
    equity_target_irr: float,
    *,
    gearing_max: float = 0.9,
) -> PPPStructure:
    """Size debt and equity of a PPP vehicle (F6).

    debt = min(PV(CFADS / DSCR), gearing_max * capex); debt service is the
    sculpted profile scaled so its PV at the debt rate equals the debt;
    equity = capex - debt; equity flows = [-equity, CFADS - debt service].

    Args:
        capex: Construction cost at t = 0 (> 0).
        cfads: CFADS per operating period.
        debt_rate: Per-period senior debt rate.
        dscr: Minimum DSCR used for sizing (> 0).
        equity_target_irr: Investors' target IRR (MODEL.md 10-15 %).
        gearing_max: Maximum debt / capex, in [0, 1].

    Returns:
        A :class:`PPPStructure`.

    """
    _check_positive(capex, "capex")
    _check_share(gearing_max, "gearing_max")
    cf = _as_1d(cfads, "cfads")
    sculpted = sculpted_debt_service(cf, dscr)
    sized = size_debt_by_dscr(cf, debt_rate, dscr)
    debt = min(sized, gearing_max * capex)
    ds = sculpted * (debt / sized) if sized > 0.0 else np.zeros_like(cf)
    equity = capex - debt
    flows = np.concatenate([[-equity], cf - ds])
    served = ds > 0.0
    min_dscr = float(np.min(cf[served] / ds[served])) if served.any() else np.inf
    cover = llcr(cf, debt_rate, debt) if debt > 0.0 else np.inf
    eirr = irr(flows)
    for arr in (ds, flows):
        arr.setflags(write=False)
    return PPPStructure(
        debt=debt,
        equity=equity,
        debt_service=ds,
        equity_flows=flows,
        equity_irr=eirr,
        llcr=cover,
        min_dscr=min_dscr,
        equity_target_irr=equity_target_irr,
        meets_equity_target=bool(eirr >= equity_target_irr),
    )


# --------------------------------------------------------------------------
# F7 Land-value capture / tax-increment financing
# --------------------------------------------------------------------------
def tif_increment(assessed_value: ArrayLike, base_value: float, tax_rate: float) -> np.ndarray:
    """Tax increment = max(AV(t) - AV0, 0) * tax rate (F7).

    Args:
        assessed_value: Assessed value of the district per period.
        base_value: Frozen base assessed value AV0 (>= 0).
        tax_rate: Property tax rate (>= 0).

    Returns:
        Increment revenue per period.

    """
    _check_nonneg(base_value, "base_value")
    _check_nonneg(tax_rate, "tax_rate")
    return np.maximum(_as_1d(assessed_value, "assessed_value") - base_value, 0.0) * tax_rate


def but_for_share(av_with: ArrayLike, av_without: ArrayLike, base: float) -> FloatOrArray:
    """Share of the increment that would have happened anyway (F7).

    (AV_without - AV0) / (AV_with - AV0), clipped to [0, 1]. When there is
    no increment (AV_with <= AV0) the share is defined as 0.0.

    Args:
        av_with: Assessed value with the deployment.
        av_without: Counterfactual assessed value (background growth).
        base: Frozen base value AV0.

    Returns:
        The but-for share (float or array).

    """
    w = np.asarray(av_with, dtype=float)
    wo = np.asarray(av_without, dtype=float)
    gain = w - base
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.clip((wo - base) / np.where(gain > 0.0, gain, 1.0), 0.0, 1.0)
    return _scalar_or_array(np.where(gain > 0.0, share, 0.0))


# --------------------------------------------------------------------------
# F8 Guarantees and performance-based contracts
# --------------------------------------------------------------------------
def guarantee_expected_cost(floor: float, mean: float, sd: float) -> float:
    """Compute E[max(floor - X, 0)] of a floor with X ~ Normal(mean, sd) (F8).

    Source: normal put payoff (Bachelier): (K - mu) Phi(z) + sd phi(z),
    z = (K - mu) / sd; with sd = 0 it is max(K - mu, 0).

    Args:
        floor: Guaranteed level K.
        mean: Mean of the guaranteed quantity.
        sd: Standard deviation (>= 0).

    Returns:
        Expected cost of the guarantee (contingent liability).

    """
    _check_nonneg(sd, "sd")
    if sd == 0.0:
        return max(floor - mean, 0.0)
    z = (floor - mean) / sd
    return float((floor - mean) * stats.norm.cdf(z) + sd * stats.norm.pdf(z))


def lognormal_put(floor: float, mean: float, sd_log: float) -> float:
    """Compute E[max(floor - X, 0)] with X lognormal of mean ``mean`` and log-sd ``sd_log`` (F8).

    Source: Black (1976) put on a forward: K N(-d2) - F N(-d1),
    d1 = (ln(F / K) + s^2 / 2) / s, d2 = d1 - s. It prices a savings guarantee
    whose verified savings have a multiplicative (site) uncertainty; with
    ``sd_log = 0`` it is max(K - F, 0).

    Args:
        floor: Guaranteed level K (>= 0).
        mean: Expected value F of the guaranteed quantity (> 0).
        sd_log: Standard deviation of ln X (>= 0).

    Returns:
        Expected shortfall below the floor.
    """
    _check_nonneg(floor, "floor")
    _check_positive(mean, "mean")
    _check_nonneg(sd_log, "sd_log")
    if sd_log == 0.0 or floor == 0.0:
        return max(floor - mean, 0.0)
    d1 = (np.log(mean / floor) + 0.5 * sd_log**2) / sd_log
    d2 = d1 - sd_log
    # special.ndtr is what stats.norm.cdf computes, without its argument handling (~70 us a call)
    return float(floor * special.ndtr(-d2) - mean * special.ndtr(-d1))


def guaranteed_required_return(
    base_required_return: float, risk_premium: float, covered_share: float
) -> float:
    """Investors' required return under a guarantee (F8).

    Model assumption: a guarantee covering share c of the downside removes
    that share of the risk premium: r = base + premium * (1 - c).

    Args:
        base_required_return: Risk-free-like required return.
        risk_premium: Premium for the unguaranteed risk (>= 0).
        covered_share: Share of downside covered, in [0, 1].

    Returns:
        Required return.

    """
    _check_nonneg(risk_premium, "risk_premium")
    _check_share(covered_share, "covered_share")
    return base_required_return + risk_premium * (1.0 - covered_share)


def guaranteed_savings(verified: float, guaranteed: float) -> tuple[float, float]:
    """Guaranteed-savings energy-performance contract for one period (F8).

    The vendor pays any shortfall below the guaranteed level.

    Args:
        verified: Verified savings of the period.
        guaranteed: Guaranteed savings of the period (>= 0).

    Returns:
        (savings the city ends up with = max(verified, guaranteed), the vendor's
        payment = max(guaranteed - verified, 0)).

    """
    _check_nonneg(guaranteed, "guaranteed")
    return max(verified, guaranteed), max(guaranteed - verified, 0.0)


def shared_savings(verified: ArrayLike, vendor_share: float) -> tuple[FloatOrArray, FloatOrArray]:
    """Shared-savings contract for one period: the vendor takes a share (F8).

    MODEL.md: vendor share typically 50-90 % for 5-20 years (the term is the
    contract's). The vendor takes its share of positive savings only; the
    city keeps the rest, including any negative savings.

    Args:
        verified: Verified savings of the period (a scalar, or one value per payer).
        vendor_share: Vendor share in [0, 1].

    Returns:
        (city savings, vendor receipts); they sum to the verified savings.

    """
    _check_share(vendor_share, "vendor_share")
    if isinstance(verified, (float, int)):  # one payer: plain arithmetic
        vendor = vendor_share * max(verified, 0.0)
    else:
        vendor = _scalar_or_array(vendor_share * np.maximum(verified, 0.0))
    return verified - vendor, vendor
