"""The instruments by name, and what kind each is.

A city walks its policy's preference list (``policy.financing.preference``,
or ``by_domain``) and takes the first instrument that fits. *City-funded*
instruments raise money the city pays the vendor with (debts on its book or
a loan from its revolving fund); *partner-funded* ones have a vendor, an ESCO
or a PPP vehicle fund and own the equipment for a term.
"""

from __future__ import annotations

from typing import Literal

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
