"""LAMA probing on real LAMA rows: data layouts, every family's path, planted knowledge, the guards."""

from __future__ import annotations

import copy
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import transformers as T

from conftest import LAMA_DIR
from leaderboard import models, tiny
from leaderboard.compress.pipeline import compress
from leaderboard.evaluate.lama import ProbeError, Prober, ProbeSettings, candidate_ids, probe
from leaderboard.evaluate.lama_data import Fact, LamaDataError, load_corpus, load_vocab, packaged_root
from leaderboard.evaluate.lama_reference import reference_ranks
from leaderboard.evaluate.metrics import macro_metrics
from leaderboard.schema import decode_facts, make_step

CPU = torch.device("cpu")
DEMO = Path(__file__).resolve().parents[1] / "src" / "leaderboard" / "data" / "demo-model"
needs_lama = pytest.mark.skipif(not LAMA_DIR.is_dir(), reason="../shared/data/lama is not beside the checkout")


# --- data -----------------------------------------------------------------------------------------


@needs_lama
def test_shared_layout_reads_real_trex_google_re_and_squad() -> None:
    trex = load_corpus(LAMA_DIR, "trex")
    assert len(trex.facts) == 32421 and len(trex.relations) == 41
    p19 = [f for f in trex.facts if f.relation == "P19"]
    assert len(p19) == 944 and p19[0].text("[MASK]") == "Allan Peiper was born in [MASK] ."
    assert trex.relations["P19"]["type"] == "N-1"
    gre = load_corpus(LAMA_DIR, "google-re")
    assert {f.relation for f in gre.facts} == {"place_of_birth", "date_of_birth", "place_of_death"}
    assert len(gre.facts) == 2937 + 1825 + 766
    squad = load_corpus(LAMA_DIR, "squad")
    assert len(squad.facts) == 305 and "[MASK]" in squad.facts[0].sentence
    with pytest.raises(LamaDataError, match="no conceptnet data"):
        load_corpus(LAMA_DIR, "conceptnet")


@needs_lama
def test_official_data_zip_layout_gives_the_same_facts(tmp_path) -> None:
    """data.zip has TREx/, Google_RE/ (no templates: LAMA's code holds them), Squad/."""
    (tmp_path / "TREx").mkdir()
    shutil.copy(LAMA_DIR / "relations.jsonl", tmp_path / "relations.jsonl")
    shutil.copy(LAMA_DIR / "trex" / "P19.jsonl", tmp_path / "TREx" / "P19.jsonl")
    (tmp_path / "Google_RE").mkdir()
    shutil.copy(LAMA_DIR / "google_re" / "date_of_birth_test.jsonl", tmp_path / "Google_RE")
    official = load_corpus(tmp_path, "trex", relations=["P19"])
    ours = load_corpus(LAMA_DIR, "trex", relations=["P19"])
    assert official.facts == ours.facts and official.sha256 != ""
    dob = load_corpus(tmp_path, "google-re", relations=["date_of_birth"])
    assert dob.facts[0].template == "[X] (born [Y])." and dob.facts[0].obj.isdigit()


@needs_lama
def test_data_hash_covers_the_files_read() -> None:
    a = load_corpus(LAMA_DIR, "trex", relations=["P19"])
    b = load_corpus(LAMA_DIR, "trex", relations=["P19"], limit_per_relation=10)
    c = load_corpus(LAMA_DIR, "trex", relations=["P20"])
    assert a.sha256 == b.sha256 != c.sha256  # the limit is a setting, recorded beside the hash
    assert len(b.facts) == 10


def test_object_final_prefix() -> None:
    f = Fact("1", "P19", "Ann", "Paris", template="[X] was born in [Y] .")
    assert f.prefix() == "Ann was born in"
    assert Fact("2", "P27", "Ann", "France", template="[X] is [Y] citizen .").prefix() is None
    assert Fact("3", "squad", None, "gold", sentence="It was [MASK].").prefix() == "It was"


