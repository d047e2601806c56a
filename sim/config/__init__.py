"""The scenario: its schema (:mod:`sim.config.schema`) and loading (:mod:`sim.config.loader`)."""

from sim.config.loader import (
    LIBRARY,
    OVERLAYS,
    Parameter,
    ScenarioError,
    apply_overrides,
    check_consistency,
    check_tree,
    library,
    load_scenario,
    merge,
    parameters,
    parse_assignments,
    parse_value,
    read_toml,
    resolve,
    validate,
)

__all__ = [
    "LIBRARY",
    "OVERLAYS",
    "Parameter",
    "ScenarioError",
    "apply_overrides",
    "check_consistency",
    "library",
    "load_scenario",
    "merge",
    "parameters",
    "parse_assignments",
    "parse_value",
    "check_tree",
    "read_toml",
    "resolve",
    "validate",
]
