"""DuckDB store: ingest run files (incremental, all-or-nothing) and the analysis views.

Tables: files (what was ingested, by hash), models, runs, compression_steps, results,
relation_results, measured_sparsity, fact_ranks. Views: superseded, current_runs, baselines, retention, pareto,
facts_forgotten.

Errata: a run that another run supersedes (``runs.supersedes``) stays in every table, so it can be queried and
its page shown, but the views (``current_runs`` and all that read it: baselines, retention, pareto, facts_forgotten)
leave it out, so no leaderboard, ranking, chart or retention uses it.
Query it from polars with ``connect(db).sql("select ...").pl()``.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import duckdb
import polars as pl

from . import naming, registry
from .notation import step_notation
from .parallel import Pool, gc_paused
from .schema import FACTS_MAX_FILE_BYTES, FactOutcomes, RunFile, canonical_json, facts_frame
from .validate import (
    DEFAULT_MAX_BYTES,
    IDENTITY_FIELDS,
    Checked,
    LoadError,
    Problem,
    Report,
    Supersession,
    check_bytes,
    json_files,
    model_problems,
    read_bounded,
    set_problems,
    supersession_problems,
    validator_fingerprint,
)

STORE_VERSION = "9"  # 9: runs.headline_metric (from the registry at ingest); 8: errata (runs.supersedes, correction_reason; superseded runs left out of every view); 7: steps a checkpoint arrived with are not part of the run's pipeline; 3: results.task_nonfinite; 4: lineage and stored-size columns; 5: results.task_config; 6: fact ranks are BIGINT, baselines match evaluation settings

DDL = """
CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE IF NOT EXISTS files (path VARCHAR PRIMARY KEY, sha256 VARCHAR NOT NULL, run_id VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR PRIMARY KEY, path VARCHAR NOT NULL, schema_version VARCHAR,
    model_id VARCHAR NOT NULL, model_revision VARCHAR, family VARCHAR NOT NULL, architecture VARCHAR,
    parameters BIGINT, toy BOOLEAN, base_model_id VARCHAR, base_model_revision VARCHAR, derived_by VARCHAR,
    steps_in_checkpoint INTEGER, checkpoint_label VARCHAR, tensor_types VARCHAR,
    source_kind VARCHAR NOT NULL, citation VARCHAR, citation_table VARCHAR, citation_url VARCHAR, citation_page VARCHAR,
    eval_task VARCHAR NOT NULL, eval_data_sha256 VARCHAR, eval_settings VARCHAR, headline_metric VARCHAR,
    n_steps INTEGER NOT NULL, method VARCHAR NOT NULL, method_label VARCHAR NOT NULL, compression_key VARCHAR NOT NULL,
    scope VARCHAR,
    sparsity DOUBLE, scheme VARCHAR,
    weight_bytes BIGINT, bits_per_weight DOUBLE, peak_memory_bytes BIGINT, disk_bytes BIGINT,
    compress_seconds DOUBLE, eval_seconds DOUBLE, throughput DOUBLE, throughput_unit VARCHAR,
    stored_bytes BIGINT, stored_bits_per_weight DOUBLE, kernels VARCHAR,
    runner_version VARCHAR, git_sha VARCHAR, libraries VARCHAR, python VARCHAR, platform VARCHAR,
    device VARCHAR, dtype VARCHAR, seed BIGINT, batch_size INTEGER,
    started_at TIMESTAMPTZ, finished_at TIMESTAMPTZ, command VARCHAR, notes VARCHAR,
    supersedes VARCHAR, correction_reason VARCHAR
);
CREATE TABLE IF NOT EXISTS compression_steps (
    run_id VARCHAR NOT NULL, step_index INTEGER NOT NULL, method VARCHAR NOT NULL, step_key VARCHAR NOT NULL,
    criterion VARCHAR, scheme VARCHAR, scope VARCHAR NOT NULL, granularity VARCHAR, sparsity DOUBLE,
    n INTEGER, m INTEGER, norm INTEGER, dim VARCHAR, notation VARCHAR, calibration VARCHAR, in_checkpoint BOOLEAN
);
CREATE TABLE IF NOT EXISTS results (
    run_id VARCHAR NOT NULL, task VARCHAR NOT NULL, metric VARCHAR NOT NULL,
    value DOUBLE NOT NULL, scale VARCHAR NOT NULL, value_fraction DOUBLE NOT NULL, higher_is_better BOOLEAN NOT NULL,
    n BIGINT, stderr DOUBLE, ci_low DOUBLE, ci_high DOUBLE, ci_level DOUBLE, ci_method VARCHAR,
    task_n BIGINT, task_excluded BIGINT NOT NULL, task_version VARCHAR, num_fewshot INTEGER, task_nonfinite BIGINT,
    task_config VARCHAR
);
CREATE TABLE IF NOT EXISTS relation_results (
    run_id VARCHAR NOT NULL, task VARCHAR NOT NULL, relation VARCHAR NOT NULL, metric VARCHAR NOT NULL,
    value DOUBLE NOT NULL, scale VARCHAR NOT NULL, value_fraction DOUBLE NOT NULL,
    n BIGINT NOT NULL, excluded BIGINT NOT NULL, ci_low DOUBLE, ci_high DOUBLE
);
CREATE TABLE IF NOT EXISTS measured_sparsity (run_id VARCHAR NOT NULL, scope VARCHAR NOT NULL, sparsity DOUBLE NOT NULL);
CREATE TABLE IF NOT EXISTS fact_ranks (run_id VARCHAR NOT NULL, task VARCHAR NOT NULL, fact_id VARCHAR NOT NULL, rank BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS models (
    model_id VARCHAR NOT NULL, model_revision VARCHAR, family VARCHAR, architecture VARCHAR,
    parameters BIGINT, toy BOOLEAN, runs BIGINT
);
"""

RUN_TABLES = ("runs", "compression_steps", "results", "relation_results", "measured_sparsity", "fact_ranks")

# A baseline is an uncompressed run of the same model (id and revision), source kind and evaluation
# (task, data and every setting: a run on 1 fact is no baseline for a run on 1000). Where several
# exist (e.g. two runner versions) the one with the smallest run_id counts: deterministic, and no
# field of a new file (a timestamp) can make it win. Retention needs a baseline value of at least
# MIN_BASELINE: a denormal baseline would turn any run into the best one.
MIN_BASELINE = 1e-6  # written out in VIEWS
VIEWS = """
CREATE OR REPLACE VIEW superseded AS
SELECT supersedes AS run_id, run_id AS superseded_by, correction_reason AS reason
FROM runs WHERE supersedes IS NOT NULL;

CREATE OR REPLACE VIEW current_runs AS
SELECT * FROM runs WHERE run_id NOT IN (SELECT run_id FROM superseded);

CREATE OR REPLACE VIEW baselines AS
SELECT * EXCLUDE (rank) FROM (
    SELECT r.source_kind, r.model_id, r.model_revision, r.eval_task, r.eval_data_sha256, r.eval_settings,
           res.task, res.metric, res.value_fraction AS value, r.run_id,
           row_number() OVER (
               PARTITION BY r.source_kind, r.model_id, r.model_revision, r.eval_task, r.eval_data_sha256,
                            r.eval_settings, res.task, res.metric
               ORDER BY r.run_id) AS rank
    FROM current_runs r JOIN results res USING (run_id)
    WHERE r.n_steps = 0
) WHERE rank = 1;

CREATE OR REPLACE VIEW retention AS
SELECT r.run_id, r.source_kind, r.model_id, r.model_revision, r.family, r.toy, r.parameters,
       r.eval_task, r.method, r.method_label, r.scope, r.sparsity, r.scheme, r.n_steps,
       coalesce(r.stored_bytes, r.weight_bytes) AS weight_bytes,
       coalesce(r.stored_bits_per_weight, r.bits_per_weight) AS bits_per_weight, r.kernels,
       res.task, res.metric, res.higher_is_better, res.value_fraction AS value, res.ci_low, res.ci_high, res.scale,
       b.value AS baseline_value, b.run_id AS baseline_run_id,
       CASE WHEN b.value >= 1e-6 THEN res.value_fraction / b.value END AS retention,
       res.value_fraction - b.value AS delta
FROM current_runs r
JOIN results res USING (run_id)
LEFT JOIN baselines b
  ON b.source_kind = r.source_kind
 -- the baseline's model as an equality of its own (a key of the hash join: inside the CASE below, every baseline of
 -- the task was joined to every run and filtered, 0.6 s of each 100,000-run build)
 AND b.model_id = CASE WHEN r.n_steps > 0 OR r.base_model_id IS NULL THEN r.model_id ELSE r.base_model_id END
 AND (CASE WHEN r.n_steps > 0 OR r.base_model_id IS NULL  -- compressed here: against the model as distributed
           THEN b.model_revision IS NOT DISTINCT FROM r.model_revision
           ELSE r.base_model_revision IS NULL OR b.model_revision = r.base_model_revision END)  -- derived: its base
 AND b.eval_task = r.eval_task AND b.eval_data_sha256 IS NOT DISTINCT FROM r.eval_data_sha256
 AND b.eval_settings = r.eval_settings
 AND b.task = res.task AND b.metric = res.metric;

