"""Build the second bundled demo model (a tiny Llama trained on real LAMA facts and BEAR statements).

    python scripts/build_demo_decoder.py [--lama ../shared/data/lama] [--out src/leaderboard/data/demo-decoder]

Seeded and CPU-only. It learns the BERT demo model's 1,000 T-REx facts (all object-final, so a decoder can be
probed on them) and the true statements of the packaged BEAR sample (every template). Retraining on the same
machine gives the same bytes; on another CPU the floats may differ (judge such a model by its scores, which
stay within their intervals, never by its bytes).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from leaderboard.demo_model import DecoderSpec, train_decoder
from leaderboard.evaluate.bear import packaged_root

ROOT = Path(__file__).resolve().parents[1]

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lama", type=Path, default=ROOT.parent / "shared" / "data" / "lama")
    ap.add_argument("--bear", type=Path, default=packaged_root(), help="a BEAR root (default: the packaged sample)")
    ap.add_argument("--out", type=Path, default=ROOT / "src" / "leaderboard" / "data" / "demo-decoder")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(2)  # the same arithmetic on every machine that builds it
    summary = train_decoder(args.lama, args.bear, args.out, DecoderSpec(seed=args.seed))
    print(f"wrote {args.out}: {summary['facts']} facts, {summary['bear_statements']} BEAR statements, "
          f"final loss {summary['final_loss']}, {summary['seconds']} s")
