"""Typed, range-checked parameters and the vocabulary every layer shares.

Every parameter block of a scenario (and of an experiment spec) derives from
:class:`Strict` and declares its fields with :func:`field`, which carries the
unit, the allowed range and, for a parameter that acts only under some
condition, that condition (:class:`Condition`); validation errors name the
unit and the range. The vocabulary (ratings, benefit types, instrument names)
lives here so that the finance library, the instruments and the schema all
speak it without importing each other.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

RATINGS = ("AAA", "AA", "A", "Baa", "Ba", "B")  # best to worst
Rating = Literal["AAA", "AA", "A", "Baa", "Ba", "B"]

BenefitType = Literal["energy", "user_fees", "advertising", "leakage", "time_saved"]
#: Benefit types that produce cash a revenue bond or a PPP can be repaid from.
CASH_BENEFITS = frozenset({"energy", "user_fees", "advertising", "leakage"})
#: Benefit types whose cash is verified savings (energy-performance contracts).
SAVINGS_BENEFITS = frozenset({"energy", "leakage"})


#: ``test(scenario, path) -> bool``: ``path`` is the parameter's dotted path as a tuple
#: (so a per-domain condition finds its domain, a per-rating one its rating).
Test = Callable[[Any, tuple[str, ...]], bool]


class Condition(str):
    """When a parameter applies: a one-line text that can be checked on a scenario.

    A condition *is* its text (so it shows as text in a JSON schema and in listings)
    and carries ``test(scenario, path)``, which reads a validated scenario (by
    attribute, so this layer imports none) and the parameter's path. Conditions
    combine with ``&`` and ``|``. The named conditions the schema uses live in
    :mod:`sim.config.applicability` (and, for the instruments' terms, in
    :mod:`sim.instruments.applicability`); a field without one always applies.
    """

    test: Test

    def __new__(cls, text: str, test: Test) -> Condition:
        """Make a condition.

        Args:
            text: One line saying when the parameter applies ("the domain is user-facing").
            test: ``f(scenario, path) -> bool``, true when it applies.

        Returns:
            The condition.
        """
        self = super().__new__(cls, text)
        self.test = test
        return self

    def holds(self, scenario: Any, path: tuple[str, ...] | str = ()) -> bool:
        """Whether the condition holds for a parameter of a validated scenario.

        Args:
            scenario: A validated ``sim.config.schema.Scenario``.
            path: The parameter's dotted path (a string or a tuple of its parts).

        Returns:
            True when the parameter applies.
        """
        parts = tuple(path.split(".")) if isinstance(path, str) else tuple(path)
        return bool(self.test(scenario, parts))

    def __and__(self, other: Condition) -> Condition:  # type: ignore[override]
        """Both hold."""
        return Condition(f"{self}; and {other}", lambda s, p: self.test(s, p) and other.test(s, p))

    def __or__(self, other: Condition) -> Condition:  # type: ignore[override]
        """Either holds."""
        return Condition(f"{self}, or {other}", lambda s, p: self.test(s, p) or other.test(s, p))

    def __copy__(self) -> Condition:
        """A condition is immutable: copies are itself (pydantic copies field metadata)."""
        return self

    def __deepcopy__(self, memo: dict) -> Condition:
        """A condition is immutable: copies are itself."""
        return self


def field(
    default: Any,
    unit: str = "",
    ge: float | None = None,
    le: float | None = None,
    doc: str = "",
    applies: Condition | None = None,
) -> Any:
    """Declare a schema field with its unit, allowed range and applicability.

    Args:
        default: The default value.
        unit: Unit of the value ("USD", "fraction", "months", ...), shown in errors.
        ge: Smallest allowed value (inclusive), if any.
        le: Largest allowed value (inclusive), if any.
        doc: One line describing the parameter (and its source).
        applies: When the parameter acts (a :class:`Condition`); None: always.

    Returns:
        A pydantic ``FieldInfo`` carrying the unit (and the condition, under
        ``applies``) in ``json_schema_extra``.
    """
    extra: dict[str, Any] = {"unit": unit}
    if applies is not None:
        extra["applies"] = applies
    return Field(default, ge=ge, le=le, description=doc, json_schema_extra=extra)


def block(factory: Callable[[], Any], doc: str = "", applies: Condition | None = None) -> Any:
    """Declare a field holding a parameter block (or a table of them).

    Args:
        factory: Builds the default block.
        doc: One line describing the block.
        applies: When every parameter of the block acts (combined with each field's own
            condition); None: always.

    Returns:
        A pydantic ``FieldInfo``.
    """
    extra = {"applies": applies} if applies is not None else None
    return Field(default_factory=factory, description=doc, json_schema_extra=extra)


def condition_of(info: Any) -> Condition | None:
    """The applicability condition a field declares, or None.

    Args:
        info: A pydantic ``FieldInfo`` (or None).

    Returns:
        Its condition.
    """
    extra = getattr(info, "json_schema_extra", None)
    cond = extra.get("applies") if isinstance(extra, dict) else None
    return cond if isinstance(cond, Condition) else None


class Strict(BaseModel):
    """Base of every parameter block: unknown keys and loose types are errors."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
