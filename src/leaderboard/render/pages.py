"""Generate the site's data pages (Markdown files holding raw-HTML blocks) and charts from the store."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from .. import registry
from ..compress import registry as methods_registry
from ..schema import model_slug
from . import charts, lineage, metrics, tables
from .fmt import fmt, pct
from .html import Safe, badge, block, code, dl, esc, link, md_text, script_json, table

HEADLINE = "r.headline_metric"  # filled at ingest from the registry (registry.headline_metric)


# A result reported with a standard error and no interval (the BEAR leaderboard's sem, lm-eval's acc_stderr) gets the
# normal 95% interval value ± 1.96 SE, in the metric's own scale; pages say where an interval came from.
SE_LOW = f"({{r}}.value - {metrics.Z!r} * {{r}}.stderr)"
SE_HIGH = f"({{r}}.value + {metrics.Z!r} * {{r}}.stderr)"


def method_slug(method: str) -> str:
    """File name of a method's page; a long pipeline (up to 20 steps) keeps a short, unique name."""
    slug = re.sub(r"[^a-z0-9]+", "-", method.lower()).strip("-") or "method"
    if len(slug) > 80:
        slug = f"{slug[:60].rstrip('-')}-{hashlib.sha256(method.encode()).hexdigest()[:12]}"
    return slug


# Spreadsheets run a cell that starts with one of these as a formula (=HYPERLINK(...), +cmd|...): in CSV
# downloads such text cells get a leading apostrophe, as OWASP recommends. Parquet and DuckDB keep the raw text.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "|", "%")


def csv_safe(df: pl.DataFrame) -> pl.DataFrame:
    pattern = "^[" + re.escape("".join(FORMULA_START)) + "]"
    return df.with_columns(
        pl.when(pl.col(c).str.contains(pattern)).then("'" + pl.col(c)).otherwise(pl.col(c)).alias(c)
        for c, dtype in df.schema.items() if dtype == pl.String
    )


@dataclass
class Site:
    out: Path  # the generated folder (pages, charts, snippets)
    con: duckdb.DuckDBPyConnection
    pages: dict[str, str] = field(default_factory=dict)  # path -> markdown
    snippets: dict[str, str] = field(default_factory=dict)
    run_pages: dict[str, tuple[str, str]] = field(default_factory=dict)  # run_id -> (title, body html)
    colours: charts.Colours | None = None
    data: dict[str, object] = field(default_factory=dict)  # path under generated/ -> JSON for the compare page

    def q(self, sql: str, params: list | None = None) -> pl.DataFrame:
        return self.con.sql(sql, params=params).pl() if params else self.con.sql(sql).pl()

    def page(self, path: str, title: str, *parts: str, rows: pl.DataFrame | None = None) -> None:
        """Data pages use the full width: no side navigation, no table of contents. ``rows``: the results the page
        shows; its status banner says what they are (reproduced, reported, toy, synthetic) instead of the site's."""
        banner = page_status(rows) if rows is not None else ""
        # the title in the front matter too: MkDocs takes a page's title from a first-line heading only, and the banner
        # comes first (without it, the browser tab read the file name)
        self.pages[path] = (f"---\ntitle: {json.dumps(title)}\nhide:\n  - navigation\n  - toc\n---\n\n" + banner
                            + f"# {md_text(title)}\n" + "".join(parts))

    cache: Path | None = None

    def chart(self, chart, name: str, title: str, depth: int, description: str) -> Safe:
        """The static SVG (for readers without JavaScript, and the SVG link) and the Vega-Lite spec; the Vega
        bundle is loaded by the pages that have a chart, and only by them."""
        saved = charts.save(chart, name, title, self.out / "charts", self.cache)
        prefix = "../" * depth
        return Safe(
            f'<figure class="lb-chart" id="chart-{esc(name)}" data-label="{esc(title)}. {esc(description)}">'
            f'<img src="{prefix}charts/{esc(saved.svg)}" alt="{esc(title)}. {esc(description)}" loading="lazy">'
            f'<script type="application/json" class="lb-spec">{script_json(saved.spec)}</script>'
            f'<figcaption>{esc(title)}. {esc(description)} · <a href="{prefix}charts/{esc(saved.svg)}">SVG</a></figcaption>'
            f'</figure><script type="module" src="{prefix}assets/vega/vega-bundle.js"></script>'
            f'<script type="module" src="{prefix}assets/charts.js"></script>')


# --- queries ------------------------------------------------------------------------------------------


