"""Building blocks with no knowledge of agents or the model.

- :mod:`sim.core.fields`: typed, range-checked parameters and the shared vocabulary.
- :mod:`sim.core.finance`: the finance library (F1-F8 formulas), pure and tested on known values.
- :mod:`sim.core.ledger`: double-entry accounts and transfers.
- :mod:`sim.core.kernels`: numba kernels over the resident arrays, each with a plain twin.
"""
