"""Do re-made runs reproduce the published ones? Compare two run files of the same run_id.

Floating point is not bit-stable across CPUs (SIMD widths, thread counts), so a re-run on another
machine may flip a near-tie between two candidates. A metric reproduces when it equals the published
value (|Δ| ≤ 1e-6) or differs by no more than two examples' worth (2/n) — the float tolerance — and
the number of examples scored is the same. Everything else is a failure to reproduce.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

EXACT = 1e-6
FLIPS = 2  # examples whose outcome may flip on another CPU (near-ties)


@dataclass
class Comparison:
    path: str  # relative to the runs root
    run_id: str
    label: str  # model | compression | task, for people
    problems: list[str] = field(default_factory=list)
    max_delta: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def exact(self) -> bool:
        return self.ok and self.max_delta <= EXACT


def _label(run: dict) -> str:
    from .naming import pipeline_label
    from .schema import RunFile

    r = RunFile.model_validate(run)
    return f"{r.model.id} | {pipeline_label(r.compression)} | {r.evaluation.task}"


def compare(published: dict, rerun: dict, path: str = "") -> Comparison:
    """Same run_id, same n and excluded per task, every metric within the float tolerance."""
    c = Comparison(path, published.get("run_id", "?"), _label(published))
    if rerun.get("run_id") != published.get("run_id"):
        c.problems.append(f"run_id {rerun.get('run_id')} instead of {published.get('run_id')} (another spec)")
        return c
    got = {r["task"]: r for r in rerun["results"]}
    for want in published["results"]:
        task = want["task"]
        if task not in got:
            c.problems.append(f"{task}: no result")
            continue
        have = got[task]
        for key in ("n", "excluded"):
            if have.get(key) != want.get(key):
                c.problems.append(f"{task}: {key} {have.get(key)} instead of {want.get(key)}")
        for name, mv in want["metrics"].items():
            if name not in have["metrics"]:
                c.problems.append(f"{task}: {name} missing")
                continue
            delta = abs(have["metrics"][name]["value"] - mv["value"])
            c.max_delta = max(c.max_delta, delta)
            n = mv.get("n") or want.get("n") or 0
            tolerance = max(EXACT, FLIPS / n) if n else EXACT
            if delta > tolerance:
                c.problems.append(f"{task}: {name} {have['metrics'][name]['value']:.6f} instead of "
                                  f"{mv['value']:.6f} (|Δ| {delta:.2g} > {tolerance:.2g})")
    return c


def compare_trees(published_root: Path, rerun_root: Path) -> tuple[list[Comparison], list[Path]]:
    """Each re-made run file against the published file at the same path; also the re-made files that
    have no published counterpart (new runs)."""
    comparisons, new = [], []
    for path in sorted(Path(rerun_root).rglob("*.json")):
        rel = path.relative_to(rerun_root)
        published = Path(published_root) / rel
        if not published.is_file():
            new.append(rel)
            continue
        comparisons.append(compare(json.loads(published.read_text(encoding="utf-8")),
                                   json.loads(path.read_text(encoding="utf-8")), rel.as_posix()))
    return comparisons, new


def summary_line(comparisons: list[Comparison]) -> str:
    ok = [c for c in comparisons if c.ok]
    exact = sum(c.exact for c in ok)
    worst = max((c.max_delta for c in ok), default=0.0)
    detail = ("all identical" if exact == len(ok) else
              f"{exact} identical, {len(ok) - exact} within the float tolerance (largest |Δ| {worst:.2g})")
    return f"{len(ok)}/{len(comparisons)} runs reproduce the published numbers ({detail})"
