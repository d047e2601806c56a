"""Workshop tools: compare designs on paired worlds, stress them, chart them, report.

Modules, bottom to top:

- :mod:`~experiments.workshop.compare`: paired statistics, CVaR, stress matrix, regret;
- :mod:`~experiments.workshop.charts`: fan charts, distributions, scorecard, waterfalls,
  stress heatmaps, tornado (PNG, SVG, PDF);
- :mod:`~experiments.workshop.dashboard`: the six-panel dashboard of ``alliance run``;
- :mod:`~experiments.workshop.studies`: ready-made studies (compare, stress, tornado)
  on the experiment engine;
- :mod:`~experiments.workshop.report`: the self-contained HTML report and its PDF.

The ``compare``, ``stress``, ``tornado`` and ``report`` commands live in
:mod:`experiments.cli.workshop`.
"""
