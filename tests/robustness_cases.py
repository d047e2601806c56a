"""Bad inputs and injected faults for the run store (issue 12), shared by tests and benchmark.

The tests (``tests/test_robustness.py``, ``tests/test_fuzz.py``) run each case
once; ``python -m benchmarks.robustness`` runs them all, many times over, and
prints the tallies (bad inputs tried, clear errors, internal errors; faults
injected, runs lost or duplicated).

A bad input is handled when the command exits non-zero with every line of
stderr a problem line (no traceback, no "internal error") and runs nothing.
A fault is survived when, after resuming, every planned run is stored exactly
once and equal (KPIs and series) to an uninterrupted run of the same spec.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import math
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from experiments.engine.runner import RUN_COLUMNS

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}

# ----------------------------------------------------------------------------- bad input

#: Command lines that must each stop with one clear line (exit 2) before any run.
BAD_ARGV: list[list[str]] = [
    *(["run", "alliance", "--months", m] for m in ("-5", "0", "1201", "1e3", "nan", "", "12.5")),
    *(["run", "alliance", "--seed", s] for s in ("-1", str(2**64), "abc", "1.5", "inf")),
    *(["compare", "traditional", "alliance", "-n", n] for n in ("0", "-3", "1000000", "x")),
    *(["stress", "alliance", "--overlays", "recession", "--months", m] for m in ("0", "-1")),
    *(["tornado", "alliance", "-p", "world.rates.shift_bp=0:100", "-n", n] for n in ("0", "y")),
    *(["batch", "replications", "--workers", w] for w in ("0", "-2", "1025", "two")),
    *(["batch", "replications", "--run-timeout", t] for t in ("0", "-1", "nan", "inf", "abc")),
    *(["sweep", "discovery_alliance", "--engine", e] for e in ("gpu", "")),
    *(
        ["discover", "results/x", "--kpi", "fiscal_npv_usd", opt, v]
        for opt, v in (
            ("--peel-alpha", "0"),
            ("--peel-alpha", "0.9"),
            ("--min-mass", "2"),
            ("--min-density", "-0.1"),
            ("--threshold", "nan"),
        )
    ),
    ["run", "no_such_scenario", "--months", "2"],
    ["run", "alliance", "--months", "2", "--set", "no.such.path=1"],
    ["run", "alliance", "--months", "2", "--set", "world.rates.shift_bp=nan"],
    ["run", "alliance", "--months", "2", "--set", "world.rates.shift_bp=1e400"],
    ["run", "alliance", "--months", "2", "--set", "world.rates.shift_bp=abc"],
    ["run", "alliance", "--months", "2", "--set", 'scenario.name="a\\u0000b"'],
    ["run", "alliance", "--months", "2", "--set", "world.rates.yields_20y.AA=2.0"],
    ["run", "alliance", "--months", "2", "--overlay", "no_such_overlay"],
    ["tornado", "alliance", "-p", "no.such.path=0:1"],
    ["tornado", "alliance", "-p", "world.rates.shift_bp=abc:1"],
    ["tornado", "alliance", "-p", "world.rates.shift_bp"],
    ["batch", "no_such_spec"],
    ["sensitivity", "no_such_spec"],
    ["status", "/no/such/folder"],
    ["verify", "/no/such/folder"],
    ["report", "/no/such/folder"],
    ["no_such_command"],
    [],
]

#: The head every scenario case extends.
HEAD = "[scenario]\nname = 'probe'\nextends = 'alliance'\n"

#: Scenario files (bytes) that must each be refused with one line per problem.
BAD_SCENARIOS: dict[str, bytes] = {
    "empty": b"",
    "comments only": b"# nothing here\n\n",
    "latin-1": "[scenario]\nname = 'Zürich'\n".encode("latin-1"),
    "utf-16": HEAD.encode("utf-16"),
    "binary": bytes(range(256)),
    "unclosed table": b"[scenario\nname = 'x'\n",
    "duplicate key": (HEAD + "[world.rates]\nshift_bp = 1\nshift_bp = 2\n").encode(),
    "deep arrays": (HEAD + "[world]\nx = " + "[" * 3000 + "]" * 3000 + "\n").encode(),
    "deep tables": (HEAD + "[world]\nx = " + "{a=" * 2000 + "1" + "}" * 2000 + "\n").encode(),
    "nesting 20": (HEAD + "[" + ".".join(["t"] * 20) + "]\nx = 1\n").encode(),
    "nan": (HEAD + "[world.rates]\nshift_bp = nan\n").encode(),
    "inf": (HEAD + "[world.macro]\nproperty_growth_annual = inf\n").encode(),
    "-inf": (HEAD + "[world.rates]\nshift_bp = -inf\n").encode(),
    "overflow": (HEAD + "[world.rates]\nshift_bp = 1e400\n").encode(),
    "huge int": (HEAD + "[world.rates]\nshift_bp = 1" + "0" * 400 + "\n").encode(),
    "nul in name": b'[scenario]\nname = "a\\u0000b"\nextends = "alliance"\n',
    "escape in description": (HEAD + 'description = "\\u001b[31mred"\n').encode(),
    "control in key": (HEAD + '[world.rates]\n"shift\\u0007bp" = 1\n').encode(),
    "unknown key": (HEAD + "[world.rates]\nshift = 1\n").encode(),
    "unknown table": (HEAD + "[weather]\nrain = 1\n").encode(),
    "string for number": (HEAD + "[world.rates]\nshift_bp = 'high'\n").encode(),
    "bool for number": (HEAD + "[world.rates]\nshift_bp = true\n").encode(),
    "list for number": (HEAD + "[world.rates]\nshift_bp = [1, 2]\n").encode(),
    "table for number": (HEAD + "[world.rates.shift_bp]\nx = 1\n").encode(),
    "out of range": (HEAD + "[world.rates]\nshift_bp = 5000\n").encode(),
    "negative count": (HEAD + "[world.investors]\ncount = -1\n").encode(),
    "yield out of range": (
        HEAD + "[world.rates.yields_20y]\nAAA=0.03\nAA=5.0\nA=0.04\nBaa=0.05\nBa=0.06\nB=0.07\n"
    ).encode(),
    "unknown rating": (HEAD + "[world.rates.yields_10y]\nZZ = 0.03\n").encode(),
    "horizon 0": (HEAD + "[simulation]\nhorizon_months = 0\n").encode(),
    "extends missing": b"[scenario]\nname = 'x'\nextends = 'no_such_parent'\n",
    "extends number": b"[scenario]\nname = 'x'\nextends = 3\n",
    "overlay missing": (HEAD + "overlays = ['no_such_overlay']\n").encode(),
    "scenario not a table": b"scenario = 3\n",
}

#: Files that look odd but are valid: they must load.
GOOD_SCENARIOS: dict[str, bytes] = {
    "utf-8 bom": b"\xef\xbb\xbf" + HEAD.encode(),
    "unicode name": "[scenario]\nname = 'Zürich – Süd 🚋'\nextends = 'alliance'\n".encode(),
    "windows newlines": HEAD.replace("\n", "\r\n").encode(),
}

#: A small experiment spec; each case below replaces or adds one piece.
SPEC_HEAD = """[experiment]
name = "probe"
model = "experiments.engine.analytic:linear"
replications = 2
"""

#: A spec of the built-in model on the alliance scenario (cases add a grid or a scenario).
BUILTIN = '[experiment]\nname = "probe"\n[[scenarios]]\nfile = "alliance"\n'
BUILTIN_GRID = (
    BUILTIN + '[design]\nkind = "grid"\n[design.parameters."{path}"]\nvalues = {values}\n'
)

#: Experiment specs that must each be refused before any run.
BAD_SPECS: dict[str, str] = {
    "empty": "",
    "no experiment": "[design]\nkind = 'grid'\n",
    "unknown key": SPEC_HEAD + "speed = 'fast'\n",
    "replications 0": SPEC_HEAD.replace("replications = 2", "replications = 0"),
    "seed negative": SPEC_HEAD + "seed = -1\n",
    "months 0": SPEC_HEAD + "months = 0\n",
    "stride 0": SPEC_HEAD + "timeseries_stride = 0\n",
    "nan in grid": SPEC_HEAD + "[design]\nkind='grid'\n[design.parameters.x]\nvalues=[1, nan]\n",
    "inf range": SPEC_HEAD
    + "[design]\nkind='lhs'\nsamples=4\n[design.parameters.x]\nrange=[0, inf]\n",
    "reversed range": SPEC_HEAD
    + "[design]\nkind='lhs'\nsamples=4\n[design.parameters.x]\nrange=[2, 1]\n",
    "lhs samples 0": SPEC_HEAD
    + "[design]\nkind='lhs'\nsamples=0\n[design.parameters.x]\nrange=[0, 1]\n",
    "list with parameters": SPEC_HEAD
    + "[design]\nkind='list'\npoints=[{x=1}]\n[design.parameters.y]\nvalues=[1]\n",
    "unknown design": SPEC_HEAD + "[design]\nkind='magic'\n",
    "unknown model": SPEC_HEAD.replace("analytic:linear", "analytic:no_such_model"),
    "model module missing": SPEC_HEAD.replace("experiments.engine.analytic", "no_such_module"),
    "unknown kpi": SPEC_HEAD + "kpis = ['no_such_kpi']\n",
    "name traversal ok but nul": SPEC_HEAD.replace('"probe"', '"a\\u0000b"'),
    "builtin unknown path": BUILTIN_GRID.format(path="world.rates.no_such", values="[1, 2]"),
    "builtin value out of range": BUILTIN_GRID.format(
        path="world.rates.shift_bp", values="[0, 99999]"
    ),
    "builtin scenario missing": BUILTIN.replace('"alliance"', '"no_such_scenario"'),
    "duplicate labels": BUILTIN + '[[scenarios]]\nfile = "alliance"\n',
    "deep": SPEC_HEAD + "x = " + "[" * 3000 + "]" * 3000 + "\n",
    "not utf-8": "[experiment]\nname = 'Zürich'\n",  # written as latin-1 below
}

#: A valid sensitivity spec; each case below changes one thing in it.
SENSITIVITY = """[sensitivity]
method = "sobol"
n = 32
model = "experiments.engine.analytic:ishigami"
kpis = ["y"]
[[sensitivity.parameters]]
path = "x1"
range = [-3.14, 3.14]
"""

#: Sensitivity specs that must each be refused before any run.
BAD_SENSITIVITY: dict[str, str] = {
    "n not a power of two": SENSITIVITY.replace("n = 32", "n = 30"),
    "unknown method": SENSITIVITY.replace('"sobol"', '"magic"'),
    "range with nan": SENSITIVITY.replace("[-3.14, 3.14]", "[nan, 3.14]"),
    "unknown kpi": SENSITIVITY.replace('["y"]', '["z"]'),
    "builtin range outside bounds": """[sensitivity]
