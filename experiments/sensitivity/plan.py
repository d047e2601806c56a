"""The sampling plan of a sensitivity study and the experiment that runs it.

:func:`build_plan` samples the unit hypercube with the method's SALib sampler
(Saltelli for Sobol, Morris trajectories, eFAST curves, Latin hypercube for
RBD-FAST, delta and PAWN) and maps every column through its parameter's inverse
CDF; :func:`experiment_spec` turns the plan into an explicit list design for
:func:`experiments.engine.batch.run_experiment`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from experiments.engine.spec import Spec
from experiments.sensitivity.spec import SensitivitySpec, integer_paths, plain_value

# --------------------------------------------------------------------------- design


@dataclass
class Plan:
    """The sample: unit-interval matrix, the points it becomes, and how rows group."""

    method: str
    names: list[str]
    unit: np.ndarray  # rows x D, in [0, 1] (analysis space)
    points: list[dict[str, Any]]
    block: np.ndarray  # per row: the Saltelli block / trajectory / row it belongs to
    half: np.ndarray  # per row: part of the N/2 design
    n: int
    n_half: int

    def problem(self) -> dict[str, Any]:
        """The SALib problem in analysis space (every input uniform on [0, 1]).

        Returns:
            ``{"num_vars", "names", "bounds"}`` with names ``p0, p1, ...``.
        """
        d = len(self.names)
        return {"num_vars": d, "names": [f"p{i}" for i in range(d)], "bounds": [[0.0, 1.0]] * d}


def build_plan(spec: SensitivitySpec) -> Plan:
    """Sample the parameter space with the method's SALib sampler and the spec's seed.

    The emulator's design is a scrambled Sobol' sequence (``scipy.stats.qmc``): the
    first n points of a 2n design are the n design's, so a design that doubles
    keeps every earlier point (and its stored runs). So does Saltelli's (SALib
    draws its base samples from one Sobol' sequence without skipping).

    Sampling happens in the unit hypercube; each column then goes through its
    parameter's inverse CDF (uniform, log-uniform, triangular, normal,
    truncated normal, lognormal; unbounded tails truncated at 0.1 % / 99.9 %),
    is rounded for integer parameters or mapped to a level for categorical
    ones. The analysis uses the unit-space matrix, so the indices describe the
    composite function (rounding included).

    Args:
        spec: The validated spec.

    Returns:
        The plan.
    """
    from SALib.sample import fast_sampler, latin
    from SALib.sample import morris as morris_sampler
    from SALib.sample import sobol as sobol_sampler

    s = spec.sensitivity
    names = list(s.parameters)
    d = len(names)
    seed = spec.seed % (2**32 - 1)
    problem = {"num_vars": d, "names": [f"p{i}" for i in range(d)], "bounds": [[0.0, 1.0]] * d}
    n = s.n
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if s.method == "sobol":
            unit = sobol_sampler.sample(
                problem, n, calc_second_order=s.second_order, scramble=True, seed=seed
            )
            step = 2 * d + 2 if s.second_order else d + 2
            block = np.arange(len(unit)) // step
            half = block < n // 2
            n_half = n // 2
        elif s.method == "morris":
            unit = morris_sampler.sample(
                problem,
                s.trajectory_pool or n,
                num_levels=s.num_levels,
                optimal_trajectories=n if s.trajectory_pool else None,
                local_optimization=True,
                seed=seed,
            )
            block = np.arange(len(unit)) // (d + 1)
            half = block < n // 2
            n_half = n // 2
        elif s.method == "emulator":  # a Sobol' sequence: n points extend to 2n by appending
            from scipy.stats import qmc

            unit = qmc.Sobol(d=d, scramble=True, seed=seed).random(n)
            block = np.arange(n)
            half = block < n // 2
            n_half = n // 2
        elif s.method == "fast":  # the N curve, then an N/2 curve for the convergence check
            full = fast_sampler.sample(problem, n, M=s.m, seed=seed)
            n_half = n // 2
            part = fast_sampler.sample(problem, n_half, M=s.m, seed=seed + 1)
            unit = np.vstack([full, part])
            block = np.r_[np.zeros(len(full), int), np.ones(len(part), int)]
            half = block == 1
        else:
            unit = latin.sample(problem, n, seed=seed)
            block = np.arange(n)
            half = block < n // 2
            n_half = n // 2
    unit = np.clip(unit, 0.0, 1.0)
    columns = [s.parameters[k].to_values(unit[:, j]) for j, k in enumerate(names)]
    ints = integer_paths(spec)
    fixed = {k: plain_value(v) for k, v in s.fixed.items()}
    points = []
    for i in range(len(unit)):
        point = dict(fixed)
        for k, col in zip(names, columns, strict=True):
            v = plain_value(col[i])
            point[k] = int(round(v)) if k in ints else v
        points.append(point)
    return Plan(s.method, names, unit, points, block, half, n, n_half)


def experiment_spec(spec: SensitivitySpec, plan: Plan) -> Spec:
    """The experiment-engine spec that runs the plan: an explicit list design.

    Args:
        spec: The sensitivity spec.
        plan: Its plan.

    Returns:
        A :class:`experiments.engine.spec.Spec` with ``design.kind = "list"``.
    """
    exp = spec.experiment.model_dump()
    if exp["kpis"]:  # keep what the analysis needs
        exp["kpis"] = list(dict.fromkeys([*exp["kpis"], *spec.sensitivity.kpis]))
    return Spec.model_validate(
        {
            "experiment": exp,
            "scenarios": [r.model_dump() for r in spec.scenarios],
            "design": {"kind": "list", "points": plan.points},
        },
        strict=False,
    )
