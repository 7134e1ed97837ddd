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

from .fsutil import UnsafePath, check_target, ensure_dir, write_atomic
from .gitutil import git_out
from .render.build import BuildError, build_site
from .render.html import md_text
from .schema import (
    canonical_path,
)
from .store import IngestError, ingest
from .validate import (
    Checked,
    LoadError,
    Problem,
    RunKey,
    base_digests,
    check_file,
    errata_checks,
    read_bounded,
    validate_paths,
)

RANK_SQL = """
SELECT run_id, model_id, family, method_label, eval_task AS task, value, retention,
       rank() OVER (PARTITION BY family, eval_task ORDER BY value DESC, run_id) AS rank
FROM (SELECT r.*, t.value, t.retention FROM runs r JOIN retention t USING (run_id)
      WHERE t.task = r.eval_task AND t.metric = r.headline_metric
        AND r.source_kind <> 'synthetic')
"""


@dataclass
class PrReport:
    problems: list[Problem]
    added: list[str] = field(default_factory=list)
    summary: str = ""
    corrections: list[Problem] = field(default_factory=list)  # what each erratum changes (validate's notes)

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


# --- what else a pull request changes ----------------------------------------------------------------


def _tracked(repo: Path, ref: str | None = None) -> dict[str, str] | None:
    """{path: blob id} of a commit (``ref``) or of a checkout's index (None), paths from the top."""
    if ref is not None:
        out = git_out(["ls-tree", "-r", "-z", "--full-tree", ref], repo)
        if out is None:
            return None
        return {e.partition("\t")[2]: e.partition("\t")[0].split()[2] for e in filter(None, out.split("\0"))}
    out = git_out(["ls-files", "-s", "-z"], repo)
    if out is None:
        return None
    return {e.partition("\t")[2]: e.partition("\t")[0].split()[1] for e in filter(None, out.split("\0"))}


def _top(path: Path) -> tuple[Path, str] | None:
    top = git_out(["rev-parse", "--show-toplevel"], path if path.is_dir() else path.parent)
    if top is None:
        return None
    top_p = Path(top.strip()).resolve()
    try:
        return top_p, path.resolve().relative_to(top_p).as_posix()
    except ValueError:
        return None


def _relative(path: str, runs: Path) -> str | None:
    try:
        return Path(path).relative_to(runs).as_posix()
    except ValueError:
        return None


def _outside(paths: set[str], prefix: str) -> set[str]:
    return {p for p in paths if prefix != "." and not p.startswith(prefix.rstrip("/") + "/")}


def changes_outside_runs(runs: Path, base: str) -> list[str] | None:
    """Paths outside the runs folder that differ between the pull request's checkout and the base (a git
    ref of the same repository, or a runs folder inside the base branch's checkout, as in CI); None when
    neither is a git checkout and nothing can be compared."""
    here = _top(runs)
    if here is None:
        return None
    top, prefix = here
    if Path(base).is_dir():
        there = _top(Path(base))
        if there is None:
            return None
        base_files, base_prefix = _tracked(there[0]), there[1]
    else:
        base_files, base_prefix = _tracked(top, base), prefix
    now = _tracked(top)
    if base_files is None or now is None:
        return None
    status = git_out(["status", "--porcelain", "-z", "--untracked-files=all", "--no-renames"], top) or ""
    dirty = {e[3:] for e in status.split("\0") if len(e) > 3}  # modified, deleted or untracked in the work tree
    old = {p: b for p, b in base_files.items() if p in _outside({p}, base_prefix)}
    new = {p: b for p, b in now.items() if p in _outside({p}, prefix)}
    changed = {p for p in old.keys() | new.keys() if old.get(p) != new.get(p)}
    changed |= _outside(dirty, prefix)
    return sorted(changed)


def _bullets(items: list[str]) -> list[str]:
    """A Markdown list of at most MAX_LISTED items, then how many more there are."""
    more = [f"- … and {len(items) - MAX_LISTED} more"] if len(items) > MAX_LISTED else []
    return [f"- {x}" for x in items[:MAX_LISTED]] + more


