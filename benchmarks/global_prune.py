"""Benchmark: global magnitude pruning time and peak memory, without concatenating the weights.

    python benchmarks/global_prune.py [--device cpu|cuda] [--out benchmarks/results/global_prune.json]

Each case runs in a fresh process. The model has random weights (built on the meta device, then
materialised), shapes from real models: TinyLlama-1.1B (Llama, 22 x 2048, ffn 5632, vocab 32000) on
CPU, Llama-2-7B (32 x 4096, ffn 11008) when --device cuda. Peak memory is the process's resident set
(sampled every 5 ms) on CPU, torch.cuda.max_memory_allocated on GPU; the ratio is peak / model bytes.
For contrast, torch.nn.utils.prune.global_unstructured (which concatenates every weight and keeps
masks) runs on a BERT-base shape beside ours.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHAPES = {
    "bert-base": {"arch": "bert", "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
                  "intermediate_size": 3072, "vocab_size": 28996},
    "llama-1.1b": {"arch": "llama", "hidden_size": 2048, "num_hidden_layers": 22, "num_attention_heads": 32,
                   "num_key_value_heads": 4, "intermediate_size": 5632, "vocab_size": 32000},
    "llama-7b": {"arch": "llama", "hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32,
                 "num_key_value_heads": 32, "intermediate_size": 11008, "vocab_size": 32000},
}


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def worker(shape: str, method: str, device: str, dtype: str, sparsity: float) -> dict:
    import torch
    import transformers as T

    from leaderboard.compress.pipeline import compress
    from leaderboard.compress.scopes import resolve
    from leaderboard.schema import PruneStep

    cfg = dict(SHAPES[shape])
    arch = cfg.pop("arch")
    config = (T.BertConfig if arch == "bert" else T.LlamaConfig)(**cfg)
    cls = T.BertForMaskedLM if arch == "bert" else T.LlamaForCausalLM
    dev = torch.device(device)
    base_rss = rss()
    with torch.device("meta"):
        model = cls(config)
    model = model.to_empty(device=dev).to(getattr(torch, dtype))
    gen = torch.Generator(device=dev).manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.02, generator=gen)
    model_bytes = sum(p.numel() * p.element_size() for p in {id(p): p for p in model.parameters()}.values())
    n_scope = sum(m.weight.numel() for m in resolve(model, "all").values())
    if dev.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    before = rss()
    peak = [before]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], rss())
            time.sleep(0.005)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    t0 = time.perf_counter()
    if method == "ours":
        compress(model, [PruneStep(method="prune", criterion="l1", granularity="global", scope="all", sparsity=sparsity)],
                 device=dev)
    else:
        import torch.nn.utils.prune as tp

        mods = resolve(model, "all")
        tp.global_unstructured([(m, "weight") for m in mods.values()], pruning_method=tp.L1Unstructured, amount=sparsity)
        for m in mods.values():
            tp.remove(m, "weight")
    if dev.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    stop.set()
    t.join()
    zeros = sum(int((m.weight == 0).sum()) for m in resolve(model, "all").values())
    if dev.type == "cuda":
        peak_bytes = torch.cuda.max_memory_allocated(dev)
        extra = peak_bytes - model_bytes
    else:
        peak_bytes = peak[0] - base_rss  # the model and what pruning added, without the interpreter itself
        extra = peak[0] - before
    return {"shape": shape, "method": method, "device": device, "dtype": dtype, "parameters": sum(p.numel() for p in model.parameters()),
            "model_gib": round(model_bytes / 2**30, 3), "seconds": round(seconds, 2),
            "peak_gib": round(peak_bytes / 2**30, 3), "extra_gib": round(extra / 2**30, 3),
            "peak_over_model": round(peak_bytes / model_bytes, 3), "measured_sparsity": round(zeros / n_scope, 6)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--sparsity", type=float, default=0.5)
    ap.add_argument("--case", nargs=2, metavar=("SHAPE", "METHOD"), help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "global_prune.json")
    args = ap.parse_args()
    if args.case:
        print(json.dumps(worker(args.case[0], args.case[1], args.device, args.dtype, args.sparsity)))
        return
    cases = [("bert-base", "torch"), ("bert-base", "ours")]
    cases.append(("llama-7b", "ours") if args.device.startswith("cuda") else ("llama-1.1b", "ours"))
    results = []
    for shape, method in cases:
        res = subprocess.run([sys.executable, __file__, "--case", shape, method, "--device", args.device,
                              "--dtype", args.dtype, "--sparsity", str(args.sparsity)], capture_output=True, text=True)
        if res.returncode != 0:
            sys.exit(res.stderr[-3000:])
        results.append(json.loads(res.stdout.strip().splitlines()[-1]))
        print(json.dumps(results[-1]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"date": time.strftime("%Y-%m-%d"), "results": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
