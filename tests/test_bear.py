"""BEAR through lm-pub-quiz: parity with lm-pub-quiz's own evaluation, fail-safe outcomes, run files, fetch."""

from __future__ import annotations

import hashlib
import json
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import SHARED
from leaderboard.cli import main
from leaderboard.evaluate import bear
from leaderboard.schema import decode_facts
from leaderboard.tiny import tiny_model, word_tokenizer
from leaderboard.validate import check_file

BEAR_DIR = SHARED / "data" / "bear"
RELATIONS = ["P30", "P1412"]
needs_bear = pytest.mark.skipif(not (BEAR_DIR / "BEAR").is_dir(), reason="../shared/data/bear not present")


def _words(data: bear.BearData) -> list[str]:
    words: set[str] = set()
    for rel in data.dataset:
        for t in rel.templates:
            words.update(t.replace("[X]", " ").replace("[Y]", " ").replace(".", " . ").split())
        for a in rel.answer_space:
            words.update(str(a).split())
        for s in rel.instance_table.sub_label:
            words.update(str(s).split())
    return sorted(words)


@pytest.fixture(scope="module")
def data() -> bear.BearData:
    if not (BEAR_DIR / "BEAR").is_dir():
        pytest.skip("../shared/data/bear not present")
    return bear.load_bear(BEAR_DIR, "bear", relations=RELATIONS, limit=3)


def _model(arch: str, data: bear.BearData, seed: int = 0):
    tok = word_tokenizer(_words(data), arch)
    # a whitespace tokenizer would glue the final '.' to the answer: split it off like a real tokenizer
    from tokenizers import pre_tokenizers

    tok.backend_tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()])
    return tiny_model(arch, vocab_size=len(tok), seed=seed), tok


@needs_bear
def test_load_bear_real_data(data):
    assert data.task == "bear:bear" and data.relations == RELATIONS
    assert data.instances == 6
    assert data.domains["P30"] == ["Geographic"]
    # answer spaces stay whole when instances are limited (P36: 60 capitals)
    assert len(bear.load_bear(BEAR_DIR, "bear", relations=["P36"], limit=2).dataset["P36"].answer_space) == 60
    full = bear.load_bear(BEAR_DIR, "bear:lite")
    assert full.task == "bear:bear" and full.instances == 7731 and len(full.relations) == 60


@needs_bear
@pytest.mark.parametrize("arch,family", [("bert", "encoder"), ("gpt2", "decoder")])
def test_parity_with_lm_pub_quiz(data, arch, family):
    """Our accuracy, per relation and per template, equals lm-pub-quiz's own metrics on the same model."""
    model, tok = _model(arch, data)
    theirs = bear.run_lm_pub_quiz(model, tok, family, "cpu", data, batch_size=64)
    out = bear.summarise(theirs, data, family, bear.BearSettings(bootstrap=200))
    # no ties in a random model with a real vocabulary: lm-pub-quiz's argmax and our ranks agree exactly
    assert out.result.config["nonfinite_instances"] == 0
    overall = float(theirs.get_metrics("accuracy"))
    assert out.result.metrics["accuracy"].value == pytest.approx(overall, rel=1e-12, abs=1e-12)
    per_rel = theirs.get_metrics("accuracy", accumulate=False)
    for r in out.result.relations:
        assert r.metrics["accuracy"].value == pytest.approx(float(per_rel[r.relation]), rel=1e-12, abs=1e-12)
    table = theirs.joined_instance_table().reset_index()
    for t in range(3):
        rows = table[table.template_index == t]
        correct = [s.index(max(s)) == a for s, a in zip(rows.pll_scores, rows.answer_idx)]
        assert out.result.metrics[f"accuracy-template-{t}"].value == pytest.approx(np.mean(correct), abs=1e-12)
    # per-instance outcomes: rank 1 exactly where lm-pub-quiz's argmax is the answer
    ranks = decode_facts(out.result.facts)
    assert len(ranks) == out.result.n == 6 * 3
    for rec in table.itertuples():
        key = f"{rec.relation}:{rec.sub_id}:t{rec.template_index}"
        assert (ranks[key] == 1) == (rec.pll_scores.index(max(rec.pll_scores)) == rec.answer_idx)
    acc = out.result.metrics["accuracy"]
    assert acc.ci.low <= acc.value <= acc.ci.high
    assert set(out.result.metrics) >= {"accuracy-domain-geographic", "accuracy-domain-biographical"}


