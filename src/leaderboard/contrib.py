"""The contribution loop: check a pull request's runs, place new run files, import reported results.

`leaderboard pr-check` is exactly what CI runs on a pull request, so a contributor reproduces CI with
one command. It treats the pull request's runs/ as data only: the validator and the site builder are
the ones installed from the base branch.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from .render.build import BuildError, build_site
from .schema import (
    canonical_path,
)
from .store import ingest
from .validate import Problem, base_digests, check_file, iter_json_files, validate_paths

RANK_SQL = """
SELECT run_id, model_id, family, method_label, eval_task AS task, value,
       rank() OVER (PARTITION BY family, eval_task ORDER BY value DESC, run_id) AS rank
FROM (SELECT r.*, t.value FROM runs r JOIN retention t USING (run_id)
      WHERE t.task = r.eval_task AND t.metric = CASE WHEN r.eval_task LIKE 'lama:%' THEN 'precision@1'
                                                     WHEN r.eval_task LIKE 'bear:%' THEN 'accuracy' ELSE 'acc' END
        AND r.source_kind <> 'synthetic')
"""


@dataclass
class PrReport:
    problems: list[Problem]
    added: list[str] = field(default_factory=list)
    summary: str = ""

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]


def _ranks(runs_dir: Path, work: Path) -> dict[str, dict]:
    if not runs_dir.is_dir() or not any(runs_dir.rglob("*.json")):
        return {}
    db = work / "rank.duckdb"
    db.unlink(missing_ok=True)
    ingest(runs_dir, db)
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {r["run_id"]: r for r in con.sql(RANK_SQL).pl().iter_rows(named=True)}
    finally:
        con.close()


def _summary(added: list[str], before: dict[str, dict], after: dict[str, dict], problems: list[Problem]) -> str:
    lines = ["## compression-leaderboard: pull request check", ""]
    errors = [p for p in problems if p.severity == "error"]
    lines.append(f"{len(added)} new run file(s); {len(errors)} error(s), {len(problems) - len(errors)} warning(s).")
    if errors:
        lines += ["", "| file | field | problem |", "|---|---|---|"]
        lines += [f"| `{_md(p.path)}` | `{_md(p.pointer or '/')}` | {_md(p.message)} |" for p in errors]
    new = [after[rid] for rid in added if rid in after]
    if new:
        lines += ["", "### New runs", "", "| model | compression | task | value | rank in family |", "|---|---|---|---|---|"]
        lines += [f"| {_md(r['model_id'])} | {_md(r['method_label'])} | {_md(r['task'])} | {r['value']:.3f} | {r['rank']} |"
                  for r in new]
    moved = [(after[rid], before[rid]["rank"]) for rid in before if rid in after and after[rid]["rank"] != before[rid]["rank"]]
    if moved:
        lines += ["", "### Rankings that change", "", "| model | compression | task | rank before | rank after |",
                  "|---|---|---|---|---|"]
        lines += [f"| {_md(r['model_id'])} | {_md(r['method_label'])} | {_md(r['task'])} | {old} | {r['rank']} |"
                  for r, old in sorted(moved, key=lambda x: (x[0]["task"], x[0]["rank"]))]
    return "\n".join(lines) + "\n"


def _md(text: object) -> str:
    """Markdown table cell text: escaped, one line."""
    import html

    return html.escape(str(text)).replace("|", "&#124;").replace("\n", " ").replace("`", "&#96;")


def pr_check(runs: Path, base: str, *, out: Path | None, root: Path, work: Path) -> PrReport:
    """Validate the pull request's runs against the published ones, build a preview, summarise."""
    report = validate_paths([runs], base=base, reject_synthetic=True)
    problems = list(report.problems)
    try:
        published, _kind = base_digests(base, runs)
    except Exception as e:  # noqa: BLE001 - reported as a problem, never a traceback
        return PrReport(problems, summary=f"cannot read the base {base}: {e}\n")
    files, _ = iter_json_files([runs])
    added_paths = [f for f in files if f.relative_to(runs).as_posix() not in published]
    added = [c.key.run_id for c in (check_file(f) for f in added_paths) if c.key is not None]
    work.mkdir(parents=True, exist_ok=True)
    pr = PrReport(problems, added)
    if pr.errors:
        pr.summary = _summary(added, {}, {}, problems)
        return pr
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        base_runs = Path(tmp) / "base-runs"
        base_runs.mkdir()
        for rel in published:
            src = runs / rel
            if src.exists():  # unchanged (the append-only check passed)
                (base_runs / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, base_runs / rel)
        before = _ranks(base_runs, Path(tmp))
        after = _ranks(runs, Path(tmp))
    pr.summary = _summary(added, before, after, problems)
    if out is not None:
        try:
            build_site(runs, out, root, work / "preview-build", log=lambda *_: None)
        except BuildError as e:
            pr.problems += e.problems or [Problem(str(runs), "", str(e))]
    return pr


# --- submit ---------------------------------------------------------------------------------------


@dataclass
class Placed:
    source: Path
    target: Path
    status: str  # "added", "exists", "refused"
    problems: list[Problem] = field(default_factory=list)


def submit(files: list[Path], runs: Path) -> list[Placed]:
    """Check run files and copy each to its canonical path under ``runs`` (never overwriting)."""
    out = []
    for f in files:
        c = check_file(f, check_path=False)
        errors = [p for p in c.problems if p.severity == "error"]
        if c.run is None or errors:
            out.append(Placed(f, f, "refused", errors or c.problems))
            continue
        if c.run.source.kind == "synthetic":
            out.append(Placed(f, f, "refused", [Problem(str(f), "/source/kind", "synthetic runs are never published")]))
            continue
        target = runs / canonical_path(c.run)
        if target.exists():
            same = target.read_bytes() == f.read_bytes()
            out.append(Placed(f, target, "exists" if same else "refused",
                              [] if same else [Problem(str(target), "", "a different file with this run_id is published; "
                                                       "run files are append-only")]))
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(f, target)
        out.append(Placed(f, target, "added"))
    return out
