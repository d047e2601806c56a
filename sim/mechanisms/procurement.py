"""Procurement modes: how long they take and whom they pick (MODEL.md, Procurement modes).

- ``rfp``: preparation plus posting-to-award with a heavy (Pareto) tail; one
  vendor, the lowest price per *claimed* unit of performance, fixed price.
- ``rfi_mou``: a request for information with partnership MOUs and an
  interoperability demonstration. The demo screens vendors below the policy's
  interoperability bar and reveals part of their true performance; the best
  ``technology_partners`` are taken, with an integrator partner (the most
  interoperable vendor) whose score sets how well the multi-vendor system
  performs. Partnership appetite trims margins.
- ``framework``: a call-off in weeks from a regional purchasing framework, only
  for domains already proven in a member city, at a volume discount.

In every mode a vendor bids a price and a claim (``ask``): under a fixed-price
contract its price and its optimistic claim; where the contract pays against
the claim it adds what the risk is worth to it
(:func:`sim.mechanisms.contracts.risk_premium`), shades its claim towards what
it knows it delivers, or declines to bid. Risk-bearing terms thus make claims
more honest and cost a premium, while plain fixed-price RFPs reward
over-claiming.

Governance scales the durations (:func:`sim.mechanisms.governance.delay`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.core.parties import VendorLike
from sim.mechanisms import governance

if TYPE_CHECKING:
    from sim.config.schema import Governance, ProcurementDurations

#: Weight of the interoperability demo's signal of true performance.
DEMO_REVEAL = 0.5
#: Performance lost by a k-vendor system per unit of missing interoperability.
INTEROP_PENALTY = 0.3


def duration(
    mode: str, durations: ProcurementDurations, gov: Governance, rng: np.random.Generator
) -> int:
    """Draw the months from need to award for one procurement.

    Args:
        mode: ``rfp``, ``rfi_mou`` or ``framework``.
        durations: The world's duration parameters.
        gov: The policy's governance.
        rng: The market generator.

    Returns:
        Whole months (at least 1).
    """
    u = rng.random()
    if mode == "rfp":
        tail = (1.0 - u) ** (-1.0 / durations.rfp_tail_alpha)  # Pareto(alpha), minimum 1
        months = durations.rfp_prep_months + durations.rfp_award_months * tail
    elif mode == "rfi_mou":
        months = durations.rfi_mou_months * (0.75 + 0.5 * u)
    else:
        months = durations.framework_months * (0.75 + 0.5 * u)
    return max(1, int(round(governance.delay(months, gov, durations))))


@dataclass(frozen=True)
class Award:
    """The outcome of a procurement."""

    vendors: tuple[VendorLike, ...]
    integrator: VendorLike | None
    price_per_unit: float
    claim: float
    system_factor: float


def system_factor(partners: int, interop: float) -> float:
    """Performance multiplier of a multi-vendor system.

    Args:
        partners: Number of technology partners.
        interop: Interoperability score of the integrator (or the partners' mean).

    Returns:
        1 for a single vendor; below 1 as partners grow and interoperability falls.
    """
    if partners <= 1:
        return 1.0
    return 1.0 - INTEROP_PENALTY * (1.0 - interop) * (partners - 1) / partners


def award(
    mode: str,
    domain: str,
    vendors: list[VendorLike],
    *,
    partners: int,
    interop_min: float,
    integrator: bool,
    discount: float,
    rng: np.random.Generator,
    ask: Callable[[VendorLike, float], tuple[float, float] | None] | None = None,
) -> Award | None:
    """Select vendors for a domain.

    Args:
        mode: Procurement mode.
        domain: Technology domain.
        vendors: Every vendor in the market.
        partners: Technology partners wanted (``rfi_mou``).
        interop_min: Interoperability screen (``rfi_mou``).
        integrator: Whether to appoint an integrator partner (``rfi_mou``).
        discount: Framework volume discount (``framework``).
        rng: The market generator (bid noise).
        ask: ``(vendor, its price) -> (price asked, claim)`` once it has priced the
            risk the contract makes it bear, or None when it declines to bid
            (default: its price and its claim).

    Returns:
        The award, or None when no vendor qualifies.
    """
    able = [v for v in vendors if v.solvent and domain in v.domains]
    noise = {v.unique_id: 1.0 + 0.05 * rng.standard_normal() for v in able}

    def offers(**how: Any) -> dict[int, tuple[float, float]]:
        out = {}
        for v in able:
            price = v.price(domain, **how)
            bid = (price, v.claim[domain]) if ask is None else ask(v, price)
            if bid is not None:
                out[v.unique_id] = bid
        return out

    if mode == "rfp":
        offer = offers()
        bidders = [v for v in able if v.unique_id in offer]
        if not bidders:
            return None

        def per_claim(v: VendorLike) -> float:
            price, claim = offer[v.unique_id]
            return price * noise[v.unique_id] / claim

        best = min(bidders, key=per_claim)
        price, claim = offer[best.unique_id]
        return Award((best,), None, price * noise[best.unique_id], claim, 1.0)
    if mode == "framework":
        offer = offers(discount=discount)
        bidders = [v for v in able if v.unique_id in offer]
        if not bidders:
            return None
        best = max(bidders, key=lambda v: offer[v.unique_id][1] * v.interop)
        price, claim = offer[best.unique_id]
        return Award((best,), None, price, claim, 1.0)
    offer = offers(partnering=True)
    bidders = [v for v in able if v.unique_id in offer]
    if not bidders:
        return None
    screened = [v for v in bidders if v.interop >= interop_min] or bidders

    def demo_score(v: VendorLike) -> float:
        shown = (1 - DEMO_REVEAL) * offer[v.unique_id][1] + DEMO_REVEAL * v.true_perf[domain]
        return shown * (0.5 + 0.5 * v.interop) * (0.8 + 0.2 * v.appetite) / noise[v.unique_id]

    chosen = sorted(screened, key=demo_score, reverse=True)[:partners]
    lead = None
    if integrator:
        lead = max((v for v in vendors if v.solvent), key=lambda v: v.interop)
        interop = lead.interop
    else:
        interop = float(np.mean([v.interop for v in chosen]))
    price = float(np.mean([offer[v.unique_id][0] * noise[v.unique_id] for v in chosen]))
    claim = float(np.mean([offer[v.unique_id][1] for v in chosen]))
    return Award(tuple(chosen), lead, price, claim, system_factor(len(chosen), interop))
