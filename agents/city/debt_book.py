"""A city's debt book: the existing debt rolled over with the budget, and every new debt."""

from __future__ import annotations

from sim.core.ledger import Ledger
from sim.instruments.base import GENERAL, Debt


class DebtBook:
    """The debts a city owes and the debt service counted against its cap."""

    def __init__(self, existing_service_month: float) -> None:
        """Start with the existing debt book's monthly service (at month 0 prices).

        Args:
            existing_service_month: Debt service of the debt the city already has.
        """
        self.existing_month = existing_service_month
        self.debts: list[Debt] = []
        self._cache: tuple = (None, 0.0)

    def add(self, debt: Debt) -> Debt:
        """Put a debt on the book."""
        self.debts.append(debt)
        return debt

    def existing_service(self, revenue_trend: float) -> float:
        """This month's service of the existing book (it keeps pace with the budget)."""
        return self.existing_month * revenue_trend

    def annual_service(self, month: int, revenue_trend: float) -> float:
        """Debt service counted against the cap over the next 12 months.

        The existing book plus every general-recourse debt (revenue bonds, TIF
        and PPP debt are not the city's: they have no recourse to it).

        Args:
            month: The month.
            revenue_trend: The budget's trend index.

        Returns:
            USD per year.
        """
        key = (month, len(self.debts))
        if self._cache[0] == key:  # asked several times a month; debts only get added
            return self._cache[1]
        total = self.existing_month * 12 * revenue_trend
        for d in self.debts:
            if d.recourse == GENERAL:
                total += d.cap_service(month)
        self._cache = (key, total)
        return total

    def of_project(self, pid: int, instrument: str) -> list[Debt]:
        """The debts of one project under one instrument."""
        return [d for d in self.debts if d.project == pid and d.instrument == instrument]

    def pay(
        self, ledger: Ledger, t: int, payee_of: dict[int, int], *, exclude: str = ""
    ) -> list[tuple[Debt, float]]:
        """Pay every instalment due this month by its recourse.

        Args:
            ledger: The ledger.
            t: Month.
            payee_of: Where a payee's payments go instead (an exited vendor's to the market).
            exclude: An instrument whose debts are serviced by their own waterfall.

        Returns:
            (debt, shortfall) of every debt that defaulted for the first time this month.
        """
        defaults = []
        for debt in self.debts:
            if debt.instrument == exclude:
                continue
            was = debt.defaulted
            short = debt.pay(ledger, t, payee_of.get(debt.payee, debt.payee))
            if short > 0 and not was:
                debt.defaulted = True
                defaults.append((debt, short))
        return defaults