method = "morris"
n = 4
scenario = "alliance"
kpis = ["fiscal_npv_usd"]
[[sensitivity.parameters]]
path = "world.rates.shift_bp"
range = [-100, 99999]
""",
}


@dataclass
class Outcome:
    """What a command did with a bad input."""

    case: str
    code: int
    stderr: str

    @property
    def clear(self) -> bool:
        """Non-zero exit, at least one line, no traceback, no internal error."""
        lines = [line for line in self.stderr.splitlines() if line.strip()]
        return (
            self.code != 0
            and bool(lines)
            and "Traceback" not in self.stderr
            and "internal error" not in self.stderr
        )

    @property
    def internal(self) -> bool:
        """The command failed as a bug (a traceback or 'internal error')."""
        return "Traceback" in self.stderr or "internal error" in self.stderr


def alliance(argv: list[str], cwd: Path | None = None) -> Outcome:
    """Run ``alliance ARGV`` in this process; exit code and stderr (stdout discarded)."""
    from experiments.cli.main import main

    err = io.StringIO()
    here = Path.cwd()
    try:
        if cwd is not None:
            os.chdir(cwd)
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            try:
                code = main(argv)
            except SystemExit as exc:  # argparse
                code = exc.code if isinstance(exc.code, int) else 1
            except BaseException as exc:  # noqa: BLE001 - a crash is what we count
                import traceback

                traceback.print_exc()
                code = -1
                if isinstance(exc, KeyboardInterrupt):
                    raise
    finally:
        os.chdir(here)
    return Outcome(" ".join(argv), code, err.getvalue())


def write_case(folder: Path, name: str, body: bytes | str, encoding: str = "utf-8") -> Path:
    """Write a case's file (``not utf-8`` specs in latin-1) and return its path."""
    path = folder / f"case-{abs(hash(name)) % 10**8}.toml"
    data = (
        body
        if isinstance(body, bytes)
        else body.encode("latin-1" if name == "not utf-8" else encoding)
    )
    path.write_bytes(data)
    return path


