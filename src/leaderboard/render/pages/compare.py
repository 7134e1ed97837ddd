"""The compare page and its data files (data/compare/, data/facts/)."""

from __future__ import annotations

import hashlib
import re

import orjson
import polars as pl

from ... import jsontext
from .. import metrics, queries, tables
from ..html import Safe, block
from ..parts import method_slug
from ..site import Site


def build(site: Site, h: pl.DataFrame) -> None:
    """Pick 2–6 rows (model × compression) and see them side by side; the selection lives in the URL. The page
    is static: it reads data/compare/ (see _write: a small index, the rows sharded by key, the picker's names per
    model) and, for facts forgotten between two runs, data/facts/<run>.json (bitsets of the facts scored and ranked
    first)."""
    rows = sorted(tables.rows_of(h, site.board_cells), key=lambda x: (x.model_id, x.n_steps, x.label, x.key))
    tasks = tables.task_order(h)
    texts = _row_texts(site, rows)
    _write(site, rows, texts, {"tasks": tasks, "task_names": {t: metrics.task_name(t) for t in tasks},
                               "metrics": {t: metrics.metric_short(t) for t in tasks},
                               "relations": metrics.relation_names()})
    _fact_bitsets(site)
    intro = Safe(
        "<p>Pick 2–6 rows on the <a href=\"leaderboard.html\">leaderboard</a> (tick them, then <em>Compare selected</em>) "
        "or add them here. The view (rows, the two runs compared fact by fact, and the sort of the relation table) lives "
        "in the address: copy it to share exactly this view.</p>")
    shell = Safe(
        '<div id="lb-compare" data-src="data/compare/" data-facts="data/facts/">'
        '<div class="lb-filters"><label>Add a row <input type="search" list="lb-compare-options" class="lb-compare-add" '
        'placeholder="type a model or compression"></label><datalist id="lb-compare-options"></datalist>'
        '<button type="button" class="md-button lb-compare-clear">Clear</button>'
        '<a class="lb-compare-link" href="compare.html">link to this view</a></div>'
        '<div class="lb-compare-out" aria-live="polite"><p class="lb-compare-empty">No rows picked yet. Examples: '
        '<a class="lb-compare-example" href="compare.html">the baseline and its strongest compressions</a>.</p></div></div>'
        '<script src="assets/compare.js" defer></script>')
    site.page("compare.md", "Compare", block(intro, shell), rows=h)


ROW_MEMO = "compare rows across builds"  # in Site.board_cells: this build's rows as JSON text, for the next build


def _row_texts(site: Site, rows: list[tables.Row]) -> list[str]:
    """Each row's JSON text (_row_data), taken from the previous build where the row is made from the same runs as then
    (Site.compare_memo_previous; issue 22, scale: the 100,000 rows' dicts were a second of a rebuild after adding ten
    runs). A row is made from its runs' headline rows (their hashes: tables.CellMemo) and their relation scores, read
    from their run files (their sha256): its key holds both. Without a CellMemo (no headline hashes) every row is made."""
    cells: tables.CellMemo | None = site.board_cells.get(tables.CELL_MEMO)
    if cells is None:
        keys: list[str | None] = [None] * len(rows)
    else:
        shas = {rid: sha for rid, (_path, sha) in site.run_files().items()}
        keys = [_memo_key(row, cells.hashes, shas) for row in rows]
    previous = site.compare_memo_previous
    todo = [row for row, k in zip(rows, keys, strict=True)
            if k is None or not (isinstance(hit := previous.get(row.key), list) and hit[0] == k)]
    rels = _relation_scores(site, {r["run_id"] for row in todo for r in row.tasks.values()})
    method_names = {m: metrics.method_name(m) for m in {row.method for row in todo}}  # once a method, not a row
    made = {row.key: jsontext.dumps(_row_data(row, rels, method_names)) for row in todo}
    memo: dict[str, list] = {}
    texts = []
    for row, k in zip(rows, keys, strict=True):
        text = made[row.key] if row.key in made else previous[row.key][1]
        texts.append(text)
        if k is not None:
            memo[row.key] = [k, text]
    site.board_cells[ROW_MEMO] = memo
    return texts


def _memo_key(row: tables.Row, hashes: dict[str, int], shas: dict[str, str]) -> str | None:
    """What a compare row is made from: each of its runs' headline row hash and run file sha256; None where a run has
    either missing (the row is made, never taken)."""
    parts = []
    for r in row.tasks.values():
        rid = r["run_id"]
        if rid not in hashes or rid not in shas:
            return None
        parts.append(f"{rid}:{hashes[rid]}:{shas[rid]}")
    return hashlib.blake2b("|".join(parts).encode(), digest_size=16).hexdigest()


