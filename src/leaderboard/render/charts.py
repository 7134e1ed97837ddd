"""Altair charts of the store: each saved as static SVG (vl-convert) and as a Vega-Lite spec for the
interactive view (vega-embed, served with the site). One colour per compression series everywhere."""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

import altair as alt
import polars as pl

alt.data_transformers.disable_max_rows()

# Colour-blind-safe colours: Okabe & Ito (2008) without black, then Paul Tol's "muted" set; no red-green pair is the
# only difference between two methods, because every method also has its own point shape (SHAPES). The baseline is
# always grey and no other method gets grey. Methods past the list get interpolated hues, never a reused colour.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
           "#332288", "#88CCEE", "#44AA99", "#117733", "#999933", "#DDCC77", "#CC6677", "#882255", "#AA4499"]
SHAPES = ["circle", "square", "triangle-up", "diamond", "cross", "triangle-down", "triangle-right", "triangle-left"]
BASELINE_COLOUR = "#6b6b6b"
AS_DISTRIBUTED = "Baseline as distributed (arrived compressed)"  # a GGUF file run as it is: grey like a baseline
BASELINES = ("Uncompressed baseline", AS_DISTRIBUTED)
WIDTH = 260  # one panel; small multiples wrap
HEIGHT = 200


@dataclass(frozen=True)
class Colours:
    """One colour per method, fixed for the whole site (a chart's legend lists only the methods it draws)."""

    domain: tuple[str, ...]

    def colour(self, name: str) -> str:
        if name in BASELINES:
            return BASELINE_COLOUR
        others = [d for d in self.domain if d not in BASELINES]
        i = others.index(name) if name in others else len(others)
        if i < len(PALETTE):
            return PALETTE[i]
        import colorsys

        r, g, b = colorsys.hls_to_rgb(((i - len(PALETTE)) * 0.618034) % 1.0, 0.42, 0.55)
        return f"#{int(r * 255):02x}{int(g * 255):02x}{int(b * 255):02x}"

    def shape(self, name: str) -> str:
        if name in BASELINES:
            return "circle"
        others = [d for d in self.domain if d not in BASELINES]
        return SHAPES[(others.index(name) if name in others else len(others)) % len(SHAPES)]

    def scale(self, drawn: list[str]) -> alt.Scale:
        drawn = [d for d in self.domain if d in set(drawn)]
        return alt.Scale(domain=drawn, range=[self.colour(d) for d in drawn])

    def shape_scale(self, drawn: list[str]) -> alt.Scale:
        drawn = [d for d in self.domain if d in set(drawn)]
        return alt.Scale(domain=drawn, range=[self.shape(d) for d in drawn])


def kept_domain(df: pl.DataFrame) -> list[float]:
    """The 'knowledge kept' axis: from 0 to a little above the highest point (at least 1.1, the baseline in view);
    whiskers are clipped to it (their full extent is in the tooltip), so one wide interval cannot stretch the axis
    to -1..4."""
    top = max([1.0, *[v for v in df["retention"].to_list() if v is not None]])
    return [0.0, math.ceil(top * 10 + 1) / 10]


def clip_whiskers(df: pl.DataFrame, domain: list[float]) -> pl.DataFrame:
    return df.with_columns(low_c=pl.col("low").clip(domain[0], domain[1]), high_c=pl.col("high").clip(domain[0], domain[1]))


def log_domain(values: list[float]) -> list[float]:
    """A log axis from the data: a little below the smallest and above the largest value (no 'nice' rounding to
    powers of two, which stretched 15-32 bits to 20-60... or 8-64)."""
    vals = [v for v in values if v is not None and v > 0]
    if not vals:
        return [1.0, 2.0]
    lo, hi = min(vals), max(vals)
    return [lo / 1.15, hi * 1.15]


_COUNTED_ID = re.compile(r"\b(gradient|clip|pattern|marker)_?(\d+)\b")


