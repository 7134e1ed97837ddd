"""The tokenizer of a GGUF checkpoint whose vocabulary is SentencePiece-BPE ("llama" tokenizer model), built right.

A GGUF file stores such a vocabulary as tokens with *scores* that are merge priorities (Gemma 3: score = -rank),
not log-probabilities. transformers 5's GGUF converter for Gemma builds a Unigram model from them, which
segments by the highest total score and so cuts common words apart ("▁Paris" -> "▁P", "ar", "is"): every
multi-character object of LAMA looked like several tokens and 99.6 % of the facts were excluded. llama.cpp
tokenizes these files with SentencePiece's BPE rule: start from characters (bytes for characters not in the
vocabulary), repeatedly merge the adjacent pair whose concatenation is in the vocabulary with the highest score.
That rule is exactly a BPE model whose merges are every (left, right) split of a vocabulary token, ordered by
the merged token's score; this module builds that model with the ``tokenizers`` library and puts it in place
of the Unigram one (normalizer, special tokens and decoder stay as transformers built them).
"""

from __future__ import annotations

import contextlib
from pathlib import Path

NORMAL, USER_DEFINED = 1, 4  # GGUF token types that are pieces of text (not control or byte tokens)


def spm_merges(tokens: list[str], scores: list[float], types: list[int]) -> list[tuple[str, str]]:
    """Every split (a, b) of a text token t = a + b with a and b in the vocabulary, highest score of t first
    (ties: lower token id first, then the shorter left piece)."""
    ids = {t: i for i, t in enumerate(tokens)}
    ranked = []
    for i, t in enumerate(tokens):
        if types[i] not in (NORMAL, USER_DEFINED) or len(t) < 2:
            continue
        for k in range(1, len(t)):
            a, b = t[:k], t[k:]
            if a in ids and b in ids:
                ranked.append((-scores[i], i, k, a, b))
    ranked.sort()
    return [(a, b) for *_, a, b in ranked]


def fix_tokenizer(tokenizer, gguf_path: Path) -> list[str]:
    """Make transformers' tokenizer of a GGUF file tokenize as llama.cpp does with that file: the SentencePiece-BPE
    rule (see above) and the file's own ``add_bos_token`` (Gemma's converted tokenizer drops its <bos>, and Gemma
    without <bos> is not the model that was trained). Returns what was changed."""
    from gguf import GGUFReader

    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return []
    reader = GGUFReader(str(gguf_path), "r")
    fixes = []
    if type(backend.model).__name__ == "Unigram" and _spm_bpe(backend, reader):
        fixes.append("SentencePiece-BPE merges")
    if _bos(tokenizer, backend, reader):
        fixes.append("<bos> first, as the file's add_bos_token says")
    return fixes


def _bos(tokenizer, backend, reader) -> bool:
    from tokenizers.processors import TemplateProcessing

    add = reader.fields.get("tokenizer.ggml.add_bos_token")
    bos = reader.fields.get("tokenizer.ggml.bos_token_id")
    if add is None or bos is None or not add.contents():
        return False
    bos_id = int(bos.contents())
    if tokenizer("a")["input_ids"][:1] == [bos_id] and getattr(tokenizer, "add_bos_token", True):
        return False
    # the tokenizer's own flag first: transformers rebuilds the post-processor from it whenever it is set, as
    # lm-pub-quiz does around every relation it scores (set, then restored); a <bos> put in the post-processor alone
    # was gone after the first BEAR evaluation of a process (tests/test_gguf_tokenizer.py)
    with contextlib.suppress(AttributeError, ValueError, TypeError):
        tokenizer.add_bos_token = True
    if tokenizer("a")["input_ids"][:1] == [bos_id]:
        return True
    token = tokenizer.convert_ids_to_tokens(bos_id)
    backend.post_processor = TemplateProcessing(single=f"{token} $A", pair=f"{token} $A $B:1",
                                                special_tokens=[(token, bos_id)])
    return tokenizer("a")["input_ids"][:1] == [bos_id]


def _spm_bpe(backend, reader) -> bool:
    from tokenizers import models

    def array(key, convert):  # the field's items straight from its parts (contents() is slow on 262k items)
        f = reader.fields.get(key)
        return [convert(f.parts[i]) for i in f.data] if f is not None else None

    model = reader.fields.get("tokenizer.ggml.model")
    if model is None or model.contents() != "llama":
        return False
    tokens = array("tokenizer.ggml.tokens", lambda a: bytes(a).decode("utf-8", errors="replace"))
    scores = array("tokenizer.ggml.scores", lambda a: float(a[0]))
    types = array("tokenizer.ggml.token_type", lambda a: int(a[0]))
    if not (tokens and scores and types) or not (len(tokens) == len(scores) == len(types)):
        return False
    by_id = {i: t for t, i in backend.get_vocab().items()}  # the converter's strings ("\t" for <0x09>, ...)
    pieces = [by_id.get(i, tokens[i]) for i in range(len(tokens))]
    vocab: dict[str, int] = {}
    for i, p in enumerate(pieces):
        vocab.setdefault(p, i)  # a string twice (a byte token and its character): the first id, as the converter
    unk_field = reader.fields.get("tokenizer.ggml.unknown_token_id")
    unk = unk_field.contents() if unk_field is not None else None
    backend.model = models.BPE(vocab=vocab, merges=spm_merges(pieces, scores, types),
                               unk_token=pieces[unk] if isinstance(unk, int) else None, byte_fallback=True,
                               fuse_unk=True, ignore_merges=False)
    return True
