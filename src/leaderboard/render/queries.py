"""The one place the site's pages read the store (DuckDB, src/leaderboard/store.py): every SQL query the pages run."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import polars as pl

from ..compress import registry as methods_registry
from . import charts, lineage, metrics

HEADLINE = "r.headline_metric"  # filled at ingest from the registry (registry.headline_metric)


# A result reported with a standard error and no interval (the BEAR leaderboard's sem, lm-eval's acc_stderr) gets the
# normal 95% interval value ± 1.96 SE, in the metric's own scale; pages say where an interval came from.
SE_LOW = f"({{r}}.value - {metrics.Z!r} * {{r}}.stderr)"
SE_HIGH = f"({{r}}.value + {metrics.Z!r} * {{r}}.stderr)"


# The headline frame: one row per run with a result for the headline metric of its own task. Every page reads
# these columns (by name) and nothing else of the store's results; headline() checks the frame against this schema, so a
# store or query change that renames, drops, adds or retypes a column fails the build here, not on some page.
HEADLINE_SCHEMA = pl.Schema({
    # the run
    "run_id": pl.String, "source_kind": pl.String, "model_id": pl.String, "model_revision": pl.String,
    "family": pl.String, "toy": pl.Boolean, "parameters": pl.Int64,
    # its compression
    "method": pl.String, "method_label": pl.String, "compression_key": pl.String, "scope": pl.String,
    "sparsity": pl.Float64, "scheme": pl.String, "n_steps": pl.Int32, "bits_per_weight": pl.Float64,
    "weight_bytes": pl.Int64,
    # the headline metric on the run's task, kept (retention) against its baseline, and the 95% interval
    "task": pl.String, "value": pl.Float64, "metric": pl.String, "retention": pl.Float64, "baseline_value": pl.Float64,
    "baseline_run_id": pl.String, "ci_low": pl.Float64, "ci_high": pl.Float64, "ci_from_se": pl.Boolean,
    "n": pl.Int64, "nonfinite": pl.Int64, "whole_sparsity": pl.Float64, "series": pl.String,
    # lineage and errata
    "checkpoint_label": pl.String, "tensor_types": pl.String, "base_model_id": pl.String, "derived_by": pl.String,
    "supersedes": pl.String, "correction_reason": pl.String,
    # filled here (nominal settings, names) and by metrics.add_retention (intervals of kept, verdict)
    "bits_nominal": pl.Float64, "sparsity_nominal": pl.Float64, "method_name": pl.String, "near_chance": pl.Boolean,
    "ret_low": pl.Float64, "ret_high": pl.Float64, "ret_paired": pl.Boolean, "nret": pl.Float64,
    "nret_low": pl.Float64, "nret_high": pl.Float64, "verdict": pl.String, "lineage_note": pl.String,
})


class HeadlineSchemaError(ValueError):
    pass


def checked(h: pl.DataFrame) -> pl.DataFrame:
    """``h`` if its columns are HEADLINE_SCHEMA's (names, order and types), else HeadlineSchemaError naming the first
    column that differs."""
    if h.schema == HEADLINE_SCHEMA:
        return h
    got, want = list(h.schema.items()), list(HEADLINE_SCHEMA.items())
    for i in range(max(len(got), len(want))):
        g, w = (got[i] if i < len(got) else None), (want[i] if i < len(want) else None)
        if g != w:
            raise HeadlineSchemaError(
                f"headline frame, column {i + 1}: expected {f'{w[0]} ({w[1]})' if w else 'no column'}, "
                f"got {f'{g[0]} ({g[1]})' if g else 'no column'} (render/queries.py HEADLINE_SCHEMA)")
    raise AssertionError("unreachable")  # equal lists of (name, type) make equal schemas


def _q(con: duckdb.DuckDBPyConnection, sql: str, params: list | dict | None = None) -> pl.DataFrame:
    return con.sql(sql, params=params).pl() if params else con.sql(sql).pl()


def headline(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """One row per run with its headline metric (P@1 for LAMA, accuracy for lm-eval), retention and intervals."""
    h = _q(con, f"""
        SELECT r.run_id, r.source_kind, r.model_id, r.model_revision, r.family, r.toy, r.parameters, r.method,
               r.method_label, r.compression_key, r.scope, r.sparsity, r.scheme, r.n_steps, t.bits_per_weight,
               t.weight_bytes, r.eval_task AS task, t.value, t.metric, t.retention, t.baseline_value, t.baseline_run_id,
               coalesce(t.ci_low, {SE_LOW.format(r="res")}) / CASE WHEN t.scale = 'percent' THEN 100.0 ELSE 1.0 END AS ci_low,
               coalesce(t.ci_high, {SE_HIGH.format(r="res")}) / CASE WHEN t.scale = 'percent' THEN 100.0 ELSE 1.0 END AS ci_high,
               t.ci_low IS NULL AND res.stderr IS NOT NULL AS ci_from_se,
               res.n, res.task_nonfinite AS nonfinite, ms.sparsity AS whole_sparsity,
               r.method || CASE WHEN coalesce(r.scope, 'all') <> 'all' THEN ' @ ' || r.scope ELSE '' END AS series,
               r.checkpoint_label, r.tensor_types, r.base_model_id, r.derived_by, r.supersedes, r.correction_reason,
               nb.bits_nominal
        FROM runs r JOIN retention t USING (run_id)
        JOIN results res ON res.run_id = r.run_id AND res.task = t.task AND res.metric = t.metric
        LEFT JOIN measured_sparsity ms ON ms.run_id = r.run_id AND ms.scope = 'all'
        LEFT JOIN (SELECT run_id, arg_max(TRY_CAST(regexp_extract(notation, '[:,]bits=([0-9.]+)', 1) AS DOUBLE), step_index)
                          FILTER (WHERE method = 'quantize' AND regexp_matches(notation, '[:,]bits=[0-9.]+')) AS bits_nominal
                   FROM compression_steps GROUP BY run_id) nb ON nb.run_id = r.run_id
        WHERE t.metric = {HEADLINE} AND t.task = r.eval_task
        ORDER BY r.model_id, r.n_steps, r.method, r.scope, r.sparsity, r.scheme, r.eval_task, r.run_id
    """)
    # no measured sparsity: an uncompressed baseline removes nothing (0); a quantized run is unknown ("–", not 0 %); a
    # run pruned over every Linear layer has the requested share as its nominal sparsity (marked nominal where shown).
    # No measured bits: a scheme that states its bits (GPTQ, RTN: bits=4) has them as nominal bits (marked nominal).
    prune_all = pl.col("method").str.contains("prune") & (pl.col("scope").fill_null("all") == "all") & (pl.col("n_steps") == 1)
    h = h.with_columns(sparsity_nominal=pl.when(pl.col("whole_sparsity").is_null() & prune_all).then(pl.col("sparsity")),
                       bits_nominal=pl.when(pl.col("bits_per_weight").is_null()).then(pl.col("bits_nominal")))
    h = h.with_columns(whole_sparsity=pl.when(pl.col("whole_sparsity").is_null() & (pl.col("n_steps") == 0)
                                              & pl.col("checkpoint_label").is_null())
                       .then(pl.lit(0.0)).otherwise(pl.col("whole_sparsity")),
                       method_name=_mapped(h, "method", metrics.method_name),
                       method_label=_mapped(h, "method_label", metrics.cap))
    paired = _q(con, """
        SELECT f.run_id, f.task, f.kept, f.forgotten, f.learned, f.compared,
               (f.kept + f.learned)::DOUBLE / nullif(f.kept + f.forgotten, 0) AS micro_ret
        FROM facts_forgotten f""")
    base_ci = _q(con, f"""
        SELECT r.run_id, coalesce(res.ci_low, {SE_LOW.format(r="res")}) / CASE WHEN res.scale = 'percent' THEN 100.0 ELSE 1.0 END AS ci_low,
               coalesce(res.ci_high, {SE_HIGH.format(r="res")}) / CASE WHEN res.scale = 'percent' THEN 100.0 ELSE 1.0 END AS ci_high
        FROM current_runs r JOIN results res USING (run_id) WHERE r.n_steps = 0 AND res.metric = {HEADLINE} AND res.task = r.eval_task""")
    h = metrics.add_retention(h, paired, base_ci)
    keys = ["model_id", "checkpoint_label", "tensor_types", "base_model_id", "derived_by"]
    notes = h.select(keys).unique().sort(keys, nulls_last=True)
    notes = notes.with_columns(lineage_note=pl.Series([lineage.lineage_note(r) for r in notes.iter_rows(named=True)],
                                                      dtype=pl.String))
    h = h.join(notes, on=keys, how="left", nulls_equal=True, maintain_order="left")
    # a checkpoint that arrived compressed, run as it is, is a baseline but not an uncompressed one (legends say so)
    return checked(h.with_columns(method_name=pl.when((pl.col("n_steps") == 0) & pl.col("checkpoint_label").is_not_null())
                                  .then(pl.lit(charts.AS_DISTRIBUTED)).otherwise(pl.col("method_name"))))


def _mapped(df: pl.DataFrame, column: str, fn) -> pl.Expr:
    """``fn`` of each value of a text column (null stays null), called once a distinct value: map_elements called it
    once a row (100,000 rows: 0.3 s)."""
    values = df.get_column(column).drop_nulls().unique().to_list()
    return pl.col(column).replace_strict({v: fn(v) for v in values}, default=None, return_dtype=pl.String)


def counts(con: duckdb.DuckDBPyConnection) -> dict:
    """The home page's counts: runs, models, families, reported and corrected results (current runs only)."""
    return _q(con, "SELECT count(*) AS runs, count(DISTINCT model_id) AS models, count(DISTINCT family) AS families, "
                   "count(*) FILTER (WHERE source_kind = 'reported') AS reported, "
                   "count(*) FILTER (WHERE supersedes IS NOT NULL) AS corrected FROM current_runs").row(0, named=True)


