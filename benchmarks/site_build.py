"""Benchmark: `leaderboard build` of N synthetic run files: fresh, again (caches warm), and after adding 10 runs; the
site's bytes by kind of file (benchmarks/site_size.py), the leaderboard page and the search index.

    python benchmarks/site_build.py [--n 10000] [--out benchmarks/results/site_build.json] [--keep DIR]

Targets (issue 22, scale, at 100,000 runs on 2 cores): site <= 1 GB, build <= 60 s, rebuild after 10 new runs <= 10 s,
leaderboard first load <= 500 KB. Wall times on a shared machine say little: each build's CPU seconds (the build and
its workers) and the machine's load are recorded beside them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from leaderboard import synthetic

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from site_size import breakdown  # noqa: E402


def timed_build(runs: Path, out: Path, work: Path) -> dict:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    res = subprocess.run(["leaderboard", "build", "--runs", str(runs), "--out", str(out), "--work", str(work), "--root", str(ROOT)],
                         capture_output=True, text=True, check=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = res.stdout.strip().splitlines()[-1]
    return {"wall_s": round(wall, 1), "cpu_s": round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 1),
            "phases": re.sub(r"^.*?\((.*)\)$", r"\1", line), "load_average": os.getloadavg()[0]}


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else platform.processor()
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "load_average_at_start": os.getloadavg()[0]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "site_build.json")
    ap.add_argument("--keep", type=Path, help="copy the built site here (for benchmarks/page_weight.py)")
    ap.add_argument("--no-again", action="store_true", help="skip the second full build")
    args = ap.parse_args()
    result: dict = {"runs": args.n, "date": time.strftime("%Y-%m-%d"), "machine": machine()}
    with tempfile.TemporaryDirectory(dir=args.keep.parent if args.keep else None) as tmp:
        runs, public, work = Path(tmp) / "runs", Path(tmp) / "public", Path(tmp) / "work"
        t = time.perf_counter()
        every = synthetic.generate(args.n + 10)  # the first n are synthetic.generate(n): 10 more to add afterwards
        synthetic.write(every[:args.n], runs)
        result["generate_s"] = round(time.perf_counter() - t, 1)
        result["fresh"] = timed_build(runs, public, work)
        result["size"] = breakdown(public, args.n)
        result["html_pages"] = sum(1 for _ in public.rglob("*.html"))
        if not args.no_again:
            result["again"] = timed_build(runs, public, work)
        synthetic.write(every[args.n:], runs)
        result["after_10_more_runs"] = timed_build(runs, public, work)
        if args.keep:
            shutil.rmtree(args.keep, ignore_errors=True)
            os.rename(public, args.keep)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
