"""The ``alliance`` command: exit codes and one-line messages, never a traceback."""

import subprocess
import sys

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
