"""The "Published results" pages: results from papers, as printed, cited to their table.

- ``published/index.md``: what reported results are, the caveats, one link per paper and per model series;
- ``published/<key>.md``: every row of one declared source (data/reported/sources.yaml, reviewed like code: a
  run belongs to it when its url, citation and table are the declared ones; the page shows the declared
  name, citation and caveat, never a run file's text as a heading) (model, compression in the run-file notation and in the
  paper's words, task, the value as printed, the table), and the reproduced value beside it where a
  reproduced run of the same spec exists (same model, compression and task);
- ``published/<series>.md`` for series with quantized rows (OPT, BLOOM): accuracy kept relative to the
  paper's own FP16 row, per task, RTN vs GPTQ at 4 and 3 bits across model sizes, and the printed tables.

- ``published/other-sources.md``: reported runs whose source is not declared, as their files say, marked so
  (never on a paper's page, whatever their citation says).

Every value links to its run page, which holds the citation, the table and the paper's words.
"""

from __future__ import annotations

import json
import re

import altair as alt
import polars as pl

from ... import registry
from ...schema import model_slug
from .. import queries
from ..html import Safe, badge, block, esc, link, table
from ..metrics import task_name
from ..tables import corrected_badge

SERIES_WITH_CURVES = ("OPT", "BLOOM")
LABELS = {"": "FP16 (baseline)"}


def headline_metrics() -> tuple[str, ...]:
    """Every registered suite's headline metric (LAMA P@1, BEAR and lm-eval accuracy, and any suite registered later),
    read when a page is built, not when this module is imported."""
    return tuple(dict.fromkeys(registry.SUITE_HEADLINES.values()))


def shown_metrics() -> tuple[str, ...]:
    return (*headline_metrics(), "precision@1-micro")  # and P@1 pooled over facts, as KEPLER reports it


OTHER = "other-sources"  # the page of reported runs whose source is not declared


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "paper"


def _printed(value: float, scale: str) -> str:
    text = f"{value:g}"
    return f"{text} %" if scale == "percent" else text


def _as_published(config: str | None) -> str | None:
    if not config:
        return None
    try:
        return json.loads(config).get("method_as_published")
    except ValueError:
        return None


def rows(site) -> pl.DataFrame:
    """Every reported headline value with its citation, the paper's words, and a reproduced twin if any."""
    return queries.published_rows(site.con, shown_metrics())


def _metric_note(metric: str) -> str:
    """The metric's name beside a printed value that is not a headline metric (KEPLER's micro-averaged P@1)."""
    return "" if metric in headline_metrics() else f' <span class="lb-ci">{esc(registry.metric_info(metric).label)}</span>'


def _repro_cell(r: dict, prefix: str) -> object:
    if r["repro_run_id"] is None:
        return None
    text = f"{r['repro_value'] * (100 if r['scale'] == 'percent' else 1):.2f}"
    if r["repro_low"] is not None:
        f = 100 if r["scale"] == "percent" else 1
        text += f" [{r['repro_low'] * f:.2f}, {r['repro_high'] * f:.2f}]"
    return link(f"{prefix}runs/{r['repro_run_id']}.html", text)


def _paper_page(site, src, df: pl.DataFrame) -> None:
    """The page of one declared source (``src``: reported.Source), or of the undeclared ones (``src`` None)."""
    if src is not None:
        head = Safe(f'<p>{badge("reported", "reported")} {esc(src.citation)} · '
                    f'<a href="{esc(src.url)}">{esc(src.url)}</a></p>'
                    f'<p class="lb-caveat"><strong>Caveats.</strong> {esc(src.caveat)}</p>')
    else:
        head = Safe(f'<p>{badge("reported", "reported")} Reported results whose source is not declared in this '
                    "project's list of sources (data/reported/sources.yaml): shown as their run files state them, "
                    "not checked against a paper's page. Each row names the citation, table and address it gives.</p>")
    parts: list[object] = [head]
    any_repro = df["repro_run_id"].is_not_null().any()
    for tbl in df["citation_table"].unique(maintain_order=True).to_list():
        part = df.filter(pl.col("citation_table") == tbl)
        body = []
        for r in part.iter_rows(named=True):
            value = link(f"../runs/{r['run_id']}.html", _printed(r["value"], r["scale"]))
            model = link(f"../models/{model_slug(r['model_id'])}.html", r["model_id"])
            cells = [Safe(f"{model} {corrected_badge(r['correction_reason'])}" if r["correction_reason"] else model),
                     _as_published(r["task_config"]) or r["method_label"], r["method_label"], r["task"],
                     Safe(f"{value}{_metric_note(r['metric'])}")]
            if src is None:
                cells += [r["citation"], r["citation_url"]]
            if any_repro:
                cells.append(_repro_cell(r, "../"))
            body.append(cells)
        headers = ["Model", "As published", "Run-file notation", "Task", "As printed"]
        if src is None:
            headers += ["Citation (as the run file says)", "URL (as the run file says)"]
        if any_repro:
            headers.append("Reproduced (95% CI)")
        parts.append(Safe(f"<h2>{esc(tbl)}</h2>"))
        parts.append(table(headers, body, cls="lb-table lb-sortable", numeric={4, len(headers) - 1} if any_repro
                           else {4}))
    if src is not None:
        site.page(f"published/{src.key}.md", f"Published: {src.name}", block(*parts))
    else:
        site.page(f"published/{OTHER}.md", "Published: other sources", block(*parts))


