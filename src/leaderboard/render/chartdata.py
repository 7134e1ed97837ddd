"""Chart data: the headline frame reshaped into the points the charts draw (means over models, 95% intervals)."""

from __future__ import annotations

import polars as pl

from . import metrics


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
        # the first by run_id, not by row order (which an unordered unique() upstream leaves to chance): same runs,
        # same bytes
        pl.col("model_id").n_unique().alias("models"), pl.col("run_id").min().alias("run_id"),
        pl.col("family").sort_by("run_id").first().alias("family"), pl.col("method").sort_by("run_id").first().alias("method"),
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


def panel(df: pl.DataFrame, with_family: bool = True) -> pl.DataFrame:
    names = {t: metrics.task_name(t) + (" (chance-normalised)" if metrics.chance(t) is not None else "")
             for t in df["task"].unique().to_list()}  # once a task, not once a row
    task = pl.col("task").replace_strict(names, return_dtype=pl.String)
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
    zero = (prune.select("series", "method", "method_name", "scope", "model_id", "task").unique(maintain_order=True)
            .join(base.select("model_id", "task", "family", "run_id", "retention"), on=["model_id", "task"])
            .with_columns(sparsity=pl.lit(0.0), whole_sparsity=pl.lit(0.0), ret_low=pl.lit(1.0), ret_high=pl.lit(1.0)))
    pts = panel(pl.concat([prune.select(cols), zero.select(cols)]), with_family)
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
    q = panel(q, with_family)
    q = q.filter(pl.col("panel").is_in(q.filter(pl.col("n_steps") > 0)["panel"].unique().to_list()))  # no lone baselines
    # nominal bits are the scheme's setting: one point per setting (GPTQ 3-bit and 4-bit apart), never their mean
    q = q.with_columns(setting=pl.when(pl.col("nominal")).then(pl.col("bits_per_weight")))
    return _aggregate(q, ["panel", "series", "method_name", "scope", "nominal", "setting"], prefix)


def curve_description(curve: pl.DataFrame) -> str:
    parts = []
    for panel in sorted(set(curve["panel"].to_list())):
        c = curve.filter((pl.col("panel") == panel) & (pl.col("sparsity") > 0)).sort("retention")
        if c.is_empty():
            continue
        worst = c.row(0, named=True)
        parts.append(f"{panel}: {c['method_name'].n_unique()} methods; lowest kept {worst['retention']:.2f} "
                     f"({worst['method_name']}, {worst['scope']}, {worst['whole']:.0%} of all Linear weights)")
    return "; ".join(parts)
