"""`leaderboard build`: validate -> ingest -> render pages and charts -> mkdocs build --strict."""

from __future__ import annotations

import contextlib
import hashlib
import html
import json
import os
import re
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import orjson
import polars as pl

from .. import jsontext, registry
from ..fsutil import write_atomic
from ..gitutil import git_out
from ..parallel import cpu_count, gc_relaxed, pmap
from ..store import IngestError, ingest
from ..validate import json_files, seed_cache, stat_signature, validate_paths
from . import boardmemo, charts, metrics, queries, tables
from .boardmemo import BoardMemos
from .html import script_json
from .linkpages import link_all, link_tree
from .mkdocs_hook import DATA, DATA_LINKED, PAGE_CACHE
from .pages import board, compare, demo, downloads, families, home, indexes, methods, models, runs
from .pages.published import build_published
from .pages.runs import RUN_SHELL, RUN_TITLE_MARKER
from .selection import split_toy
from .site import Site, digest, status_banner

ROOT_MARKERS = ("mkdocs.yml",)
VEGA_BUNDLE = "assets/vega/vega-bundle.js"
# Timestamps MkDocs writes (sitemap, gzip headers) come from SOURCE_DATE_EPOCH: fixed, so the same runs
# give a byte-identical site.
FIXED_EPOCH = "1767225600"  # 2026-01-01T00:00:00Z


class BuildError(RuntimeError):
    def __init__(self, message: str, problems: list | None = None):
        super().__init__(message)
        self.problems = problems or []


@dataclass
class BuildReport:
    pages: int
    charts: int
    seconds: dict[str, float]
    out: Path
    cpu: dict[str, float] | None = None  # CPU seconds per phase, this process and its workers (a busy machine's wall
    # clock says little)
    mkdocs_pages: tuple[int, int] | None = None  # pages MkDocs rendered, of all it made (the others: mkdocs_hook.PageCache)


def vega_bundle(cache: Path) -> str:
    """Vega, Vega-Lite and vega-embed as one script (vl_convert's), made once a version into the work folder's cache
    (1.5-2.2 s; the downloads' worker makes it where there is one: downloads.export)."""
    import vl_convert as vlc

    version = getattr(vlc, "__version__", "unknown")
    cached = cache / f"vega-bundle-{version}.js"
    if not cached.exists():
        cache.mkdir(parents=True, exist_ok=True)
        write_atomic(cached, vlc.javascript_bundle().encode("utf-8"))  # (a killed build leaves no half of it)
    return cached.read_text(encoding="utf-8")


def build_pages(site: Site) -> bool:
    """Every data page, in order, from the store: the headline frame once, then each page kind. The downloads are
    exported on another core meanwhile (pages/downloads.py), from after the headline query (DuckDB's threads are busy
    during it: a worker started before it slowed it from 1.9 to 3.5 s at 100,000 runs). Returns whether the store's
    copy was made there too (else render() makes it)."""
    h = queries.headline(site.con)
    exporting = downloads.start(site)
    site.svg_helper = exporting.helper  # (its worker converts the first charts once the export is done)
    try:
        _build_pages(site, h, exporting)
        site.finish_charts()  # (before the worker stops: it may hold some of them)
    finally:
        site.svg_helper = None
        exporting.close()
    return exporting.copies_store


def _build_pages(site: Site, h: pl.DataFrame, exporting: downloads.Pending) -> None:
    if site.memos_read is not None:  # (render() reads them meanwhile)
        site.cell_memo_previous, site.row_memo_previous, site.compare_memo_previous = site.memos_read.result()
    site.colours = charts.Colours(tuple(sorted(set(h["method_name"].to_list()) | {metrics.BASELINE_NAME})))
    counts = queries.counts(site.con)
    main, toy = split_toy(h)
    site.snippets["_banner"] = status_banner(h, main)
    tables.rows_of(h, site.board_cells)  # every row once: each board takes its rows from these
    tables.remember_cells(site.board_cells, h, site.cell_memo_previous, site.row_memo_previous)
    home.build(site, h, counts)
    board.build(site, main, toy)
    demo.build(site, toy)
    fronts = queries.pareto_fronts(site.con)
    for fam in registry.FAMILIES:
        families.build(site, main, toy, fam, fronts)
    for method in sorted(h["method"].unique().to_list()):
        methods.build(site, main, toy, method)
    models.build_all(site, h)
    indexes.build(site, h, main, toy)
    runs.build(site, h)
    compare.build(site, h)
    downloads.build(site, exporting)
    build_published(site)  # papers' results, as printed (render/pages/published.py)


@dataclass
class Rendered:
    """What render() made: pages counted (run pages included), charts, and what the run pages need (pages/runs.py)."""
    pages: int
    charts: int
    run_todo: list[str]  # the runs whose page is to render (their key changed); the others may be carried over
    run_keys: dict[str, str]  # every run's page key (runs.page_keys)
    baselines: dict[str, str | None]  # each run's baseline (its page compares the two)
    db: Path
    data_files: int = 0  # files under data/ of the generated folder (put into the site by _put_data, not MkDocs)


def code_version() -> str:
    """A hash of the code that renders the site (this package's files: validate.validator_fingerprint; each registered
    evaluation suite's module; polars, which formats the numbers): a page rendered by other code is rendered again."""
    import inspect

    import polars

    from ..evaluate import registry as suites
    from ..validate import validator_fingerprint

    h = hashlib.sha256(f"{validator_fingerprint()}|{polars.__version__}".encode())
    for suite in suites.all_suites():
        with contextlib.suppress(TypeError, OSError):
            h.update(Path(inspect.getfile(type(suite))).read_bytes())
    return h.hexdigest()[:32]