def run_files(con: duckdb.DuckDBPyConnection) -> int:
    """How many run files the store holds (superseded ones included)."""
    return _q(con, 'SELECT count(*) AS n FROM runs')['n'][0]


RUN_LIST_COLUMNS = "run_id, path, model_id, method_label, eval_task, source_kind, toy, finished_at"


def runs_at(con: duckdb.DuckDBPyConnection, paths: list[str]) -> pl.DataFrame:
    """The runs whose files are at ``paths`` (relative to runs/), for a list of links."""
    cols = RUN_LIST_COLUMNS
    return _q(con, f"SELECT {cols} FROM runs WHERE path IN (SELECT unnest(?)) ORDER BY model_id, method_label, eval_task, "
                   "run_id", [paths])


def latest_runs(con: duckdb.DuckDBPyConnection, limit: int) -> pl.DataFrame:
    """The runs that finished last, for a list of links."""
    cols = RUN_LIST_COLUMNS
    return _q(con, f"SELECT {cols} FROM runs ORDER BY finished_at DESC NULLS LAST, run_id LIMIT {int(limit)}")


def pareto_front(con: duckdb.DuckDBPyConnection, fam: str) -> pl.DataFrame:
    """The runs of a family on its size-vs-knowledge frontier (the store's pareto view, headline metric), by run id."""
    return pareto_fronts(con).filter(pl.col("family") == fam).select("run_id")


