#!/usr/bin/env bash
# Back-to-back build timings of one code version on one corpus: fresh, again, after adding 10 runs, after removing them.
#
#   bash benchmarks/rebuild_ab.sh CORPUS SRC TAG
#
# CORPUS holds runs100k/ (the runs built) and extra10/ (the 10 runs added, same layout), e.g. from
#   python -c "from pathlib import Path; from leaderboard import synthetic as s; e = s.generate(100010);
#              s.write(e[:100000], Path('CORPUS/runs100k')); s.write(e[100000:], Path('CORPUS/extra10'))"
# Run it in the project's environment (. .venv/bin/activate). SRC: the src/ folder of the code to time (a `git
# worktree` of the other commit for an A/B); TAG: names the site (CORPUS/s-TAG) and work folder (CORPUS/w-TAG).
# Run A, B, then A again: the VM's speed drifts within the hour.
# Background work (a long sweep) must yield to it: with the kernel's autogroups on (/proc/sys/kernel/
# sched_autogroup_enabled = 1, as on the development VM) `nice` orders processes within one session only, and a sweep
# started from another shell shares the CPU with the build half and half whatever its nice value. Lower its session's
# weight instead: echo 19 > /proc/<a sweep process's pid>/autogroup (all of its session's processes follow).
set -u
K=$1; SRC=$2; TAG=$3
# the checkout SRC belongs to: its mkdocs.yml and MkDocs hook are part of the code timed
ROOT=$(cd "$SRC/.." && pwd)
export OMP_NUM_THREADS=1 PYTHONPATH=$SRC
rm -rf "$K/s-$TAG" "$K/w-$TAG"
extra() { (cd "$K/extra10" && find . -name '*.json'); }
for f in $(extra); do rm -f "$K/runs100k/$f"; done
b() { /usr/bin/time -f "%e s wall %U+%S cpu" python -c "
from pathlib import Path
from leaderboard.render.build import build_site
if __name__ == '__main__':
    build_site(Path('$K/runs100k'), Path('$K/s-$TAG'), Path('$ROOT'), Path('$K/w-$TAG'))
" 2>&1 | tail -2; }
echo "== $TAG fresh"; b
echo "== $TAG again"; b
for f in $(extra); do mkdir -p "$K/runs100k/$(dirname "$f")"; cp -p "$K/extra10/$f" "$K/runs100k/$f"; done
echo "== $TAG after adding 10"; b
for f in $(extra); do rm -f "$K/runs100k/$f"; done
echo "== $TAG after removing them"; b
