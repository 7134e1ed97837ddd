"""The straightforward LAMA loop, kept as a yardstick: it pads every sentence to 128 tokens (or the model's maximum), computes
full-vocabulary logits at every position, and ranks each fact on its own in Python.

It exists to check the fast path (identical ranks) and to measure it (benchmarks/lama_throughput.py).
Encoders only, like the original LAMA code. Ties and non-finite scores follow the documented
fail-safe rule (gold after its equals; a non-finite row ranks last), computed here by sorting.
"""

from __future__ import annotations

import math

import torch

from .lama import Encoded


@torch.inference_mode()
def reference_ranks(model, tokenizer, items: list[Encoded], cand: list[int], batch_size: int,
                    device: torch.device) -> dict[str, int]:
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    width = min(128, getattr(model.config, "max_position_embeddings", 128) or 128)
    cand_t = torch.tensor(cand)
    ranks: dict[str, int] = {}
    for start in range(0, len(items), batch_size):
        batch = items[start : start + batch_size]
        ids = torch.full((len(batch), width), pad, dtype=torch.long)
        att = torch.zeros((len(batch), width), dtype=torch.long)
        for r, e in enumerate(batch):
            ids[r, : len(e.input_ids)] = torch.tensor(e.input_ids)
            att[r, : len(e.input_ids)] = 1
        logits = model(input_ids=ids.to(device), attention_mask=att.to(device)).logits  # (B, width, V)
        for r, e in enumerate(batch):  # one fact at a time
            scores = logits[r, e.position].float().cpu()[cand_t].tolist()
            if not all(math.isfinite(x) for x in scores):  # a broken model: the fact ranks last
                ranks[e.fact.id] = len(cand)
                continue
            # sort best first; the gold goes after every candidate with the same score (fail-safe ties)
            order = sorted(range(len(cand)), key=lambda j, s=scores, g=e.gold: (-s[j], j == g))
            ranks[e.fact.id] = order.index(e.gold) + 1
    return ranks
