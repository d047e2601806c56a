"""The instruments by name, and what kind each is.

A city walks its policy's preference list (``policy.financing.preference``,
or ``by_domain``) and takes the first instrument that fits. *City-funded*
instruments raise money the city pays the vendor with (debts on its book or
a loan from its revolving fund); *partner-funded* ones have a vendor, an ESCO
or a PPP vehicle fund and own the equipment for a term.
"""

from __future__ import annotations

from typing import Any, Literal

from sim.core.fields import CASH_BENEFITS, SAVINGS_BENEFITS

Instrument = Literal[
    "go_bond",
    "revenue_bond",
    "vendor_loan",
    "as_a_service",
    "revenue_share",
    "revolving_fund",
    "mini_bonds",
    "ppp",
    "tif",
    "shared_savings",
]
INSTRUMENTS: tuple[str, ...] = Instrument.__args__  # type: ignore[attr-defined]
#: A partner (vendor, ESCO or PPP vehicle) funds and owns the equipment for a term.
PARTNER_FUNDED = frozenset({"as_a_service", "revenue_share", "shared_savings", "ppp"})
#: Repaid only from the project's own cash benefits.
REVENUE_BACKED = frozenset({"revenue_bond", "revenue_share", "shared_savings"})
#: Need verified savings (energy or water leakage).
SAVINGS_BACKED = frozenset({"shared_savings"})


def misfit(inst: str, domain: str, tech: Any, ppp_payment: str) -> str | None:
    """Why an instrument cannot finance a domain, or None when it can.

    Args:
        inst: Instrument name.
        domain: Domain name (for the message).
        tech: The domain's technology block (``benefit_type``, ``user_facing``).
        ppp_payment: ``policy.financing.ppp.payment``.

    Returns:
        One line naming the misfit, or None.
    """
    if inst in REVENUE_BACKED and tech.benefit_type not in CASH_BENEFITS:
        return (
            f"{inst} needs a revenue stream, but {domain!r} has "
            f"benefit_type {tech.benefit_type!r} (no cash)"
        )
    if inst in SAVINGS_BACKED and tech.benefit_type not in SAVINGS_BENEFITS:
        return f"{inst} needs verified savings; {domain!r} has benefit_type {tech.benefit_type!r}"
    if inst == "ppp" and ppp_payment == "user_fees" and not tech.user_facing:
        return (
            f"ppp with user_fees payment needs a user-facing domain; "
            f"{domain!r} has user_facing = false"
        )
    return None
