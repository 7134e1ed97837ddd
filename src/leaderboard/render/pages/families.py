"""One page per model family (from the registry, whether or not it has runs)."""

from __future__ import annotations

import polars as pl

from .. import charts, queries, tables
from ..chartdata import bits_points, curve_description, panel, sparsity_curve
from ..html import Safe, block
from ..parts import lineage_notes, toy_pointer
from ..selection import default_source, is_toy, lead_tasks
from ..site import Site


def build(site: Site, main: pl.DataFrame, toy: pl.DataFrame, fam: str) -> None:
    f = main.filter(pl.col("family") == fam)
    f_toy = toy.filter(pl.col("family") == fam) if f.filter(is_toy()).is_empty() else toy.clear()
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
    fr = queries.pareto_front(site.con, fam)
    front = set(fr["run_id"].to_list())
    pts = f.filter(pl.col("weight_bytes").is_not_null()).select(
        pl.col("model_id").alias("model"), pl.col("method_label").alias("compression"), pl.col("method_name"),
        pl.col("task"), pl.col("family"), (pl.col("weight_bytes") / 1e6).alias("size_mb"), pl.col("value"), pl.col("run_id"),
        pl.col("sparsity"), pl.col("scheme"))
    if not pts.is_empty():
        pts = panel(pts, with_family=False).with_columns(
            frontier=pl.col("run_id").is_in(list(front)),
            href=pl.lit("../runs/") + pl.col("run_id") + pl.lit(".html"),
            short=pl.when(pl.col("scheme").is_not_null()).then(pl.col("scheme"))
            .when(pl.col("sparsity").is_not_null()).then((pl.col("sparsity") * 100).round(0).cast(pl.Int64).cast(pl.String) + "%")
            .otherwise(pl.lit("baseline")))
        title = f"{fam}: size vs knowledge"
        parts.append(site.chart(charts.pareto(pts, site.colours, title, "frontier"), f"family-{fam}-pareto", title, 1,
                                "one panel per task; dashed line and labels: the frontier (no smaller run scores higher)"))
    parts.append(Safe("<h2>Runs</h2>"))
    parts += lineage_notes(f, "../")
    parts += toy_pointer(f_toy, "../", f"({fam})")
    parts.append(tables.board(f, 1, url_state=True, lead=lead_tasks(f), default_source=default_source(f), data=site.data,
                              data_name=f"family-{fam}"))
    site.page(path, f"Family: {fam}", block(*parts), rows=f)
