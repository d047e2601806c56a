"""Clean interrupts (issue 12): Ctrl-C and SIGTERM leave a store that says so and resumes.

A cluster scheduler sends SIGTERM at the wall-time limit; a user presses
Ctrl-C (SIGINT). Either way the runs that had finished are written, the
manifest says "interrupted" with the counts, the exit status is 130 (SIGINT)
or 143 (SIGTERM), and resuming stores every run exactly once, equal to an
uninterrupted run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

import experiments
from experiments.engine.batch import run_experiment
from experiments.engine.spec import load_spec

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}

SLOW = """
[experiment]
name = "slow"
model = "experiments.engine.analytic:linear"
seed = 5
replications = 2
chunk_size = 2
flush_seconds = 60
[design]
kind = "grid"
[design.parameters.x]
values = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]
[design.parameters.sleep_s]
values = [0.05]
"""


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupt_writes_finished_runs_and_resume_completes(tmp_path, sig, code):
    spec = tmp_path / "slow.toml"
    spec.write_text(SLOW)
    out = tmp_path / "exp"
    cmd = [sys.executable, "-m", "experiments.cli", "sweep", str(spec), "--engine", "serial"]
    proc = subprocess.Popen(
        [*cmd, "--out", str(out)],
        cwd=ROOT,
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        # a job started in the background inherits SIGINT ignored (as CI's may be); a
        # terminal's Ctrl-C reaches a process that has the default disposition
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.time() + 60  # the manifest says "running" once the runs start
    while time.time() < deadline:
        path = out / "manifest.json"
        if path.is_file() and json.loads(path.read_text()).get("status") == "running":
            break
        time.sleep(0.05)
    time.sleep(0.6)  # some runs finish; none is written yet (flush_seconds = 60)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    last = err.strip().splitlines()[-1]
    assert "Traceback" not in err and last.startswith("alliance: ")
    assert ("terminated" if sig == signal.SIGTERM else "interrupted") in last
    manifest = json.loads((out / "manifest.json").read_text())
    stored = experiments.load(out)
    assert manifest["status"] == "interrupted"
    assert 0 < manifest["recorded"] == len(stored) < 30  # the finished runs were written
    again = run_experiment(load_spec(spec), out)
    assert again.ran == 30 - len(stored)
    whole = run_experiment(load_spec(spec), tmp_path / "whole")
    assert whole.ran == 30
    cols = ["run_id", "index", "y", "noise", "status"]
    pd.testing.assert_frame_equal(
        experiments.load(out)[cols], experiments.load(tmp_path / "whole")[cols]
    )
    assert json.loads((out / "manifest.json").read_text())["status"] == "complete"
