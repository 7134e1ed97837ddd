"""Page parts shared by several pages: badges, notes, the best compressions per task, the headline charts."""

from __future__ import annotations

import hashlib
import re

import polars as pl

from ..schema import model_slug
from . import charts, metrics, tables
from .chartdata import bits_points, curve_description, sparsity_curve
from .fmt import fmt
from .html import Safe, badge, esc, table
from .selection import lead_tasks
from .site import Site


def method_slug(method: str) -> str:
    """File name of a method's page; a long pipeline (up to 20 steps) keeps a short, unique name."""
    slug = re.sub(r"[^a-z0-9]+", "-", method.lower()).strip("-") or "method"
    if len(slug) > 80:
        slug = f"{slug[:60].rstrip('-')}-{hashlib.sha256(method.encode()).hexdigest()[:12]}"
    return slug


def source_badge(kind: str, toy: bool = False) -> Safe:
    parts = [badge(kind, kind)]
    if toy:
        parts.append(badge("toy", "toy"))
    return Safe(" ".join(parts))


def lineage_notes(rows: pl.DataFrame, prefix: str) -> list[Safe]:
    """A line per checkpoint that arrived compressed among ``rows``: its 'kept' is relative to that checkpoint."""
    if "lineage_note" not in rows.columns:
        return []
    notes = rows.filter(pl.col("lineage_note").is_not_null()).select("model_id", "lineage_note").unique().sort("model_id")
    if notes.is_empty():
        return []
    items = "".join(f'<li><a href="{prefix}models/{esc(model_slug(r["model_id"]))}.html">{esc(r["model_id"])}</a>: '
                    f'{esc(r["lineage_note"])}</li>' for r in notes.iter_rows(named=True))
    return [Safe(f'<ul class="lb-lineage-notes">{items}</ul>')]


def toy_pointer(toy: pl.DataFrame, prefix: str, what: str) -> list[Safe]:
    if toy.is_empty():
        return []
    models = toy["model_id"].n_unique()
    return [Safe(f'<p class="lb-demo-link">{toy.height:,} result{"s" if toy.height != 1 else ""} of {models} toy model'
                 f'{"s" if models != 1 else ""} {esc(what)} {"are" if toy.height != 1 else "is"} on the '
                 f'<a href="{prefix}demo.html">demo page</a>, not here.</p>')]


VERDICTS = {"tied": "tied with its baseline", "lower": "below its baseline", "higher": "above its baseline"}


def _best_rows(t: pl.DataFrame, norm: bool, ranked: bool) -> list[list[object]]:
    rows = []
    k, lo, hi = ("nret", "nret_low", "nret_high") if norm else ("retention", "ret_low", "ret_high")
    for i, r in enumerate(t.iter_rows(named=True), 1):
        if norm:  # the verdict of the chance-normalised interval: does it hold 1?
            verdict = ("no interval" if r[lo] is None else VERDICTS["tied"] if r[lo] <= 1.0 <= r[hi]
                       else VERDICTS["lower"] if r[hi] < 1.0 else VERDICTS["higher"])
        else:
            verdict = VERDICTS.get(r["verdict"] or "", "no interval")
        approx = "" if (r["ret_paired"] and not norm) else "≈"
        rows.append([i if ranked else Safe('<span class="lb-none" title="not ranked: no interval">–</span>'),
                     Safe(f'<a href="models/{esc(model_slug(r["model_id"]))}.html">{esc(r["model_id"])}</a> · '
                          f'<a href="runs/{esc(r["run_id"])}.html">{esc(r["method_label"])}</a> '
                          f'{tables.badges(r["source_kind"], bool(r["toy"]), False, r["checkpoint_label"], r["lineage_note"])}'),
                     Safe(tables.sparsity_text(r)), Safe(tables.bits_text(r)),
                     Safe(fmt(r["value"]) + (f' <span class="lb-ci">{fmt(r["ci_low"])}–{fmt(r["ci_high"])}</span>'
                                             if r["ci_low"] is not None else "")),
                     Safe(fmt(r[k]) + (f' <span class="lb-ci">{approx}{fmt(r[lo])}–{fmt(r[hi])}</span>'
                                       if r[lo] is not None else "")),
                     verdict])
    return rows


