"""`leaderboard run` end to end on the bundled demo model; specs fail early; data fetch; hub path."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest

from conftest import LAMA_DIR
from leaderboard import models, tiny
from leaderboard.cli import main
from leaderboard.evaluate.lama_data import load_corpus
from leaderboard.evaluate.lama_fetch import FetchError, fetch_lama, safe_extract
from leaderboard.runner import SpecError, check, make_spec, spec_from_yaml
from leaderboard.schema import RunFile
from leaderboard.validate import validate_paths

DEMO = Path(__file__).resolve().parents[1] / "src" / "leaderboard" / "data" / "demo-model"


def test_run_writes_a_valid_run_file_with_provenance(tmp_path, capsys) -> None:
    out = tmp_path / "runs"
    args = ["run", "--model", str(DEMO), "--eval", "lama:trex", "--out", str(out), "--no-progress",
            "--compress", "prune:criterion=l1,sparsity=0.5,scope=attention", "--compress", "quantize:scheme=dynamic-int8"]
    assert main(args) == 0
    files = list(out.rglob("*.json"))
    assert len(files) == 1
    assert validate_paths([out]).errors == []
    run = RunFile.model_validate_json(files[0].read_text())
    assert files[0].relative_to(out).as_posix() == f"encoder/compression-leaderboard--demo-bert-trex/{run.run_id}.json"
    assert run.model.toy and run.model.revision.startswith("sha256:") and run.model.family == "encoder"
    assert [s.method for s in run.compression] == ["prune", "quantize"]
    assert run.measured.sparsity["attention"] == pytest.approx(0.5, abs=0.001)
    assert run.measured.bits_per_weight < 32 and run.measured.throughput > 0
    p = run.provenance
    assert p.batch_size == 64 and p.dtype == "float32" and p.device == "cpu" and "torch" in p.libraries
    assert p.command == ("leaderboard run --model builtin:demo-model --eval lama:trex "
                         "--compress prune:criterion=l1,scope=attention,granularity=global,sparsity=0.5 "
                         "--compress quantize:scheme=dynamic-int8,scope=all --lama-dir builtin:lama-sample")
    assert run.evaluation.settings["candidates"] == "lama-common-vocab" and run.evaluation.data_sha256
    assert run.results[0].n == 1000 and run.results[0].facts.count == 1000
    line = capsys.readouterr().out
    assert ("compression-leaderboard/demo-bert-trex | global magnitude (L1) pruning 50% of attention → "
            "dynamic int8 quantization of all | lama:trex: P@1 0.9") in line
    assert not list(out.rglob("*.tmp"))  # atomic write leaves no temp file
    # the same spec again: detected, not rewritten
    before = files[0].stat().st_mtime_ns
    assert main(args) == 0
    assert "exists (same spec); left as it is" in capsys.readouterr().out
    assert files[0].stat().st_mtime_ns == before


def test_yaml_spec(tmp_path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"""
model: {DEMO}
eval: lama:trex
limit: 20
compress:
  - {{method: prune, criterion: n:m, n: 2, m: 4, sparsity: 0.5, scope: ffn}}
  - quantize:scheme=bnb-int8,scope=ffn
