"""Experiments: batch runs, sweeps, sensitivity, comparison, charts, engines, the CLI."""