CREATE OR REPLACE VIEW facts_forgotten AS
SELECT r.run_id, b.run_id AS baseline_run_id, f.task,
       count(*) FILTER (WHERE fb.rank = 1 AND f.rank > 1) AS forgotten,
       count(*) FILTER (WHERE fb.rank > 1 AND f.rank = 1) AS learned,
       count(*) FILTER (WHERE fb.rank = 1 AND f.rank = 1) AS kept,
       count(*) AS compared
FROM current_runs r
JOIN baselines b
  ON b.source_kind = r.source_kind AND b.model_id = r.model_id
 AND b.model_revision IS NOT DISTINCT FROM r.model_revision
 AND b.eval_task = r.eval_task AND b.eval_data_sha256 IS NOT DISTINCT FROM r.eval_data_sha256
 AND b.eval_settings = r.eval_settings
 AND b.metric = r.headline_metric  -- LAMA's P@1, BEAR's accuracy (rank 1 = known)
JOIN fact_ranks f ON f.run_id = r.run_id AND f.task = b.task
JOIN fact_ranks fb ON fb.run_id = b.run_id AND fb.task = f.task AND fb.fact_id = f.fact_id
WHERE r.n_steps > 0
GROUP BY ALL;

CREATE OR REPLACE VIEW pareto AS
WITH points AS (
    SELECT r.run_id, r.source_kind, r.family, r.model_id, r.method, r.method_label, r.scope, r.sparsity,
           r.scheme, coalesce(r.stored_bits_per_weight, r.bits_per_weight) AS bits_per_weight,
           coalesce(r.stored_bytes, r.weight_bytes) AS size_bytes, res.task, res.metric,
           res.value_fraction AS value,
           CASE WHEN res.higher_is_better THEN res.value_fraction ELSE -res.value_fraction END AS score
    FROM current_runs r JOIN results res USING (run_id)
    WHERE r.weight_bytes IS NOT NULL
), ranked AS (
    SELECT *, max(score) OVER (
        PARTITION BY source_kind, family, task, metric
        ORDER BY size_bytes, score DESC, run_id
        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS best_smaller
    FROM points
)
SELECT * EXCLUDE (score, best_smaller) FROM ranked
WHERE best_smaller IS NULL OR score > best_smaller;
"""


class IngestError(Exception):
    def __init__(self, problems: list[Problem]):
        super().__init__(f"{len(problems)} problem(s); nothing was ingested")
        self.problems = problems


@dataclass
class IngestReport:
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    warnings: list[Problem] = field(default_factory=list)
    # each file read (new or changed), as checked: in full (check_bytes) unless validation's sha256 was given for it
    checked: list[Checked] = field(default_factory=list)
    reloaded: bool = False  # the store was made by other code or another layout: every file was loaded again


def connect(db_path: Path | str, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    if not read_only:
        Path(db_path).parent.mkdir(parents=True, exist_ok=True)
    return duckdb.connect(str(db_path), read_only=read_only)


def ensure_schema(con: duckdb.DuckDBPyConnection) -> bool:
    """The store's tables and views. A store of another layout (STORE_VERSION) or made by other code is emptied, so
    the ingest loads every run file again: the ingest derives values from the registries (each run's label, its
    headline metric), and a store kept across a code change (a work folder reused after an upgrade) held the old
    code's values for every run it did not load again (validate.validator_fingerprint: this package's code and data,
    Python and pydantic; the validation cache is keyed by the same). Returns whether it emptied the store."""
    con.execute("CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
    made = dict(con.execute("SELECT key, value FROM meta WHERE key IN ('store_version', 'code')").fetchall())
    code = validator_fingerprint()
    emptied = bool(made) and (made.get("store_version") != STORE_VERSION or made.get("code") != code)
    if emptied:  # rebuild from the run files
        for name in ("pareto", "facts_forgotten", "retention", "baselines", "current_runs", "superseded"):
            con.execute(f"DROP VIEW IF EXISTS {name}")
        for name in (*RUN_TABLES, "models", "files"):
            con.execute(f"DROP TABLE IF EXISTS {name}")
    con.execute(DDL)
    con.execute("INSERT OR REPLACE INTO meta VALUES ('store_version', ?), ('code', ?)", [STORE_VERSION, code])
    con.execute(VIEWS)
    return emptied


# --- flattening runs into rows ---------------------------------------------------------------


def _fraction(value: float, scale: str) -> float:
    return value / 100.0 if scale == "percent" else value


def _headline(run: RunFile) -> str | None:
    """The run's headline metric (registry.headline_metric of its task), where its results hold it; else None (the
    validator warns: such a run is on no leaderboard)."""
    try:
        metric = registry.headline_metric(run.evaluation.task)
    except registry.UnknownTask:
        return None
    held = any(r.task == run.evaluation.task and metric in r.metrics for r in run.results)
    return metric if held else None


def _rows(run: RunFile, path: str) -> dict[str, list[dict]]:
    m, src, ev, meas, prov = run.model, run.source, run.evaluation, run.measured, run.provenance
    steps = run.applied_steps  # the pipeline this run measures; the checkpoint's own steps are its lineage
    held = run.checkpoint_steps
    runs_row = {
        "run_id": run.run_id, "path": path, "schema_version": run.schema_version,
        "model_id": m.id, "model_revision": m.revision, "family": m.family, "architecture": m.architecture,
        "parameters": m.parameters, "toy": m.toy,
        "base_model_id": m.lineage.base if m.lineage else None,
        "base_model_revision": m.lineage.base_revision if m.lineage else None,
        "derived_by": m.lineage.relation if m.lineage else None,
        "steps_in_checkpoint": m.lineage.steps_in_checkpoint if m.lineage else None,
        "checkpoint_label": naming.pipeline_label(held) if held else None,
        "tensor_types": json.dumps(m.lineage.tensor_types) if m.lineage and m.lineage.tensor_types else None,
        "source_kind": src.kind, "citation": getattr(src, "citation", None), "citation_table": getattr(src, "table", None),
        "citation_url": getattr(src, "url", None), "citation_page": getattr(src, "page", None),
        "eval_task": ev.task, "eval_data_sha256": ev.data_sha256, "eval_settings": json.dumps(ev.settings, sort_keys=True),
        "headline_metric": _headline(run),
        "n_steps": len(steps), "method": naming.method_key(steps),
        "method_label": naming.pipeline_label(steps) if steps or not held else naming.as_distributed_label(held),
        "compression_key": canonical_json([s.model_dump(exclude_none=True) for s in steps]),
        "scope": naming.pipeline_scope(steps), "sparsity": naming.pipeline_sparsity(steps),
        "scheme": naming.pipeline_scheme(steps), "notes": run.notes,
        "supersedes": run.supersedes.run_id if run.supersedes else None,
        "correction_reason": run.supersedes.reason if run.supersedes else None,
    }
    for k in ("weight_bytes", "bits_per_weight", "peak_memory_bytes", "disk_bytes", "compress_seconds",
              "eval_seconds", "throughput", "throughput_unit", "stored_bytes", "stored_bits_per_weight", "kernels"):
        runs_row[k] = getattr(meas, k) if meas else None
    for k in ("runner_version", "git_sha", "python", "platform", "device", "dtype", "seed", "batch_size",
              "started_at", "finished_at", "command"):
        runs_row[k] = getattr(prov, k) if prov else None
    runs_row["libraries"] = json.dumps(prov.libraries, sort_keys=True) if prov else None
    step_rows = [
        {"run_id": run.run_id, "step_index": i, "method": s.method, "step_key": str(naming.step_key(s)),
         "criterion": getattr(s, "criterion", None), "scheme": getattr(s, "scheme", None), "scope": s.scope,
         "granularity": getattr(s, "granularity", None), "sparsity": getattr(s, "sparsity", None),
         "n": getattr(s, "n", None), "m": getattr(s, "m", None), "norm": getattr(s, "norm", None),
         "dim": getattr(s, "dim", None), "notation": step_notation(s),
         "calibration": json.dumps(s.calibration.model_dump(), sort_keys=True) if getattr(s, "calibration", None) else None,
         "in_checkpoint": i < len(held)}
        for i, s in enumerate(run.compression)
    ]
    result_rows, relation_rows = [], []
    for tr in run.results:
        for name, mv in tr.metrics.items():
            ci = mv.ci
            result_rows.append({
                "run_id": run.run_id, "task": tr.task, "metric": name, "value": mv.value, "scale": mv.scale,
                "value_fraction": _fraction(mv.value, mv.scale),
                "higher_is_better": registry.metric_info(name).higher_is_better, "n": mv.n, "stderr": mv.stderr,
                "ci_low": ci.low if ci else None, "ci_high": ci.high if ci else None,
                "ci_level": ci.level if ci else None, "ci_method": ci.method if ci else None,
                "task_n": tr.n, "task_excluded": tr.excluded, "task_version": tr.task_version,
                "num_fewshot": tr.num_fewshot, "task_nonfinite": tr.nonfinite,
                "task_config": json.dumps(tr.config, sort_keys=True) if tr.config else None,
            })
        for rel in tr.relations or []:
            for name, mv in rel.metrics.items():
                relation_rows.append({
                    "run_id": run.run_id, "task": tr.task, "relation": rel.relation, "metric": name,
                    "value": mv.value, "scale": mv.scale, "value_fraction": _fraction(mv.value, mv.scale),
                    "n": rel.n, "excluded": rel.excluded,
                    "ci_low": mv.ci.low if mv.ci else None, "ci_high": mv.ci.high if mv.ci else None,
                })
    sparsity_rows = [{"run_id": run.run_id, "scope": k, "sparsity": v} for k, v in (meas.sparsity if meas else {}).items()]
    return {"runs": [runs_row], "compression_steps": step_rows, "results": result_rows,
            "relation_results": relation_rows, "measured_sparsity": sparsity_rows}


class Flat(NamedTuple):
    checked: Checked
    rows: dict[str, list[dict]]  # every table but fact_ranks
    facts: list[tuple[str, str, FactOutcomes]]  # (run_id, task, packed block): unpacked one file at a time


def _check_and_flatten(args: tuple[str, str, int, str | None]) -> Flat:
    """Read, check and flatten one file (in a worker). The path rule is checked on the whole path, as
    ``validate`` does, so ``ingest runs/encoder`` accepts what ``validate runs/encoder`` accepts. ``accepted``: the
    sha256 validation accepted for this file in this process, if any (check_bytes)."""
    rel, shown, max_bytes, accepted = args
    try:
        raw = read_bounded(Path(shown), max_bytes)
    except LoadError as e:
        return Flat(Checked(shown, "", None, [Problem(shown, "", str(e))]), {}, [])
    c = check_bytes(raw, shown, shown.replace(os.sep, "/"), accepted)
    c.size = len(raw)
    if not c.ok:
        return Flat(c.light(), {}, [])
    facts = [(c.run.run_id, tr.task, tr.facts) for tr in c.run.results if tr.facts is not None and tr.facts.count]
    return Flat(c.light(), _rows(c.run, rel), facts)


def _fact_frame(run_id: str, task: str, facts: FactOutcomes) -> pl.DataFrame:
    """One packed block as columns (checked by validation: ids without tabs, ranks 1..MAX_RANK)."""
    frame, _nbytes = facts_frame(facts, FACTS_MAX_FILE_BYTES)
    return frame.select(pl.lit(run_id).alias("run_id"), pl.lit(task).alias("task"), "fact_id", "rank").sort("fact_id")


def _tables_of(flats: list[Flat]) -> tuple[list[Flat], dict[str, pl.DataFrame]]:
    """A worker's share of a batch: its files' rows as one frame per table, built in the worker (building them here
    from the rows' dicts, after they were pickled over, was a quarter of a fresh 100,000-run ingest's main process);
    the files' results without their rows."""
    tables: dict[str, list[dict]] = {}
    for f in flats:
        for table, trs in f.rows.items():
            tables.setdefault(table, []).extend(trs)
    frames = {t: pl.DataFrame(trs, infer_schema_length=None) for t, trs in tables.items() if trs}
    return [f._replace(rows={}) for f in flats], frames


