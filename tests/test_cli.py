"""The ``alliance`` command: exit codes and one-line messages, never a traceback."""

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from experiments.cli.main import main


def test_validate_library_passes(capsys):
    """The shipped scenarios and overlays validate with exit 0."""
    from sim.config import LIBRARY

    files = [str(p) for p in sorted(LIBRARY.glob("*.toml")) + sorted(LIBRARY.glob("overlays/*"))]
    assert main(["validate", *files]) == 0
    out = capsys.readouterr().out
    assert f"{len(files)} of {len(files)} valid" in out


def test_validate_rejects_bad_files_with_exit_2(tmp_path, capsys):
    """A bad file gives exit 2 and one line per problem; good files still report ok."""
    bad = tmp_path / "bad.toml"
    bad.write_text("[scenario]\nextends = 'alliance'\n[world.rates]\nshift_bp = 'x'\n")
    broken = tmp_path / "broken.toml"
    broken.write_text("[world\n")
    assert main(["validate", "alliance", str(bad), str(broken)]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert err[0].startswith(f"{bad}: world.rates.shift_bp: 'x'")
    assert err[1].startswith(f"{broken}: malformed TOML")
    assert err[-1] == "1 of 3 valid"
    assert "ok  alliance" in captured.out
    assert "Traceback" not in captured.err


def test_set_unknown_path_exit_2(capsys):
    """An unknown --set path exits 2 with the suggestion."""
    assert main(["params", "alliance", "--set", "policy.procurment.mode=rfp"]) == 2
    err = capsys.readouterr().err
    assert "did you mean 'policy.procurement'" in err


def test_params_and_scenarios_listings(capsys):
    """`params` prints dotted paths with values; `scenarios` lists the library."""
    assert main(["params", "alliance", "-g", "rates.shift", "-s", "world.rates.shift_bp=25"]) == 0
    assert "world.rates.shift_bp = 25.0 bp  [-300 .. 1000]" in capsys.readouterr().out
    assert main(["scenarios"]) == 0
    out = capsys.readouterr().out
    assert "alliance" in out and "traditional" in out and "rate_shock" in out


def test_console_script_never_prints_a_traceback(tmp_path):
    """Run as a process: a missing file is one line on stderr and exit 2."""
    proc = subprocess.run(
        [sys.executable, "-m", "experiments.cli", "validate", str(tmp_path / "nope.toml")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "no such scenario file" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_version_prints_the_package_version(capsys):
    from importlib.metadata import version

    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"alliance-sim {version('alliance-sim')}"


# --- conventions: help on every option, -q / -v everywhere, --json, no colour -------------

QUICK_SPEC = """
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

ANSI = "\x1b"


def commands():
    """Every sub-command's parser, by name."""
    from experiments.cli.main import build_parser

    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return parser, dict(sub.choices)


def minimal_argv(parser):
    """The fewest arguments the parser accepts: a placeholder for each required one."""
    argv = []
    for action in parser._actions:
        if not action.option_strings:
            argv.append("x")
        elif action.required:
            argv += [action.option_strings[0], "x"]
    return argv


def test_every_option_of_every_command_has_help():
    """Walk the whole argparse tree: every option and positional says what it is."""
    top, subs = commands()
    missing = []
    for name, parser in [("alliance", top), *subs.items()]:
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
                continue
            if not (action.help or "").strip() or action.help == argparse.SUPPRESS:
                missing.append(f"{name} {'/'.join(action.option_strings) or action.dest}")
    assert not missing, f"options without help: {missing}"
    for parser in [top, *subs.values()]:
        parser.format_help()  # every %(default)s expands


@pytest.mark.parametrize("flag", ["-q", "--quiet", "-v", "--verbose"])
def test_every_command_takes_quiet_and_verbose_before_and_after(flag):
    """``-q`` / ``-v`` parse on every sub-command, after its name and before it."""
    from experiments.cli.common import QUIET, VERBOSE, verbosity

    top, subs = commands()
    want = QUIET if flag in ("-q", "--quiet") else VERBOSE
    for name, parser in subs.items():
        rest = minimal_argv(parser)
        for argv in ([name, *rest, flag], [flag, name, *rest]):
            assert verbosity(top.parse_args(argv)) == want, argv


def test_quiet_and_verbose_together_is_one_line_and_exit_2(capsys):
    for argv in (["-q", "scenarios", "-v"], ["scenarios", "-q", "-v"]):
        with pytest.raises(SystemExit) as done:
            main(argv)
        assert done.value.code == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "not allowed with" in err[0]


def test_quiet_prints_only_the_requested_output(tmp_path, capsys):
    """-q: tables and JSON stay; information lines and progress go; stderr stays empty."""
    spec = tmp_path / "quick.toml"
    spec.write_text(QUICK_SPEC)
    cases = [
        (["validate", "alliance", "-q"], ""),
        (["-q", "scenarios"], "Scenarios:"),
        (["params", "alliance", "-g", "shift_bp", "-q"], "world.rates.shift_bp"),
        (["batch", str(spec), "--engine", "serial", "--out", str(tmp_path / "b"), "-q"], ""),
        (["status", str(tmp_path / "b"), "-q"], "quick: 12 done"),
        (["verify", str(tmp_path / "b"), "-q"], "12 runs"),
        (
            ["run", "alliance", "--months", "6", "--no-chart", "--out", str(tmp_path / "r"), "-q"],
            "City fiscal NPV",
        ),
    ]
    for argv, shown in cases:
        assert main(argv) == 0, argv
        out, err = capsys.readouterr()
        assert err == "", (argv, err)
        assert (shown in out) if shown else out == "", (argv, out)
        assert "wrote" not in out and "runs in" not in out and "valid" not in out


def test_verbose_adds_detail_on_stderr_only(tmp_path, capsys):
    spec = tmp_path / "quick.toml"
    spec.write_text(QUICK_SPEC)
    out_dir = tmp_path / "b"
    assert main(["batch", str(spec), "--engine", "serial", "--out", str(out_dir)]) == 0
    normal_out, normal_err = capsys.readouterr()
    assert main(["status", str(out_dir)]) == 0
    status_out = capsys.readouterr().out
    assert main(["-v", "status", str(out_dir)]) == 0
    out, err = capsys.readouterr()
    assert out == status_out  # the output does not change, the detail is on stderr
    assert "alliance status: last writer: host" in err and "manifest.json" in err
    assert "alliance status: exit status 0 after" in err
    assert (
        main(["run", "alliance", "--months", "6", "--no-chart", "-v", "--out", str(tmp_path / "r")])
        == 0
    )
    out, err = capsys.readouterr()
    assert "alliance run: alliance: 6 months, seed 0" in err
    assert f"alliance run: wrote {tmp_path / 'r' / 'kpis.csv'}" in err
    assert "alliance run" not in out


def test_run_json_is_the_only_thing_on_stdout(tmp_path, capsys):
    """``run --json``: one object (seed, folder, runs with scenario, months, folder, KPIs)."""
    out_dir = tmp_path / "r"
    argv = [
        "run",
        "traditional",
        "alliance",
        "--months",
        "6",
        "--seed",
        "3",
        "--no-chart",
        "--json",
        "--out",
        str(out_dir),
    ]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    data = json.loads(out)
    assert set(data) == {"seed", "folder", "runs"}
    assert data["seed"] == 3 and data["folder"] == str(out_dir.resolve())
    assert [r["scenario"] for r in data["runs"]] == ["traditional", "alliance"]
    for run in data["runs"]:
        assert set(run) == {"scenario", "overlays", "months", "folder", "kpis"}
        assert run["months"] == 6 and run["overlays"] == []
        stored = json.loads((Path(run["folder"]) / "kpis.json").read_text())
        assert stored["kpis"] == pytest.approx(run["kpis"])
    assert "wrote" in err  # the information line moved to stderr


def test_status_json_and_errors_in_json_mode(tmp_path, capsys):
    spec = tmp_path / "quick.toml"
    spec.write_text(QUICK_SPEC)
    out_dir = tmp_path / "b"
    assert main(["batch", str(spec), "--engine", "serial", "--out", str(out_dir), "-q"]) == 0
    capsys.readouterr()
    assert main(["status", str(out_dir), "--json"]) == 0
    out, err = capsys.readouterr()
    st = json.loads(out)
    assert err == ""
    assert st["folder"] == str(out_dir.resolve()) and st["name"] == "quick"
    assert st["status"] == "complete"
    assert {k: st[k] for k in ("planned", "done", "failed", "pending", "missing", "corrupt")} == {
        "planned": 12,
        "done": 12,
        "failed": 0,
        "pending": 0,
        "missing": 0,
        "corrupt": 0,
    }
    import os

    assert st["writer"]["pid"] == os.getpid()  # this process wrote it (in-process run)
    assert st["writer"]["alive"] is True
    assert st["paths"]["manifest"] == str(out_dir.resolve() / "manifest.json")
    # errors: one line on stderr, nothing on stdout, non-zero exit
    for argv, code in (
        (["status", str(tmp_path / "nope"), "--json"], 2),
        (["run", "nope", "--json"], 2),
        (["run", "alliance", "--months", "0", "--json"], 2),
    ):
        try:
            assert main(argv) == code
        except SystemExit as done:  # argparse's own errors
            assert done.code == code
        out, err = capsys.readouterr()
        assert out == "" and len(err.strip().splitlines()) == 1, (argv, err)


def _in_terminal(argv, env, cwd):
    """Run the command with stderr on an 80-column pseudo-terminal (tqdm draws there).

    Returns:
        (stdout, what the terminal received).
    """
    import fcntl
    import os
    import pty
    import struct
    import termios

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "experiments.cli", *argv],
        stdout=subprocess.PIPE,
        stderr=follower,
        cwd=cwd,
        env=env,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    out = proc.stdout.read().decode()
    assert proc.wait() == 0, argv
    os.close(leader)
    return out, b"".join(chunks).decode(errors="replace")


def test_no_colour_anywhere_and_quiet_hides_the_bar(tmp_path):
    """No ANSI escape in the main commands' output, on a terminal or not, NO_COLOR or not.

    Nothing in alliance is coloured: the bar tqdm draws on a terminal is plain text
    and carriage returns (no escape at position 0), argparse (Python < 3.14) has no
    colour. So NO_COLOR has nothing to turn off, and this test keeps it so. -q hides
    the bar; without a terminal there is none.
    """
    import os

    from experiments.cli.main import __file__ as cli_file

    root = str(Path(cli_file).resolve().parents[2])
    spec = tmp_path / "quick.toml"
    spec.write_text(QUICK_SPEC)
    plain = {**os.environ, "PYTHONPATH": root}
    plain.pop("NO_COLOR", None)
    no_color = {**plain, "NO_COLOR": "1"}
    run = ["run", "alliance", "--months", "6", "--no-chart", "--out"]

    out, term = _in_terminal(
        ["batch", str(spec), "--engine", "serial", "--out", "b"], no_color, tmp_path
    )
    assert "runs planned" in term and ANSI not in out + term
    out, term = _in_terminal([*run, "t2"], plain, tmp_path)
    assert "month/s" in term and ANSI not in out + term  # the bar is drawn, uncoloured
    out, term = _in_terminal([*run, "t3", "-q"], plain, tmp_path)
    assert term == "" and "City fiscal NPV" in out
    piped = subprocess.run(
        [sys.executable, "-m", "experiments.cli", "-v", *run, "t4"],
        capture_output=True,
        text=True,
        env=plain,
        cwd=tmp_path,
    )
    assert piped.returncode == 0 and ANSI not in piped.stdout + piped.stderr
    assert "month/s" not in piped.stderr  # no bar without a terminal


def test_no_ansi_in_the_listings_and_errors(tmp_path, capsys, monkeypatch):
    """Listings, JSON, detail and error lines carry no escape codes (NO_COLOR set)."""
    monkeypatch.setenv("NO_COLOR", "1")
    for argv in (
        ["-v", "scenarios"],
        ["params", "alliance", "-g", "rates"],
        ["params", "alliance", "--json", "--active"],
        ["-v", "validate", "alliance", "traditional"],
        ["status", str(tmp_path)],
        ["run", "nope"],
    ):
        main(argv)
        out, err = capsys.readouterr()
        assert ANSI not in out + err, argv
