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
from . import charts
from .html import Safe, badge, block, code, dl, esc, link, script_json, table

HEADLINE = ("CASE WHEN r.eval_task LIKE 'lama:%' THEN 'precision@1' WHEN r.eval_task LIKE 'bear:%' THEN 'accuracy' "
            "ELSE 'acc' END")


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

    def q(self, sql: str, params: list | None = None) -> pl.DataFrame:
        return self.con.sql(sql, params=params).pl() if params else self.con.sql(sql).pl()

    def page(self, path: str, title: str, *parts: str) -> None:
        """Data pages use the full width: no side navigation, no table of contents."""
        self.pages[path] = "---\nhide:\n  - navigation\n  - toc\n---\n\n" + f"# {esc(title)}\n" + "".join(parts)

    cache: Path | None = None

    def chart(self, chart, name: str, title: str, depth: int) -> Safe:
        saved = charts.save(chart, name, title, self.out / "charts", self.cache)
        prefix = "../" * depth
        return Safe(
            f'<figure class="lb-chart" id="chart-{esc(name)}"><img src="{prefix}charts/{esc(saved.svg)}" alt="{esc(title)}" '
            f'loading="lazy"><script type="application/json" class="lb-spec">{script_json(saved.spec)}</script>'
            f'<figcaption>{esc(title)} · <a href="{prefix}charts/{esc(saved.svg)}">SVG</a></figcaption></figure>')


# --- queries ------------------------------------------------------------------------------------------


def headline(site: Site) -> pl.DataFrame:
    """One row per run with its headline metric (P@1 for LAMA, accuracy for lm-eval) and retention."""
    return site.q(f"""
        SELECT r.run_id, r.source_kind, r.model_id, r.model_revision, r.family, r.toy, r.parameters, r.method,
               r.method_label, r.compression_key, r.scope, r.sparsity, r.scheme, r.n_steps,
               t.bits_per_weight, t.weight_bytes, r.eval_task AS task, t.value, t.ci_low, t.ci_high, t.retention, t.metric,
               CASE WHEN t.retention IS NOT NULL THEN t.ci_low / t.baseline_value END AS ret_low,
               CASE WHEN t.retention IS NOT NULL THEN t.ci_high / t.baseline_value END AS ret_high,
               r.method || CASE WHEN coalesce(r.scope, 'all') <> 'all' THEN ' @ ' || r.scope ELSE '' END AS series
        FROM runs r JOIN retention t USING (run_id)
        WHERE t.metric = {HEADLINE} AND t.task = r.eval_task
        ORDER BY r.model_id, r.n_steps, r.method, r.scope, r.sparsity, r.scheme, r.eval_task, r.run_id
    """)


def sparsity_curve(h: pl.DataFrame) -> pl.DataFrame:
    prune = h.filter((pl.col("n_steps") == 1) & pl.col("method").str.starts_with("prune") & pl.col("retention").is_not_null())
    if prune.is_empty():
        return prune
    base = h.filter((pl.col("n_steps") == 0) & pl.col("retention").is_not_null())
    cols = ["series", "model_id", "task", "sparsity", "retention", "ret_low", "ret_high"]
    zero = (prune.select("series", "model_id", "task").unique()
            .join(base.select("model_id", "task", "retention", "ret_low", "ret_high"), on=["model_id", "task"])
            .with_columns(sparsity=pl.lit(0.0)))
    pts = pl.concat([prune.select(cols), zero.select(cols)])
    return _aggregate(pts, ["series", "sparsity"])


