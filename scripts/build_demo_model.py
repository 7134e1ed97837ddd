"""Build the bundled demo model (a tiny BERT trained on real LAMA T-REx facts) reproducibly.

    python scripts/build_demo_model.py [--lama ../shared/data/lama] [--out src/leaderboard/data/demo-model]

Seeded and CPU-only (about two minutes on 2 cores). The facts it learns are listed in facts.jsonl
beside the weights; the training settings in demo_model.json.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from leaderboard.demo_model import DemoSpec, train

ROOT = Path(__file__).resolve().parents[1]

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lama", type=Path, default=ROOT.parent / "shared" / "data" / "lama")
    ap.add_argument("--out", type=Path, default=ROOT / "src" / "leaderboard" / "data" / "demo-model")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(2)  # the same arithmetic on every machine that builds it
    summary = train(args.lama, args.out, DemoSpec(seed=args.seed))
    print(f"wrote {args.out}: {summary['facts']} facts, final loss {summary['final_loss']}, {summary['seconds']} s")
