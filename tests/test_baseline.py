"""Fixed-seed baseline: every KPI of every shipped scenario, to the last digit.

The stored figures (``tests/baseline/kpis.json``) were computed by
``tests/baseline/regenerate.py``; a change that is meant to move figures
regenerates the file and lists what moved. On the stack the file was made with
(same Python, NumPy and numba) figures must agree bit for bit; elsewhere SIMD
paths of ``exp`` may differ in the last place, so a relative 1e-9 is allowed and
the series digests are not compared.
"""

import json
import math
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent / "baseline"
sys.path.insert(0, str(HERE))

from regenerate import digest, machine  # noqa: E402

import sim  # noqa: E402

STORED = json.loads((HERE / "kpis.json").read_text())
SAME_STACK = STORED["machine"] == machine()


@pytest.mark.parametrize("key", sorted(STORED["cases"]))
def test_figures_match_the_baseline(key):
    case = STORED["cases"][key]
    r = sim.run(case["scenario"], seed=case["seed"], overlays=case["overlays"])
    got = {k: float(v) for k, v in r.kpis.items()}
    want = {k: float(v) for k, v in case["kpis"].items()}
    assert sorted(got) == sorted(want), "the KPI names changed: regenerate the baseline"
    if SAME_STACK:
        moved = {k: (want[k], got[k]) for k in want if got[k] != want[k]}
    else:
        moved = {
            k: (want[k], got[k])
            for k in want
            if not math.isclose(got[k], want[k], rel_tol=1e-9, abs_tol=1e-6)
        }
    assert not moved, f"{key}: figures moved (stored, now): {moved}"
    if SAME_STACK:
        ts = r.timeseries.reset_index()  # the month index is a series of the digest too
        series = {c: digest(ts[c].to_numpy()) for c in ts.columns}
        changed = sorted(c for c in case["series"] if series.get(c) != case["series"][c])
        assert sorted(series) == sorted(case["series"]), "the series columns changed"
        assert not changed, f"{key}: monthly series changed: {changed}"
