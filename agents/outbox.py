"""What an agent decided this month, for the model to record: events and tallies.

Agents do not write into the model. Each keeps an :class:`Outbox`; it notes
events (a pilot scaled, a vendor exited, a rating changed), the projects it
started and non-cash tallies (kWh saved, savings, resident welfare, a PPP's
value for money) as they happen, and the model drains the outbox after the
agent has acted, stamping the month. Money moves only through the ledger.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


class ProjectRef(Protocol):
    """What an event records of a project."""

    pid: int
    city: str
    domain: str


@dataclass(frozen=True)
class Event:
    """One event of the run's log (the month is stamped by the model)."""

    event: str
    city: str
    project: int
    domain: str
    info: dict[str, Any]


@dataclass
class Report:
    """What an agent hands the model: events, new projects and tallies, in order."""

    events: list[Event] = field(default_factory=list)
    projects: list[Any] = field(default_factory=list)
    tallies: list[tuple[str, float]] = field(default_factory=list)


@dataclass
class Outbox:
    """Events, new projects and tallies noted since the model last drained them."""

    report: Report = field(default_factory=Report)

    def note(self, project: ProjectRef | None, event: str, **info: Any) -> None:
        """Note an event, about a project or (with ``city=``) about a city.

        Args:
            project: The project concerned, if any.
            event: Event name.
            **info: Details.
        """
        city = project.city if project else info.pop("city", "")
        self.report.events.append(
            Event(
                event, city, project.pid if project else -1, project.domain if project else "", info
            )
        )

    def tally(self, name: str, amount: float) -> None:
        """Add to a non-cash tally (``kwh_saved``, ``savings_usd``, ``welfare_usd``, ...).

        Args:
            name: The tally.
            amount: The increment.
        """
        self.report.tallies.append((name, amount))

    def started(self, project: ProjectRef) -> None:
        """Note a project the agent has just started.

        Args:
            project: The new project.
        """
        self.report.projects.append(project)

    @property
    def pending(self) -> bool:
        """Whether anything was noted since the last drain."""
        r = self.report
        return bool(r.events or r.projects or r.tallies)

    def drain(self) -> Report:
        """Hand over everything noted and start empty.

        Returns:
            The report, each list in the order noted.
        """
        out, self.report = self.report, Report()
        return out
