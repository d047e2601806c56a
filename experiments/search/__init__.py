"""Robust design search: which alliance designs hold up across the worlds we cannot rule out.

Many-objective robust decision making (MORDM, as the EMA Workbench does it) on the
alliance model: a search spec names the levers (policy parameters), the objectives
(KPIs, each with a robustness metric across worlds), the worlds (world-parameter
samples x seeds, the same for every design) and the budget; pymoo's NSGA-II searches
the levers, every design is evaluated on every world through the experiment engine,
and the front is re-run on fresh worlds.

- :mod:`~experiments.search.spec`: the search spec and its validation;
- :mod:`~experiments.search.optimiser`: pymoo's mixed-variable NSGA-II / NSGA-III
  asked and told, the epsilon archive, hypervolume;
- :mod:`~experiments.search.robustness`: mean, worst percentile, regret, satisficing;
- :mod:`~experiments.search.evaluate`: the worlds, designs run on them as engine
  experiments, their metrics, the re-evaluation on fresh worlds;
- :mod:`~experiments.search.study`: the search (``run_search``): generations,
  checkpoints, convergence, outputs;
- :mod:`~experiments.search.candidates`: the shortlist and candidate scenario files;
- :mod:`~experiments.search.charts`: parallel coordinates and convergence;
- :mod:`~experiments.search.tables`: the tables as text, read from a search folder
  (the workshop report reads them; this module does not import pymoo).

It imports only :mod:`experiments.engine` and :mod:`sim`; see ``docs/search.md``.
Nothing is imported here, so reading a search's tables does not load pymoo.
"""
