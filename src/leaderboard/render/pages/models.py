"""One page per model: its runs, related checkpoints, which facts go first, facts forgotten."""

from __future__ import annotations

import itertools

import polars as pl

from ...schema import model_slug
from .. import charts, lineage, metrics, queries, tables
from ..fmt import fmt
from ..html import Safe, block, dl, esc, link, table
from ..selection import default_source, lead_tasks
from ..site import RUN_LIST, Site, frame_hash


def _of_model(site: Site, query, model_id: str) -> pl.DataFrame:
    """One model's rows of a query over every model (queries.*_all, run once per build and kept on the site)."""
    groups = site.memo.get(query.__name__)
    if groups is None:
        df = query(site.con)
        groups = {k[0]: g.drop("model_id") for k, g in df.partition_by("model_id", as_dict=True, maintain_order=True).items()}
        groups[None] = df.clear().drop("model_id")
        site.memo[query.__name__] = groups
    return groups.get(model_id, groups[None])


def _derived(pairs: pl.DataFrame, model_id: str) -> list[str]:
    """Models measured here whose base is ``model_id`` (or a checkpoint it is declared to derive from)."""
    bases = [model_id, *lineage.derived_from(model_id)]
    return sorted(set(pairs.filter(pl.col("base_model_id").is_in(bases) & (pl.col("model_id") != model_id))["model_id"]
                      .to_list()))


def _related_rows(h: pl.DataFrame, base: str | None) -> pl.DataFrame:
    """The baselines of the checkpoints related to ``base`` (lineage.related_models), any source."""
    related = lineage.related_models(base)
    ids = [mid for mid, _ in related]
    return h.filter(pl.col("model_id").is_in(ids) & (pl.col("n_steps") == 0)).sort(["model_id", "task", "run_id"]) \
        if ids else h.clear()


MEMO = "models"  # Site.page_memo: each model page's key and the generated files it made


def build_all(site: Site, h: pl.DataFrame) -> None:
    """Every model's page. A page whose inputs (its key: the code, the model's rows, its per-relation and
    facts-forgotten rows, its related and derived checkpoints) are those of the page the previous build made keeps
    the files that build made (issue 22, scale: a rebuild after adding ten runs renders the pages of the models they
    touch, not 100,000 runs' worth)."""
    groups = {k[0]: g for k, g in h.partition_by("model_id", as_dict=True, maintain_order=True).items()}
    pairs = h.select("model_id", "base_model_id").unique()
    known = set(groups)
    for model_id in sorted(groups):
        m = groups[model_id]
        base = m["base_model_id"][0]
        related = _related_rows(h, base)
        derived = _derived(pairs, model_id)
        inputs = [model_id, frame_hash(m), frame_hash(_of_model(site, queries.relation_kept_all, model_id)),
                  frame_hash(_of_model(site, queries.facts_forgotten_all, model_id)), frame_hash(related), derived,
                  bool(base in known)]
        site.memoised(MEMO, model_id, inputs, build, site, model_id, m, known, related, derived)


def build(site: Site, model_id: str, m: pl.DataFrame, known: set[str], related: pl.DataFrame, derived: list[str]) -> None:
    """One model's page: ``m`` its rows of the headline frame, ``known`` every model id, ``related`` the baselines of
    related checkpoints, ``derived`` the checkpoints measured here that derive from it."""
    first = m.row(0, named=True)
    revisions = sorted({str(r) for r in m["model_revision"].to_list() if r is not None})
    base = first["base_model_id"]
    parts: list[object] = []
    if first["toy"]:
        parts.append(Safe('<p class="lb-banner lb-demo-banner" role="note"><strong>Toy model</strong> (a tiny demonstration '
                          'model trained on LAMA facts): its numbers show the method, not the behaviour of real models. '
                          'It is on the <a href="../demo.html">demo page</a>, not on the leaderboard.</p>'))
    note = next((n for n in m["lineage_note"].to_list() if n), None)
    if note:
        parts.append(Safe(f'<p class="lb-lineage-note" role="note">{esc(note)}</p>'))
    parts.append(dl([("family", first["family"]), ("parameters", f"{first['parameters']:,}" if first["parameters"] else None),
                     ("base model", (link(f"{model_slug(base)}.html", base) if base in known else base) if base else None),
                     ("derived by", first["derived_by"]),
                     ("revisions", ", ".join(revisions) if revisions else "not recorded"),
                     ("runs", m.height)]))
    parts += _related(m, first, related, derived)
    parts.append(tables.board(m, 1, show_model=False, url_state=True, lead=lead_tasks(m), default_source=default_source(m),
                              shared=site.board_cells))
    rel = _of_model(site, queries.relation_kept_all, model_id)
    if not rel.is_empty():
        rel = rel.with_columns(relation=pl.col("relation").map_elements(metrics.relation_label, return_dtype=pl.String),
                               compression=pl.col("compression").map_elements(metrics.cap, return_dtype=pl.String),
                               href=pl.lit("../runs/") + pl.col("run_id") + pl.lit(".html"))
        parts.append(Safe("<h2>Which facts go first</h2><p>P@1 per relation relative to the baseline, under global "
                          "magnitude pruning and quantization of every Linear layer (the other compressions are in the "
                          "table above).</p>"))
        title = f"{model_id}: knowledge kept per relation"
        parts.append(site.chart(charts.relation_heatmap(rel, title, "heatmap"), f"model-{model_slug(model_id)}-relations",
                                title, 1, f"{rel['relation'].n_unique()} relations × {rel['compression'].n_unique()} "
                                "compressions; colour: P@1 ÷ the baseline's P@1"))
    forgot = _of_model(site, queries.facts_forgotten_all, model_id)
    if not forgot.is_empty():
        parts.append(Safe("<h2>Facts forgotten</h2><p>Facts the baseline ranked first that the compressed model no longer does "
                          "(and the reverse).</p>"))
        rows = [[link(f"../runs/{r['run_id']}.html", metrics.cap(r["method_label"])), metrics.task_name(r["task"]),
                 r["forgotten"], r["learned"], r["kept"], r["compared"]] for r in forgot.iter_rows(named=True)]
        parts.append(table(["Compression", "Task", "Forgotten", "Newly right", "Kept", "Compared"], rows,
                           cls="lb-table lb-cards lb-title-first", numeric={2, 3, 4, 5}))  # cards on a phone
    parts += _every_run(m)
    site.page(f"models/{model_slug(model_id)}.md", f"Model: {model_id}", block(*parts), rows=m)