def _summary(added: list[str], before: dict[str, dict], after: dict[str, dict], problems: list[Problem],
             outside: list[str] | None = None, new_baselines: list[str] | None = None,
             corrections: list[Problem] | None = None) -> str:
    lines = ["## compression-leaderboard: pull request check", ""]
    errors = [p for p in problems if p.severity == "error"]
    lines.append(f"{len(added)} new run file(s); {len(errors)} error(s), {len(problems) - len(errors)} warning(s).")
    if outside:
        lines += ["", f"### Changes outside runs/ ({len(outside)})", "",
                  "A pull request that adds run files may change nothing else: split code, docs or "
                  "configuration into a pull request of their own.", ""]
        lines += _bullets([_md(path) for path in outside])
    if new_baselines:
        lines += ["", "### New baselines for published models", "",
                  "Retention of published runs is computed against a baseline: check that these are the "
                  "uncompressed runs they should be compared with.", ""]
        lines += [f"- {_md(m)}" for m in new_baselines]
    if corrections:
        lines += ["", f"### Corrections of published runs (errata: {len({c.path for c in corrections})})", "",
                  "Each new file supersedes a published run, which stays as it was; leaderboards, charts and retention "
                  "use the correction. What changes:", ""]
        lines += _bullets([f"{_md(c.path)}: {_md(c.pointer)}: {_md(c.message)}" for c in corrections])
    if errors:
        lines += ["", "| file | field | problem |", "|---|---|---|"]
        lines += [f"| {_md(p.path)} | {_md(p.pointer or '/')} | {_md(p.message)} |" for p in errors[:MAX_LISTED]]
        if len(errors) > MAX_LISTED:
            lines.append(f"\n… and {len(errors) - MAX_LISTED} more error(s) in the log.")
    new = [after[rid] for rid in added if rid in after]
    if new:
        lines += ["", "### New runs", "", "| model | compression | task | value | rank in family |", "|---|---|---|---|---|"]
        lines += [f"| {_md(r['model_id'])} | {_md(r['method_label'])} | {_md(r['task'])} | {_num(r['value'])} | {r['rank']} |"
                  for r in new]
    new_ids = set(added)
    none = {"value": None, "retention": None, "rank": "–"}  # a published run that was not ranked before
    moved = [(after[rid], before.get(rid, none)) for rid in after if rid not in new_ids
             and (rid not in before or after[rid]["rank"] != before[rid]["rank"]
                  or not _same(after[rid]["value"], before[rid]["value"])
                  or not _same(after[rid]["retention"], before[rid]["retention"]))]
    if moved:
        lines += ["", "### Published runs that change", "",
                  "| model | compression | task | value before | value after | retention before | retention after "
                  "| rank before | rank after |",
                  "|---|---|---|---|---|---|---|---|---|"]
        lines += [f"| {_md(r['model_id'])} | {_md(r['method_label'])} | {_md(r['task'])} | {_num(old['value'])} | "
                  f"{_num(r['value'])} | {_num(old['retention'])} | {_num(r['retention'])} | {old['rank']} | {r['rank']} |"
                  for r, old in sorted(moved, key=lambda x: (x[0]["task"], x[0]["rank"]))]
    return "\n".join(lines) + "\n"


MAX_LISTED = 200


def _num(x: float | None) -> str:
    return "–" if x is None else f"{x:.3f}"


def _same(a: float | None, b: float | None) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and abs(a - b) < 1e-9)


def _md(text: object) -> str:
    """Text for a Markdown table cell or list item of the summary (render.html.md_text: one escape everywhere)."""
    return md_text(text)


def rebased(keys: dict[str, RunKey], published: dict[str, str]) -> set[str]:
    """New baselines that published runs depend on: a published run's retention is computed against the baseline
    of its own model or, for a derived checkpoint (a GGUF file, a quantized release), of its lineage base; a new
    baseline of either re-bases it. Each as 'the published model M on T' or 'M on T, the lineage base of ...'."""
    own = {k.model_id for rel, k in keys.items() if rel in published}
    derived: dict[str, set[str]] = {}
    for rel, k in keys.items():
        if rel in published and k.lineage_base is not None:
            derived.setdefault(k.lineage_base, set()).add(k.model_id)
    out = set()
    for rel, k in keys.items():
        if rel in published or not k.is_baseline:
            continue
        if k.model_id in own:
            out.add(f"the published model {k.model_id} on {k.task}")
        if k.model_id in derived:
            out.add(f"{k.model_id} on {k.task}, the lineage base of the published "
                    f"{', '.join(sorted(derived[k.model_id]))}")
    return out


