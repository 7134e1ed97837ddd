"""Shared fixtures: real example run files from schema/examples and helpers to vary them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from leaderboard.schema import RunFile, canonical_path, compute_run_id, dump_run, with_run_id  # noqa: F401 (tests import it from here)

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "schema" / "examples"
SHARED = ROOT.parent / "shared"
LAMA_DIR = SHARED / "data" / "lama"
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