def pareto_fronts(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Every family's frontier (pareto_front) in one query: family, run_id (a query a family computed the whole view
    each time, 0.09 s at 100,000 runs)."""
    return _q(con, """SELECT p.family, p.run_id FROM pareto p JOIN runs r USING (run_id)
                   WHERE p.metric = r.headline_metric ORDER BY p.family, p.run_id""")


def relation_kept_all(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Every model's P@1 per relation relative to its baseline, under global magnitude pruning and quantization of
    every Linear layer (and the baselines), in one query (one per model cost 343 scans of relation_results at 100,000
    runs), model_id first; pages/models.py splits it per model."""
    return _q(con, """
        SELECT r.model_id, rr.relation, rr.value_fraction AS value, rr.n, r.method_label AS compression, r.n_steps,
               r.sparsity, r.scheme, r.method, r.scope, r.run_id,
               rr.value_fraction / nullif(b.value_fraction, 0) AS retention
        FROM relation_results rr JOIN current_runs r USING (run_id)
        LEFT JOIN (SELECT r2.model_id, rr2.relation, rr2.task, rr2.value_fraction, r2.model_revision, r2.eval_data_sha256,
                          r2.source_kind
                   FROM relation_results rr2 JOIN current_runs r2 USING (run_id)
                   WHERE r2.n_steps = 0 AND rr2.metric = 'precision@1') b
          ON b.model_id = r.model_id AND b.relation = rr.relation AND b.task = rr.task
         AND b.model_revision IS NOT DISTINCT FROM r.model_revision
         AND b.eval_data_sha256 IS NOT DISTINCT FROM r.eval_data_sha256 AND b.source_kind = r.source_kind
        WHERE rr.metric = 'precision@1'
          AND (r.n_steps = 0 OR (r.n_steps = 1 AND r.scope = 'all' AND list_contains(?, r.method)))
        ORDER BY r.model_id, r.n_steps, r.sparsity NULLS FIRST, r.scheme, compression, rr.relation, rr.task, r.run_id""",
              [methods_registry.heatmap_keys()])


