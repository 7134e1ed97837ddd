"""Run pages: one compact page per run file, written after MkDocs around one shell page."""

from __future__ import annotations

import json
import re

import polars as pl

from ... import registry
from ...schema import model_slug
from .. import lineage, metrics, queries, tables
from ..fmt import fmt, pct
from ..html import Safe, badge, code, dl, esc, link, table
from ..parts import source_badge
from ..site import PAGE_STATUS, Site, run_status


def _pct(x: float | None) -> object:
    return None if x is None else Safe(pct(x, 1))


def _num(x: float | None, digits: int = 3) -> object:
    return None if x is None else Safe(fmt(x, digits))


RUN_SHELL = "runs/_shell.md"
RUN_BODY_MARKER = "<!--lb-run-body-->"
RUN_TITLE_MARKER = "lb-run-title"


def _grouped(df: pl.DataFrame) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for row in df.iter_rows(named=True):
        out.setdefault(row["run_id"], []).append(row)
    return out


def _interval(x: dict) -> object:
    if x.get("ci_low") is not None:
        return Safe(f"[{fmt(x['ci_low'], 4)}, {fmt(x['ci_high'], 4)}]")
    if x.get("stderr") is not None and x.get("value") is not None:  # the normal interval of a reported standard error
        lo, hi = x["value"] - metrics.Z * x["stderr"], x["value"] + metrics.Z * x["stderr"]
        return Safe(f'[{fmt(lo, 4)}, {fmt(hi, 4)}] <span class="lb-sub">± 1.96 SE</span>')
    return None


def _metric_label(name: str) -> str:
    try:
        return registry.metric_info(name).label
    except registry.UnknownMetric:
        return name


KERNELS = {"native": "low-bit kernels",
           "simulated": "simulated quantization (quantize-dequantize: the format's accuracy, not its speed)"}


def _fields(notation: str | None) -> object:
    """'quantize:scheme=gptq,bits=4,...' as 'bits=4, group_size=32, ...' (what the other columns do not show)."""
    if not notation:
        return None
    shown = ("method", "criterion", "scheme", "scope", "granularity", "sparsity")
    rest = [kv for kv in notation.partition(":")[2].split(",") if kv.partition("=")[0] not in shown]
    return ", ".join(rest) or "–"


def _calibration(text: str | None) -> object:
    if not text:
        return None
    c = json.loads(text)
    return f"{c['name']}: {c['samples']} × {c['seq_len']} tokens (sha256 {c['sha256'][:12]}…)"


def run_title(r: dict) -> str:
    return f"{r['model_id']} · {metrics.cap(r['method_label'])} · {metrics.task_name(r['eval_task'])}"


_CITATION = (  # "Frantar, Alistarh (2023). SparseGPT: ... One-Shot. ICML 2023 (PMLR 202)" / "Petroni et al. 2019, Title?, EMNLP"
    re.compile(r"^(?P<authors>[^()]+?) \((?P<year>\d{4})\)\. (?P<title>.+?[.?!]) (?P<venue>[^.]+(?:\.[^.]+)*)$"),
    re.compile(r"^(?P<authors>[^,]+?),? (?P<year>\d{4}), (?P<title>.+?), (?P<venue>[^,]+)$"),
)
_JOURNALS = ("TACL", "Transactions", "Journal", "JMLR")


def citation_fields(citation: str) -> tuple[str, str | None, list[tuple[str, str | None]]]:
    """BibTeX type, key and fields from a source's citation as run files state it ('Authors (Year). Title. Venue'):
    author, title, year and booktitle or journal. A citation of another shape is kept whole as a note of an @misc entry
    (never as its title)."""
    for pattern in _CITATION:
        m = pattern.match(citation.strip())
        if m:
            break
    else:
        return "misc", None, [("note", citation)]
    authors = [a.strip() for a in m["authors"].split(",") if a.strip()]
    names = " and ".join("others" if a == "et al." else a.removesuffix(" et al.") + (" and others" if a.endswith(" et al.") else "")
                         for a in authors)
    title = m["title"].rstrip(".")
    venue = m["venue"].strip()
    first = re.sub(r"[^a-z]", "", authors[0].split()[0].lower()) if authors else "source"
    word = next((re.sub(r"[^a-z0-9]", "", w.lower()) for w in re.split(r"[\s:]+", title)
                 if len(re.sub(r"[^a-z0-9]", "", w.lower())) > 3), "")
    key = f"{first}{m['year']}{word}"
    if any(j in venue for j in _JOURNALS):
        return "article", key, [("author", names), ("title", title), ("journal", venue), ("year", m["year"])]
    return "inproceedings", key, [("author", names), ("title", title), ("booktitle", venue), ("year", m["year"])]


