"""Shared fixtures: real example run files from schema/examples and helpers to vary them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from leaderboard.schema import RunFile, canonical_path, compute_run_id, dump_run, with_run_id  # noqa: F401 (tests import it from here)

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "schema" / "examples"
SHARED = ROOT.parent / "shared"
LAMA_DIR = SHARED / "data" / "lama"
# partial evaluations (evaluate/partial.py) kept by tests never land in the user's cache; subprocesses inherit it
os.environ["LEADERBOARD_PARTIAL_DIR"] = tempfile.mkdtemp(prefix="leaderboard-partial-tests-")
GIT_ENV = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}


@pytest.fixture
def repo(tmp_path) -> Path:
    """A git repository whose main branch holds this checkout's runs/ (the published runs), for pr-check."""
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "runs", repo / "runs")
    for args in (["init", "-q", "-b", "main"], ["add", "."], ["commit", "-qm", "published runs"]):
        subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, env=GIT_ENV)
    return repo


def example(name: str) -> dict:
    return json.loads((EXAMPLES / f"{name}.json").read_text())


def place(runs_dir: Path, data: dict) -> Path:
    """Write a run dict at its canonical path under runs_dir."""
    run = RunFile.model_validate(data)
    path = runs_dir / canonical_path(run)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dump_run(run))
    return path


@pytest.fixture
def baseline() -> dict:
    return example("reproduced-baseline")


@pytest.fixture
def compressed() -> dict:
    return example("reproduced-prune-then-quantize")


@pytest.fixture
def reported() -> dict:
    return example("reported")


def run_limited(code: str, *, timeout: float = 60, memory_bytes: int = 2 * 1024**3, cwd: Path | None = None):
    """Run Python ``code`` in a fresh interpreter with an address-space limit and a timeout (a hang or a blow-up
    is a test failure, never a stuck suite): returns the CompletedProcess, or raises subprocess.TimeoutExpired."""
    import os
    import resource
    import subprocess
    import sys

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))

    import leaderboard

    src = Path(leaderboard.__file__).resolve().parents[1]  # the code this test session imports
    env = {**os.environ, "PYTHONPATH": str(src), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout,
                          preexec_fn=limit, env=env, cwd=cwd)


def run_cli(args: list[str], capsys) -> tuple[int, str]:
    """``leaderboard ARGS`` in this process: (exit code, stdout + stderr); never a traceback."""
    from leaderboard.cli import main

    rc = main(args)
    cap = capsys.readouterr()
    out = cap.out + cap.err
    assert "Traceback" not in out
    return rc, out


def chromium_path() -> str | None:
    for path in ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"):
        if os.path.exists(path):
            return path
    return None


def rendered_run_pages(site: Path, run_ids, browser=None) -> dict[str, str]:
    """Run pages as a reader's browser shows them: each page's blocks turned into HTML by the site's own run-page
    script (runs/page.js) in Chromium, through playwright (``browser``: one a test module already has open). Skipped
    where either is missing (CI installs both; with LEADERBOARD_REQUIRE_BROWSER set it fails instead)."""
    if browser is not None:
        return _render_run_pages(browser, site, run_ids)
    exe = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        exe = None
    if exe is None:
        if os.environ.get("LEADERBOARD_REQUIRE_BROWSER"):
            pytest.fail("Chromium and playwright are required here (LEADERBOARD_REQUIRE_BROWSER is set)")
        pytest.skip("no Chromium or playwright on this machine (CI installs both)")
    with sync_playwright() as p:
        own = p.chromium.launch(executable_path=exe, args=["--no-sandbox", "--disable-gpu"])
        try:
            out = _render_run_pages(own, site, run_ids)
        finally:
            own.close()
    return out


def _render_run_pages(browser, site: Path, run_ids) -> dict[str, str]:
    out = {}
    tab = browser.new_page()
    try:
        for rid in run_ids:
            tab.goto((Path(site) / "runs" / f"{rid}.html").resolve().as_uri(), wait_until="load")
            assert tab.locator("pre.lb-run-data").count() == 0, f"run page {rid} was not rendered"
            out[rid] = tab.content()
    finally:
        tab.close()
    return out
