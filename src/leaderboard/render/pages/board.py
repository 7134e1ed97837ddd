"""The leaderboard page: one row per model and compression, every task."""

from __future__ import annotations

import polars as pl

from .. import tables
from ..html import Safe, block
from ..parts import lineage_notes, toy_pointer
from ..selection import default_source, lead_tasks
from ..site import Site, frame_hash

MEMO = "leaderboard"  # Site.memoised: the leaderboard page's key and the generated files it made


def build(site: Site, main: pl.DataFrame, toy: pl.DataFrame) -> None:
    """The leaderboard page, kept from the previous build when its rows and the toy rows (the pointer to them) are
    unchanged."""
    site.memoised(MEMO, "leaderboard", [frame_hash(main), frame_hash(toy)], _build, site, main, toy)


def _build(site: Site, main: pl.DataFrame, toy: pl.DataFrame) -> None:
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
        n_rep = tables.rows_of(reported, site.board_cells)
        parts.append(Safe(f'<p>Also in this table: {len(n_rep):,} rows <strong>reported</strong> in papers '
                          f'(mostly lm-eval accuracy, copied as printed, never mixed with ours): '
                          f'<a class="lb-show-reported" href="leaderboard.html{query}">show them</a> '
                          '(or pick a <em>Source</em> below).</p>'))
    parts += lineage_notes(main, "")
    parts += toy_pointer(toy, "", "(tiny demonstration models)")
    parts.append(tables.board(main, 0, url_state=True, lead=lead_t, default_source=src, data=site.data, data_name="leaderboard",
                              shared=site.board_cells))
    site.page("leaderboard.md", "Leaderboard", intro, block(*parts), rows=main)
