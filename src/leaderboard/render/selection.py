"""Which rows a page leads with: real models on the knowledge probes first, toy models apart."""

from __future__ import annotations

import polars as pl

from . import tables


def is_toy() -> pl.Expr:
    return pl.col("toy").fill_null(False)


def is_probe() -> pl.Expr:
    """Tasks of the suites that probe stored facts (the registry's knowledge probes; lm-eval tasks measure other
    things)."""
    from ..evaluate import registry as suites

    return pl.any_horizontal(pl.lit(False), *(pl.col("task").str.starts_with(f"{s}:") for s in suites.knowledge_probes()))


def real_probes(h: pl.DataFrame) -> pl.DataFrame:
    """Reproduced runs of real (not toy) models on the knowledge probes (LAMA, BEAR): what the site leads with."""
    return h.filter((pl.col("source_kind") == "reproduced") & ~is_toy() & is_probe())


def lead_tasks(h: pl.DataFrame) -> list[str]:
    """The real models' knowledge-probe tasks: the columns tables show first."""
    # the three columns it reads: a filter gathers every column of the frame (a model page's rows: ~80)
    return sorted(set(real_probes(h.select("task", "source_kind", "toy"))["task"].to_list()),
                  key=lambda t: (tables.task_rank(t), t))


def split_toy(h: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(rows of the main pages, rows of the demo page). Toy models live on the demo page; a build with no other
    model shows them on the main pages too (marked toy, and the status banner says so)."""
    toy = h.filter(is_toy())
    main = h.filter(~is_toy())
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
    toy, kind = is_toy(), pl.col("source_kind")
    sets = [("real-probes", "real models, reproduced here", real_probes(h)),
            ("real-other", "real models, reproduced here", h.filter((kind == "reproduced") & ~toy & ~is_probe())),
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