def pr_check(runs: Path, base: str, *, out: Path | None, root: Path, work: Path,
             runs_only: bool = True) -> PrReport:
    """Validate the pull request's runs against the published ones, build a preview, summarise.

    ``runs_only``: changes outside the runs folder are errors (a runs pull request touches nothing else);
    otherwise they are listed in the summary only (``submit`` on a contributor's own checkout)."""
    report = validate_paths([runs], base=base, reject_synthetic=True)
    problems = list(report.problems)
    try:
        published, _kind = base_digests(base, runs)
    except Exception as e:  # noqa: BLE001 - reported as a problem, never a traceback
        return PrReport(problems, summary=f"cannot read the base {_md(base)}: {_md(e)}\n")
    outside = changes_outside_runs(runs, base)
    if outside is None:
        problems.append(Problem(str(runs), "", "changes outside the runs folder were not checked (the runs folder or "
                                "the base is not in a git checkout)", "warning"))
    elif outside and runs_only:
        problems += [Problem(path, "", "changed outside runs/: a pull request that adds run files may not change "
                             "code, configuration or docs") for path in outside]
    keys = {}
    for c in report.checked:
        if c.key is not None:
            try:
                keys[Path(c.path).relative_to(runs).as_posix()] = c.key
            except ValueError:
                continue
    added = [k.run_id for rel, k in keys.items() if rel not in published]
    corrections = [n for n in report.notes if _relative(n.path, runs) not in published]  # this pull request's errata
    new_baselines = sorted(rebased(keys, published))
    problems += [Problem(str(runs), "", f"new baseline for {m}: published retention may change", "warning")
                 for m in new_baselines]
    work.mkdir(parents=True, exist_ok=True)
    pr = PrReport(problems, added, corrections=corrections)
    if pr.errors:
        pr.summary = _summary(added, {}, {}, problems, outside, new_baselines, corrections)
        return pr
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        base_runs = Path(tmp) / "base-runs"
        base_runs.mkdir()
        for rel in published:
            src = runs / rel
            if src.exists():  # unchanged (the append-only check passed)
                (base_runs / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, base_runs / rel)
        try:
            before = _ranks(base_runs, Path(tmp))
            after = _ranks(runs, Path(tmp))
        except IngestError as e:  # e.g. a file changed after it was validated
            pr.problems += e.problems
            pr.summary = _summary(added, {}, {}, pr.problems, outside, new_baselines, corrections)
            return pr
    pr.summary = _summary(added, before, after, problems, outside, new_baselines, corrections)
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
    """Check run files and copy each to its canonical path under ``runs`` (never overwriting, never
    through a link: a folder or file on the way that is a symbolic link is refused)."""
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
        rel = canonical_path(c.run)
        target = runs / rel
        if c.run.supersedes is not None:  # an erratum: the run it corrects must be published there (same model)
            wrong = [p for p in errata_checks([Checked(str(target), c.sha256, c.run)])[0] if p.severity == "error"]
            if wrong:
                out.append(Placed(f, target, "refused", wrong))
                continue
        raw = read_bounded(f)  # what check_file accepted (a regular file within the size limit)
        try:
            ensure_dir(runs, rel.parent)
            if check_target(target):
                same = read_bounded(target, len(raw)) == raw if target.stat().st_size == len(raw) else False
                out.append(Placed(f, target, "exists" if same else "refused",
                                  [] if same else [Problem(str(target), "", "a different file with this run_id is published; "
                                                           "run files are append-only")]))
                continue
            write_atomic(target, raw)
        except (OSError, LoadError) as e:  # UnsafePath, a file where a folder should be, a full disk
            out.append(Placed(f, target, "refused", [Problem(str(target), "", _os_message(e))]))
            continue
        out.append(Placed(f, target, "added"))
    return out


def _os_message(e: Exception) -> str:
    if isinstance(e, UnsafePath | LoadError):
        return str(e)
    return f"cannot write: {e.strerror or e}" if isinstance(e, OSError) else str(e)