def _aggregate(df: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """Mean knowledge kept over models; bars: the mean 95% interval (of P@1 over the baseline's P@1);
    the spread over models goes to the tooltip."""
    return (df.group_by(keys).agg(
        pl.col("retention").mean().alias("retention"),
        pl.col("ret_low").mean().fill_null(pl.col("retention").min()).alias("low"),
        pl.col("ret_high").mean().fill_null(pl.col("retention").max()).alias("high"),
        pl.col("retention").min().alias("lowest_model"), pl.col("retention").max().alias("highest_model"),
        pl.col("model_id").n_unique().alias("models"),
        *([pl.col("bits_per_weight").mean().alias("bits")] if "bits_per_weight" in df.columns else []))
        .sort(keys))


def bits_points(h: pl.DataFrame) -> pl.DataFrame:
    q = h.filter(pl.col("retention").is_not_null() & pl.col("bits_per_weight").is_not_null()
                 & ((pl.col("n_steps") == 0) | pl.col("method").str.contains("quantize")))
    q = q.with_columns(series=pl.when(pl.col("n_steps") == 0).then(pl.lit("baseline")).otherwise(pl.col("series")))
    return _aggregate(q, ["series"])


def at_sparsity(h: pl.DataFrame, target: float = 0.5) -> pl.DataFrame:
    """Every pruning series at the requested sparsity, plus every quantization (no sparsity)."""
    sel = h.filter(pl.col("retention").is_not_null() & (pl.col("n_steps") > 0)
                   & (((pl.col("sparsity") - target).abs() < 1e-9) | pl.col("sparsity").is_null()))
    return _aggregate(sel, ["series"])


# --- page parts -----------------------------------------------------------------------------------


def _pct(x: float | None) -> object:
    return None if x is None else Safe(f"{100 * x:.1f}%")


def _num(x: float | None, digits: int = 3) -> object:
    return None if x is None else Safe(f"{x:.{digits}f}")


def source_badge(kind: str, toy: bool = False) -> Safe:
    parts = [badge(kind, kind)]
    if toy:
        parts.append(badge("toy", "toy"))
    return Safe(" ".join(parts))


def leaderboard_rows(h: pl.DataFrame, depth: int) -> tuple[list[str], list[list[object]], list[str], list[str]]:
    """One row per (source, model, compression) with the headline value per task and the mean retention."""
    prefix = "../" * depth
    tasks = sorted(h["task"].unique().to_list())
    keys = ["source_kind", "model_id", "model_revision", "compression_key"]
    rows, classes, order = [], [], []
    grouped = h.group_by(keys, maintain_order=True)
    for _key, g in grouped:
        first = g.row(0, named=True)
        by_task = {r["task"]: r for r in g.iter_rows(named=True)}
        cells: list[object] = [
            link(f"{prefix}models/{model_slug(first['model_id'])}.html", first["model_id"]),
            first["family"],
            link(f"{prefix}runs/{g['run_id'][0]}.html", first["method_label"]),
            _pct(first["sparsity"]), _num(first["bits_per_weight"], 1),
            _num(first["weight_bytes"] / 1e6 if first["weight_bytes"] is not None else None, 1),
        ]
        for t in tasks:
            r = by_task.get(t)
            cells.append(link(f"{prefix}runs/{r['run_id']}.html", f"{r['value']:.3f}") if r else None)
        rets = [r["retention"] for r in by_task.values() if r["retention"] is not None]
        cells.append(_num(sum(rets) / len(rets)) if rets else None)
        cells.append(source_badge(first["source_kind"], first["toy"]))
        rows.append(cells)
        classes.append(f"lb-src-{first['source_kind']}")
        order.append(first["model_id"])
    metric_names = {t: ("P@1" if t.startswith("lama:") else "accuracy" if t.startswith("bear:") else "acc") for t in tasks}
    headers = ["Model", "Family", "Compression", "Sparsity", "Bits/weight", "Size (MB)",
               *[f"{metric_names[t]} {t}" for t in tasks], "Kept (× baseline)", "Source"]
    return headers, rows, classes, tasks


def leaderboard_table(h: pl.DataFrame, depth: int, filters: bool = True) -> Safe:
    headers, rows, classes, tasks = leaderboard_rows(h, depth)
    numeric = set(range(3, len(headers) - 1))
    tbl = table(headers, rows, cls="lb-table lb-sortable", numeric=numeric, row_classes=classes)
    if not filters:
        return tbl
    families = sorted(h["family"].unique().to_list())
    sources = sorted(h["source_kind"].unique().to_list())
    opts = lambda vals: "".join(f'<option value="{esc(v)}">{esc(v)}</option>' for v in vals)  # noqa: E731
    controls = Safe(
        '<div class="lb-filters"><label>Search <input type="search" class="lb-filter-text" placeholder="model or method"></label> '
        f'<label>Family <select class="lb-filter-family"><option value="">all</option>{opts(families)}</select></label> '
        f'<label>Source <select class="lb-filter-source"><option value="">all</option>{opts(sources)}</select></label></div>')
    return Safe(controls + tbl)


# --- pages ------------------------------------------------------------------------------------------


def build_pages(site: Site) -> None:
    h = headline(site)
    series = sorted(set(h["series"].to_list()) | {"baseline"})
    site.colours = charts.Colours(tuple(series))
    counts = site.q("SELECT count(*) AS runs, count(DISTINCT model_id) AS models, count(DISTINCT family) AS families, "
                    "count(*) FILTER (WHERE source_kind = 'reported') AS reported FROM runs").row(0, named=True)
    _home(site, h, counts)
    site.page("leaderboard.md", "Leaderboard",
              "Every compression of every model: the headline metric per task (LAMA P@1, lm-eval accuracy) and the "
              "knowledge kept relative to the model's own uncompressed baseline. Click a column to sort; filter by "
              "family, source or text. Reported rows come from papers and are never averaged with reproduced ones.\n",
              block(leaderboard_table(h, 0)))
    for fam in registry.FAMILIES:
        _family(site, h, fam)
    for method in sorted(h["method"].unique().to_list()):
        _method(site, h, method)
    for model_id in sorted(h["model_id"].unique().to_list()):
        _model(site, h, model_id)
    _indexes(site, h)
    _runs(site, h)
    _compare(site, h)
    _downloads(site)
    from .published import build_published  # papers' results, as printed (render/published.py)

    build_published(site)


def _indexes(site: Site, h: pl.DataFrame) -> None:
    """Families come from the registry, methods and models from the data: nothing is listed by hand."""
    fam_rows = [[link(f"{f}.html", f), h.filter(pl.col("family") == f)["model_id"].n_unique(),
                 h.filter(pl.col("family") == f).height] for f in registry.FAMILIES]
    site.page("families/index.md", "Model families", block(table(["Family", "Models", "Runs"], fam_rows, numeric={1, 2})))
    meth_rows = []
    for method in sorted(h["method"].unique().to_list()):
        m = h.filter(pl.col("method") == method)
        meth_rows.append([link(f"{method_slug(method)}.html", "uncompressed baselines" if method == "baseline" else method),
                          m["model_id"].n_unique(), m.height])
    site.page("methods/index.md", "Compression methods",
              block(table(["Method", "Models", "Runs"], meth_rows, numeric={1, 2}),
                    Safe("<h2>Every method the runner knows</h2>"), methods_table()))
    site.snippets["methods"] = str(methods_table())
    model_rows = []
    for model_id in sorted(h["model_id"].unique().to_list()):
        m = h.filter(pl.col("model_id") == model_id)
        first = m.row(0, named=True)
        model_rows.append([link(f"{model_slug(model_id)}.html", model_id), first["family"],
                           f"{first['parameters']:,}" if first["parameters"] else None, m.height,
                           source_badge(first["source_kind"], first["toy"])])
    site.page("models/index.md", "Models", block(table(["Model", "Family", "Parameters", "Runs", "Source"], model_rows,
                                                       cls="lb-table lb-sortable", numeric={2, 3})))


def _home(site: Site, h: pl.DataFrame, counts: dict) -> None:
    curve = sparsity_curve(h.filter(pl.col("source_kind") != "synthetic") if (h["source_kind"] != "synthetic").any() else h)
    parts = [dl([("runs", counts["runs"]), ("models", counts["models"]), ("families", counts["families"]),
                 ("reported results", counts["reported"])])]
    if not curve.is_empty():
        parts.append(site.chart(charts.retention_vs_sparsity(curve, site.colours, "Knowledge kept as weights are pruned"),
                                "home-sparsity", "Knowledge kept as weights are pruned (mean over models; bars: 95% intervals)", 0))
    top = h.filter((pl.col("n_steps") > 0) & pl.col("retention").is_not_null()).sort(
        ["retention", "bits_per_weight", "run_id"], descending=[True, False, False], nulls_last=True).head(10)
    if not top.is_empty():
        parts.append(Safe("<h2>Best knowledge kept</h2>"))
        parts.append(leaderboard_table(top, 0, filters=False))
    parts.append(Safe('<p><a href="leaderboard.html">The whole leaderboard →</a></p>'))
    site.snippets["home"] = block(*parts)


def _family(site: Site, h: pl.DataFrame, fam: str) -> None:
    f = h.filter(pl.col("family") == fam)
    path = f"families/{fam}.md"
    if f.is_empty():
        site.page(path, f"Family: {fam}", "No runs of this family yet.\n")
        return
    parts = []
    curve = sparsity_curve(f)
    if not curve.is_empty():
        parts.append(site.chart(charts.retention_vs_sparsity(curve, site.colours, f"{fam}: knowledge kept vs sparsity"),
                                f"family-{fam}-sparsity", f"{fam}: knowledge kept vs sparsity", 1))
    bits = bits_points(f)
    if bits.height > 1:
        parts.append(site.chart(charts.retention_vs_bits(bits, site.colours, f"{fam}: knowledge kept vs bits per weight"),
                                f"family-{fam}-bits", f"{fam}: knowledge kept vs bits per weight", 1))
    cmp = at_sparsity(f)
    if not cmp.is_empty():
        parts.append(site.chart(charts.method_comparison(cmp, site.colours, f"{fam}: methods at 50% sparsity (and quantization)"),
                                f"family-{fam}-methods", f"{fam}: methods at 50% sparsity, and quantization", 1))
    pts = site.q(f"""
        SELECT p.family, p.source_kind AS source, p.model_id AS model, p.method_label AS compression, p.task,
               p.size_bytes / 1e6 AS size_mb, p.value
        FROM pareto p WHERE p.family = ? AND p.metric = {HEADLINE.replace('r.eval_task', 'p.task')}
        ORDER BY p.task, p.size_bytes""", [fam])
    allpts = f.filter(pl.col("weight_bytes").is_not_null()).select(
        pl.col("family"), pl.col("source_kind").alias("source"), pl.col("model_id").alias("model"),
        pl.col("method_label").alias("compression"), pl.col("task"), (pl.col("weight_bytes") / 1e6).alias("size_mb"),
        pl.col("value"))
    if not allpts.is_empty():
        parts.append(site.chart(charts.pareto(allpts, pts, f"{fam}: size vs knowledge (dashed: pareto frontier)"),
                                f"family-{fam}-pareto", f"{fam}: size vs knowledge (dashed: pareto frontier)", 1))
    parts.append(Safe("<h2>Runs</h2>"))
    parts.append(leaderboard_table(f, 1))
    site.page(path, f"Family: {fam}", block(*parts))


def _method(site: Site, h: pl.DataFrame, method: str) -> None:
    m = h.filter(pl.col("method") == method)
    label = "uncompressed baselines" if method == "baseline" else method
    parts = []
    curve = sparsity_curve(m)
    if not curve.is_empty():
        parts.append(site.chart(charts.retention_vs_sparsity(curve, site.colours, f"{label}: knowledge kept vs sparsity"),
                                f"method-{method_slug(method)}", f"{label}: knowledge kept vs sparsity", 1))
    parts.append(leaderboard_table(m, 1))
    about = _about(method)
    site.page(f"methods/{method_slug(method)}.md", f"Method: {label}", block(*about, *parts))


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
                ("example", code("--compress " + m.example) if m.example else None)])]


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
    parts = [dl([("family", first["family"]), ("parameters", f"{first['parameters']:,}" if first["parameters"] else None),
                 ("revisions", ", ".join(sorted({str(r) for r in m["model_revision"].to_list()}))),
                 ("runs", m.height)]),
             leaderboard_table(m, 1, filters=False)]
    rel = site.q("""
        SELECT rr.relation, rr.value_fraction AS value, rr.n, r.method_label AS compression, r.n_steps, r.sparsity, r.scheme,
               r.method, r.scope,
               rr.value_fraction / nullif(b.value_fraction, 0) AS retention
        FROM relation_results rr JOIN runs r USING (run_id)
        LEFT JOIN (SELECT rr2.relation, rr2.task, rr2.value_fraction, r2.model_revision, r2.eval_data_sha256, r2.source_kind
                   FROM relation_results rr2 JOIN runs r2 USING (run_id)
                   WHERE r2.model_id = ? AND r2.n_steps = 0 AND rr2.metric = 'precision@1') b
          ON b.relation = rr.relation AND b.task = rr.task AND b.model_revision IS NOT DISTINCT FROM r.model_revision
         AND b.eval_data_sha256 IS NOT DISTINCT FROM r.eval_data_sha256 AND b.source_kind = r.source_kind
        WHERE r.model_id = ? AND rr.metric = 'precision@1'
          AND (r.n_steps = 0 OR (r.n_steps = 1 AND r.scope = 'all' AND (r.method = 'prune:l1:global' OR r.method LIKE 'quantize:%')))
        ORDER BY r.n_steps, r.sparsity NULLS FIRST, r.scheme, compression, rr.relation""", [model_id, model_id])
    if not rel.is_empty():
        parts.append(Safe("<h2>Which facts go first</h2><p>P@1 per relation relative to the baseline, under global "
                          "magnitude pruning and quantization of every Linear layer (the other compressions are in the "
                          "table above).</p>"))
        parts.append(site.chart(charts.relation_heatmap(rel, f"{model_id}: knowledge kept per relation"),
                                f"model-{model_slug(model_id)}-relations", f"{model_id}: knowledge kept per relation", 1))
    forgot = site.q("""
        SELECT r.method_label, f.task, f.forgotten, f.learned, f.kept, f.compared, r.run_id
        FROM facts_forgotten f JOIN runs r USING (run_id) WHERE r.model_id = ? ORDER BY f.forgotten, r.method_label""", [model_id])
    if not forgot.is_empty():
        parts.append(Safe("<h2>Facts forgotten</h2><p>Facts the baseline ranked first that the compressed model no longer does "
                          "(and the reverse).</p>"))
        parts.append(table(["Compression", "Task", "Forgotten", "Newly right", "Kept", "Compared"],
                           [[link(f"../runs/{r['run_id']}.html", r["method_label"]), r["task"], r["forgotten"], r["learned"],
                             r["kept"], r["compared"]] for r in forgot.iter_rows(named=True)], numeric={2, 3, 4, 5}))
    site.page(f"models/{model_slug(model_id)}.md", f"Model: {model_id}", block(*parts))