def test_packaged_sample_is_small_and_attributed() -> None:
    root = packaged_root()
    corpus = load_corpus(root, "trex")
    assert len(corpus.facts) <= 2000
    note = (root / "SOURCES.md").read_text()
    assert "CC BY-NC 4.0" in note and "Petroni et al. 2019" in note
    vocab, _ = load_vocab(root)
    assert len(vocab) == 21018


# --- every family's path on a hand-built case ------------------------------------------------------


def _teach(model, tok, family: str, texts_and_answers: list[tuple[str, str]], steps: int = 150) -> None:
    """Fit a tiny model on a few sentences until it answers them (a hand-built case with known answers)."""
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(steps):
        loss = 0
        for prompt, answer in texts_and_answers:
            target = tok.convert_tokens_to_ids(answer)
            if family == "decoder":
                ids = tok(prompt, return_tensors="pt")["input_ids"]
                logits = model(input_ids=ids).logits[0, -1]
            elif family == "encoder-decoder":
                ids = tok(prompt.replace("[Y]", "<extra_id_0>"), return_tensors="pt")["input_ids"]
                dec = torch.tensor([[0, tok.convert_tokens_to_ids("<extra_id_0>")]])
                logits = model(input_ids=ids, decoder_input_ids=dec).logits[0, 1]
            else:
                ids = tok(prompt.replace("[Y]", tok.mask_token), return_tensors="pt")["input_ids"]
                logits = model(input_ids=ids).logits[0, (ids[0] == tok.mask_token_id).nonzero()[0, 0]]
            loss = loss + torch.nn.functional.cross_entropy(logits[None], torch.tensor([target]))
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()


HAND = [("Ann", "Paris"), ("Bob", "Rome"), ("Cid", "Oslo"), ("Dee", "Lima")]


@pytest.mark.parametrize("arch", ["bert", "roberta", "t5", "gpt2", "llama"])
def test_each_family_ranks_a_hand_built_case(arch) -> None:
    family = tiny.FAMILY[arch]
    words = ["was", "born", "in", "."] + [w for pair in HAND for w in pair]
    tok = tiny.word_tokenizer(words, arch)
    model = tiny.tiny_model(arch, vocab_size=len(tok), seed=1)
    if family == "decoder":
        teach = [(f"{s} was born in", o) for s, o in HAND]
    else:
        teach = [(f"{s} was born in [Y] .", o) for s, o in HAND]
    _teach(model, tok, family, teach)
    facts = [Fact(s, "P19", s, o, template="[X] was born in [Y] .") for s, o in HAND]
    from leaderboard.evaluate.lama_data import Corpus

    corpus = Corpus("trex", facts, {"P19": {"label": "place of birth"}})
    out = probe(model, tok, family, CPU, corpus, ["Paris", "Rome", "Oslo", "Lima", "unknownword"],
                ProbeSettings(bootstrap=50))
    assert out.ranks == {"Ann": 1, "Bob": 1, "Cid": 1, "Dee": 1}
    assert out.result.metrics["precision@1"].value == 1.0
    # swap the gold objects: every fact is now wrong, and ranked second or worse
    wrong = Corpus("trex", [Fact(f.id, f.relation, f.subject, HAND[(i + 1) % 4][1], template=f.template)
                            for i, f in enumerate(facts)], corpus.relations)
    out2 = probe(model, tok, family, CPU, wrong, ["Paris", "Rome", "Oslo", "Lima"], ProbeSettings(bootstrap=50))
    assert all(r >= 2 for r in out2.ranks.values()) and out2.result.metrics["precision@1"].value == 0.0


WORDS = [f"w{i}" for i in range(30)]


