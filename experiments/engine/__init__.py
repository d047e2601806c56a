"""The experiment engine: the bottom layer of :mod:`experiments`.

It plans, runs and records experiments for any model ``f(params, seed)``:

- :mod:`~experiments.engine.spec`: experiment specs (TOML, validated) and the models they name;
- :mod:`~experiments.engine.runner`: tasks, run ids and the worker-side function;
- :mod:`~experiments.engine.engines`: serial, process-pool and Dask engines;
- :mod:`~experiments.engine.store`: atomic writes and the Parquet run store;
- :mod:`~experiments.engine.batch`: planning, resuming and running an experiment;
- :mod:`~experiments.engine.progress`: a progress bar for the engine's callbacks;
- :mod:`~experiments.engine.analytic`: small analytic models with known answers.

Nothing here imports the layers above (sensitivity, discovery, workshop, cli).
"""
