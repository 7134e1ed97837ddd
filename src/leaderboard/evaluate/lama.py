"""LAMA fact probing for every family, on the same facts and the same candidate set.

- encoders: the template with [X] filled and [Y] -> the tokenizer's mask token; rank at the mask;
- encoder-decoders (T5): [Y] -> the first sentinel; rank the first token the decoder writes after it;
- decoders: facts whose object ends the sentence; rank the next token after the prefix.

Objects that are not one token of the model's vocabulary (or not in the candidate set) are excluded
and counted, never scored. Only the gathered positions go through the LM head: the head module is
swapped for a capture during the forward pass, then applied to one hidden state per fact. Batches are
length-bucketed and padded dynamically. Scoring is fail-safe: ties rank the gold object after every
candidate that scores the same (a model that outputs a constant ranks every gold last, so P@1 = P@10 = 0),
and a fact with any non-finite score (NaN, ±inf) ranks last and is counted in ``TaskResult.nonfinite``.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from ..compress.scopes import lm_head_name
from ..schema import RelationResult, TaskResult, encode_facts
from .lama_data import TEMPLATE_CORPORA, Corpus, Fact
from .metrics import BOOTSTRAP, macro_metrics, micro_metrics

CANDIDATE_SETS = ("lama-common-vocab", "model-vocab")
SUBSETS = ("all", "object-final")
T5_SENTINEL = "<extra_id_0>"


class ProbeError(ValueError):
    pass


@dataclass
class ProbeSettings:
    corpus: str = "trex"
    candidates: str = "lama-common-vocab"
    subset: str = "all"  # decoders always use "object-final"
    relations: list[str] | None = None
    limit: int | None = None  # facts per relation
    batch_size: int = 64
    max_length: int = 128
    bootstrap: int = BOOTSTRAP
    seed: int = 0
    keep_facts: bool = True
    pairs: str = "all"  # "all": every row; "unique": each (subject, object) of a template corpus once, as LAMA

    def effective_subset(self, family: str) -> str:
        return "object-final" if family == "decoder" else self.subset

    def as_settings(self, family: str) -> dict:
        """What changes what is measured (it enters the run_id). Batch size does not: it is provenance."""
        out = {"candidates": self.candidates, "subset": self.effective_subset(family),
               "relations": ",".join(self.relations) if self.relations else None, "limit": self.limit,
               "max_length": self.max_length}
        if self.pairs == "unique" and self.corpus in TEMPLATE_CORPORA:
            out["pairs"] = "unique"  # absent: every row was scored
        return out


@dataclass
class Encoded:
    fact: Fact
    input_ids: list[int]
    position: int  # where the object is predicted (in the encoder input, or the decoder for T5)
    gold: int  # index of the object in the candidate list


@dataclass
class ProbeOutput:
    result: TaskResult
    ranks: dict[str, int] = field(default_factory=dict)  # fact id -> rank
    seconds: float = 0.0

    @property
    def throughput(self) -> float:
        return self.result.n / self.seconds if self.seconds else 0.0


# --- tokens -------------------------------------------------------------------------------------


def _space_sensitive(tok) -> bool:
    """Byte-level BPE marks a leading space ('Ġx'); WordPiece and SentencePiece do not distinguish."""
    return tok.encode(" a", add_special_tokens=False) != tok.encode("a", add_special_tokens=False)


def single_token_id(tok, word: str, space_sensitive: bool) -> int | None:
    """The one token id of ``word`` as it appears after a space, or None (several tokens, or unknown)."""
    ids = tok.encode(" " + word if space_sensitive else word, add_special_tokens=False)
    if len(ids) != 1 or (tok.unk_token_id is not None and ids[0] == tok.unk_token_id):
        return None
    return ids[0]


def candidate_ids(tok, words: list[str] | None) -> tuple[dict[str, int], list[int]]:
    """Map words to token ids (single-token words only) and the unique candidate ids, in vocab order."""
    sensitive = _space_sensitive(tok)
    if words is None:  # the whole model vocabulary but special tokens
        special = set(tok.all_special_ids)
        ids = sorted(i for i in set(tok.get_vocab().values()) if i not in special)
        return {}, ids
    mapping = {}
    for w in words:
        i = single_token_id(tok, w, sensitive)
        if i is not None:
            mapping[w] = i
    return mapping, sorted(set(mapping.values()))


# --- ranking -------------------------------------------------------------------------------------


def pessimistic_ranks(logits: torch.Tensor, gold: torch.Tensor,
                      arange_c: torch.Tensor | None = None) -> tuple[list[int], list[bool]]:
    """Rank of each row's gold candidate (1 = best), fail-safe: every other candidate that scores the
    same as the gold counts as ahead of it (a constant model ranks every gold last), and a row with any
    non-finite score (NaN, ±inf: a broken model) ranks its gold last and is flagged. Returns the ranks
    and the flags."""
    n_cand = logits.shape[1]
    if arange_c is None:
        arange_c = torch.arange(n_cand, device=logits.device)
    gold_logit = logits.gather(1, gold[:, None])
    ahead = (logits >= gold_logit) & (arange_c[None, :] != gold[:, None])
    bad = ~torch.isfinite(logits).all(dim=1)
    ranks = torch.where(bad, torch.full_like(gold, n_cand), 1 + ahead.sum(1))
    return ranks.tolist(), bad.tolist()


# --- the probe ----------------------------------------------------------------------------------


class _Capture(nn.Module):
    """Stands in for the LM head: keeps its input, returns a dummy of width 1."""

    hidden: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.hidden = x
        return x.new_zeros((*x.shape[:-1], 1))


@contextlib.contextmanager
def captured_head(model: nn.Module) -> Iterator[tuple[_Capture, nn.Module]]:
    name = lm_head_name(model)
    if name is None:
        raise ProbeError(f"{type(model).__name__} has no output embeddings (LM head)")
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    head = getattr(parent, child)
    cap = _Capture()
    setattr(parent, child, cap)
    try:
        yield cap, head
    finally:
        setattr(parent, child, head)


class Prober:
    def __init__(self, model: nn.Module, tokenizer, family: str, device: torch.device):
        self.model, self.tok, self.family, self.device = model, tokenizer, family, torch.device(device)
        if family == "encoder" and tokenizer.mask_token_id is None:
            raise ProbeError("this tokenizer has no mask token; a masked LM needs one")
        if family == "encoder-decoder":
            sid = tokenizer.convert_tokens_to_ids(T5_SENTINEL)
            if sid is None or sid == tokenizer.unk_token_id:
                raise ProbeError(f"this tokenizer has no {T5_SENTINEL} sentinel")
            self.sentinel_id = sid
            start = getattr(model.config, "decoder_start_token_id", None)
            self.decoder_start = start if start is not None else tokenizer.pad_token_id
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        self.nonfinite = set()

    # -- encoding
    def _text(self, fact: Fact) -> str | None:
        if self.family == "encoder":
            return fact.text(self.tok.mask_token)
        if self.family == "encoder-decoder":
            return fact.text(T5_SENTINEL)
        return fact.prefix()

    def encode(self, facts: list[Fact], gold_ids: dict[str, int], cand: list[int], subset: str,
               max_length: int) -> tuple[list[Encoded], Counter]:
        excluded: Counter = Counter()
        index_of = {c: i for i, c in enumerate(cand)}
        keep: list[tuple[Fact, str, int]] = []
        for f in facts:
            gid = gold_ids.get(f.obj)
            if gid is None:
                excluded["object_not_single_token"] += 1
                continue
            if gid not in index_of:
                excluded["object_not_candidate"] += 1
                continue
            if subset == "object-final" and f.prefix() is None:
                excluded["object_not_final"] += 1
                continue
            text = self._text(f)
            if not text:
                excluded["object_not_final"] += 1
                continue
            keep.append((f, text, index_of[gid]))
        if not keep:
            return [], excluded
        enc = self.tok([t for _, t, _ in keep], add_special_tokens=True, truncation=True, max_length=max_length)
        out = []
        for (f, _t, gold), ids in zip(keep, enc["input_ids"]):
            if self.family == "encoder":
                where = [i for i, t in enumerate(ids) if t == self.tok.mask_token_id]
                if len(where) != 1:
                    excluded["mask_not_found"] += 1
                    continue
                pos = where[0]
            elif self.family == "encoder-decoder":
                if ids.count(self.sentinel_id) != 1:
                    excluded["mask_not_found"] += 1
                    continue
                pos = 1  # decoder input: [start, sentinel] -> predict the token after the sentinel
            else:
                pos = len(ids) - 1
            out.append(Encoded(f, ids, pos, gold))
        return out, excluded

    # -- scoring
    def _batches(self, items: list[Encoded], batch_size: int) -> Iterator[list[Encoded]]:
        order = sorted(range(len(items)), key=lambda i: len(items[i].input_ids))
        for start in range(0, len(order), batch_size):
            yield [items[i] for i in order[start : start + batch_size]]

    nonfinite: set[str]  # facts whose candidate scores were not all finite (ranked last)

    @torch.inference_mode()
    def rank(self, items: list[Encoded], cand: list[int], batch_size: int, progress: bool = False) -> dict[str, int]:
        cand_t = torch.tensor(cand, device=self.device)
        arange_c = torch.arange(len(cand), device=self.device)
        ranks: dict[str, int] = {}
        batches = list(self._batches(items, batch_size))
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(items), unit="fact", desc="probing", leave=False)
        with captured_head(self.model) as (cap, head):
            for batch in batches:
                width = max(len(e.input_ids) for e in batch)
                ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
                att = torch.zeros((len(batch), width), dtype=torch.long)
                for r, e in enumerate(batch):
                    ids[r, : len(e.input_ids)] = torch.tensor(e.input_ids)
                    att[r, : len(e.input_ids)] = 1
                ids, att = ids.to(self.device), att.to(self.device)
                kwargs = {"input_ids": ids, "attention_mask": att}
                if self.family == "encoder-decoder":
                    dec = torch.tensor([[self.decoder_start, self.sentinel_id]] * len(batch), device=self.device)
                    kwargs.update(decoder_input_ids=dec, use_cache=False)
                elif self.family == "decoder":
                    kwargs["use_cache"] = False
                self.model(**kwargs)
                hidden = cap.hidden
                pos = torch.tensor([e.position for e in batch], device=self.device)
                chosen = hidden[torch.arange(len(batch), device=self.device), pos]
                logits = head(chosen).float()[:, cand_t]
                gold = torch.tensor([e.gold for e in batch], device=self.device)
                for e, r, bad in zip(batch, *pessimistic_ranks(logits, gold, arange_c)):
                    ranks[e.fact.id] = r
                    if bad:
                        self.nonfinite.add(e.fact.id)
                if bar is not None:
                    bar.update(len(batch))
        if bar is not None:
            bar.close()
        return ranks


def probe(model: nn.Module, tokenizer, family: str, device: torch.device, corpus: Corpus,
          vocab: list[str] | None, settings: ProbeSettings, progress: bool = False) -> ProbeOutput:
    """Probe ``corpus`` and build the run file's TaskResult (metrics, per relation, per fact)."""
    t0 = time.perf_counter()
    prober = Prober(model, tokenizer, family, device)
    words = vocab if settings.candidates == "lama-common-vocab" else None
    word_ids, cand = candidate_ids(tokenizer, words)
    sensitive = _space_sensitive(tokenizer)
    gold_ids = dict(word_ids)
    for f in corpus.facts:  # objects outside the candidate words still need an id to be told apart
        if f.obj not in gold_ids:
            i = single_token_id(tokenizer, f.obj, sensitive)
            if i is not None:
                gold_ids[f.obj] = i
    if not cand:
        raise ProbeError("no candidate is a single token of this tokenizer (is do_lower_case or the vocabulary wrong?)")
    subset = settings.effective_subset(family)
    max_length = min(settings.max_length, getattr(tokenizer, "model_max_length", settings.max_length))
    positions = getattr(getattr(model, "config", None), "max_position_embeddings", None)
    if positions:
        max_length = min(max_length, positions)
    items, excluded = prober.encode(corpus.facts, gold_ids, cand, subset, max_length)
    ranks = prober.rank(items, cand, settings.batch_size, progress) if items else {}
    seconds = time.perf_counter() - t0

    rng = np.random.default_rng(settings.seed)
    by_rel: dict[str, list[int]] = {}
    excluded_by_rel: Counter = Counter()
    scored = set(ranks)
    for f in corpus.facts:
        if f.id in scored:
            by_rel.setdefault(f.relation, []).append(ranks[f.id])
        else:
            excluded_by_rel[f.relation] += 1
    arrays = {r: np.array(v) for r, v in by_rel.items()}
    relations = [
        RelationResult(relation=r, n=len(arrays[r]), excluded=excluded_by_rel[r],
                       metrics=micro_metrics(arrays[r], rng, settings.bootstrap))
        for r in corpus.relations
        if r in arrays
    ]
    metrics = macro_metrics(arrays, rng, settings.bootstrap) if arrays else {}
    if not metrics:
        raise ProbeError(f"no fact of {corpus.name} could be scored: {dict(excluded)}")
    n = sum(len(v) for v in arrays.values())
    nonfinite = len(prober.nonfinite & scored)
    config = {f"excluded_{k}": v for k, v in sorted(excluded.items())}
    config.update(candidates_in_vocab=len(cand), relations_scored=len(arrays))
    result = TaskResult(
        task=f"lama:{corpus.name}", n=n, excluded=sum(excluded.values()), metrics=metrics,
        relations=relations,
        facts=encode_facts(sorted(ranks.items())) if settings.keep_facts and ranks else None,
        config=config, nonfinite=nonfinite,
    )
    return ProbeOutput(result, ranks, seconds)