RUN_SHELL = "runs/_shell.md"
RUN_BODY_MARKER = "<!--lb-run-body-->"
RUN_TITLE_MARKER = "lb-run-title"


def _grouped(df: pl.DataFrame) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for row in df.iter_rows(named=True):
        out.setdefault(row["run_id"], []).append(row)
    return out


def _interval(x: dict) -> object:
    return Safe(f"[{x['ci_low']:.4f}, {x['ci_high']:.4f}]") if x["ci_low"] is not None else None


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


def run_body(r: dict, res: list[dict], steps: list[dict], sparsity: list[dict], rels: list[dict], forgot: list[dict]) -> str:
    """The HTML of one run page (title and body; the site chrome comes from the shell page)."""
    rid = r["run_id"]
    parts = [Safe(f'<h1 id="run-title">Run {esc(rid)}</h1>'),
             Safe(f"<p>{source_badge(r['source_kind'], r['toy'])} "
                  f"{link('../models/' + model_slug(r['model_id']) + '.html', r['model_id'])} · {esc(r['method_label'])} · "
                  f"{esc(r['eval_task'])}</p>")]
    if r["source_kind"] == "reported":
        parts += [Safe("<h2>Source</h2>"), dl([("citation", r["citation"]), ("table", r["citation_table"]),
                                               ("page", r["citation_page"])])]
        if r["citation_url"]:
            parts.append(Safe(f'<p>{link(r["citation_url"], r["citation_url"])}</p>'))
    if r["source_kind"] == "synthetic":
        parts.append(Safe('<p class="lb-warning">Synthetic run, made for tests and benchmarks: not a measurement.</p>'))
    broken = {x["task"]: (x["task_nonfinite"], x["task_n"]) for x in res if x.get("task_nonfinite")}
    for task, (bad, n) in sorted(broken.items()):
        parts.append(Safe(f'<p class="lb-warning lb-nonfinite">Model output is not finite: {esc(task)} had non-finite '
                          f"scores (NaN or infinite) on {bad:,} of {n:,} examples. They count as wrong, never as "
                          "right; the model is broken, not merely compressed.</p>"))
    parts.append(Safe("<h2>Results</h2>"))
    parts.append(table(["Task", "Metric", "Value", "Scale", "95% interval", "n", "Excluded"],
                       [[x["task"], x["metric"], _num(x["value"], 4), x["scale"], _interval(x), x["n"], x["task_excluded"]]
                        for x in res], numeric={2, 5, 6}))
    if forgot:
        parts.append(Safe("<h3>Facts forgotten</h3>"))
        parts.append(table(["Task", "Facts forgotten", "Newly right", "Kept", "Compared with the baseline"],
                           [[x["task"], x["forgotten"], x["learned"], x["kept"], x["compared"]] for x in forgot],
                           numeric={1, 2, 3, 4}))
    if rels:
        parts.append(Safe("<h2>Per relation (P@1)</h2>"))
        parts.append(table(["Relation", "P@1", "95% interval", "n", "Excluded"],
                           [[x["relation"], _num(x["value"], 4), _interval(x), x["n"], x["excluded"]] for x in rels],
                           numeric={1, 3, 4}))
    parts.append(Safe("<h2>Compression</h2>"))
    if not steps:
        parts.append(Safe("<p>None: the uncompressed baseline.</p>"))
    else:
        parts.append(table(["#", "Method", "Criterion / scheme", "Scope", "Granularity", "Sparsity", "All fields", "Calibration"],
                           [[x["step_index"], x["method"], x["criterion"] or x["scheme"], x["scope"], x["granularity"],
                             _pct(x["sparsity"]), _fields(x.get("notation")), _calibration(x.get("calibration"))]
                            for x in steps]))
    if r.get("derived_by"):
        base = r.get("base_model_id")
        parts.append(Safe("<h2>Lineage</h2>"))
        parts.append(dl([("derived from", base or "not stated"),
                         ("how", r["derived_by"]),
                         ("steps the checkpoint already had", r.get("steps_in_checkpoint")),
                         ("knowledge kept", "relative to the base model's own uncompressed baseline" if base else None)]))
    parts.append(Safe("<h2>Measured</h2>"))
    parts.append(dl([("weights in memory", f"{r['weight_bytes']:,} bytes" if r["weight_bytes"] else None),
                     ("bits per weight", r["bits_per_weight"]),
                     ("stored (compressed checkpoint)", f"{r['stored_bytes']:,} bytes, {r['stored_bits_per_weight']} bits per "
                      "weight" if r.get("stored_bytes") else None),
                     ("evaluated on", KERNELS.get(r.get("kernels"))),
                     ("peak memory", f"{r['peak_memory_bytes']:,} bytes" if r["peak_memory_bytes"] else None),
                     ("compression time", f"{r['compress_seconds']} s" if r["compress_seconds"] is not None else None),
                     ("evaluation time", f"{r['eval_seconds']} s" if r["eval_seconds"] is not None else None),
                     ("throughput", f"{r['throughput']} {r['throughput_unit']}" if r["throughput"] else None),
                     *[(f"sparsity of {x['scope']}", f"{100 * x['sparsity']:.2f}%") for x in sparsity]]))
    parts.append(Safe("<h2>Provenance</h2>"))
    parts.append(dl([("run_id", rid), ("model revision", r["model_revision"]), ("architecture", r["architecture"]),
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
    site.run_pages = {}
    for r in site.q("SELECT * FROM runs ORDER BY run_id").iter_rows(named=True):
        rid = r["run_id"]
        site.run_pages[rid] = (f"Run {rid}", run_body(r, res.get(rid, []), steps.get(rid, []), sparsity.get(rid, []),
                                                      rels.get(rid, []), forgot.get(rid, [])))
    site.pages[RUN_SHELL] = ("---\nhide:\n  - navigation\n  - toc\nsearch:\n  exclude: true\n---\n\n"
                             f"# {RUN_TITLE_MARKER}\n\n{RUN_BODY_MARKER}\n")


def _compare(site: Site, h: pl.DataFrame) -> None:
    """Methods side by side at the same sparsity for each model, and facts forgotten per run."""
    parts = [Safe("<p>Each row: one model, one task; each column: a compression at 50% sparsity (pruning) or "
                  "quantization. Values are the headline metric; the baseline is the first column.</p>")]
    sel = h.filter((pl.col("n_steps") == 0) | ((pl.col("sparsity") - 0.5).abs() < 1e-9) | pl.col("sparsity").is_null())
    cols = ["baseline"] + sorted({s for s in sel.filter(pl.col("n_steps") > 0)["series"].to_list()})
    rows = []
    for (model_id, task, source), g in sel.group_by("model_id", "task", "source_kind", maintain_order=True):
        vals = {("baseline" if r["n_steps"] == 0 else r["series"]): r for r in g.iter_rows(named=True)}
        rows.append([link(f"models/{model_slug(model_id)}.html", model_id), task, source_badge(source),
                     *[link(f"runs/{vals[c]['run_id']}.html", f"{vals[c]['value']:.3f}") if c in vals else None for c in cols]])
    parts.append(table(["Model", "Task", "Source", *cols], rows, cls="lb-table lb-sortable", numeric=set(range(3, 3 + len(cols)))))
    fg = site.q("""SELECT r.model_id, r.method_label, f.task, f.forgotten, f.learned, f.kept, f.compared, r.run_id
                   FROM facts_forgotten f JOIN runs r USING (run_id) ORDER BY r.model_id, f.forgotten DESC, r.run_id""")
    if not fg.is_empty():
        parts.append(Safe("<h2>Facts forgotten, run by run</h2>"))
        parts.append(table(["Model", "Compression", "Task", "Forgotten", "Newly right", "Kept", "Compared"],
                           [[link(f"models/{model_slug(r['model_id'])}.html", r["model_id"]),
                             link(f"runs/{r['run_id']}.html", r["method_label"]), r["task"], r["forgotten"], r["learned"],
                             r["kept"], r["compared"]] for r in fg.iter_rows(named=True)], cls="lb-table lb-sortable",
                           numeric={3, 4, 5, 6}))
    site.page("compare.md", "Compare", block(*parts))


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