def _table_frame(con: duckdb.DuckDBPyConnection, table: str, frames: list[pl.DataFrame]) -> pl.DataFrame:
    """The workers' frames of one table as one, in the table's column order (a column all null in one share and typed
    in another takes the type: polars' relaxed concatenation)."""
    return (frames[0] if len(frames) == 1 else pl.concat(frames, how="diagonal_relaxed")).select(_columns(con, table))


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    """The table's columns, in order."""
    return [c[0] for c in con.execute(f"SELECT * FROM {table} LIMIT 0").description]  # noqa: S608 (table names are constants)


def _insert(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict]) -> None:
    if not rows:
        return
    frame = pl.DataFrame(rows, infer_schema_length=None).select(_columns(con, table))  # noqa: F841 (read by name below)
    con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM frame")  # noqa: S608


# --- ingest ---------------------------------------------------------------------------------

CHUNK_FILES = 4096  # files checked per batch (in parallel), then inserted: memory is bounded by a batch
CHUNK_BYTES = 128 * 1024 * 1024  # ... and by the bytes of the files in it
FACTS_FLUSH_BYTES = 32 * 1024 * 1024  # unpacked fact bytes held before they are inserted


def _file_sha(path: Path, max_bytes: int) -> tuple[str, int]:
    raw = read_bounded(path, max_bytes)
    return hashlib.sha256(raw).hexdigest(), len(raw)


