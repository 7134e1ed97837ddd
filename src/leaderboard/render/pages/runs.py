"""Run pages: one compact page per run file, written after MkDocs around one shell page."""

from __future__ import annotations

import hashlib
import json
import re

import orjson
import polars as pl

from ... import jsontext, registry
from ...schema import model_slug
from .. import lineage, metrics, queries
from ..fmt import fmt, pct
from ..site import PAGE_STATUS, Site, digest


def _pct(x: float | None) -> str | None:
    return None if x is None else pct(x, 1)


def _num(x: float | None, digits: int = 3) -> str | None:
    return None if x is None else fmt(x, digits)


def _cell(v: object) -> object:
    """A table cell or definition as the run page's script shows it: None (a dash), a number, text or inlines."""
    if v is None or isinstance(v, (str, int, list)) and not isinstance(v, bool):
        return v
    if isinstance(v, float):
        return f"{v:.3f}"
    return str(v)


RUN_SHELL = "runs/_shell.md"
RUN_TITLE_MARKER = "lb-run-title"


def _grouped(df: pl.DataFrame) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for row in df.iter_rows(named=True):
        out.setdefault(row["run_id"], []).append(row)
    return out


def _interval(x: dict) -> object:
    if x.get("ci_low") is not None:
        return f"[{fmt(x['ci_low'], 4)}, {fmt(x['ci_high'], 4)}]"
    if x.get("stderr") is not None and x.get("value") is not None:  # the normal interval of a reported standard error
        lo, hi = x["value"] - metrics.Z * x["stderr"], x["value"] + metrics.Z * x["stderr"]
        return [f"[{fmt(lo, 4)}, {fmt(hi, 4)}] ", ["s", "± 1.96 SE"]]
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


def bibtex(key: str, fields: list[tuple[str, str | None]], kind: str = "misc") -> str:
    """A BibTeX entry; braces and backslashes in the values are dropped (they would end or escape the field)."""
    def clean(v: str) -> str:
        return re.sub(r"[{}\\]", "", v)

    body = ",\n".join(f"  {k} = {{{clean(v)}}}" for k, v in fields if v)
    return f"@{kind}{{{clean(key)},\n{body}\n}}"


# A run page is a list of blocks that the site's run-page script (site/assets/run-page.js) turns into HTML with
# text nodes only (no string from a run file is ever parsed as HTML); without JavaScript the page shows the blocks as
# its raw data. Blocks: ["h2", text], ["h3", text], ["p", class, inlines], ["table", class, headers, numeric columns,
# rows], ["dl", [[term, value], ...]], ["pre", text]. Inlines: text, or ["a", href, text], ["c", code],
# ["s", small code], ["b", strong text], ["badge", kind, text, title]. A cell or value: None (a dash), a number, text
# or a list of inlines.
Block = list


def _dl(items: list[tuple[str, object]]) -> Block:
    return ["dl", [[k, _cell(v)] for k, v in items]]


def _table(headers: list[str], rows: list[list[object]], numeric: set[int], cls: str = "lb-table") -> Block:
    return ["table", cls, headers, sorted(numeric), [[_cell(v) for v in row] for row in rows]]


def _status(r: dict) -> Block:
    """A run page's banner: what this one result is (the text of site.run_status, as inlines)."""
    if r["source_kind"] == "synthetic":
        text = ["this page holds a ", ["b", "synthetic"], " run (made by ", ["c", "leaderboard synthetic"],
                " for tests): not a measurement."]
    elif r["source_kind"] == "reported":
        text = ["this page holds a result ", ["b", "reported"], " in a paper, copied as printed (not reproduced by this runner)."]
    else:
        text = ["this page holds a result ", ["b", "reproduced"], " by this runner" + (" on a toy model" if r["toy"] else "") + "."]
    if r["toy"] and r["source_kind"] != "reproduced":
        text += [" Its model is a ", ["b", "toy"], " model."]
    return ["p", "lb-banner lb-page-status", [["b", "Status:"], " ", *text]]