def bibtex(key: str, fields: list[tuple[str, str | None]], kind: str = "misc") -> Safe:
    """A BibTeX entry; braces and backslashes in the values are dropped (they would end or escape the field)."""
    def clean(v: str) -> str:
        return re.sub(r"[{}\\]", "", v)

    body = ",\n".join(f"  {k} = {{{clean(v)}}}" for k, v in fields if v)
    return code(f"@{kind}{{{clean(key)},\n{body}\n}}")


def _errata_notes(r: dict, superseded_by: dict | None) -> list[Safe]:
    """On a correction's page: what it corrects and why; on a superseded run's page: which run corrects it."""
    out = []
    if r.get("supersedes"):
        old = r["supersedes"]
        out.append(Safe(f'<p class="lb-correction" role="note"><strong>Corrected.</strong> This run file corrects '
                        f'<a href="{esc(old)}.html">run <code>{esc(old)}</code></a>, published before and kept as it was '
                        f'(run files are append-only): {esc(r.get("correction_reason"))}</p>'))
    if superseded_by:
        new = superseded_by["superseded_by"]
        out.append(Safe(f'<p class="lb-correction lb-superseded" role="note"><strong>Superseded.</strong> This run was '
                        f'corrected by <a href="{esc(new)}.html">run <code>{esc(new)}</code></a>: '
                        f'{esc(superseded_by["reason"])} It stays published for the record, but no leaderboard, chart or '
                        'knowledge-kept figure uses it.</p>'))
    return out


