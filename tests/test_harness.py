"""lm-eval bridge on tiny in-memory models with local tasks in lm-eval's YAML format (offline)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from conftest import example, place, with_run_id
from leaderboard import tiny
from leaderboard.evaluate.harness import HarnessError, include_sha256, run_harness
from leaderboard.validate import check_bytes

CPU = torch.device("cpu")
WORDS = ["Item", "is", "red", "blue", ".", "Question:", "Answer:", "no", "yes", "item", "?", "The", "goal", ":", "Solution", "1", "2", "fill", "_", "A", "B", "option"]
YES = 30  # of 40 BoolQ-shaped docs have label 1 ("yes")


def _tasks(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    boolq = [{"passage": f"Item {i} is {'red' if i < YES else 'blue'} .", "question": f"is item {i} red",
              "label": int(i < YES)} for i in range(40)]
    piqa = [{"goal": f"goal {i}", "sol1": "option A", "sol2": "option B", "label": i % 2} for i in range(20)]
    wino = [{"sentence": f"Item {i} is _ .", "option1": "red", "option2": "blue", "answer": str(1 + i % 2)} for i in range(20)]
    cloze = [{"text": f"Item {i} is {'red' if i % 3 else 'blue'} . Question: is item {i} red ? Answer: "
                      f"{'yes' if i % 3 else 'no'}"} for i in range(24)]
    for name, rows in (("boolq", boolq), ("piqa", piqa), ("wino", wino), ("cloze", cloze)):
        (root / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    common = "dataset_path: json\nvalidation_split: validation\noutput_type: multiple_choice\nmetadata:\n  version: 1.0\n"
    (root / "boolq_local.yaml").write_text(
        f"task: boolq_local\n{common}dataset_kwargs:\n  data_files:\n    validation: {root / 'boolq.jsonl'}\n"
        'doc_to_text: "{{passage}}\\nQuestion: {{question}}?\\nAnswer:"\ndoc_to_target: label\n'
        'doc_to_choice: ["no", "yes"]\nmetric_list:\n  - metric: acc\n')
    (root / "piqa_local.yaml").write_text(
        f"task: piqa_local\n{common}dataset_kwargs:\n  data_files:\n    validation: {root / 'piqa.jsonl'}\n"
        'doc_to_text: "Question: {{goal}}\\nAnswer:"\ndoc_to_target: label\ndoc_to_choice: "{{[sol1, sol2]}}"\n'
        "metric_list:\n  - metric: acc\n  - metric: acc_norm\n")
    (root / "wino_local.yaml").write_text(
        f"task: wino_local\n{common}dataset_kwargs:\n  data_files:\n    validation: {root / 'wino.jsonl'}\n"
        'doc_to_text: "{{sentence.split(\'_\')[0] ~ option1}}"\ndoc_to_target: "{{answer | int - 1}}"\n'
        'doc_to_choice: ["1", "2"]\nmetric_list:\n  - metric: acc\n')
    (root / "cloze_local.yaml").write_text(  # LAMBADA-shaped: the last word given the rest (continuous metric)
        f"task: cloze_local\ndataset_path: json\nvalidation_split: validation\noutput_type: loglikelihood\n"
        f"metadata:\n  version: 1.0\ndataset_kwargs:\n  data_files:\n    validation: {root / 'cloze.jsonl'}\n"
        'doc_to_text: "{{text.split(\' \')[:-1]|join(\' \')}}"\n'
        'doc_to_target: "{{\' \' + text.split(\' \')[-1]}}"\n'
        "metric_list:\n  - metric: perplexity\n    aggregation: perplexity\n    higher_is_better: false\n"
        "  - metric: acc\n    aggregation: mean\n    higher_is_better: true\n")
    return root


def _always_yes(tok):
    """A GPT-2 whose final layer norm outputs a constant pointing at 'yes': it answers yes to everything."""
    m = tiny.tiny_model("gpt2", vocab_size=len(tok), seed=0)
    with torch.no_grad():
        yes = m.transformer.wte.weight[tok.convert_tokens_to_ids("yes")].clone()
        m.transformer.ln_f.weight.zero_()
        m.transformer.ln_f.bias.copy_(yes * 10)
    return m


def test_known_accuracy_through_the_bridge(tmp_path) -> None:
    tok = tiny.word_tokenizer(WORDS + [str(i) for i in range(40)], "gpt2")
    out = run_harness(_always_yes(tok), tok, "decoder", CPU, ["lm-eval:boolq_local"], include_path=_tasks(tmp_path),
                      include_defaults=False, batch_size=8)
    (r,) = out.results
    assert r.task == "lm-eval:boolq_local" and r.n == 40 and r.num_fewshot == 0 and r.task_version == "1.0"
    acc = r.metrics["acc"]
    assert acc.value == pytest.approx(YES / 40)  # it always says yes: right exactly on the yes docs
    assert acc.stderr == pytest.approx((0.75 * 0.25 / 39) ** 0.5, rel=1e-6)
    assert acc.ci.method == "normal" and acc.ci.low <= acc.value <= acc.ci.high <= 1
    assert r.config["output_type"] == "multiple_choice"


@pytest.mark.parametrize("arch", ["gpt2", "llama", "t5"])
def test_boolq_piqa_winogrande_shaped_tasks_map_into_a_valid_run_file(arch, tmp_path) -> None:
    tok = tiny.word_tokenizer(WORDS + [str(i) for i in range(40)], arch)
    model = tiny.tiny_model(arch, vocab_size=len(tok))
    root = _tasks(tmp_path)
    out = run_harness(model, tok, tiny.FAMILY[arch], CPU, ["boolq_local", "piqa_local", "wino_local"],
                      include_path=root, include_defaults=False, limit=10)
    by_task = {r.task: r for r in out.results}
    assert set(by_task) == {"lm-eval:boolq_local", "lm-eval:piqa_local", "lm-eval:wino_local"}
    assert {"acc", "acc_norm"} <= set(by_task["lm-eval:piqa_local"].metrics)
    assert all(r.n == 10 for r in out.results) and out.examples == 30
    run = example("reproduced-baseline")
    run["schema_version"] = "1.1"
    run["evaluation"] = {"task": "lm-eval:boolq_local", "data_sha256": include_sha256(root), "settings": {"limit": 10}}
    run["results"] = [by_task["lm-eval:boolq_local"].model_dump(mode="json", exclude_none=True)]
    problems = check_bytes(json.dumps(with_run_id(run)).encode(), "run.json", None).problems
    assert problems == []


def test_bridge_refuses_masked_lms_and_unknown_tasks(tmp_path) -> None:
    tok = tiny.word_tokenizer(WORDS, "bert")
    with pytest.raises(HarnessError, match="decoders and encoder-decoders; this model is an encoder"):
        run_harness(tiny.tiny_model("bert", vocab_size=len(tok)), tok, "encoder", CPU, ["boolq_local"])
    tok = tiny.word_tokenizer(WORDS, "gpt2")
    with pytest.raises(HarnessError, match="unknown lm-eval task"):
        run_harness(tiny.tiny_model("gpt2", vocab_size=len(tok)), tok, "decoder", CPU, ["no_such_task"],
                    include_path=_tasks(tmp_path), include_defaults=False)


# --- parity with lm-eval's own CLI on the same saved folder -------------------------------------------


def _lm_eval_cli(folder: Path, backend: str, task: str, include: Path, out: Path, fewshot: int | None) -> dict:
    """Run the `lm_eval` command itself (the independent reference) and read its results JSON."""
    import os
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "lm_eval", "--model", "hf", "--model_args",
           f"pretrained={folder},backend={backend},dtype=float32", "--tasks", task, "--include_path", str(include),
           "--device", "cpu", "--batch_size", "8", "--output_path", str(out)]
    if fewshot is not None:
        cmd += ["--num_fewshot", str(fewshot)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    subprocess.run(cmd, check=True, capture_output=True, env=env, timeout=600)
    (found,) = out.rglob("results_*.json")
    return json.loads(found.read_text())["results"][task]


@pytest.mark.slow
@pytest.mark.parametrize(("arch", "task", "fewshot"), [
    ("t5", "cloze_local", None),  # T5 configs have no position limit: lm-eval takes the tokenizer's length
    ("gpt2", "cloze_local", 3),  # few-shot sampling follows lm-eval's default seeds 0/1234/1234/1234
])
def test_bridge_equals_the_lm_eval_cli_on_the_same_folder(arch, task, fewshot, tmp_path) -> None:
    """Before the fix: tiny T5 acc 0.675 (bridge, max_length 2048) vs 0.575 (CLI); 3-shot piqa 0.38 vs 0.36."""
    from leaderboard import models

    tok = tiny.word_tokenizer(WORDS + [str(i) for i in range(40)], arch, model_max_length=12)
    model = tiny.tiny_model(arch, vocab_size=len(tok), seed=3)
    folder = tmp_path / "model"
    models.save(model, tok, folder)
    root = _tasks(tmp_path / "tasks")
    want = _lm_eval_cli(folder, "seq2seq" if arch == "t5" else "causal", task, root, tmp_path / "cli", fewshot)
    lm = models.load(str(folder))
    (got,) = run_harness(lm.model, lm.tokenizer, lm.family, CPU, [task], include_path=root, include_defaults=False,
                         num_fewshot=fewshot, batch_size=8).results
    compared = [m for m in ("perplexity", "acc") if f"{m},none" in want]
    assert compared == ["perplexity", "acc"]
    for metric in compared:  # perplexity is continuous: any other truncation or other shots change it
        assert got.metrics[metric].value == pytest.approx(want[f"{metric},none"], rel=1e-9), metric
    assert got.config["max_length"] == (12 if arch == "t5" else model.config.n_positions)
    assert [got.config[k] for k in ("random_seed", "numpy_seed", "torch_seed", "fewshot_seed")] == [0, 1234, 1234, 1234]
    assert got.nonfinite == 0


def test_a_model_with_nan_loglikelihoods_is_never_right(tmp_path) -> None:
    """lm-eval's argmax over NaN picks the first choice: a NaN GPT-2 "answered" every doc whose gold is
    choice 0 (10 of 20 piqa-shaped docs) before the fix."""
    tok = tiny.word_tokenizer(WORDS + [str(i) for i in range(40)], "gpt2")
    model = tiny.tiny_model("gpt2", vocab_size=len(tok))
    with torch.no_grad():
        model.transformer.ln_f.weight[0] = float("nan")
    (r,) = run_harness(model, tok, "decoder", CPU, ["piqa_local"], include_path=_tasks(tmp_path),
                       include_defaults=False).results
    assert r.nonfinite == r.n == 20
    assert r.metrics["acc"].value == 0.0 and r.metrics["acc_norm"].value == 0.0


# --- which way is better: lm-eval's higher_is_better against the registry ---------------------------------


def test_lambada_perplexity_is_lower_is_better_from_lm_eval_to_the_store(tmp_path) -> None:
    """lm-eval's own LAMBADA task file (lambada_openai.yaml, included unchanged but for the data, which is local):
    lm-eval says perplexity is lower-is-better, the registry agrees, and the store keeps it so. Before, the
    store took every metric the registry did not know, perplexity among them, for higher-is-better."""
    import lm_eval

    from leaderboard.store import connect, ingest

    lambada = Path(lm_eval.__file__).parent / "tasks" / "lambada" / "lambada_openai.yaml"
    root = _tasks(tmp_path / "tasks")
    (root / "lambada_local.yaml").write_text(
        f"include: {lambada}\ntask: lambada_local\ndataset_path: json\ndataset_name: null\n"
        f"dataset_kwargs:\n  data_files:\n    test: {root / 'cloze.jsonl'}\n")
    tok = tiny.word_tokenizer(WORDS + [str(i) for i in range(40)], "gpt2")
    (r,) = run_harness(tiny.tiny_model("gpt2", vocab_size=len(tok)), tok, "decoder", CPU, ["lambada_local"],
                       include_path=root, include_defaults=False, limit=8).results
    assert set(r.metrics) == {"perplexity", "acc"} and r.metrics["perplexity"].value >= 1.0
    run = example("reproduced-baseline")
    run["schema_version"] = "1.1"
    run["model"].update(family="decoder", architecture="GPT2LMHeadModel")
    run["evaluation"] = {"task": "lm-eval:lambada_local", "data_sha256": include_sha256(root), "settings": {"limit": 8}}
    run["results"] = [r.model_dump(mode="json", exclude_none=True)]
    place(tmp_path / "runs", with_run_id(run))
    ingest(tmp_path / "runs", tmp_path / "lb.duckdb")
    con = connect(tmp_path / "lb.duckdb", read_only=True)
    try:
        got = dict(con.execute("SELECT metric, higher_is_better FROM results").fetchall())
    finally:
        con.close()
    assert got == {"perplexity": False, "acc": True}


def _lm_eval_result(metrics: dict, higher_is_better: dict) -> dict:
    return {"results": {"t": {f"{k},none": v for k, v in metrics.items()}}, "higher_is_better": {"t": higher_is_better},
            "n-samples": {"t": {"effective": 8}}}


def test_a_direction_lm_eval_and_the_registry_disagree_on_or_the_registry_lacks_is_refused() -> None:
    from leaderboard.evaluate.harness import results_to_task_results

    (r,) = results_to_task_results(_lm_eval_result({"perplexity": 3.5, "acc": 0.5}, {"perplexity": False, "acc": True}))
    assert set(r.metrics) == {"perplexity", "acc"}
    with pytest.raises(HarnessError, match="lm-eval:t: lm-eval says higher is better for metric 'perplexity', the "
                                           r"registry says lower is better \(src/leaderboard/registry.py, METRICS\)"):
        results_to_task_results(_lm_eval_result({"perplexity": 3.5}, {"perplexity": True}))
    with pytest.raises(HarnessError, match=r"lm-eval:t: metric 'rouge9' \(lm-eval: lower is better\) is not in the "
                                           "registry"):
        results_to_task_results(_lm_eval_result({"rouge9": 0.2}, {"rouge9": False}))


def test_an_lm_eval_metric_the_registry_lacks_is_one_line_from_the_cli_and_no_file(tmp_path, monkeypatch, capsys) -> None:
    from leaderboard import models, registry
    from leaderboard.cli import main

    tok = tiny.word_tokenizer(WORDS + [str(i) for i in range(40)], "gpt2")
    models.save(tiny.tiny_model("gpt2", vocab_size=len(tok)), tok, tmp_path / "model")
    monkeypatch.delitem(registry.METRICS, "acc")
    rc = main(["run", "--model", str(tmp_path / "model"), "--eval", "lm-eval:boolq_local", "--lm-eval-include",
               str(_tasks(tmp_path / "tasks")), "--limit", "4", "--no-progress", "--out", str(tmp_path / "runs")])
    err = capsys.readouterr().err
    assert rc == 1 and "Traceback" not in err
    assert "error: lm-eval:boolq_local: metric 'acc' (lm-eval: higher is better) is not in the registry" in err
    assert not list((tmp_path / "runs").rglob("*.json"))


def test_the_registry_agrees_with_lm_eval_on_every_metric_both_name() -> None:
    from lm_eval.api.registry import is_higher_better

    from leaderboard import registry

    both = [name for name in registry.METRICS if is_higher_better(name) is not None]
    assert {"perplexity", "acc", "acc_norm", "word_perplexity", "bits_per_byte"} <= set(both)
    assert {name: registry.METRICS[name].higher_is_better for name in both} == {name: is_higher_better(name) for name in both}
