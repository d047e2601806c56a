"""Every recipe in docs/interop.md runs as written.

A recipe is a fenced ``python`` or ``bash`` block whose first line is
``# recipe: NAME``. Each runs in a fresh folder in a subprocess (as a user
would paste it), with the repository on the path, and must exit 0.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "interop.md"
BLOCK = re.compile(r"^```(python|bash)\n# recipe: ([\w-]+)\n(.*?)^```", re.S | re.M)


def recipes() -> list[tuple[str, str, str]]:
    """The doc's recipes as (name, language, code).

    Returns:
        One triple per recipe, in the doc's order.
    """
    return [(m[2], m[1], m[3]) for m in BLOCK.finditer(DOC.read_text(encoding="utf-8"))]


def test_recipe_names_are_unique() -> None:
    names = [n for n, _, _ in recipes()]
    assert len(names) == len(set(names)), names


@pytest.mark.parametrize(("name", "lang", "code"), recipes(), ids=[r[0] for r in recipes()])
def test_recipe_runs(name: str, lang: str, code: str, tmp_path: Path) -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["ALLIANCE_REPO"] = str(ROOT)
    cmd = (
        [sys.executable, "-c", code]
        if lang == "python"
        else ["bash", "-euo", "pipefail", "-c", code]
    )
    started = time.perf_counter()
    done = subprocess.run(
        cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    took = time.perf_counter() - started
    print(f"recipe {name}: {took:.1f} s")
    assert done.returncode == 0, (
        f"recipe {name} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    )
