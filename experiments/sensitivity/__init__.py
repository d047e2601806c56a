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
    method = "sobol"              # sobol | morris | fast | rbd_fast | delta | pawn | emulator
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

Modules, bottom to top:

- :mod:`~experiments.sensitivity.spec`: the spec's schema and its validation
  (:func:`~experiments.sensitivity.spec.load_sensitivity_spec`);
- :mod:`~experiments.sensitivity.plan`: the SALib sample and the experiment that runs it
  (:func:`~experiments.sensitivity.plan.build_plan`,
  :func:`~experiments.sensitivity.plan.experiment_spec`);
- :mod:`~experiments.sensitivity.pce`: a sparse polynomial chaos expansion on the
  unit hypercube and its Sobol indices (NumPy);
- :mod:`~experiments.sensitivity.gp`: a Gaussian process on the unit hypercube
  (scikit-learn) and Monte Carlo Sobol indices of its posterior mean;
- :mod:`~experiments.sensitivity.indices`: one KPI's indices at N and N/2 (SALib),
  noise share, convergence;
- :mod:`~experiments.sensitivity.emulator`: the emulator method: one KPI's emulator
  (the expansion or the process), its validation Q2 (indices withheld below the
  threshold) and indices;
- :mod:`~experiments.sensitivity.charts`: the charts of an analysis;
- :mod:`~experiments.sensitivity.analysis`: a study folder analysed, tidy tables and
  warnings (:func:`~experiments.sensitivity.analysis.analyse`);
- :mod:`~experiments.sensitivity.study`: a study end to end and its closing note
  (:func:`~experiments.sensitivity.study.run_sensitivity`,
  :func:`~experiments.sensitivity.study.report_lines`);
- :mod:`~experiments.sensitivity.adaptive`: ``--until-converged``, the design doubled
  into the same folder until the indices converge or a run budget is spent
  (:func:`~experiments.sensitivity.adaptive.run_until_converged`).

The ``alliance sensitivity`` command lives in :mod:`experiments.cli.sensitivity`.
"""