@needs_bear
def test_bear_bos_is_lm_pub_quiz_after_that_token(data):
    """--bear-bos X: the outcome equals lm-pub-quiz's own evaluation with a tokenizer whose BOS is X (what
    SmolLM2-Instruct needs: its BOS is the chat token <|im_start|>); the tokenizer is left as it was."""
    import copy

    from lm_pub_quiz import Evaluator

    model, tok = _model("gpt2", data)
    assert tok.bos_token == "<|endoftext|>"
    settings = bear.BearSettings(bootstrap=0, bos="<unk>")
    ours = bear.evaluate(model, tok, "decoder", "cpu", data, settings)
    assert tok.bos_token == "<|endoftext|>"  # restored
    assert ours.result.config["bos_token"] == "<unk>"
    assert settings.as_settings("decoder")["bos"] == "<unk>"
    assert "bos" not in bear.BearSettings().as_settings("decoder")  # unset: run_ids made before stay
    ref_tok = copy.deepcopy(tok)
    ref_tok.bos_token = "<unk>"
    ev = Evaluator.from_model(model=model, tokenizer=ref_tok, model_type="CLM", device="cpu")
    theirs = ev.evaluate_dataset(data.dataset, template_index=None, batch_size=64, reduction="sum",
                                 create_instance_table=True)
    assert ours.result.metrics["accuracy"].value == pytest.approx(float(theirs.get_metrics("accuracy")), abs=1e-12)
    # and the token matters: the statements' scores after <unk> differ from those after <|endoftext|>
    default = bear.run_lm_pub_quiz(model, tok, "decoder", "cpu", data, batch_size=64)
    after_unk = theirs.joined_instance_table().pll_scores.tolist()
    assert after_unk != default.joined_instance_table().pll_scores.tolist()
    with pytest.raises(bear.BearError, match="not a token"):
        bear.evaluate(model, tok, "decoder", "cpu", data, bear.BearSettings(bos="<|im_start|>"))
    enc, enc_tok = _model("bert", data)
    with pytest.raises(bear.BearError, match="decoders"):
        bear.run_lm_pub_quiz(enc, enc_tok, "encoder", "cpu", data, bos="[CLS]")


def test_chat_bos_notice():
    from leaderboard.tiny import word_tokenizer as wt

    tok = wt(["a"], "gpt2")
    assert bear.chat_bos_notice(tok, "decoder") is None  # no chat template
    tok.bos_token = "<|im_start|>"
    tok.chat_template = "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}{% endfor %}"
    assert "--bear-bos" in bear.chat_bos_notice(tok, "decoder")
    assert bear.chat_bos_notice(tok, "encoder") is None


def test_gold_rank_is_fail_safe():
    assert bear.gold_rank([0.0, -1.0, -2.0], 0) == (1, False)
    assert bear.gold_rank([-1.0, 0.0, -2.0], 0) == (2, False)
    assert bear.gold_rank([-1.0, -1.0, -1.0], 0) == (3, False)  # ties: the gold ranks last
    assert bear.gold_rank([float("nan"), -1.0, -2.0], 0) == (3, True)  # a NaN gold never wins
    assert bear.gold_rank([-1.0, float("nan"), float("-inf")], 0) == (1, True)  # NaN others rank last


@needs_bear
def test_nan_model_never_scores(data):
    """lm-pub-quiz's own accuracy counts a NaN model as right whenever the answer is option 0; ours is 0."""
    model, tok = _model("gpt2", data)
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(float("nan"))
    theirs = bear.run_lm_pub_quiz(model, tok, "decoder", "cpu", data, batch_size=64)
    out = bear.summarise(theirs, data, "decoder", bear.BearSettings(bootstrap=0))
    table = theirs.joined_instance_table()
    assert (table.answer_idx == 0).any() and float(theirs.get_metrics("accuracy")) > 0  # the trap is real
    assert out.result.metrics["accuracy"].value == 0.0
    assert out.result.config["nonfinite_instances"] == out.result.n
    sizes = {f"{rel}:{sub}:t{t}": len(s) for (rel, _i), sub, t, s in
             zip(table.index, table.sub_id, table.template_index, table.pll_scores)}
    assert decode_facts(out.result.facts) == sizes  # every true statement ranks last


@needs_bear
def test_constant_model_never_scores(data):
    model, tok = _model("gpt2", data)
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
    out = bear.evaluate(model, tok, "decoder", "cpu", data, bear.BearSettings(bootstrap=0, batch_size=64))
    assert out.result.metrics["accuracy"].value == 0.0


@needs_bear
def test_encoder_decoder_is_a_clear_error(data):
    model, tok = _model("t5", data)
    with pytest.raises(bear.BearError, match="not encoder-decoders|this model is an encoder-decoder"):
        bear.evaluate(model, tok, "encoder-decoder", "cpu", data, bear.BearSettings())


def test_unknown_task_and_missing_data(tmp_path):
    with pytest.raises(bear.BearError, match="bear:big"):
        bear.load_bear(tmp_path, "bear:huge")
    with pytest.raises(bear.BearError, match="data fetch bear"):
        bear.load_bear(tmp_path, "bear")


def test_run_cli_writes_a_valid_bear_run(tmp_path, capsys):
    """`leaderboard run --eval bear` on the bundled demo model and the packaged sample (4 relations)."""
    demo = Path(__file__).resolve().parents[1] / "src" / "leaderboard" / "data" / "demo-model"
    rc = main(["run", "--model", str(demo), "--eval", "bear", "--relations", "P30", "--out", str(tmp_path),
               "--device", "cpu", "--no-progress"])
    assert rc == 0, capsys.readouterr().err
    files = list(tmp_path.rglob("*.json"))
    assert len(files) == 1
    c = check_file(files[0])
    assert not [p for p in c.problems if p.severity == "error"], c.problems
    run = c.run
    assert run.evaluation.task == "bear:bear" and run.evaluation.settings["model_type"] == "MLM"
    assert run.results[0].n == 5 * 3 and run.measured.throughput_unit == "statements/s"
    assert run.provenance.libraries.get("lm_pub_quiz")
    assert "--eval bear:bear" in run.provenance.command


