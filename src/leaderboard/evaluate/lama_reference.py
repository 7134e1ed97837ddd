"""The straightforward LAMA loop, kept as a yardstick: it pads every sentence to 128 tokens (or the model's maximum), computes
full-vocabulary logits at every position, and ranks each fact on its own in Python.

It exists to check the fast path (identical ranks) and to measure it (benchmarks/lama_throughput.py).
Encoders only, like the original LAMA code.
"""

from __future__ import annotations

import torch

from .lama import Encoded


@torch.inference_mode()
def reference_ranks(model, tokenizer, items: list[Encoded], cand: list[int], batch_size: int,
                    device: torch.device) -> dict[str, int]:
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    width = min(128, getattr(model.config, "max_position_embeddings", 128) or 128)
    cand_t = torch.tensor(cand)
    order = torch.arange(len(cand))
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
            scores = logits[r, e.position].float().cpu()[cand_t]
            gold = scores[e.gold]
            ahead = (scores > gold) | ((scores == gold) & (order < e.gold))
            ranks[e.fact.id] = 1 + int(ahead.sum())
    return ranks