def render(db: Path, generated: Path, cache: Path, changes: dict | None = None,
           previous_run_keys: dict[str, str] | None = None, info: dict[str, str] | None = None) -> Rendered:
    """Every generated page, data file and chart into ``generated``, which is updated in place: a file whose bytes
    did not change is left alone (a rebuild writes what changed; the site's hard links to it stay valid) and a file
    no longer made is removed. ``previous_run_keys``: the keys of the run pages already published (only the others
    are rendered). ``info``: the commit built (build_info; by default the checkout of the working folder)."""
    generated.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(db), read_only=True)
    site = Site(generated, con)
    try:
        site.db = db
        site.cache = cache / "svg"
        site.build_info = build_info(Path.cwd()) if info is None else info
        site.changes = changes or {}
        site.code_version = code_version()
        site.previous_run_keys = previous_run_keys
        memo = cache / PAGE_MEMO
        site.page_memo = _read_json(memo) or {}
        memo.unlink(missing_ok=True)  # stands for the generated folder only once it is complete again (below)
        board_memos = site.board_cells[tables.BOARD_MEMOS] = BoardMemos(cache / boardmemo.FOLDER, site.code_version)
        # the memos of the runs' cells, the rows' cells and compare's rows are read on a thread while the headline
        # query runs (DuckDB releases the GIL: 1.23 -> 0.91-1.02 s for both at 100,000 runs); build_pages waits for them
        with ThreadPoolExecutor(1) as reader:
            site.memos_read = reader.submit(_read_memos, cache, site.code_version)
            copied = build_pages(site)
        copy_key = None if copied else downloads.store_key(con, site.code_version)
    finally:
        site.close_charts()
        con.close()
    for rel, obj in site.data.items():
        site.write(rel, jsontext.dumps(obj))
    for rel, text in site.pages.items():
        site.write(rel, text)
    for name, text in site.snippets.items():
        site.write(f"_snippets/{name}.html", text)
    site.write(VEGA_BUNDLE, vega_bundle(cache))
    if copy_key is not None:  # (the downloads' worker made it otherwise)
        copy_store(db, generated / downloads.STORE_COPY, cache / downloads.STORE_COPY_KEY, copy_key)
    site.written[downloads.STORE_COPY] = None
    _remove_stale(generated, site.written)
    # the memos without fsync, as the generated files they describe (fsutil.replace_if_changed): 260 MB at 100,000 runs
    write_atomic(memo, orjson.dumps(site.memo_next, option=orjson.OPT_SORT_KEYS), sync=False)
    cells = site.board_cells.get(tables.CELL_MEMO)  # (this build's tables.CellMemo, for the next one)
    if cells is not None:
        write_atomic(cache / CELL_MEMO, orjson.dumps({"code": site.code_version, "cells": cells.cells}), sync=False)
        write_atomic(cache / ROW_MEMO, orjson.dumps({"code": site.code_version, "rows": cells.rows}), sync=False)
    board_memos.save()  # (the rows of each board made this time, for the next build)
    rows = site.board_cells.get(compare.ROW_MEMO)  # (this build's compare rows as JSON text, for the next one)
    if rows is not None:
        write_atomic(cache / COMPARE_MEMO, orjson.dumps({"code": site.code_version, "rows": rows}), sync=False)
    n_charts = sum(1 for rel in site.written if rel.startswith("charts/") and rel.endswith(".svg"))
    n_data = sum(1 for rel in site.written if rel.startswith(f"{DATA}/"))
    return Rendered(len(site.pages) + site.kept_pages - 1 + len(site.run_keys), n_charts, site.run_todo, site.run_keys,
                    site.run_baselines, db, n_data)


PAGE_MEMO = "page-memo.json"  # in the work folder's cache: Site.memo_next as the last render left it
CELL_MEMO = "board-cells.json"  # in the work folder's cache: the boards' cells of each run (tables.CellMemo)


def _read_memos(cache: Path, code: str) -> tuple[dict[str, list], dict[str, list], dict[str, list]]:
    """The previous build's memos of the runs' cells, the rows' cells and compare's rows (Site.*_memo_previous)."""
    return (_read_cells(cache / CELL_MEMO, code), _read_row_cells(cache / ROW_MEMO, code),
            _read_compare_rows(cache / COMPARE_MEMO, code))


def _read_cells(path: Path, code: str) -> dict[str, list]:
    """The boards' cells the last build made with this code (tables.CellMemo): {run id: [hash, text, ...]}."""
    return boardmemo.read_memo(path, code, "cells", lambda v: len(v) > 1 and type(v[0]) is int and all(type(x) is str for x in v[1:]))


ROW_MEMO = "board-rows.json"  # in the work folder's cache: each board row's opening tag, fixed and first cells (tables.CellMemo)


def _read_row_cells(path: Path, code: str) -> dict[str, list]:
    """The boards' row cells the last build made with this code (tables.CellMemo.rows): {name: [hash, tr, fixed cells,
    first cell's parts...]}."""
    return boardmemo.read_memo(path, code, "rows", lambda v: len(v) > 3 and type(v[0]) is int and all(type(x) is str for x in v[1:]))


COMPARE_MEMO = "compare-rows.json"  # in the work folder's cache: each compare row's key and JSON text (pages/compare.py)


def _read_compare_rows(path: Path, code: str) -> dict[str, list]:
    """The compare rows the last build made with this code (pages/compare.py): {row key: [key, JSON text]}."""
    return boardmemo.read_memo(path, code, "rows", lambda v: len(v) == 2 and all(type(x) is str for x in v))