out: {tmp_path / 'runs'}
""")
    assert main(["run", "--spec", str(spec), "--no-progress"]) == 0
    run = RunFile.model_validate_json(next((tmp_path / "runs").rglob("*.json")).read_text())
    assert run.compression[0].criterion == "n:m" and run.compression[0].granularity == "local"
    assert run.evaluation.settings["limit"] == 20 and run.results[0].n <= 20 * 9


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"compression": ["prune:criterion=l1,sparsity=1.5"]}, "sparsity: Input should be less than or equal to 1"),
        ({"compression": ["prune:criterion=magic,sparsity=0.5"]}, "does not match any of the expected tags: 'l1', 'random'"),
        ({"compression": ["prune:criterion=l1,sparsity=0.5,scope=*.layer.9.*"]}, "scope '*.layer.9.*' matches no layer of this bert model"),
        ({"compression": ["quantize:scheme=bnb-nf4", "prune:criterion=l1,sparsity=0.5"]}, "pruning after quantization is not supported"),
        ({"evals": ["lama:wiki"]}, "--eval 'lama:wiki': lama has no task 'wiki' (known: lama:trex, lama:google-re"),
        ({"evals": ["capitals:city"]}, "--eval 'capitals:city': no evaluation suite runs it; use lama:trex"),
        ({"evals": ["lm-eval:boolq"]}, "lm-eval scores decoders and encoder-decoders; this model is an encoder"),
        ({"evals": ["lama:conceptnet"]}, "no conceptnet data"),
        ({"model": "org/not-here"}, "is not a local directory or GGUF file; pass --allow-hub"),
        ({"candidates": "everything"}, "candidates: 'everything' is not one of"),
    ],
)
def test_bad_specs_fail_before_any_weight_is_loaded(tmp_path, kwargs, message) -> None:
    broken = tmp_path / "model"
    shutil.copytree(DEMO, broken)
    (broken / "model.safetensors").write_bytes(b"not weights")  # loading would fail differently
    with pytest.raises(SpecError) as err:
        check(make_spec("t", **{"model": str(broken), "evals": ["lama:trex"], **kwargs}))
    assert message in str(err.value)


def test_cli_bad_spec_exit_code(capsys) -> None:
    assert main(["run", "--model", str(DEMO), "--eval", "lama:trex", "--compress", "prune:criterion=l1,sparsity=2"]) == 2
    assert capsys.readouterr().err.startswith("error: --compress 'prune:criterion=l1,sparsity=2': sparsity:")


def test_spec_yaml_rejects_unknown_fields(tmp_path) -> None:
    p = tmp_path / "s.yaml"
    p.write_text("model: x\neval: lama:trex\nsparsity: 0.5\n")
    with pytest.raises(SpecError, match="unknown field"):
        spec_from_yaml(p)


# --- hub path, tested with a local source -------------------------------------------------------


def test_hub_ids_load_through_the_hub_code_path_from_a_local_cache(tmp_path, monkeypatch) -> None:
    tok = tiny.word_tokenizer(["Paris", "is", "in", "France", "."], "bert")
    snapshot = tmp_path / "hub" / "models--someorg--tiny-bert" / "snapshots" / ("a" * 40)
    models.save(tiny.tiny_model("bert", vocab_size=len(tok)), tok, snapshot)
    (tmp_path / "hub" / "models--someorg--tiny-bert" / "refs").mkdir()
    (tmp_path / "hub" / "models--someorg--tiny-bert" / "refs" / "main").write_text("a" * 40)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(models.ModelLoadError, match="pass --allow-hub"):
        models.load("someorg/tiny-bert", cache_dir=tmp_path / "hub")
    lm = models.load("someorg/tiny-bert", allow_hub=True, cache_dir=tmp_path / "hub")
    assert lm.model_id == "someorg/tiny-bert" and lm.revision == "a" * 40 and lm.family == "encoder"


# --- data fetch -----------------------------------------------------------------------------------


def _lama_zip(tmp_path: Path) -> Path:
    archive = tmp_path / "data.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(LAMA_DIR / "relations.jsonl", "data/relations.jsonl")
        z.write(LAMA_DIR / "trex" / "P19.jsonl", "data/TREx/P19.jsonl")
        z.write(LAMA_DIR / "squad" / "test.jsonl", "data/Squad/test.jsonl")
    return archive


def test_data_fetch_from_a_local_url(tmp_path) -> None:
    import hashlib

    archive = _lama_zip(tmp_path)
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    dest = fetch_lama(archive.as_uri(), tmp_path / "lama", sha256=digest, progress=False, log=lambda *_: None)
    corpus = load_corpus(dest, "trex", relations=["P19"])
    assert len(corpus.facts) == 944
    assert len(load_corpus(dest, "squad").facts) == 305
    assert json.loads((dest / "SOURCE.json").read_text())["sha256"] == digest


def test_data_fetch_refuses_a_wrong_hash_and_unsafe_archives(tmp_path) -> None:
    archive = _lama_zip(tmp_path)
    with pytest.raises(FetchError, match="sha256 mismatch"):
        fetch_lama(archive.as_uri(), tmp_path / "lama", sha256="0" * 64, progress=False, log=lambda *_: None)
    assert not (tmp_path / "lama").exists()
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as z:
        z.writestr("../../escape.txt", "x")
    with pytest.raises(FetchError, match="unsafe path"):
        safe_extract(evil, tmp_path / "out")
    assert not (tmp_path.parent / "escape.txt").exists()
    assert main(["data", "fetch", "lama", "--url", (tmp_path / "missing.zip").as_uri(), "--dest", str(tmp_path / "d")]) == 1


def test_run_on_google_re_and_squad_with_real_data(tmp_path) -> None:
    """The demo model never saw these facts: it scores near zero, and most objects are excluded (not in its vocab)."""
    assert main(["run", "--model", str(DEMO), "--eval", "lama:google-re", "--eval", "lama:squad", "--lama-dir",
                 str(LAMA_DIR), "--out", str(tmp_path), "--no-progress", "--no-facts"]) == 0
    runs = [json.loads(p.read_text()) for p in tmp_path.rglob("*.json")]
    assert sorted(r["evaluation"]["task"] for r in runs) == ["lama:google-re", "lama:squad"]
    for r in runs:
        assert r["results"][0]["excluded"] > 0 and "facts" not in r["results"][0]
    assert validate_paths([tmp_path]).errors == []


def test_run_with_an_lm_eval_task_on_a_decoder(tmp_path, capsys) -> None:
    from test_harness import WORDS, _tasks

    tok = tiny.word_tokenizer(WORDS + [str(i) for i in range(40)], "gpt2")
    models.save(tiny.tiny_model("gpt2", vocab_size=len(tok)), tok, tmp_path / "tiny-gpt2")
    tasks = _tasks(tmp_path / "tasks")
    args = ["run", "--model", str(tmp_path / "tiny-gpt2"), "--eval", "lm-eval:boolq_local", "--lm-eval-include", str(tasks),
            "--compress", "quantize:scheme=dynamic-int8", "--limit", "20", "--out", str(tmp_path / "runs"), "--no-progress"]
    assert main(args) == 0
    run = RunFile.model_validate_json(next((tmp_path / "runs").rglob("*.json")).read_text())
    assert run.model.family == "decoder" and run.evaluation.task == "lm-eval:boolq_local"
    assert run.evaluation.settings == {"num_fewshot": None, "limit": 20, "tasks_from": "local",
                                       "seeds": "0,1234,1234,1234"}
    assert run.results[0].n == 20 and "acc" in run.results[0].metrics and run.measured.throughput_unit == "examples/s"
    assert validate_paths([tmp_path / "runs"]).errors == []
    assert "lm-eval:boolq_local: Accuracy" in capsys.readouterr().out
    assert main(args) == 0  # the same spec again: found before the model is loaded
    assert "exists (same spec)" in capsys.readouterr().out
    assert main([*args[:4], "lm-eval:nope", *args[5:]]) == 2
    assert "no such task" in capsys.readouterr().err