def _constant_or_broken(kind: str):
    tok = tiny.word_tokenizer(["is", ".", *WORDS], "bert")
    model = tiny.tiny_model("bert", vocab_size=len(tok))
    with torch.no_grad():
        if kind == "constant":  # every logit equal
            model.cls.predictions.decoder.weight.zero_()
            model.cls.predictions.bias.zero_()
        else:  # one LayerNorm weight is NaN: every logit is NaN
            model.bert.embeddings.LayerNorm.weight[0] = float("nan")
    from leaderboard.evaluate.lama_data import Corpus

    facts = [Fact(str(i), "R", "w0", o, template="[X] is [Y] .") for i, o in enumerate(WORDS)]
    return probe(model, tok, "encoder", CPU, Corpus("trex", facts, {"R": {}}), WORDS, ProbeSettings(bootstrap=10))


def test_a_constant_model_knows_nothing() -> None:
    """Ties go against the gold object: with every logit equal, every gold ranks last (before the fix,
    the gold that came first among the candidates ranked 1 and P@1 was 1/30)."""
    out = _constant_or_broken("constant")
    assert set(out.ranks.values()) == {len(WORDS)}
    m = out.result.metrics
    assert m["precision@1"].value == 0.0 and m["precision@10"].value == 0.0
    assert out.result.nonfinite == 0


def test_a_model_with_nan_output_scores_nothing_and_is_flagged(tmp_path) -> None:
    """One NaN LayerNorm weight made every fact rank 1 (P@1 = P@10 = MRR = 1.000) before the fix."""
    out = _constant_or_broken("nan")
    assert set(out.ranks.values()) == {len(WORDS)}
    m = out.result.metrics
    assert m["precision@1"].value == 0.0 and m["precision@10"].value == 0.0
    assert m["mrr"].value == pytest.approx(1 / len(WORDS), abs=1e-6)
    assert out.result.nonfinite == out.result.n == len(WORDS)


def test_pessimistic_ranks_against_a_sort_based_reference() -> None:
    """Random score rows with planted ties and non-finite values: the vectorised rule equals ranking by a
    stable sort that puts the gold after its equals (and a broken row last)."""
    from leaderboard.evaluate.lama import pessimistic_ranks

    gen = torch.Generator().manual_seed(0)
    logits = torch.randint(0, 5, (200, 12), generator=gen).float()  # many ties
    logits[7, 3] = float("nan")
    logits[11, 0] = float("inf")
    logits[12, 5] = float("-inf")
    gold = torch.randint(0, 12, (200,), generator=gen)
    ranks, bad = pessimistic_ranks(logits, gold)
    for r in range(200):
        row, g = logits[r].tolist(), int(gold[r])
        if not all(np.isfinite(row)):
            assert bad[r] and ranks[r] == 12
            continue
        order = sorted(range(12), key=lambda j: (-row[j], j == g))  # the gold sorts after its equals
        assert not bad[r] and ranks[r] == order.index(g) + 1


# --- the guards -------------------------------------------------------------------------------------


@needs_lama
def test_objects_that_are_not_one_token_are_excluded_and_counted() -> None:
    corpus = load_corpus(LAMA_DIR, "trex", relations=["P19"], limit_per_relation=200)
    words = sorted({w for f in corpus.facts for w in f.text("x").split()} - {corpus.facts[0].obj})
    tok = tiny.word_tokenizer(words, "bert")  # the first fact's object is unknown to this tokenizer
    model = tiny.tiny_model("bert", vocab_size=len(tok))
    vocab, _ = load_vocab(LAMA_DIR)
    out = probe(model, tok, "encoder", CPU, corpus, vocab, ProbeSettings(bootstrap=10))
    missing = sum(f.obj == corpus.facts[0].obj for f in corpus.facts)
    assert corpus.facts[0].id not in out.ranks
    assert out.result.excluded >= missing and out.result.n + out.result.excluded == 200
    assert out.result.config["excluded_object_not_single_token"] >= missing