def _chunks(items: list[tuple[str, int]]) -> list[list[str]]:
    out: list[list[str]] = []
    cur: list[str] = []
    size = 0
    for rel, n in items:
        if cur and (len(cur) >= CHUNK_FILES or size + n > CHUNK_BYTES):
            out.append(cur)
            cur, size = [], 0
        cur.append(rel)
        size += n
    if cur:
        out.append(cur)
    return out


def ingest(runs_dir: Path, db_path: Path, max_bytes: int = DEFAULT_MAX_BYTES,
           validated: Report | None = None) -> IngestReport:
    """Bring the store in line with ``runs_dir``: new and changed files are validated and loaded,
    removed files are dropped, unchanged files (same sha256) are skipped. All or nothing: if any
    file has an error, nothing changes and IngestError lists every problem. ``validated``: what
    ``validate_paths([runs_dir])`` just found (the build's validate phase): a file it accepted is not read again to
    learn whether it changed (its sha256 is the one validation read), and a changed file whose bytes are the ones
    validation accepted is only read into rows, not checked a second time (Report.accepted); the checks across files
    run on every file.

    Memory stays bounded whatever the files hold: they are read, checked and inserted in batches inside
    one transaction (two batches held at most: the next is read while one is inserted), and per-fact outcomes are
    unpacked one file at a time straight into columns."""
    runs_dir = Path(runs_dir)
    accepted = validated.accepted(max_bytes) if validated is not None else {}
    sizes: dict[str, int] = {}
    if accepted and validated.roots == (str(runs_dir),) and not validated.errors:
        # the build validated this very folder a moment ago: its walk is this one (issue 22, scale: a second walk
        # and a stat of every file were a second of a 100,000-run rebuild)
        files = [c.path for c in validated.checked]
        sizes = {c.path: c.size for c in validated.checked if c.size >= 0}
        problems: list[Problem] = []
    else:
        files, problems = json_files([runs_dir])
        problems = [p for p in problems if p.severity == "error"]
    current: dict[str, tuple[str | None, int]] = {}
    shown: dict[str, str] = {}  # relative posix path -> str(runs_dir / rel), without building 300,000 Paths at scale
    base = str(runs_dir) + os.sep
    fresh = not os.path.lexists(db_path)
    for f in files:
        rel = f[len(base):].replace(os.sep, "/") if f.startswith(base) else Path(f).relative_to(runs_dir).as_posix()
        try:
            sha = accepted.get(f)
            # a file validation just read and accepted: its hash is known (its size only sizes the batches); into a
            # new store every file goes, and the hash of the bytes it is made from is the worker's (None: not read
            # here first, which was a tenth of a fresh 100,000-run build's ingest)
            current[rel] = ((sha, sizes[f] if f in sizes else os.lstat(f).st_size) if sha is not None
                            else (None, os.lstat(f).st_size) if fresh else _file_sha(Path(f), max_bytes))
        except LoadError as e:
            problems.append(Problem(f, "", str(e)))
        except OSError as e:
            problems.append(Problem(f, "", f"cannot be read: {e.strerror or e}"))
        else:
            shown[rel] = f

    try:
        return _ingest(runs_dir, db_path, current, shown, problems, max_bytes, accepted)
    except BaseException:
        if fresh:  # a refused first ingest leaves no store behind (not an empty one that looks like a result)
            for leftover in (Path(db_path), Path(f"{db_path}.wal")):
                leftover.unlink(missing_ok=True)
        raise