# ----------------------------------------------------------------------------- fuzzing


def scenario_paths() -> list[tuple[str, Any]]:
    """Every parameter path of the alliance scenario with its value (the fuzz's targets)."""
    from sim.config import load_scenario, parameters

    return [(p.path, p.value) for p in parameters(load_scenario("alliance"))]


def toml_value(value: Any) -> str:
    """A TOML literal for a Python value (floats' nan and inf included)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return (
            "{"
            + ", ".join(f"{json.dumps(str(k))} = {toml_value(v)}" for k, v in value.items())
            + "}"
        )
    return json.dumps(str(value))


def scenario_text(assignments: list[tuple[str, Any]]) -> str:
    """A scenario file extending alliance: one root-level dotted-key line per assignment."""
    lines = ["scenario.name = 'probe'", "scenario.extends = 'alliance'"]
    for path, value in assignments:
        key = ".".join(json.dumps(part) for part in path.split("."))
        lines.append(f"{key} = {toml_value(value)}")
    return "\n".join(lines) + "\n"


def junk(rng: random.Random, like: Any) -> Any:
    """A value a user might mistype for ``like``: edges, wrong types, non-finite, huge."""
    pool: list[Any] = [
        0,
        -1,
        1,
        10**30,
        -(10**30),
        1e-300,
        math.nan,
        math.inf,
        -math.inf,
        "",
        "abc",
        "a\x00b",
        "\u202e",
        True,
        [],
        [1, 2],
        {},
        {"a": 1},
    ]
    if isinstance(like, int | float) and not isinstance(like, bool):
        pool += [like * 10, -like, like * 1.5, like + 0.5, str(like)]
    return rng.choice(pool)


def mutations(rng: random.Random, count: int) -> Iterator[str]:
    """``count`` scenario texts, each a valid head with 1-3 junk assignments."""
    paths = scenario_paths()
    for _ in range(count):
        picks = [rng.choice(paths) for _ in range(rng.randint(1, 3))]
        edits = [(path, junk(rng, value)) for path, value in picks]
        if rng.random() < 0.2:  # a misspelt key
            path, value = rng.choice(paths)
            edits.append((path[:-1] + "x", value))
        yield scenario_text(edits)


def classify_load(path: Path) -> str:
    """Load a scenario file: ``valid``, ``clear`` (one-line problems) or ``internal``."""
    from sim.config import ScenarioError, load_scenario

    try:
        load_scenario(path)
    except ScenarioError as exc:
        ok = exc.problems and all(
            "\n" not in p and p.strip() and "Traceback" not in p for p in exc.problems
        )
        return "clear" if ok else "internal"
    except Exception:  # noqa: BLE001 - anything else is a bug, counted
        return "internal"
    return "valid"


# ----------------------------------------------------------------------------- faults

#: The fault-injection experiment: a random walk with a monthly series per run, so
#: both the runs parts and the time-series parts are written and checked.
FAULT_SPEC = """[experiment]
name = "faults"
model = "experiments.engine.analytic:walk"
seed = 11
replications = 3
chunk_size = 2
flush_seconds = 0.3
timeseries = true
timeseries_stride = 1
[design]
kind = "list"
points = [
  {{drift = 0.0, sleep_s = {sleep}}}, {{drift = 0.1, sleep_s = {sleep}}},
  {{drift = -0.1, sleep_s = {sleep}}}, {{drift = 0.2, sleep_s = {sleep}}},
  {{drift = 0.0, sleep_s = {sleep}}}, {{drift = 0.3, sleep_s = {sleep}}},
  {{drift = -0.2, sleep_s = {sleep}}}, {{drift = 0.05, sleep_s = {sleep}}},
  {{drift = 0.15, sleep_s = {sleep}}}, {{drift = -0.05, sleep_s = {sleep}}},
]
"""

#: What must match an uninterrupted run: the runs table's columns but the run's own
#: error text, duration and worker, and the walk's KPIs.
KPI_COLUMNS = [
    *(c for c in RUN_COLUMNS if c not in ("error", "duration_s", "worker")),
    "end",
    "peak",
]


def fault_spec(folder: Path, sleep: float = 0.04) -> Path:
    """Write the fault experiment's spec (each run sleeps ``sleep`` seconds)."""
    path = folder / "faults.toml"
    path.write_text(FAULT_SPEC.format(sleep=sleep))
    return path