def test_cased_vocab_reloaded_as_lowercasing_tokenizer_scores_nothing(tmp_path) -> None:
    """transformers 5 re-reads do_lower_case on load: a cased vocab saved without do_lower_case=False
    maps every capitalised word to [UNK]. Such objects must be excluded, never 'predicted'."""
    vocab = {w: i for i, w in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "Paris", "Rome", "was", "born", "in", "."])}
    tok = T.BertTokenizerFast(vocab=vocab)  # do_lower_case defaults to True
    model = tiny.tiny_model("bert", vocab_size=len(vocab))
    models.save(model, tok, tmp_path / "m")
    loaded = models.load(str(tmp_path / "m"))
    assert loaded.tokenizer.tokenize("Paris") == ["[UNK]"]
    _, cand = candidate_ids(loaded.tokenizer, ["Paris", "Rome"])
    assert cand == []
    from leaderboard.evaluate.lama_data import Corpus

    corpus = Corpus("trex", [Fact("1", "P19", "Ann", "Paris", template="[X] was born in [Y] .")], {"P19": {}})
    with pytest.raises(ProbeError, match="no candidate is a single token"):
        probe(loaded.model, loaded.tokenizer, "encoder", CPU, corpus, ["Paris", "Rome"], ProbeSettings())


def test_bootstrap_macro_interval_contains_the_value() -> None:
    rng = np.random.default_rng(0)
    ranks = {"A": np.array([1, 1, 2, 5, 1]), "B": np.array([3, 1, 20])}
    m = macro_metrics(ranks, rng, 500)
    assert m["precision@1"].value == pytest.approx((3 / 5 + 1 / 3) / 2, abs=1e-6)
    assert m["precision@1-micro"].value == pytest.approx(4 / 8)
    assert m["mrr"].value == pytest.approx(((1 + 1 + 0.5 + 0.2 + 1) / 5 + (1 / 3 + 1 + 0.05) / 3) / 2, abs=1e-6)
    for mv in m.values():
        assert mv.ci.low <= mv.value <= mv.ci.high


# --- planted knowledge: the demo model trained on real T-REx facts -------------------------------


@pytest.fixture(scope="module")
def demo():
    lm = models.load(str(DEMO))
    corpus = load_corpus(packaged_root(), "trex")
    vocab, _ = load_vocab(packaged_root())
    return lm, corpus, vocab, copy.deepcopy(lm.model.state_dict())


def _p1(demo, steps) -> tuple[float, float, float, dict]:
    lm, corpus, vocab, state = demo
    model = copy.deepcopy(lm.model)
    model.load_state_dict(state)
    r = compress(model, steps, device=CPU)
    m = probe(model, lm.tokenizer, lm.family, CPU, corpus, vocab, ProbeSettings(bootstrap=300)).result.metrics["precision@1"]
    return m.value, m.ci.low, m.ci.high, r.sparsity


def test_demo_model_knows_its_facts_and_forgets_them_as_sparsity_grows(demo) -> None:
    base, *_ = _p1(demo, [])
    assert base > 0.9
    curve = []
    for s in (0.3, 0.5, 0.7, 0.8, 0.9):
        value, low, high, measured = _p1(demo, [make_step(method="prune", criterion="l1", granularity="global",
                                                          scope="all", sparsity=s)])
        assert measured["all"] == pytest.approx(s, abs=0.005)  # measured equals requested
        curve.append((s, value, low, high))
    for (_, v1, lo1, _hi1), (_, v2, _lo2, hi2) in zip(curve, curve[1:]):
        assert v2 <= v1 or v2 <= hi2 and v2 - v1 <= (v1 - lo1) + (hi2 - v2)  # monotone within the intervals
    assert curve[2][1] > 0.9  # 70 %: almost everything kept
    assert curve[-1][1] < base / 2  # 90 %: far below the baseline


def test_demo_model_dynamic_int8_within_two_points(demo) -> None:
    base, *_ = _p1(demo, [])
    q, *_ = _p1(demo, [make_step(method="quantize", scheme="dynamic-int8", scope="all")])
    assert abs(q - base) <= 0.02


