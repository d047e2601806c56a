"""A regional consortium: member cities share pilot evidence and a purchasing framework.

The framework lists only technologies already proven in a member city (the
world's ``procurement.framework_domains`` at the start); a domain scaled by a
member joins the list. Members' pilots pool their evidence in one
:class:`~sim.mechanisms.pilots.Evidence` store, so one city's pilot informs
every member's decision (MODEL.md, Project lifecycle).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sim.mechanisms.pilots import Evidence


@dataclass
class Consortium:
    """What member cities share: proven domains and pooled pilot evidence."""

    active: bool
    """More than one member city (a single city shares with no one)."""
    proven: set[str] = field(default_factory=set)
    """Domains the framework lists."""
    evidence: Evidence = field(default_factory=Evidence)
    """The evidence store (shared by members; non-members key theirs by city)."""

    def evidence_key(self, city: str, member: bool, domain: str, lead: int) -> tuple:
        """Key under which a pilot's measurements are pooled.

        Args:
            city: The city running the pilot.
            member: Whether it is a consortium member.
            domain: Technology domain.
            lead: The lead vendor's id.

        Returns:
            ``(domain, lead)`` for a member of an active consortium, else
            ``(city, domain, lead)``.
        """
        key = (domain, lead)
        return key if self.active and member else (city, *key)

    def proven_by(self, domain: str) -> None:
        """A member scaled ``domain``: the framework lists it from now on.

        Args:
            domain: The domain.
        """
        if self.active:
            self.proven.add(domain)