def test_run_cli_bear_bos_recorded_and_checked_before_compressing(tmp_path, capsys):
    decoder = Path(__file__).resolve().parents[1] / "src" / "leaderboard" / "data" / "demo-decoder"
    common = ["run", "--model", str(decoder), "--eval", "bear", "--relations", "P30", "--device", "cpu",
              "--no-progress"]
    assert main([*common, "--out", str(tmp_path / "a"), "--bear-bos", "<unk>"]) == 0, capsys.readouterr().err
    assert main([*common, "--out", str(tmp_path / "b")]) == 0, capsys.readouterr().err
    (a,), (b,) = list((tmp_path / "a").rglob("*.json")), list((tmp_path / "b").rglob("*.json"))
    ra, rb = check_file(a).run, check_file(b).run
    assert ra.evaluation.settings["bos"] == "<unk>" and "bos" not in rb.evaluation.settings
    assert ra.run_id != rb.run_id
    assert "--bear-bos '<unk>'" in ra.provenance.command and "--bear-bos" not in rb.provenance.command
    assert ra.results[0].config["bos_token"] == "<unk>" and rb.results[0].config["bos_token"] == "<|endoftext|>"
    capsys.readouterr()
    rc = main([*common, "--out", str(tmp_path / "c"), "--bear-bos", "<nope>", "--compress",
               "prune:criterion=l1,sparsity=0.3"])
    err = capsys.readouterr().err
    assert rc == 2 and "not a token" in err and "Traceback" not in err and "compress" not in err.lower()
    assert not (tmp_path / "c").exists() or not list((tmp_path / "c").rglob("*.json"))
    demo = decoder.parent / "demo-model"
    rc = main(["run", "--model", str(demo), "--eval", "bear", "--relations", "P30", "--device", "cpu",
               "--no-progress", "--out", str(tmp_path / "d"), "--bear-bos", "[CLS]"])
    err = capsys.readouterr().err
    assert rc == 2 and "decoders" in err


def test_run_cli_refuses_t5_for_bear(tmp_path, capsys):
    from leaderboard.tiny import word_tokenizer as wt

    model = tiny_model("t5", vocab_size=64)
    model.save_pretrained(tmp_path / "t5")
    wt(["a", "b"], "t5").save_pretrained(tmp_path / "t5")
    rc = main(["run", "--model", str(tmp_path / "t5"), "--eval", "bear", "--out", str(tmp_path / "runs"),
               "--device", "cpu", "--no-progress"])
    assert rc != 0
    err = capsys.readouterr().err
    assert "encoder-decoder" in err and "Traceback" not in err


# --- data fetch bear ----------------------------------------------------------------------------


def _archive(tmp_path: Path, tamper: str | None = None) -> Path:
    """A GitHub-style archive (BEAR-<commit>/...) built from the exact upstream bytes in ../shared,
    plus BEAR-big files made to match the manifest only where we have them."""
    man = bear_fetch_manifest()
    zpath = tmp_path / "bear.zip"
    top = f"BEAR-{man['commit']}"
    with zipfile.ZipFile(zpath, "w") as z:
        for rel in man["files"]:
            src = BEAR_DIR / rel
            if rel == "README.md":
                src = BEAR_DIR / "UPSTREAM-README.md"
            if not src.is_file():
                continue
            data = src.read_bytes()
            if rel == tamper:
                data += b"\n"
            z.writestr(f"{top}/{rel}", data)
    return zpath


def bear_fetch_manifest() -> dict:
    from leaderboard.evaluate.bear_fetch import manifest

    return manifest()


def _manifest_of_the_shared_copy(monkeypatch) -> None:
    """The fetch's manifest narrowed to the files ../shared/data/bear holds (its README as UPSTREAM-README.md), so an
    archive made from that copy is a complete, checked download."""
    from leaderboard.evaluate import bear_fetch

    man = bear_fetch_manifest()
    have = {rel: h for rel, h in man["files"].items()
            if (BEAR_DIR / ("UPSTREAM-README.md" if rel == "README.md" else rel)).is_file()}
    monkeypatch.setattr(bear_fetch, "manifest", lambda: {**man, "files": have})


@needs_bear
def test_fetch_bear_checks_every_file(tmp_path, capsys):
    man = bear_fetch_manifest()
    assert man["commit"] == "3818fdc029d335b603631255c135d2a87b0bd24d"
    # the manifest pins exactly the bytes of the shared copy (read from the same commit)
    for rel in ("BEAR/P19.jsonl", "BEAR/metadata_relations.json", "relation_info.json", "bear_lite_indices.json"):
        assert hashlib.sha256((BEAR_DIR / rel).read_bytes()).hexdigest() == man["files"][rel]
    # ../shared has no BEAR-big: an archive without it is refused, and nothing is installed
    zpath = _archive(tmp_path)
    dest = tmp_path / "dest"
    rc = main(["data", "fetch", "bear", "--url", zpath.as_uri(), "--dest", str(dest)])
    err = capsys.readouterr().err
    assert rc == 1 and "BEAR-big/" in err and "missing" in err and "nothing was installed" in err
    assert not dest.exists()


