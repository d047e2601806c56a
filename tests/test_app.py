"""alliance app: state <-> address, the run-store cache, cancelling, error lines, the page.

The page is checked in headless Chromium: it renders, a lever changes the numbers,
a bad lever is one line, and every request goes to the local server (offline).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("dash")

from experiments.app.runner import Runner  # noqa: E402
from experiments.app.state import Request, RequestError, parse_other  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TINY = {"worlds": 2, "months": 12}


def _wait(job, seconds=120):
    assert job.finished.wait(seconds), f"job {job.key} did not finish in {seconds} s"


# ----------------------------------------------------------------- state <-> URL
def test_request_round_trips_through_the_query_string():
    req = Request(("traditional", "alliance"), ("rate_shock",), (), 12, 60, 7).with_levers(
        {
            "policy.procurement.mode": "framework",
            "policy.pilot.share_of_units": 0.01,
            "policy.governance.pmo": False,
            "policy.financing.preference": ["go_bond", "revolving_fund"],
            "world.rates.shift_bp": 200.0,
            "policy.contracts.payment": None,  # the design's own: not in the address
        }
    )
    query = req.to_query()
    assert "policy.contracts.payment" not in query
    assert "policy.financing.preference=go_bond,revolving_fund" in query
    back = Request.from_query("?" + query)
    assert back == req
    assert back.key() == req.key()
    assert back.overrides["policy.governance.pmo"] is False
    assert back.overrides["policy.financing.preference"] == ["go_bond", "revolving_fund"]


def test_request_key_changes_with_any_lever_and_with_a_file_s_content(tmp_path):
    base = Request(**TINY)
    assert base.key() == Request(**TINY).key()
    assert base.with_levers({"world.rates.shift_bp": 100}).key() != base.key()
    text = (ROOT / "scenarios" / "alliance.toml").read_text()
    scn = tmp_path / "mine.toml"
    scn.write_text(text)
    one = Request(("traditional", str(scn)), **TINY)
    assert one.check() == []
    before = one.key()
    scn.write_text(text.replace("debt_cap_share = 0.12", "debt_cap_share = 0.1"))
    assert one.key() != before


def test_bad_addresses_are_one_line_naming_the_item():
    with pytest.raises(RequestError) as exc:
        Request.from_query("n=many&colour=red")
    lines = exc.value.problems
    assert any(line.startswith("worlds (n): 'many'") for line in lines)
    assert any(line.startswith("colour: unknown setting") for line in lines)
    assert all("\n" not in line for line in lines)
    with pytest.raises(RequestError, match="expected PATH=VALUE"):
        parse_other("policy.pilot.share_of_units 0.1")


def test_invalid_levers_and_files_are_one_line_naming_them(tmp_path):
    unknown = Request(**TINY).with_levers({"policy.pilot.size_of_pilots": 0.1}).check()
    assert len(unknown) >= 1 and "policy.pilot.size_of_pilots" in unknown[0]
    too_big = Request(**TINY).with_levers({"policy.pilot.share_of_units": 5}).check()
    assert "policy.pilot.share_of_units" in too_big[0]
    broken = tmp_path / "broken.toml"
    broken.write_text("this is [not toml\n")
    lines = Request(("traditional", str(broken)), **TINY).check()
    assert lines and "broken.toml" in lines[0] and "\n" not in lines[0]
    assert Request(("alliance",), **TINY).check()[0].startswith("designs:")
    # a lever that changes none of a design's runs is refused, as alliance compare does
    inactive = Request(**TINY).with_levers({"policy.pilot.share_of_units": 0.01}).check()
    assert inactive[0].startswith("policy.pilot.share_of_units: does not apply to scenario")


def test_an_invalid_upload_is_one_line_and_a_valid_one_is_kept_by_content(tmp_path):
    from dash import no_update

    from experiments.app.server import App

    app = App(Runner(tmp_path / "cache", engine="serial"), exports=tmp_path / "out")
    path, error = app.add_file("bad.toml", "[[[")
    assert path == "" and error.startswith("bad.toml:") and "\n" not in error
    path, error = app.add_file("notes.txt", "hello")
    assert error == "notes.txt: a scenario file must be a .toml file"
    good = (ROOT / "scenarios" / "alliance.toml").read_text()
    path, error = app.add_file("mine.toml", good)
    assert error == "" and Path(path).name == "mine.toml" and Path(path).is_file()
    assert Path(path).parent.parent == tmp_path / "cache" / "files"
    # the page's callback turns a bad lever into one line, and submits nothing
    out = app.sync(
        "designs", "?", ["traditional", "alliance"], [], *_controls(app), None, None, None, []
    )
    assert out[-2] == "" and out[-1]  # a key: submitted
    bad = _controls(app)
    bad[2] = "policy.pilot.share_of_units=7"
    out = app.sync("other", "?", ["traditional", "alliance"], [], *bad, None, None, None, [])
    assert "policy.pilot.share_of_units" in out[-2] and "\n" not in out[-2]
    assert out[-1] is no_update  # nothing submitted
    app.stop()


def _controls(app):
    from experiments.app.state import LEVERS

    values, ons = [], []
    for _, kind in LEVERS.values():
        values.append([] if kind == "order" else ("" if kind != "slider" else 0.0))
        ons.append([])
    return [values, ons, "", TINY["worlds"], TINY["months"], 1]


# ------------------------------------------------------------ cache and cancelling
def test_a_second_identical_request_runs_nothing(tmp_path):
    req = Request(("traditional", "alliance"), **TINY)
    first = Runner(tmp_path, engine="serial", workers=1)
    first.start(wait=True)
    job = first.submit(req)
    _wait(job)
    assert job.status == "done" and job.ran == 4 and first.runs_started == 4
    _, _, worlds = job.snapshot()
    assert worlds == 2
    first.close()
    again = Runner(tmp_path, engine="serial", workers=1)  # a new server on the same cache
    again.start(wait=True)
    job2 = again.submit(req)
    _wait(job2)
    assert job2.status == "done" and job2.ran == 0 and again.runs_started == 0
    assert job2.stored == 4 and job2.snapshot()[2] == 2
    assert again.submit(req) is job2  # the newest request again: nothing new starts
    # export: the study folder and report of alliance compare, from the store, nothing run
    from experiments.app.server import App

    app = App(again, exports=tmp_path / "exports")
    text = app.export(job2.key)
    assert "alliance compare traditional alliance --replications 2" in text, text
    out = Path(text.split()[1])
    for name in ("compare.csv", "study.json", "report.html", "npv_decomposition.csv"):
        assert (out / name).is_file(), name
    assert again.runs_started == 0
    app.stop()


def test_a_changed_request_stops_the_old_one(tmp_path):
    runner = Runner(tmp_path, engine="serial", workers=1)
    runner.start(wait=True)
    long = runner.submit(Request(("traditional", "alliance"), worlds=60, months=24))
    deadline = time.time() + 60
    while long.ran < 2 and time.time() < deadline:
        time.sleep(0.02)
    new = runner.submit(Request(("traditional", "alliance"), **TINY))
    _wait(long)
    assert long.status == "cancelled"
    assert long.ran < 120, "the old request ran to the end"
    _wait(new)
    assert new.status == "done" and new.snapshot()[2] == 2
    runner.close()


# ------------------------------------------------------------------- the browser
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def server(tmp_path):
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [
        sys.executable,
        "-m",
        "experiments.cli",
        "app",
        "--port",
        str(port),
        "--worlds",
        "4",
        "--months",
        "24",
        "--cache",
        str(tmp_path / "cache"),
        "--exports",
        str(tmp_path),
    ]
    proc = subprocess.Popen(
        cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    line = proc.stdout.readline()
    assert f"http://127.0.0.1:{port}/" in line, line
    yield f"http://127.0.0.1:{port}", proc
    proc.terminate()
    proc.wait(timeout=30)


def _browser():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not chromium or not driver_path:
        pytest.skip("chromium and chromedriver are not installed")
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--window-size=1500,1100"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(driver_path), options=options)


def _until(driver, check, seconds, what):
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException

    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            value = check(driver)
        except (NoSuchElementException, StaleElementReferenceException):  # still rendering
            value = None
        if value:
            return value
        time.sleep(0.2)
    status = driver.find_element("id", "status").text
    error = driver.find_element("id", "error").text
    raise AssertionError(f"{what} not within {seconds} s (status {status!r}, error {error!r})")


def _scorecard(driver):
    """The scorecard's cells once all 4 worlds are drawn (None before)."""
    if "4 of 4 worlds" not in driver.find_element("id", "status").text:
        return None
    text = [c.text for c in driver.find_elements("css selector", "#scorecard td")]
    return text if len(text) > 8 else None