def _series_of(site) -> dict[str, str]:
    from ...reported import models_table

    return {m: row.series for m, row in models_table().items()}


def retention_table(df: pl.DataFrame) -> pl.DataFrame:
    """Per model and task: each quantized value over the paper's own FP16 value (same table)."""
    base = df.filter(pl.col("n_steps") == 0).select("model_id", "task", "citation_table",
                                                     pl.col("value_fraction").alias("fp16"))
    q = df.filter(pl.col("scheme").is_in(["rtn", "gptq"]))
    q = q.join(base, on=["model_id", "task", "citation_table"], how="inner")
    bits = pl.col("compression_key").str.extract(r'"bits":\s*(\d+)').cast(pl.Int64)
    return q.with_columns(bits=bits, method_name=pl.col("scheme").str.to_uppercase(),
                          kept=pl.col("value_fraction") / pl.col("fp16")).with_columns(
        series=pl.col("method_name") + " " + pl.col("bits").cast(pl.Utf8) + "-bit")


def _series_chart(ret: pl.DataFrame, title: str) -> alt.Chart:
    data = ret.select("model_id", "parameters", "task", "series", "kept", "value", "fp16").with_columns(
        task_name=pl.col("task").map_elements(task_name, return_dtype=pl.Utf8)).to_dicts()
    order = ["GPTQ 4-bit", "RTN 4-bit", "GPTQ 3-bit", "RTN 3-bit"]
    colours = ["#4c78a8", "#f58518", "#54a24b", "#e45756"]
    base = alt.Chart(alt.Data(values=data)).encode(
        x=alt.X("parameters:Q", scale=alt.Scale(type="log"), title="parameters (log scale)",
                axis=alt.Axis(format="~s")),
        y=alt.Y("kept:Q", title="accuracy kept (× FP16)", scale=alt.Scale(zero=False)),
        color=alt.Color("series:N", scale=alt.Scale(domain=order, range=colours), title=None,
                        legend=alt.Legend(orient="bottom")),
        strokeDash=alt.StrokeDash("series:N", scale=alt.Scale(domain=order, range=[[1, 0], [4, 2], [1, 0], [4, 2]]),
                                  legend=None),
        tooltip=["model_id:N", "series:N", alt.Tooltip("kept:Q", format=".3f"), "value:Q", "fp16:Q"])
    chart = (base.mark_line(point=True)).properties(width=190, height=150).facet(
        facet=alt.Facet("task_name:N", title=None), columns=3)
    # independent x axes: each panel draws its own (a shared axis would also be drawn under an empty slot)
    return chart.properties(title=title).resolve_scale(y="independent").resolve_axis(x="independent")


