"""Benchmark: what a sweep saves by restoring a model from its CPU copy instead of reloading it.

    python benchmarks/sweep_reuse.py [--shapes bert-base,bert-large] [--out benchmarks/results/sweep_reuse.json]

For each shape a randomly initialised checkpoint is saved as safetensors in a temporary folder; then,
on the CPU: ``load()`` from disk (what a sweep without reuse pays per pipeline; page cache warm, so
this is the *least* it costs), the in-place restore after global L1 pruning to 50 %, and the fresh
copy after dynamic int8 quantization (which swaps layers). Each timed 3 times; medians reported.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch
import transformers as T

from leaderboard import tiny
from leaderboard.compress.pipeline import compress
from leaderboard.models import load, save
from leaderboard.runner import RunSpec, parse_step
from leaderboard.sweep_run import ModelKeeper

SHAPES = {
    "bert-base": {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072},
    "bert-large": {"hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16, "intermediate_size": 4096},
}
REPEAT = 3


def _median(fn) -> float:
    times = []
    for _ in range(REPEAT):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return round(statistics.median(times), 3)


def case(shape: str, folder: Path) -> dict:
    tok = tiny.word_tokenizer([f"w{i}" for i in range(1000)], "bert")
    torch.manual_seed(0)
    config = T.BertConfig(vocab_size=28996, **SHAPES[shape])
    save(T.BertForMaskedLM(config).eval(), tok, folder)
    size = sum(p.stat().st_size for p in folder.glob("*.safetensors"))
    reload = _median(lambda: load(str(folder), device="cpu"))
    keeper = ModelKeeper(RunSpec(model=str(folder), evals=["lama:trex"], device="cpu"))
    keeper.fresh()  # the first working copy, made once per model
    prune = [parse_step("prune:criterion=l1,sparsity=0.5")]
    quant = [parse_step("quantize:scheme=dynamic-int8")]

    def pruned_then_restored() -> None:
        keeper.used(prune)
        keeper.fresh()

    def quantized_then_copied() -> None:
        keeper.used(quant)
        keeper.fresh()

    in_place = _median(pruned_then_restored)
    copied = _median(quantized_then_copied)
    # restores are exact: prune for real, restore, compare with the pristine copy
    compress(keeper.working.model, prune, device=torch.device("cpu"))
    keeper.used(prune)
    keeper.fresh()
    exact = all(torch.equal(a, b) for a, b in zip(keeper.working.model.state_dict().values(),
                                                  keeper.pristine.model.state_dict().values()))
    keeper.close()
    return {"shape": shape, "weights_bytes": size, "reload_from_disk_s": reload, "restore_in_place_s": in_place,
            "restore_by_copy_s": copied, "speedup_in_place": round(reload / in_place, 1),
            "speedup_copy": round(reload / copied, 1), "restore_exact": exact}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shapes", default="bert-base,bert-large")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "sweep_reuse.json")
    args = ap.parse_args()
    results = []
    for shape in args.shapes.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            results.append(case(shape, Path(tmp)))
            print(json.dumps(results[-1]))
    args.out.write_text(json.dumps({"torch_threads": torch.get_num_threads(), "cases": results}, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