def planned(spec: Path) -> int:
    """How many runs the spec plans."""
    from experiments.engine.batch import plan
    from experiments.engine.spec import load_spec

    return len(plan(load_spec(spec))[1])


def reference(spec: Path, out: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """An uninterrupted run of the spec (in this process, serial): runs and series."""
    from experiments.engine.batch import run_experiment
    from experiments.engine.spec import load_spec
    from experiments.engine.store import load

    if not (out / "manifest.json").is_file():
        run_experiment(load_spec(spec), out)
    return load(out), load(out, timeseries=True)


def damage(store: Path, reference_runs: pd.DataFrame, reference_series: pd.DataFrame) -> dict:
    """Runs lost, duplicated or different in ``store`` against the reference."""
    from experiments.engine.store import load, verify

    report = verify(store)
    runs = load(store)
    series = load(store, timeseries=True)
    lost = len(set(reference_runs["run_id"]) - set(runs["run_id"]))
    duplicated = report["duplicate_runs"] + int(series.duplicated(["run_id", "month"]).sum())
    cols = [c for c in KPI_COLUMNS if c in runs]
    a = runs[cols].sort_values("run_id").reset_index(drop=True)
    b = reference_runs[cols].sort_values("run_id").reset_index(drop=True)
    differing = 0 if a.equals(b) else int((a != b).any(axis=1).sum()) if a.shape == b.shape else -1
    key = ["run_id", "month"]
    sa = series.sort_values(key).reset_index(drop=True)[[*key, "level"]]
    sb = reference_series.sort_values(key).reset_index(drop=True)[[*key, "level"]]
    series_equal = sa.equals(sb)
    return {
        "lost": lost,
        "duplicated": duplicated,
        "differing": differing if series_equal else max(differing, 1),
        "corrupt": len(report["corrupt"]) + len(report["missing"]),
    }


def sweep_args(spec: Path, out: Path, engine: str = "serial", *extra: str) -> list[str]:
    """The ``alliance sweep`` command line for a spec, an engine (2 workers) and a folder."""
    return ["sweep", str(spec), "--engine", engine, "--workers", "2", "--out", str(out), *extra]


def sweep_process(spec: Path, out: Path, engine: str = "serial", *extra: str) -> subprocess.Popen:
    """Start ``alliance sweep`` in its own process group (as a scheduler or shell would)."""
    return subprocess.Popen(
        [sys.executable, "-m", "experiments.cli", *sweep_args(spec, out, engine, *extra)],
        cwd=ROOT,
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        # a job started in the background inherits SIGINT ignored; a terminal's Ctrl-C
        # reaches a process with the default disposition
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def wait_running(out: Path, pid: int, timeout: float = 60.0) -> None:
    """Wait until process ``pid`` holds the store's lock and its manifest says "running".

    (A manifest left "running" by a killed writer does not count.)
    """
    from experiments.engine.store import LOCK_NAME

    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            mine = f"pid {pid}," in (out / LOCK_NAME).read_text()
            if mine and json.loads((out / "manifest.json").read_text())["status"] == "running":
                return
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.02)
    raise TimeoutError(f"{out}: never started")


def kill_and_resume(
    spec: Path, out: Path, rng: random.Random, kills: list[signal.Signals], engine: str = "serial"
) -> dict:
    """Start the sweep, kill it with each signal in turn at a random moment, then finish it.

    Each signal goes to the whole process group (the sweep and its workers), as a
    scheduler's SIGTERM / SIGKILL or a terminal's Ctrl-C does.

    Returns:
        ``{"faults": n, "codes": [...], "stderr": [...]}``.
    """
    codes, errors = [], []
    for sig in kills:
        proc = sweep_process(spec, out, engine)
        try:
            wait_running(out, proc.pid)
        except TimeoutError:  # finished (or failed) before it started running again
            proc.communicate(timeout=60)
            codes.append(proc.returncode)
            continue
        time.sleep(rng.uniform(0.05, 0.8))
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        _, err = proc.communicate(timeout=120)
        codes.append(proc.returncode)
        errors.append(err)
    final = sweep_process(spec, out, engine)
    _, err = final.communicate(timeout=300)
    codes.append(final.returncode)
    errors.append(err)
    return {"faults": len(kills), "codes": codes, "stderr": errors}


@contextlib.contextmanager
def disk_full_after(writes: int) -> Iterator[None]:
    """Make every store write after the first ``writes`` fail with ENOSPC (a full disk)."""
    from experiments.engine import store

    original = store.atomic
    count = {"n": 0}

    def atomic(path: Path, write: Callable[[Path], Any]) -> Path:
        count["n"] += 1
        if count["n"] > writes:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return original(path, write)

    store.atomic = atomic
    try:
        yield
    finally:
        store.atomic = original


def disk_full_and_resume(spec: Path, out: Path, writes: int) -> dict:
    """Run until the disk 'fills' after ``writes`` file writes, then free it and resume.

    Returns:
        ``{"faults": 1, "error": the line alliance printed, "code": its exit status}``.
    """
    with disk_full_after(writes):
        outcome = alliance(sweep_args(spec, out))
    resumed = alliance(sweep_args(spec, out))
    last = outcome.stderr.strip().splitlines()[-1:]  # after the progress line
    return {
        "faults": 1,
        "error": last[0] if last else "",
        "internal": outcome.internal,
        "code": outcome.code,
        "resume_code": resumed.code,
        "resume_error": resumed.stderr.strip(),
    }