def headline(site: Site) -> pl.DataFrame:
    """One row per run with its headline metric (P@1 for LAMA, accuracy for lm-eval), retention and intervals."""
    h = site.q(f"""
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
                       method_name=pl.col("method").map_elements(metrics.method_name, return_dtype=pl.String),
                       method_label=pl.col("method_label").map_elements(metrics.cap, return_dtype=pl.String))
    paired = site.q("""
        SELECT f.run_id, f.task, f.kept, f.forgotten, f.learned, f.compared,
               (f.kept + f.learned)::DOUBLE / nullif(f.kept + f.forgotten, 0) AS micro_ret
        FROM facts_forgotten f""")
    base_ci = site.q(f"""
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
    return h.with_columns(method_name=pl.when((pl.col("n_steps") == 0) & pl.col("checkpoint_label").is_not_null())
                          .then(pl.lit(charts.AS_DISTRIBUTED)).otherwise(pl.col("method_name")))


# --- what the site leads with ---------------------------------------------------------------------



def _is_toy() -> pl.Expr:
    return pl.col("toy").fill_null(False)


def _is_probe() -> pl.Expr:
    """Tasks of the suites that probe stored facts (the registry's knowledge probes; lm-eval tasks measure other
    things)."""
    from ..evaluate import registry as suites

    return pl.any_horizontal(pl.lit(False), *(pl.col("task").str.starts_with(f"{s}:") for s in suites.knowledge_probes()))


def real_probes(h: pl.DataFrame) -> pl.DataFrame:
    """Reproduced runs of real (not toy) models on the knowledge probes (LAMA, BEAR): what the site leads with."""
    return h.filter((pl.col("source_kind") == "reproduced") & ~_is_toy() & _is_probe())


def lead_tasks(h: pl.DataFrame) -> list[str]:
    """The real models' knowledge-probe tasks: the columns tables show first."""
    return sorted(set(real_probes(h)["task"].to_list()), key=lambda t: (tables.task_rank(t), t))


def split_toy(h: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(rows of the main pages, rows of the demo page). Toy models live on the demo page; a build with no other
    model shows them on the main pages too (marked toy, and the status banner says so)."""
    toy = h.filter(_is_toy())
    main = h.filter(~_is_toy())
    return (main if not main.is_empty() else h), toy


def default_source(rows: pl.DataFrame) -> str | None:
    """Tables open on the runs reproduced here when there are others too (reported ones are one filter away)."""
    kinds = set(rows["source_kind"].to_list())
    return "reproduced" if "reproduced" in kinds and len(kinds) > 1 else None


def lead(h: pl.DataFrame) -> tuple[str, str, pl.DataFrame]:
    """What the home page's chart and tables come from: the first of these with compressed runs that have a
    'kept' (else the first with any run): reproduced runs of real models on the knowledge probes; on other tasks;
    real models' results reported in papers; and, only when no real model has a run at all, the toy models,
    then synthetic runs. Returns (key, label, rows); key 'real-probes' is the set the site means to lead with."""
    toy, kind = _is_toy(), pl.col("source_kind")
    sets = [("real-probes", "real models, reproduced here", real_probes(h)),
            ("real-other", "real models, reproduced here", h.filter((kind == "reproduced") & ~toy & ~_is_probe())),
            ("reported", "real models, as reported in papers", h.filter((kind == "reported") & ~toy))]
    if h.filter(~toy & (kind != "synthetic")).is_empty():
        sets += [("toy", "toy models (demo)", h.filter(toy & (kind != "synthetic"))),
                 ("synthetic", "synthetic runs (not measurements)", h.filter(kind == "synthetic"))]
    for key, label, rows in sets:
        if not rows.filter((pl.col("n_steps") > 0) & pl.col("retention").is_not_null()).is_empty():
            return key, label, rows
    for key, label, rows in sets:
        if not rows.is_empty():
            return key, label, rows
    return "all", "all runs", h


def _mean_interval(lo: pl.Expr, hi: pl.Expr, mid: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """95% interval of a mean over k models from each model's 95% interval (independent models)."""
    se = ((hi - lo) / (2 * metrics.Z)).pow(2).sum().sqrt() / mid.count()
    return (mid.mean() - metrics.Z * se), (mid.mean() + metrics.Z * se)


def _aggregate(df: pl.DataFrame, keys: list[str], prefix: str) -> pl.DataFrame:
    """Mean knowledge kept over models per key; the interval of that mean; a link to the run (one model) or to
    the leaderboard filtered to the method (several)."""
    lo, hi = _mean_interval(pl.col("ret_low"), pl.col("ret_high"), pl.col("retention"))
    out = df.group_by(keys).agg(
        pl.col("retention").mean().alias("retention"), lo.alias("low"), hi.alias("high"),
        pl.col("model_id").n_unique().alias("models"), pl.col("run_id").first().alias("run_id"),
        pl.col("family").first().alias("family"), pl.col("method").first().alias("method"),
        *([pl.col("bits_per_weight").mean().alias("bits")] if "bits_per_weight" in df.columns else []),
    ).sort(keys)
    return out.with_columns(href=pl.when(pl.col("models") == 1).then(pl.lit(prefix + "runs/") + pl.col("run_id") + pl.lit(".html"))
                            .otherwise(pl.lit(prefix + "leaderboard.html?family=") + pl.col("family") + pl.lit("&method=")
                                       + pl.col("method")))


def _chance_normalised(df: pl.DataFrame) -> pl.DataFrame:
    """Charts plot kept on multiple-choice tasks chance-normalised (a model guessing keeps 0, not 0.5)."""
    with_chance = [t for t in df["task"].unique().to_list() if metrics.chance(t) is not None]
    mc = pl.col("nret").is_not_null() | (pl.col("n_steps") == 0) & pl.col("task").is_in(with_chance)
    return df.with_columns(
        retention=pl.when(mc).then(pl.coalesce(pl.col("nret"), pl.col("retention"))).otherwise(pl.col("retention")),
        ret_low=pl.when(mc & (pl.col("n_steps") > 0)).then(pl.col("nret_low")).otherwise(pl.col("ret_low")),
        ret_high=pl.when(mc & (pl.col("n_steps") > 0)).then(pl.col("nret_high")).otherwise(pl.col("ret_high")))


def _panel(df: pl.DataFrame, with_family: bool = True) -> pl.DataFrame:
    task = pl.col("task").map_elements(
        lambda t: metrics.task_name(t) + (" (chance-normalised)" if metrics.chance(t) is not None else ""),
        return_dtype=pl.String)
    return df.with_columns(panel=(pl.col("family") + pl.lit(" · ") + task) if with_family else task)


def sparsity_curve(h: pl.DataFrame, prefix: str, with_family: bool = True) -> pl.DataFrame:
    """Single-step pruning runs and their baselines (at 0), per family × task panel, method and scope."""
    h = _chance_normalised(h)
    prune = h.filter((pl.col("n_steps") == 1) & pl.col("method").str.starts_with("prune")
                     & pl.col("retention").is_not_null() & pl.col("whole_sparsity").is_not_null())
    if prune.is_empty():
        return prune
    # the baselines the pruned runs are measured against, at 0 and kept 1 (a checkpoint that arrived compressed has no
    # 'kept' of its own as distributed, or one relative to its base: here it is the reference, so 1)
    base = h.filter(pl.col("n_steps") == 0).with_columns(retention=pl.lit(1.0))
    cols = ["run_id", "series", "method", "method_name", "scope", "family", "model_id", "task", "sparsity", "whole_sparsity",
            "retention", "ret_low", "ret_high"]
    zero = (prune.select("series", "method", "method_name", "scope", "model_id", "task").unique()
            .join(base.select("model_id", "task", "family", "run_id", "retention"), on=["model_id", "task"])
            .with_columns(sparsity=pl.lit(0.0), whole_sparsity=pl.lit(0.0), ret_low=pl.lit(1.0), ret_high=pl.lit(1.0)))
    pts = _panel(pl.concat([prune.select(cols), zero.select(cols)]), with_family)
    out = _aggregate(pts, ["panel", "series", "method_name", "scope", "sparsity"], prefix)
    whole = pts.group_by(["panel", "series", "sparsity"]).agg(pl.col("whole_sparsity").mean().alias("whole"))
    return out.join(whole, on=["panel", "series", "sparsity"]).sort(["panel", "series", "sparsity"])


def bits_points(h: pl.DataFrame, prefix: str, with_family: bool = True) -> pl.DataFrame:
    h = h.with_columns(retention=pl.when(pl.col("n_steps") == 0).then(1.0).otherwise(pl.col("retention")),  # the reference
                       nominal=pl.col("bits_per_weight").is_null() & pl.col("bits_nominal").is_not_null(),
                       bits_per_weight=pl.coalesce("bits_per_weight", "bits_nominal"))  # nominal: hollow points
    q = _chance_normalised(h).filter(pl.col("retention").is_not_null() & pl.col("bits_per_weight").is_not_null()
                 & ((pl.col("n_steps") == 0) | pl.col("method").str.contains("quantize")))
    q = q.with_columns(scope=pl.col("scope").fill_null("–"),
                       ret_low=pl.when(pl.col("n_steps") == 0).then(1.0).otherwise(pl.col("ret_low")),
                       ret_high=pl.when(pl.col("n_steps") == 0).then(1.0).otherwise(pl.col("ret_high")))
    q = _panel(q, with_family)
    q = q.filter(pl.col("panel").is_in(q.filter(pl.col("n_steps") > 0)["panel"].unique().to_list()))  # no lone baselines
    # nominal bits are the scheme's setting: one point per setting (GPTQ 3-bit and 4-bit apart), never their mean
    q = q.with_columns(setting=pl.when(pl.col("nominal")).then(pl.col("bits_per_weight")))
    return _aggregate(q, ["panel", "series", "method_name", "scope", "nominal", "setting"], prefix)


# --- page parts -----------------------------------------------------------------------------------


def _pct(x: float | None) -> object:
    return None if x is None else Safe(pct(x, 1))


def _num(x: float | None, digits: int = 3) -> object:
    return None if x is None else Safe(fmt(x, digits))


def source_badge(kind: str, toy: bool = False) -> Safe:
    parts = [badge(kind, kind)]
    if toy:
        parts.append(badge("toy", "toy"))
    return Safe(" ".join(parts))


# --- pages ------------------------------------------------------------------------------------------


def build_pages(site: Site) -> None:
    h = headline(site)
    site.colours = charts.Colours(tuple(sorted(set(h["method_name"].to_list()) | {metrics.BASELINE_NAME})))
    counts = site.q("SELECT count(*) AS runs, count(DISTINCT model_id) AS models, count(DISTINCT family) AS families, "
                    "count(*) FILTER (WHERE source_kind = 'reported') AS reported, "
                    "count(*) FILTER (WHERE supersedes IS NOT NULL) AS corrected FROM current_runs").row(0, named=True)
    main, toy = split_toy(h)
    site.snippets["_banner"] = status_banner(h, main)
    _home(site, h, counts)
    _leaderboard(site, main, toy)
    _demo(site, toy)
    for fam in registry.FAMILIES:
        _family(site, main, toy, fam)
    for method in sorted(h["method"].unique().to_list()):
        _method(site, main, toy, method)
    for model_id in sorted(h["model_id"].unique().to_list()):
        _model(site, h, model_id)
    _indexes(site, h, main, toy)
    _runs(site, h)
    _compare(site, h)
    _downloads(site)
    from .published import build_published  # papers' results, as printed (render/published.py)

    build_published(site)


def _lineage_notes(rows: pl.DataFrame, prefix: str) -> list[Safe]:
    """A line per checkpoint that arrived compressed among ``rows``: its 'kept' is relative to that checkpoint."""
    if "lineage_note" not in rows.columns:
        return []
    notes = rows.filter(pl.col("lineage_note").is_not_null()).select("model_id", "lineage_note").unique().sort("model_id")
    if notes.is_empty():
        return []
    items = "".join(f'<li><a href="{prefix}models/{esc(model_slug(r["model_id"]))}.html">{esc(r["model_id"])}</a>: '
                    f'{esc(r["lineage_note"])}</li>' for r in notes.iter_rows(named=True))
    return [Safe(f'<ul class="lb-lineage-notes">{items}</ul>')]


def _toy_pointer(toy: pl.DataFrame, prefix: str, what: str) -> list[Safe]:
    if toy.is_empty():
        return []
    models = toy["model_id"].n_unique()
    return [Safe(f'<p class="lb-demo-link">{toy.height:,} result{"s" if toy.height != 1 else ""} of {models} toy model'
                 f'{"s" if models != 1 else ""} {esc(what)} {"are" if toy.height != 1 else "is"} on the '
                 f'<a href="{prefix}demo.html">demo page</a>, not here.</p>')]


def _leaderboard(site: Site, main: pl.DataFrame, toy: pl.DataFrame) -> None:
    lead_t = lead_tasks(main)
    src = default_source(main)
    intro = ("One row per model and compression; per task, the headline metric (LAMA P@1, BEAR and lm-eval accuracy) "
             "with its 95% interval and the knowledge **kept**: the metric divided by the same model's baseline on the "
             "same task (the model as distributed: for a checkpoint that arrived compressed, that checkpoint), with a "
             "paired interval (≈: unpaired approximation), *tied* when the interval holds 1 and *norm*: "
             "chance-normalised for multiple-choice accuracy ([methodology](methodology.md#knowledge-kept)). "
             "Sorted by the first task's metric; click a header (or Enter on it) to sort, tick rows to compare them. "
             "Sparsity is measured over all Linear layers, with the pruned scope's requested share beside it.\n\n")
    parts: list[Safe] = []
    if lead_t:
        parts.append(Safe("<p><strong>Real models first:</strong> the first columns are the knowledge probes that real "
                          "(not toy) models were run on here" + (", and the table opens on the runs reproduced here"
                                                                 if src else "") + ".</p>"))
    reported = main.filter(pl.col("source_kind") == "reported")
    if src and not reported.is_empty():
        tasks = tables.task_order(main, lead_t)
        r_tasks = tables.task_order(reported)[:tables.MAX_VISIBLE_TASKS]
        query = (f"?source=reported&amp;cols={','.join(r_tasks)}&amp;sort=t{tasks.index(r_tasks[0])}:descending"
                 if r_tasks else "?source=reported")
        n_rep = tables.build_rows(reported)
        parts.append(Safe(f'<p>Also in this table: {len(n_rep):,} rows <strong>reported</strong> in papers '
                          f'(mostly lm-eval accuracy, copied as printed, never mixed with ours): '
                          f'<a class="lb-show-reported" href="leaderboard.html{query}">show them</a> '
                          '(or pick a <em>Source</em> below).</p>'))
    parts += _lineage_notes(main, "")
    parts += _toy_pointer(toy, "", "(tiny demonstration models)")
    parts.append(tables.board(main, 0, url_state=True, lead=lead_t, default_source=src, data=site.data, data_name="leaderboard"))
    site.page("leaderboard.md", "Leaderboard", intro, block(*parts), rows=main)


def status_banner(h: pl.DataFrame, main: pl.DataFrame | None = None) -> str:
    """A banner on every page when the site is built (partly) from synthetic or reported-only data, or when its
    main pages show toy models (a build with no real model; otherwise toy models are on the demo page only)."""
    notes = []
    kinds = set(h["source_kind"].to_list())
    if "synthetic" in kinds:
        n = h.filter(pl.col("source_kind") == "synthetic").height
        notes.append(f"{'All' if kinds == {'synthetic'} else f'{n:,}'} results on this site are <strong>synthetic</strong> "
                     "(made by <code>leaderboard synthetic</code> for tests and benchmarks): they are not measurements.")
    shown = h if main is None else main
    if shown["toy"].fill_null(False).any():
        notes.append("Some models are <strong>toy</strong> models (tiny demonstration models trained on LAMA facts): "
                     "their numbers show the method, not the behaviour of real models.")
    if kinds == {"reported"}:
        notes.append("Every result is <strong>reported</strong> (copied from papers), none reproduced by this runner.")
    if not notes:
        return ""
    return ('<div class="lb-banner" role="note" data-search-exclude markdown="0"><strong>Status:</strong> ' + " ".join(notes)
            + "</div>\n\n")


PAGE_STATUS = "data-page-status"  # the MkDocs hook leaves the site-wide banner off a page that has its own


def _status_div(text: str) -> str:
    return (f'<div class="lb-banner lb-page-status" role="note" {PAGE_STATUS} data-search-exclude markdown="0">'
            f"<strong>Status:</strong> {text}</div>\n\n")


def page_status(rows: pl.DataFrame) -> str:
    """What this page holds: how many of its results are reproduced here on real models, reported in papers, of toy
    models, synthetic (each marked in the tables)."""
    if rows.is_empty():
        return ""  # nothing of its own to describe: the site-wide banner (if any) stands
    toy = rows["toy"].fill_null(False)
    kind = rows["source_kind"]
    n = {"reproduced": int(((kind == "reproduced") & ~toy).sum()), "reported": int((kind == "reported").sum()),
         "toy": int(((kind != "synthetic") & toy).sum()), "synthetic": int((kind == "synthetic").sum())}
    what = {"reproduced": "reproduced by this runner on real models",
            "reported": "<strong>reported</strong> (copied from papers, never mixed with ours)",
            "toy": "of <strong>toy</strong> models (tiny demonstration models: they show the method, not real models)",
            "synthetic": "<strong>synthetic</strong> (made by <code>leaderboard synthetic</code>): not measurements"}
    parts = [f"{v:,} {what[k]}" for k, v in n.items() if v]
    total = rows.height
    return _status_div(f"this page holds {total:,} result{'s' if total != 1 else ''}: " + "; ".join(parts) + ".")


def run_status(r: dict) -> str:
    """A run page's banner: what this one result is."""
    if r["source_kind"] == "synthetic":
        text = "a <strong>synthetic</strong> run (made by <code>leaderboard synthetic</code> for tests): not a measurement."
    elif r["source_kind"] == "reported":
        text = "a result <strong>reported</strong> in a paper, copied as printed (not reproduced by this runner)."
    else:
        text = "a result <strong>reproduced</strong> by this runner" + (" on a toy model" if r["toy"] else "") + "."
    if r["toy"] and r["source_kind"] != "reproduced":
        text += " Its model is a <strong>toy</strong> model."
    return _status_div("this page holds " + text)


def _indexes(site: Site, h: pl.DataFrame, main: pl.DataFrame, toy: pl.DataFrame) -> None:
    """Families come from the registry, methods and models from the data: nothing is listed by hand. Toy models are
    counted apart (their results are on the demo page)."""
    main = main.filter(~_is_toy())  # empty in a build with only toy models: then the toy table is the only one
    demo = [Safe('<p>Toy models are counted apart: their results are on the <a href="../demo.html">demo page</a>.</p>')
            ] if not toy.is_empty() else []

    def counts(col: str, value: str) -> list[object]:
        m, t = main.filter(pl.col(col) == value), toy.filter(pl.col(col) == value)
        return [m["model_id"].n_unique(), m.height] + ([t.height] if not toy.is_empty() else [])

    extra = ["Toy-model results"] if not toy.is_empty() else []
    numeric = {1, 2, 3}
    fam_rows = [[link(f"{f}.html", f), *counts("family", f)] for f in registry.FAMILIES]
    site.page("families/index.md", "Model families",
              block(table(["Family", "Models", "Results", *extra], fam_rows, numeric=numeric), *demo))
    meth_rows = [[link(f"{method_slug(method)}.html", metrics.method_name(method)), *counts("method", method)]
                 for method in sorted(h["method"].unique().to_list())]
    site.page("methods/index.md", "Compression methods",
              block(table(["Method", "Models", "Results", *extra], meth_rows, numeric=numeric), *demo,
                    Safe("<h2>Every method the runner knows</h2>"), methods_table()))
    site.snippets["methods"] = str(methods_table())

    def model_rows(rows: pl.DataFrame) -> list[list[object]]:
        out = []
        for model_id in sorted(rows["model_id"].unique().to_list()):
            m = rows.filter(pl.col("model_id") == model_id)
            first = m.row(0, named=True)
            out.append([link(f"{model_slug(model_id)}.html", model_id), first["family"],
                        f"{first['parameters']:,}" if first["parameters"] else None, m.height,
                        source_badge(first["source_kind"], first["toy"])])
        return out

    head = ["Model", "Family", "Parameters", "Results", "Source"]
    parts: list[object] = [table(head, model_rows(main), cls="lb-table lb-sortable", numeric={2, 3})] if not main.is_empty() else []
    if not toy.is_empty():
        parts += [Safe('<h2 id="toy-models">Toy models (demo)</h2><p>Tiny demonstration models trained on LAMA facts: they '
                       'show the method, not the behaviour of real models (<a href="../demo.html">demo page</a>).</p>'),
                  table(head, model_rows(toy), cls="lb-table lb-sortable", numeric={2, 3})]
    site.page("models/index.md", "Models", block(*parts))


VERDICTS = {"tied": "tied with its baseline", "lower": "below its baseline", "higher": "above its baseline"}


def _best_rows(t: pl.DataFrame, norm: bool, ranked: bool) -> list[list[object]]:
    rows = []
    k, lo, hi = ("nret", "nret_low", "nret_high") if norm else ("retention", "ret_low", "ret_high")
    for i, r in enumerate(t.iter_rows(named=True), 1):
        if norm:  # the verdict of the chance-normalised interval: does it hold 1?
            verdict = ("no interval" if r[lo] is None else VERDICTS["tied"] if r[lo] <= 1.0 <= r[hi]
                       else VERDICTS["lower"] if r[hi] < 1.0 else VERDICTS["higher"])
        else:
            verdict = VERDICTS.get(r["verdict"] or "", "no interval")
        approx = "" if (r["ret_paired"] and not norm) else "≈"
        rows.append([i if ranked else Safe('<span class="lb-none" title="not ranked: no interval">–</span>'),
                     Safe(f'<a href="models/{esc(model_slug(r["model_id"]))}.html">{esc(r["model_id"])}</a> · '
                          f'<a href="runs/{esc(r["run_id"])}.html">{esc(r["method_label"])}</a> '
                          f'{tables.badges(r["source_kind"], bool(r["toy"]), False, r["checkpoint_label"], r["lineage_note"])}'),
                     Safe(tables.sparsity_text(r)), Safe(tables.bits_text(r)),
                     Safe(fmt(r["value"]) + (f' <span class="lb-ci">{fmt(r["ci_low"])}–{fmt(r["ci_high"])}</span>'
                                             if r["ci_low"] is not None else "")),
                     Safe(fmt(r[k]) + (f' <span class="lb-ci">{approx}{fmt(r[lo])}–{fmt(r[hi])}</span>'
                                       if r[lo] is not None else "")),
                     verdict])
    return rows


def _best(h: pl.DataFrame, per_task: int = 5) -> list[Safe]:
    """Per task (corpora never ranked together): the compressions whose interval of *kept* has the highest lower
    bound, so a noisy run cannot win. On a multiple-choice task *kept* is chance-normalised (a model guessing keeps
    0), and a run whose baseline is within a margin of chance has nothing to keep: it is counted, never ranked. Runs
    without an interval (results reported without a standard error) are listed apart, not ranked."""
    parts: list[Safe] = []
    comp = h.filter(pl.col("n_steps") > 0)
    for task in tables.task_order(comp) if not comp.is_empty() else []:
        c = metrics.chance(task)
        norm = c is not None
        k, lo = ("nret", "nret_low") if norm else ("retention", "ret_low")
        t = comp.filter(pl.col("task") == task)
        near = t.filter(pl.col("near_chance").fill_null(False))
        t = t.filter(pl.col(k).is_not_null())
        if t.is_empty() and near.is_empty():
            continue
        order = dict(descending=[True, False, False], nulls_last=True)
        ranked = t.filter(pl.col(lo).is_not_null()).sort([lo, "bits_per_weight", "run_id"], **order)
        loose = t.filter(pl.col(lo).is_null()).sort([k, "bits_per_weight", "run_id"], **order)
        metric = metrics.metric_short(task)
        kept_head = "Kept above chance" if norm else "Kept"
        n = f"{t.height:,} compressed run{'s' if t.height != 1 else ''} with a kept"
        parts.append(Safe(f"<h3>{esc(metrics.task_name(task))} <small>({n})</small></h3>"))
        if norm:
            parts.append(Safe(f'<p class="lb-note">Multiple choice, chance {fmt(c)}: <em>kept</em> is chance-normalised, '
                              f"(acc − {fmt(c)}) ÷ (baseline − {fmt(c)}).</p>"))
        for rows_df, ranked_rows in ((ranked.head(per_task), True), (loose.head(per_task), False)):
            if rows_df.is_empty():
                continue
            has_ci = rows_df["ci_low"].is_not_null().any()
            has_kci = rows_df[lo].is_not_null().any()
            if not ranked_rows:
                parts.append(Safe(f'<p class="lb-unranked"><strong>Not ranked</strong>: {loose.height:,} run'
                                  f'{"s" if loose.height != 1 else ""} without an interval (reported without a standard '
                                  f'error), by <em>kept</em>{" (the first " + str(per_task) + ")" if loose.height > per_task else ""}:</p>'))
            parts.append(table(["#", "Model · compression", "Sparsity (all Linear)", "Bits",
                                f"{metric} (95%)" if has_ci else metric, f"{kept_head} (95%)" if has_kci else kept_head,
                                "vs baseline"], _best_rows(rows_df, norm, ranked_rows),
                               cls="lb-table lb-best lb-cards" + ("" if ranked_rows else " lb-unranked-table"),
                               numeric={0, 2, 3, 4, 5}))
        if not near.is_empty():
            parts.append(Safe(f'<p class="lb-note lb-near-chance">{near.height:,} run{"s" if near.height != 1 else ""} not '
                              f"ranked: {'their' if near.height != 1 else 'its'} baseline is within "
                              f"{fmt(metrics.MIN_ABOVE_CHANCE, 2)} of chance ({fmt(c)}), so there is no knowledge to keep "
                              "and the ratio to it is noise.</p>"))
    return parts


def _headline_charts(site: Site, rows: pl.DataFrame, name: str, label: str) -> list[Safe]:
    """Knowledge kept against sparsity (pruning) and against bits per weight (quantization), each for the task with
    the most points to draw (the most-run task overall may be one that only baselines or reported runs have; ties
    go to the task order: LAMA T-REx first)."""
    parts: list[Safe] = []
    order = tables.task_order(rows, lead_tasks(rows))
    primary, curve = None, pl.DataFrame()
    for task in order:
        c = sparsity_curve(rows.filter(pl.col("task") == task), "")
        if c.height > curve.height:
            primary, curve = task, c
    if primary is not None:
        title = f"Knowledge kept as weights are pruned ({metrics.task_name(primary)}; {label})"
        parts.append(site.chart(charts.retention_vs_sparsity(curve, site.colours, title, _curve_description(curve)),
                                f"{name}-sparsity", title, 0, "One panel per family; mean over models, whiskers: 95% "
                                "interval of the mean; dotted line: the baseline"))
    primary, pts = None, pl.DataFrame()
    for task in order:
        b = bits_points(rows.filter(pl.col("task") == task), "")
        if b.height > max(pts.height, 1) and b["method_name"].n_unique() > 1:
            primary, pts = task, b
    if primary is not None:
        title = f"Knowledge kept against bits per weight ({metrics.task_name(primary)}; {label})"
        parts.append(site.chart(charts.retention_vs_bits(pts, site.colours, title, f"{pts.height} points"),
                                f"{name}-bits", title, 0, "One panel per family; bits as stored, over all weights "
                                "(embeddings included); whiskers: 95% interval of the mean"))
    return parts


def _best_section(rows: pl.DataFrame, label: str) -> list[Safe]:
    best = _best(rows)
    if not best:
        return []
    return [Safe(f"<h2>Which compressions keep the most knowledge</h2><p>{esc(label[:1].upper() + label[1:])}. Per task, "
                 "ranked by the lower end of the 95% interval of <em>kept</em> (so noise does not win; chance-normalised "
                 "on multiple-choice tasks); runs without an interval are listed apart, not ranked; <em>tied</em> "
                 "means indistinguishable from the model as distributed.</p>"), *best]


def _real_models(real: pl.DataFrame) -> list[Safe]:
    """One row per real model probed here: its knowledge-probe scores as distributed, and how many compressions."""
    if real.is_empty():
        return []
    tasks = lead_tasks(real)
    rows = []
    for model_id in sorted(real["model_id"].unique().to_list()):
        m = real.filter(pl.col("model_id") == model_id)
        note = next((n for n in m["lineage_note"].to_list() if n), None) if "lineage_note" in m.columns else None
        cell = (f'<a href="models/{esc(model_slug(model_id))}.html">{esc(model_id)}</a>'
                f' <span class="lb-fam">· {esc(m["family"][0])}</span>'
                + (f'<span class="lb-note">{esc(note)}</span>' if note else ""))
        row: list[object] = [Safe(cell)]
        base = m.filter(pl.col("n_steps") == 0)
        for t in tasks:
            b = base.filter(pl.col("task") == t)
            if b.is_empty():
                row.append(Safe('<span class="lb-none">not run yet</span>'))
                continue
            r = b.sort("run_id").row(0, named=True)
            ci = (f' <span class="lb-ci">{fmt(r["ci_low"])}–{fmt(r["ci_high"])}</span>' if r["ci_low"] is not None else "")
            row.append(Safe(f'<a href="runs/{esc(r["run_id"])}.html">{fmt(r["value"])}</a>{ci}'))
        row.append(m.filter(pl.col("n_steps") > 0)["run_id"].n_unique())
        rows.append(row)
    head = ["Model", *[f"{metrics.metric_short(t)} {metrics.task_name(t)}, as distributed" for t in tasks],
            "Compressed runs"]
    return [Safe("<h2>Real models probed here</h2><p>Reproduced by this runner on real checkpoints; each row's "
                 "numbers are the model as distributed, the baseline its compressions are measured against.</p>"),
            table(head, rows, cls="lb-table lb-cards lb-title-first lb-real", numeric=set(range(1, len(tasks) + 2)))]


def _home(site: Site, h: pl.DataFrame, counts: dict) -> None:
    main, toy = split_toy(h)
    key, label, rows = lead(h)
    real = real_probes(h)
    parts: list[Safe] = [dl([("real models probed here", real["model_id"].n_unique()), ("runs", counts["runs"]),
                             ("models", counts["models"]), ("reported results", counts["reported"]),
                             *([("corrected results (errata; the runs they supersede are left out)", counts["corrected"])]
                               if counts["corrected"] else []),
                             ("toy models (on the demo page)", toy["model_id"].n_unique())])]
    n_real = real["run_id"].n_unique()
    if key == "real-probes" and not real.filter(pl.col("n_steps") > 0).is_empty():
        parts.append(Safe('<p class="lb-lead">The charts and tables below come from <strong>real models</strong> (not '
                          "toy), compressed and probed for facts (LAMA, BEAR) by this runner; <em>kept</em> is relative to "
                          "each model as distributed.</p>"))
    elif n_real:  # the real models first, then what there is to compare
        parts.append(Safe(f'<p class="lb-lead">No real model has been compressed and probed here yet: so far, {n_real:,} '
                          f'run{"s" if n_real != 1 else ""} of real models as distributed (next).'
                          + (f" Until compressed runs land, the charts and tables after them show <strong>{esc(label)}"
                             "</strong>." if key != "real-probes" else "") + "</p>"))
        parts += _real_models(real)
    else:
        parts.append(Safe(f'<p class="lb-lead">No real model has been probed here yet: the charts and tables below show '
                          f"<strong>{esc(label)}</strong>.</p>"))
    parts += _headline_charts(site, rows, "home", label)
    parts += _best_section(rows, label)
    if key == "real-probes" and not real.filter(pl.col("n_steps") > 0).is_empty():
        parts += _real_models(real)
    if key != "toy":
        parts += _toy_pointer(toy, "", "(tiny demonstration models)")
    parts.append(Safe('<p><a href="leaderboard.html">The whole leaderboard →</a> · '
                      '<a href="compare.html">compare runs side by side →</a></p>'))
    parts += _build_info(site, h)
    site.snippets["home"] = block(*parts)


def _demo(site: Site, toy: pl.DataFrame) -> None:
    """The toy models' charts and tables, apart from the real ones: they show how the runner and the site work."""
    parts: list[object] = [Safe(
        '<div class="lb-banner lb-demo-banner" role="note"><strong>Toy models.</strong> Everything on this page comes from '
        "tiny demonstration models (<code>toy: true</code> in their run files) trained on real LAMA facts: the numbers "
        "show how compression, the probes and the site work, not how real models behave. They are kept out of the home "
        "page, the leaderboard and the family and method pages.</div>")]
    if toy.is_empty():
        parts.append(Safe("<p>No toy models in this build.</p>"))
        site.page("demo.md", "Demo (toy models)", block(*parts), rows=toy)
        return
    models = []
    for model_id in sorted(toy["model_id"].unique().to_list()):
        m = toy.filter(pl.col("model_id") == model_id)
        first = m.row(0, named=True)
        models.append(f'<li><a href="models/{esc(model_slug(model_id))}.html">{esc(model_id)}</a> '
                      f'<span class="lb-badge lb-toy">toy</span> {esc(first["family"])}, '
                      + (f'{first["parameters"]:,} parameters, ' if first["parameters"] else "")
                      + f'{m["run_id"].n_unique():,} runs on {", ".join(esc(metrics.task_name(t)) for t in sorted(set(m["task"].to_list()), key=lambda t: (tables.task_rank(t), t)))}</li>')
    parts.append(Safe(f'<ul class="lb-demo-models">{"".join(models)}</ul>'))
    parts += _headline_charts(site, toy, "demo", "toy models")
    parts += _best_section(toy, "toy models")
    parts.append(Safe("<h2>Every toy-model run</h2>"))
    parts.append(tables.board(toy, 0, url_state=True))
    site.page("demo.md", "Demo (toy models)", block(*parts), rows=toy)


def _build_info(site: Site, h: pl.DataFrame) -> list[Safe]:
    """Build commit and date (of the checkout the site is built from) and what changed: the run files added since
    the previous published build, from git (``run_changes``); outside git, the runs that finished last."""
    info = getattr(site, "build_info", None) or {}
    changes = getattr(site, "changes", None) or {}
    parts = [Safe("<h2>This build</h2>"),
             dl([("commit", info.get("commit") or "unknown"), ("commit date", info.get("date") or "unknown"),
                 ("run files", f"{site.q('SELECT count(*) AS n FROM runs')['n'][0]:,}")])]
    cols = "run_id, path, model_id, method_label, eval_task, source_kind, toy, finished_at"

    def items(rows: pl.DataFrame, limit: int = 12) -> str:
        li = "".join(
            f'<li><a href="runs/{esc(r["run_id"])}.html">{esc(r["model_id"])} · {esc(metrics.cap(r["method_label"]))} · '
            f'{esc(metrics.task_name(r["eval_task"]))}</a> {tables.badges(r["source_kind"], bool(r["toy"]))}</li>'
            for r in rows.head(limit).iter_rows(named=True))
        more = f"<li>and {rows.height - limit:,} more</li>" if rows.height > limit else ""
        return f'<ul class="lb-recent">{li}{more}</ul>'

    def of(paths: list[str]) -> pl.DataFrame:
        if not paths:
            return pl.DataFrame()
        return site.q(f"SELECT {cols} FROM runs WHERE path IN (SELECT unnest(?)) ORDER BY model_id, method_label, eval_task, "
                      "run_id", [paths])

    if not changes:
        recent = site.q(f"SELECT {cols} FROM runs ORDER BY finished_at DESC NULLS LAST, run_id LIMIT 8")
        parts.append(Safe(f"<h3>The latest runs</h3><p>(by when they finished; this build is not from a git "
                          f"checkout, so what was added since the previous build is unknown)</p>{items(recent)}"))
        return parts
    since = (f'commit <code>{esc(changes["since"])}</code>' + (f' ({esc(changes["date"])})' if changes["date"] else "")
             if changes["since"] else "the first commit")
    added = of(changes["added"])
    if added.is_empty():
        parts.append(Safe(f"<h3>What changed</h3><p>No run files added since {since}.</p>"))
    else:
        parts.append(Safe(f"<h3>What changed: {added.height:,} run file{'s' if added.height != 1 else ''} added since "
                          f"{since}</h3>{items(added)}"))
    pending = of(changes["uncommitted"])
    if not pending.is_empty():
        parts.append(Safe(f"<p>Not committed yet ({pending.height:,}):</p>{items(pending)}"))
    return parts


def _curve_description(curve: pl.DataFrame) -> str:
    parts = []
    for panel in sorted(set(curve["panel"].to_list())):
        c = curve.filter((pl.col("panel") == panel) & (pl.col("sparsity") > 0)).sort("retention")
        if c.is_empty():
            continue
        worst = c.row(0, named=True)
        parts.append(f"{panel}: {c['method_name'].n_unique()} methods; lowest kept {worst['retention']:.2f} "
                     f"({worst['method_name']}, {worst['scope']}, {worst['whole']:.0%} of all Linear weights)")
    return "; ".join(parts)


def _family(site: Site, main: pl.DataFrame, toy: pl.DataFrame, fam: str) -> None:
    f = main.filter(pl.col("family") == fam)
    f_toy = toy.filter(pl.col("family") == fam) if f.filter(_is_toy()).is_empty() else toy.clear()
    path = f"families/{fam}.md"
    if f.is_empty():
        site.page(path, f"Family: {fam}", f"No runs of real {fam} models yet. [Submit one](../contributing.md).\n",
                  block(*_toy_pointer(f_toy, "../", f"({fam})")), rows=f)
        return
    parts: list[object] = []
    curve = sparsity_curve(f, "../", with_family=False)
    if not curve.is_empty():
        title = f"{fam}: knowledge kept vs sparsity"
        parts.append(site.chart(charts.retention_vs_sparsity(curve, site.colours, title, _curve_description(curve)),
                                f"family-{fam}-sparsity", title, 1, "one panel per task; mean over models; whiskers: "
                                "95% interval of the mean"))
    bits = bits_points(f, "../", with_family=False)
    if bits.height > 1 and bits["method_name"].n_unique() > 1:
        title = f"{fam}: knowledge kept vs bits per weight"
        parts.append(site.chart(charts.retention_vs_bits(bits, site.colours, title, f"{bits.height} points"),
                                f"family-{fam}-bits", title, 1, "one panel per task; bits measured over all weights "
                                "(embeddings included)"))
    fr = site.q("""SELECT p.run_id FROM pareto p JOIN runs r USING (run_id)
                   WHERE p.family = ? AND p.metric = r.headline_metric""",
                [fam])
    front = set(fr["run_id"].to_list())
    pts = f.filter(pl.col("weight_bytes").is_not_null()).select(
        pl.col("model_id").alias("model"), pl.col("method_label").alias("compression"), pl.col("method_name"),
        pl.col("task"), pl.col("family"), (pl.col("weight_bytes") / 1e6).alias("size_mb"), pl.col("value"), pl.col("run_id"),
        pl.col("sparsity"), pl.col("scheme"))
    if not pts.is_empty():
        pts = _panel(pts, with_family=False).with_columns(
            frontier=pl.col("run_id").is_in(list(front)),
            href=pl.lit("../runs/") + pl.col("run_id") + pl.lit(".html"),
            short=pl.when(pl.col("scheme").is_not_null()).then(pl.col("scheme"))
            .when(pl.col("sparsity").is_not_null()).then((pl.col("sparsity") * 100).round(0).cast(pl.Int64).cast(pl.String) + "%")
            .otherwise(pl.lit("baseline")))
        title = f"{fam}: size vs knowledge"
        parts.append(site.chart(charts.pareto(pts, site.colours, title, "frontier"), f"family-{fam}-pareto", title, 1,
                                "one panel per task; dashed line and labels: the frontier (no smaller run scores higher)"))
    parts.append(Safe("<h2>Runs</h2>"))
    parts += _lineage_notes(f, "../")
    parts += _toy_pointer(f_toy, "../", f"({fam})")
    parts.append(tables.board(f, 1, url_state=True, lead=lead_tasks(f), default_source=default_source(f), data=site.data,
                              data_name=f"family-{fam}"))
    site.page(path, f"Family: {fam}", block(*parts), rows=f)


def _method(site: Site, main: pl.DataFrame, toy: pl.DataFrame, method: str) -> None:
    m = main.filter(pl.col("method") == method)
    m_toy = toy.filter(pl.col("method") == method) if m.filter(_is_toy()).is_empty() else toy.clear()
    label = metrics.method_name(method)
    about = _about(method)
    if m.is_empty():
        site.page(f"methods/{method_slug(method)}.md", f"Method: {label}",
                  block(*about, Safe("<p>No real model has been compressed with it here yet.</p>"),
                        *_toy_pointer(m_toy, "../", "compressed with it")), rows=m)
        return
    parts: list[object] = []
    curve = sparsity_curve(m, "../")
    if not curve.is_empty():
        title = f"{label}: knowledge kept vs sparsity"
        parts.append(site.chart(charts.retention_vs_sparsity(curve, site.colours, title, _curve_description(curve)),
                                f"method-{method_slug(method)}", title, 1, "one panel per family × task (families are "
                                "never averaged together); whiskers: 95% interval of the mean over models"))
    parts += _lineage_notes(m, "../")
    parts += _toy_pointer(m_toy, "../", "compressed with it")
    parts.append(tables.board(m, 1, url_state=True, lead=lead_tasks(m), default_source=default_source(m), data=site.data,
                              data_name=f"method-{method_slug(method)}"))
    site.page(f"methods/{method_slug(method)}.md", f"Method: {label}", block(*about, *parts), rows=m)


def _registered(method: str):
    """The registry entry behind a one-step method key ('prune:sparsegpt:local', 'quantize:gptq'), if any."""
    kind, _, rest = method.partition(":")
    if kind not in ("prune", "quantize") or "+" in method:
        return None
    names = methods_registry.names(kind)
    name = rest if kind == "quantize" else rest.rpartition(":")[0]
    return methods_registry.get(kind, name) if name in names else None


def _about(method: str) -> list:
    m = _registered(method)
    if m is None:
        return []
    ref = link(m.url, m.reference) if m.url else esc(m.reference)
    return [Safe(f"<p><strong>{esc(m.title)}</strong>: {esc(m.summary)}</p>"),
            dl([("reference", ref if m.reference else None), ("implementation", m.library),
                ("runs on", ", ".join(sorted(m.devices))), ("model families", ", ".join(sorted(m.families))),
                ("calibration data", "yes" if m.calibration else "no"),
                ("evaluated as", "simulated quantization (quantize-dequantize)" if m.simulated else None),
                ("example", code("--compress " + m.example) if m.example else None)]),
            *(Safe(f"<p>{esc(note)}</p>") for note in m.notes)]


def methods_table() -> Safe:
    """Every registered method (not only those with runs): what it is, where it runs, what it needs."""
    rows = []
    for m in methods_registry.all_methods():
        fields = ", ".join(f["name"] for f in methods_registry.fields_of(m) if f["name"] not in ("scope", "calibration"))
        ref = Safe(f" ({link(m.url, m.reference)})") if m.url and m.reference else (f" ({m.reference})" if m.reference else "")
        needs = "; calibration data" if m.calibration else ""
        rows.append([Safe(f"<code>{esc(m.key)}</code>"), Safe(f"<strong>{esc(m.title)}</strong><br>{esc(m.library)}"),
                     Safe(f"{esc(m.summary)}{ref if isinstance(ref, Safe) else esc(ref)}"),
                     f"{', '.join(sorted(m.devices))}; {', '.join(sorted(m.families))}{needs}", fields or "–"])
    return table(["Step", "Method", "What it does", "Runs on", "Fields"], rows, cls="lb-table lb-prose")


def _model(site: Site, h: pl.DataFrame, model_id: str) -> None:
    m = h.filter(pl.col("model_id") == model_id)
    first = m.row(0, named=True)
    revisions = sorted({str(r) for r in m["model_revision"].to_list() if r is not None})
    known = set(h["model_id"].to_list())
    base = first["base_model_id"]
    parts: list[object] = []
    if first["toy"]:
        parts.append(Safe('<p class="lb-banner lb-demo-banner" role="note"><strong>Toy model</strong> (a tiny demonstration '
                          'model trained on LAMA facts): its numbers show the method, not the behaviour of real models. '
                          'It is on the <a href="../demo.html">demo page</a>, not on the leaderboard.</p>'))
    note = next((n for n in m["lineage_note"].to_list() if n), None)
    if note:
        parts.append(Safe(f'<p class="lb-lineage-note" role="note">{esc(note)}</p>'))
    parts.append(dl([("family", first["family"]), ("parameters", f"{first['parameters']:,}" if first["parameters"] else None),
                     ("base model", (link(f"{model_slug(base)}.html", base) if base in known else base) if base else None),
                     ("derived by", first["derived_by"]),
                     ("revisions", ", ".join(revisions) if revisions else "not recorded"),
                     ("runs", m.height)]))
    parts += _related(site, h, m, first)
    parts.append(tables.board(m, 1, show_model=False, url_state=True, lead=lead_tasks(m), default_source=default_source(m)))
    rel = site.q("""
        SELECT rr.relation, rr.value_fraction AS value, rr.n, r.method_label AS compression, r.n_steps, r.sparsity, r.scheme,
               r.method, r.scope, r.run_id,
               rr.value_fraction / nullif(b.value_fraction, 0) AS retention
        FROM relation_results rr JOIN current_runs r USING (run_id)
        LEFT JOIN (SELECT rr2.relation, rr2.task, rr2.value_fraction, r2.model_revision, r2.eval_data_sha256, r2.source_kind
                   FROM relation_results rr2 JOIN current_runs r2 USING (run_id)
                   WHERE r2.model_id = ? AND r2.n_steps = 0 AND rr2.metric = 'precision@1') b
          ON b.relation = rr.relation AND b.task = rr.task AND b.model_revision IS NOT DISTINCT FROM r.model_revision
         AND b.eval_data_sha256 IS NOT DISTINCT FROM r.eval_data_sha256 AND b.source_kind = r.source_kind
        WHERE r.model_id = ? AND rr.metric = 'precision@1'
          AND (r.n_steps = 0 OR (r.n_steps = 1 AND r.scope = 'all' AND (r.method = 'prune:l1:global' OR r.method LIKE 'quantize:%')))
        ORDER BY r.n_steps, r.sparsity NULLS FIRST, r.scheme, compression, rr.relation, rr.task, r.run_id""",
                 [model_id, model_id])
    if not rel.is_empty():
        rel = rel.with_columns(relation=pl.col("relation").map_elements(metrics.relation_label, return_dtype=pl.String),
                               compression=pl.col("compression").map_elements(metrics.cap, return_dtype=pl.String),
                               href=pl.lit("../runs/") + pl.col("run_id") + pl.lit(".html"))
        parts.append(Safe("<h2>Which facts go first</h2><p>P@1 per relation relative to the baseline, under global "
                          "magnitude pruning and quantization of every Linear layer (the other compressions are in the "
                          "table above).</p>"))
        title = f"{model_id}: knowledge kept per relation"
        parts.append(site.chart(charts.relation_heatmap(rel, title, "heatmap"), f"model-{model_slug(model_id)}-relations",
                                title, 1, f"{rel['relation'].n_unique()} relations × {rel['compression'].n_unique()} "
                                "compressions; colour: P@1 ÷ the baseline's P@1"))
    forgot = site.q("""
        SELECT r.method_label, f.task, f.forgotten, f.learned, f.kept, f.compared, r.run_id
        FROM facts_forgotten f JOIN runs r USING (run_id) WHERE r.model_id = ?
        ORDER BY f.forgotten, r.method_label, f.task, r.run_id""", [model_id])  # a total order: same runs, same bytes
    if not forgot.is_empty():
        parts.append(Safe("<h2>Facts forgotten</h2><p>Facts the baseline ranked first that the compressed model no longer does "
                          "(and the reverse).</p>"))
        rows = [[link(f"../runs/{r['run_id']}.html", metrics.cap(r["method_label"])), metrics.task_name(r["task"]),
                 r["forgotten"], r["learned"], r["kept"], r["compared"]] for r in forgot.iter_rows(named=True)]
        parts.append(table(["Compression", "Task", "Forgotten", "Newly right", "Kept", "Compared"], rows,
                           cls="lb-table lb-cards lb-title-first", numeric={2, 3, 4, 5}))  # cards on a phone
    site.page(f"models/{model_slug(model_id)}.md", f"Model: {model_id}", block(*parts), rows=m)


def _related(site: Site, h: pl.DataFrame, m: pl.DataFrame, first: dict) -> list[Safe]:
    """Published results of related checkpoints (render/lineage.py: the base model, the declared siblings) beside this
    model's own numbers, task by task, with how the checkpoints differ; and on a related model's own page, which
    derived checkpoints are measured here."""
    model_id, base = first["model_id"], first["base_model_id"]
    parts: list[Safe] = []
    related = lineage.related_models(base)
    if related:
        ids = [mid for mid, _ in related]
        # their baselines only (a published score of the checkpoint as released), any source
        others = h.filter(pl.col("model_id").is_in(ids) & (pl.col("n_steps") == 0)).sort(["model_id", "task", "run_id"])
        ours = m.filter(pl.col("n_steps") == 0)
        rows = []
        for r in others.iter_rows(named=True):
            mine = ours.filter((pl.col("task") == r["task"]) & (pl.col("source_kind") == "reproduced")).sort("run_id")
            own = (Safe(f'<a href="../runs/{esc(mine["run_id"][0])}.html">{fmt(mine["value"][0])}</a>')
                   if not mine.is_empty() else Safe('<span class="lb-none">not run yet</span>'))
            ci = (f' <span class="lb-ci">{fmt(r["ci_low"])}–{fmt(r["ci_high"])}</span>' if r["ci_low"] is not None else "")
            rows.append([Safe(f'{esc(metrics.task_name(r["task"]))} <span class="lb-sub">{esc(metrics.metric_short(r["task"]))}</span>'), own,
                         Safe(f'<a href="../runs/{esc(r["run_id"])}.html">{fmt(r["value"])}</a>{ci} '
                              f'{tables.badges(r["source_kind"], bool(r["toy"]))}'),
                         link(f"{model_slug(r['model_id'])}.html", r["model_id"]),
                         lineage.related_caveat(base, r["model_id"], first["checkpoint_label"])])
        if rows:
            parts += [Safe('<h2 id="related">Published beside ours</h2><p>Results for a related checkpoint, side by side '
                           "with this model's own (as distributed): not the same weights, so not its baseline and never "
                           "averaged with it.</p>"),
                      table(["Task", "Ours, as distributed", "Published", "Checkpoint", "How it differs"], rows,
                            cls="lb-table lb-cards lb-title-first lb-related", numeric={1, 2})]
    derived = sorted(set(h.filter(pl.col("base_model_id").is_in([model_id, *lineage.derived_from(model_id)])
                                  & (pl.col("model_id") != model_id))["model_id"].to_list()))
    if derived:
        items = ", ".join(str(link(f"{model_slug(d)}.html", d)) for d in derived)
        parts.append(Safe(f'<p class="lb-lineage-note">Measured here on a related checkpoint: {items} '
                          "(see its page for how the two differ).</p>"))
    return parts


RUN_SHELL = "runs/_shell.md"
RUN_BODY_MARKER = "<!--lb-run-body-->"
RUN_TITLE_MARKER = "lb-run-title"


def _grouped(df: pl.DataFrame) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for row in df.iter_rows(named=True):
        out.setdefault(row["run_id"], []).append(row)
    return out


def _interval(x: dict) -> object:
    if x.get("ci_low") is not None:
        return Safe(f"[{fmt(x['ci_low'], 4)}, {fmt(x['ci_high'], 4)}]")
    if x.get("stderr") is not None and x.get("value") is not None:  # the normal interval of a reported standard error
        lo, hi = x["value"] - metrics.Z * x["stderr"], x["value"] + metrics.Z * x["stderr"]
        return Safe(f'[{fmt(lo, 4)}, {fmt(hi, 4)}] <span class="lb-sub">± 1.96 SE</span>')
    return None


def _metric_label(name: str) -> str:
    try:
        return registry.metric_info(name).label
    except registry.UnknownMetric:
        return name


KERNELS = {"native": "low-bit kernels",
           "simulated": "simulated quantization (quantize-dequantize: the format's accuracy, not its speed)"}


def _fields(notation: str | None) -> object:
    """'quantize:scheme=gptq,bits=4,...' as 'bits=4, group_size=32, ...' (what the other columns do not show)."""
    if not notation:
        return None
    shown = ("method", "criterion", "scheme", "scope", "granularity", "sparsity")
    rest = [kv for kv in notation.partition(":")[2].split(",") if kv.partition("=")[0] not in shown]
    return ", ".join(rest) or "–"


def _calibration(text: str | None) -> object:
    if not text:
        return None
    c = json.loads(text)
    return f"{c['name']}: {c['samples']} × {c['seq_len']} tokens (sha256 {c['sha256'][:12]}…)"


def run_title(r: dict) -> str:
    return f"{r['model_id']} · {metrics.cap(r['method_label'])} · {metrics.task_name(r['eval_task'])}"


_CITATION = (  # "Frantar, Alistarh (2023). SparseGPT: ... One-Shot. ICML 2023 (PMLR 202)" / "Petroni et al. 2019, Title?, EMNLP"
    re.compile(r"^(?P<authors>[^()]+?) \((?P<year>\d{4})\)\. (?P<title>.+?[.?!]) (?P<venue>[^.]+(?:\.[^.]+)*)$"),
    re.compile(r"^(?P<authors>[^,]+?),? (?P<year>\d{4}), (?P<title>.+?), (?P<venue>[^,]+)$"),
)
_JOURNALS = ("TACL", "Transactions", "Journal", "JMLR")


def citation_fields(citation: str) -> tuple[str, str | None, list[tuple[str, str | None]]]:
    """BibTeX type, key and fields from a source's citation as run files state it ('Authors (Year). Title. Venue'):
    author, title, year and booktitle or journal. A citation of another shape is kept whole as a note of an @misc entry
    (never as its title)."""
    for pattern in _CITATION:
        m = pattern.match(citation.strip())
        if m:
            break
    else:
        return "misc", None, [("note", citation)]
    authors = [a.strip() for a in m["authors"].split(",") if a.strip()]
    names = " and ".join("others" if a == "et al." else a.removesuffix(" et al.") + (" and others" if a.endswith(" et al.") else "")
                         for a in authors)
    title = m["title"].rstrip(".")
    venue = m["venue"].strip()
    first = re.sub(r"[^a-z]", "", authors[0].split()[0].lower()) if authors else "source"
    word = next((re.sub(r"[^a-z0-9]", "", w.lower()) for w in re.split(r"[\s:]+", title)
                 if len(re.sub(r"[^a-z0-9]", "", w.lower())) > 3), "")
    key = f"{first}{m['year']}{word}"
    if any(j in venue for j in _JOURNALS):
        return "article", key, [("author", names), ("title", title), ("journal", venue), ("year", m["year"])]
    return "inproceedings", key, [("author", names), ("title", title), ("booktitle", venue), ("year", m["year"])]


def bibtex(key: str, fields: list[tuple[str, str | None]], kind: str = "misc") -> Safe:
    """A BibTeX entry; braces and backslashes in the values are dropped (they would end or escape the field)."""
    def clean(v: str) -> str:
        return re.sub(r"[{}\\]", "", v)

    body = ",\n".join(f"  {k} = {{{clean(v)}}}" for k, v in fields if v)
    return code(f"@{kind}{{{clean(key)},\n{body}\n}}")


def _errata_notes(r: dict, superseded_by: dict | None) -> list[Safe]:
    """On a correction's page: what it corrects and why; on a superseded run's page: which run corrects it."""
    out = []
    if r.get("supersedes"):
        old = r["supersedes"]
        out.append(Safe(f'<p class="lb-correction" role="note"><strong>Corrected.</strong> This run file corrects '
                        f'<a href="{esc(old)}.html">run <code>{esc(old)}</code></a>, published before and kept as it was '
                        f'(run files are append-only): {esc(r.get("correction_reason"))}</p>'))
    if superseded_by:
        new = superseded_by["superseded_by"]
        out.append(Safe(f'<p class="lb-correction lb-superseded" role="note"><strong>Superseded.</strong> This run was '
                        f'corrected by <a href="{esc(new)}.html">run <code>{esc(new)}</code></a>: '
                        f'{esc(superseded_by["reason"])} It stays published for the record, but no leaderboard, chart or '
                        'knowledge-kept figure uses it.</p>'))
    return out


def run_body(r: dict, res: list[dict], steps: list[dict], sparsity: list[dict], rels: list[dict], forgot: list[dict],
             baseline: str | None = None, superseded_by: dict | None = None) -> str:
    """The HTML of one run page (title and body; the site chrome comes from the shell page). ``superseded_by``: the
    row of the ``superseded`` view when an erratum corrects this run."""
    rid = r["run_id"]
    links = [f'{link("../models/" + model_slug(r["model_id"]) + ".html", r["model_id"])}',
             f'<a href="{esc(rid)}.json" download>run file (JSON)</a>']
    if baseline and baseline != rid:
        links.insert(1, f'<a href="{esc(baseline)}.html">its baseline (the checkpoint as distributed)</a>'
                     if r.get("checkpoint_label") and r["n_steps"] else f'<a href="{esc(baseline)}.html">its uncompressed baseline</a>')
    parts = [Safe(run_status(r)), Safe(f'<h1 id="run-title">{esc(run_title(r))}</h1>'),
             Safe(f"<p>{source_badge(r['source_kind'], r['toy'])}"
                  + (f" {tables.corrected_badge(r.get('correction_reason'))}" if r.get("supersedes") else "")
                  + (f" {badge('superseded', 'superseded')}" if superseded_by else "")
                  + f" {esc(metrics.task_name(r['eval_task']))} · run <code>{esc(rid)}</code> · " + " · ".join(links) + "</p>"),
             *_errata_notes(r, superseded_by)]
    note = lineage.lineage_note(r)
    if note:
        parts.append(Safe(f'<p class="lb-lineage-note" role="note">{esc(note)}</p>'))
    if r["toy"]:
        parts.append(Safe('<p class="lb-banner lb-demo-banner" role="note"><strong>Toy model</strong> (a tiny demonstration '
                          'model trained on LAMA facts): this run shows the method, not the behaviour of a real model '
                          '(<a href="../demo.html">demo page</a>).</p>'))
    warnings = []
    if r["git_sha"] and str(r["git_sha"]).endswith("-dirty"):
        warnings.append("The runner's checkout had uncommitted changes (git sha ends in -dirty): the code that made "
                        "this run is not exactly the commit named below.")
    for w in warnings:
        parts.append(Safe(f'<p class="lb-warning">{esc(w)}</p>'))
    if r["source_kind"] == "synthetic":
        parts.append(Safe('<p class="lb-warning">Synthetic run, made for tests and benchmarks: not a measurement.</p>'))
    broken = {x["task"]: (x["task_nonfinite"], x["task_n"]) for x in res if x.get("task_nonfinite")}
    for task, (bad, n) in sorted(broken.items()):
        parts.append(Safe(f'<p class="lb-warning lb-nonfinite">Model output is not finite: {esc(task)} had non-finite '
                          f"scores (NaN or infinite) on {bad:,} of {n:,} examples. They count as wrong, never as "
                          "right; the model is broken, not merely compressed.</p>"))
    parts.append(Safe("<h2>Results</h2>"))
    parts.append(table(["Task", "Metric", "Value", "Scale", "Std. error", "95% interval", "n", "Excluded"],
                       [[Safe(f'{esc(metrics.task_name(x["task"]))} <code class="lb-sub">{esc(x["task"])}</code>'),
                         Safe(f'{esc(_metric_label(x["metric"]))} <code class="lb-sub">{esc(x["metric"])}</code>'),
                         _num(x["value"], 4), x["scale"], _num(x.get("stderr"), 4), _interval(x), x["n"], x["task_excluded"]]
                        for x in res], cls="lb-table lb-cards lb-title-first", numeric={2, 4, 6, 7}))
    if forgot:
        parts.append(Safe("<h3>Facts forgotten</h3>"))
        parts.append(table(["Task", "Facts forgotten", "Newly right", "Kept", "Compared with the baseline"],
                           [[metrics.task_name(x["task"]), x["forgotten"], x["learned"], x["kept"], x["compared"]] for x in forgot],
                           numeric={1, 2, 3, 4}))
    if rels:
        parts.append(Safe("<h2>Per relation (P@1)</h2>"))
        parts.append(table(["Relation", "P@1", "95% interval", "n", "Excluded"],
                           [[metrics.relation_label(x["relation"]), _num(x["value"], 4), _interval(x), x["n"], x["excluded"]]
                            for x in rels], numeric={1, 3, 4}))
    if r["source_kind"] == "reported":
        parts += [Safe("<h2>Source</h2>"), dl([("citation", r["citation"]), ("table", r["citation_table"]),
                                               ("page", r["citation_page"])])]
        if r["citation_url"]:
            parts.append(Safe(f'<p>{link(r["citation_url"], r["citation_url"])}</p>'))
        parts.append(Safe("<h3>Cite</h3>"))
        where = f"{r['citation_table']}" + (f", page {r['citation_page']}" if r["citation_page"] else "")
        kind, key, fields = citation_fields(r["citation"])
        parts.append(bibtex(key or f"reported-{rid}", [*fields, ("note", where), ("url", r["citation_url"])], kind))
    parts.append(Safe("<h2>Compression</h2>"))
    if not steps:
        parts.append(Safe("<p>None: the uncompressed baseline.</p>"))
    else:
        held = any(x.get("in_checkpoint") for x in steps)
        if held and r["n_steps"] == 0:
            parts.append(Safe("<p>None applied by this run: the checkpoint as distributed, which arrived with the "
                              "step below.</p>"))
        parts.append(table(["#", "Method", "Criterion / scheme", "Scope", "Granularity", "Sparsity", "All fields", "Calibration",
                            *(["Done by"] if held else [])],
                           [[x["step_index"], x["method"], x["criterion"] or x["scheme"], x["scope"], x["granularity"],
                             _pct(x["sparsity"]), _fields(x.get("notation")), _calibration(x.get("calibration")),
                             *([("the checkpoint, as distributed" if x.get("in_checkpoint") else "this run")] if held else [])]
                            for x in steps]))
    if r.get("derived_by"):
        base = r.get("base_model_id")
        parts.append(Safe("<h2>Lineage</h2>"))
        if r["n_steps"]:
            kept = "relative to this checkpoint as distributed (its run with no step applied), not to the base model"
        elif baseline and baseline != rid:
            kept = "relative to the base model's own baseline"
        else:
            kept = ("none: this is the checkpoint as distributed, and no run of its base model here matches it"
                    if base else None)
        parts.append(dl([("derived from", base or "not stated"),
                         ("how", r["derived_by"]),
                         ("steps the checkpoint already had", r.get("steps_in_checkpoint")),
                         ("as distributed", r.get("checkpoint_label")),
                         ("weights per tensor type", lineage.tensor_mix(r.get("tensor_types"))),
                         ("knowledge kept", kept)]))
    parts.append(Safe("<h2>Measured</h2>"))
    stored = r.get("stored_bits_per_weight")
    size = f"{r['stored_bytes']:,} bytes; " if r.get("stored_bytes") else ""
    parts.append(dl([("bits per weight", f"{stored:.2f} as stored ({size}over all weights, embeddings included)" if stored else
                      f"{r['bits_per_weight']:.2f} (over all weights, embeddings included)" if r["bits_per_weight"] else None),
                     ("weights in memory", (f"{r['weight_bytes']:,} bytes" if r["weight_bytes"] else "")
                      + (f" ({r['bits_per_weight']:.2f} bits per weight while evaluated"
                         + (", dequantized" if r.get("kernels") == "simulated" else "") + ")"
                         if stored and r["bits_per_weight"] else "") or None),
                     ("evaluated on", KERNELS.get(r.get("kernels"))),
                     ("peak memory", f"{r['peak_memory_bytes']:,} bytes" if r["peak_memory_bytes"] else None),
                     ("compression time", f"{r['compress_seconds']} s" if r["compress_seconds"] is not None else None),
                     ("evaluation time", f"{r['eval_seconds']} s" if r["eval_seconds"] is not None else None),
                     ("throughput", f"{r['throughput']} {r['throughput_unit']}" if r["throughput"] else None),
                     *[(f"sparsity of {x['scope']}" + (" (all Linear layers)" if x["scope"] == "all" else ""),
                        f"{100 * x['sparsity']:.2f}%") for x in sparsity]]))
    parts.append(Safe("<h2>Provenance</h2>"))
    parts.append(dl([("run_id", rid), ("model revision", r["model_revision"] or "not recorded"),
                     ("architecture", r["architecture"]),
                     ("evaluation data sha256", r["eval_data_sha256"]), ("evaluation settings", r["eval_settings"]),
                     ("runner", r["runner_version"]), ("git", r["git_sha"]), ("device", r["device"]), ("dtype", r["dtype"]),
                     ("batch size", r["batch_size"]), ("seed", r["seed"]), ("python", r["python"]),
                     ("platform", r["platform"]), ("libraries", r["libraries"]),
                     ("started", r["started_at"].isoformat() if r["started_at"] else None),
                     ("finished", r["finished_at"].isoformat() if r["finished_at"] else None),
                     ("run file", f"runs/{r['path']}"), ("notes", r["notes"])]))
    if r["command"]:
        parts += [Safe("<h2>Reproduce</h2>"), code(r["command"])]
    return "\n".join(str(p) for p in parts)


def _runs(site: Site, h: pl.DataFrame) -> None:
    """Run pages: MkDocs renders one shell page (the site's chrome at the depth of runs/); every run
    page is that shell with its own title and body, written after MkDocs (10,000 pages in seconds)."""
    res = _grouped(site.q("SELECT * FROM results ORDER BY run_id, task, metric"))
    steps = _grouped(site.q("SELECT * FROM compression_steps ORDER BY run_id, step_index"))
    sparsity = _grouped(site.q("SELECT * FROM measured_sparsity ORDER BY run_id, scope"))
    rels = _grouped(site.q("SELECT * FROM relation_results WHERE metric = 'precision@1' ORDER BY run_id, task, relation"))
    forgot = _grouped(site.q("SELECT * FROM facts_forgotten ORDER BY run_id, task"))
    baselines = dict(zip(h["run_id"].to_list(), h["baseline_run_id"].to_list(), strict=True))
    superseded = {r["run_id"]: r for r in site.q("SELECT * FROM superseded ORDER BY run_id").iter_rows(named=True)}
    site.run_pages = {}
    for r in site.q("SELECT * FROM runs ORDER BY run_id").iter_rows(named=True):
        rid = r["run_id"]
        site.run_pages[rid] = (run_title(r), run_body(r, res.get(rid, []), steps.get(rid, []), sparsity.get(rid, []),
                                                      rels.get(rid, []), forgot.get(rid, []), baselines.get(rid),
                                                      superseded.get(rid)))
    site.pages[RUN_SHELL] = (f"---\ntitle: {RUN_TITLE_MARKER}\nhide:\n  - navigation\n  - toc\nsearch:\n  exclude: true\n---\n\n"
                             f"<!-- {PAGE_STATUS} -->\n"
                             f"# {RUN_TITLE_MARKER}\n\n{RUN_BODY_MARKER}\n")


def _compare(site: Site, h: pl.DataFrame) -> None:
    """Pick 2–6 rows (model × compression) and see them side by side; the selection lives in the URL. The page
    is static: it reads data/compare.json (every row's numbers) and, for facts forgotten between two runs,
    data/facts/<run>.json (bitsets of the facts scored and ranked first)."""
    rows = tables.build_rows(h)
    tasks = tables.task_order(h)
    rels = site.q("SELECT run_id, task, relation, value_fraction AS v, n FROM relation_results WHERE metric = 'precision@1' "
                  "ORDER BY run_id, task, relation")
    rel_by_run: dict[str, dict[str, list]] = {}
    for r in rels.iter_rows(named=True):
        rel_by_run.setdefault(r["run_id"], {})[r["relation"]] = [round(r["v"], 6), r["n"]]
    data_rows = []
    for row in sorted(rows, key=lambda x: (x.model_id, x.n_steps, x.label, x.key)):
        t_out = {}
        for t, r in sorted(row.tasks.items()):
            t_out[t] = {k: (round(v, 6) if isinstance(v, float) else v) for k, v in (
                ("run", r["run_id"]), ("value", r["value"]), ("lo", r["ci_low"]), ("hi", r["ci_high"]), ("n", r["n"]),
                ("kept", r["retention"]), ("klo", r["ret_low"]), ("khi", r["ret_high"]), ("paired", r["ret_paired"]),
                ("norm", r["nret"]), ("verdict", r["verdict"]), ("baseline", r["baseline_run_id"]))}
            if r["run_id"] in rel_by_run:
                t_out[t]["rel"] = rel_by_run[r["run_id"]]
        data_rows.append({"key": row.key, "model": row.model_id, "family": row.family, "label": row.label,
                          "method": metrics.method_name(row.method), "source": row.source, "toy": row.toy,
                          "scope": row.scope, "sparsity": row.sparsity, "whole": row.whole, "bits": row.bits,
                          "bits_nominal": row.bits_nominal, "whole_nominal": row.sparsity_nominal,
                          "size": None if row.size_mb is None else round(row.size_mb, 3), "baseline": row.n_steps == 0,
                          "tasks": t_out})
    site.data["data/compare.json"] = {"rows": data_rows, "tasks": tasks,
                                      "task_names": {t: metrics.task_name(t) for t in tasks},
                                      "metrics": {t: metrics.metric_short(t) for t in tasks},
                                      "relations": metrics.relation_names()}
    _fact_bitsets(site)
    intro = Safe(
        "<p>Pick 2–6 rows on the <a href=\"leaderboard.html\">leaderboard</a> (tick them, then <em>Compare selected</em>) "
        "or add them here. The view (rows, the two runs compared fact by fact, and the sort of the relation table) lives "
        "in the address: copy it to share exactly this view.</p>")
    shell = Safe(
        '<div id="lb-compare" data-src="data/compare.json" data-facts="data/facts/">'
        '<div class="lb-filters"><label>Add a row <input type="search" list="lb-compare-options" class="lb-compare-add" '
        'placeholder="type a model or compression"></label><datalist id="lb-compare-options"></datalist>'
        '<button type="button" class="md-button lb-compare-clear">Clear</button>'
        '<a class="lb-compare-link" href="compare.html">link to this view</a></div>'
        '<div class="lb-compare-out" aria-live="polite"><p class="lb-compare-empty">No rows picked yet. Examples: '
        '<a class="lb-compare-example" href="compare.html">the baseline and its strongest compressions</a>.</p></div></div>'
        '<script src="assets/compare.js" defer></script>')
    site.page("compare.md", "Compare", block(intro, shell), rows=h)


def _fact_bitsets(site: Site) -> None:
    """Per run with per-fact outcomes: for each task, base64 bitsets (over that task's sorted fact ids) of the facts
    scored and of the facts ranked first. The id lists are one file per task."""
    import base64

    import numpy as np

    facts = site.q("SELECT task, fact_id FROM fact_ranks GROUP BY task, fact_id ORDER BY task, fact_id")
    if facts.is_empty():
        return
    index: dict[str, dict[str, int]] = {}
    for task, g in facts.group_by("task", maintain_order=True):
        ids = g["fact_id"].to_list()
        index[task[0]] = {fid: i for i, fid in enumerate(ids)}
        site.data[f"data/facts/task-{method_slug(task[0])}.json"] = ids
    per_run: dict[str, dict] = {}
    for (rid, task), g in site.q("SELECT run_id, task, fact_id, rank FROM fact_ranks ORDER BY run_id, task, fact_id").group_by(
            "run_id", "task", maintain_order=True):
        idx = index[task]
        scored = np.zeros(len(idx), dtype=bool)
        right = np.zeros(len(idx), dtype=bool)
        pos = np.array([idx[f] for f in g["fact_id"].to_list()])
        scored[pos] = True
        right[pos[(g["rank"] == 1).to_numpy()]] = True
        per_run.setdefault(rid, {})[task] = {
            "ids": f"task-{method_slug(task)}.json",
            "scored": base64.b64encode(np.packbits(scored, bitorder="little").tobytes()).decode(),
            "right": base64.b64encode(np.packbits(right, bitorder="little").tobytes()).decode()}
    for rid, v in per_run.items():
        site.data[f"data/facts/{rid}.json"] = v


DOWNLOAD_TABLES = ("runs", "results", "relation_results", "compression_steps", "measured_sparsity", "models")


def _downloads(site: Site) -> None:
    out = site.out / "downloads"
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for t in DOWNLOAD_TABLES:
        df = site.q(f"SELECT * FROM {t} ORDER BY ALL")  # noqa: S608 (constant table names)
        df.write_parquet(out / f"{t}.parquet", compression="zstd", statistics=False)
        csv_safe(df).write_csv(out / f"{t}.csv")
        rows.append([t, df.height, link(f"downloads/{t}.parquet", "Parquet"), link(f"downloads/{t}.csv", "CSV")])
    parts = [Safe("<p>Every table of the store, as built for this site. The run files themselves (the source of truth) "
                  "are in the repository's <code>runs/</code> folder. Load the DuckDB file with "
                  "<code>duckdb.connect('leaderboard.duckdb', read_only=True)</code>.</p>"),
             Safe(f'<p>{link("downloads/leaderboard.duckdb", "leaderboard.duckdb")} (tables and views)</p>'),
             table(["Table", "Rows", "Parquet", "CSV"], rows, numeric={1})]
    site.page("downloads.md", "Downloads", block(*parts))
