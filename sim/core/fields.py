"""Typed, range-checked parameters and the vocabulary every layer shares.

Every parameter block of a scenario (and of an experiment spec) derives from
:class:`Strict` and declares its fields with :func:`field`, which carries the
unit and the allowed range; validation errors name both. The vocabulary
(ratings, benefit types, instrument names) lives here so that the finance
library, the instruments and the schema all speak it without importing each
other.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

RATINGS = ("AAA", "AA", "A", "Baa", "Ba", "B")  # best to worst
Rating = Literal["AAA", "AA", "A", "Baa", "Ba", "B"]

BenefitType = Literal["energy", "user_fees", "advertising", "leakage", "time_saved"]
#: Benefit types that produce cash a revenue bond or a PPP can be repaid from.
CASH_BENEFITS = frozenset({"energy", "user_fees", "advertising", "leakage"})
#: Benefit types whose cash is verified savings (energy-performance contracts).
SAVINGS_BENEFITS = frozenset({"energy", "leakage"})


def field(
    default: Any, unit: str = "", ge: float | None = None, le: float | None = None, doc: str = ""
) -> Any:
    """Declare a schema field with its unit and allowed range.

    Args:
        default: The default value.
        unit: Unit of the value ("USD", "fraction", "months", ...), shown in errors.
        ge: Smallest allowed value (inclusive), if any.
        le: Largest allowed value (inclusive), if any.
        doc: One line describing the parameter (and its source).

    Returns:
        A pydantic ``FieldInfo`` carrying the unit in ``json_schema_extra``.
    """
    return Field(default, ge=ge, le=le, description=doc, json_schema_extra={"unit": unit})


class Strict(BaseModel):
    """Base of every parameter block: unknown keys and loose types are errors."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