def facts_forgotten_all(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Every model's facts forgotten and newly right, per run and task, in one query, model_id first (a total order:
    same runs, same bytes); pages/models.py splits it per model."""
    return _q(con, """
        SELECT r.model_id, r.method_label, f.task, f.forgotten, f.learned, f.kept, f.compared, r.run_id
        FROM facts_forgotten f JOIN runs r USING (run_id)
        ORDER BY r.model_id, f.forgotten, r.method_label, f.task, r.run_id""")


@dataclass(frozen=True)
class RunTables:
    """Every row of the tables the run pages show, each in the order the pages list it."""
    results: pl.DataFrame
    steps: pl.DataFrame
    sparsity: pl.DataFrame
    relations: pl.DataFrame
    forgotten: pl.DataFrame
    superseded: pl.DataFrame
    runs: pl.DataFrame


def run_tables(con: duckdb.DuckDBPyConnection, ids: list[str] | None = None) -> RunTables:
    """What run pages show, for every run or only the runs ``ids``."""
    # a hash semi-join: list_contains() scanned the whole list for each row (a worker's 2,000 ids x 450,000 rows)
    sel = "run_id IN (SELECT unnest($ids)) "
    where, and_, params = (f"WHERE {sel}", f"AND {sel}", {"ids": ids}) if ids is not None else ("", "", None)

    def q(sql: str) -> pl.DataFrame:
        return _q(con, sql, params)

    return RunTables(
        results=q(f"SELECT * FROM results {where}ORDER BY run_id, task, metric"),  # noqa: S608 (constant SQL)
        steps=q(f"SELECT * FROM compression_steps {where}ORDER BY run_id, step_index"),  # noqa: S608
        sparsity=q(f"SELECT * FROM measured_sparsity {where}ORDER BY run_id, scope"),  # noqa: S608
        relations=q(f"SELECT * FROM relation_results WHERE metric = 'precision@1' {and_}ORDER BY run_id, task, relation"),  # noqa: S608
        forgotten=q(f"SELECT * FROM facts_forgotten {where}ORDER BY run_id, task"),  # noqa: S608
        superseded=superseded_rows(con),
        runs=q(f"SELECT * FROM runs {where}ORDER BY run_id"))  # noqa: S608


def superseded_rows(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """The ``superseded`` view: each run an erratum corrects, with the correcting run and its reason."""
    return _q(con, "SELECT * FROM superseded ORDER BY run_id")


def run_file_shas(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[str, str]]:
    """Each run's file: run_id -> (path under runs/, sha256 of its bytes)."""
    return {rid: (path, sha) for rid, path, sha in con.execute("SELECT run_id, path, sha256 FROM files").fetchall()}


