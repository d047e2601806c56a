"""``alliance app``: a live what-if page for strategy workshops (Dash, served offline).

- :mod:`experiments.app.state`: the page's state (designs, overlays, levers) as a
  request, its address (query string) and its run-store key;
- :mod:`experiments.app.runner`: runs requests progressively on warm workers, the
  newest first, with the run store as the cache;
- :mod:`experiments.app.views`: the scorecard, fan charts, adoption by quintile, the
  fiscal-NPV decomposition and the stress matrix of a snapshot;
- :mod:`experiments.app.server`: the Dash page.
"""
