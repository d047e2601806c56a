"""Fuzzing the scenario and spec parsers (issue 12): every input is valid or one clear line.

Hypothesis writes files (raw bytes, text, and valid heads with junk values at
real parameter paths) and loads them as a scenario, an experiment spec and a
sensitivity spec. Each must end in a loaded object or a ``ScenarioError``
whose problems are single lines; anything else (a traceback, an internal
error) fails the test and Hypothesis shrinks it to the smallest such file.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import robustness_cases as rc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from experiments.engine.spec import load_spec
from experiments.sensitivity.spec import load_sensitivity_spec
from sim.config import ScenarioError, load_scenario

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,  # the same examples on every run: a CI failure reproduces
)

PATHS = rc.scenario_paths()

#: Values a user might type, of every TOML type, non-finite and huge numbers included.
SCALARS = (
    st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.booleans()
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)


def outcome(load, data: bytes) -> str:
    """Load ``data`` from a file: ``valid`` or ``clear``; raise on anything else."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.toml"
        path.write_bytes(data)
        try:
            load(path)
        except ScenarioError as exc:
            assert exc.problems, "a ScenarioError without a problem"
            for line in exc.problems:
                assert line.strip() and "\n" not in line and "Traceback" not in line, line
            return "clear"
    return "valid"


@SETTINGS
@given(st.binary(max_size=300))
def test_any_bytes_as_a_scenario(data):
    outcome(load_scenario, data)


@SETTINGS
@given(st.text(max_size=300))
def test_any_text_as_a_scenario(text):
    outcome(load_scenario, text.encode("utf-8", "surrogatepass"))


@SETTINGS
@given(st.lists(st.tuples(st.sampled_from(PATHS), VALUES), min_size=1, max_size=3))
def test_junk_at_real_parameter_paths(edits):
    text = rc.scenario_text([(path, value) for (path, _), value in edits])
    outcome(load_scenario, text.encode("utf-8", "surrogatepass"))


SPEC_KEYS = [
    "experiment.seed",
    "experiment.replications",
    "experiment.months",
    "experiment.kpis",
    "experiment.timeseries_stride",
    "experiment.chunk_size",
    "experiment.name",
    "design.kind",
    "design.samples",
    "design.points",
    "design.parameters.x.values",
    "design.parameters.x.range",
    "design.parameters.x.integer",
]


@SETTINGS
@given(st.lists(st.tuples(st.sampled_from(SPEC_KEYS), VALUES), min_size=1, max_size=3))
def test_junk_in_an_experiment_spec(edits):
    lines = [
        'experiment.model = "experiments.engine.analytic:linear"',
        *(f"{key} = {rc.toml_value(value)}" for key, value in dict(edits).items()),
    ]
    outcome(load_spec, ("\n".join(lines) + "\n").encode("utf-8", "surrogatepass"))


SENSITIVITY_KEYS = ["method", "n", "kpis", "replications", "seed", "levels", "model"]


@SETTINGS
@given(
    st.lists(st.tuples(st.sampled_from(SENSITIVITY_KEYS), VALUES), max_size=3),
    st.lists(st.tuples(st.sampled_from(["path", "range", "integer"]), VALUES), max_size=2),
)
def test_junk_in_a_sensitivity_spec(edits, parameter):
    head = {
        "method": "sobol",
        "n": 8,
        "model": "experiments.engine.analytic:ishigami",
        "kpis": ["y"],
    }
    head.update(dict(edits))
    param = {"path": "x1", "range": [-3.0, 3.0], **dict(parameter)}
    lines = ["[sensitivity]", *(f"{k} = {rc.toml_value(v)}" for k, v in head.items())]
    lines += [
        "[[sensitivity.parameters]]",
        *(f"{k} = {rc.toml_value(v)}" for k, v in param.items()),
    ]
    outcome(load_sensitivity_spec, ("\n".join(lines) + "\n").encode("utf-8", "surrogatepass"))