def test_fast_path_ranks_equal_the_straightforward_loop(demo) -> None:
    lm, corpus, vocab, state = demo
    lm.model.load_state_dict(state)
    word_ids, cand = candidate_ids(lm.tokenizer, vocab)
    prober = Prober(lm.model, lm.tokenizer, "encoder", CPU)
    items, _ = prober.encode(corpus.facts[:300], word_ids, cand, "all", 128)
    fast = prober.rank(items, cand, batch_size=64)
    slow = reference_ranks(lm.model, lm.tokenizer, items, cand, batch_size=32, device=CPU)
    assert fast == slow


def test_run_file_fact_outcomes_decode_to_the_ranks(demo) -> None:
    lm, corpus, vocab, state = demo
    lm.model.load_state_dict(state)
    out = probe(lm.model, lm.tokenizer, lm.family, CPU, corpus, vocab, ProbeSettings(bootstrap=10))
    assert decode_facts(out.result.facts) == out.ranks
    assert sum(r.n for r in out.result.relations) == out.result.n == 1000
    assert json.loads(out.result.model_dump_json())["task"] == "lama:trex"


# --- real subword tokenizers: byte-level BPE (RoBERTa, GPT-2) and Metaspace (T5, ALBERT, Llama) ---------


def _bpe_tokenizer(sentences: list[str], arch: str):
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers

    if arch in ("roberta", "gpt2"):
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        alphabet = pre_tokenizers.ByteLevel.alphabet()
    else:  # SentencePiece-style: '▁' marks a word start
        tok = Tokenizer(models.BPE(unk_token="<unk>"))
        tok.pre_tokenizer = pre_tokenizers.Metaspace()
        tok.decoder = decoders.Metaspace()
        alphabet = []
    specials = {"roberta": ["<s>", "<pad>", "</s>", "<unk>", "<mask>"], "gpt2": ["<|endoftext|>"],
                "t5": ["<pad>", "</s>", "<unk>", "<extra_id_0>"]}[arch]
    trainer = trainers.BpeTrainer(vocab_size=600, special_tokens=specials, initial_alphabet=alphabet, min_frequency=1)
    tok.train_from_iterator(sentences * 20, trainer)
    if arch == "roberta":
        tok.add_special_tokens([AddedToken("<mask>", lstrip=True, special=True)])
        return T.PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>",
                                         unk_token="<unk>", mask_token="<mask>", model_max_length=64)
    if arch == "gpt2":
        return T.PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="<|endoftext|>",
                                         pad_token="<|endoftext|>", model_max_length=64)
    return T.PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>",
                                     additional_special_tokens=["<extra_id_0>"], model_max_length=64)


@pytest.mark.parametrize("arch", ["roberta", "gpt2", "t5"])
def test_subword_tokenizers_use_the_word_initial_token(arch) -> None:
    sentences = [f"{s} was born in {o} ." for s, o in HAND]
    tok = _bpe_tokenizer(sentences, arch)
    mapping, cand = candidate_ids(tok, ["Paris", "Rome", "Oslo", "Lima", "Zanzibarxyz"])
    marker = "Ġ" if arch in ("roberta", "gpt2") else "▁"
    assert tok.convert_ids_to_tokens(mapping["Paris"]) == marker + "Paris"
    assert "Zanzibarxyz" not in mapping  # several pieces: excluded, never scored
    if arch == "roberta":  # the mask takes the space before it, so the prediction is 'ĠParis'
        ids = tok.encode("Ann was born in <mask> .", add_special_tokens=False)
        assert ids[-2] == tok.mask_token_id and tok.convert_ids_to_tokens(ids[-3:])[::2] == ["Ġin", "Ġ."]
    family = tiny.FAMILY[arch]
    model = tiny.tiny_model(arch, vocab_size=len(tok), seed=3)
    answers = {o: tok.convert_ids_to_tokens(mapping[o]) for _, o in HAND}
    if family == "decoder":
        teach = [(f"{s} was born in", answers[o]) for s, o in HAND]
    else:
        teach = [(f"{s} was born in [Y] .", answers[o]) for s, o in HAND]
    _teach(model, tok, family, teach, steps=200)
    from leaderboard.evaluate.lama_data import Corpus

    facts = [Fact(s, "P19", s, o, template="[X] was born in [Y] .") for s, o in HAND]
    out = probe(model, tok, family, CPU, Corpus("trex", facts, {"P19": {}}), ["Paris", "Rome", "Oslo", "Lima"],
                ProbeSettings(bootstrap=20))
    assert out.ranks == {"Ann": 1, "Bob": 1, "Cid": 1, "Dee": 1}


