"""Write the small attributed LAMA sample that ships in the package (the demo model's facts).

    python scripts/build_lama_sample.py [--lama ../shared/data/lama]

Copies, unchanged, relations.jsonl, common_vocab_cased.txt and the T-REx lines of the facts chosen by
leaderboard.demo_model.select_facts (1,000 facts; the issue allows at most 2,000), plus a license note.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from leaderboard.demo_model import DemoSpec, select_facts

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "leaderboard" / "data" / "lama"

NOTE = """# LAMA sample (packaged for the demo)

{n} facts of LAMA's T-REx probe over {r} relations, the facts the demo model is trained on, with the
T-REx templates (`relations.jsonl`) and LAMA's common vocabulary (`common_vocab_cased.txt`). Every line
is copied unchanged from the project's LAMA copy (see its SOURCES.md; upstream: norakassner/BERT-kNN
@f9c832b and yanaiela/pararel @cb55546, both copies of facebookresearch/LAMA data).

Source: Petroni et al. 2019, "Language Models as Knowledge Bases?", EMNLP 2019,
https://github.com/facebookresearch/LAMA. License: **CC BY-NC 4.0** (non-commercial). Cite Petroni
et al. 2019 (and Elazar et al. 2021, ParaRel, for P17, P30, P36, P37, P1376: filtered ParaRel copies).

This is a sample, not LAMA: results on it describe the demo model only. Get the full data with
`leaderboard data fetch lama`. Rebuild this folder with `python scripts/build_lama_sample.py`.
"""

if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--lama", type=Path, default=ROOT.parent / "shared" / "data" / "lama")
    args = ap.parse_args()
    facts = select_facts(args.lama, DemoSpec())
    wanted = {f.id for f in facts}
    if OUT.exists():
        shutil.rmtree(OUT)
    (OUT / "trex").mkdir(parents=True)
    shutil.copy(args.lama / "relations.jsonl", OUT / "relations.jsonl")
    shutil.copy(args.lama / "common_vocab_cased.txt", OUT / "common_vocab_cased.txt")
    rels = sorted({f.relation for f in facts})
    for rel in rels:
        lines = [ln for ln in (args.lama / "trex" / f"{rel}.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
                 if ln.strip() and json.loads(ln)["uuid"] in wanted]
        (OUT / "trex" / f"{rel}.jsonl").write_text("".join(lines), encoding="utf-8")
    (OUT / "SOURCES.md").write_text(NOTE.format(n=len(facts), r=len(rels)), encoding="utf-8")
    print(f"wrote {OUT}: {len(facts)} facts over {len(rels)} relations")
