"""Global sensitivity analysis through SALib, on the experiment engine.

``alliance sensitivity SPEC`` reads a sensitivity spec (an experiment spec
plus a ``[sensitivity]`` table), samples the parameter space with the chosen
method's SALib sampler, turns the sample into an explicit list design, runs it
with :func:`experiments.engine.batch.run_experiment` (any engine, resumable, the
crash-safe run store) and analyses every KPI from that one set of runs::

    [experiment]
    name = "sobol_alliance"
    seed = 20261130
    replications = 2              # per sample point; replication r has the same seed everywhere
    months = 240

    [[scenarios]]                 # exactly one for the alliance model (none for a function)
    file = "alliance"

    [sensitivity]
    method = "sobol"              # sobol | morris | fast | rbd_fast | delta | pawn
    n = 32                        # sobol: N, a power of two; morris: trajectories; else samples
    second_order = true
    kpis = ["fiscal_npv_usd", "min_budget_balance_usd"]
    bootstrap = 100               # resamples for the confidence intervals
    conf_level = 0.95
    [sensitivity.fixed]           # values set at every point (not analysed)
    "world.residents.simulated_agents" = 2000
    [sensitivity.parameters."world.rates.shift_bp"]
    bounds = [-100.0, 300.0]      # uniform by default
    [sensitivity.parameters."world.stress.performance_factor"]
    dist = "truncnorm"
    bounds = [0.3, 1.3]
    mean = 0.8
    sd = 0.2
    [sensitivity.parameters."policy.procurement.mode"]
    values = ["rfp", "rfi_mou"]   # categorical (or a switch: values = [false, true])

Replications are averaged per sample point before the analysis (the indices
describe E[KPI | parameters]); the part of the variance of those averages that
is replication noise is reported as the *noise share* (``noise.csv``).
Indices at N/2 and N are compared (``convergence.csv``). Everything is written
atomically into the experiment folder; see ``docs/sensitivity.md``.

The code lives in one module per mechanism; this module re-exports their
public names (and is the ``python -m experiments.sensitivity`` entry point):

- :mod:`experiments.sa_spec`: the spec's schema and its validation
  (:func:`load_sensitivity_spec`);
- :mod:`experiments.sa_plan`: the SALib sample and the experiment that runs it
  (:func:`build_plan`, :func:`experiment_spec`);
- :mod:`experiments.sa_analysis`: indices, noise share, convergence, tidy tables
  (:func:`analyse`);
- :mod:`experiments.sa_study`: running a study end to end and its closing note
  (:func:`run_sensitivity`, :func:`report_lines`);
- :mod:`experiments.sa_cli`: the ``sensitivity`` and ``discover`` commands
  (:func:`add_commands`, :func:`main`).
"""

import sys

from experiments.sa_analysis import (
    CI_WARN,
    CONVERGENCE_INDICES,
    MAIN_INDEX,
    NOISE_WARN,
    Analysis,
    AnalysisError,
    analyse,
    convergence_table,
    kpi_units,
    noise_stats,
    parameter_labels,
    point_values,
)
from experiments.sa_cli import (
    EXIT_FAILED,
    EXIT_INVALID,
    add_commands,
    cmd_discover,
    cmd_sensitivity,
    main,
)
from experiments.sa_plan import Plan, build_plan, experiment_spec
from experiments.sa_spec import (
    METHOD_NAMES,
    METHODS,
    TAIL,
    ParameterSpec,
    Sensitivity,
    SensitivitySpec,
    load_sensitivity_spec,
)
from experiments.sa_study import StudyResult, format_indices, report_lines, run_sensitivity

__all__ = [
    "CI_WARN", "CONVERGENCE_INDICES", "EXIT_FAILED", "EXIT_INVALID", "MAIN_INDEX", "METHODS",
    "METHOD_NAMES", "NOISE_WARN", "TAIL", "Analysis", "AnalysisError", "ParameterSpec", "Plan",
    "Sensitivity", "SensitivitySpec", "StudyResult", "add_commands", "analyse", "build_plan",
    "cmd_discover", "cmd_sensitivity", "convergence_table", "experiment_spec", "format_indices",
    "kpi_units", "load_sensitivity_spec", "main", "noise_stats", "parameter_labels",
    "point_values", "report_lines", "run_sensitivity",
]

if __name__ == "__main__":
    sys.exit(main())
