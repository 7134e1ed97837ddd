"""The Python API (leaderboard.api): the README's example runs; a run made from Python is the run the CLI makes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import leaderboard as lb
from leaderboard.cli import main

ROOT = Path(__file__).resolve().parents[1]


def _readme_example() -> str:
    text = (ROOT / "README.md").read_text()
    m = re.search(r"<!-- api-example[^>]*-->\s*```python\n(.*?)```\s*<!-- /api-example -->", text, re.S)
    assert m, "README.md lost its api-example block"
    return m.group(1)


def test_readme_example_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    exec(compile(_readme_example(), "README.md:api-example", "exec"), {})  # noqa: S102 - our own README
    out = capsys.readouterr().out
    assert "lama:trex precision@1" in out and "bear:bear accuracy" in out
    files = sorted((tmp_path / "my-runs").rglob("*.json"))
    assert len(files) == 2
    for f in files:
        lb.load_run(f)


def test_same_run_as_the_cli(tmp_path, capsys):
    """Same settings through the API and through `leaderboard run`: the same run_id, the same numbers."""
    step = "prune:criterion=l1,sparsity=0.5,scope=ffn"
    (mine,) = lb.run("builtin:demo-decoder", "lama:trex", [step], lama_dir="builtin:lama-sample", limit=15,
                     relations=["P19", "P36"], device="cpu")
    rc = main(["run", "--model", "builtin:demo-decoder", "--eval", "lama:trex", "--compress", step,
               "--lama-dir", "builtin:lama-sample", "--limit", "15", "--relations", "P19,P36", "--device", "cpu",
               "--no-progress", "--out", str(tmp_path)])
    assert rc == 0, capsys.readouterr().err
    (path,) = tmp_path.rglob("*.json")
    cli = json.loads(path.read_text())
    assert cli["run_id"] == mine.run_id and path.name == f"{mine.run_id}.json"
    assert cli["provenance"]["command"] == mine.provenance.command
    ours = mine.results[0].metrics["precision@1"]
    assert cli["results"][0]["metrics"]["precision@1"]["value"] == pytest.approx(ours.value, abs=1e-9)
    assert mine.measured.sparsity["ffn"] == pytest.approx(0.5, abs=0.005)
    # write_run puts it where the CLI did, and leaves an existing file alone unless forced
    before = path.read_bytes()
    assert lb.write_run(mine, tmp_path) == path and path.read_bytes() == before


def test_steps_as_text_mapping_or_object_and_clear_errors():
    text = lb.run_spec("builtin:demo-model", "lama:trex", ["quantize:scheme=dynamic-int8"])
    mapping = lb.run_spec("builtin:demo-model", "lama:trex", [{"method": "quantize", "scheme": "dynamic-int8"}])
    obj = lb.run_spec("builtin:demo-model", "lama:trex", [lb.parse_step("quantize:scheme=dynamic-int8")])
    assert text.compression == mapping.compression == obj.compression
    with pytest.raises(lb.SpecError, match="sparsty"):
        lb.run_spec("builtin:demo-model", "lama:trex", ["prune:criterion=l1,sparsty=0.3"])
    with pytest.raises(lb.SpecError, match="not a step"):
        lb.run_spec("builtin:demo-model", "lama:trex", [3])
    with pytest.raises(lb.SpecError, match="limt"):
        lb.run_spec("builtin:demo-model", "lama:trex", limt=3)
    with pytest.raises(lb.SpecError, match="limit"):
        lb.run_spec("builtin:demo-model", "lama:trex", limit="3")  # strict: no text for a number


def test_import_leaderboard_stays_light():
    """`import leaderboard` (what the torch-free commands import) does not pull torch in; the API loads on use."""
    code = "import sys, leaderboard; assert 'torch' not in sys.modules; leaderboard.run; assert 'torch' in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