def test_the_page_in_chromium(server):
    url, proc = server
    driver = _browser()
    try:
        driver.get(url + "/?d=traditional,alliance&n=4&months=24")
        before = _until(driver, _scorecard, 60, "the scorecard")
        assert "City fiscal NPV vs no projects" in before
        # a lever in the address: the numbers change, the slider shows it set
        driver.get(url + "/?d=traditional,alliance&n=4&months=24&world.rates.shift_bp=500")
        after = _until(
            driver,
            lambda d: (s := _scorecard(d)) and s != before and s,
            60,
            "new numbers after the lever",
        )
        assert after != before
        assert "world.rates.shift_bp=500" in driver.current_url
        # a bad lever: one line naming it, the server keeps serving
        driver.get(url + "/?n=4&months=24&policy.pilot.share_of_units=7")
        error = _until(driver, lambda d: d.find_element("id", "error").text, 30, "the error")
        assert "policy.pilot.share_of_units" in error and "\n" not in error
        assert "Traceback" not in driver.page_source
        driver.get(url + "/?d=traditional,alliance&n=4&months=24")
        _until(driver, _scorecard, 30, "the scorecard from the run store")
        assert "from the run store" in driver.find_element("id", "status").text
        # offline: every request went to this server; no console errors
        resources = driver.execute_script(
            "return performance.getEntriesByType('resource').map(e => e.name)"
        )
        assert resources and all(r.startswith(url) for r in resources), resources
        severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert not severe, severe
        assert proc.poll() is None
    finally:
        driver.quit()
