"""Scenario discovery: PRIM finds the boxes of parameter space where a design fails.

``alliance discover DIR --kpi K --threshold T`` reads an experiment folder's runs
table (parameters are its ``param.<path>`` columns), marks each run as failing
when its KPI is below (or above) the threshold, or, with ``--compare-to OTHER``,
when the scenario's KPI is below the other scenario's on the same world (the
same design point and replication), and runs PRIM (Friedman and Fisher 1999):

- **peeling**: from the box holding every run, repeatedly remove the slice
  (``alpha`` of the runs in the box, at the low or the high end of one
  parameter, or one level of a categorical parameter) whose removal leaves the
  highest share of failures in the box, until the box holds less than
  ``min_mass`` of the runs; every box on the way is a step of the *peeling
  trajectory* with its coverage (failures in the box / all failures), density
  (failures in the box / runs in the box) and mass (runs in the box / all runs);
- **selection**: the box with the highest coverage whose density reaches
  ``min_density`` if given, else the *knee*, the box closest to the ideal
  corner (coverage 1, density 1);
- **pasting**: the chosen box's limits are widened again, one ``alpha`` slice at a
  time, while that raises its density.

The box is printed as plain-language rules with the schema's units and a
quasi-p-value per limit (a one-sided binomial test of the box's failures
against the box without that limit, as in the EMA Workbench), and written to
``discovery_<kpi>.json/.csv/.png``. The ``prim`` package on PyPI (1.0.0) is not
used: it is GPL-3 (this project is MIT), needs ``mplcursors`` and still calls
pandas' ``.ix``, removed in pandas 1.0.

Modules, bottom to top:

- :mod:`~experiments.discovery.prim`: boxes, peeling, pasting, pruning, limits;
- :mod:`~experiments.discovery.rules`: the box as plain-language rules with units;
- :mod:`~experiments.discovery.failures`: which runs of a runs table fail;
- :mod:`~experiments.discovery.charts`: the trajectory and box chart;
- :mod:`~experiments.discovery.study`: :func:`~experiments.discovery.study.discover`,
  PRIM on an experiment folder with its files.

The ``alliance discover`` command lives in :mod:`experiments.cli.discover`.
"""