def run_body(r: dict, res: list[dict], steps: list[dict], sparsity: list[dict], rels: list[dict], forgot: list[dict],
             baseline: str | None = None, superseded_by: dict | None = None) -> str:
    """The HTML of one run page (title and body; the site chrome comes from the shell page). ``superseded_by``: the
    row of the ``superseded`` view when an erratum corrects this run."""
    rid = r["run_id"]
    links = [f'{link("../models/" + model_slug(r["model_id"]) + ".html", r["model_id"])}',
             f'<a href="{esc(rid)}.json" download>run file (JSON)</a>']
    if baseline and baseline != rid:
        links.insert(1, f'<a href="{esc(baseline)}.html">its baseline (the checkpoint as distributed)</a>'
                     if r.get("checkpoint_label") and r["n_steps"] else f'<a href="{esc(baseline)}.html">its uncompressed baseline</a>')
    parts = [Safe(run_status(r)), Safe(f'<h1 id="run-title">{esc(run_title(r))}</h1>'),
             Safe(f"<p>{source_badge(r['source_kind'], r['toy'])}"
                  + (f" {tables.corrected_badge(r.get('correction_reason'))}" if r.get("supersedes") else "")
                  + (f" {badge('superseded', 'superseded')}" if superseded_by else "")
                  + f" {esc(metrics.task_name(r['eval_task']))} · run <code>{esc(rid)}</code> · " + " · ".join(links) + "</p>"),
             *_errata_notes(r, superseded_by)]
    note = lineage.lineage_note(r)
    if note:
        parts.append(Safe(f'<p class="lb-lineage-note" role="note">{esc(note)}</p>'))
    if r["toy"]:
        parts.append(Safe('<p class="lb-banner lb-demo-banner" role="note"><strong>Toy model</strong> (a tiny demonstration '
                          'model trained on LAMA facts): this run shows the method, not the behaviour of a real model '
                          '(<a href="../demo.html">demo page</a>).</p>'))
    warnings = []
    if r["git_sha"] and str(r["git_sha"]).endswith("-dirty"):
        warnings.append("The runner's checkout had uncommitted changes (git sha ends in -dirty): the code that made "
                        "this run is not exactly the commit named below.")
    for w in warnings:
        parts.append(Safe(f'<p class="lb-warning">{esc(w)}</p>'))
    if r["source_kind"] == "synthetic":
        parts.append(Safe('<p class="lb-warning">Synthetic run, made for tests and benchmarks: not a measurement.</p>'))
    broken = {x["task"]: (x["task_nonfinite"], x["task_n"]) for x in res if x.get("task_nonfinite")}
    for task, (bad, n) in sorted(broken.items()):
        parts.append(Safe(f'<p class="lb-warning lb-nonfinite">Model output is not finite: {esc(task)} had non-finite '
                          f"scores (NaN or infinite) on {bad:,} of {n:,} examples. They count as wrong, never as "
                          "right; the model is broken, not merely compressed.</p>"))
    parts.append(Safe("<h2>Results</h2>"))
    parts.append(table(["Task", "Metric", "Value", "Scale", "Std. error", "95% interval", "n", "Excluded"],
                       [[Safe(f'{esc(metrics.task_name(x["task"]))} <code class="lb-sub">{esc(x["task"])}</code>'),
                         Safe(f'{esc(_metric_label(x["metric"]))} <code class="lb-sub">{esc(x["metric"])}</code>'),
                         _num(x["value"], 4), x["scale"], _num(x.get("stderr"), 4), _interval(x), x["n"], x["task_excluded"]]
                        for x in res], cls="lb-table lb-cards lb-title-first", numeric={2, 4, 6, 7}))
    if forgot:
        parts.append(Safe("<h3>Facts forgotten</h3>"))
        parts.append(table(["Task", "Facts forgotten", "Newly right", "Kept", "Compared with the baseline"],
                           [[metrics.task_name(x["task"]), x["forgotten"], x["learned"], x["kept"], x["compared"]] for x in forgot],
                           numeric={1, 2, 3, 4}))
    if rels:
        parts.append(Safe("<h2>Per relation (P@1)</h2>"))
        parts.append(table(["Relation", "P@1", "95% interval", "n", "Excluded"],
                           [[metrics.relation_label(x["relation"]), _num(x["value"], 4), _interval(x), x["n"], x["excluded"]]
                            for x in rels], numeric={1, 3, 4}))
    if r["source_kind"] == "reported":
        parts += [Safe("<h2>Source</h2>"), dl([("citation", r["citation"]), ("table", r["citation_table"]),
                                               ("page", r["citation_page"])])]
        if r["citation_url"]:
            parts.append(Safe(f'<p>{link(r["citation_url"], r["citation_url"])}</p>'))
        parts.append(Safe("<h3>Cite</h3>"))
        where = f"{r['citation_table']}" + (f", page {r['citation_page']}" if r["citation_page"] else "")
        kind, key, fields = citation_fields(r["citation"])
        parts.append(bibtex(key or f"reported-{rid}", [*fields, ("note", where), ("url", r["citation_url"])], kind))
    parts.append(Safe("<h2>Compression</h2>"))
    if not steps:
        parts.append(Safe("<p>None: the uncompressed baseline.</p>"))
    else:
        held = any(x.get("in_checkpoint") for x in steps)
        if held and r["n_steps"] == 0:
            parts.append(Safe("<p>None applied by this run: the checkpoint as distributed, which arrived with the "
                              "step below.</p>"))
        parts.append(table(["#", "Method", "Criterion / scheme", "Scope", "Granularity", "Sparsity", "All fields", "Calibration",
                            *(["Done by"] if held else [])],
                           [[x["step_index"], x["method"], x["criterion"] or x["scheme"], x["scope"], x["granularity"],
                             _pct(x["sparsity"]), _fields(x.get("notation")), _calibration(x.get("calibration")),
                             *([("the checkpoint, as distributed" if x.get("in_checkpoint") else "this run")] if held else [])]
                            for x in steps]))
    if r.get("derived_by"):
        base = r.get("base_model_id")
        parts.append(Safe("<h2>Lineage</h2>"))
        if r["n_steps"]:
            kept = "relative to this checkpoint as distributed (its run with no step applied), not to the base model"
        elif baseline and baseline != rid:
            kept = "relative to the base model's own baseline"
        else:
            kept = ("none: this is the checkpoint as distributed, and no run of its base model here matches it"
                    if base else None)
        parts.append(dl([("derived from", base or "not stated"),
                         ("how", r["derived_by"]),
                         ("steps the checkpoint already had", r.get("steps_in_checkpoint")),
                         ("as distributed", r.get("checkpoint_label")),
                         ("weights per tensor type", lineage.tensor_mix(r.get("tensor_types"))),
                         ("knowledge kept", kept)]))
    parts.append(Safe("<h2>Measured</h2>"))
    stored = r.get("stored_bits_per_weight")
    size = f"{r['stored_bytes']:,} bytes; " if r.get("stored_bytes") else ""
    parts.append(dl([("bits per weight", f"{stored:.2f} as stored ({size}over all weights, embeddings included)" if stored else
                      f"{r['bits_per_weight']:.2f} (over all weights, embeddings included)" if r["bits_per_weight"] else None),
                     ("weights in memory", (f"{r['weight_bytes']:,} bytes" if r["weight_bytes"] else "")
                      + (f" ({r['bits_per_weight']:.2f} bits per weight while evaluated"
                         + (", dequantized" if r.get("kernels") == "simulated" else "") + ")"
                         if stored and r["bits_per_weight"] else "") or None),
                     ("evaluated on", KERNELS.get(r.get("kernels"))),
                     ("peak memory", f"{r['peak_memory_bytes']:,} bytes" if r["peak_memory_bytes"] else None),
                     ("compression time", f"{r['compress_seconds']} s" if r["compress_seconds"] is not None else None),
                     ("evaluation time", f"{r['eval_seconds']} s" if r["eval_seconds"] is not None else None),
                     ("throughput", f"{r['throughput']} {r['throughput_unit']}" if r["throughput"] else None),
                     *[(f"sparsity of {x['scope']}" + (" (all Linear layers)" if x["scope"] == "all" else ""),
                        f"{100 * x['sparsity']:.2f}%") for x in sparsity]]))
    parts.append(Safe("<h2>Provenance</h2>"))
    parts.append(dl([("run_id", rid), ("model revision", r["model_revision"] or "not recorded"),
                     ("architecture", r["architecture"]),
                     ("evaluation data sha256", r["eval_data_sha256"]), ("evaluation settings", r["eval_settings"]),
                     ("runner", r["runner_version"]), ("git", r["git_sha"]), ("device", r["device"]), ("dtype", r["dtype"]),
                     ("batch size", r["batch_size"]), ("seed", r["seed"]), ("python", r["python"]),
                     ("platform", r["platform"]), ("libraries", r["libraries"]),
                     ("started", r["started_at"].isoformat() if r["started_at"] else None),
                     ("finished", r["finished_at"].isoformat() if r["finished_at"] else None),
                     ("run file", f"runs/{r['path']}"), ("notes", r["notes"])]))
    if r["command"]:
        parts += [Safe("<h2>Reproduce</h2>"), code(r["command"])]
    return "\n".join(str(p) for p in parts)