def _read_json(path: Path) -> dict | None:
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, ValueError):  # (orjson.JSONDecodeError is a ValueError)
        return None
    return data if isinstance(data, dict) else None


def _remove_stale(root: Path, written: set[str]) -> None:
    """Remove what a previous build left in ``root`` that this one did not make (and folders left empty)."""
    for folder, _dirs, files in os.walk(root, topdown=False):
        here = Path(folder)
        for name in files:
            path = here / name
            if path.relative_to(root).as_posix() not in written:
                path.unlink()
        if here != root and not any(here.iterdir()):
            here.rmdir()


def _git(cwd: Path, *args: str) -> str | None:
    return git_out(list(args), cwd, timeout=60)


def build_info(root: Path) -> dict[str, str]:
    """Commit and commit date of the checkout the site is built from (not the wall clock: the same commit and runs
    give the same bytes)."""
    out = (_git(root, "log", "-1", "--format=%H %cI") or "").split()
    return {"commit": out[0][:12], "date": out[1][:10]} if len(out) == 2 else {}


EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"  # git's empty tree: "since the beginning"


def run_changes(runs: Path, since: str | None = None) -> dict:
    """Run files added since a commit, from git (so the same checkout gives the same page, never the wall clock).

    ``since``: the commit of the previous published build (CI passes the commit before the push); without it,
    the parent of the latest commit that changed ``runs``. Returns ``{}`` when ``runs`` is not in a git checkout;
    otherwise ``since`` (short sha), ``date``, ``added`` (paths relative to ``runs``, committed since) and
    ``uncommitted`` (run files not committed yet). A ``since`` git does not know is a BuildError."""
    runs = Path(runs).resolve()
    top = _git(runs, "rev-parse", "--show-toplevel")
    if top is None or _git(runs, "rev-parse", "--verify", "-q", "HEAD") is None:
        return {}
    top_path = Path(top.strip())
    rel = runs.relative_to(top_path.resolve()).as_posix()  # "." when runs is the checkout itself
    if since is not None:
        ref = _git(top_path, "rev-parse", "--verify", "-q", f"{since}^{{commit}}")
        if ref is None:
            raise BuildError(f"--since {since!r}: not a commit of this checkout (fetch its history, e.g. fetch-depth: 0)")
        base = ref.strip()
    else:
        last = (_git(top_path, "log", "-1", "--format=%H", "--", rel) or "").strip()
        if not last:
            base = EMPTY_TREE
        else:
            parent = _git(top_path, "rev-parse", "--verify", "-q", f"{last}^")
            base = parent.strip() if parent else EMPTY_TREE

    def names(out: str | None) -> list[str]:
        files = [f for f in (out or "").split("\0") if f.endswith(".json")]
        return sorted(Path(top_path, f).resolve().relative_to(runs).as_posix() for f in files)

    added = names(_git(top_path, "diff", "--name-only", "--no-renames", "--diff-filter=A", "-z", base, "HEAD", "--", rel))
    untracked = names(_git(top_path, "ls-files", "--others", "--exclude-standard", "-z", "--", rel))
    staged = names(_git(top_path, "diff", "--cached", "--name-only", "--no-renames", "--diff-filter=A", "-z", "--", rel))
    date = (_git(top_path, "log", "-1", "--format=%cI", base) or "").strip()[:10] if base != EMPTY_TREE else ""
    return {"since": base[:12] if base != EMPTY_TREE else "", "date": date, "added": added,
            "uncommitted": sorted(set(untracked) | set(staged))}


