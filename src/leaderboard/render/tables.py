"""The leaderboard table: one row per (source, model, compression), a compact first cell, the metric and the
retention per task with their intervals, sorted by the headline metric (descending). Everything from run files
is escaped (html.esc); sorting, filtering, the column chooser and the URL state are in assets/leaderboard.js."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

import polars as pl

from ..schema import model_slug
from . import boardmemo
from .boardmemo import BoardMemos
from .fmt import fmt, pct
from .html import Safe, badge, esc
from .metrics import MIN_ABOVE_CHANCE, chance, metric_short, task_name

# A board of more rows than INLINE_MAX keeps them out of its page (issue 22, scale: 2,554 rows were 4.2 MB of HTML at
# 10,000 runs): the page holds the first FIRST_ROWS rows of its default view (readable without JavaScript); every row's
# HTML is in data/board/<name>/rows-<k>.json (SHARD_ROWS a file, in the default order) and what sorting and filtering
# need in small column files, fetched when the reader sorts, filters or asks for more rows (assets/leaderboard.js).
# At 10,000 runs: a family's 850 rows were 2.7 MB of its page and a sorted view of the leaderboard fetched 31 shards
# of 50 rows (5.4 MB) for its first 100 rows: small shards, since a sorted view's rows are scattered over them.
INLINE_MAX = 200
FIRST_ROWS = 100
SHARD_ROWS = 10
MAX_VISIBLE_TASKS = 3  # more fit at 1280 px only without their intervals; the column chooser shows the others
BITS_NOTE = ("measured over every weight of the model, embeddings included: 4-bit schemes quantize the Linear "
             "layers only, so the embeddings (often kept in 32 bits) weigh in")


@dataclass
class Row:
    key: str
    source: str
    toy: bool
    model_id: str
    family: str
    label: str
    method: str
    scope: str | None
    sparsity: float | None  # requested, of the scope
    whole: float | None  # measured, of all Linear layers
    bits: float | None
    size_mb: float | None
    n_steps: int
    checkpoint: str | None = None  # the steps the checkpoint arrived with (GGUF Q4_1): 'kept' is relative to it
    lineage: str | None = None  # what that means, as a sentence (the badge's title)
    corrected: str | None = None  # errata: why a run of this row corrects a published one (the badge's title)
    tasks: dict[str, dict] = field(default_factory=dict)
    bits_nominal: float | None = None  # the scheme's stated bits where nothing was measured (reported GPTQ: 4)
    sparsity_nominal: float | None = None  # the requested share over all Linear layers where nothing was measured


def row_key(source: str, model_id: str, revision: str | None, compression_key: str) -> str:
    return hashlib.sha256(f"{source}\x00{model_id}\x00{revision}\x00{compression_key}".encode()).hexdigest()[:12]


def build_rows(h: pl.DataFrame) -> list[Row]:
    rows: dict[str, Row] = {}
    for r in h.iter_rows(named=True):
        key = row_key(r["source_kind"], r["model_id"], r["model_revision"], r["compression_key"])
        row = rows.get(key)
        if row is None:
            row = rows[key] = Row(
                key, r["source_kind"], bool(r["toy"]), r["model_id"], r["family"], r["method_label"], r["method"],
                r["scope"], r["sparsity"], r["whole_sparsity"], r["bits_per_weight"],
                r["weight_bytes"] / 1e6 if r["weight_bytes"] is not None else None, r["n_steps"],
                r.get("checkpoint_label"), r.get("lineage_note"), bits_nominal=r.get("bits_nominal"),
                sparsity_nominal=r.get("sparsity_nominal"))
        row.tasks[r["task"]] = r
        if r.get("correction_reason") and r["correction_reason"] not in (row.corrected or "").split(" / "):
            row.corrected = f"{row.corrected} / {r['correction_reason']}" if row.corrected else r["correction_reason"]
    return list(rows.values())


ROWS_BY_RUN = "rows by run"  # in board(shared=...): each run's Row, as rows_of() made them for the biggest frame


def rows_of(h: pl.DataFrame, shared: dict | None = None) -> list[Row]:
    """build_rows(h); with ``shared``, from the Rows made for a frame that ``h`` is part of (the headline frame, then
    the leaderboard's, a family's, a method's and each model's boards take theirs from it: a 100,000-run build made
    400,000 rows' dicts here, 4 s). A Row is taken only where all its runs are in ``h`` (and none twice); otherwise
    they are made from ``h``, and the first made are kept for the next board."""
    if shared is None:
        return build_rows(h)
    index = shared.get(ROWS_BY_RUN)
    if index is not None:
        found: dict[str, Row] = {}
        ids = h["run_id"].to_list()
        for rid in ids:
            row = index.get(rid)
            if row is None:
                break
            found[row.key] = row
        else:
            if sum(len(row.tasks) for row in found.values()) == len(ids) == len(set(ids)):
                return list(found.values())
    rows = build_rows(h)
    if index is None:
        shared[ROWS_BY_RUN] = {r["run_id"]: row for row in rows for r in row.tasks.values()}
    return rows


CELL_MEMO = "cells across builds"  # in board(shared=...): a CellMemo
BOARD_MEMOS = "board rows across builds"  # in board(shared=...): the page boards' rows (boardmemo.BoardMemos)


@dataclass
class CellMemo:
    """Each run's task cells (task_cells) as the previous builds made them, kept across builds (issue 22, scale: a
    rebuild after adding ten runs made the cells of all 100,000 again, 2.5 s of the leaderboard alone). A run's cells
    are made from its headline row only (its task and step count are in it), so they are taken from an earlier build
    where the row hashes the same (``hashes``: DataFrame.hash_rows of the headline frame, by run id; the memo belongs
    to one code version, polars' included: build.render). ``cells``: run id -> [hash, *cells], every entry still valid
    (those of runs whose pages were all kept this time included: the next build may need them)."""
    hashes: dict[str, int]
    cells: dict[str, list]
    # each row's opening tag, fixed cells and first cell (_row_cells), by "<row key>|<variant>": [row hash, tr, fixed
    # cells, *first cell's parts]; as the previous build left them (taken where the row hash is the same) and as this
    # one leaves them (those made or taken, and the previous ones of rows still on the site)
    rows_previous: dict[str, list] = field(default_factory=dict)
    rows: dict[str, list] = field(default_factory=dict)


def remember_cells(shared: dict, h: pl.DataFrame, previous: dict[str, list],
                   previous_rows: dict[str, list] | None = None) -> CellMemo:
    """Start a CellMemo for the boards of this build, from the headline frame ``h`` and the previous build's cells
    (only those whose run's row hashes the same are kept) and rows' cells (those of rows still in ``h``, checked
    against the row's hash when a board takes them)."""
    hashes = dict(zip(h["run_id"].to_list(), h.hash_rows(seed=0).to_list(), strict=True))
    memo = CellMemo(hashes, {rid: v for rid, v in previous.items() if hashes.get(rid) == v[0]})
    if previous_rows:
        index = shared.get(ROWS_BY_RUN)
        current = {row.key for row in (index.values() if index is not None else build_rows(h))}
        memo.rows_previous = previous_rows
        memo.rows = {k: v for k, v in previous_rows.items() if k.partition("|")[0] in current}
    shared[CELL_MEMO] = memo
    return memo


_FNV_OFFSET, _FNV_PRIME, _MASK64 = 0xCBF29CE484222325, 0x100000001B3, (1 << 64) - 1


def _row_hash(hashes: dict[str, int], runs: list[str], primary_run: str | None) -> int | None:
    """What a row's cells are made from, as one 64-bit number: its runs' headline row hashes in the row's order and
    which of them the first cell links (FNV-1a over them); None where a run has no hash."""
    acc = _FNV_OFFSET ^ (runs.index(primary_run) + 1 if primary_run in runs else 0)
    for rid in runs:
        hv = hashes.get(rid)
        if hv is None:
            return None
        acc = ((acc ^ hv) * _FNV_PRIME) & _MASK64
    return acc


def _row_cells(shared: dict | None, row: Row, show_model: bool, select: bool,
               primary: str | None) -> tuple[str, str, tuple[str, ...]]:
    """A row's opening tag, its sparsity, bits and size cells (_fixed_cells) and its first cell's parts (first_cell):
    made once a build for the runs of the row (``shared``), and taken from the previous build where the row hashes
    the same (CellMemo.rows; issue 22, scale: 1 s of a rebuild after adding ten runs made them for every row)."""
    def make() -> tuple[str, str, tuple[str, ...]]:
        cls = f"lb-src-{row.source}" + (" lb-baseline" if row.n_steps == 0 else "")
        whole = row.whole if row.whole is not None else row.sparsity_nominal
        bits = row.bits if row.bits is not None else row.bits_nominal
        return (*_fixed_cells(row, cls, whole, bits), first_cell(row, show_model, select, primary))

    if shared is None:
        return make()
    runs = [r["run_id"] for r in row.tasks.values()]
    primary_run = row.tasks[primary]["run_id"] if primary in row.tasks else None
    # the runs decide the cells (the run linked, the badges of errata and of output not finite), not the row's key
    key = ("row cells", show_model, select, primary_run, *runs)
    made = shared.get(key)
    if made is not None:
        return made
    memo: CellMemo | None = shared.get(CELL_MEMO)
    hashed = _row_hash(memo.hashes, runs, primary_run) if memo is not None else None
    name = f"{row.key}|{int(show_model)}{int(select)}"
    if hashed is not None:
        kept = memo.rows_previous.get(name)
        if kept is not None and kept[0] == hashed:
            made = (kept[1], kept[2], tuple(kept[3:]))
    if made is None:
        made = make()
    if hashed is not None:
        memo.rows[name] = [hashed, made[0], made[1], *made[2]]
    shared[key] = made
    return made


def _task_cells(shared: dict | None, r: dict, task: str, n_steps: int) -> tuple[str, ...]:
    """task_cells(r, task, n_steps), made once a build (``shared``) and taken from an earlier build where its headline
    row is unchanged (CellMemo)."""
    if shared is None:
        return task_cells(r, task, n_steps)
    rid = r["run_id"]
    made = shared.get(rid)
    if made is not None:
        return made
    memo: CellMemo | None = shared.get(CELL_MEMO)
    kept = memo.cells.get(rid) if memo is not None else None
    if kept is not None:
        made = tuple(kept[1:])
    else:
        made = task_cells(r, task, n_steps)
        hashed = memo.hashes.get(rid) if memo is not None else None
        if hashed is not None:
            memo.cells[rid] = [hashed, *made]
    shared[rid] = made
    return made


def task_rank(task: str) -> tuple[int, int]:
    """In the registry's order of suites (the knowledge probes first: LAMA, BEAR, then lm-eval), a suite's lead task
    (LAMA T-REx, the headline) before its others."""
    from ..evaluate import registry as suites

    found = suites.all_suites()
    suite = suites.find(task)
    if suite is None:
        return len(found), 1
    return found.index(suite), 0 if task == suite.lead_task else 1


def task_order(h: pl.DataFrame, lead: list[str] | tuple[str, ...] | set[str] | None = None) -> list[str]:
    """Tasks by how many rows have them (the headline task first), LAMA T-REx, LAMA, BEAR, lm-eval on ties.
    ``lead``: tasks that go first whatever their counts (those of the real models' knowledge probes), in
    task_rank order."""
    counts = h.group_by("task").agg(pl.len().alias("n")).to_dicts()
    first = set(lead or ())

    def key(c: dict) -> tuple:
        t = c["task"]
        return (0, task_rank(t), -c["n"], t) if t in first else (1, -c["n"], task_rank(t), t)
    return [c["task"] for c in sorted(counts, key=key)]


def sort_rows(rows: list[Row], task: str | None) -> list[Row]:
    """By the headline task's value, descending; rows without it last; then model and label (stable)."""
    def key(r: Row):
        v = r.tasks.get(task, {}).get("value") if task else None
        return (v is None, -(v or 0.0), r.model_id, r.n_steps, r.label, r.key)
    return sorted(rows, key=key)


def badges(source: str, toy: bool, baseline: bool = False, checkpoint: str | None = None,
           lineage: str | None = None, corrected: str | None = None) -> Safe:
    parts = []
    if baseline:
        parts.append(badge("baseline", "baseline"))
    if checkpoint and not baseline:  # the as-distributed row names its checkpoint in its label already
        title = f' title="{esc(lineage)}"' if lineage else ""
        parts.append(Safe(f'<span class="lb-badge lb-lineage"{title}>on {esc(checkpoint_short(checkpoint))}</span>'))
    if source != "reproduced":
        parts.append(badge(source, source))
    if toy:
        parts.append(badge("toy", "toy"))
    if corrected:
        parts.append(corrected_badge(corrected))
    return Safe(" ".join(parts))


def corrected_badge(reason: str | None) -> Safe:
    """Errata: the badge of a run that corrects a published one; the reason in its title (the run page says more)."""
    return Safe(f'<span class="lb-badge lb-corrected" title="corrected: {esc(reason)}">corrected</span>') if reason else Safe("")


def checkpoint_short(label: str) -> str:
    """'GGUF Q4_1 quantization of all' -> 'GGUF Q4_1': what a checkpoint arrived with, for a badge."""
    out = []
    for part in label.split(" → "):
        part = part.removesuffix(" of all")
        out.append(part.removesuffix(" quantization"))
    return " → ".join(out)


def _n(x: float | None, digits: int = 3) -> str:
    return fmt(x, digits)


def _ci(lo: float | None, hi: float | None, approx: bool = False, digits: int = 3) -> Safe:
    if lo is None or hi is None:
        return Safe("")
    mark = "≈" if approx else ""
    return Safe(f'<span class="lb-ci">{mark}{fmt(lo, digits)}–{fmt(hi, digits)}</span>')


NOMINAL = '<span class="lb-nominal" title="nominal: what the scheme states, not measured on the weights">nominal</span>'


def bits_text(r: dict) -> str:
    """Bits per weight as measured, else the scheme's nominal bits marked as such, else a dash."""
    if r.get("bits_per_weight") is not None:
        return fmt(r["bits_per_weight"], 1)
    if r.get("bits_nominal") is not None:
        return f'{fmt(r["bits_nominal"], 0)} {NOMINAL}'
    return "–"


def sparsity_text(r: dict) -> str:
    """Sparsity of all Linear layers as measured, else the requested share marked nominal, else a dash."""
    if r.get("whole_sparsity") is not None:
        return pct(r["whole_sparsity"])
    if r.get("sparsity_nominal") is not None:
        return f'{pct(r["sparsity_nominal"])} {NOMINAL}'
    return "–"


def _sortattr(v: float | None) -> str:
    return "" if v is None else f' data-sort="{v!r}"'


def _pct(x: float | None) -> str:
    return pct(x)


def _broken(row: Row) -> str:
    bad = sum(int(r.get("nonfinite") or 0) for r in row.tasks.values())
    return (f' <span class="lb-badge lb-broken" title="the model output is not finite for {bad:,} examples">'
            'output not finite</span>' if bad else "")


def first_cell(row: Row, show_model: bool, select: bool, primary: str | None) -> tuple[str, ...]:
    """A row's first cell (its model, its compression linked to the run of the primary task, its badges), as the parts
    around the links' prefix: ``prefix.join(parts)`` is the HTML at any depth, so the leaderboard, a family's board and
    a method's make it once for the row (``board(shared=...)``; issue 22, scale)."""
    run = next(iter(row.tasks.values()))
    if primary in row.tasks:
        run = row.tasks[primary]
    model = esc(row.model_id)
    pick = (f'<input type="checkbox" class="lb-pick" value="{esc(row.key)}" aria-label="pick to compare"> '
            if select else "")
    tail = (f'runs/{esc(run["run_id"])}.html">{esc(row.label)}</a> '
            f'{badges(row.source, row.toy, row.n_steps == 0, row.checkpoint, row.lineage, row.corrected)}{_broken(row)}</td>')
    if show_model:
        return (f'<td class="lb-first">{pick}<a class="lb-model" href="',
                f'models/{esc(model_slug(row.model_id))}.html">{model}</a><span class="lb-fam"> · {esc(row.family)}</span>'
                '<br><a class="lb-comp" href="', tail)
    return f'<td class="lb-first">{pick}<a class="lb-comp" href="', tail


def css_string(text: str) -> str:
    """A CSS string literal: everything but letters, digits and spaces as a hex escape (no quote, backslash or
    '</style>' can survive)."""
    return '"' + "".join(c if c.isalnum() and c.isascii() or c == " " else f"\\{ord(c):06x}" for c in text) + '"'


def _na(*values: float | None) -> str:
    """A cell with nothing to show (a dash): phone cards leave it out."""
    return ' class="lb-na"' if all(v is None for v in values) else ""


def _num_attr(v: float | None) -> str:
    return "" if v is None else f' data-sort="{float(f"{v:.6g}")!r}"'


def task_cells(r: dict, task: str, n_steps: int) -> tuple[str, ...]:
    """A run's two cells on a board (its metric with its interval, linked to its page; the knowledge kept), as the
    parts around the link's prefix: ``prefix.join(parts)`` is the HTML at any depth. The same run is on the
    leaderboard, its family's board and its method's: made once a build (``board(shared=...)``; issue 22, scale)."""
    n_txt = f' title="n = {r["n"]:,}"' if r.get("n") else ""
    value = (f'<td{_num_attr(r["value"])}{n_txt}><a href="', f'runs/{esc(r["run_id"])}.html">{_n(r["value"])}</a>'
             f'{_ci(r["ci_low"], r["ci_high"])}</td>')
    if n_steps == 0:
        return value[0], value[1] + '<td><span class="lb-base">baseline</span></td>'
    if r.get("near_chance"):
        return value[0], (value[1] + f'<td><span class="lb-none" title="the baseline ({fmt(r["baseline_value"])}) is '
                          f'within {fmt(MIN_ABOVE_CHANCE, 2)} of chance ({fmt(chance(task))}): nothing to keep, no ratio">'
                          'near chance</span></td>')
    tag = {"tied": ' <span class="lb-tie">tied</span>', "higher": ' <span class="lb-up">▲</span>'}.get(r.get("verdict") or "", "")
    extra = f'<span class="lb-ci">norm {fmt(r["nret"], 2)}</span>' if r.get("nret") is not None else ""
    return value[0], (value[1] + f'<td{_num_attr(r["retention"])}>{_n(r["retention"])}{tag}'
                      f'{_ci(r["ret_low"], r["ret_high"], not r["ret_paired"])}{extra}</td>')


def _fixed_cells(row: Row, cls: str, whole: float | None, bits: float | None) -> tuple[str, str]:
    """A row's opening tag and its sparsity, bits and size cells: the same on every board (``board(shared=...)``)."""
    tr = (f'<tr class="{esc(cls)}" data-key="{esc(row.key)}" data-family="{esc(row.family)}" '
          f'data-source="{esc(row.source)}" data-method="{esc(row.method)}">')
    return tr, (f"<td{_num_attr(whole)}{_na(whole, row.sparsity)}>{sparsity_text({'whole_sparsity': row.whole, 'sparsity_nominal': row.sparsity_nominal})}"
                # below: the requested share of the pruned scope, where it is not the whole model's
                + (f'<span class="lb-ci">{_pct(row.sparsity)} {esc(row.scope or "all")}</span>'
                   if row.sparsity is not None and row.scope not in (None, "all") else "")
                + "</td>"
                f"<td{_num_attr(bits)}{_na(bits)}>{bits_text({'bits_per_weight': row.bits, 'bits_nominal': row.bits_nominal})}</td>"
                f"<td{_num_attr(row.size_mb)}{_na(row.size_mb)}>{_n(row.size_mb, 1)}</td>")


def board(h: pl.DataFrame, depth: int, *, show_model: bool = True, filters: bool = True, select: bool = True,
          url_state: bool = False, tasks: list[str] | None = None, limit: int | None = None, caption: str | None = None,
          lead: list[str] | None = None, default_source: str | None = None, data: dict | None = None,
          data_name: str | None = None, shared: dict | None = None) -> Safe:
    """The table. Per-cell repetition is kept out of the HTML (a 2,000-run board is one row per model and
    compression, times every task): which columns are hidden is a class on the table, and the labels of the
    phone layout (cards) come from a small generated stylesheet, by column position.

    ``lead``: tasks shown first (the real models' knowledge probes); ``default_source``: the source filter's
    value when the URL names none (the rows of the other sources are in the page, one filter away). ``data`` and
    ``data_name``: where a board of more than INLINE_MAX rows puts its rows (``data["data/board/<name>/..."]``).
    ``shared``: the cells another board of this build made: each run's (task_cells, by run id) and each row's opening
    tag and fixed cells (_fixed_cells, by the row's values)."""
    prefix = "../" * depth
    tasks = tasks or task_order(h, lead)
    primary = tasks[0] if tasks else None
    rows = sort_rows(rows_of(h, shared), primary)
    if limit is not None:
        rows = rows[:limit]
    # the knowledge probes (LAMA, BEAR) first, the real models' ones before the others; other tasks (the papers' lm-eval
    # ones) are a tick away unless there is no probe at all. The page's script drops columns empty for the rows shown.
    from ..evaluate import registry as suites

    probes = [t for t in tasks if t.partition(":")[0] in suites.knowledge_probes()]
    shown_first = [t for t in tasks if t in set(lead or ())] + [t for t in probes if t not in set(lead or ())] or tasks
    visible = set(shown_first[:MAX_VISIBLE_TASKS])
    bid = "lb-board-" + hashlib.sha256("\x00".join(tasks).encode()).hexdigest()[:8]
    head = ['<th scope="col" class="lb-rank" data-col="rank">#</th>',
            '<th scope="col" data-col="run" data-type="text"><button type="button">Model · compression</button></th>' if show_model
            else '<th scope="col" data-col="run" data-type="text"><button type="button">Compression</button></th>',
            '<th scope="col" data-col="sparsity" data-type="num" title="measured share of zero weights in all '
            'Linear layers of the model; below it the requested sparsity of the pruned scope"><button type="button">Sparsity'
            '<span class="lb-sub">all Linear · scope</span></button></th>',
            f'<th scope="col" data-col="bits" data-type="num" title="{esc(BITS_NOTE)}"><button type="button">'
            'Bits<span class="lb-sub">per weight</span></button></th>',
            '<th scope="col" data-col="size" data-type="num"><button type="button">Size<span class="lb-sub">MB</span></button></th>']
    labels = {3: "Sparsity (all Linear · scope)", 4: "Bits per weight", 5: "Size (MB)"}
    hidden = ["size"]
    for i, t in enumerate(tasks):
        metric = metric_short(t)
        sort = ' aria-sort="descending"' if t == primary else ""
        head.append(f'<th scope="col" data-col="t{i}" data-task="{esc(t)}" data-type="num"{sort}>'
                    f'<button type="button">{esc(metric)}<span class="lb-sub">{esc(task_name(t))}</span></button></th>')
        norm = " · chance-normalised" if chance(t) is not None else ""
        head.append(f'<th scope="col" data-col="k{i}" data-task="{esc(t)}" data-type="num" '
                    f'title="retention: {esc(metric)} ÷ the baseline\'s {esc(metric)} on {esc(task_name(t))}; 95% interval below where there is one{norm}">'
                    f'<button type="button">Kept<span class="lb-sub">{esc(task_name(t))}</span></button></th>')
        # "(95%)" only over columns that hold an interval (many reported results have none)
        with_ci = any(r["ci_low"] is not None for row in rows for r in [row.tasks.get(t)] if r)
        with_kci = any(r["ret_low"] is not None for row in rows for r in [row.tasks.get(t)] if r)
        labels[6 + 2 * i] = f"{metric} {task_name(t)}" + (" (95%)" if with_ci else "")
        labels[7 + 2 * i] = f"Kept {task_name(t)}" + (" (95%)" if with_kci else "")
        if t not in visible:
            hidden += [f"t{i}", f"k{i}"]
    cols = {"sparsity": 3, "bits": 4, "size": 5, **{f"t{i}": 6 + 2 * i for i in range(len(tasks))}, **{f"k{i}": 7 + 2 * i for i in range(len(tasks))}}
    style = "".join(f"#{bid}.lb-hide-{k} > * > tr > :nth-child({n}){{display:none}}" for k, n in cols.items())
    style += "@media screen and (max-width:44.9375em){" + "".join(
        f"#{bid} > tbody > tr > td:nth-child({n})::before{{content:{css_string(lbl)}}}" for n, lbl in labels.items()) + "}"
    body = []
    names = ("sparsity", "bits", "size", *(f"{p}{i}" for i in range(len(tasks)) for p in "tk"))
    columns: list[list[float | None]] = [[] for _ in names]  # each sortable column's values (rounded: _round)
    texts: list[str] = []  # per row, the words the text filter looks in
    # the rows as the previous build made them for this board (render/boardmemo.py), where there is one
    memos: BoardMemos | None = shared.get(BOARD_MEMOS) if shared is not None and data_name else None
    cell_memo: CellMemo | None = shared.get(CELL_MEMO) if memos is not None else None
    sig = boardmemo.signature(tasks, prefix, show_model, select) if cell_memo is not None else ""
    previous = memos.previous(data_name, sig) if cell_memo is not None else {}
    made: dict[str, list] = {}
    for n, row in enumerate(rows, 1):
        entry = hashed = None
        if cell_memo is not None:
            primary_run = row.tasks[primary]["run_id"] if primary in row.tasks else None
            hashed = _row_hash(cell_memo.hashes, [r["run_id"] for r in row.tasks.values()], primary_run)
            kept = previous.get(row.key)
            if hashed is not None and kept is not None and kept[0] == hashed and boardmemo.usable(kept, len(names)):
                entry = kept
        if entry is None:
            entry = [hashed, *_row_parts(shared, row, tasks, prefix, show_model, select, primary)]
        if hashed is not None:
            made[row.key] = entry
        body.append(f"{entry[1]}<td>{n}</td>{entry[2]}</tr>")
        texts.append(entry[3])
        for column, v in zip(columns, entry[4:], strict=True):
            column.append(v)
    if cell_memo is not None:
        memos.made[data_name] = (sig, made)
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    attrs = ' data-url-state="1"' if url_state else ""
    # MkDocs Material reads ?q= as a search query and opens its overlay: the board's text filter is ?filter=; a link
    # with ?q= from before is rewritten before the theme's script runs (it is at the end of the page, this is not)
    moved = ('<script>(function(){var u=new URL(location.href),p=u.searchParams;if(p.has("q")){'
             'if(!p.has("filter"))p.set("filter",p.get("q"));p.delete("q");history.replaceState(null,"",u.pathname+'
             '(p.toString()?"?"+p.toString():"")+u.hash);}})();</script>' if url_state else "")
    table_cls = "lb-table lb-board lb-sortable" + "".join(f" lb-hide-{k}" for k in hidden)
    if data is not None and data_name and len(rows) > INLINE_MAX:
        first = [i for i, row in enumerate(rows) if not default_source or row.source == default_source][:FIRST_ROWS]
        total = sum(1 for row in rows if not default_source or row.source == default_source)
        folder = f"data/board/{data_name}/"
        _shard(data, folder, rows, body, dict(zip(names, columns, strict=True)), texts, tasks)
        attrs += (f' data-rows="{esc(prefix + folder)}" data-total="{total}" data-all="{len(rows)}" data-first="{FIRST_ROWS}"')
        body = [re.sub(r"^(<tr[^>]*><td>)\d+<", rf"\g<1>{n}<", body[i]) for n, i in enumerate(first, 1)]
    note = ""
    if "data-rows" in attrs:
        note = (f'<p class="lb-rows-note">This page holds the first {min(FIRST_ROWS, total):,} of {len(rows):,} rows; the '
                f'others load when you sort, filter or ask for more (every row: <a href="{prefix}downloads.html">downloads'
                '</a>).</p>')
    table = Safe(f'{moved}<style>{style}</style><div class="lb-table-wrap lb-board-wrap" data-search-exclude><table id="{bid}" class="{table_cls}"{attrs}>'
                 f'{cap}<thead><tr>' + "".join(head) + "</tr></thead><tbody>" + "\n".join(body) + "</tbody></table></div>" + note)
    if not filters:
        return table
    return Safe(controls(h, tasks, visible, select, prefix, default_source) + table)


def _round(v: float | None) -> float | None:
    return None if v is None else float(f"{v:.6g}")


def _row_text(row: Row) -> str:
    """The words the board's text filter looks in for a row."""
    from .metrics import method_name

    return " ".join(x for x in (row.model_id, row.family, row.label, method_name(row.method), row.source,
                                row.checkpoint or "", "toy" if row.toy else "") if x).lower()


def _row_parts(shared: dict | None, row: Row, tasks: list[str], prefix: str, show_model: bool, select: bool,
               primary: str | None) -> list:
    """A board row as board() keeps it: its opening tag, its cells after the rank, its words (_row_text) and its
    sortable values, rounded (sparsity, bits, size, then each task's metric and knowledge kept)."""
    tr, fixed, first = _row_cells(shared, row, show_model, select, primary)
    cells = [prefix.join(first), fixed]
    values = [_round(row.whole if row.whole is not None else row.sparsity_nominal),
              _round(row.bits if row.bits is not None else row.bits_nominal), _round(row.size_mb)]
    for t in tasks:
        r = row.tasks.get(t)
        if r is None:
            cells.append("<td></td><td></td>")
            values += [None, None]
            continue
        cells.append(prefix.join(_task_cells(shared, r, t, row.n_steps)))
        values += [_round(r.get("value")), _round(r.get("retention") if row.n_steps and not r.get("near_chance") else None)]
    return [tr, "".join(cells), _row_text(row), *values]


def _shard(data: dict, folder: str, rows: list[Row], body: list[str], sort_values: dict[str, list[float | None]],
           texts: list[str], tasks: list[str]) -> None:
    """A big board's rows out of its page: the rows' HTML in shards, in the default order; per row the codes of its
    family, source and method and the words the text filter looks in (``texts``); one file per sortable column
    (``sort_values``, rounded)."""
    dicts = {k: sorted({getattr(r, k) for r in rows}) for k in ("family", "source", "method")}
    codes = {k: {v: i for i, v in enumerate(values)} for k, values in dicts.items()}
    data[folder + "index.json"] = {
        "n": len(rows), "shard": SHARD_ROWS, "dict": dicts, "tasks": tasks,
        **{k: [codes[k][getattr(r, k)] for r in rows] for k in dicts}}
    data[folder + "text.json"] = texts
    for k, values in sort_values.items():
        data[folder + f"c-{k}.json"] = values
    for start in range(0, len(body), SHARD_ROWS):
        data[folder + f"rows-{start // SHARD_ROWS}.json"] = body[start:start + SHARD_ROWS]


def controls(h: pl.DataFrame, tasks: list[str], visible: set[str], select: bool, prefix: str,
             default_source: str | None = None) -> str:
    def opts(vals, selected: str | None = None) -> str:
        return "".join(f'<option value="{esc(v)}"{" selected" if v == selected else ""}>{esc(lbl)}</option>'
                       for v, lbl in vals)

    from .metrics import method_name

    families = sorted(h["family"].unique().to_list())
    sources = sorted(h["source_kind"].unique().to_list())
    methods = sorted(h["method"].unique().to_list())
    cols = "".join(
        f'<label><input type="checkbox" class="lb-col" value="{esc(t)}" data-cols="t{i} k{i}"{" checked" if t in visible else ""}> '
        f'{esc(task_name(t))}</label>' for i, t in enumerate(tasks))
    cols += '<label><input type="checkbox" class="lb-col" value="size" data-cols="size"> Size (MB)</label>'
    sort_opts = "".join(f'<option value="t{i}">{esc(metric_short(t))} {esc(task_name(t))}</option>'
                        f'<option value="k{i}">Kept {esc(task_name(t))}</option>' for i, t in enumerate(tasks))
    pick = (f'<a class="md-button lb-compare" href="{prefix}compare.html" aria-disabled="true">Compare selected '
            '(<span class="lb-npicked">0</span>)</a>' if select else "")
    return (
        '<div class="lb-filters">'
        '<label>Search <input type="search" class="lb-filter-text" placeholder="model or compression"></label>'
        + (f'<label>Family <select class="lb-filter-family"><option value="">all</option>{opts((f, f) for f in families)}</select></label>'
           if len(families) > 1 else "")
        + f'<label>Method <select class="lb-filter-method"><option value="">all</option>'
          f'{opts((m, method_name(m)) for m in methods)}</select></label>'
        + (f'<label>Source <select class="lb-filter-source" data-default="{esc(default_source or "")}">'
           f'<option value="">all</option>{opts(((s, s) for s in sources), default_source)}</select></label>'
           if len(sources) > 1 else "")
        + f'<label>Sort <select class="lb-sort-by"><option value="">table order</option>{sort_opts}'
          '<option value="sparsity">Sparsity</option><option value="bits">Bits per weight</option>'
          '<option value="run">Name</option></select></label>'
        + f'<fieldset class="lb-cols"><legend>Columns shown</legend>{cols}</fieldset>{pick}'
        '<span class="lb-count" aria-live="polite"></span></div>')