def _every_run(m: pl.DataFrame) -> list[Safe]:
    """Every run of the model by compression, each evaluation a link to its run page: what the site search finds a
    run by (a model and a compression; issue 22: the search index holds a line per model and compression, never a
    page per run, and the run pages stay out of it)."""
    # one pass over the model's (compression, task, run) triples, sorted in Python (a group_by's groups were each a
    # gather from the frame: 5 s of a fresh build's model pages at 100,000 runs; polars' unique and sort of a few
    # hundred rows of a wide frame were dearer than this sort)
    rows = sorted(set(zip(m["method_label"].to_list(), m["task"].to_list(), m["run_id"].to_list(), strict=True)),
                  key=lambda r: tuple((v is not None, v or "") for v in r))  # as polars sorts: nulls first
    items = []
    for label, g in itertools.groupby(rows, key=lambda r: r[0]):
        runs = ", ".join(link(f"../runs/{run_id}.html", metrics.task_name(task)) for _, task, run_id in g)
        items.append(f"<li>{esc(metrics.cap(label))}: {runs}</li>")
    return [Safe('<h2 id="every-run">Every run, by compression</h2>' + RUN_LIST + "".join(items) + "</ul>")]


def _related(m: pl.DataFrame, first: dict, others: pl.DataFrame, derived: list[str]) -> list[Safe]:
    """Published results of related checkpoints (render/lineage.py: the base model, the declared siblings; ``others``:
    their baselines) beside this model's own numbers, task by task, with how the checkpoints differ; and on a related
    model's own page, which derived checkpoints are measured here (``derived``)."""
    base = first["base_model_id"]
    parts: list[Safe] = []
    if not others.is_empty():
        ours = m.filter(pl.col("n_steps") == 0)
        rows = []
        for r in others.iter_rows(named=True):
            mine = ours.filter((pl.col("task") == r["task"]) & (pl.col("source_kind") == "reproduced")).sort("run_id")
            own = (Safe(f'<a href="../runs/{esc(mine["run_id"][0])}.html">{fmt(mine["value"][0])}</a>')
                   if not mine.is_empty() else Safe('<span class="lb-none">not run yet</span>'))
            ci = (f' <span class="lb-ci">{fmt(r["ci_low"])}–{fmt(r["ci_high"])}</span>' if r["ci_low"] is not None else "")
            rows.append([Safe(f'{esc(metrics.task_name(r["task"]))} <span class="lb-sub">{esc(metrics.metric_short(r["task"]))}</span>'), own,
                         Safe(f'<a href="../runs/{esc(r["run_id"])}.html">{fmt(r["value"])}</a>{ci} '
                              f'{tables.badges(r["source_kind"], bool(r["toy"]))}'),
                         link(f"{model_slug(r['model_id'])}.html", r["model_id"]),
                         lineage.related_caveat(base, r["model_id"], first["checkpoint_label"])])
        if rows:
            parts += [Safe('<h2 id="related">Published beside ours</h2><p>Results for a related checkpoint, side by side '
                           "with this model's own (as distributed): not the same weights, so not its baseline and never "
                           "averaged with it.</p>"),
                      table(["Task", "Ours, as distributed", "Published", "Checkpoint", "How it differs"], rows,
                            cls="lb-table lb-cards lb-title-first lb-related", numeric={1, 2})]
    if derived:
        items = ", ".join(str(link(f"{model_slug(d)}.html", d)) for d in derived)
        parts.append(Safe(f'<p class="lb-lineage-note">Measured here on a related checkpoint: {items} '
                          "(see its page for how the two differ).</p>"))
    return parts
