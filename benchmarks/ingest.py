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
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from leaderboard import synthetic
from leaderboard.parallel import cpu_count

CPU: dict[str, float] = {}  # CPU seconds of each command and its workers: on a shared machine wall seconds say little


def timed(cmd: list[str], name: str) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if res.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{res.stdout}\n{res.stderr}")
    CPU[name] = round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 2)
    return elapsed


def _cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor()
    return next((ln.split(":", 1)[1].strip() for ln in text.splitlines() if ln.startswith("model name")),
                platform.processor())


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
        load = os.getloadavg()[0]
        validate_s = timed([exe, "validate", str(runs)], "validate_cpu_s")
        ingest_s = timed([exe, "ingest", str(runs), "--db", str(db)], "ingest_cpu_s")
        reingest_s = timed([exe, "ingest", str(runs), "--db", str(db)], "reingest_unchanged_cpu_s")
        paths[0].unlink()
        one_removed_s = timed([exe, "ingest", str(runs), "--db", str(db)], "reingest_one_removed_cpu_s")
    result = {
        "n_files": args.n, "total_mb": round(size / 1e6, 1), "generate_s": round(gen, 2),
        "validate_s": round(validate_s, 2), "ingest_s": round(ingest_s, 2),
        "validate_plus_ingest_s": round(validate_s + ingest_s, 2), "reingest_unchanged_s": round(reingest_s, 2),
        "reingest_one_removed_s": round(one_removed_s, 2), **CPU,
        "cores": cpu_count(), "python": platform.python_version(), "machine": platform.machine(),
        "cpu": _cpu_model(), "load_average_at_start": round(load, 2),
        "date": time.strftime("%Y-%m-%d"),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"\n| {args.n:,} run files ({result['total_mb']} MB), {result['cores']} cores | seconds |\n|---|---|")
    for k in ("validate_s", "ingest_s", "validate_plus_ingest_s", "reingest_unchanged_s", "reingest_one_removed_s"):
        print(f"| `{k}` | {result[k]} |")
    print(f"\nCPU seconds (with workers): {', '.join(f'{k} {v}' for k, v in CPU.items())}; "
          f"load average at start {result['load_average_at_start']}")
    if os.environ.get("CI"):
        print("(CI machine)")


if __name__ == "__main__":
    main()