def build(site: Site, h: pl.DataFrame) -> None:
    """Run pages: MkDocs renders one shell page (the site's chrome at the depth of runs/); every run
    page is that shell with its own title and body, written after MkDocs (10,000 pages in seconds)."""
    t = queries.run_tables(site.con)
    res = _grouped(t.results)
    steps = _grouped(t.steps)
    sparsity = _grouped(t.sparsity)
    rels = _grouped(t.relations)
    forgot = _grouped(t.forgotten)
    baselines = dict(zip(h["run_id"].to_list(), h["baseline_run_id"].to_list(), strict=True))
    superseded = {r["run_id"]: r for r in t.superseded.iter_rows(named=True)}
    site.run_pages = {}
    for r in t.runs.iter_rows(named=True):
        rid = r["run_id"]
        site.run_pages[rid] = (run_title(r), run_body(r, res.get(rid, []), steps.get(rid, []), sparsity.get(rid, []),
                                                      rels.get(rid, []), forgot.get(rid, []), baselines.get(rid),
                                                      superseded.get(rid)))
    site.pages[RUN_SHELL] = (f"---\ntitle: {RUN_TITLE_MARKER}\nhide:\n  - navigation\n  - toc\nsearch:\n  exclude: true\n---\n\n"
                             f"<!-- {PAGE_STATUS} -->\n"
                             f"# {RUN_TITLE_MARKER}\n\n{RUN_BODY_MARKER}\n")
