"""Typed, range-checked fields and the shared vocabulary (``sim.core.fields``).

A :class:`~sim.core.fields.Strict` block rejects unknown keys, loose types and
assignment; :func:`~sim.core.fields.field` carries the range, the unit and the
description; the rating scale runs best to worst and the cash / savings benefit
sets are subsets of the benefit types.
"""

from __future__ import annotations

import typing

import pytest
from pydantic import ValidationError

from sim.core.fields import (
    CASH_BENEFITS,
    RATINGS,
    SAVINGS_BENEFITS,
    BenefitType,
    Rating,
    Strict,
    field,
)


class Block(Strict):
    """A small parameter block."""

    rate: float = field(0.05, "fraction/yr", 0.0, 1.0, "a rate")
    count: int = field(3, "projects", 1, None, "a count")
    rating: Rating = "AA"


def test_defaults_and_valid_values():
    b = Block()
    assert (b.rate, b.count, b.rating) == (0.05, 3, "AA")
    assert Block(rate=1.0, count=1, rating="B").rate == 1.0
    assert Block(rate=0.0).rate == 0.0  # bounds are inclusive
    assert Block(count=10**6).count == 10**6  # no upper bound


def test_field_carries_unit_range_and_description():
    info = Block.model_fields["rate"]
    assert info.default == 0.05
    assert info.description == "a rate"
    assert info.json_schema_extra == {"unit": "fraction/yr"}
    schema = Block.model_json_schema()["properties"]["rate"]
    assert (schema["minimum"], schema["maximum"], schema["unit"]) == (0.0, 1.0, "fraction/yr")
    assert "maximum" not in Block.model_json_schema()["properties"]["count"]


@pytest.mark.parametrize(
    ("kwargs", "where"),
    [
        ({"rate": -0.01}, "rate"),
        ({"rate": 1.5}, "rate"),
        ({"count": 0}, "count"),
        ({"rating": "AA+"}, "rating"),
    ],
)
def test_out_of_range_or_unknown_values_are_errors_naming_the_field(kwargs, where):
    with pytest.raises(ValidationError) as info:
        Block(**kwargs)
    assert [e["loc"] for e in info.value.errors()] == [(where,)]


def test_unknown_keys_are_errors():
    with pytest.raises(ValidationError) as info:
        Block(rat=0.1)
    assert info.value.errors()[0]["type"] == "extra_forbidden"


@pytest.mark.parametrize(
    "kwargs", [{"rate": "0.1"}, {"count": 2.0}, {"count": "2"}, {"count": True}]
)
def test_loose_types_are_errors(kwargs):
    with pytest.raises(ValidationError):
        Block(**kwargs)


def test_an_int_is_a_valid_float():
    assert Block(rate=1).rate == 1.0


def test_blocks_are_frozen():
    b = Block()
    with pytest.raises(ValidationError):
        b.rate = 0.2
    assert b.rate == 0.05


def test_ratings_best_to_worst_match_the_literal():
    assert RATINGS == ("AAA", "AA", "A", "Baa", "Ba", "B")
    assert typing.get_args(Rating) == RATINGS


def test_cash_and_savings_benefits_are_nested_subsets_of_benefit_types():
    types = set(typing.get_args(BenefitType))
    assert SAVINGS_BENEFITS <= CASH_BENEFITS <= types
    assert "time_saved" in types - CASH_BENEFITS  # welfare, not cash
    assert SAVINGS_BENEFITS == {"energy", "leakage"}