def stable_ids(svg: str) -> str:
    """Vega numbers gradient (and clip) ids with a per-process counter; renumber them per file, in order
    of appearance, so the same chart gives the same bytes in any process."""
    mapping: dict[str, str] = {}

    def sub(m: re.Match) -> str:
        key = m.group(0)
        if key not in mapping:
            mapping[key] = f"{m.group(1)}_{sum(k.startswith(m.group(1)) for k in mapping)}"
        return mapping[key]

    return _COUNTED_ID.sub(sub, svg)


_INTERACTIVE = frozenset({"href", "tooltip"})  # channels (and mark properties) a picture cannot use


def static_spec(node: object) -> object:
    """The spec drawn as a picture: without links and tooltips (an SVG shown by an <img> follows no link and shows
    no tooltip; the interactive view, made from the whole spec, has both). The same pixels, a third less time to
    convert: the links and tooltips of 343 heatmaps were 12 CPU-seconds of a fresh 100,000-run build (issue 22).
    The data (``datasets``, ``values``) is kept as it is, whatever its fields are called."""
    if isinstance(node, dict):
        return {k: (v if k in ("datasets", "values") else static_spec(v)) for k, v in node.items() if k not in _INTERACTIVE}
    if isinstance(node, list):
        return [static_spec(v) for v in node]
    return node


PICTURE_TITLE_CHARS = 40  # a picture's title is wrapped into lines of at most this many characters (one panel's width)


def picture_layout(spec: dict) -> dict:
    """The layout of the static picture, which cannot adapt to the reader's screen as the interactive view does
    (site/assets/charts.js): its title wrapped onto lines of at most PICTURE_TITLE_CHARS characters, its legends in
    one column, one under another. The picture is drawn with text widths vl-convert measures in its own fonts, and the reader's browser
    draws the text in others: a one-line title wider than the chart was cut off at its edge, and legend labels in two
    columns (or beside another legend) ran into the next column's symbols."""
    out = dict(spec)
    title = out.get("title")
    text = title if isinstance(title, str) else title.get("text") if isinstance(title, dict) else None
    if isinstance(text, str) and len(text) > PICTURE_TITLE_CHARS:
        lines: list[str] = []
        for word in text.split(" "):
            if lines and len(lines[-1]) + 1 + len(word) <= PICTURE_TITLE_CHARS:
                lines[-1] += " " + word
            else:
                lines.append(word)
        out["title"] = {**(title if isinstance(title, dict) else {}), "text": lines}
    config = dict(out.get("config") or {})
    # one column, and the legends below the chart one under another (not side by side), each label with room to its right
    config["legend"] = {**(config.get("legend") or {}), "columns": 1,
                        "layout": {"bottom": {"direction": "vertical", "anchor": "start"}}}
    out["config"] = config
    return out


def _cache_entry(spec: dict, cache: Path | None) -> tuple[str, Path | None]:
    """The spec as canonical JSON and its SVG's place in the cache (keyed by its hash, vl-convert's version and how
    the picture is made from the spec: static_spec, picture_layout)."""
    import vl_convert as vlc

    text = json.dumps(spec, sort_keys=True)
    key = hashlib.sha256(f"{getattr(vlc, '__version__', '')}:picture-3:{text}".encode()).hexdigest()
    return text, (cache / f"{key}.svg" if cache is not None else None)


def to_svg(spec: dict, cache: Path | None = None) -> str:
    """SVG of a Vega-Lite spec (static_spec, picture_layout); cached by the spec's hash (conversion is the slow part of
    a build)."""
    import vl_convert as vlc

    text, hit = _cache_entry(spec, cache)
    if hit is not None and hit.exists():
        return hit.read_text(encoding="utf-8")
    svg = stable_ids(vlc.vegalite_to_svg(picture_layout(static_spec(json.loads(text)))))
    if hit is not None:
        from ..fsutil import write_atomic

        hit.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(hit, svg.encode("utf-8"), sync=False)  # whole or absent: workers share it
    return svg


def svg_job(job: tuple[dict, str | None]) -> str:
    """to_svg in a worker process (parallel.pmap): one vl-convert runtime each, so conversions run side by side."""
    spec, cache = job
    return to_svg(spec, Path(cache) if cache else None)


