"""Benchmark: `leaderboard build` of N synthetic run files, fresh and again (chart cache warm).

    python benchmarks/site_build.py [--n 10000] [--out benchmarks/results/site_build.json]

Target (issue 5): 10,000 runs built in under 60 s on the 2-core development machine.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from leaderboard import synthetic

ROOT = Path(__file__).resolve().parents[1]


def timed_build(runs: Path, out: Path, work: Path) -> tuple[float, str]:
    t0 = time.perf_counter()
    res = subprocess.run(["leaderboard", "build", "--runs", str(runs), "--out", str(out), "--work", str(work), "--root", str(ROOT)],
                         capture_output=True, text=True, check=True)
    return time.perf_counter() - t0, res.stdout.strip().splitlines()[-1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "site_build.json")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(tmp) / "runs"
        synthetic.write(synthetic.generate(args.n), runs)
        fresh, line1 = timed_build(runs, Path(tmp) / "public", Path(tmp) / "work")
        again, line2 = timed_build(runs, Path(tmp) / "public", Path(tmp) / "work")
        pages = sum(1 for _ in (Path(tmp) / "public").rglob("*.html"))
        size = sum(p.stat().st_size for p in (Path(tmp) / "public").rglob("*") if p.is_file())
        shutil.rmtree(Path(tmp) / "public")
    result = {"runs": args.n, "html_pages": pages, "site_mb": round(size / 1e6, 1), "fresh_build_s": round(fresh, 1),
              "rebuild_s": round(again, 1), "fresh_phases": re.sub(r"^.*\((.*)\)$", r"\1", line1),
              "rebuild_phases": re.sub(r"^.*\((.*)\)$", r"\1", line2), "date": time.strftime("%Y-%m-%d")}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
