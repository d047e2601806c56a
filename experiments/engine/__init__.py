"""The experiment engine: the bottom layer of :mod:`experiments`.

It plans, runs and records experiments for any model ``f(params, seed)``:

- :mod:`~experiments.engine.model`: the model interface and the built-in
  :class:`~experiments.engine.model.ScenarioModel`;
- :mod:`~experiments.engine.spec`: experiment specs (TOML, validated) and
  :func:`~experiments.engine.spec.bind_models`, which turns a spec's ``model`` into models;
- :mod:`~experiments.engine.design`: design points and replication seeds;
- :mod:`~experiments.engine.runner`: tasks, run ids and the worker-side function;
- :mod:`~experiments.engine.engines`: serial, process-pool and Dask engines;
- :mod:`~experiments.engine.store`: atomic writes and the Parquet run store;
- :mod:`~experiments.engine.batch`: planning, resuming and running an experiment;
- :mod:`~experiments.engine.progress`: a progress bar for the engine's callbacks;
- :mod:`~experiments.engine.plots`: the palette and atomic chart saving the layers
  above share;
- :mod:`~experiments.engine.analytic`: small analytic models with known answers.

Nothing here imports the layers above (sensitivity, discovery, workshop, cli).
"""
