"""SentencePiece-BPE vocabularies of GGUF files tokenize as llama.cpp tokenizes them.

The reference is llama.cpp's rule written out plainly (llm_tokenizer_spm): start from the characters, repeatedly
merge the adjacent pair whose concatenation is a vocabulary token with the highest score (leftmost on a tie),
fall back to byte tokens for characters the vocabulary lacks. transformers' own conversion (a Unigram model over
the same scores) is the thing that was wrong; it must disagree with the reference on the same vocabulary, or the
test proves nothing.
"""

from __future__ import annotations

import random
from pathlib import Path

import gguf
import pytest
import transformers as T
from tokenizers import Tokenizer, models, normalizers

from leaderboard.gguf_tokenizer import fix_tokenizer

WORDS = ["Paris", "France", "capital", "London", "Berlin", "born", "was", "in", "of", "the", "is", "Einstein"]


def _vocab() -> tuple[list[str], list[float], list[int]]:
    """A Gemma-like vocabulary: specials, byte tokens, characters, and every prefix of '▁word' and 'word',
    scored -rank with whole words ranked before their pieces' rarer combinations (as BPE training leaves them)."""
    tokens = ["<pad>", "<eos>", "<bos>", "<unk>"] + [f"<0x{b:02X}>" for b in range(256)]
    types = [3, 3, 3, 3] + [6] * 256
    pieces: list[str] = []
    for w in WORDS:
        for text in ("▁" + w, w):
            for k in range(1, len(text) + 1):
                if text[:k] not in pieces:
                    pieces.append(text[:k])
            for k in range(1, len(text)):  # suffixes too: a Unigram model can then cut words apart
                if text[k:] not in pieces:
                    pieces.append(text[k:])
    singles = sorted({c for p in pieces for c in p})
    ordered = sorted(set(pieces) - set(singles), key=lambda p: (len(p), p)) + singles
    scores = [-1000.0] * len(tokens) + [-(i + 1.0) for i in range(len(ordered))]
    return tokens + ordered, scores, types + [1] * len(ordered)


def reference_spm(text: str, tokens: list[str], scores: list[float]) -> list[str]:
    ids = {t: i for i, t in enumerate(tokens)}
    syms = list(text.replace(" ", "▁"))
    while True:
        best = None
        for i in range(len(syms) - 1):
            merged = syms[i] + syms[i + 1]
            if merged in ids and (best is None or scores[ids[merged]] > scores[ids[best[1]]]):
                best = (i, merged)
        if best is None:
            break
        i, merged = best
        syms[i: i + 2] = [merged]
    out = []
    for s in syms:
        out += [s] if s in ids else [f"<0x{b:02X}>" for b in s.encode()]
    return out


def _gemma_like(tmp_path: Path) -> tuple[T.PreTrainedTokenizerFast, Path, list[str], list[float]]:
    tokens, scores, types = _vocab()
    path = tmp_path / "vocab.gguf"
    w = gguf.GGUFWriter(str(path), "gemma3")
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_bos_token_id(2)
    w.add_unk_token_id(3)
    w.add_add_bos_token(True)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    # what transformers' GGUFGemmaConverter builds from these fields: a Unigram model over the scores
    tok = Tokenizer(models.Unigram([(t, s) for t, s in zip(tokens, scores)], unk_id=3, byte_fallback=True))
    tok.normalizer = normalizers.Replace(" ", "▁")
    fast = T.PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<bos>", eos_token="<eos>", unk_token="<unk>",
                                     pad_token="<pad>")
    return fast, path, tokens, scores