def relation_p1(con: duckdb.DuckDBPyConnection, run_ids: list[str] | None = None) -> pl.DataFrame:
    """P@1 per run, task and relation (v: the fraction; n: facts); of the runs ``run_ids`` only, where given."""
    only = " AND run_id IN (SELECT unnest($ids))" if run_ids is not None else ""
    return _q(con, "SELECT run_id, task, relation, value_fraction AS v, n FROM relation_results WHERE metric = 'precision@1'"
                   f"{only} ORDER BY run_id, task, relation", {"ids": run_ids} if run_ids is not None else None)


def fact_ids(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Every fact id scored, per task, sorted."""
    return _q(con, "SELECT task, fact_id FROM fact_ranks GROUP BY task, fact_id ORDER BY task, fact_id")


def fact_ranks(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """The rank of each fact's answer, per run and task."""
    return _q(con, "SELECT run_id, task, fact_id, rank FROM fact_ranks ORDER BY run_id, task, fact_id")


DOWNLOAD_TABLES = ("runs", "results", "relation_results", "compression_steps", "measured_sparsity", "models")


def whole_table(con: duckdb.DuckDBPyConnection, t: str) -> pl.DataFrame:
    """Every row of one of the tables the site offers for download, in a fixed order."""
    if t not in DOWNLOAD_TABLES:
        raise ValueError(f"{t!r} is not a table the site offers for download ({', '.join(DOWNLOAD_TABLES)})")
    return _q(con, f"SELECT * FROM {t} ORDER BY ALL")  # noqa: S608 (constant table names)


def published_rows(con: duckdb.DuckDBPyConnection, shown_metrics: tuple[str, ...]) -> pl.DataFrame:
    """Every reported value of ``shown_metrics`` with its citation, the paper's words, and a reproduced twin if any (the
    latest reproduced run of the same model, compression and task)."""
    return _q(con, """
        SELECT r.run_id, r.model_id, r.family, r.parameters, r.method_label, r.compression_key, r.eval_task AS task,
               r.citation, r.citation_table, r.citation_url, r.n_steps, r.scheme, r.method, r.correction_reason,
               res.metric, res.value, res.scale, res.value_fraction, res.stderr, res.task_config, res.num_fewshot,
               rep.run_id AS repro_run_id, rep.value_fraction AS repro_value, rep.ci_low AS repro_low,
               rep.ci_high AS repro_high, rep.toy AS repro_toy
        FROM runs r JOIN results res ON res.run_id = r.run_id AND res.task = r.eval_task
        LEFT JOIN (
            SELECT r2.run_id, r2.model_id, r2.compression_key, r2.eval_task, r2.toy, x.metric, x.value_fraction,
                   x.ci_low, x.ci_high,
                   row_number() OVER (PARTITION BY r2.model_id, r2.compression_key, r2.eval_task, x.metric
                                      ORDER BY r2.finished_at DESC NULLS LAST, r2.run_id) AS k
            FROM current_runs r2 JOIN results x ON x.run_id = r2.run_id AND x.task = r2.eval_task
            WHERE r2.source_kind = 'reproduced'
        ) rep ON rep.model_id = r.model_id AND rep.compression_key = r.compression_key
             AND rep.eval_task = r.eval_task AND rep.metric = res.metric AND rep.k = 1
        WHERE r.source_kind = 'reported'
          AND r.run_id NOT IN (SELECT run_id FROM superseded)  -- a corrected row is shown as its correction
          AND list_contains(?, res.metric)
        ORDER BY r.citation, r.citation_table, r.parameters, r.model_id, r.n_steps, r.compression_key, r.eval_task, res.metric,
                 r.run_id
    """, [list(shown_metrics)])