@needs_lama
def test_unique_pairs_follow_lamas_own_dedup_on_the_shared_trex() -> None:
    """LAMA's run_evaluation.py keeps the first sample of each (sub_label, obj_label) for template corpora;
    the shared T-REx copy repeats 19 pairs. `pairs="all"` (the default) scores every row."""
    every = load_corpus(LAMA_DIR, "trex")
    unique = load_corpus(LAMA_DIR, "trex", pairs="unique")
    assert len(every.facts) - len(unique.facts) == 19
    for rel in {f.relation for f in every.facts}:  # LAMA's loop, relation by relation
        kept, seen = [], []
        for f in (f for f in every.facts if f.relation == rel):
            if (f.subject, f.obj) not in seen:
                seen.append((f.subject, f.obj))
                kept.append(f.id)
        assert kept == [f.id for f in unique.facts if f.relation == rel]
    with pytest.raises(LamaDataError, match="pairs"):
        load_corpus(LAMA_DIR, "trex", pairs="some")


# --- issue 20: `data fetch lama` never trusts a name, never reads an entry whole, never waits on a FIFO ----------


def _fetch_zip(tmp_path: Path, name: str, entries: list[tuple[str, bytes]]) -> Path:
    import zipfile

    path = tmp_path / name
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for entry, data in entries:
            z.writestr(entry or "\x7f", data)
    if any(entry == "" for entry, _ in entries):  # zipfile cannot write an empty name: the 1-byte name becomes extra
        import struct

        raw = bytearray(path.read_bytes())
        local = raw.find(b"\x7f") - 30
        central = raw.find(b"PK\x01\x02", local)
        while raw[central + 46:central + 47] != b"\x7f":
            central = raw.find(b"PK\x01\x02", central + 4)
        struct.pack_into("<HH", raw, local + 26, 0, 1)
        struct.pack_into("<HH", raw, central + 28, 0, 1)
        path.write_bytes(bytes(raw))
    return path


def _fetch(archive: Path, dest: Path):
    from leaderboard.evaluate.lama_fetch import fetch_lama

    return fetch_lama(archive.as_uri(), dest, progress=False, log=lambda *_: None)


def test_an_entry_name_cannot_forge_the_manifest_and_delete_a_users_file(tmp_path) -> None:
    from leaderboard.evaluate.lama_fetch import FetchError

    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "victim").write_text("the user's own file")
    forged = _fetch_zip(tmp_path, "a.zip", [("data/x\nentry victim", b"1"), ("data/relations.jsonl", b"{}\n")])
    with pytest.raises(FetchError, match="control or invisible character"):
        _fetch(forged, dest)
    second = _fetch_zip(tmp_path, "b.zip", [("data/victim", b"replaced"), ("data/relations.jsonl", b"{}\n")])
    with pytest.raises(FetchError, match=r"already holds victim \(not from an earlier fetch\)"):
        _fetch(second, dest)
    assert (dest / "victim").read_text() == "the user's own file"
    # the line manifest an older version wrote (here with the forged line in it) is never trusted
    (dest / "SOURCE.txt").write_text("file:///a.zip\nsha256 00\nLAMA\nentry x\nentry victim\n")
    with pytest.raises(FetchError, match="SOURCE.txt is the manifest of an older version, which is not trusted"):
        _fetch(second, dest)
    assert (dest / "victim").read_text() == "the user's own file"
    assert sorted(p.name for p in dest.iterdir()) == ["SOURCE.txt", "victim"]  # no staging folder left


