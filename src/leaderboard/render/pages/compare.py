"""The compare page and its data files (data/compare.json, data/facts/)."""

from __future__ import annotations

import polars as pl

from .. import metrics, queries, tables
from ..html import Safe, block
from ..parts import method_slug
from ..site import Site


def build(site: Site, h: pl.DataFrame) -> None:
    """Pick 2–6 rows (model × compression) and see them side by side; the selection lives in the URL. The page
    is static: it reads data/compare.json (every row's numbers) and, for facts forgotten between two runs,
    data/facts/<run>.json (bitsets of the facts scored and ranked first)."""
    rows = tables.build_rows(h)
    tasks = tables.task_order(h)
    rels = queries.relation_p1(site.con)
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

    facts = queries.fact_ids(site.con)
    if facts.is_empty():
        return
    index: dict[str, dict[str, int]] = {}
    for task, g in facts.group_by("task", maintain_order=True):
        ids = g["fact_id"].to_list()
        index[task[0]] = {fid: i for i, fid in enumerate(ids)}
        site.data[f"data/facts/task-{method_slug(task[0])}.json"] = ids
    per_run: dict[str, dict] = {}
    for (rid, task), g in queries.fact_ranks(site.con).group_by(
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
