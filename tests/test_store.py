"""The run store as a cluster uses it: one writer, readers that change nothing (issue 12).

A writer holds an advisory lock on ``<folder>/.writer.lock`` (``fcntl.flock``),
so a second writer stops with one line naming the holder, or waits with
``--wait``; the lock goes with its process however that process dies. Readers
(``status``, ``load``) take no lock and create, move or delete nothing. A
writer sets aside (never deletes) time-series parts whose runs part was never
written.
"""

from __future__ import annotations

import io
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
from experiments.engine.batch import ExperimentError, run_experiment, status
from experiments.engine.spec import load_spec
from experiments.engine.store import (
    LOCK_NAME,
    QUARANTINE,
    RunStore,
    StoreLocked,
    checksum,
    verify,
)

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}

SPEC = """
[experiment]
name = "quick"
model = "experiments.engine.analytic:linear"
seed = 5
replications = 2
[design]
kind = "grid"
[design.parameters.x]
values = [0, 1, 2, 3, 4, 5]
"""

#: A process that takes a store's writer lock, says so, and sleeps.
HOLDER = """
import sys, time
from experiments.engine.store import RunStore
store = RunStore(sys.argv[1])
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
store.close()
"""


def cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """Run ``alliance ARGS`` in a fresh process."""
    return subprocess.run(
        [sys.executable, "-m", "experiments.cli", *args],
        cwd=cwd,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=300,
    )