@needs_bear
def test_fetch_bear_installs_a_checked_archive(tmp_path, monkeypatch, capsys):
    _manifest_of_the_shared_copy(monkeypatch)
    dest = tmp_path / "dest"
    rc = main(["data", "fetch", "bear", "--url", _archive(tmp_path).as_uri(), "--dest", str(dest)])
    assert rc == 0, capsys.readouterr().err
    assert (dest / "BEAR" / "P19.jsonl").read_bytes() == (BEAR_DIR / "BEAR" / "P19.jsonl").read_bytes()
    assert bear.load_bear(dest, "bear").instances == 7731
    # one changed byte in one file: refused, the installed copy stays as it was
    (tmp_path / "t").mkdir()
    rc = main(["data", "fetch", "bear", "--url", _archive(tmp_path / "t", tamper="BEAR/P30.jsonl").as_uri(),
               "--dest", str(dest)])
    assert rc == 1 and "BEAR/P30.jsonl: sha256 differs" in capsys.readouterr().err
    assert (dest / "BEAR" / "P30.jsonl").read_bytes() == (BEAR_DIR / "BEAR" / "P30.jsonl").read_bytes()
    assert json.loads((dest / "relation_info.json").read_text())["P30"]["domains"] == ["Geographic"]


def test_demo_decoder_training_is_deterministic_here(tmp_path):
    """Same seed, same machine: the same bytes (a short run of the real recipe on the real facts). Across
    CPUs the floats may differ, so no test compares these bytes with the committed model's."""
    from leaderboard.demo_model import DecoderSpec, bear_statements, train_decoder

    lama = SHARED / "data" / "lama"
    if not lama.is_dir():
        pytest.skip("../shared/data/lama not present")
    torch.set_num_threads(2)
    spec = DecoderSpec(epochs=1, batch_size=256)
    a = train_decoder(lama, bear.packaged_root(), tmp_path / "a", spec, log=None)
    train_decoder(lama, bear.packaged_root(), tmp_path / "b", spec, log=None)
    assert (tmp_path / "a" / "model.safetensors").read_bytes() == (tmp_path / "b" / "model.safetensors").read_bytes()
    assert a["facts"] == 1000 and a["bear_statements"] == len(bear_statements(bear.packaged_root())) == 60
    committed = Path(__file__).resolve().parents[1] / "src" / "leaderboard" / "data" / "demo-decoder"
    assert (committed / "facts.jsonl").read_text() == (tmp_path / "a" / "facts.jsonl").read_text()


def test_interval_contains_an_unrounded_value():
    """A BEAR run once failed validation after its 40-minute evaluation: every instance knew one template of
    three, the bootstrap interval was [1/3, 1/3], both ends rounded to 0.333333 below the value 1/3."""
    from leaderboard.evaluate.metrics import enclosing

    rng = np.random.default_rng(0)
    mv = bear._accuracy(np.full(7, 1 / 3), rng, 200, 7, 21)
    assert mv.value == 1 / 3 and mv.ci.low <= mv.value <= mv.ci.high
    for value in (1 / 3, 2 / 3, 1 / 7, 0.1234565, 0.0, 1.0):
        low, high = enclosing(value, value, value)
        assert low <= value <= high and high - low <= 2e-6


@needs_bear
def test_fetch_bear_never_replaces_a_folder_it_did_not_install(tmp_path, monkeypatch, capsys):
    """Issue 20: fetch_bear deleted dest/BEAR whoever made it; now only what its JSON manifest lists is replaced."""
    _manifest_of_the_shared_copy(monkeypatch)
    dest = tmp_path / "dest"
    (dest / "BEAR").mkdir(parents=True)
    (dest / "BEAR" / "notes.txt").write_text("the user's own")
    rc = main(["data", "fetch", "bear", "--url", _archive(tmp_path).as_uri(), "--dest", str(dest)])
    err = capsys.readouterr().err
    assert rc == 1 and "already holds BEAR (not from an earlier fetch); nothing was changed" in err
    assert [p.name for p in dest.iterdir()] == ["BEAR"] and (dest / "BEAR" / "notes.txt").read_text() == "the user's own"
    (dest / "BEAR" / "notes.txt").unlink()
    (dest / "BEAR").rmdir()
    (tmp_path / "x").mkdir()
    assert main(["data", "fetch", "bear", "--url", _archive(tmp_path / "x").as_uri(), "--dest", str(dest)]) == 0
    assert main(["data", "fetch", "bear", "--url", _archive(tmp_path).as_uri(), "--dest", str(dest)]) == 0  # its own: replaced
    assert "BEAR" in json.loads((dest / "SOURCE.json").read_text())["entries"]


