"""Benchmark: validate + ingest N synthetic run files through the real CLI; then re-ingest unchanged.

    python benchmarks/ingest.py [--n 10000] [--out benchmarks/results/ingest.json]

Targets (issue 3): validate + ingest of 10,000 files under 10 s together on 2 cores; re-ingest of
unchanged files under 2 s. Results are written as JSON and printed as a Markdown table for the README.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from leaderboard import synthetic
from leaderboard.parallel import cpu_count


def timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if res.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{res.stdout}\n{res.stderr}")
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "ingest.json")
    args = ap.parse_args()
    exe = shutil.which("leaderboard") or sys.exit("install the project first (leaderboard not on PATH)")
    with tempfile.TemporaryDirectory() as tmp:
        runs, db = Path(tmp) / "runs", Path(tmp) / "lb.duckdb"
        t0 = time.perf_counter()
        paths = synthetic.write(synthetic.generate(args.n), runs)
        gen = time.perf_counter() - t0
        size = sum(p.stat().st_size for p in paths)
        validate_s = timed([exe, "validate", str(runs)])
        ingest_s = timed([exe, "ingest", str(runs), "--db", str(db)])
        reingest_s = timed([exe, "ingest", str(runs), "--db", str(db)])
        paths[0].unlink()
        one_removed_s = timed([exe, "ingest", str(runs), "--db", str(db)])
    result = {
        "n_files": args.n, "total_mb": round(size / 1e6, 1), "generate_s": round(gen, 2),
        "validate_s": round(validate_s, 2), "ingest_s": round(ingest_s, 2),
        "validate_plus_ingest_s": round(validate_s + ingest_s, 2), "reingest_unchanged_s": round(reingest_s, 2),
        "reingest_one_removed_s": round(one_removed_s, 2),
        "cores": cpu_count(), "python": platform.python_version(), "machine": platform.machine(),
        "date": time.strftime("%Y-%m-%d"),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"\n| {args.n:,} run files ({result['total_mb']} MB), {result['cores']} cores | seconds |\n|---|---|")
    for k in ("validate_s", "ingest_s", "validate_plus_ingest_s", "reingest_unchanged_s", "reingest_one_removed_s"):
        print(f"| `{k}` | {result[k]} |")
    if os.environ.get("CI"):
        print("(CI machine)")


if __name__ == "__main__":
    main()