def _ingest(runs_dir: Path, db_path: Path, current: dict[str, tuple[str, int]], shown: dict[str, str],
            problems: list[Problem], max_bytes: int, accepted: dict[str, str]) -> IngestReport:
    def where(rel: str) -> str:  # every path in the store is a current file's once stale rows are gone
        return shown.get(rel) or str(runs_dir / rel)

    con = connect(db_path)
    pool = Pool()  # one set of workers for every batch
    try:
        con.execute("BEGIN TRANSACTION")  # the schema's (re)creation too: a refused ingest leaves the store as it was
        try:
            reloaded = ensure_schema(con)
            known = {p: (sha, rid) for p, sha, rid in con.execute("SELECT path, sha256, run_id FROM files").fetchall()}
            changed = {rel: v for rel, v in current.items() if v[0] is None or known.get(rel, (None,))[0] != v[0]}
            removed = [rel for rel in known if rel not in current]
            stale_ids = [known[rel][1] for rel in removed] + [known[rel][1] for rel in changed if rel in known]
            kept_ids = {rid: p for p, (_s, rid) in known.items() if p in current and p not in changed}
            if stale_ids or removed or changed:
                stale = pl.DataFrame({"run_id": stale_ids}, schema={"run_id": pl.String})  # noqa: F841
                gone = pl.DataFrame({"path": removed + list(changed)}, schema={"path": pl.String})  # noqa: F841
                for table in RUN_TABLES:
                    con.execute(f"DELETE FROM {table} WHERE run_id IN (SELECT run_id FROM stale)")  # noqa: S608
                con.execute("DELETE FROM files WHERE path IN (SELECT path FROM gone)")
            checked: list[Checked] = []
            # No collection while batches come and go: their rows hold no cycles, and each collection walked every
            # row still held (a fifth of this process's time at 100,000 runs)
            with gc_paused():
                chunks = _chunks([(rel, changed[rel][1]) for rel in sorted(changed)])
                # the workers read the next batch while this process inserts this one (issue 22, scale: inserting
                # was a third of a fresh 100,000-run ingest, with the workers idle)
                batches = ([(rel, shown[rel], max_bytes, accepted.get(shown[rel])) for rel in chunk] for chunk in chunks)
                for chunk, parts in zip(chunks, pool.map_ahead(_check_and_flatten, batches, _tables_of), strict=True):
                    flats = [f for part_flats, _ in parts for f in part_flats]
                    file_rows = []
                    facts: list[tuple[str, str, FactOutcomes]] = []
                    for rel, flat in zip(chunk, flats, strict=True):
                        c = flat.checked
                        checked.append(c)
                        problems.extend(p for p in c.problems if p.severity == "error")
                        # bytes other than those hashed a moment ago; where validation gave the hash, the worker
                        # checked the new bytes in full (check_bytes: not the accepted ones) and they stand or fall alone
                        if (c.sha256 and changed[rel][0] is not None and c.sha256 != changed[rel][0]
                                and accepted.get(shown[rel]) != changed[rel][0]):
                            problems.append(Problem(c.path, "", "changed while it was being ingested; run ingest again"))
                        if problems:
                            continue  # keep checking (every problem is reported), stop loading
                        facts.extend(flat.facts)
                        file_rows.append({"path": rel, "sha256": c.sha256, "run_id": c.key.run_id})
                    if problems:
                        continue
                    for table in RUN_TABLES:
                        frames = [frames_of[table] for _, frames_of in parts if table in frames_of]
                        if frames:
                            _insert_frame(con, table, _table_frame(con, table, frames))
                    _insert(con, "files", file_rows)
                    _insert_facts(con, facts)
            problems += [p for p in set_problems(checked) if p.severity == "error"]
            for c in checked:
                if c.key is not None and c.key.run_id in kept_ids:
                    problems.append(Problem(c.path, "/run_id", f"duplicate run_id {c.key.run_id}: also in "
                                            f"{where(kept_ids[c.key.run_id])}"))
            if not problems:  # model ids and errata across the whole store, not only the files that changed
                cols = ", ".join(IDENTITY_FIELDS)  # the same fields, in the same order, as model_identity()
                entries = con.execute(f"SELECT path, model_id, {cols} FROM runs ORDER BY path").fetchall()  # noqa: S608 (constant names)
                problems += model_problems((where(p), mid, tuple(ident)) for p, mid, *ident in entries)
                problems += supersession_problems(
                    Supersession(where(p), rid, mid, sup) for p, rid, mid, sup in
                    con.execute("SELECT path, run_id, model_id, supersedes FROM runs ORDER BY path").fetchall())
            if problems:
                raise IngestError(_dedupe(problems))
            con.execute("DELETE FROM models")
            con.execute("""
                INSERT INTO models
                SELECT model_id, model_revision, any_value(family), any_value(architecture),
                       max(parameters), bool_or(toy), count(*)
                FROM runs GROUP BY model_id, model_revision ORDER BY model_id, model_revision
            """)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    finally:
        pool.close()
        con.close()
    n_updated = sum(1 for rel in changed if rel in known)
    return IngestReport(added=len(changed) - n_updated, updated=n_updated, removed=len(removed),
                        unchanged=len(current) - len(changed), checked=checked, reloaded=reloaded)


def _dedupe(problems: list[Problem]) -> list[Problem]:
    return list(dict.fromkeys(problems))


def _insert_facts(con: duckdb.DuckDBPyConnection, facts: list[tuple[str, str, FactOutcomes]]) -> None:
    """Unpack fact blocks a few at a time, never all of a batch at once."""
    frames: list[pl.DataFrame] = []
    held = 0
    for run_id, task, block in facts:
        frame = _fact_frame(run_id, task, block)
        frames.append(frame)
        held += frame.estimated_size()
        if held >= FACTS_FLUSH_BYTES:
            _insert_frame(con, "fact_ranks", pl.concat(frames))
            frames, held = [], 0
    if frames:
        _insert_frame(con, "fact_ranks", pl.concat(frames))


def _insert_frame(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> None:
    con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM frame")  # noqa: S608 (table names are constants)