def _errata_notes(r: dict, superseded_by: dict | None) -> list[Block]:
    """On a correction's page: what it corrects and why; on a superseded run's page: which run corrects it."""
    out = []
    if r.get("supersedes"):
        old = r["supersedes"]
        out.append(["p", "lb-correction", [["b", "Corrected."], " This run file corrects ", ["a", f"{old}.html", f"run {old}"],
                                           ", published before and kept as it was (run files are append-only): "
                                           + str(r.get("correction_reason"))]])
    if superseded_by:
        new = superseded_by["superseded_by"]
        out.append(["p", "lb-correction lb-superseded",
                    [["b", "Superseded."], " This run was corrected by ", ["a", f"{new}.html", f"run {new}"],
                     f": {superseded_by['reason']} It stays published for the record, but no leaderboard, chart or "
                     "knowledge-kept figure uses it."]])
    return out


def run_doc(r: dict, res: list[dict], steps: list[dict], sparsity: list[dict], rels: list[dict], forgot: list[dict],
            baseline: str | None = None, superseded_by: dict | None = None) -> list[Block]:
    """One run page's blocks (below its title). ``superseded_by``: the row of the ``superseded`` view when an erratum
    corrects this run."""
    rid = r["run_id"]
    links: list[object] = [["a", "../models/" + model_slug(r["model_id"]) + ".html", r["model_id"]]]
    if baseline and baseline != rid:
        links.append(["a", f"{baseline}.html", "its baseline (the checkpoint as distributed)"
                      if r.get("checkpoint_label") and r["n_steps"] else "its uncompressed baseline"])
    links.append(["a", f"@repo/runs/{r['path']}", "run file (JSON)"])
    head: list[object] = [["badge", r["source_kind"], r["source_kind"], None]]
    if r["toy"]:
        head.append(["badge", "toy", "toy", None])
    if r.get("supersedes"):
        head.append(["badge", "corrected", "corrected", f"corrected: {r.get('correction_reason')}"])
    if superseded_by:
        head.append(["badge", "superseded", "superseded", None])
    line: list[object] = []
    for x in head:
        line += [x, " "]
    line += [f"{metrics.task_name(r['eval_task'])} · run ", ["c", rid]]
    for x in links:
        line += [" · ", x]
    doc: list[Block] = [_status(r), ["p", "", line], *_errata_notes(r, superseded_by)]
    note = lineage.lineage_note(r)
    if note:
        doc.append(["p", "lb-lineage-note", [note]])
    if r["toy"]:
        doc.append(["p", "lb-banner lb-demo-banner", [["b", "Toy model"], " (a tiny demonstration model trained on LAMA facts): "
                                                      "this run shows the method, not the behaviour of a real model (",
                                                      ["a", "../demo.html", "demo page"], ")."]])
    if r["git_sha"] and str(r["git_sha"]).endswith("-dirty"):
        doc.append(["p", "lb-warning", ["The runner's checkout had uncommitted changes (git sha ends in -dirty): the code "
                                        "that made this run is not exactly the commit named below."]])
    if r["source_kind"] == "synthetic":
        doc.append(["p", "lb-warning", ["Synthetic run, made for tests and benchmarks: not a measurement."]])
    broken = {x["task"]: (x["task_nonfinite"], x["task_n"]) for x in res if x.get("task_nonfinite")}
    for task, (bad, n) in sorted(broken.items()):
        doc.append(["p", "lb-warning lb-nonfinite", [f"Model output is not finite: {task} had non-finite scores (NaN or "
                                                     f"infinite) on {bad:,} of {n:,} examples. They count as wrong, never as "
                                                     "right; the model is broken, not merely compressed."]])
    doc.append(["h2", "Results"])
    doc.append(_table(["Task", "Metric", "Value", "Scale", "Std. error", "95% interval", "n", "Excluded"],
                      [[[metrics.task_name(x["task"]) + " ", ["s", x["task"]]],
                        [_metric_label(x["metric"]) + " ", ["s", x["metric"]]],
                        _num(x["value"], 4), x["scale"], _num(x.get("stderr"), 4), _interval(x), x["n"], x["task_excluded"]]
                       for x in res], {2, 4, 6, 7}, "lb-table lb-cards lb-title-first"))
    if forgot:
        doc.append(["h3", "Facts forgotten"])
        doc.append(_table(["Task", "Facts forgotten", "Newly right", "Kept", "Compared with the baseline"],
                          [[metrics.task_name(x["task"]), x["forgotten"], x["learned"], x["kept"], x["compared"]] for x in forgot],
                          {1, 2, 3, 4}, "lb-table lb-cards lb-title-first"))
    if rels:
        doc.append(["h2", "Per relation (P@1)"])
        doc.append(_table(["Relation", "P@1", "95% interval", "n", "Excluded"],
                          [[metrics.relation_label(x["relation"]), _num(x["value"], 4), _interval(x), x["n"], x["excluded"]]
                           for x in rels], {1, 3, 4}, "lb-table lb-cards lb-title-first"))
    if r["source_kind"] == "reported":
        doc += [["h2", "Source"], _dl([("citation", r["citation"]), ("table", r["citation_table"]),
                                       ("page", r["citation_page"])])]
        if r["citation_url"]:
            doc.append(["p", "", [["a", r["citation_url"], r["citation_url"]]]])
        doc.append(["h3", "Cite"])
        where = f"{r['citation_table']}" + (f", page {r['citation_page']}" if r["citation_page"] else "")
        kind, key, fields = citation_fields(r["citation"])
        doc.append(["pre", bibtex(key or f"reported-{rid}", [*fields, ("note", where), ("url", r["citation_url"])], kind)])
    doc.append(["h2", "Compression"])
    if not steps:
        doc.append(["p", "", ["None: the uncompressed baseline."]])
    else:
        held = any(x.get("in_checkpoint") for x in steps)
        if held and r["n_steps"] == 0:
            doc.append(["p", "", ["None applied by this run: the checkpoint as distributed, which arrived with the step below."]])
        doc.append(_table(["#", "Method", "Criterion / scheme", "Scope", "Granularity", "Sparsity", "All fields", "Calibration",
                           *(["Done by"] if held else [])],
                          [[x["step_index"], x["method"], x["criterion"] or x["scheme"], x["scope"], x["granularity"],
                            _pct(x["sparsity"]), _fields(x.get("notation")), _calibration(x.get("calibration")),
                            *([("the checkpoint, as distributed" if x.get("in_checkpoint") else "this run")] if held else [])]
                           for x in steps], set(), "lb-table lb-cards"))
    if r.get("derived_by"):
        base = r.get("base_model_id")
        doc.append(["h2", "Lineage"])
        if r["n_steps"]:
            kept = "relative to this checkpoint as distributed (its run with no step applied), not to the base model"
        elif baseline and baseline != rid:
            kept = "relative to the base model's own baseline"
        else:
            kept = ("none: this is the checkpoint as distributed, and no run of its base model here matches it"
                    if base else None)
        doc.append(_dl([("derived from", base or "not stated"),
                        ("how", r["derived_by"]),
                        ("steps the checkpoint already had", r.get("steps_in_checkpoint")),
                        ("as distributed", r.get("checkpoint_label")),
                        ("weights per tensor type", lineage.tensor_mix(r.get("tensor_types"))),
                        ("knowledge kept", kept)]))
    doc.append(["h2", "Measured"])
    stored = r.get("stored_bits_per_weight")
    size = f"{r['stored_bytes']:,} bytes; " if r.get("stored_bytes") else ""
    doc.append(_dl([("bits per weight", f"{stored:.2f} as stored ({size}over all weights, embeddings included)" if stored else
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
    doc.append(["h2", "Provenance"])
    doc.append(_dl([("run_id", rid), ("model revision", r["model_revision"] or "not recorded"),
                    ("architecture", r["architecture"]),
                    ("evaluation data sha256", r["eval_data_sha256"]), ("evaluation settings", r["eval_settings"]),
                    ("runner", r["runner_version"]), ("git", r["git_sha"]), ("device", r["device"]), ("dtype", r["dtype"]),
                    ("batch size", r["batch_size"]), ("seed", r["seed"]), ("python", r["python"]),
                    ("platform", r["platform"]), ("libraries", r["libraries"]),
                    ("started", r["started_at"].isoformat() if r["started_at"] else None),
                    ("finished", r["finished_at"].isoformat() if r["finished_at"] else None),
                    ("run file", f"runs/{r['path']}"), ("notes", r["notes"])]))
    if r["command"]:
        doc += [["h2", "Reproduce"], ["pre", r["command"]]]
    return doc


def page_keys(con, baselines: dict[str, str | None], code: str,
              files: dict[str, tuple[str, str]] | None = None) -> dict[str, str]:
    """What each run page is made from, as one hash per run: the code that renders it (``code``), the run file's path
    and bytes, its baseline's id and bytes (the facts forgotten compare the two), and the erratum that supersedes it,
    if any. Equal keys give equal pages, so an incremental build renders only the runs whose key changed. ``files``:
    queries.run_file_shas of ``con``, where the caller has it (Site.run_files)."""
    files = queries.run_file_shas(con) if files is None else files
    superseded = {r["run_id"]: r for r in queries.superseded_rows(con).iter_rows(named=True)}
    keys = {}
    for rid, (path, sha) in files.items():
        base = baselines.get(rid)
        parts = [code, path, sha, base, files.get(base, (None, None))[1] if base else None]
        erratum = superseded.get(rid)
        # most runs are superseded by none: their parts are texts, hashed as orjson writes them (json.dumps for each of
        # 100,000 runs was half a second of every rebuild); an erratum's row (dates among its values) through digest
        keys[rid] = (hashlib.sha256(orjson.dumps(parts)).hexdigest()[:32] if erratum is None
                     else digest([*parts, erratum]))
    return keys


def run_docs(con, baselines: dict[str, str | None], ids: list[str] | None = None) -> dict[str, tuple[str, str]]:
    """Each run's page as (title, its blocks as JSON), for every run or only the runs ``ids``."""
    t = queries.run_tables(con, ids)
    res = _grouped(t.results)
    steps = _grouped(t.steps)
    sparsity = _grouped(t.sparsity)
    rels = _grouped(t.relations)
    forgot = _grouped(t.forgotten)
    superseded = {r["run_id"]: r for r in t.superseded.iter_rows(named=True)}
    out = {}
    for r in t.runs.iter_rows(named=True):
        rid = r["run_id"]
        doc = run_doc(r, res.get(rid, []), steps.get(rid, []), sparsity.get(rid, []), rels.get(rid, []),
                      forgot.get(rid, []), baselines.get(rid), superseded.get(rid))
        out[rid] = (run_title(r), jsontext.dumps(doc, sort_keys=False))
    return out


def build(site: Site, h: pl.DataFrame) -> None:
    """Run pages: MkDocs renders one shell page (the site's head at the depth of runs/); every run page is a small
    page with that head, its title and its blocks (run_doc) as JSON, rendered and written after MkDocs
    (build.write_run_pages). With the keys of the pages already published (``site.previous_run_keys``), only the runs
    whose key changed are to render (``site.run_todo``); the others are carried over from the published site."""
    site.run_baselines = dict(zip(h["run_id"].to_list(), h["baseline_run_id"].to_list(), strict=True))
    site.run_keys = page_keys(site.con, site.run_baselines, site.code_version, site.run_files())
    previous = site.previous_run_keys
    site.run_todo = sorted(rid for rid, k in site.run_keys.items() if previous is None or previous.get(rid) != k)
    site.pages[RUN_SHELL] = (f"---\ntitle: {RUN_TITLE_MARKER}\nhide:\n  - navigation\n  - toc\nsearch:\n  exclude: true\n---\n\n"
                             f"<!-- {PAGE_STATUS} -->\n"
                             f"# {RUN_TITLE_MARKER}\n")