def _relation_scores(site: Site, run_ids: set[str]) -> dict[str, dict[str, list]]:
    """P@1 by relation of each of ``run_ids``: run -> relation -> [P@1 rounded, facts]."""
    out: dict[str, dict[str, list]] = {}
    if not run_ids:
        return out
    rels = queries.relation_p1(site.con, sorted(run_ids))
    # plain tuples from whole columns: named rows of 450,000 relation scores were a second of a 100,000-run build
    for rid, relation, v, n in zip(*(rels.get_column(c).to_list() for c in ("run_id", "relation", "v", "n")), strict=True):
        out.setdefault(rid, {})[relation] = [round(v, 6), n]
    return out


def _row_data(row: tables.Row, rels: dict[str, dict[str, list]], method_names: dict[str, str]) -> dict:
    """A row as the compare page reads it: the row's fields, and per task its run's metric, interval, knowledge kept and
    P@1 by relation."""
    t_out = {}
    for t, r in sorted(row.tasks.items()):
        t_out[t] = {k: (round(v, 6) if isinstance(v, float) else v) for k, v in (
            ("run", r["run_id"]), ("value", r["value"]), ("lo", r["ci_low"]), ("hi", r["ci_high"]), ("n", r["n"]),
            ("kept", r["retention"]), ("klo", r["ret_low"]), ("khi", r["ret_high"]), ("paired", r["ret_paired"]),
            ("norm", r["nret"]), ("verdict", r["verdict"]), ("baseline", r["baseline_run_id"]))}
        if r["run_id"] in rels:
            t_out[t]["rel"] = rels[r["run_id"]]
    return {"key": row.key, "model": row.model_id, "family": row.family, "label": row.label,
            "method": method_names[row.method], "source": row.source, "toy": row.toy,
            "scope": row.scope, "sparsity": row.sparsity, "whole": row.whole, "bits": row.bits,
            "bits_nominal": row.bits_nominal, "whole_nominal": row.sparsity_nominal,
            "size": None if row.size_mb is None else round(row.size_mb, 3), "baseline": row.n_steps == 0,
            "tasks": t_out}


# The rows live in data/compare/rows-<p>.json, <p> the first PREFIX hex digits of their key (tables.row_key), so a
# link's keys fetch their shards directly; PREFIX is the fewest digits that keep SHARD_ROWS rows or fewer a shard on
# average (issue 22, scale: one file of every row was 40 MB at 100,000 runs, fetched whole to compare two rows).
SHARD_ROWS = 32


def prefix_len(n_rows: int) -> int:
    n = 1
    while n_rows > SHARD_ROWS * 16 ** n:
        n += 1
    return n


def picker_name(row: tables.Row) -> str:
    """The picker's readable name of a row: model · compression, the source where it is not ours."""
    return (f"{row.model_id} · {row.label}" + (f" ({row.source})" if row.source != "reproduced" else "")
            + (" (toy)" if row.toy else ""))


def example(rows: list[tables.Row]) -> list[str] | None:
    """The empty page's example: a baseline and up to three of its compressions, a real model's reproduced one first."""
    def rank(r: tables.Row) -> int:
        return (0 if r.source == "reproduced" and not r.toy else 1 if r.source != "synthetic" and not r.toy
                else 2 if r.source != "synthetic" else 3)
    for base in sorted((r for r in rows if r.n_steps == 0), key=rank):
        same = [r.key for r in rows if r.model_id == base.model_id and r.n_steps != 0 and r.source == base.source][:3]
        if same:
            return [base.key, *same]
    return None


def _write(site: Site, rows: list[tables.Row], texts: list[str], meta: dict) -> None:
    """data/compare/index.json: what every view needs (tasks, their names and metrics, relation names), the example,
    the shards' prefix length and the picker's models, each with its names file; rows-<p>.json: the rows by key (each
    row's JSON text as _row_texts made it); models/<m>.json: [readable name, key] of a model's rows, fetched when the
    reader picks the model (a name two rows share gets " #2", never the row's internal key)."""
    n = prefix_len(len(rows))
    shards: dict[str, dict[str, orjson.Fragment]] = {}
    names: dict[str, list[list[str]]] = {}
    taken: set[str] = set()  # a name starts with its model's id: unique over every model's file
    for r, text in zip(rows, texts, strict=True):  # in the page's order: by model, then steps, label, key
        shards.setdefault(r.key[:n], {})[r.key] = orjson.Fragment(text)
        name, k = picker_name(r), 2
        while name in taken:
            name, k = re.sub(r" #\d+$", "", name) + f" #{k}", k + 1
        taken.add(name)
        names.setdefault(r.model_id, []).append([name, r.key])
    models = {m: hashlib.sha256(m.encode()).hexdigest()[:12] for m in names}
    site.data["data/compare/index.json"] = {**meta, "prefix": n, "n": len(rows), "example": example(rows),
                                           "models": [[m, models[m], len(v)] for m, v in names.items()]}
    for p, shard in shards.items():
        site.data[f"data/compare/rows-{p}.json"] = shard
    for m, v in names.items():
        site.data[f"data/compare/models/{models[m]}.json"] = v


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
