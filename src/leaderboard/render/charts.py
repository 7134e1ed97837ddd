"""Altair charts of the store: each saved as static SVG (vl-convert) and as a Vega-Lite spec for the
interactive view (vega-embed, served with the site). One colour per compression series everywhere."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import altair as alt
import polars as pl

alt.data_transformers.disable_max_rows()

PALETTE = ["#4c78a8", "#f58518", "#e45756", "#72b7b2", "#54a24b", "#eeca3b", "#b279a2", "#ff9da6", "#9d755d",
           "#bab0ac", "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf", "#393b79"]
WIDTH = 560


@dataclass(frozen=True)
class Colours:
    domain: tuple[str, ...]

    def scale(self) -> alt.Scale:
        return alt.Scale(domain=list(self.domain), range=[PALETTE[i % len(PALETTE)] for i in range(len(self.domain))])


@dataclass
class SavedChart:
    name: str
    title: str
    svg: str  # file name relative to the charts folder
    spec: dict


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


def to_svg(spec: dict, cache: Path | None = None) -> str:
    """SVG of a Vega-Lite spec; cached by the spec's hash (conversion is the slow part of a build)."""
    import hashlib

    import vl_convert as vlc

    text = json.dumps(spec, sort_keys=True)
    key = hashlib.sha256(f"{getattr(vlc, '__version__', '')}:{text}".encode()).hexdigest()
    hit = cache / f"{key}.svg" if cache else None
    if hit is not None and hit.exists():
        return hit.read_text(encoding="utf-8")
    svg = stable_ids(vlc.vegalite_to_svg(json.loads(text)))
    if hit is not None:
        hit.parent.mkdir(parents=True, exist_ok=True)
        hit.write_text(svg, encoding="utf-8")
    return svg


def save(chart: alt.TopLevelMixin, name: str, title: str, out_dir: Path, cache: Path | None = None) -> SavedChart:
    spec = chart.to_dict()
    out_dir.mkdir(parents=True, exist_ok=True)
    svg = to_svg(spec, cache)
    (out_dir / f"{name}.svg").write_text(svg, encoding="utf-8")
    return SavedChart(name, title, f"{name}.svg", spec)


KEPT = "knowledge kept (× baseline)"


def _ci_band(base: alt.Chart, x: str, colours: Colours) -> alt.Chart:
    """95% interval bars (same colour scale, so the legend stays one)."""
    return base.mark_rule(opacity=0.5, strokeWidth=2).encode(
        x=x, y=alt.Y("low:Q", title=KEPT, scale=alt.Scale(domain=[0, 1.1])), y2="high:Q",
        color=alt.Color("series:N", scale=colours.scale(), title="compression"))