def best_by_task(h: pl.DataFrame, per_task: int = 5) -> list[Safe]:
    """Per task (corpora never ranked together): the compressions whose interval of *kept* has the highest lower
    bound, so a noisy run cannot win. On a multiple-choice task *kept* is chance-normalised (a model guessing keeps
    0), and a run whose baseline is within a margin of chance has nothing to keep: it is counted, never ranked. Runs
    without an interval (results reported without a standard error) are listed apart, not ranked."""
    parts: list[Safe] = []
    comp = h.filter(pl.col("n_steps") > 0)
    for task in tables.task_order(comp) if not comp.is_empty() else []:
        c = metrics.chance(task)
        norm = c is not None
        k, lo = ("nret", "nret_low") if norm else ("retention", "ret_low")
        t = comp.filter(pl.col("task") == task)
        near = t.filter(pl.col("near_chance").fill_null(False))
        t = t.filter(pl.col(k).is_not_null())
        if t.is_empty() and near.is_empty():
            continue
        order = dict(descending=[True, False, False], nulls_last=True)
        ranked = t.filter(pl.col(lo).is_not_null()).sort([lo, "bits_per_weight", "run_id"], **order)
        loose = t.filter(pl.col(lo).is_null()).sort([k, "bits_per_weight", "run_id"], **order)
        metric = metrics.metric_short(task)
        kept_head = "Kept above chance" if norm else "Kept"
        n = f"{t.height:,} compressed run{'s' if t.height != 1 else ''} with a kept"
        parts.append(Safe(f"<h3>{esc(metrics.task_name(task))} <small>({n})</small></h3>"))
        if norm:
            parts.append(Safe(f'<p class="lb-note">Multiple choice, chance {fmt(c)}: <em>kept</em> is chance-normalised, '
                              f"(acc − {fmt(c)}) ÷ (baseline − {fmt(c)}).</p>"))
        for rows_df, ranked_rows in ((ranked.head(per_task), True), (loose.head(per_task), False)):
            if rows_df.is_empty():
                continue
            has_ci = rows_df["ci_low"].is_not_null().any()
            has_kci = rows_df[lo].is_not_null().any()
            if not ranked_rows:
                parts.append(Safe(f'<p class="lb-unranked"><strong>Not ranked</strong>: {loose.height:,} run'
                                  f'{"s" if loose.height != 1 else ""} without an interval (reported without a standard '
                                  f'error), by <em>kept</em>{" (the first " + str(per_task) + ")" if loose.height > per_task else ""}:</p>'))
            parts.append(table(["#", "Model · compression", "Sparsity (all Linear)", "Bits",
                                f"{metric} (95%)" if has_ci else metric, f"{kept_head} (95%)" if has_kci else kept_head,
                                "vs baseline"], _best_rows(rows_df, norm, ranked_rows),
                               cls="lb-table lb-best lb-cards" + ("" if ranked_rows else " lb-unranked-table"),
                               numeric={0, 2, 3, 4, 5}))
        if not near.is_empty():
            parts.append(Safe(f'<p class="lb-note lb-near-chance">{near.height:,} run{"s" if near.height != 1 else ""} not '
                              f"ranked: {'their' if near.height != 1 else 'its'} baseline is within "
                              f"{fmt(metrics.MIN_ABOVE_CHANCE, 2)} of chance ({fmt(c)}), so there is no knowledge to keep "
                              "and the ratio to it is noise.</p>"))
    return parts


def headline_charts(site: Site, rows: pl.DataFrame, name: str, label: str) -> list[Safe]:
    """Knowledge kept against sparsity (pruning) and against bits per weight (quantization), each for the task with
    the most points to draw (the most-run task overall may be one that only baselines or reported runs have; ties
    go to the task order: LAMA T-REx first)."""
    parts: list[Safe] = []
    order = tables.task_order(rows, lead_tasks(rows))
    primary, curve = None, pl.DataFrame()
    for task in order:
        c = sparsity_curve(rows.filter(pl.col("task") == task), "")
        if c.height > curve.height:
            primary, curve = task, c
    if primary is not None:
        title = f"Knowledge kept as weights are pruned ({metrics.task_name(primary)}; {label})"
        parts.append(site.chart(charts.retention_vs_sparsity(curve, site.colours, title, curve_description(curve)),
                                f"{name}-sparsity", title, 0, "One panel per family; mean over models, whiskers: 95% "
                                "interval of the mean; dotted line: the baseline"))
    primary, pts = None, pl.DataFrame()
    for task in order:
        b = bits_points(rows.filter(pl.col("task") == task), "")
        if b.height > max(pts.height, 1) and b["method_name"].n_unique() > 1:
            primary, pts = task, b
    if primary is not None:
        title = f"Knowledge kept against bits per weight ({metrics.task_name(primary)}; {label})"
        parts.append(site.chart(charts.retention_vs_bits(pts, site.colours, title, f"{pts.height} points"),
                                f"{name}-bits", title, 0, "One panel per family; bits as stored, over all weights "
                                "(embeddings included); whiskers: 95% interval of the mean"))
    return parts


def best_section(rows: pl.DataFrame, label: str) -> list[Safe]:
    best = best_by_task(rows)
    if not best:
        return []
    return [Safe(f"<h2>Which compressions keep the most knowledge</h2><p>{esc(label[:1].upper() + label[1:])}. Per task, "
                 "ranked by the lower end of the 95% interval of <em>kept</em> (so noise does not win; chance-normalised "
                 "on multiple-choice tasks); runs without an interval are listed apart, not ranked; <em>tied</em> "
                 "means indistinguishable from the model as distributed.</p>"), *best]
