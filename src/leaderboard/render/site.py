"""The site being generated (its pages, snippets, charts and data files) and the status banners its pages carry."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

import duckdb
import polars as pl

from ..fsutil import replace_if_changed
from ..parallel import cpu_count
from . import charts
from .html import Safe, esc, md_text, script_json
from .mkdocs_hook import AFTER, AFTER_TEXT

AFTER_PREFIX = "after-"  # snippets put into the page after MkDocs rendered it (mkdocs_hook.on_post_page)
SEARCH_PREFIX = "search-"  # what the site search reads in place of such a snippet (mkdocs_hook.on_page_content)
RUN_LIST = '<ul class="lb-every-run">'  # opens a model page's list of every run (pages/models.py)
# what is put back after MkDocs: charts' specs (site.chart), boards' tables with their style (tables.board) and a model
# page's list of every run, which the site search reads as searched_as() makes it
DEFERRED = re.compile(r'<script type="application/json" class="lb-spec">[^<]*</script>'
                      r'|<style>[^<]*</style><div class="lb-table-wrap lb-board-wrap" data-search-exclude>'
                      r"<table .*?</tbody></table></div>"
                      rf"|{re.escape(RUN_LIST)}.*?</ul>", re.S)
LINK_TAG = re.compile(r"</?a\b[^>]*>")


def searched_as(html: str) -> str | None:
    """What the site search is to read of a deferred block: nothing of a chart's spec or a board (a script, a
    data-search-exclude table); a run list without its links and its class, which the search index drops anyway (its
    parser keeps a list's items and their text, never a link or an attribute), so the index is the same for a fraction
    of the tags to parse (issue 22, scale: the model pages' run lists were 3 s of MkDocs at 100,000 runs)."""
    if not html.startswith(RUN_LIST):
        return None
    return "<ul>" + LINK_TAG.sub("", html[len(RUN_LIST):])


@dataclass
class Site:
    out: Path  # the generated folder (pages, charts, snippets)
    con: duckdb.DuckDBPyConnection
    pages: dict[str, str] = field(default_factory=dict)  # path -> markdown
    snippets: dict[str, str] = field(default_factory=dict)
    run_todo: list[str] = field(default_factory=list)  # the runs whose page is to render (pages/runs.py)
    colours: charts.Colours | None = None
    data: dict[str, object] = field(default_factory=dict)  # path under generated/ -> JSON for the compare page
    memo: dict[str, object] = field(default_factory=dict)  # what a page kind computes once for all its pages
    # run pages rendered incrementally (pages/runs.py): each run's page key, the keys of the pages published last time
    # (None: render every run page), the code that renders them (a hash) and each run's baseline
    run_keys: dict[str, str] = field(default_factory=dict)
    previous_run_keys: dict[str, str] | None = None
    code_version: str = ""
    run_baselines: dict[str, str | None] = field(default_factory=dict)
    # files under ``out`` this build wrote or found unchanged, in the order they were (a dict: an ordered set)
    written: dict[str, None] = field(default_factory=dict)
    # pages kept from the previous build (Site.memoised): per page kind, each page's key and the files it made, as the
    # previous render left them (page_memo) and as this one leaves them (memo_next, written at the end of the render)
    page_memo: dict[str, dict] = field(default_factory=dict)
    memo_next: dict[str, dict] = field(default_factory=dict)
    kept_pages: int = 0
    board_cells: dict = field(default_factory=dict)  # tables.board(shared=...): cells made once a build
    cell_memo_previous: dict[str, list] = field(default_factory=dict)  # each run's cells as the last build made them
    row_memo_previous: dict[str, list] = field(default_factory=dict)  # each row's cells as the last build made them
    compare_memo_previous: dict[str, list] = field(default_factory=dict)  # compare's rows as the last build made them
    memos_read: object = None  # a Future of the three above, read while the headline query runs (build.render)
    db: Path | None = None  # the store ``con`` reads (read-only), for work done in other processes
    _run_files: dict[str, tuple[str, str]] | None = None  # run_files(), once read

    def run_files(self) -> dict[str, tuple[str, str]]:
        """Each run's file, run_id -> (path, sha256) (queries.run_file_shas), read once a build: the run pages' keys and
        compare's memo keys both need it (0.2 s each at 100,000 runs)."""
        if self._run_files is None:
            from . import queries

            self._run_files = queries.run_file_shas(self.con)
        return self._run_files

    def _sizes(self) -> tuple[int, int, int, int]:
        return len(self.pages), len(self.snippets), len(self.data), len(self.written)

    def made_since(self, sizes: tuple[int, int, int, int]) -> set[str]:
        """The generated files (pages, snippets, data, charts, as paths under ``out``) added since the collections had
        the sizes ``sizes`` (_sizes()) and made by nothing before. Each collection keeps its order of insertion, so what
        was added since is its tail (issue 22, scale: the union of every file made so far, taken twice for each of 700
        pages and subtracted, was a second of a 100,000-run build)."""
        tails = [list(islice(c, n, None)) for c, n in zip((self.pages, self.snippets, self.data, self.written), sizes,
                                                          strict=True)]
        added = [set(tails[0]), {f"_snippets/{n}.html" for n in tails[1]}, set(tails[2]), set(tails[3])]

        def before(rel: str) -> bool:
            snippet = rel[len("_snippets/"):-len(".html")] if rel.startswith("_snippets/") and rel.endswith(".html") else None
            return ((rel in self.pages and rel not in added[0])
                    or (snippet is not None and snippet in self.snippets and rel not in added[1])
                    or (rel in self.data and rel not in added[2]) or (rel in self.written and rel not in added[3]))

        return {rel for group in added for rel in group if not before(rel)}

    def keep(self, files: list[str]) -> None:
        """Files of the generated folder that the previous build made and this one would make again, byte for byte."""
        self.written.update(dict.fromkeys(files))
        self.kept_pages += sum(1 for f in files if f.endswith(".md"))

    def memoised(self, kind: str, name: str, inputs: list, make, *args) -> bool:
        """Make one page (``make(*args)``: everything it adds to this site) unless the previous build made it from the same
        ``inputs`` (with this code: Site.code_version) and its files are still in the generated folder: then they are
        kept as they are. Returns True when the page was kept. The inputs must be everything the page is made from (a
        frame as frame_hash() of it): a page kept from stale inputs would be wrong (tests/test_incremental_build.py
        compares a rebuild with a fresh build, byte for byte). Issue 22, scale: a rebuild after adding ten runs of one
        model makes the pages they are on, not every family's and method's."""
        key = digest([self.code_version, *inputs])
        hit = (self.page_memo.get(kind) or {}).get(name)
        now = self.memo_next.setdefault(kind, {})
        if isinstance(hit, dict) and hit.get("key") == key and isinstance(hit.get("files"), list) \
                and all(isinstance(f, str) and (self.out / f).is_file() for f in hit["files"]):
            self.keep(hit["files"])
            now[name] = hit
            return True
        sizes = self._sizes()
        make(*args)
        files = self.made_since(sizes)
        # a deferred block another page made too (the same bytes: the same snippet file) is this page's as well
        for rel in [f for f in files if f in self.pages]:
            for k in AFTER.findall(self.pages[rel]):
                files.update(f"_snippets/{p}{k}.html" for p in (AFTER_PREFIX, SEARCH_PREFIX) if f"{p}{k}" in self.snippets)
        now[name] = {"key": key, "files": sorted(files)}
        return False

    def write(self, rel: str, data: bytes | str) -> None:
        """A file of the generated folder, written only when its bytes changed (fsutil.replace_if_changed: a changed
        file gets a new inode, so the published site's hard link to the old one keeps its bytes)."""
        path = self.out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        replace_if_changed(path, data.encode("utf-8") if isinstance(data, str) else data)
        self.written[rel] = None

    def page(self, path: str, title: str, *parts: str, rows: pl.DataFrame | None = None) -> None:
        """Data pages use the full width: no side navigation, no table of contents. ``rows``: the results the page
        shows; its status banner says what they are (reproduced, reported, toy, synthetic) instead of the site's."""
        banner = page_status(rows) if rows is not None else ""
        # the title in the front matter too: MkDocs takes a page's title from a first-line heading only, and the banner
        # comes first (without it, the browser tab read the file name)
        text = (f"---\ntitle: {json.dumps(title)}\nhide:\n  - navigation\n  - toc\n---\n\n" + banner
                + f"# {md_text(title)}\n" + "".join(parts))
        self.pages[path] = DEFERRED.sub(self._defer, text)

    def _defer(self, m: re.Match) -> str:
        """A chart's Vega-Lite spec, a board's table or a run list: MkDocs gets a placeholder (Markdown's HTML scanner and
        the search plugin's parser read none: a spec is a script, a board is data-search-exclude, a run list is read
        by the search as searched_as() makes it) and the hook puts the HTML back in the finished page, byte for byte
        (mkdocs_hook.on_page_content, on_post_page; issue 22, scale)."""
        key = hashlib.sha256(m.group(0).encode("utf-8")).hexdigest()[:32]
        self.snippets[f"{AFTER_PREFIX}{key}"] = m.group(0)
        searched = searched_as(m.group(0))
        if searched is not None:
            self.snippets[f"{SEARCH_PREFIX}{key}"] = searched
        return AFTER_TEXT.format(key)

    cache: Path | None = None
    # each chart's SVG file under ``out`` -> its Vega-Lite spec, converted and written by finish_charts()
    svg_specs: dict[str, dict] = field(default_factory=dict)
    # charts not in the SVG cache, in the order made; from CHART_WORKERS_FROM of them on they are converted by worker
    # processes while the pages are still being built (svg_pool; svg_futures: each chart's conversion)
    svg_todo: list[str] = field(default_factory=list)
    svg_pool: object = None
    svg_futures: dict[str, object] = field(default_factory=dict)
    svg_workers: int | None = None  # worker processes for the conversions (None: one a core; fewer than 2: none)
    svg_cached: dict[str, Path] = field(default_factory=dict)  # charts the SVG cache holds: their file there
    # a worker process of the build's that has time to spare (the downloads' one: pages/downloads.py), which converts
    # the first charts, before there are CHART_WORKERS_FROM of them (those of a rebuild: none of its own to start)
    svg_helper: object = None

    def chart(self, chart, name: str, title: str, depth: int, description: str) -> Safe:
        """The static SVG (for readers without JavaScript, and the SVG link) and the Vega-Lite spec; the Vega
        bundle is loaded by the pages that have a chart, and only by them. The SVG is converted (_convert) and written
        by finish_charts(); it counts as made from here on (a model page's memo lists it)."""
        spec = charts.spec_of(chart)
        svg = f"{name}.svg"
        self.svg_specs[f"charts/{svg}"] = spec
        self._convert(f"charts/{svg}", spec)
        self.written[f"charts/{svg}"] = None
        prefix = "../" * depth
        return Safe(
            f'<figure class="lb-chart" id="chart-{esc(name)}" data-label="{esc(title)}. {esc(description)}">'
            f'<img src="{prefix}charts/{esc(svg)}" alt="{esc(title)}. {esc(description)}" loading="lazy">'
            f'<script type="application/json" class="lb-spec">{script_json(spec)}</script>'
            f'<figcaption>{esc(title)}. {esc(description)} · <a href="{prefix}charts/{esc(svg)}">SVG</a></figcaption>'
            f'</figure><script type="module" src="{prefix}assets/vega/vega-bundle.js"></script>'
            f'<script type="module" src="{prefix}assets/charts.js"></script>')

    def _convert(self, rel: str, spec: dict) -> None:
        """A chart the SVG cache does not hold is to convert: once CHART_WORKERS_FROM of them are waiting, worker
        processes start (one vl-convert runtime each: it converts one chart at a time) and convert them, and every
        later one, while this process goes on building pages. Fewer are converted by finish_charts, here. Issue 22,
        scale: a fresh build at 100,000 runs converts ~350 charts; converted after the pages, the build waited for
        them with a core idle while it built the pages (render 78.1 -> 68.3 s back to back, the same CPU seconds)."""
        path = charts._cache_entry(spec, self.cache)[1]
        if path is not None and path.exists():
            self.svg_futures.pop(rel, None)
            self.svg_cached[rel] = path
            return
        self.svg_cached.pop(rel, None)
        if rel not in self.svg_todo:
            self.svg_todo.append(rel)
        cache = str(self.cache) if self.cache is not None else None
        if self.svg_pool is None:
            workers = cpu_count() if self.svg_workers is None else self.svg_workers
            if len(self.svg_todo) < CHART_WORKERS_FROM or workers < 2:
                if self.svg_helper is not None:  # (converted on the other core while the pages are built: issue 22)
                    self.svg_futures[rel] = self.svg_helper.submit(charts.svg_job, (spec, cache))
                return
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor

            self.svg_pool = ProcessPoolExecutor(min(workers, 8), mp_context=mp.get_context("spawn"))
            todo = [r for r in self.svg_todo if r not in self.svg_futures]  # (not those the helper converts)
        else:
            todo = [rel]
        for r in todo:
            self.svg_futures[r] = self.svg_pool.submit(charts.svg_job, (self.svg_specs[r], cache))

    def finish_charts(self) -> None:
        """Write every chart's SVG: from the cache where it was converted before, from the workers that converted it
        (_convert), the others converted here."""
        try:
            cache = self.cache
            for rel, spec in self.svg_specs.items():
                future, hit = self.svg_futures.get(rel), self.svg_cached.get(rel)
                if future is not None:
                    self.write(rel, future.result())
                elif hit is not None and hit.is_file():
                    self.write(rel, hit.read_text(encoding="utf-8"))
                else:
                    self.write(rel, charts.to_svg(spec, cache))
        finally:
            self.close_charts()
        self.svg_specs.clear()
        self.svg_todo.clear()
        self.svg_cached.clear()

    def close_charts(self) -> None:
        """Stop the conversion workers, if any (conversions not started yet are cancelled)."""
        if self.svg_pool is not None:
            self.svg_pool.shutdown(wait=True, cancel_futures=True)
            self.svg_pool = None
        self.svg_futures.clear()


CHART_WORKERS_FROM = 24  # charts to convert from which worker processes pay (a worker starts in ~2 s)


def frame_hash(df: pl.DataFrame) -> str:
    """What a frame holds, as a hash (the same rows and columns give the same hash with the same polars version)."""
    head = f"{pl.__version__}|{df.height}|{list(df.schema.items())}".encode()
    return hashlib.sha256(head + df.hash_rows(seed=0).to_numpy().tobytes()).hexdigest()[:32] if df.width else \
        hashlib.sha256(head).hexdigest()[:32]


def digest(parts: object) -> str:
    """A page's key: a hash of what it is made from (as JSON, keys sorted, anything else as its text)."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode("utf-8")).hexdigest()[:32]


def status_banner(h: pl.DataFrame, main: pl.DataFrame | None = None) -> str:
    """A banner on every page when the site is built (partly) from synthetic or reported-only data, or when its
    main pages show toy models (a build with no real model; otherwise toy models are on the demo page only)."""
    notes = []
    kinds = set(h["source_kind"].to_list())
    if "synthetic" in kinds:
        n = h.filter(pl.col("source_kind") == "synthetic").height
        notes.append(f"{'All' if kinds == {'synthetic'} else f'{n:,}'} results on this site are <strong>synthetic</strong> "
                     "(made by <code>leaderboard synthetic</code> for tests and benchmarks): they are not measurements.")
    shown = h if main is None else main
    if shown["toy"].fill_null(False).any():
        notes.append("Some models are <strong>toy</strong> models (tiny demonstration models trained on LAMA facts): "
                     "their numbers show the method, not the behaviour of real models.")
    if kinds == {"reported"}:
        notes.append("Every result is <strong>reported</strong> (copied from papers), none reproduced by this runner.")
    if not notes:
        return ""
    return ('<div class="lb-banner" role="note" data-search-exclude markdown="0"><strong>Status:</strong> ' + " ".join(notes)
            + "</div>\n\n")


PAGE_STATUS = "data-page-status"  # the MkDocs hook leaves the site-wide banner off a page that has its own


def _status_div(text: str) -> str:
    return (f'<div class="lb-banner lb-page-status" role="note" {PAGE_STATUS} data-search-exclude markdown="0">'
            f"<strong>Status:</strong> {text}</div>\n\n")


def page_status(rows: pl.DataFrame) -> str:
    """What this page holds: how many of its results are reproduced here on real models, reported in papers, of toy
    models, synthetic (each marked in the tables)."""
    if rows.is_empty():
        return ""  # nothing of its own to describe: the site-wide banner (if any) stands
    toy = rows["toy"].fill_null(False)
    kind = rows["source_kind"]
    n = {"reproduced": int(((kind == "reproduced") & ~toy).sum()), "reported": int((kind == "reported").sum()),
         "toy": int(((kind != "synthetic") & toy).sum()), "synthetic": int((kind == "synthetic").sum())}
    what = {"reproduced": "reproduced by this runner on real models",
            "reported": "<strong>reported</strong> (copied from papers, never mixed with ours)",
            "toy": "of <strong>toy</strong> models (tiny demonstration models: they show the method, not real models)",
            "synthetic": "<strong>synthetic</strong> (made by <code>leaderboard synthetic</code>): not measurements"}
    parts = [f"{v:,} {what[k]}" for k, v in n.items() if v]
    total = rows.height
    return _status_div(f"this page holds {total:,} result{'s' if total != 1 else ''}: " + "; ".join(parts) + ".")