# --- a stopped evaluation resumes (evaluate/partial.py) ------------------------------------------------------------

RESUME_RELATIONS = ["P30", "P1412", "P36"]


@pytest.fixture(scope="module")
def three() -> bear.BearData:
    if not (BEAR_DIR / "BEAR").is_dir():
        pytest.skip("../shared/data/bear not present")
    return bear.load_bear(BEAR_DIR, "bear", relations=RESUME_RELATIONS, limit=3)


def _reference(model, tok, data: bear.BearData, settings: bear.BearSettings) -> bear.BearOutput:
    """What lm-pub-quiz's own evaluate_dataset gives on the decoder, summarised: an uninterrupted run's result."""
    return bear.summarise(bear.run_lm_pub_quiz(model, tok, "decoder", "cpu", data, batch_size=64), data, "decoder",
                          settings, bos_token=tok.bos_token)


def _same(a: bear.BearOutput, b: bear.BearOutput) -> None:
    """Two outputs of one evaluation are the same result (every metric, interval, relation and outcome)."""
    assert a.outcomes == b.outcomes
    assert a.result.model_dump() == b.result.model_dump()


def _stopped_after_one_relation(monkeypatch, evaluate) -> list[str]:
    """Run ``evaluate()`` and stop it (a KeyboardInterrupt inside lm-pub-quiz, as a killed job or a session's end would
    stop it) when it starts its second relation; the relations it scored."""
    from lm_pub_quiz import Evaluator

    scored: list[str] = []
    real = Evaluator.evaluate_relation

    def stop_after_one(self, relation, *a, **kw):
        if scored:
            raise KeyboardInterrupt
        scored.append(relation.relation_code)
        return real(self, relation, *a, **kw)

    monkeypatch.setattr(Evaluator, "evaluate_relation", stop_after_one)
    try:
        with pytest.raises(KeyboardInterrupt):
            evaluate()
    finally:
        monkeypatch.setattr(Evaluator, "evaluate_relation", real)
    return scored


@needs_bear
def test_a_stopped_bear_evaluation_resumes_to_the_uninterrupted_result(three, tmp_path, monkeypatch):
    """Stopped after its first relation (a KeyboardInterrupt inside lm-pub-quiz, as a killed job or a session's end
    would stop it), the same evaluation run again reads that relation back instead of scoring it and ends with the
    result of an uninterrupted run, which equals lm-pub-quiz's own evaluate_dataset; nothing is kept after."""
    monkeypatch.setenv("LEADERBOARD_PARTIAL_DIR", str(tmp_path / "partial"))
    model, tok = _model("gpt2", three)
    settings = bear.BearSettings(bootstrap=100, batch_size=64)
    reference = _reference(model, tok, three, settings)
    uninterrupted = bear.evaluate(model, tok, "decoder", "cpu", three, settings)
    _same(uninterrupted, reference)
    assert not any((tmp_path / "partial").rglob("*.json"))  # completed: nothing kept

    def run():
        return bear.evaluate(model, tok, "decoder", "cpu", three, settings)

    scored = _stopped_after_one_relation(monkeypatch, run)
    parts = sorted((tmp_path / "partial").rglob("part-*.json"))
    assert [p.name for p in parts] == ["part-P30.json"] and scored == ["P30"]

    # the kept relation is read, not scored again: make its true statements win (all but the statement set that
    # is scored again to check the kept scores: its first instance under template 0) and see them known
    doc = json.loads(parts[0].read_text())
    checked = (str(three.dataset["P30"].instance_table.iloc[0]["sub_id"]), 0)
    for row in doc["rows"]:
        if (row[0], row[1]) != checked:
            row[3] = [0.0 if i == row[2] else -1e9 for i in range(len(row[3]))]
    tampered = json.dumps(doc).encode()
    original = parts[0].read_bytes()
    parts[0].write_bytes(tampered)
    lines: list[str] = []
    monkeypatch.setattr(bear, "print", lambda line, file=None: lines.append(line), raising=False)
    monkeypatch.setattr("secrets.randbelow", lambda n: 0)  # the statement set checked: row 0, the one left as it was
    forced = bear.evaluate(model, tok, "decoder", "cpu", three, settings)
    # the resumed run's measured time holds the kept relation's (its throughput is not that of its last part)
    assert doc["seconds"] > 0 and forced.seconds >= doc["seconds"]
    forced_ranks = {k: v for k, v in forced.outcomes.items() if k.startswith("P30:")}
    assert len(forced_ranks) == 9
    assert all(rank == 1 for k, rank in forced_ranks.items() if k != f"P30:{checked[0]}:t0")
    assert sum(rank == 1 for k, rank in reference.outcomes.items() if k.startswith("P30:")) < 9  # not so before
    assert any("resumed 1 of 3 relations" in line for line in lines), lines

    # the statement set checked is drawn at random: where it is an edited one, the edited part is not used at all
    _stopped_after_one_relation(monkeypatch, run)
    parts[0].write_bytes(tampered)
    monkeypatch.setattr("secrets.randbelow", lambda n: n - 1)
    lines.clear()
    _same(bear.evaluate(model, tok, "decoder", "cpu", three, settings), reference)
    assert any("scores differently now" in line for line in lines), lines
    monkeypatch.setattr("secrets.randbelow", lambda n: 0)

    # scores that the model no longer gives on the checked statement set are not used at all
    _stopped_after_one_relation(monkeypatch, run)
    doc = json.loads(original)
    doc["rows"] = [[*r[:3], [x - 0.5 for x in r[3]]] if (r[0], r[1]) == checked else r for r in doc["rows"]]
    parts[0].write_text(json.dumps(doc))
    lines.clear()
    _same(bear.evaluate(model, tok, "decoder", "cpu", three, settings), reference)
    assert any("scores differently now (largest difference 0.5)" in line for line in lines), lines
    assert not any("resumed" in line for line in lines), lines

    # as kept (untouched), the resumed result is the uninterrupted one
    _stopped_after_one_relation(monkeypatch, run)
    again = json.loads(parts[0].read_text())
    assert {**again, "seconds": 0} == {**json.loads(original), "seconds": 0}  # scored again the same scores
    lines.clear()
    _same(bear.evaluate(model, tok, "decoder", "cpu", three, settings), reference)
    assert any("resumed 1 of 3 relations" in line for line in lines), lines
    assert not any((tmp_path / "partial").rglob("part-*.json"))