def spec_of(chart: alt.TopLevelMixin | dict) -> dict:
    """The chart's Vega-Lite spec (built by this module: validating it costs seconds per build); a spec already made
    (relation_heatmap) as it is."""
    return chart if isinstance(chart, dict) else chart.to_dict(validate=False)


KEPT = "knowledge kept (× baseline)"  # multiple-choice tasks: chance-normalised, said in the panel title
CONFIG = {"font": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "background": "white",
          "axis": {"labelFontSize": 11, "titleFontSize": 12, "labelLimit": 260},
          # numbers never print over each other ("3032"); names (heatmap rows and columns) are all kept
          "axisQuantitative": {"labelOverlap": "greedy", "labelSeparation": 6},
          "legend": {"labelFontSize": 11, "titleFontSize": 12, "labelLimit": 360, "symbolLimit": 60},
          "header": {"labelFontSize": 12, "titleFontSize": 12, "labelLimit": 300},
          "title": {"fontSize": 14, "anchor": "start"}}


def _frame(df: pl.DataFrame) -> dict:
    """A chart's data as Vega-Lite inline values, made by polars: a missing or non-finite number is null (what Altair
    does to a pandas frame; converting to pandas and sanitising it was most of turning a chart into its spec, a few
    seconds of a fresh build at 100,000 runs, issue 22). Altair names the values by their hash (``datasets``)."""
    floats = [c for c, t in df.schema.items() if t.is_float()]
    if floats:
        df = df.with_columns(pl.when(pl.col(c).is_finite()).then(pl.col(c)).alias(c) for c in floats)
    return {"values": df.to_dicts()}


def _finish(chart, title: str, columns: int, description: str):
    chart = chart.properties(title=title, columns=columns) if columns else chart.properties(title=title)
    chart = chart.configure(**{k: v for k, v in CONFIG.items() if not isinstance(v, dict)})
    chart = chart.configure_axis(**CONFIG["axis"]).configure_axisQuantitative(**CONFIG["axisQuantitative"]).configure_legend(orient="bottom", direction="vertical", columns=2, **CONFIG["legend"])
    chart = chart.configure_header(**CONFIG["header"]).configure_title(**CONFIG["title"])
    return chart.properties(description=description)