def sweep(spec: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return cli("sweep", str(spec), "--engine", "serial", "--out", str(out), *extra)


def hold(folder: Path, seconds: float) -> subprocess.Popen:
    """Start a process holding the writer lock of ``folder``; return once it holds it."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(folder), str(seconds)],
        cwd=ROOT,
        env=ENV,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().strip() == "locked"
    return proc


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    path = tmp_path / "quick.toml"
    path.write_text(SPEC)
    return path


def test_a_second_writer_stops_with_one_line_naming_the_holder(tmp_path, spec):
    out = tmp_path / "exp"
    with RunStore(out):
        done = sweep(spec, out)
        assert done.returncode == 2
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1, done.stderr
        assert "another process is writing to this store" in lines[0]
        assert f"pid {os.getpid()}" in lines[0] and "--wait" in lines[0]
        assert "Traceback" not in done.stderr
        with pytest.raises(ExperimentError, match="another process is writing"):
            run_experiment(load_spec(spec), out)
    assert sweep(spec, out).returncode == 0  # the lock went with the first writer
    assert len(experiments.load(out)) == 12


def test_the_lock_dies_with_its_process(tmp_path):
    out = tmp_path / "exp"
    proc = hold(out, 60)
    with pytest.raises(StoreLocked, match=f"pid {proc.pid}"):
        RunStore(out)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with RunStore(out) as store:  # the kernel released the lock of the dead process
        assert store.writable


def test_wait_waits_for_the_writer_then_runs(tmp_path, spec):
    out = tmp_path / "exp"
    proc = hold(out, 1.5)
    t0 = time.monotonic()
    done = sweep(spec, out, "--wait")
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - t0 >= 1.0
    proc.wait()
    assert len(experiments.load(out)) == 12


def test_two_sweeps_at_once_store_every_run_exactly_once(tmp_path, spec):
    """Two `alliance sweep` into one folder (the issue's case): no row lost or duplicated.

    One runs; the other stops with one line or, with --wait, finds everything stored.
    """
    out = tmp_path / "exp"
    cmd = [sys.executable, "-m", "experiments.cli", "sweep", str(spec), "--engine", "serial"]
    procs = [
        subprocess.Popen(
            [*cmd, "--out", str(out), *extra],
            cwd=ROOT,
            env=ENV,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for extra in ((), ("--wait",))
    ]
    codes = [p.wait(timeout=120) for p in procs]
    assert codes[1] == 0  # the waiting one always finishes
    assert codes[0] in (0, 2)
    runs = experiments.load(out)
    assert len(runs) == 12 and runs.run_id.is_unique
    assert status(out)["done"] == 12


def write_parts(out: Path) -> tuple[Path, Path]:
    """A store with one runs part and a time-series part with no runs part (an orphan)."""
    with RunStore(out) as store:
        store.add(
            [{"run_id": "a", "index": 0, "status": "ok"}],
            [pd.DataFrame({"run_id": ["a"], "scenario": ["s"], "month": [0], "v": [1.0]})],
        )
        store.flush()
        store.write_manifest({"name": "t", "planned": 2, "status": "running"})
    orphan = out / "timeseries" / "scenario=s" / "part-00002.parquet"
    pd.DataFrame({"run_id": ["b"], "month": [0], "v": [2.0]}).to_parquet(orphan)
    return out / "runs" / "part-00001.parquet", orphan


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in folder.rglob("*")
    }


def test_readers_change_nothing(tmp_path):
    out = tmp_path / "exp"
    _, orphan = write_parts(out)
    before = snapshot(out)
    assert status(out)["done"] == 1
    experiments.load(out)
    experiments.load(out, timeseries=True)
    with RunStore(out, write=False) as reader:
        assert reader.orphans() == [orphan]
        with pytest.raises(RuntimeError, match="read-only"):
            reader.add([{"run_id": "x", "index": 1, "status": "ok"}], [])
            reader.flush()
    assert snapshot(out) == before
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError):
        status(missing)
    assert not missing.exists()


def test_a_reader_does_not_wait_for_or_block_a_writer(tmp_path):
    out = tmp_path / "exp"
    write_parts(out)
    proc = hold(out, 60)
    try:
        assert status(out)["done"] == 1  # no lock taken
    finally:
        proc.kill()
        proc.wait()


def test_a_writer_sets_orphaned_series_aside_and_deletes_nothing(tmp_path):
    out = tmp_path / "exp"
    _, orphan = write_parts(out)
    data = orphan.read_bytes()
    with RunStore(out):
        pass
    assert not orphan.exists()
    kept = out / QUARANTINE / orphan.relative_to(out)
    assert kept.read_bytes() == data
    assert (out / LOCK_NAME).is_file()


# --------------------------------------------------------------------------- names are not paths

EVIL = "../../../escaped_dir"


def test_safe_names_keep_safe_names_and_never_make_a_path():
    from experiments.engine.store import safe_name

    assert safe_name("fiscal_npv_usd") == "fiscal_npv_usd"
    assert safe_name("alliance+rate_shock").startswith("alliance-rate_shock-")
    for name in (EVIL, "..", ".", "a/b", "a\\b", "x\x00y", "", " ", "/etc/passwd", "é" * 80):
        got = safe_name(name)
        assert got and "/" not in got and "\\" not in got and "\x00" not in got
        assert got not in (".", "..") and not got.startswith(".")
        assert len(got) <= 48 + 9
    assert safe_name("a/b") != safe_name("a?b")  # the hash keeps names apart


def outside(base: Path, root: Path, before: set[Path]) -> list[Path]:
    """Files created under ``base`` but not under ``root``."""
    return [p for p in base.rglob("*") if p not in before and root not in p.parents]


def test_no_name_field_writes_outside_its_folder(tmp_path):
    """Traversal through every name field ends inside the command's folder.

    Scenario name, experiment name, scenario label, the default results/NAME
    and the folders of a multi-scenario run; deep enough that ``../../..``
    stays inside ``tmp_path``, where every new file is looked for.
    """
    root = tmp_path / "a" / "b" / "c" / "d" / "inner"
    root.mkdir(parents=True)
    before = set(tmp_path.rglob("*"))
    scenario = root / "evil.toml"
    scenario.write_text(f'[scenario]\nname = "{EVIL}"\nextends = "traditional"\n')
    spec = root / "evil_spec.toml"
    spec.write_text(
        f'[experiment]\nname = "{EVIL}"\nseed = 1\nreplications = 1\nmonths = 12\n'
        "timeseries = true\n"
        f'[[scenarios]]\nfile = "{scenario}"\nlabel = "../../label_escape"\n'
        '[design]\nkind = "list"\npoints = [{"world.rates.shift_bp" = 0.0}]\n'
    )
    runs = [
        ["run", str(scenario), "--months", "12", "--out", str(root / "one"), "--no-chart"],
        ["run", str(scenario), "traditional", "--months", "12", "--out", str(root / "two"),
         "--no-chart"],
        ["run", str(scenario), "--months", "12", "--no-chart"],  # default results/runs/...
        ["batch", str(spec), "--engine", "serial"],  # default results/<experiment name>
    ]  # fmt: skip
    for args in runs:
        done = cli(*args, cwd=root)
        assert done.returncode == 0, (args, done.stderr)
    assert outside(tmp_path, root, before) == []
    series = experiments.load(next((root / "results").glob("escaped_dir-*")), timeseries=True)
    assert set(series.scenario) == {"../../label_escape"}  # the label survives as data


# --------------------------------------------------------------------------- run ids

DUPLICATES = """
[experiment]
name = "twice"
model = "experiments.engine.analytic:linear"
seed = 5
replications = 2
[design]
kind = "list"
points = [{x = 1.0}, {x = 2.0}, {x = 1.0}]
"""


def test_identical_points_run_once_and_resume_always_completes(tmp_path):
    """A list design with a point twice: 6 entries, 6 run ids, 4 runs and 2 copies.

    Then the issue's kill case (a copy missing from the store) resumes to complete.
    """
    spec_file = tmp_path / "twice.toml"
    spec_file.write_text(DUPLICATES)
    spec = load_spec(spec_file)
    out = tmp_path / "exp"
    summary = run_experiment(spec, out)
    runs = experiments.load(out)
    assert summary.planned == 6 and len(runs) == 6 and runs.run_id.is_unique
    copies = runs[runs.worker.str.startswith("same as ")]
    assert len(copies) == 2 and set(copies.point) == {2}
    assert status(out) == {**status(out), "done": 6, "pending": 0, "status": "complete"}
    # the kill landed between a run and its copy: only the copy is missing
    part = next((out / "runs").glob("part-*.parquet"))
    table = pd.read_parquet(part)
    table[table.run_id != copies.run_id.iloc[0]].to_parquet(part, index=False)
    manifest = json.loads((out / "manifest.json").read_text())  # as the store wrote it
    manifest["parts"][f"runs/{part.name}"] = checksum(part)
    (out / "manifest.json").write_text(json.dumps(manifest))
    assert status(out)["pending"] == 1
    again = run_experiment(spec, out)
    assert again.ran == 1 and status(out)["pending"] == 0
    pd.testing.assert_frame_equal(
        experiments.load(out).drop(columns=["duration_s", "worker"]),
        runs.drop(columns=["duration_s", "worker"]),
    )


def test_a_store_of_the_earlier_format_is_not_resumed(tmp_path, spec):
    out = tmp_path / "exp"
    run_experiment(load_spec(spec), out)
    manifest = RunStore(out, write=False).manifest()
    del manifest["store_format"]  # as written before run ids named the plan entry
    (out / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ExperimentError, match="earlier version of the run store"):
        run_experiment(load_spec(spec), out)
    assert len(experiments.load(out)) == 12  # nothing added


# --------------------------------------------------------------------------- failures


def test_a_model_that_exits_fails_its_run_not_the_batch_and_the_exit_status_says_so(tmp_path):
    spec = tmp_path / "exits.toml"
    spec.write_text(
        SPEC.replace("analytic:linear", "analytic:exits").replace(
            "values = [0, 1, 2, 3, 4, 5]", "values = [-1, 0, 1, 2, -2, 3]"
        )
    )
    out = tmp_path / "exp"
    done = sweep(spec, out)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1].startswith("4 of 12 runs failed")
    runs = experiments.load(out)
    assert len(runs) == 12 and (runs.status == "error").sum() == 4
    assert runs[runs.status == "error"].error.str.startswith("SystemExit: 3").all()
    assert status(out)["status"] == "complete"


# --------------------------------------------------------------------------- integrity


def damaged_store(tmp_path: Path, spec: Path) -> tuple[Path, pd.DataFrame]:
    spec.write_text(SPEC.replace("replications = 2", "replications = 2\nchunk_size = 2"))
    out = tmp_path / "exp"
    run_experiment(load_spec(spec), out)
    return out, experiments.load(out)


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_a_damaged_part_is_found_set_aside_and_its_runs_run_again(tmp_path, spec, damage):
    out, whole = damaged_store(tmp_path, spec)
    assert verify(out)["corrupt"] == [] and verify(out)["unchecked"] == []
    part = next((out / "runs").glob("part-*.parquet"))
    data = part.read_bytes()
    if damage == "truncate":
        part.write_bytes(data[: len(data) // 2])
    else:  # flip bits in the middle: may still parse, but the checksum catches it
        mid = len(data) // 2
        part.write_bytes(
            data[:mid] + bytes(b ^ 0xFF for b in data[mid : mid + 8]) + data[mid + 8 :]
        )
    report = verify(out)
    assert report["corrupt"] == [f"runs/{part.name}"]
    st = status(out)  # readers still work and say so
    assert st["corrupt"] == 1 and st["done"] < 12
    done = cli("verify", str(out))
    assert done.returncode == 1 and f"corrupt: runs/{part.name}" in done.stdout
    if damage == "truncate":  # load names the part in one line, not an internal error
        failed = cli("report", str(out))
        assert "internal error" not in failed.stderr and "Traceback" not in failed.stderr
    again = run_experiment(load_spec(spec), out)  # resume: set aside, run again
    assert (out / QUARANTINE / "runs" / part.name).is_file()  # kept, not deleted
    assert again.ran == len(pd.read_parquet(io.BytesIO(data)))
    cols = ["run_id", "index", "y", "noise", "status"]
    pd.testing.assert_frame_equal(experiments.load(out)[cols], whole[cols])
    assert verify(out)["corrupt"] == [] and verify(out)["duplicate_runs"] == 0


# --------------------------------------------------------------------------- alliance run


def test_a_failed_or_disk_full_run_leaves_nothing_behind(tmp_path, monkeypatch, capsys):
    import errno

    import sim.model.api
    from experiments.cli.main import main
    from experiments.engine import store as store_module

    args = ["run", "traditional", "--months", "6", "--no-chart"]
    assert main([*args, "--out", str(tmp_path / "ok")]) == 0
    assert (tmp_path / "ok" / "kpis.csv").is_file() and not list((tmp_path / "ok").glob(".*"))

    def broken(*a, **k):
        raise ValueError("non-finite KPI(s): fiscal_npv_usd = nan")

    monkeypatch.setattr(sim.model.api, "run", broken)
    assert main([*args, "--out", str(tmp_path / "failed")]) == 1
    assert "the run failed: ValueError: non-finite" in capsys.readouterr().err
    assert not (tmp_path / "failed").exists()
    monkeypatch.undo()

    real = store_module.write_run

    def disk_full(result, folder):
        real(result, folder)  # some files land, then the disk fills
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store_module, "write_run", disk_full)
    (tmp_path / "given").mkdir()  # an empty folder the user named stays, empty
    assert main([*args, "--out", str(tmp_path / "given")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "No space left on device; nothing was kept" in err[0]
    assert list((tmp_path / "given").iterdir()) == []


def test_writer_record_reads_the_lock_file(tmp_path):
    """The last writer as recorded: alive or gone here, unknown (None) on another host."""
    import platform

    from experiments.engine.store import LOCK_NAME, writer_gone, writer_record

    assert writer_record(tmp_path) is None
    lock = tmp_path / LOCK_NAME
    lock.write_text(f"host {platform.node()}, pid {os.getpid()}, since 2026-01-01T00:00:00+0000")
    assert writer_record(tmp_path) == {
        "host": platform.node(),
        "pid": os.getpid(),
        "since": "2026-01-01T00:00:00+0000",
        "alive": True,
    }
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    lock.write_text(f"host {platform.node()}, pid {dead.stdout.strip()}, since x")
    assert writer_record(tmp_path)["alive"] is False and writer_gone(tmp_path)
    lock.write_text("host elsewhere.example, pid 1, since x")
    assert writer_record(tmp_path)["alive"] is None and not writer_gone(tmp_path)
    lock.write_text("")  # a writer between truncating and writing its record
    assert writer_record(tmp_path) is None and not writer_gone(tmp_path)