def _tabs(shell: str) -> list[tuple[str, str]]:
    """The site's sections (href, label) as MkDocs rendered them in the shell's tabs (mkdocs.yml's nav: one list)."""
    return [(html.unescape(h), re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", "", t))).strip())
            for h, t in re.findall(r'<a href="([^"]*)" class="md-tabs__link">(.*?)</a>', shell, re.S)]


RUN_SCRIPT = "page.js"  # runs/page.js: the site's sections and repository, then site/assets/run-page.js


def run_page_template(shell: str) -> tuple[str, str]:
    """A run page around its title and data (issue 22, scale: about 1 KB besides the run's own data): the site's
    stylesheets, canonical link and icon from the head MkDocs rendered for the shell, a one-line header and footer,
    and one script shared by every run page (runs/page.js: the palette the reader chose, the site's sections, the
    blocks turned into the page). Returns (before the title, after the data); the head holds the marker
    ``RUN_TITLE_MARKER`` (title) and the shell's file name (canonical link)."""
    head = shell[:shell.index("</head>")]
    keep = [m.group(0) for m in re.finditer(r'<link rel="(?:canonical|icon|stylesheet)"[^>]*>', head)]
    title = re.search(r"<title>.*?</title>", head, re.S)
    m = re.search(r'<body [^>]*>', shell)
    body_tag = m.group(0) if m else "<body>"
    home = next((h for h, _ in _tabs(shell)), "../index.html")
    site_name = re.search(r'<a href="[^"]*" title="([^"]*)" class="md-header__button md-logo"', shell)
    name = site_name.group(1) if site_name else "Home"
    before = ('<!doctype html>\n<html lang="en" class="no-js">\n<head>\n<meta charset="utf-8">\n'
              '<meta name="viewport" content="width=device-width,initial-scale=1">\n'
              + (title.group(0) if title else f"<title>{RUN_TITLE_MARKER}</title>") + "\n" + "\n".join(keep)
              + f'\n</head>\n{body_tag}\n<script src="{RUN_SCRIPT}"></script>\n'
              '<a href="#run-title" class="md-skip">Skip to content</a>\n'
              f'<header class="lb-mini-header"><a class="lb-mini-home" href="{html.escape(home)}">{name}</a>'
              '<nav aria-label="Site"></nav></header>\n'
              '<main class="md-main"><div class="md-main__inner md-grid"><div class="md-content" data-md-component="content">'
              '<article class="md-content__inner md-typeset">\n')
    after = (f'\n</article></div></div></main>\n<footer class="lb-mini-footer md-typeset"><a href="{html.escape(home)}">'
             f"{name}</a></footer>\n</body>\n</html>\n")
    return before, after


def run_page(before: str, after: str, shell_name: str, rid: str, title: str, data: str) -> str:
    """One run page: its title, and its blocks as JSON in a <pre> (the raw data without JavaScript; HTML-escaped, so
    no run file's text is ever markup)."""
    return (before.replace(RUN_TITLE_MARKER, html.escape(title)).replace(shell_name, f"{rid}.html")
            + f'<h1 id="run-title">{html.escape(title)}</h1>\n<pre class="lb-run-data">{html.escape(data, quote=False)}</pre>'
            + after)


@dataclass
class Published:
    """The run pages of the site a build replaces, as the last build left them (its manifest): a page whose key and
    template are unchanged is carried over (hard-linked) instead of rendered and written again."""
    site: Path
    template: str
    keys: dict[str, str]


PAGES_CACHE = "mkdocs-pages"  # in the work folder's cache: each page's rendering by MkDocs (mkdocs_hook.PageCache)
RUN_MANIFEST = "run-pages.json"  # in the work folder's cache: Published, as the last successful build left it


LINK_PROCESS_FROM = 5_000  # from this many run pages carried over, they are linked in a process of their own


class Linking:
    """What a build links into the site in a process of its own (linkpages.py) while MkDocs runs: the run pages it
    carries over from the published site, into a folder beside the staging folder, and the generated data files, into
    another (start_links). write_run_pages takes the pages (take) or drops them (drop); _put_data takes the data
    (take_data)."""

    def __init__(self, staging: Path, source: Path, ids: list[str], data: Path | None = None) -> None:
        import subprocess
        import sys

        from . import linkpages

        self.folder = Path(f"{staging}.runs")  # (a leftover of a killed build is removed with its staging folder)
        self.data_folder = Path(f"{staging}.data") if data is not None else None
        self.ids = ids
        self.done = False
        self.result: dict | None = None
        trees = [[str(data), str(self.data_folder)]] if data is not None else []
        job = json.dumps({"source": str(source), "target": str(self.folder), "names": [f"{rid}.html" for rid in ids],
                          "trees": trees})
        path = self.folder.with_name(f"{self.folder.name}.job")
        path.write_text(job, encoding="utf-8")
        self.job = path
        # the module's file, not -m: it must not depend on how this package is found (an API user's sys.path)
        try:
            self.proc = subprocess.Popen([sys.executable, linkpages.__file__, str(path)], stdout=subprocess.PIPE,
                                         stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        except OSError:  # no process started: nothing was linked, and its job is gone too
            path.unlink(missing_ok=True)
            raise

    def _wait(self) -> dict | None:
        """What the process could not link ({"names": [...], "trees": [[...]]}), or None where it failed."""
        if not self.done:
            out, _ = self.proc.communicate()
            self.done = True
            self.job.unlink(missing_ok=True)
            try:
                result = json.loads(out) if self.proc.returncode == 0 else None
            except ValueError:
                result = None
            ok = (isinstance(result, dict) and isinstance(result.get("names"), list)
                  and isinstance(result.get("trees"), list) and len(result["trees"]) == (self.data_folder is not None))
            self.result = result if ok else None
        return self.result

    def take(self, pages: Path) -> set[str]:
        """Wait for the links, put the run pages into ``pages`` (MkDocs' runs/ folder: its files are moved in beside
        them) and return the run ids linked."""
        result = self._wait()
        if result is None or not self.folder.is_dir():  # the process failed: every page is linked or rendered here
            shutil.rmtree(self.folder, ignore_errors=True)
            return set()
        if pages.is_dir():
            for entry in os.scandir(pages):
                os.replace(entry.path, self.folder / entry.name)
            pages.rmdir()
        os.rename(self.folder, pages)
        failed = set(result["names"])
        return {rid for rid in self.ids if f"{rid}.html" not in failed}

    def take_data(self, target: Path) -> list[str] | None:
        """Put the data files linked into ``target`` (which must not exist); returns the paths under it the process
        could not link, or None where it linked none (the process failed, or was not asked to)."""
        if self.data_folder is None:
            return None
        result = self._wait()
        if result is None or not self.data_folder.is_dir():
            shutil.rmtree(self.data_folder, ignore_errors=True)
            return None
        os.rename(self.data_folder, target)
        return [str(p) for p in result["trees"][0]]

    def drop(self) -> None:
        """Stop the process if it still runs and remove what it linked and nobody took (the published pages and the
        generated files themselves stay)."""
        if not self.done:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.communicate()
            self.done = True
        self.job.unlink(missing_ok=True)
        shutil.rmtree(self.folder, ignore_errors=True)
        if self.data_folder is not None:
            shutil.rmtree(self.data_folder, ignore_errors=True)


def start_links(staging: Path, rendered: Rendered, published: Published | None,
                data: Path | None = None) -> Linking | None:
    """Start linking, in a process of its own, the run pages of the published site whose key is unchanged (those
    write_run_pages would link) into a folder beside ``staging``, and the data files under ``data`` (the generated
    folder's), when there are LINK_PROCESS_FROM of them or more; else None (they are linked here)."""
    ids = [] if published is None else _carried(rendered, set(rendered.run_todo), published.keys)
    data = data if data is not None and rendered.data_files and data.is_dir() else None
    if len(ids) + (rendered.data_files if data is not None else 0) < LINK_PROCESS_FROM:
        return None
    try:
        return Linking(staging, published.site / "runs" if published is not None else staging, ids, data)
    except OSError:  # no process could start: they are linked in place
        return None


def _carried(rendered: Rendered, todo: set[str], old_keys: dict[str, str]) -> list[str]:
    """The runs whose published page is carried over: not to render, and with the key their page was made with."""
    return [rid for rid, key in rendered.run_keys.items() if rid not in todo and old_keys.get(rid) == key]


def _put_data(generated: Path, staging: Path, linking: Linking | None) -> None:
    """The generated data files into the site (MkDocs leaves them out: mkdocs_hook.DATA_LINKED) as hard links, from the
    linking process where one ran, else here; a file that cannot be linked (another file system) is copied."""
    source, target = generated / DATA, staging / DATA
    if not source.is_dir():
        return
    if target.exists():  # (a hand-written data/ folder would be MkDocs'; the generated one takes its place)
        shutil.rmtree(target)
    failed = linking.take_data(target) if linking is not None else None
    if failed is None:
        failed = link_tree(str(source), str(target))
    for rel in failed:
        src = source / rel
        if src.is_file() and not src.is_symlink():
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, target / rel)


def write_run_pages(out: Path, rendered: Rendered, repository: str = "", commit: str | None = None,
                    published: Published | None = None, linking: Linking | None = None) -> str:
    """Each run's page at runs/<run_id>.html (the URL it always had; run_page), from the shell MkDocs rendered at
    the depth of runs/ (for the site's head: stylesheets with their hashed names, canonical URL), and the one script
    they share. ``repository``/``commit``: where a page links its run file (the repository at the commit built).
    ``published``: the site being replaced, whose pages with an unchanged key and template are hard-linked here (a
    rebuild after adding ten runs writes ten pages, not 100,000). ``linking``: those pages, linked meanwhile by another
    process (start_links); dropped when the template changed. Returns the template's key."""
    shell_path = out / RUN_SHELL.replace(".md", ".html")
    shell = shell_path.read_text(encoding="utf-8")
    if f"<title>{RUN_TITLE_MARKER}" not in shell or "</head>" not in shell:
        raise BuildError(f"{shell_path}: the run page shell has no title marker")
    shell_name = shell_path.name
    before, after = run_page_template(shell)
    template = digest([before, after])
    pages = out / "runs"
    todo = set(rendered.run_todo)
    carry = published is not None and published.template == template
    old_keys = published.keys if carry else {}
    linked: set[str] = set()
    if linking is not None:
        if carry:
            linked = linking.take(pages)
        else:
            linking.drop()
    carried = [rid for rid in _carried(rendered, todo, old_keys) if rid not in linked]
    # a page that cannot be linked (gone, another file system) is rendered again, as is every page not carried over
    failed = set(link_all(str(published.site / "runs"), str(pages), [f"{rid}.html" for rid in carried])) if carried else set()
    todo.update(rid for rid, key in rendered.run_keys.items()
                if rid not in linked and (old_keys.get(rid) != key or f"{rid}.html" in failed))
    ids = sorted(todo)
    size = max(RUN_PAGES_CHUNK, -(-len(ids) // (4 * cpu_count())))  # four chunks a core: each is one query
    chunks = [ids[i:i + size] for i in range(0, len(ids), size)]
    jobs = [(str(rendered.db), chunk, {rid: rendered.baselines.get(rid) for rid in chunk}, before, after, shell_name,
             str(pages)) for chunk in chunks]
    pmap(_write_run_chunk, jobs, min_items=1, workers=None if len(ids) >= RUN_PAGES_WORKERS_FROM else 1)
    repo = f"{repository.rstrip('/')}/blob/{commit or 'main'}/" if repository else ""
    site = {"nav": [[h, t] for h, t in _tabs(shell)[1:]], "repo": repo}
    script = (out / "assets" / "run-page.js").read_text(encoding="utf-8")
    (pages / RUN_SCRIPT).write_text(f"window.LB_SITE={script_json(site)};\n{script}", encoding="utf-8")
    shell_path.unlink()
    _sitemap_runs(out, shell_name, sorted(rendered.run_keys))
    return template


RUN_PAGES_CHUNK = 2_000  # the fewest run pages rendered at a time (one query of their tables)
# from this many pages on they are rendered on every core: a spawned worker costs about a CPU second and 10,000 pages
# about three, so at 10,000 runs one process was faster (fresh 31.4 s before, 33.5 s with workers), at 100,000 not
RUN_PAGES_WORKERS_FROM = 30_000


def _write_run_chunk(job: tuple) -> int:
    """Render and write the pages of some runs (a worker's share: it opens the store itself, read-only)."""
    db, ids, baselines, before, after, shell_name, pages = job
    con = duckdb.connect(db, read_only=True)
    try:
        docs = runs.run_docs(con, baselines, ids)
    finally:
        con.close()
    for rid, (title, data) in docs.items():
        Path(pages, f"{rid}.html").write_text(run_page(before, after, shell_name, rid, title, data), encoding="utf-8")
    return len(docs)


def _published(work: Path, out: Path) -> Published | None:
    """The manifest of the site at ``out`` if the last build in ``work`` made it (else None: every page is rendered)."""
    m = _read_json(work / "cache" / RUN_MANIFEST)
    try:
        marker = (out / SITE_MARKER).read_text(encoding="utf-8")
    except (OSError, ValueError):
        return None
    if m is None or m.get("site") != str(out) or not isinstance(m.get("keys"), dict) or f"build {m.get('build')}" not in marker:
        return None
    return Published(out, str(m.get("template")), m["keys"])


def _site_marker(template: str, keys: dict[str, str]) -> tuple[str, str]:
    """The build's token (a hash of its run pages' keys and template: the same runs give the same marker file) and
    the marker file's text."""
    # orjson: the keys are strings only (json.dumps of 100,000 of them was a quarter second of every rebuild)
    token = hashlib.sha256(orjson.dumps([template, keys], option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]
    return token, f"built by `leaderboard build` (build {token}); the folder is replaced on the next build\n"


SITEMAP_MAX_URLS = 50_000  # the sitemap protocol's limit per file (sitemaps.org): past it, a sitemap index


@contextmanager
def fixed_gzip(path, compresslevel: int = 9):
    """A gzip file (at ``path``, or into an open binary file) with no file name and a fixed timestamp in its header: the same bytes in give the same file."""
    import gzip

    with contextlib.ExitStack() as stack:
        f = path if hasattr(path, "write") else stack.enter_context(open(path, "wb"))
        with gzip.GzipFile(filename="", mode="wb", fileobj=f, mtime=int(FIXED_EPOCH), compresslevel=compresslevel) as gz:
            yield gz


def _sitemap_runs(out: Path, shell_name: str, run_ids: list[str], max_urls: int = SITEMAP_MAX_URLS) -> None:
    """MkDocs' sitemap lists the run pages' shell: list every run page instead (same lastmod). Past ``max_urls`` URLs
    (50,000 at 100,000 runs is past it) sitemap.xml becomes a sitemap index of files of at most ``max_urls`` each
    (sitemap-1.xml, ...), as the protocol requires; sitemap.xml.gz is written again beside it."""
    sitemap = out / "sitemap.xml"
    if not sitemap.exists():
        return
    text = sitemap.read_text(encoding="utf-8")
    m = re.search(r"\s*<url>\s*<loc>([^<]*)" + re.escape(f"runs/{shell_name}") + r"</loc>\s*<lastmod>([^<]*)</lastmod>\s*</url>",
                  text)
    if m is None:
        return
    base, lastmod = html.unescape(m.group(1)), m.group(2)
    entries = re.findall(r"\s*<url>.*?</url>", text[:m.start()] + text[m.end():], re.S)
    entries += [f"\n    <url>\n         <loc>{html.escape(base)}runs/{rid}.html</loc>\n         <lastmod>{lastmod}</lastmod>\n"
                "    </url>" for rid in run_ids]
    head, tail = text[:text.index("<urlset")], "\n</urlset>"
    urlset = text[text.index("<urlset"):text.index(">", text.index("<urlset")) + 1]
    if len(entries) <= max_urls:
        text = head + urlset + "".join(entries) + tail
    else:
        parts = [entries[i:i + max_urls] for i in range(0, len(entries), max_urls)]
        for k, part in enumerate(parts, 1):
            (out / f"sitemap-{k}.xml").write_text(head + urlset + "".join(part) + tail + "\n", encoding="utf-8")
        text = (head + '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                + "".join(f"\n    <sitemap>\n         <loc>{html.escape(base)}sitemap-{k}.xml</loc>\n"
                          f"         <lastmod>{lastmod}</lastmod>\n    </sitemap>" for k in range(1, len(parts) + 1))
                + "\n</sitemapindex>")
    sitemap.write_text(text + "\n", encoding="utf-8")
    with fixed_gzip(out / "sitemap.xml.gz") as gz:
        gz.write((text + "\n").encode("utf-8"))


def copy_store(db: Path, target: Path, key_file: Path | None = None, key: str | None = None) -> None:
    """A fresh DuckDB file with every table (rows in a fixed order) and view, without the ingest state. With ``key``
    (what the store was made from: its run files and the code), the copy is kept when the key is the one it was made
    with (``key_file``).

    DuckDB stamps a random identifier into each database header, so this one file differs between
    otherwise identical builds; its tables and rows do not."""
    if key is not None and key_file is not None and target.is_file() and key_file.is_file() \
            and key_file.read_text(encoding="utf-8") == key:
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.unlink(missing_ok=True)
    con = duckdb.connect(str(tmp))
    try:
        con.execute(f"ATTACH '{db}' AS src (READ_ONLY)")
        tables = [r[0] for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = 'src' AND table_name NOT IN ('files', 'meta') "
            "ORDER BY table_name").fetchall()]
        for t in tables:
            con.execute(f'CREATE TABLE "{t}" AS SELECT * FROM src."{t}" ORDER BY ALL')
        views = con.execute("SELECT view_name, sql FROM duckdb_views() WHERE database_name = 'src' AND NOT internal "
                            "ORDER BY view_name").fetchall()
        con.execute("DETACH src")
        first = ("superseded", "current_runs", "baselines")  # what the other views read, in the order they read it
        for _name, sql in sorted(views, key=lambda v: first.index(v[0]) if v[0] in first else len(first)):
            con.execute(sql)
        con.execute("CHECKPOINT")
    finally:
        con.close()
    os.replace(tmp, target)  # a new file (inode): a published site's hard link to the old copy keeps it
    if key is not None and key_file is not None:
        key_file.parent.mkdir(parents=True, exist_ok=True)
        key_file.write_text(key, encoding="utf-8")


def mkdocs_build(root: Path, out: Path, generated: Path, site_url: str | None = None,
                 page_cache: Path | None = None) -> tuple[str, str, tuple[int, int] | None]:
    """Run MkDocs; returns the site URL it used (mkdocs.yml's, or ``site_url``), the repository's (``extra``) and how
    many pages it rendered of all it made (None without a page cache).
    ``page_cache``: where each page's rendering is kept across builds (mkdocs_hook.PageCache): kept only from a build
    that succeeded, as the pages of the next build whose key is unchanged."""
    from mkdocs.commands.build import build
    from mkdocs.config import load_config
    from mkdocs.exceptions import Abort, ConfigurationError

    env = {"LEADERBOARD_GENERATED": str(generated.resolve()), "SOURCE_DATE_EPOCH": FIXED_EPOCH,
           "NO_MKDOCS_2_WARNING": "1", DATA_LINKED: "1",  # (data/ is put into the site by build_site: _put_data)
           PAGE_CACHE: str(page_cache.resolve()) if page_cache is not None else ""}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    cwd = os.getcwd()
    try:
        os.chdir(root)
        extra = {"site_url": site_url} if site_url else {}
        config = load_config(str(root / "mkdocs.yml"), site_dir=str(out.resolve()), strict=True, **extra)
        build(config)
        pages = None
        for plugin in config.plugins.values():  # (the hook: MkDocs loads it as a module of its own)
            commit = getattr(plugin, "commit_page_cache", None)
            if callable(commit):
                pages = commit()
        repository = (config.get("extra") or {}).get("repository")
        return str(config.get("site_url") or ""), repository if isinstance(repository, str) else "", pages
    except (Abort, ConfigurationError) as e:
        raise BuildError(f"mkdocs build --strict failed: {e}") from None
    finally:
        os.chdir(cwd)
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _fix_404(out: Path, site_url: str = "") -> None:
    """MkDocs writes the 404 page with absolute asset paths ("/assets/..." without a site_url, "/<path>/assets/..."
    under the site_url's path); they break wherever the site is served from elsewhere (a preview, `leaderboard
    serve`). The page is served at any depth, so no relative path works either: a tiny script sets <base> to the
    site's root (the first path segment on *.github.io, else /) before the stylesheets load."""
    from urllib.parse import urlsplit

    prefix = urlsplit(site_url).path.rstrip("/") if site_url else ""
    page = out / "404.html"
    if not page.exists():
        return
    text = page.read_text(encoding="utf-8")
    script = ('<script>(function(){var p=location.pathname.split("/");var b=document.createElement("base");'
              'b.setAttribute("href",/[.]github[.]io$/.test(location.hostname)&&p.length>2?"/"+p[1]+"/":"/");'
              'document.head.appendChild(b);})();</script>')
    text = text.replace("<head>", "<head>" + script, 1)
    if prefix:
        text = re.sub(r'(href|src)="' + re.escape(prefix) + '/', r'\1="/', text)
    text = re.sub(r'(href|src)="/(?!/)', r'\1="', text)
    page.write_text(text, encoding="utf-8")


SITE_MARKER = ".leaderboard-site"


def _check_output(out: Path) -> None:
    """Never replace a folder this command did not make."""
    if not os.path.lexists(out):
        return
    if out.is_symlink() or not out.is_dir() or (any(out.iterdir()) and not (out / SITE_MARKER).exists()):
        raise BuildError(f"{out} exists and is not a site built by this command; choose another --out or remove it")


def _staging(out: Path) -> Path:
    """A fresh folder beside ``out`` to build into; leftovers of builds that were killed are removed."""
    out.parent.mkdir(parents=True, exist_ok=True)
    for stale in out.parent.glob(f".{out.name}.building-*"):  # (start_links' folder and job file too)
        if stale.is_symlink():
            continue
        if stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)
        elif stale.is_file():
            stale.unlink(missing_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.building-", dir=out.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; the site is served to everyone
    return staging


REMOVE_APART_FROM = 5_000  # from this many run pages, the replaced site is removed by a process of its own (_swap)


def _swap(new: Path, out: Path, apart: bool = False) -> None:
    """Put the finished site in place: two renames, so ``out`` is always a whole site (old or new). The old site is
    removed here, or with ``apart`` by a process of its own that the build does not wait for (issue 22, scale: 0.7 s of
    every rebuild at 100,000 runs); one that cannot start, or is stopped, leaves a folder the next build removes
    (_staging: it is named as a staging folder is)."""
    old = None
    if os.path.lexists(out):
        old = out.parent / f"{new.name}.old"
        os.rename(out, old)
    os.rename(new, out)
    if old is None:
        return
    if apart:
        import subprocess
        import sys

        try:
            subprocess.Popen([sys.executable, "-c", "import shutil, sys; shutil.rmtree(sys.argv[1], ignore_errors=True)",
                              str(old)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
            return
        except OSError:
            pass
    shutil.rmtree(old, ignore_errors=True)


def _first_ingest(runs: Path, db: Path, validation_cache: Path, seconds: dict, cpu: dict, cpu_now) -> None:
    """Into a new store (a fresh build), the ingest comes first: it reads and checks every file in full, as validation
    does, and validation's cache takes its results (validate.seed_cache), so the validation that follows reads no file
    again and runs the checks across files (issue 22, scale: each file was read and parsed twice, validation's workers
    then the ingest's, 22 CPU-seconds of a fresh 100,000-run build). A refused ingest leaves no store: validation then
    checks every file itself and names each problem as a build that validates first does."""
    t, c = time.perf_counter(), cpu_now()
    files, _walk_problems = json_files([runs])
    scan_ns = time.time_ns()
    signatures = {f: stat_signature(f, scan_ns) for f in files}  # before the files are read
    try:
        rep = ingest(runs, db)
    except IngestError:
        return  # no store was left: validation finds and names the problems, or the ingest after it does
    seed_cache(validation_cache, rep.checked, signatures)
    seconds["ingest"] = time.perf_counter() - t
    cpu["ingest"] = cpu_now() - c


def build_site(runs: Path, out: Path, root: Path, work: Path, log=print, since: str | None = None,
               site_url: str | None = None) -> BuildReport:
    """Everything from run files to the static site in ``out``. The site is built in a temporary folder
    beside ``out`` and swapped in at the end: a build that fails or is killed leaves ``out`` as it was.
    ``since``: the commit of the previous published build, for the home page's "what changed"."""
    with gc_relaxed():  # (a build holds millions of objects: parallel.gc_relaxed)
        return _build_site(runs, out, root, work, log, since, site_url)


def _build_site(runs: Path, out: Path, root: Path, work: Path, log, since: str | None, site_url: str | None) -> BuildReport:
    # absolute from here on: mkdocs runs in ``root``, so a relative ``out`` or ``work`` would resolve there
    runs, out, root, work = (Path(p).resolve() for p in (runs, out, root, work))
    seconds: dict[str, float] = {}
    cpu: dict[str, float] = {}

    def cpu_now() -> float:
        x = os.times()
        return x.user + x.system + x.children_user + x.children_system

    changes = run_changes(runs, since)
    db = work / "leaderboard.duckdb"
    validation_cache = work / "cache" / "validate.json"
    if not os.path.lexists(db):
        _first_ingest(runs, db, validation_cache, seconds, cpu, cpu_now)
    t, c = time.perf_counter(), cpu_now()
    report = validate_paths([runs], reject_synthetic=False, cache=validation_cache)
    if report.errors:
        if "ingest" in seconds:  # a store of files refused together (a check across files): never used
            for leftover in (db, Path(f"{db}.wal")):
                leftover.unlink(missing_ok=True)
        raise BuildError(f"{len(report.errors)} invalid run file(s); nothing was built", report.errors)
    seconds["validate"] = time.perf_counter() - t
    cpu["validate"] = cpu_now() - c
    if "ingest" not in seconds:
        t, c = time.perf_counter(), cpu_now()
        try:
            ingest(runs, db, validated=report)  # files validation accepted a moment ago are not checked again
        except IngestError as e:  # e.g. a file changed after it was validated
            raise BuildError(f"ingest refused {len(e.problems)} problem(s); nothing was built", e.problems) from None
        seconds["ingest"] = time.perf_counter() - t
        cpu["ingest"] = cpu_now() - c
    seconds = {k: seconds[k] for k in ("validate", "ingest")} | seconds  # the log's order: the data's flow
    cpu = {k: cpu[k] for k in ("validate", "ingest")} | cpu
    t, c = time.perf_counter(), cpu_now()
    generated = work / "generated"
    _check_output(out)
    published = _published(work, out)
    info = build_info(root)  # the commit built: on the home page and in each run page's link to its run file
    rendered = render(db, generated, work / "cache", changes, published.keys if published else None, info)
    seconds["render"] = time.perf_counter() - t
    cpu["render"] = cpu_now() - c
    t, c = time.perf_counter(), cpu_now()
    staging = _staging(out)
    linking = None
    try:
        linking = start_links(staging, rendered, published, generated / DATA)  # on the other core, while MkDocs runs
        url, repository, mkdocs_pages = mkdocs_build(root, staging, generated, site_url, work / "cache" / PAGES_CACHE)
        seconds["mkdocs"] = time.perf_counter() - t
        cpu["mkdocs"] = cpu_now() - c
        t, c = time.perf_counter(), cpu_now()
        _put_data(generated, staging, linking)
        template = write_run_pages(staging, rendered, repository, info.get("commit"), published, linking)
        linking = None
        _fix_404(staging, url)
        token, marker = _site_marker(template, rendered.run_keys)
        (staging / SITE_MARKER).write_text(marker)
        _check_output(out)
        manifest = work / "cache" / RUN_MANIFEST
        manifest.unlink(missing_ok=True)  # the site it describes is about to go
        _swap(staging, out, apart=len(rendered.run_keys) >= REMOVE_APART_FROM)
    except BaseException:
        if linking is not None:
            linking.drop()
        shutil.rmtree(staging, ignore_errors=True)
        raise
    manifest.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(manifest, orjson.dumps({"site": str(out), "build": token, "template": template,
                                         "keys": rendered.run_keys}, option=orjson.OPT_SORT_KEYS))
    seconds["run pages"] = time.perf_counter() - t
    cpu["run pages"] = cpu_now() - c
    kept = ("" if not mkdocs_pages else f"; MkDocs rendered all {mkdocs_pages[1]} pages" if mkdocs_pages[0] == mkdocs_pages[1]
            else f"; MkDocs rendered {mkdocs_pages[0]} of {mkdocs_pages[1]} pages, the others as the last build did")
    log(f"built {out}: {rendered.pages} generated pages, {rendered.charts} charts "
        f"({', '.join(f'{k} {v:.1f} s' for k, v in seconds.items())}; CPU {', '.join(f'{k} {v:.1f} s' for k, v in cpu.items())}"
        f"{kept})")
    return BuildReport(rendered.pages, rendered.charts, seconds, out, cpu, mkdocs_pages)