def retention_vs_sparsity(df: pl.DataFrame, colours: Colours, title: str) -> alt.LayerChart:
    """Mean knowledge kept (retention of the headline metric) against sparsity, one line per series."""
    sel = alt.selection_point(fields=["series"], bind="legend")
    base = alt.Chart(df.to_pandas(use_pyarrow_extension_array=False)).encode(
        x=alt.X("sparsity:Q", title="sparsity (share of weights removed)", scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("series:N", scale=colours.scale(), title="compression"),
        opacity=alt.condition(sel, alt.value(1.0), alt.value(0.15)),
    )
    line = base.mark_line(point=True).encode(
        y=alt.Y("retention:Q", title=KEPT, scale=alt.Scale(domain=[0, 1.1])),
        tooltip=[alt.Tooltip("series:N", title="compression"), alt.Tooltip("sparsity:Q", format=".0%"),
                 alt.Tooltip("retention:Q", format=".3f"), alt.Tooltip("low:Q", format=".3f", title="95% low"),
                 alt.Tooltip("high:Q", format=".3f", title="95% high"),
                 alt.Tooltip("lowest_model:Q", format=".3f", title="lowest model"),
                 alt.Tooltip("highest_model:Q", format=".3f", title="highest model"), alt.Tooltip("models:Q")],
    ).add_params(sel)
    return alt.layer(_ci_band(base, "sparsity:Q", colours), line).properties(width=WIDTH, height=300, title=title)


def retention_vs_bits(df: pl.DataFrame, colours: Colours, title: str) -> alt.LayerChart:
    base = alt.Chart(df.to_pandas(use_pyarrow_extension_array=False)).encode(
        x=alt.X("bits:Q", title="bits per weight (measured)", scale=alt.Scale(type="log", base=2)),
        color=alt.Color("series:N", scale=colours.scale(), title="compression"))
    points = base.mark_point(filled=True, size=90).encode(
        y=alt.Y("retention:Q", title=KEPT, scale=alt.Scale(domain=[0, 1.1])),
        tooltip=[alt.Tooltip("series:N", title="compression"), alt.Tooltip("bits:Q", format=".2f"),
                 alt.Tooltip("retention:Q", format=".3f"), alt.Tooltip("models:Q")])
    return alt.layer(_ci_band(base, "bits:Q", colours), points).properties(width=WIDTH, height=260, title=title)


def method_comparison(df: pl.DataFrame, colours: Colours, title: str) -> alt.LayerChart:
    base = alt.Chart(df.to_pandas(use_pyarrow_extension_array=False)).encode(
        y=alt.Y("series:N", title=None, sort="-x"),
        color=alt.Color("series:N", scale=colours.scale(), legend=None))
    bars = base.mark_bar().encode(
        x=alt.X("retention:Q", title=KEPT, scale=alt.Scale(domain=[0, 1.1])),
        tooltip=[alt.Tooltip("series:N", title="compression"), alt.Tooltip("retention:Q", format=".3f"),
                 alt.Tooltip("low:Q", format=".3f", title="95% low"), alt.Tooltip("high:Q", format=".3f", title="95% high"),
                 alt.Tooltip("models:Q")])
    rule = base.mark_rule(color="black").encode(x="low:Q", x2="high:Q")
    return alt.layer(bars, rule).properties(width=WIDTH - 160, title=title)


def pareto(points: pl.DataFrame, frontier: pl.DataFrame, title: str) -> alt.LayerChart:
    pts = alt.Chart(points.to_pandas(use_pyarrow_extension_array=False)).mark_point(filled=True, opacity=0.7).encode(
        x=alt.X("size_mb:Q", title="weights in memory (MB, log)", scale=alt.Scale(type="log")),
        y=alt.Y("value:Q", title="P@1 (or accuracy)"),
        color=alt.Color("family:N", title="family"),
        shape=alt.Shape("source:N", title="source"),
        tooltip=["model:N", "compression:N", alt.Tooltip("size_mb:Q", format=".1f"), alt.Tooltip("value:Q", format=".3f"), "task:N"])
    line = alt.Chart(frontier.to_pandas(use_pyarrow_extension_array=False)).mark_line(strokeDash=[4, 3]).encode(
        x="size_mb:Q", y="value:Q", color=alt.Color("family:N"), detail="task:N")
    return alt.layer(line, pts).properties(width=WIDTH, height=320, title=title)


def relation_heatmap(df: pl.DataFrame, title: str) -> alt.Chart:
    return alt.Chart(df.to_pandas(use_pyarrow_extension_array=False)).mark_rect().encode(
        x=alt.X("compression:N", title=None, sort=None, axis=alt.Axis(labelAngle=-40, labelLimit=220)),
        y=alt.Y("relation:N", title="relation", sort=None),
        color=alt.Color("retention:Q", title="kept", scale=alt.Scale(domain=[0, 1], scheme="viridis", clamp=True)),
        tooltip=["relation:N", "compression:N", alt.Tooltip("value:Q", format=".3f", title="P@1"),
                 alt.Tooltip("retention:Q", format=".3f", title="kept"), "n:Q"],
    ).properties(width=WIDTH - 100, title=title)
