"""Benchmark: LAMA probing throughput, fast path vs the straightforward loop, same model, facts and run.

    python benchmarks/lama_throughput.py [--facts 1000] [--device cpu] [--out benchmarks/results/lama_throughput.json]

The model is BERT-base-shaped (12 layers, 768 wide, 12 heads; random weights) with a cased WordPiece
vocabulary of ~29k tokens built locally from LAMA's common vocabulary and the facts' words, so objects
are single tokens as with the real bert-base-cased. The facts are real T-REx rows. Both paths rank
every fact against the full LAMA common vocabulary. Top-1 predictions must be identical; ranks may
differ only where float32 rounding (different padding, different matrix shapes) reorders near-ties
among random-weight logits, and are identical in float64 (--dtype float64).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch
import transformers as T
from tokenizers.pre_tokenizers import BertPreTokenizer

from leaderboard.evaluate.lama import Prober, candidate_ids
from leaderboard.evaluate.lama_data import load_corpus, load_vocab
from leaderboard.evaluate.lama_reference import reference_ranks

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lama", type=Path, default=ROOT.parent / "shared" / "data" / "lama")
    ap.add_argument("--facts", type=int, default=1000)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "lama_throughput.json")
    args = ap.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)
    vocab, _ = load_vocab(args.lama)
    corpus = load_corpus(args.lama, "trex")
    step = max(1, len(corpus.facts) // args.facts)
    facts = corpus.facts[::step][: args.facts]
    pre = BertPreTokenizer()
    words = dict.fromkeys(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + vocab)
    for f in facts:
        words.update(dict.fromkeys(w for w, _ in pre.pre_tokenize_str(f.text(f.obj))))
    chars = sorted({c for w in list(words) for c in w})
    for c in chars:
        words.setdefault(c, None)
        words.setdefault(f"##{c}", None)
    ids = {w: i for i, w in enumerate(words)}
    tok = T.BertTokenizerFast(vocab=ids, do_lower_case=False, strip_accents=False, tokenize_chinese_chars=False,
                              model_max_length=512)
    config = T.BertConfig(vocab_size=len(ids))  # bert-base shape
    dtype = getattr(torch, args.dtype)
    model = T.BertForMaskedLM(config).to(device=device, dtype=dtype).eval()
    word_ids, cand = candidate_ids(tok, vocab)
    prober = Prober(model, tok, "encoder", device)
    items, excluded = prober.encode(facts, {**word_ids}, cand, "all", 128)
    gold_missing = len(facts) - len(items)

    prober.rank(items[:32], cand, args.batch_size)  # warm-up
    t0 = time.perf_counter()
    fast = prober.rank(items, cand, args.batch_size)
    fast_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    slow = reference_ranks(model, tok, items, cand, args.batch_size, device)
    slow_s = time.perf_counter() - t0
    same = fast == slow
    diffs = [abs(fast[k] - slow[k]) for k in fast]
    result = {
        "model": f"BERT-base shape, random weights, vocab {len(ids)}", "facts": len(items), "excluded": gold_missing,
        "candidates": len(cand), "device": str(device), "dtype": args.dtype, "batch_size": args.batch_size,
        "fast_facts_per_s": round(len(items) / fast_s, 1), "reference_facts_per_s": round(len(items) / slow_s, 1),
        "speedup": round(slow_s / fast_s, 1), "identical_ranks": same,
        "facts_with_different_rank": sum(d > 0 for d in diffs), "max_rank_difference": max(diffs),
        "top1_identical": all((fast[k] == 1) == (slow[k] == 1) for k in fast), "threads": torch.get_num_threads(),
        "python": platform.python_version(), "torch": torch.__version__, "date": time.strftime("%Y-%m-%d"),
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    if not result["top1_identical"]:
        raise SystemExit("top-1 predictions differ between the fast path and the reference loop")


if __name__ == "__main__":
    main()
