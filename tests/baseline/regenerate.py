"""Write the fixed-seed baseline: every KPI, every digit, of every shipped scenario.

Run from the repository root after a change that is *meant* to move figures::

    .venv/bin/python tests/baseline/regenerate.py

and list every figure that moved (``git diff tests/baseline/kpis.json``) in the
commit message. ``tests/test_baseline.py`` compares a fresh run with this file.

Cases: each shipped scenario on seeds 0 and 1 at its own horizon and resident
count, and each stress overlay on the two shipped policies at seed 0. Besides the
KPIs (stored as ``repr`` of the float, so every digit) each case keeps a short
SHA-256 digest of every column of the monthly series.
"""

from __future__ import annotations

import hashlib
import json
import platform
import sys
from importlib.metadata import version
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
FILE = HERE / "kpis.json"
SEEDS = (0, 1)
POLICIES = ("traditional", "alliance")


def cases() -> list[dict]:
    """Every case of the baseline: scenario, overlays, seed."""
    folder = HERE.parents[1] / "scenarios"
    scenarios = [p.stem for p in folder.glob("*.toml")]
    overlays = [p.stem for p in (folder / "overlays").glob("*.toml")]
    out = [
        {"scenario": s, "overlays": [], "seed": seed} for s in sorted(scenarios) for seed in SEEDS
    ]
    out += [{"scenario": p, "overlays": [o], "seed": 0} for p in POLICIES for o in sorted(overlays)]
    return out


def case_id(case: dict) -> str:
    """A readable key: ``alliance+rate_shock@0``."""
    return "+".join([case["scenario"], *case["overlays"]]) + f"@{case['seed']}"


def digest(values: np.ndarray) -> str:
    """First 16 hex digits of the SHA-256 of a float64 column."""
    return hashlib.sha256(np.ascontiguousarray(values, dtype=np.float64).tobytes()).hexdigest()[:16]


def measure(case: dict) -> dict:
    """KPIs (repr of every float) and series digests of one case."""
    import sim

    r = sim.run(case["scenario"], seed=case["seed"], overlays=case["overlays"])
    ts = r.timeseries.reset_index()  # the month index is a series of the digest too
    return {
        "kpis": {k: repr(float(v)) for k, v in sorted(r.kpis.items())},
        "series": {c: digest(ts[c].to_numpy()) for c in sorted(ts.columns)},
    }


def machine() -> dict:
    """What the figures were computed with (bit-exactness holds on the same stack)."""
    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "numpy": version("numpy"),
        "numba": version("numba"),
    }


def main() -> int:
    """Regenerate the baseline file."""
    sys.path.insert(0, str(HERE.parents[1]))
    data = {"machine": machine(), "cases": {case_id(c): {**c, **measure(c)} for c in cases()}}
    FILE.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    print(f"wrote {len(data['cases'])} cases to {FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
