"""The home page (a snippet MkDocs puts on index.md): the lead chart and tables, the real models, this build."""

from __future__ import annotations

import polars as pl

from ...schema import model_slug
from .. import metrics, queries, tables
from ..fmt import fmt
from ..html import Safe, block, dl, esc, table
from ..parts import best_section, headline_charts, toy_pointer
from ..selection import lead, lead_tasks, real_probes, split_toy
from ..site import Site


def _real_models(real: pl.DataFrame) -> list[Safe]:
    """One row per real model probed here: its knowledge-probe scores as distributed, and how many compressions."""
    if real.is_empty():
        return []
    tasks = lead_tasks(real)
    rows = []
    for model_id in sorted(real["model_id"].unique().to_list()):
        m = real.filter(pl.col("model_id") == model_id)
        note = next((n for n in m["lineage_note"].to_list() if n), None) if "lineage_note" in m.columns else None
        cell = (f'<a href="models/{esc(model_slug(model_id))}.html">{esc(model_id)}</a>'
                f' <span class="lb-fam">· {esc(m["family"][0])}</span>'
                + (f'<span class="lb-note">{esc(note)}</span>' if note else ""))
        row: list[object] = [Safe(cell)]
        base = m.filter(pl.col("n_steps") == 0)
        for t in tasks:
            b = base.filter(pl.col("task") == t)
            if b.is_empty():
                row.append(Safe('<span class="lb-none">not run yet</span>'))
                continue
            r = b.sort("run_id").row(0, named=True)
            ci = (f' <span class="lb-ci">{fmt(r["ci_low"])}–{fmt(r["ci_high"])}</span>' if r["ci_low"] is not None else "")
            row.append(Safe(f'<a href="runs/{esc(r["run_id"])}.html">{fmt(r["value"])}</a>{ci}'))
        row.append(m.filter(pl.col("n_steps") > 0)["run_id"].n_unique())
        rows.append(row)
    head = ["Model", *[f"{metrics.metric_short(t)} {metrics.task_name(t)}, as distributed" for t in tasks],
            "Compressed runs"]
    return [Safe("<h2>Real models probed here</h2><p>Reproduced by this runner on real checkpoints; each row's "
                 "numbers are the model as distributed, the baseline its compressions are measured against.</p>"),
            table(head, rows, cls="lb-table lb-cards lb-title-first lb-real", numeric=set(range(1, len(tasks) + 2)))]


def build(site: Site, h: pl.DataFrame, counts: dict) -> None:
    main, toy = split_toy(h)
    key, label, rows = lead(h)
    real = real_probes(h)
    parts: list[Safe] = [dl([("real models probed here", real["model_id"].n_unique()), ("runs", counts["runs"]),
                             ("models", counts["models"]), ("reported results", counts["reported"]),
                             *([("corrected results (errata; the runs they supersede are left out)", counts["corrected"])]
                               if counts["corrected"] else []),
                             ("toy models (on the demo page)", toy["model_id"].n_unique())])]
    n_real = real["run_id"].n_unique()
    if key == "real-probes" and not real.filter(pl.col("n_steps") > 0).is_empty():
        parts.append(Safe('<p class="lb-lead">The charts and tables below come from <strong>real models</strong> (not '
                          "toy), compressed and probed for facts (LAMA, BEAR) by this runner; <em>kept</em> is relative to "
                          "each model as distributed.</p>"))
    elif n_real:  # the real models first, then what there is to compare
        parts.append(Safe(f'<p class="lb-lead">No real model has been compressed and probed here yet: so far, {n_real:,} '
                          f'run{"s" if n_real != 1 else ""} of real models as distributed (next).'
                          + (f" Until compressed runs land, the charts and tables after them show <strong>{esc(label)}"
                             "</strong>." if key != "real-probes" else "") + "</p>"))
        parts += _real_models(real)
    else:
        parts.append(Safe(f'<p class="lb-lead">No real model has been probed here yet: the charts and tables below show '
                          f"<strong>{esc(label)}</strong>.</p>"))
    parts += headline_charts(site, rows, "home", label)
    parts += best_section(rows, label)
    if key == "real-probes" and not real.filter(pl.col("n_steps") > 0).is_empty():
        parts += _real_models(real)
    if key != "toy":
        parts += toy_pointer(toy, "", "(tiny demonstration models)")
    parts.append(Safe('<p><a href="leaderboard.html">The whole leaderboard →</a> · '
                      '<a href="compare.html">compare runs side by side →</a></p>'))
    parts += _build_info(site, h)
    site.snippets["home"] = block(*parts)


def _build_info(site: Site, h: pl.DataFrame) -> list[Safe]:
    """Build commit and date (of the checkout the site is built from) and what changed: the run files added since
    the previous published build, from git (``run_changes``); outside git, the runs that finished last."""
    info = getattr(site, "build_info", None) or {}
    changes = getattr(site, "changes", None) or {}
    parts = [Safe("<h2>This build</h2>"),
             dl([("commit", info.get("commit") or "unknown"), ("commit date", info.get("date") or "unknown"),
                 ("run files", f"{queries.run_files(site.con):,}")])]

    def items(rows: pl.DataFrame, limit: int = 12) -> str:
        li = "".join(
            f'<li><a href="runs/{esc(r["run_id"])}.html">{esc(r["model_id"])} · {esc(metrics.cap(r["method_label"]))} · '
            f'{esc(metrics.task_name(r["eval_task"]))}</a> {tables.badges(r["source_kind"], bool(r["toy"]))}</li>'
            for r in rows.head(limit).iter_rows(named=True))
        more = f"<li>and {rows.height - limit:,} more</li>" if rows.height > limit else ""
        return f'<ul class="lb-recent">{li}{more}</ul>'

    def of(paths: list[str]) -> pl.DataFrame:
        if not paths:
            return pl.DataFrame()
        return queries.runs_at(site.con, paths)

    if not changes:
        recent = queries.latest_runs(site.con, 8)
        parts.append(Safe(f"<h3>The latest runs</h3><p>(by when they finished; this build is not from a git "
                          f"checkout, so what was added since the previous build is unknown)</p>{items(recent)}"))
        return parts
    since = (f'commit <code>{esc(changes["since"])}</code>' + (f' ({esc(changes["date"])})' if changes["date"] else "")
             if changes["since"] else "the first commit")
    added = of(changes["added"])
    if added.is_empty():
        parts.append(Safe(f"<h3>What changed</h3><p>No run files added since {since}.</p>"))
    else:
        parts.append(Safe(f"<h3>What changed: {added.height:,} run file{'s' if added.height != 1 else ''} added since "
                          f"{since}</h3>{items(added)}"))
    pending = of(changes["uncommitted"])
    if not pending.is_empty():
        parts.append(Safe(f"<p>Not committed yet ({pending.height:,}):</p>{items(pending)}"))
    return parts
