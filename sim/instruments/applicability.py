"""When an instrument's terms apply: the conditions the fields of ``policy.financing`` declare.

An instrument's terms act only when a city can use the instrument: it is in the
financing preference of a domain the policy pursues (``by_domain`` for that
domain, else ``preference``) and it fits that domain
(:func:`sim.instruments.catalogue.misfit`; e.g. a revenue bond needs cash). Some
terms act only for some domains or payment modes: a savings floor only on a
revenue bond for an energy or leakage domain, availability deductions only on
an availability PPP.

These are :class:`~sim.core.fields.Condition` objects: a one-line text and a test
that reads a validated scenario by attribute (this layer imports no
``sim.config``). :mod:`sim.config.applicability` re-exports them with the
conditions of the rest of the schema.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sim.core.fields import CASH_BENEFITS, SAVINGS_BENEFITS, Condition
from sim.instruments.catalogue import INSTRUMENTS, PARTNER_FUNDED, misfit

#: Instruments that raise money the city pays its vendor with.
CITY_FUNDED = tuple(i for i in INSTRUMENTS if i not in PARTNER_FUNDED)
#: Instruments sold to the bond market at the city's curve.
BONDS = ("go_bond", "revenue_bond", "tif")


def used(scenario: Any) -> set[tuple[str, str]]:
    """Every (instrument, domain) pair a city of the scenario may finance with.

    Args:
        scenario: A validated scenario.

    Returns:
        Pairs of an instrument in a pursued domain's preference list that fits the domain.
    """
    fin, tech = scenario.policy.financing, scenario.world.technology
    out = set()
    for domain in scenario.policy.domains:
        if domain not in tech:
            continue
        for inst in fin.by_domain.get(domain, fin.preference):
            if misfit(inst, domain, tech[domain], fin.ppp.payment) is None:
                out.add((inst, domain))
    return out


def uses(
    *names: str, benefits: Collection[str] | None = None, text: str | None = None
) -> Condition:
    """The condition that one of the instruments is used (for a domain with one of the benefits).

    Args:
        names: Instrument names.
        benefits: Only for domains with one of these benefit types (None: any domain).
        text: The condition's text (default: built from the names and benefits).

    Returns:
        The condition.
    """
    if text is None:
        what = " or ".join(names)
        text = f"{what} is in the financing preference of a pursued domain"
        if benefits is not None:
            text += f" whose benefit is {' or '.join(sorted(benefits))}"

    def test(scenario: Any, path: tuple[str, ...]) -> bool:
        tech = scenario.world.technology
        return any(
            inst in names and (benefits is None or tech[domain].benefit_type in benefits)
            for inst, domain in used(scenario)
        )

    return Condition(text, test)


def ppp_pays(mode: str) -> Condition:
    """The condition that the PPP vehicle is paid by ``mode`` (availability or user fees).

    Args:
        mode: ``availability`` or ``user_fees``.

    Returns:
        The condition.
    """
    return Condition(
        f"policy.financing.ppp.payment is {mode}",
        lambda s, p: s.policy.financing.ppp.payment == mode,
    )


GO_BOND = uses("go_bond")
REVENUE_BOND = uses("revenue_bond")
VENDOR_LOAN = uses("vendor_loan")
VENDOR_LOAN_OR_SERVICE = uses("vendor_loan", "as_a_service")
AS_A_SERVICE = uses("as_a_service")
REVENUE_SHARE = uses("revenue_share")
REVOLVING_FUND = uses("revolving_fund")
MINI_BONDS = uses("mini_bonds")
USES_PPP = uses("ppp")
AVAILABILITY_PPP = USES_PPP & ppp_pays("availability")
DEMAND_PPP = USES_PPP & ppp_pays("user_fees")
USES_TIF = uses("tif")
SHARED_SAVINGS = uses("shared_savings")
#: A savings floor guarantees a revenue bond of an energy or leakage domain.
SAVINGS_FLOOR = uses("revenue_bond", benefits=SAVINGS_BENEFITS)
#: A revenue floor guarantees a revenue bond of another cash domain, or a demand-risk PPP.
REVENUE_FLOOR = uses("revenue_bond", benefits=CASH_BENEFITS - SAVINGS_BENEFITS) | DEMAND_PPP
CITY_FUNDING = uses(
    *CITY_FUNDED, text="a city-funded instrument is in the financing preference of a pursued domain"
)
