"""One page per model family (from the registry, whether or not it has runs)."""

from __future__ import annotations

import polars as pl

from .. import charts, queries, tables
from ..chartdata import bits_points, curve_description, panel, sparsity_curve
from ..html import Safe, block
from ..parts import lineage_notes, toy_pointer
from ..selection import default_source, is_toy, lead_tasks
from ..site import Site, frame_hash

MAX_POINTS = 2000  # a family's size-vs-knowledge chart draws every run up to this many (issue 22, scale)
CELLS = (26, 20)  # above it: one point per method and cell of a panel (260 x 200 px: 10 px cells; a point is ~8 px wide)


def size_points(f: pl.DataFrame, front: pl.Series) -> pl.DataFrame:
    """The size-vs-knowledge chart's points: every run of ``f`` with a measured size, ``frontier`` where its run_id is
    in ``front``, with its link and short label."""
    pts = f.filter(pl.col("weight_bytes").is_not_null()).select(
        pl.col("model_id").alias("model"), pl.col("method_label").alias("compression"), pl.col("method_name"),
        pl.col("task"), pl.col("family"), (pl.col("weight_bytes") / 1e6).alias("size_mb"), pl.col("value"), pl.col("run_id"),
        pl.col("sparsity"), pl.col("scheme"))
    if pts.is_empty():
        return pts
    return panel(pts, with_family=False).with_columns(
        frontier=pl.col("run_id").is_in(front.implode()),
        href=pl.lit("../runs/") + pl.col("run_id") + pl.lit(".html"),
        short=pl.when(pl.col("scheme").is_not_null()).then(pl.col("scheme"))
        .when(pl.col("sparsity").is_not_null()).then((pl.col("sparsity") * 100).round(0).cast(pl.Int64).cast(pl.String) + "%")
        .otherwise(pl.lit("baseline")))


def thin_points(pts: pl.DataFrame, max_points: int = MAX_POINTS) -> pl.DataFrame:
    """At most one point per panel, method and cell of the (log size, score) plane, the highest-scoring (then the
    first by run_id), plus every frontier point; in the order given. Points this drops lie under one that is kept
    (at 100,000 runs a family's chart held 35,000 points, 14 MB of spec in its page, and took seconds to draw)."""
    if pts.height <= max_points:
        return pts

    def cell(x: pl.Expr, n: int) -> pl.Expr:
        lo, hi = x.min().over("panel"), x.max().over("panel")
        return pl.when(hi > lo).then(((x - lo) / (hi - lo) * n).floor().clip(0, n - 1)).otherwise(0).cast(pl.Int32)

    pts = pts.with_row_index("_order").with_columns(_cx=cell(pl.col("size_mb").log10(), CELLS[0]),
                                                    _cy=cell(pl.col("value"), CELLS[1]))
    best = (pts.sort(["value", "run_id"], descending=[True, False], nulls_last=True)
            .unique(subset=["panel", "method_name", "_cx", "_cy"], keep="first", maintain_order=True))
    kept = pts.filter(pl.col("frontier") | pl.col("_order").is_in(best["_order"].implode()))
    return kept.sort("_order").drop("_order", "_cx", "_cy")


MEMO = "families"  # Site.memoised: each family page's key and the generated files it made


def build(site: Site, main: pl.DataFrame, toy: pl.DataFrame, fam: str, fronts: pl.DataFrame | None = None) -> None:
    """A family's page, kept from the previous build when its rows, its toy rows (the pointer to them), its frontier
    and the site's method colours are unchanged. ``fronts``: every family's frontier (queries.pareto_fronts), else
    this one's is queried."""
    f = main.filter(pl.col("family") == fam)
    f_toy = toy.filter(pl.col("family") == fam) if f.filter(is_toy()).is_empty() else toy.clear()
    if f.is_empty():
        front = pl.Series("run_id", [], pl.String)
    else:
        front = (fronts.filter(pl.col("family") == fam) if fronts is not None else queries.pareto_front(site.con, fam))["run_id"]
    inputs = [fam, frame_hash(f), frame_hash(f_toy), front.to_list(), list(site.colours.domain) if site.colours else None]
    site.memoised(MEMO, fam, inputs, _build, site, f, f_toy, fam, front)


def _build(site: Site, f: pl.DataFrame, f_toy: pl.DataFrame, fam: str, front: pl.Series) -> None:
    path = f"families/{fam}.md"
    if f.is_empty():
        site.page(path, f"Family: {fam}", f"No runs of real {fam} models yet. [Submit one](../contributing.md).\n",
                  block(*toy_pointer(f_toy, "../", f"({fam})")), rows=f)
        return
    parts: list[object] = []
    curve = sparsity_curve(f, "../", with_family=False)
    if not curve.is_empty():
        title = f"{fam}: knowledge kept vs sparsity"
        parts.append(site.chart(charts.retention_vs_sparsity(curve, site.colours, title, curve_description(curve)),
                                f"family-{fam}-sparsity", title, 1, "one panel per task; mean over models; whiskers: "
                                "95% interval of the mean"))
    bits = bits_points(f, "../", with_family=False)
    if bits.height > 1 and bits["method_name"].n_unique() > 1:
        title = f"{fam}: knowledge kept vs bits per weight"
        parts.append(site.chart(charts.retention_vs_bits(bits, site.colours, title, f"{bits.height} points"),
                                f"family-{fam}-bits", title, 1, "one panel per task; bits measured over all weights "
                                "(embeddings included)"))
    pts = size_points(f, front)
    if not pts.is_empty():
        title = f"{fam}: size vs knowledge"
        n_runs = pts.height
        pts = thin_points(pts)
        drawn = "" if pts.height == n_runs else (
            f"; {pts.height:,} of {n_runs:,} runs drawn: the frontier and, where runs of one method fall on the same spot "
            "(one of 26 × 20 cells of a panel), the highest-scoring one")
        parts.append(site.chart(charts.pareto(pts, site.colours, title, "frontier"), f"family-{fam}-pareto", title, 1,
                                "one panel per task; dashed line and labels: the frontier (no smaller run scores higher)"
                                + drawn))
    parts.append(Safe("<h2>Runs</h2>"))
    parts += lineage_notes(f, "../")
    parts += toy_pointer(f_toy, "../", f"({fam})")
    parts.append(tables.board(f, 1, url_state=True, lead=lead_tasks(f), default_source=default_source(f), data=site.data,
                              data_name=f"family-{fam}", shared=site.board_cells))
    site.page(path, f"Family: {fam}", block(*parts), rows=f)