def test_spm_bpe_tokenizes_as_llama_cpp_and_unigram_did_not(tmp_path):
    tok, path, tokens, scores = _gemma_like(tmp_path)
    rng = random.Random(0)
    texts = ["The capital of France is Paris", "Einstein was born in Ulm", " Berlin", "naïve London"] + [
        " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 6))) for _ in range(200)]
    before = [tok.convert_ids_to_tokens(tok(t, add_special_tokens=False)["input_ids"]) for t in texts]
    assert sum(b != reference_spm(t, tokens, scores) for b, t in zip(before, texts)) > 50  # the Unigram bug is real
    assert fix_tokenizer(tok, path) == ["SentencePiece-BPE merges", "<bos> first, as the file's add_bos_token says"]
    for t in texts:
        assert tok.convert_ids_to_tokens(tok(t, add_special_tokens=False)["input_ids"]) == reference_spm(t, tokens, scores), t
    assert tok("Paris is")["input_ids"][0] == 2  # the file's add_bos_token


GEMMA = Path.home() / ".cache" / "compression-leaderboard" / "models" / "gemma-3-270m-q4_k_m" / "gemma-3-270m-q4_k_m.gguf"


@pytest.mark.skipif(not GEMMA.is_file(), reason="the Gemma 3 GGUF is not fetched here (leaderboard data fetch model "
                    "gemma-3-270m-q4_k_m)")
def test_the_real_gemma_vocabulary_tokenizes_as_llama_cpp(tmp_path):
    from gguf import GGUFReader

    tok = T.AutoTokenizer.from_pretrained(GEMMA.parent, gguf_file=GEMMA.name)
    fix_tokenizer(tok, GEMMA)
    r = GGUFReader(str(GEMMA), "r")
    f_tok, f_sc = r.fields["tokenizer.ggml.tokens"], r.fields["tokenizer.ggml.scores"]
    tokens = [bytes(f_tok.parts[i]).decode("utf-8", errors="replace") for i in f_tok.data]
    scores = [float(f_sc.parts[i][0]) for i in f_sc.data]
    for text in ["The capital of France is Paris", "Albert Einstein was born in Ulm", "Ottawa is located in Canada"]:
        got = tok.convert_ids_to_tokens(tok(text, add_special_tokens=False)["input_ids"])
        assert got == reference_spm(text, tokens, scores), text
    assert tok.convert_ids_to_tokens(tok("Paris")["input_ids"])[:1] == ["<bos>"]


def _as_lm_pub_quiz_scores(tok) -> None:
    """What lm-pub-quiz's CausalLMEvaluator does around every relation it scores: add_bos_token set, then restored."""
    old = tok.add_bos_token
    tok.add_bos_token = True
    tok.add_bos_token = old


@pytest.mark.parametrize("real", [False, True])
def test_the_files_bos_survives_an_evaluation_and_the_tokenizers_fingerprint_does_not_change(tmp_path, real):
    """The <bos> the file's add_bos_token asks for is the tokenizer's own add_bos_token: transformers rebuilds the
    post-processor whenever that flag is set (lm-pub-quiz sets and restores it around each relation), and a <bos>
    put in the post-processor alone was gone after the first BEAR evaluation of a process. A later evaluation in the
    same process then scored Gemma without <bos>, and its kept BEAR parts were keyed by another tokenizer fingerprint
    than a fresh process's (the RTN run's 55 kept relations were not resumed)."""
    from leaderboard.evaluate.partial import tokenizer_fingerprint

    if real:
        if not GEMMA.is_file():
            pytest.skip("the Gemma 3 GGUF is not fetched here (leaderboard data fetch model gemma-3-270m-q4_k_m)")
        tok, path = T.AutoTokenizer.from_pretrained(GEMMA.parent, gguf_file=GEMMA.name), GEMMA
    else:
        tok, path, _tokens, _scores = _gemma_like(tmp_path)
    fix_tokenizer(tok, path)
    before = (tok("Paris is")["input_ids"], tokenizer_fingerprint(tok))
    assert before[0][0] == 2 or tok.convert_ids_to_tokens(before[0])[0] == "<bos>"
    _as_lm_pub_quiz_scores(tok)
    assert (tok("Paris is")["input_ids"], tokenizer_fingerprint(tok)) == before