def retention_vs_sparsity(df: pl.DataFrame, colours: Colours, title: str, description: str) -> alt.FacetChart:
    """Small multiples (one panel per family × task): mean knowledge kept over models against the measured share
    of zero weights in all Linear layers; colour = method (site-wide), dash = pruned scope; whiskers = 95%
    interval of the mean; a dotted line at 1 = the baseline. A point links to its run (one model) or to the
    leaderboard filtered to it (several models)."""
    methods = sorted(set(df["method_name"].to_list()))
    base = alt.Chart().encode(
        x=alt.X("whole:Q", title="sparsity of all Linear layers (measured)", axis=alt.Axis(format=".0%", tickCount=5),
                scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("method_name:N", scale=colours.scale(methods), title="method"),
    )
    tooltip = [alt.Tooltip("method_name:N", title="method"), alt.Tooltip("scope:N", title="pruned scope"),
               alt.Tooltip("sparsity:Q", format=".0%", title="sparsity of the scope"),
               alt.Tooltip("whole:Q", format=".1%", title="sparsity of all Linear layers"),
               alt.Tooltip("retention:Q", format=".3f", title="kept"), alt.Tooltip("low:Q", format=".3f", title="95% low"),
               alt.Tooltip("high:Q", format=".3f", title="95% high"), alt.Tooltip("models:Q", title="models")]
    dom = kept_domain(df)
    y = alt.Y("retention:Q", title=KEPT, scale=alt.Scale(domain=dom, nice=False, clamp=True))
    line = base.mark_line().encode(
        y=y, strokeDash=alt.StrokeDash("scope:N", title="pruned scope", sort=["all", "ffn", "attention"],
                                       legend=alt.Legend(symbolType="stroke", symbolStrokeColor="#888", symbolStrokeWidth=2,
                                                         symbolSize=400, symbolFillColor="transparent")),
        detail="series:N", href="href:N", tooltip=tooltip)
    points = base.mark_point(size=55, filled=True, opacity=1).encode(
        y=y, shape=alt.Shape("method_name:N", scale=colours.shape_scale(methods), title="method"),
        detail="series:N", href="href:N", tooltip=tooltip)
    whisk = base.mark_rule(strokeWidth=1.5).encode(y="low_c:Q", y2="high_c:Q", detail="series:N")
    one = alt.Chart().transform_aggregate(n="count()").mark_rule(strokeDash=[2, 2], color=BASELINE_COLOUR).encode(
        y=alt.datum(1))
    layered = alt.layer(one, whisk, line, points, data=_frame(clip_whiskers(df, dom))).properties(width=WIDTH, height=HEIGHT)
    panels = df["panel"].n_unique()
    chart = layered.facet(facet=alt.Facet("panel:N", title=None, sort=sorted(set(df["panel"].to_list()), key=_panel_key)),
                          columns=min(3, panels))
    return _finish(chart, title, 0, description).resolve_scale(y="shared")


def _panel_key(p: str) -> tuple:
    fam = p.split(" · ")[0]
    order = {"encoder": 0, "encoder-decoder": 1, "decoder": 2}
    return (order.get(fam, 9), "LAMA" not in p, p)


def retention_vs_bits(df: pl.DataFrame, colours: Colours, title: str, description: str) -> alt.FacetChart:
    methods = sorted(set(df["method_name"].to_list()))
    dom = kept_domain(df)
    nominal = "nominal" in df.columns and bool(df["nominal"].fill_null(False).any())
    if "nominal" not in df.columns:
        df = df.with_columns(nominal=pl.lit(False))
    base = alt.Chart().encode(
        x=alt.X("bits:Q", title="bits per weight" + (" (hollow: nominal)" if nominal else ""),
                scale=alt.Scale(type="log", base=2, domain=log_domain(df["bits"].to_list()), nice=False),
                axis=alt.Axis(tickCount=5, format="~g")),
        color=alt.Color("method_name:N", scale=colours.scale(methods), title="method"),
        )
    pts = base.mark_point(size=70, strokeWidth=2).encode(
        y=alt.Y("retention:Q", title=KEPT, scale=alt.Scale(domain=dom, nice=False, clamp=True)),
        shape=alt.Shape("method_name:N", scale=colours.shape_scale(methods), title="method"), href="href:N",
        fillOpacity=alt.condition("datum.nominal", alt.value(0), alt.value(1)),
        fill=alt.Fill("method_name:N", scale=colours.scale(methods), title="method"),
        tooltip=[alt.Tooltip("method_name:N", title="method"), alt.Tooltip("scope:N"), alt.Tooltip("bits:Q", format=".2f"),
                 alt.Tooltip("nominal:N", title="nominal bits"),
                 alt.Tooltip("retention:Q", format=".3f", title="kept"), alt.Tooltip("low:Q", format=".3f", title="95% low"),
                 alt.Tooltip("high:Q", format=".3f", title="95% high"), alt.Tooltip("models:Q")])
    whisk = base.mark_rule(strokeWidth=1.5).encode(y="low_c:Q", y2="high_c:Q", detail="series:N")
    layered = alt.layer(whisk, pts, data=_frame(clip_whiskers(df, dom))).properties(width=WIDTH, height=HEIGHT)
    panels = df["panel"].n_unique()
    chart = layered.facet(facet=alt.Facet("panel:N", title=None, sort=sorted(set(df["panel"].to_list()), key=_panel_key)),
                          columns=min(3, panels))
    return _finish(chart, title, 0, description)


def pareto(points: pl.DataFrame, colours: Colours, title: str, description: str) -> alt.FacetChart:
    """Size against the task's metric, one panel per task; the frontier (nothing smaller scores higher) is a line
    with its points labelled."""
    methods = sorted(set(points["method_name"].to_list()))
    base = alt.Chart().encode(x=alt.X("size_mb:Q", title="weights in memory (MB, log scale)",
                                      scale=alt.Scale(type="log", domain=log_domain(points["size_mb"].to_list()), nice=False),
                                      axis=alt.Axis(tickCount=5, format="~s")),
                              y=alt.Y("value:Q", title=_metric_title(points["task"].to_list()), scale=alt.Scale(zero=True)))
    pts = base.mark_point(filled=True, size=50).encode(
        color=alt.Color("method_name:N", scale=colours.scale(methods), title="method"),
        shape=alt.Shape("method_name:N", scale=colours.shape_scale(methods), title="method"),
        opacity=alt.value(0.9), href="href:N",
        tooltip=["model:N", "compression:N", alt.Tooltip("size_mb:Q", format=".1f", title="MB"),
                 alt.Tooltip("value:Q", format=".3f"), "task:N"])
    # the frontier of each panel: one dashed line through its points in order of size, in a grey that shows on the light
    # and the dark background, drawn above the points
    front = base.transform_filter("datum.frontier").mark_line(color="#8c8c8c", strokeWidth=2, strokeDash=[6, 4]).encode(
        order="size_mb:Q")
    labels = base.transform_filter("datum.frontier").mark_text(align="left", dx=6, dy=-6, fontSize=10).encode(
        text="short:N")
    layered = alt.layer(pts, front, labels, data=_frame(points)).properties(width=WIDTH, height=HEIGHT)
    chart = layered.facet(facet=alt.Facet("panel:N", title=None), columns=min(3, points["panel"].n_unique()))
    return _finish(chart, title, 0, description).resolve_scale(y="independent")


def _metric_title(tasks: list[str]) -> str:
    """The y title of panels of these tasks: their suites' headline metric labels (evaluation registry)."""
    from .. import registry
    from ..evaluate import registry as suites

    found = sorted({suites.suite_of(t).name for t in tasks}, key=lambda n: (suites.get(n).order, n))
    labels = [(registry.metric_info(suites.get(n).headline).label, suites.get(n).short_label) for n in found]
    if len(labels) == 1:
        return labels[0][0]
    return " / ".join(m if m.startswith(s) else f"{m} ({s})" for m, s in labels) + ", per panel"


_HEATMAP: dict | None = None  # relation_heatmap's spec without its title, description and data, made once a process


def relation_heatmap(df: pl.DataFrame, title: str, description: str) -> dict:
    """A model's P@1 per relation ÷ its baseline's, per compression: the Vega-Lite spec. Every model page has one, the
    same but for its title, description and data: Altair makes the spec once a process and each page's takes its
    own (configuring and serialising each chart again: the same spec, made once instead of 343 times at 100,000 runs,
    issue 22). The data is named as Altair names it (``datasets``, by the hash of the values)."""
    global _HEATMAP
    if _HEATMAP is None:
        made = alt.Chart(alt.InlineData(values=[{"relation": ""}])).mark_rect().encode(
            x=alt.X("compression:N", title=None, sort=None, axis=alt.Axis(labelAngle=-35, labelLimit=260)),
            y=alt.Y("relation:N", title="relation", sort=None, axis=alt.Axis(labelLimit=260)),
            color=alt.Color("retention:Q", title="kept", scale=alt.Scale(domain=[0, 1], scheme="viridis", clamp=True)),
            href="href:N",
            tooltip=["relation:N", "compression:N", alt.Tooltip("value:Q", format=".3f", title="P@1"),
                     alt.Tooltip("retention:Q", format=".3f", title="kept"), "n:Q"],
        ).properties(width=alt.Step(34), height=alt.Step(16))
        _HEATMAP = spec_of(_finish(made, "", 0, ""))
    values = _frame(df)["values"]
    name = dataset_name(values)
    return {**_HEATMAP, "title": title, "description": description, "data": {"name": name}, "datasets": {name: values}}


def dataset_name(values: list[dict]) -> str:
    """The name Altair gives inline values in a spec's ``datasets`` (altair.vegalite.v6.api._dataset_name)."""
    if values == [{}]:
        return "empty"
    return "data-" + hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()[:32]