def _series_page(site, series: str, df: pl.DataFrame, caveat: str) -> None:
    parts: list[object] = [Safe(
        f'<p>{badge("reported", "reported")} Zero-shot accuracy of {esc(series)} models as printed in the GPTQ paper '
        "(Frantar et al. 2023, Appendix Tables 13–22): FP16, RTN and GPTQ at 4 and 3 bits. Lines show each "
        "quantized value divided by the same table's FP16 value (1.0 = nothing lost). "
        f'<p class="lb-caveat"><strong>Caveats.</strong> {esc(caveat)}</p>')]
    ret = retention_table(df)
    if not ret.is_empty():
        parts.append(site.chart(_series_chart(ret, f"{series}: accuracy kept under RTN and GPTQ"),
                                f"published-{_slug(series)}", f"{series}: accuracy kept under RTN vs GPTQ, "
                                "per task, across sizes (reported; Frantar et al. 2023)", 1,
                                "each quantized value divided by the same table's FP16 value; x: model size"))
    cols = [("", "FP16"), ("rtn4", "RTN 4-bit"), ("gptq4", "GPTQ 4-bit"), ("rtn3", "RTN 3-bit"), ("gptq3", "GPTQ 3-bit")]
    keyed = df.with_columns(key=pl.when(pl.col("n_steps") == 0).then(pl.lit("")).otherwise(
        pl.col("scheme") + pl.col("compression_key").str.extract(r'"bits":\s*(\d+)')))
    for task in keyed["task"].unique(maintain_order=True).to_list():
        t = keyed.filter(pl.col("task") == task)
        body = []
        for model_id in t.sort("parameters")["model_id"].unique(maintain_order=True).to_list():
            m = {r["key"]: r for r in t.filter(pl.col("model_id") == model_id).iter_rows(named=True)}
            if not m:
                continue
            any_row = next(iter(m.values()))
            cells: list[object] = [link(f"../models/{model_slug(model_id)}.html", model_id)]
            for key, _label in cols:
                r = m.get(key)
                cells.append(link(f"../runs/{r['run_id']}.html", f"{r['value']:g}") if r else None)
            cells.append(any_row["citation_table"])
            body.append(cells)
        parts.append(Safe(f"<h2>{esc(task)}</h2>"))
        parts.append(table(["Model", *[label for _k, label in cols], "Table"], body, numeric={1, 2, 3, 4, 5},
                           caption="accuracy in %, as printed; each value links to its run file"))
    site.page(f"published/{_slug(series)}.md", f"Published: {series} under RTN and GPTQ", block(*parts))


def build_published(site) -> None:
    """Add the Published results pages to ``site`` (a render.site.Site)."""
    df = rows(site)
    if df.is_empty():
        site.page("published/index.md", "Published results", "No reported result in this store yet.\n")
        return
    from ...reported import source_key, sources

    declared = sources()
    keys = [source_key(u, c, t) or OTHER for u, c, t in
            zip(df["citation_url"].to_list(), df["citation"].to_list(), df["citation_table"].to_list(), strict=True)]
    df = df.with_columns(paper=pl.Series(keys, dtype=pl.Utf8))
    series_of = _series_of(site)
    df = df.with_columns(series=pl.col("model_id").replace_strict(series_of, default="other"))
    papers = []
    for key in [k for k in declared if k in set(keys)] + ([OTHER] if OTHER in keys else []):
        p = df.filter(pl.col("paper") == key)
        src = declared.get(key)
        _paper_page(site, src, p)
        papers.append([link(f"{key}.html", src.name if src else "Other sources (not declared)"),
                       src.citation if src else "as each run file says", p["model_id"].n_unique(),
                       p.height, int(p["repro_run_id"].is_not_null().sum())])
    series_rows = []
    for src in (d for d in declared.values() if d.series_curves):
        for series in SERIES_WITH_CURVES:
            rows_of = df.filter((pl.col("series") == series) & (pl.col("paper") == src.key))
            if rows_of.is_empty():
                continue
            _series_page(site, series, rows_of, src.caveat)
            series_rows.append([link(f"{_slug(series)}.html", series), rows_of["model_id"].n_unique(), rows_of.height])
    intro = Safe(
        "<p>Results published in papers, entered <strong>exactly as printed</strong> (value, unit and the paper's own "
        "words for the method) and cited to the table they come from. They are marked "
        f"{badge('reported', 'reported')} everywhere and never averaged with results this project reproduces; "
        "where a reproduced run of the same model, compression and task exists, it is shown beside the "
        "printed value. Every value links to its run file.</p>")
    parts: list[object] = [intro, Safe("<h2>By source</h2>"),
                           table(["Paper", "Citation", "Models", "Results", "Reproduced beside"], papers,
                                 numeric={2, 3, 4})]
    if series_rows:
        parts += [Safe("<h2>By model family: RTN vs GPTQ across sizes</h2>"),
                  table(["Series", "Models", "Results"], series_rows, numeric={1, 2})]
    site.page("published/index.md", "Published results", block(*parts))
