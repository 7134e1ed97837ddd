"""Sweeps: grid expansion (the paper's grid), shards, resume after a kill, failures, model reuse,
submitit (local executor end to end; SLURM submission script through stand-in sbatch/srun), lm-eval."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from conftest import ROOT
from leaderboard import naming
from leaderboard.sweep import SweepError, parse, parse_shard, shard_units, with_out
from leaderboard.sweep_run import run_units, status

PAPER = ROOT / "sweeps" / "cost-of-compression.yaml"
DEMO = ROOT / "sweeps" / "demo.yaml"
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}


def cli(*args: str, cwd: Path = ROOT, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "leaderboard.cli", *args], cwd=cwd, env=ENV, capture_output=True,
                          text=True, timeout=600, **kw)


def write_spec(path: Path, pipelines: str, evals: str = "[lama:trex]", extra: str = "", model: str = "builtin:demo-model") -> Path:
    path.write_text(f"""name: t
defaults: {{device: cpu, lama_dir: builtin:lama-sample{extra}}}
groups:
  - name: g
    models: [{model}]
    evals: {evals}
    pipelines:
{pipelines}
""")
    return path


def run_files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*.json"))}


# --- expansion ----------------------------------------------------------------------------------


def test_paper_grid_expands_to_the_papers_counts() -> None:
    sweep = parse(PAPER)
    per_model_pipelines = 1 + 3 * 9 + 4 * 9 + 3 + 3 * 9  # baseline, global x3 scopes, local x4 criteria, int8 x3, prune+int8
    runs = Counter(u.group for u in sweep.units for _ in u.spec.evals)
    assert per_model_pipelines == 94
    assert runs == {"encoders": 6 * 94 * 4, "encoder-decoders": 2 * 94 * 3, "decoders-7b": 2 * 94 * 3}
    assert sweep.n_runs == 3384 and len(sweep.units) == 10 * 94  # each model x pipeline once, all its evals together
    encoder_units = [u for u in sweep.units if u.group == "encoders"]
    assert Counter(naming.method_key(u.spec.compression) for u in encoder_units) == {
        "baseline": 6, "prune:l1:global": 6 * 27, "prune:l1:local": 6 * 9, "prune:random:local": 6 * 9,
        "prune:ln-structured:local": 6 * 9, "prune:random-structured:local": 6 * 9,
        "quantize:dynamic-int8": 6 * 3, "prune:l1:global+quantize:dynamic-int8": 6 * 27}
    assert {s.scope for u in encoder_units for s in u.spec.compression
            if s.method == "prune" and s.granularity == "local"} == {"last-layer"}
    assert all(u.spec.evals == ["lama:trex", "lama:google-re", "lama:conceptnet", "lama:squad"] for u in encoder_units)
    decoders = [u for u in sweep.units if u.group == "decoders-7b"]
    assert all(u.spec.dtype == "bfloat16" and u.spec.allow_hub for u in decoders)
    assert all(u.spec.evals == ["lm-eval:boolq", "lm-eval:piqa", "lm-eval:winogrande"] for u in decoders)
    # model by model: each model's units are contiguous (one load per model per worker)
    models = [u.spec.model for u in sweep.units]
    assert len([m for i, m in enumerate(models) if i == 0 or models[i - 1] != m]) == 10


def bert_demo(tmp_path: Path) -> Path:
    """The demo sweep's first group (the tiny BERT's twelve LAMA runs): the sweep machinery under test."""
    import yaml

    data = yaml.safe_load(DEMO.read_text())
    data["groups"] = data["groups"][:1]
    out = tmp_path / "demo-bert.yaml"
    out.write_text(yaml.safe_dump(data, sort_keys=False))
    return out


def test_demo_sweep_is_the_committed_demo() -> None:
    sweep = parse(DEMO)
    assert sweep.n_runs == 12 + 12 + 8  # BERT and Llama under the same twelve compressions, both on BEAR under four
    rows = status(sweep.units, ROOT / "build" / "no-state")
    assert [r.state for r in rows] == ["done"] * 32  # runs/ holds every demo run, found by run id before loading
    families = {r.path.parts[-3] for r in rows}
    assert families == {"encoder", "decoder"}


@pytest.mark.parametrize("body, message", [
    ("name: t\ngroups: []\n", "groups: a non-empty list"),
    ("name: t\nfoo: 1\ngroups: []\n", "unknown field(s) foo"),
    ("name: 't t'\ngroups: []\n", "name: a short identifier"),
    ("name: t\ndefaults: {bogus: 1}\ngroups: [{models: [m], evals: [lama:trex]}]\n", "defaults: unknown setting(s) bogus"),
    ("name: t\ngroups: [{models: [m], evals: [lama:trex], pipelines: [{prune: {criterion: l1, sparsity: 1.5}}]}]\n",
     "groups[0].pipelines[0]"),
    ("name: t\ngroups: [{models: [m], evals: [lama:trex], pipelines: [{prune: {criterion: l1, sparsity: []}}]}]\n",
     "empty list"),
    ("name: t\ngroups: [{models: [m], evals: [], pipelines: [baseline]}]\n", "groups[0].evals"),
    ("name: t\ngroups: [{models: [m], evals: [lama:trex], pipelines: [{shrink: {}}]}]\n", "unknown step"),
    ("name: t\ngroups: [{models: [m], evals: [lama:trex], weight: 0}]\n", "weight"),
])
def test_bad_specs_name_file_and_field(tmp_path, body: str, message: str) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text(body)
    with pytest.raises(SweepError) as e:
        parse(spec)
    assert message in str(e.value) and str(spec) in str(e.value)


def test_list_fields_expand_and_duplicates_collapse(tmp_path) -> None:
    spec = write_spec(tmp_path / "s.yaml", """      - baseline
      - []
      - prune: {criterion: [l1, random], sparsity: [0.2, 0.4]}
      - "prune:criterion=l1,sparsity=0.2"
      - steps: [{prune: {criterion: l1, sparsity: [0.2, 0.4]}}, "quantize:scheme=dynamic-int8"]""",
                      evals="[lama:trex, lama:google-re]")
    sweep = parse(spec, {"limit": 5})
    labels = [u.pipeline for u in sweep.units]
    assert len(labels) == 1 + 4 + 2 and len(set(labels)) == len(labels)
    assert labels[1] == "prune:criterion=l1,scope=all,granularity=global,sparsity=0.2"
    assert all(u.spec.evals == ["lama:trex", "lama:google-re"] and u.spec.limit == 5 for u in sweep.units)
    with pytest.raises(SweepError, match="unknown setting"):
        parse(spec, {"nope": 1})


@pytest.mark.parametrize("count", [1, 2, 3, 5, 7, 32, 1000])
def test_shards_partition_the_grid_exactly(count: int) -> None:
    units = parse(PAPER).units
    keys = [u.run_key(t) for u in units for t in u.spec.evals]
    shards = [[u.run_key(t) for u in shard_units(units, i, count) for t in u.spec.evals] for i in range(count)]
    assert sorted(k for s in shards for k in s) == sorted(keys)  # every run once, none twice
    if count <= 32:  # balanced by cost (runs x group weight) within one unit's cost
        costs = [sum(u.cost for u in shard_units(units, i, count)) for i in range(count)]
        assert max(costs) - min(costs) <= 2 * max(u.cost for u in units)


@pytest.mark.parametrize("text", ["4/4", "-1/2", "a/b", "3", "0/0"])
def test_bad_shard(text: str) -> None:
    with pytest.raises(SweepError):
        parse_shard(text)


# --- running ------------------------------------------------------------------------------------


def test_resume_after_a_killed_sweep(tmp_path) -> None:
    out, state = tmp_path / "runs", tmp_path / "state"
    demo = bert_demo(tmp_path)
    args = ["sweep", str(demo), "--out", str(out), "--state", str(state), "--set", "limit=40", "--no-progress"]
    units = with_out(parse(demo, {"limit": 40}).units, out)
    assert Counter(r.state for r in status(units, state)) == {"todo": 12}
    proc = subprocess.Popen([sys.executable, "-m", "leaderboard.cli", *args], cwd=ROOT, env=ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while len(run_files(out)) < 3 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = run_files(out)
    assert 3 <= len(before) < 12, "the sweep finished before it could be killed"
    mtimes = {p: (out / p).stat().st_mtime_ns for p in before}
    assert Counter(r.state for r in status(units, state)) == {"done": len(before), "todo": 12 - len(before)}
    again = cli(*args)
    assert again.returncode == 0, again.stderr
    assert f"12 run(s): {12 - len(before)} written, {len(before)} already done, 0 failed" in again.stdout
    after = run_files(out)
    assert len(after) == 12
    assert all(after[p] == b and (out / p).stat().st_mtime_ns == mtimes[p] for p, b in before.items())  # not redone
    check = cli("validate", str(out))
    assert check.returncode == 0, check.stdout + check.stderr  # whole, valid files only
    last = run_units(units, state, log=lambda line: None)
    assert last.done_before == 12 and not last.written and last.models_loaded == 0


def test_a_failing_run_is_recorded_and_the_sweep_goes_on(tmp_path) -> None:
    spec = write_spec(tmp_path / "s.yaml", """      - baseline
      - quantize: {scheme: dynamic-int8, scope: embeddings}
      - prune: {criterion: l1, sparsity: 0.5}""", extra=", limit: 20")
    out, state = tmp_path / "runs", tmp_path / "state"
    first = cli("sweep", str(spec), "--out", str(out), "--state", str(state), "--no-progress")
    assert first.returncode == 1
    assert "3 run(s): 2 written, 0 already done, 1 failed" in first.stdout
    assert "FAILED" in first.stdout and "UnsupportedScheme" in first.stdout
    (record,) = [json.loads(p.read_text()) for p in (state / "failures").glob("*.json")]
    assert record["error_type"] == "UnsupportedScheme" and "Embedding" in record["error"]
    assert record["task"] == "lama:trex" and record["compression"] == "quantize:scheme=dynamic-int8,scope=embeddings"
    assert "Traceback" in record["traceback"]
    assert len(run_files(out)) == 2
    units = with_out(parse(spec).units, out)
    rows = status(units, state)
    assert [r.state for r in rows] == ["done", "failed", "done"] and "UnsupportedScheme" in rows[1].detail
    skip = run_units(units, state, retry_failed=False, log=lambda line: None)
    assert skip.models_loaded == 0 and not skip.failed
    retry = run_units(units, state, log=lambda line: None)
    assert retry.models_loaded == 1 and len(retry.failed) == 1 and not retry.written


def test_model_loaded_once_and_restored_exactly(tmp_path) -> None:
    """Baseline and 80 % pruning evaluated after other compressions of the same in-memory model give
    exactly the committed runs (same run ids, same per-fact ranks): restores leave no trace."""
    spec = write_spec(tmp_path / "s.yaml", """      - prune: {criterion: l1, sparsity: 0.9}
      - quantize: {scheme: dynamic-int8}
      - baseline
      - prune: {criterion: random, sparsity: 0.5}
      - prune: {criterion: l1, sparsity: 0.8}""")
    units = with_out(parse(spec).units, tmp_path / "runs")
    summary = run_units(units, tmp_path / "state", log=lambda line: None)
    assert summary.models_loaded == 1 and len(summary.written) == 5 and not summary.failed
    assert summary.restores == {"in-place": 2, "copy": 1}  # after 0.9, random, (0.8 is last); after int8: a copy
    for written in map(Path, summary.written):
        committed = ROOT / "runs" / written.relative_to(tmp_path / "runs")
        assert committed.exists(), f"{written.name}: not a committed demo run id"
        new, old = json.loads(written.read_text()), json.loads(committed.read_text())
        assert new["results"][0]["metrics"] == old["results"][0]["metrics"]
        assert new["results"][0]["facts"] == old["results"][0]["facts"]  # every fact's rank


def test_lm_eval_tasks_through_the_sweep(tmp_path) -> None:
    from leaderboard import tiny
    from leaderboard.models import save
    from test_harness import WORDS, _tasks

    tok = tiny.word_tokenizer(WORDS + [str(i) for i in range(40)], "gpt2")
    save(tiny.tiny_model("gpt2", vocab_size=len(tok), seed=0), tok, tmp_path / "gpt2")
    tasks = _tasks(tmp_path / "tasks")
    spec = write_spec(tmp_path / "s.yaml", """      - baseline
      - prune: {criterion: l1, sparsity: 0.5}""", evals="[lm-eval:boolq_local, lm-eval:piqa_local]",
                      extra=f", lm_eval_include: {tasks}, batch_size: 8", model=str(tmp_path / "gpt2"))
    summary = run_units(with_out(parse(spec).units, tmp_path / "runs"), tmp_path / "state", log=lambda line: None)
    assert len(summary.written) == 4 and summary.models_loaded == 1 and not summary.failed
    tasks_seen = Counter()
    for p in map(Path, summary.written):
        run = json.loads(p.read_text())
        tasks_seen[run["evaluation"]["task"]] += 1
        assert 0 <= run["results"][0]["metrics"]["acc"]["value"] <= 1 and run["results"][0]["n"] in (40, 20)
    assert tasks_seen == {"lm-eval:boolq_local": 2, "lm-eval:piqa_local": 2}
    assert cli("validate", str(tmp_path / "runs")).returncode == 0


# --- submitit -----------------------------------------------------------------------------------


def test_local_submitit_executor_runs_a_sharded_sweep(tmp_path) -> None:
    out, state = tmp_path / "runs", tmp_path / "state"
    res = cli("sweep", str(bert_demo(tmp_path)), "--out", str(out), "--state", str(state), "--set", "limit=10",
              "--executor", "local", "--shards", "2", "--time", "10")
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.count("written") == 2 and "submitted 2 job(s)" in res.stdout
    assert len(run_files(out)) == 12
    assert cli("validate", str(out)).returncode == 0
    logs = list((state / "submitit").rglob("*_log.out"))
    assert len(logs) == 2 and all("model load(s)" in p.read_text() for p in logs)


@pytest.mark.parametrize("other_shard_makes, error", [("folder", None), ("link", "is a symbolic link"),
                                                         ("file", "exists and is not a folder")])
def test_a_folder_another_shard_makes_meanwhile_is_used_and_a_link_is_still_refused(
        tmp_path, monkeypatch, other_shard_makes, error) -> None:
    """Two shards write into the same model folder: between one's look (lstat: missing) and its mkdir the
    other makes it. That folder is fine (CI saw a FileExistsError fail a run here); a link or file is not."""
    from leaderboard.fsutil import UnsafePath, ensure_dir

    real_mkdir, elsewhere = os.mkdir, tmp_path / "elsewhere"
    elsewhere.mkdir()

    def raced_mkdir(path, *args, **kwargs):
        if Path(path).name == "model-slug":  # the other shard wins the race for this component
            {"folder": lambda: real_mkdir(path), "link": lambda: Path(path).symlink_to(elsewhere),
             "file": lambda: Path(path).write_text("x")}[other_shard_makes]()
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "mkdir", raced_mkdir)
    root = tmp_path / "runs"
    if error is None:
        assert ensure_dir(root, "encoder/model-slug") == root / "encoder" / "model-slug"
        assert (root / "encoder" / "model-slug").is_dir() and not (root / "encoder" / "model-slug").is_symlink()
    else:
        with pytest.raises(UnsafePath, match=error):
            ensure_dir(root, "encoder/model-slug")
        assert not any(elsewhere.iterdir())


def test_slurm_submission_is_a_requeueable_gpu_job_array(tmp_path) -> None:
    """Stand-in sbatch/srun on PATH record what submitit would submit to SLURM."""
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    (bin_ / "srun").write_text("#!/bin/sh\nexit 0\n")
    (bin_ / "sbatch").write_text(f'#!/bin/sh\ncp "$1" {tmp_path}/submitted.sh\necho "Submitted batch job 4242"\n')
    for f in bin_.iterdir():
        f.chmod(0o755)
    env = {**ENV, "PATH": f"{bin_}:{ENV['PATH']}"}
    res = subprocess.run([sys.executable, "-m", "leaderboard.cli", "sweep", str(DEMO), "--executor", "slurm",
                          "--shards", "3", "--partition", "gpu", "--time", "90", "--array-parallelism", "2",
                          "--state", str(tmp_path / "state")], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr
    assert "submitted 3 job(s): 4242_0, 4242_1, 4242_2" in res.stdout
    script = (tmp_path / "submitted.sh").read_text()
    for line in ("#SBATCH --array=0-2%2", "#SBATCH --partition=gpu", "#SBATCH --time=90", "#SBATCH --gpus-per-node=1",
                 "#SBATCH --signal=USR2@"):
        assert line in script, line


def test_shard_jobs_requeue_themselves_with_the_same_shard() -> None:
    """On a time limit or preemption submitit calls checkpoint(); the requeued call is the same shard,
    which then skips what is written (resume)."""
    from leaderboard.sweep_submit import ShardJob

    job = ShardJob()
    args = (str(DEMO), 1, 4, {"limit": 5}, str(ROOT), "/tmp/state", None, True)
    again = job.checkpoint(*args)
    assert again.function is job and again.args == args


def test_local_shard_jobs_get_their_own_gpus() -> None:
    from leaderboard.sweep_submit import gpu_sets

    assert gpu_sets(4, [0, 1, 2, 3], 1) == [[0], [1], [2], [3]]
    assert gpu_sets(3, [4, 6], 1) == [[4], [6], [4]]  # more shards than GPUs: shared round robin
    assert gpu_sets(2, [0, 1, 2, 3], 2) == [[0, 1], [2, 3]]
    assert gpu_sets(2, [], 1) == [[], []] and gpu_sets(2, [0], 0) == [[], []]


def test_llm_methods_sweep_covers_the_published_rows_of_public_models() -> None:
    """Every published GPTQ/RTN/SparseGPT/magnitude row of a model in sweeps/llm-methods.yaml has its run."""
    import csv

    from conftest import ROOT, SHARED
    from leaderboard.runner import step_text

    sweep = parse(ROOT / "sweeps" / "llm-methods.yaml")
    planned = {(u.spec.model, tuple(step_text(s) for s in u.spec.compression), task)
               for u in sweep.units for task in u.spec.evals}
    models = {u.spec.model for u in sweep.units}
    rows = [r for r in csv.DictReader((SHARED / "data" / "reported" / "results.csv").open(encoding="utf-8"))
            if r["model"] in models and not r["task"].startswith("lm-eval:storycloze")]
    assert len(rows) > 100
    from leaderboard.runner import parse_step

    missing = [(r["model"], r["compression"], r["task"]) for r in rows
               if (r["model"], tuple(step_text(parse_step(s)) for s in r["compression"].split(";") if s.strip()),
                   r["task"]) not in planned]
    assert missing == []
    assert sweep.n_runs == 12 * 13 * 6
    assert Counter(naming.method_key(u.spec.compression) for u in sweep.units)["prune:sparsegpt:local"] == 12 * 3