def test_the_json_manifest_lets_a_second_fetch_replace_only_its_own_entries(tmp_path) -> None:
    dest = tmp_path / "dest"
    first = _fetch_zip(tmp_path, "a.zip", [("data/relations.jsonl", b"{}\n"), ("data/TREx/P19.jsonl", b"1\n")])
    _fetch(first, dest)
    manifest = json.loads((dest / "SOURCE.json").read_text())
    assert manifest["entries"] == ["TREx", "relations.jsonl"] and manifest["url"] == first.as_uri()
    second = _fetch_zip(tmp_path, "b.zip", [("data/relations.jsonl", b"[]\n"), ("data/TREx/P20.jsonl", b"2\n")])
    _fetch(second, dest)
    assert (dest / "relations.jsonl").read_bytes() == b"[]\n" and [p.name for p in (dest / "TREx").iterdir()] == ["P20.jsonl"]
    assert sorted(p.name for p in dest.iterdir()) == ["SOURCE.json", "TREx", "relations.jsonl"]


@pytest.mark.parametrize("name,data", [
    ("", b"x"), (".", b"x"), ("data/./a", b"x"), ("data//a", b"x"), ("data/a\tb", b"x"), ("data/a\u202eb", b"x"),
    ("data/SOURCE.txt/", b"a file named like a folder"), ("SOURCE.txt/", b"x"), ("data/SOURCE.json", b"{}"),
])
def test_archive_entries_with_unsafe_names_are_refused_and_nothing_is_changed(tmp_path, name, data) -> None:
    import warnings

    from leaderboard.evaluate.lama_fetch import FetchError

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        archive = _fetch_zip(tmp_path, "x.zip", [("data/relations.jsonl", b"{}\n"), (name, data)])
    dest = tmp_path / "dest"
    with pytest.raises(FetchError, match=r"unsafe path in archive|a name this fetch keeps for itself"):
        _fetch(archive, dest)
    assert not dest.exists()


def test_a_huge_entry_is_refused_without_being_read(tmp_path, monkeypatch) -> None:
    import struct

    from leaderboard.evaluate import lama_fetch
    from leaderboard.evaluate.lama_fetch import FetchError

    archive = _fetch_zip(tmp_path, "big.zip", [("data/relations.jsonl", b"{}\n")])
    raw = bytearray(archive.read_bytes())
    struct.pack_into("<I", raw, 22, 2_500_000_000)  # the local header's and the central directory's size: 2.5 GB
    struct.pack_into("<I", raw, raw.find(b"PK\x01\x02") + 24, 2_500_000_000)
    archive.write_bytes(bytes(raw))
    with pytest.raises(FetchError, match="unpacks to 2,500,000,000 bytes; refusing more than 1,073,741,824 per file"):
        _fetch(archive, tmp_path / "dest")
    # the cap holds while unpacking too (and hashing streams): here a 3 MiB entry under a 1 MiB cap
    monkeypatch.setattr(lama_fetch, "MAX_ENTRY", 1 << 20)
    big = _fetch_zip(tmp_path, "big2.zip", [("data/relations.jsonl", b"\0" * (3 << 20))])
    with pytest.raises(FetchError, match="refusing more than 1,048,576 per file"):
        _fetch(big, tmp_path / "dest")
    assert not (tmp_path / "dest").exists()


def test_a_file_url_that_is_a_fifo_or_a_device_is_refused_at_once(tmp_path) -> None:
    from conftest import run_limited

    fifo = tmp_path / "data.zip"
    os.mkfifo(fifo)
    for source, dataset in ((fifo.as_uri(), "lama"), ("file:///dev/zero", "lama"), (fifo.as_uri(), "bear")):
        res = run_limited("from leaderboard.cli import main; raise SystemExit(main(['data', 'fetch', "
                          f"{dataset!r}, '--url', {source!r}, '--dest', {str(tmp_path / 'd')!r}]))",
                          timeout=60, memory_bytes=1 << 30)
        assert res.returncode == 1 and "is not a regular file" in res.stderr, res.stderr
        assert "Traceback" not in res.stderr and not (tmp_path / "d").exists()