@needs_bear
@pytest.mark.parametrize("damage", ["truncated", "extra field", "other key", "other relation", "NaN literal", "1e400",
                                    "a huge integer", "rows reordered", "row missing", "options short", "answer moved",
                                    "a link", "not JSON", "a folder", "a claim by pid 1", "an empty claim"])
def test_a_damaged_kept_relation_is_scored_again(three, tmp_path, monkeypatch, damage):
    """A kept relation that does not read back exactly as written, or does not fit the data's instances, is never
    used: it is scored again (with a note) and the result is the uninterrupted one."""
    monkeypatch.setenv("LEADERBOARD_PARTIAL_DIR", str(tmp_path / "partial"))
    model, tok = _model("gpt2", three)
    settings = bear.BearSettings(bootstrap=0, batch_size=64)
    reference = _reference(model, tok, three, settings)
    _stopped_after_one_relation(monkeypatch, lambda: bear.evaluate(model, tok, "decoder", "cpu", three, settings))
    part = next((tmp_path / "partial").rglob("part-P30.json"))
    doc = json.loads(part.read_text())
    text = part.read_text()
    if damage == "truncated":
        part.write_text(text[: len(text) // 2])
    elif damage == "extra field":
        part.write_text(json.dumps({**doc, "code": "import os"}))
    elif damage == "other key":
        part.write_text(json.dumps({**doc, "key": "0" * 64}))
    elif damage == "other relation":
        part.write_text(json.dumps({**doc, "part": "P1412"}))
    elif damage == "NaN literal":  # the writer writes a non-finite score as null, never NaN
        doc["rows"][0][3][0] = float("nan")
        part.write_text(json.dumps(doc))
    elif damage == "1e400":  # JSON's reader makes it inf
        part.write_text(text.replace(json.dumps(doc["rows"][0][3][0]), "1e400", 1))
    elif damage == "a huge integer":
        part.write_text(text.replace(json.dumps(doc["rows"][0][3][0]), str(10**400), 1))
    elif damage == "rows reordered":  # the bootstrap resamples instances in their order: a CI would change
        part.write_text(json.dumps({**doc, "rows": doc["rows"][::-1]}))
    elif damage == "a claim by pid 1":  # not a part: the relation's claim; a bogus claim never holds it up
        (part.parent / "claim-P1412.json").write_text(json.dumps({"pid": 1, "host": __import__("socket").gethostname()}))
    elif damage == "an empty claim":
        (part.parent / "claim-P1412.json").write_text("")
    elif damage == "row missing":
        part.write_text(json.dumps({**doc, "rows": doc["rows"][1:]}))
    elif damage == "options short":
        part.write_text(json.dumps({**doc, "rows": [[*r[:3], r[3][:-1]] for r in doc["rows"]]}))
    elif damage == "answer moved":
        part.write_text(json.dumps({**doc, "rows": [[*r[:2], r[2] + 1, r[3]] for r in doc["rows"]]}))
    elif damage == "a link":
        target = tmp_path / "elsewhere.json"
        target.write_text(text)
        part.unlink()
        part.symlink_to(target)
    elif damage == "not JSON":
        part.write_bytes(b"\xff\xfe" + b"\x00" * 100)
    elif damage == "a folder":
        part.unlink()
        part.mkdir()
    lines: list[str] = []
    monkeypatch.setattr(bear, "print", lambda line, file=None: lines.append(line), raising=False)
    _same(bear.evaluate(model, tok, "decoder", "cpu", three, settings), reference)
    assert not any("waiting" in line for line in lines), lines
    if "claim" in damage:  # the kept part is fine: read; the bogus claim was taken over, not waited for
        assert any("resumed 1 of 3 relations" in line for line in lines), lines
        return
    if damage != "a folder":
        assert any("scored again" in line for line in lines), lines
    assert not any("resumed" in line for line in lines), lines


@needs_bear
def test_another_model_or_setting_never_reads_kept_scores(three, tmp_path, monkeypatch):
    """Kept scores are named by everything they depend on: another model (one weight one step away), another batch
    size or BOS, or switching resumption off, scores from the start."""
    from leaderboard.evaluate import partial

    monkeypatch.setenv("LEADERBOARD_PARTIAL_DIR", str(tmp_path / "partial"))
    model, tok = _model("gpt2", three)
    key = bear.partial_key(model, tok, "decoder", "cpu", three, 64, None)
    assert key == bear.partial_key(model, tok, "decoder", "cpu", three, 64, None)
    other, _ = _model("gpt2", three)
    with torch.no_grad():
        w = next(other.parameters())
        w.view(-1)[0] = torch.nextafter(w.view(-1)[0], torch.tensor(float("inf")))
    # an evaluation leaves the tokenizer's backend padded (a call's padding stays set): the same tokenizer still
    bear.evaluate(model, tok, "decoder", "cpu", three, bear.BearSettings(bootstrap=0, batch_size=64, resume=False))
    assert tok.backend_tokenizer.padding is not None
    assert bear.partial_key(model, tok, "decoder", "cpu", three, 64, None) == key
    digests = {partial.open_partial(k).digest for k in (
        key, bear.partial_key(other, tok, "decoder", "cpu", three, 64, None),
        bear.partial_key(model, tok, "decoder", "cpu", three, 32, None),
        bear.partial_key(model, tok, "decoder", "cpu", three, 64, "<unk>"),
        bear.partial_key(model, tok, "decoder", "cpu", bear.load_bear(BEAR_DIR, "bear", relations=RESUME_RELATIONS,
                                                                       limit=2), 64, None))}
    assert len(digests) == 5
    monkeypatch.setenv("LEADERBOARD_PARTIAL_DIR", "off")
    assert partial.open_partial(key).folder is None


def test_model_fingerprint_reads_every_weight():
    """The fingerprint changes with any weight; quantized (int8) modules are read by their integer values and scales;
    a tensor whose bytes are not its storage (a subclass) gives no fingerprint, so nothing is kept."""
    from leaderboard.evaluate.partial import model_fingerprint

    model = tiny_model("gpt2", vocab_size=50, seed=0)
    same = tiny_model("gpt2", vocab_size=50, seed=0)
    assert model_fingerprint(model) == model_fingerprint(same)
    with torch.no_grad():
        same.lm_head.weight.view(-1)[-1] += 1e-3
    assert model_fingerprint(model) != model_fingerprint(same)
    from leaderboard.compress.pipeline import compress
    from leaderboard.schema import make_step

    float_llama = tiny_model("llama", vocab_size=50, seed=0)
    int8 = tiny_model("llama", vocab_size=50, seed=0)
    compress(int8, [make_step(method="quantize", scheme="dynamic-int8", scope="all")], device=torch.device("cpu"))
    assert any(type(v) is not torch.Tensor for v in int8.state_dict().values())  # torchao's Int8Tensor
    fp = model_fingerprint(int8)
    assert fp is not None and fp != model_fingerprint(float_llama)
    again = tiny_model("llama", vocab_size=50, seed=0)
    compress(again, [make_step(method="quantize", scheme="dynamic-int8", scope="all")], device=torch.device("cpu"))
    assert model_fingerprint(again) == fp
    other = tiny_model("llama", vocab_size=50, seed=1)
    compress(other, [make_step(method="quantize", scheme="dynamic-int8", scope="all")], device=torch.device("cpu"))
    assert model_fingerprint(other) not in (None, fp)
    # the int8 values themselves are read: one step in one of them changes the fingerprint
    sub = next(v for v in again.state_dict().values() if type(v) is not torch.Tensor)
    inner = getattr(sub, sub.__tensor_flatten__()[0][0])
    with torch.no_grad():
        inner.view(-1)[0] += 1
    assert model_fingerprint(again) not in (None, fp)

    class Odd(torch.Tensor):
        pass

    holder = torch.nn.Module()
    holder.register_buffer("w", torch.zeros(3).as_subclass(Odd))
    assert model_fingerprint(holder) is None


def _live_claim(folder: Path, name: str, proc) -> None:
    import socket

    from leaderboard.evaluate import partial

    folder.mkdir(parents=True, exist_ok=True)
    claim = partial.Claim(pid=proc.pid, host=socket.gethostname(), start=partial._process_start(proc.pid))
    (folder / name).write_text(claim.model_dump_json())


@needs_bear
@pytest.mark.timeout(300)  # a process that waits forever fails, not hangs
def test_two_processes_of_one_evaluation_share_its_relations(three, tmp_path, monkeypatch):
    """A relation another live process of the same evaluation claimed is left to it: this process scores the others,
    then waits for that one's scores and reads them (checked as any kept relation); the result is the uninterrupted
    one and lm-pub-quiz scored that relation only in the other process."""
    import subprocess
    import threading

    from lm_pub_quiz import Evaluator

    from leaderboard.evaluate import partial

    monkeypatch.setenv("LEADERBOARD_PARTIAL_DIR", str(tmp_path / "partial"))
    monkeypatch.setattr(partial, "POLL_SECONDS", 0.1)
    model, tok = _model("gpt2", three)
    settings = bear.BearSettings(bootstrap=100, batch_size=64)
    reference = _reference(model, tok, three, settings)
    other_code = list(three.dataset)[1].relation_code
    theirs = bear.ScoredRelation.of(Evaluator.from_model(model=model, tokenizer=tok, model_type="CLM", device="cpu")
                                    .evaluate_relation(three.dataset[other_code], template_index=None, batch_size=64,
                                                       reduction="sum", create_instance_table=True)).rows
    store = partial.open_partial(bear.partial_key(model, tok, "decoder", "cpu", three, 64, None))
    other = subprocess.Popen(["sleep", "120"])
    try:
        _live_claim(store.folder, f"claim-{other_code}.json", other)
        lines: list[str] = []
        monkeypatch.setattr(bear, "print", lambda line, file=None: lines.append(line), raising=False)

        def the_other_process_finishes():  # what the other process does once it has scored its relation
            deadline = time.monotonic() + 120
            while not any("waiting for 1 relation(s)" in line for line in lines) and time.monotonic() < deadline:
                time.sleep(0.05)
            partial.Partial(store.folder, store.key, store.digest).save(other_code, theirs, 12.5)

        helper = threading.Thread(target=the_other_process_finishes, daemon=True)
        helper.start()
        here: list[str] = []
        real = Evaluator.evaluate_relation
        monkeypatch.setattr(Evaluator, "evaluate_relation",
                            lambda self, rel, *a, **kw: here.append(rel.relation_code) or real(self, rel, *a, **kw))
        out = bear.evaluate(model, tok, "decoder", "cpu", three, settings)
        helper.join(timeout=5)
    finally:
        other.kill()
        other.wait()
    _same(out, reference)
    assert other_code not in here and sorted(here) == sorted(set(RESUME_RELATIONS) - {other_code})
    assert out.seconds >= 12.5  # the other process's time on its relation is the run's too
    assert any("pid" in line and str(other.pid) in line for line in lines), lines


@needs_bear
@pytest.mark.parametrize("reaped", [True, False])
def test_a_claim_whose_process_stopped_is_taken_over(three, tmp_path, monkeypatch, reaped):
    """A claim left by a process that no longer runs (killed with its job; or exited and not yet reaped by its parent,
    a zombie) holds nothing up: the relation is scored here, and the result is the uninterrupted one."""
    import subprocess

    from leaderboard.evaluate import partial

    monkeypatch.setenv("LEADERBOARD_PARTIAL_DIR", str(tmp_path / "partial"))
    model, tok = _model("gpt2", three)
    settings = bear.BearSettings(bootstrap=0, batch_size=64)
    reference = _reference(model, tok, three, settings)
    store = partial.open_partial(bear.partial_key(model, tok, "decoder", "cpu", three, 64, None))
    gone = subprocess.Popen(["true"])
    if reaped:
        gone.wait()
    else:
        time.sleep(0.5)  # exited; its parent (this process) has not waited for it
        assert Path(f"/proc/{gone.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    _live_claim(store.folder, "claim-P30.json", gone)
    lines: list[str] = []
    monkeypatch.setattr(bear, "print", lambda line, file=None: lines.append(line), raising=False)
    _same(bear.evaluate(model, tok, "decoder", "cpu", three, settings), reference)
    assert not any("waiting" in line for line in lines), lines
    assert not store.folder.exists()
    gone.wait()


@needs_bear
def test_kept_scores_stay_while_another_process_reads_them(three, tmp_path, monkeypatch):
    """The first process to complete an evaluation leaves the kept parts while another live process of it runs (that
    one reads them and removes the folder when it completes)."""
    import subprocess

    from leaderboard.evaluate import partial

    monkeypatch.setenv("LEADERBOARD_PARTIAL_DIR", str(tmp_path / "partial"))
    model, tok = _model("gpt2", three)
    settings = bear.BearSettings(bootstrap=0, batch_size=64)
    store = partial.open_partial(bear.partial_key(model, tok, "decoder", "cpu", three, 64, None))
    reader = subprocess.Popen(["sleep", "120"])
    try:
        _live_claim(store.folder, "reader-other.json", reader)
        first = bear.evaluate(model, tok, "decoder", "cpu", three, settings)
        assert sorted(p.name for p in store.folder.glob("part-*.json")) == sorted(
            f"part-{c}.json" for c in RESUME_RELATIONS)
    finally:
        reader.kill()
        reader.wait()
    lines: list[str] = []
    monkeypatch.setattr(bear, "print", lambda line, file=None: lines.append(line), raising=False)
    _same(bear.evaluate(model, tok, "decoder", "cpu", three, settings), first)  # read back, then removed
    assert any("resumed 3 of 3 relations" in line for line in lines), lines
    assert not store.folder.exists()
