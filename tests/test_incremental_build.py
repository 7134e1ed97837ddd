"""An incremental build (issue 22, scale): after runs are added, `leaderboard build` renders and writes only what
changed, and the site it makes is byte for byte the site a fresh build makes."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import duckdb
import orjson
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leaderboard import synthetic
from leaderboard.render import build, queries, tables
from leaderboard.render.build import build_site
from leaderboard.render.pages import board, families, methods, models
from leaderboard.render.parts import method_slug

ROOT = Path(__file__).resolve().parents[1]
QUIET = {"log": lambda *_: None}
DEMO = "compression-leaderboard--demo-llama-trex-bear"


def _files(site: Path) -> dict[str, Path]:
    return {p.relative_to(site).as_posix(): p for p in site.rglob("*") if p.is_file()}


def _inodes(folder: Path, pattern: str = "*.html") -> dict[str, int]:
    return {p.name: p.stat().st_ino for p in folder.glob(pattern)}


@pytest.fixture(scope="module")
def grown(tmp_path_factory):
    """A site built from 80 synthetic runs, then rebuilt in place after 10 more were added (the same work folder)."""
    tmp = tmp_path_factory.mktemp("incremental")
    runs, out, work = tmp / "runs", tmp / "public", tmp / "work"
    every = synthetic.generate(90, seed=5)  # one synthetic model
    synthetic.write(every[:80], runs)
    shutil.copytree(ROOT / "runs" / "decoder" / DEMO, runs / "decoder" / DEMO)  # and a model the new runs leave alone
    first = build_site(runs, out, ROOT, work, **QUIET)
    again = build_site(runs, out, ROOT, work, **QUIET)  # nothing changed: every page kept (and what the next build may need)
    # MkDocs rendered every page, then none: each as the last build made it (mkdocs_hook.PageCache)
    assert first.mkdocs_pages is not None and first.mkdocs_pages[0] == first.mkdocs_pages[1] > 20
    assert again.mkdocs_pages == (0, first.mkdocs_pages[1])
    pages_before = _inodes(out / "runs")
    kept_link = tmp / "kept-runs.parquet"  # a second name for the published download: the rebuild must not touch it
    os.link(out / "downloads" / "runs.parquet", kept_link)
    old_bytes = kept_link.read_bytes()
    generated_before = {rel: p.stat().st_ino for rel, p in _files(work / "generated").items()}
    synthetic.write(every[80:], runs)
    rendered: dict[str, list[str]] = {}  # which pages the rebuild makes, by kind (each call goes through unchanged)

    def recording(kind, real, name_at):
        def made(*args):
            rendered.setdefault(kind, []).append(args[name_at] if name_at is not None else kind)
            return real(*args)
        return made

    cells_made: list[str] = []  # the runs whose board cells the rebuild makes (the others are the last build's)
    real_cells = tables.task_cells

    def counted_cells(r, *args):
        cells_made.append(r["run_id"])
        return real_cells(r, *args)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(tables, "task_cells", counted_cells)
        mp.setattr(models, "build", recording("models", models.build, 1))
        mp.setattr(families, "_build", recording("families", families._build, 3))
        mp.setattr(methods, "_build", recording("methods", methods._build, 3))
        mp.setattr(board, "_build", recording("leaderboard", board._build, None))
        mp.setattr(build, "LINK_PROCESS_FROM", 1)  # the pages carried over are linked by another process
        linkings = []
        real_start = build.start_links
        mp.setattr(build, "start_links", lambda *a: linkings.append(real_start(*a)) or linkings[-1])
        grown_report = build_site(runs, out, ROOT, work, **QUIET)
    # the pages the new runs change (their model's, the boards', home...), not the other model's or the hand-written ones
    assert 0 < grown_report.mkdocs_pages[0] < grown_report.mkdocs_pages[1]
    assert len(linkings) == 1 and len(linkings[0].ids) == 80 + 16 and linkings[0].proc.returncode == 0
    return {"tmp": tmp, "runs": runs, "out": out, "work": work, "pages_before": pages_before,
            "kept_link": kept_link, "old_bytes": old_bytes, "generated_before": generated_before,
            "rendered": rendered, "added": every[80:], "cells_made": cells_made}


def test_an_incremental_build_is_the_site_a_fresh_build_makes(grown, monkeypatch) -> None:
    """The fresh build exports its downloads in a worker process (as from WORKER_FROM_RUNS runs), the rebuilds did so
    in the building process: the same site. The worker also made the Vega script (its work folder had none)."""
    import vl_convert

    from leaderboard.render.pages import downloads

    fresh = grown["tmp"] / "fresh"
    monkeypatch.setattr(downloads, "WORKER_FROM_RUNS", 1)
    bundled_here = []  # (in this process only: the worker is a process of its own)
    monkeypatch.setattr(vl_convert, "javascript_bundle", lambda *a, **k: bundled_here.append(1) or "")
    started = []
    real_start = downloads.start
    monkeypatch.setattr(downloads, "start", lambda site: started.append(real_start(site, workers=2)) or started[-1])
    build_site(grown["runs"], fresh, ROOT, grown["tmp"] / "work-fresh", **QUIET)
    # the export ran in the worker, and so did the store's copy
    assert len(started) == 1 and started[0]._future.done() and started[0].copies_store and bundled_here == []
    a, b = _files(grown["out"]), _files(fresh)
    assert sorted(a) == sorted(b)
    assert len([r for r in a if r.startswith("runs/") and r.endswith(".html")]) == 90 + 16
    different = [rel for rel in a if a[rel].read_bytes() != b[rel].read_bytes()]
    assert different in ([], ["downloads/leaderboard.duckdb"])  # DuckDB's random database id: its rows, below
    copies = [duckdb.connect(str(site / "downloads" / "leaderboard.duckdb"), read_only=True) for site in (grown["out"], fresh)]
    try:
        tables = [r[0] for r in copies[0].execute("SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall()]
        assert "runs" in tables and "results" in tables
        for t in tables:
            rows = [c.execute(f'SELECT * FROM "{t}" ORDER BY ALL').fetchall() for c in copies]
            assert rows[0] == rows[1], t
        assert copies[1].execute("SELECT count(*) FROM runs").fetchone()[0] == 90 + 16
    finally:
        for c in copies:
            c.close()


def test_an_incremental_build_writes_only_the_pages_that_changed(grown) -> None:
    after = _inodes(grown["out"] / "runs")
    before = grown["pages_before"]
    added = set(after) - set(before)
    assert len(added) == 10
    carried = [name for name in before if name != build.RUN_SCRIPT and after.get(name) == before[name]]
    # a run page is the same file (inode) unless its run file, its baseline or the code changed: none did
    assert len(carried) == 80 + 16
    # generated data files that did not change were left alone, the ones that did are new files
    gen_after = {rel: p.stat().st_ino for rel, p in _files(grown["work"] / "generated").items()}
    same = [rel for rel, ino in gen_after.items() if grown["generated_before"].get(rel) == ino]
    assert "assets/vega/vega-bundle.js" in same
    # the page of the model the new runs leave alone is kept with its chart, not rendered; the synthetic model's is
    assert grown["rendered"]["models"] == ["synthetic/encoder-000"]
    # the boards' cells of the runs already there are the last build's (their headline rows did not change)
    assert sorted(grown["cells_made"]) == sorted(r.run_id for r in grown["added"])
    assert f"models/{DEMO}.md" in same and f"charts/model-{DEMO}-relations.svg" in same
    assert "models/synthetic--encoder-000.md" not in same
    # so are the pages of the families and methods the new runs are not of (with their charts and board data); the
    # leaderboard, their family's page and their methods' are made again
    assert grown["rendered"]["families"] == ["encoder"] and grown["rendered"]["leaderboard"] == ["leaderboard"]
    assert "families/decoder.md" in same and "families/encoder-decoder.md" in same and "families/encoder.md" not in same
    con = duckdb.connect(str(grown["work"] / "leaderboard.duckdb"), read_only=True)
    try:
        h = queries.headline(con)
    finally:
        con.close()
    added = h.filter(pl.col("run_id").is_in([r.run_id for r in grown["added"]]))
    assert added["n_steps"].min() > 0  # no baseline among them: no other run's "kept" changes
    assert sorted(grown["rendered"]["methods"]) == sorted(added["method"].unique().to_list())
    kept = sorted(set(h["method"].to_list()) - set(added["method"].to_list()))
    assert kept and all(f"methods/{method_slug(m)}.md" in same for m in kept)
    assert gen_after["downloads/runs.parquet"] != grown["generated_before"]["downloads/runs.parquet"]


def test_pages_linked_by_another_process_join_mkdocs_folder_and_the_missing_ones_are_named(tmp_path) -> None:
    """build.Linking: the pages linked are hard links to the published ones; a page that could not be linked (gone)
    is not counted as linked (write_run_pages renders it); MkDocs' own files in runs/ stay; a dropped linking leaves
    no folder and the published pages as they were."""
    published = tmp_path / "public" / "runs"
    published.mkdir(parents=True)
    for rid in ("a", "b"):
        (published / f"{rid}.html").write_text(rid)
    staging = tmp_path / ".public.building-x"
    (staging / "runs").mkdir(parents=True)
    (staging / "runs" / "_shell.html").write_text("shell")
    linking = build.Linking(staging, published, ["a", "b", "gone"])
    assert linking.take(staging / "runs") == {"a", "b"}
    assert sorted(p.name for p in (staging / "runs").iterdir()) == ["_shell.html", "a.html", "b.html"]
    assert (staging / "runs" / "a.html").stat().st_ino == (published / "a.html").stat().st_ino
    assert not linking.folder.exists() and not linking.job.exists()
    dropped = build.Linking(tmp_path / ".public.building-y", published, ["a"])
    dropped.drop()
    assert not dropped.folder.exists() and not dropped.job.exists() and (published / "a.html").read_text() == "a"


def test_a_linking_process_that_fails_or_cannot_start_links_nothing(tmp_path, monkeypatch) -> None:
    """Then write_run_pages links (or renders) every page itself."""
    import sys

    from leaderboard.render import linkpages

    published = tmp_path / "public" / "runs"
    published.mkdir(parents=True)
    (published / "a.html").write_text("a")
    failing = tmp_path / "failing.py"
    failing.write_text("import sys\nsys.exit(3)\n")
    monkeypatch.setattr(linkpages, "__file__", str(failing))
    linking = build.Linking(tmp_path / ".public.building-z", published, ["a"])
    pages = tmp_path / "pages"
    pages.mkdir()
    (pages / "_shell.html").write_text("shell")
    assert linking.take(pages) == set() and linking.proc.returncode == 3
    assert [p.name for p in pages.iterdir()] == ["_shell.html"] and not linking.folder.exists()
    monkeypatch.setattr(build, "LINK_PROCESS_FROM", 1)
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-python"))
    rendered = build.Rendered(0, 0, [], {"a": "k"}, {}, tmp_path / "db")
    assert build.start_links(tmp_path / ".public.building-w", rendered, build.Published(tmp_path / "public", "t", {"a": "k"})) is None
    assert not list(tmp_path.glob(".public.building-w*"))  # (its job file is gone too)


def test_the_sites_data_files_are_links_to_the_generated_ones_put_in_by_the_build(grown) -> None:
    """MkDocs leaves data/ out (mkdocs_hook.DATA_LINKED); the build links it in, here by the linking process (the grown
    site's rebuild): every generated data file is in the site as the same file (inode), and nothing else is there."""
    gen, site = grown["work"] / "generated" / "data", grown["out"] / "data"
    a = {p.relative_to(gen).as_posix(): p.stat().st_ino for p in gen.rglob("*") if p.is_file()}
    b = {p.relative_to(site).as_posix(): p.stat().st_ino for p in site.rglob("*") if p.is_file()}
    assert len(a) > 10 and a == b


def test_data_files_that_cannot_be_linked_are_copied(tmp_path, monkeypatch) -> None:
    gen, staging = tmp_path / "generated", tmp_path / "staging"
    (gen / "data" / "x").mkdir(parents=True)
    (gen / "data" / "a.json").write_text("a")
    (gen / "data" / "x" / "b.json").write_text("b")
    staging.mkdir()
    real_link = os.link

    def link(src, dst, *args, **kwargs):
        if str(src).endswith("b.json"):
            raise OSError(18, "Invalid cross-device link")
        return real_link(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "link", link)
    build._put_data(gen, staging, None)
    assert (staging / "data" / "a.json").stat().st_ino == (gen / "data" / "a.json").stat().st_ino
    copied = staging / "data" / "x" / "b.json"
    assert copied.read_text() == "b" and copied.stat().st_ino != (gen / "data" / "x" / "b.json").stat().st_ino


def test_mkdocs_on_its_own_takes_the_data_files_and_a_build_leaves_them_out(tmp_path, monkeypatch) -> None:
    """`mkdocs build` or `serve` by hand still publishes data/ (the hook adds it); under `leaderboard build` the hook
    leaves it to the build."""
    from types import SimpleNamespace

    from mkdocs.structure.files import Files

    from leaderboard.render import mkdocs_hook

    gen = tmp_path / "generated"
    (gen / "data" / "compare").mkdir(parents=True)
    (gen / "data" / "compare" / "index.json").write_text("{}")
    (gen / "models").mkdir()
    (gen / "models" / "m.md").write_text("# m")
    config = SimpleNamespace(site_dir=str(tmp_path / "site"), use_directory_urls=False, config_file_path=str(tmp_path / "mkdocs.yml"))
    monkeypatch.setenv("LEADERBOARD_GENERATED", str(gen))
    monkeypatch.delenv(mkdocs_hook.DATA_LINKED, raising=False)
    alone = {f.src_uri for f in mkdocs_hook.on_files(Files([]), config)}
    monkeypatch.setenv(mkdocs_hook.DATA_LINKED, "1")
    built = {f.src_uri for f in mkdocs_hook.on_files(Files([]), config)}
    assert alone == {"data/compare/index.json", "models/m.md"} and built == {"models/m.md"}


def test_the_published_site_is_never_rewritten_in_place(grown) -> None:
    """Files shared by hard links between builds are replaced, never rewritten: the old site's bytes stay."""
    assert grown["kept_link"].read_bytes() == grown["old_bytes"]
    now = (grown["out"] / "downloads" / "runs.parquet").read_bytes()
    assert now != grown["old_bytes"]  # the new site has the ten runs; the old file was not touched


def test_new_code_or_a_lost_site_renders_every_run_page_again(tmp_path, monkeypatch) -> None:
    runs, out, work = tmp_path / "runs", tmp_path / "public", tmp_path / "work"
    synthetic.write(synthetic.generate(30, seed=2), runs)
    build_site(runs, out, ROOT, work, **QUIET)
    first = _inodes(out / "runs")
    monkeypatch.setattr(build, "code_version", lambda: "other code")
    build_site(runs, out, ROOT, work, **QUIET)
    second = _inodes(out / "runs")
    assert not [n for n in first if n != build.RUN_SCRIPT and second.get(n) == first[n]]
    texts = {n: (out / "runs" / n).read_text() for n in second}
    # the site was replaced by hand (no marker of this build): nothing is carried over from it
    (out / build.SITE_MARKER).write_text("built by `leaderboard build` (build 0000); the folder is replaced\n")
    build_site(runs, out, ROOT, work, **QUIET)
    third = _inodes(out / "runs")
    assert not [n for n in second if n != build.RUN_SCRIPT and third.get(n) == second[n]]
    assert {n: (out / "runs" / n).read_text() for n in third} == texts
    # a published page that is gone (or cannot be linked) is rendered again, the others are carried over
    gone = sorted(n for n in third if n != build.RUN_SCRIPT)[0]
    (out / "runs" / gone).unlink()
    build_site(runs, out, ROOT, work, **QUIET)
    fourth = _inodes(out / "runs")
    assert (out / "runs" / gone).read_text() == texts[gone]
    assert sorted(n for n in third if n != build.RUN_SCRIPT and fourth.get(n) != third[n]) == [gone]


def test_a_big_sites_old_copy_is_removed_by_a_process_of_its_own(tmp_path, monkeypatch) -> None:
    """From REMOVE_APART_FROM run pages the build returns once the new site is in place, and the site it replaced is
    removed meanwhile (the new one shares the old one's unchanged files: hard links); a copy left by a removal that was
    stopped is removed by the next build."""
    import time

    runs, out, work = tmp_path / "runs", tmp_path / "public", tmp_path / "work"
    synthetic.write(synthetic.generate(30, seed=2), runs)
    monkeypatch.setattr(build, "REMOVE_APART_FROM", 1)
    build_site(runs, out, ROOT, work, **QUIET)
    pages = {n: (out / "runs" / n).read_bytes() for n in _inodes(out / "runs")}
    build_site(runs, out, ROOT, work, **QUIET)
    assert {n: (out / "runs" / n).read_bytes() for n in _inodes(out / "runs")} == pages
    deadline = time.monotonic() + 60
    while list(tmp_path.glob(".public.building-*")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not list(tmp_path.glob(".public.building-*"))
    left = tmp_path / ".public.building-stopped.old"  # (what a stopped removal leaves)
    shutil.copytree(out, left)
    monkeypatch.setattr(build, "REMOVE_APART_FROM", 10**9)  # (this time removed in the build itself)
    build_site(runs, out, ROOT, work, **QUIET)
    assert not list(tmp_path.glob(".public.building-*"))


def _record_pmap(module, monkeypatch) -> list[tuple[int, int | None, int | None]]:
    """``module.pmap`` as it is, each call's (number of items, min_items, workers) recorded in the list returned."""
    calls = []
    real_pmap = module.pmap

    def recording(fn, items, **kw):
        calls.append((len(items), kw.get("min_items"), kw.get("workers")))
        return real_pmap(fn, items, **kw)

    monkeypatch.setattr(module, "pmap", recording)
    return calls


def test_run_pages_rendered_by_worker_processes_are_the_pages_one_process_renders(grown, monkeypatch) -> None:
    """A fresh build of many runs renders its run pages in chunks on every core (each worker opens the store
    read-only); the pages are byte for byte those of the build that rendered them in its own process."""
    calls = _record_pmap(build, monkeypatch)
    monkeypatch.setattr(build, "RUN_PAGES_CHUNK", 7)
    monkeypatch.setattr(build, "RUN_PAGES_WORKERS_FROM", 90 + 16)  # exactly this build's pages: the threshold counts pages
    out = grown["tmp"] / "workers"
    build_site(grown["runs"], out, ROOT, grown["tmp"] / "work-workers", **QUIET)
    assert len(calls) == 1 and calls[0][1:] == (1, None)  # every chunk on every core (workers=None: all of them)
    a, b = _files(grown["out"] / "runs"), _files(out / "runs")
    assert sorted(a) == sorted(b) and len(a) == 90 + 16 + 1  # and runs/page.js
    assert [rel for rel in a if a[rel].read_bytes() != b[rel].read_bytes()] == []


def test_charts_converted_by_worker_processes_are_the_charts_one_process_converts(grown, monkeypatch) -> None:
    """A build with charts to convert (none in the SVG cache) converts them in worker processes, one vl-convert
    runtime each, while it builds the pages; the SVGs are byte for byte those converted in the build's own process,
    and land in the cache."""
    from leaderboard.render import site as site_module

    seen = []  # per build that started workers: the conversions they were given
    real_close = site_module.Site.close_charts

    def recording(self):
        if self.svg_pool is not None:
            seen.append(len(self.svg_futures))
        return real_close(self)

    monkeypatch.setattr(site_module.Site, "close_charts", recording)
    monkeypatch.setattr(site_module, "CHART_WORKERS_FROM", 2)
    monkeypatch.setattr(site_module, "cpu_count", lambda: 2)
    out, work = grown["tmp"] / "chart-workers", grown["tmp"] / "work-chart-workers"
    build_site(grown["runs"], out, ROOT, work, **QUIET)
    a, b = _files(grown["out"] / "charts"), _files(out / "charts")
    assert seen == [len(a)] and len(a) >= 2  # every chart, by the workers
    assert sorted(a) == sorted(b)
    assert [rel for rel in a if a[rel].read_bytes() != b[rel].read_bytes()] == []
    assert len(list((work / "cache" / "svg").glob("*.svg"))) == len(a)
    seen.clear()
    build_site(grown["runs"], out, ROOT, work, **QUIET)  # every chart in the cache now: no worker is started
    assert seen == []
    assert [rel for rel, p in _files(out / "charts").items() if p.read_bytes() != a[rel].read_bytes()] == []


def test_charts_converted_by_the_downloads_worker_are_the_charts_one_process_converts(grown, monkeypatch) -> None:
    """Where the downloads are exported by a worker process, it converts the charts there are too few of to start
    workers for (a rebuild's), while the pages are built: the SVGs are byte for byte those converted here."""
    from leaderboard.render import site as site_module
    from leaderboard.render.pages import downloads

    helped = []  # per chart conversion: whether it went to the downloads' worker

    real_convert = site_module.Site._convert

    def recording(self, rel, spec):
        real_convert(self, rel, spec)
        helped.append(self.svg_helper is not None and rel in self.svg_futures)

    monkeypatch.setattr(site_module.Site, "_convert", recording)
    monkeypatch.setattr(downloads, "WORKER_FROM_RUNS", 1)
    monkeypatch.setattr(site_module, "CHART_WORKERS_FROM", 10**6)  # no conversion workers of the charts' own
    out, work = grown["tmp"] / "chart-helper", grown["tmp"] / "work-chart-helper"
    real_start = downloads.start
    monkeypatch.setattr(downloads, "start", lambda site: real_start(site, workers=2))
    build_site(grown["runs"], out, ROOT, work, **QUIET)
    a, b = _files(grown["out"] / "charts"), _files(out / "charts")
    assert len(helped) == len(a) >= 2 and all(helped)  # every chart, by the downloads' worker
    assert sorted(a) == sorted(b)
    assert [rel for rel in a if a[rel].read_bytes() != b[rel].read_bytes()] == []
    assert len(list((work / "cache" / "svg").glob("*.svg"))) == len(a)


def test_a_page_made_again_lists_the_deferred_blocks_it_shares_with_a_kept_page(tmp_path) -> None:
    """Two pages with the same chart spec share one snippet file: when one is kept and the other made again, the one
    made lists it too (else, once the kept page changes, the snippet would be removed from under the other)."""
    from leaderboard.render.site import Site

    spec = '<script type="application/json" class="lb-spec">{"same":1}</script>'

    def make(site: Site, path: str, text: str) -> None:
        site.page(path, path, text + spec)

    def render(memo: dict, b_input: int) -> Site:
        site = Site(tmp_path, duckdb.connect())
        site.code_version, site.page_memo = "code", memo
        site.memoised("k", "a", [1], make, site, "a.md", "A")
        site.memoised("k", "b", [b_input], make, site, "b.md", f"B{b_input}")
        for rel, text in site.pages.items():
            site.write(rel, text)
        for name, text in site.snippets.items():
            site.write(f"_snippets/{name}.html", text)
        return site

    first = render({}, 1)
    shared = [f for f in first.memo_next["k"]["a"]["files"] if f.startswith("_snippets/")]
    assert len(shared) == 1 and shared == [f for f in first.memo_next["k"]["b"]["files"] if f.startswith("_snippets/")]
    second = render(first.memo_next, 2)  # a is kept (its files), b is made again with the same chart
    assert second.memo_next["k"]["a"] == first.memo_next["k"]["a"]
    assert "b.md" in second.pages and "a.md" not in second.pages
    assert shared[0] in second.memo_next["k"]["b"]["files"]


def test_a_fresh_build_reads_each_file_once_and_makes_what_a_build_that_validates_first_makes(tmp_path, monkeypatch):
    """Issue 22, scale: into a new store the ingest comes first and checks every file in full, and validation takes
    its results from the cache the ingest's checks filled, reading no file again; a build whose store exists already
    validates first, then ingests (each new file parsed twice). Both give the same site and the same validation cache."""
    from collections import Counter

    from leaderboard import parallel, store, validate
    from leaderboard.store import ingest

    runs = tmp_path / "runs"
    shutil.copytree(ROOT / "runs", runs)  # the committed runs: facts, relations, reported results, errata
    monkeypatch.setattr(parallel, "cpu_count", lambda: 1)  # every check in this process, where it can be counted
    checks: Counter = Counter()

    def counting(real):
        def check(raw, path, *args):
            checks[path] += 1
            return real(raw, path, *args)
        return check

    monkeypatch.setattr(store, "check_bytes", counting(store.check_bytes))
    monkeypatch.setattr(validate, "check_bytes", counting(validate.check_bytes))
    files = sorted(str(p) for p in runs.rglob("*.json"))
    assert len(files) > 500

    build_site(runs, tmp_path / "fresh", ROOT, tmp_path / "w-fresh", **QUIET)
    assert set(checks) == set(files) and set(checks.values()) == {1}

    checks.clear()
    (tmp_path / "no-runs").mkdir()
    ingest(tmp_path / "no-runs", tmp_path / "w-old" / "leaderboard.duckdb")  # an empty store: validation comes first
    build_site(runs, tmp_path / "old", ROOT, tmp_path / "w-old", **QUIET)
    assert set(checks) == set(files) and set(checks.values()) == {2}

    a, b = _files(tmp_path / "fresh"), _files(tmp_path / "old")
    assert a.keys() == b.keys()
    assert [rel for rel in a if a[rel].read_bytes() != b[rel].read_bytes()] == ["downloads/leaderboard.duckdb"]
    fp = validate.validator_fingerprint()
    cached = [validate._load_cache(w / "cache" / "validate.json", fp, validate.DEFAULT_MAX_BYTES, True).entries
              for w in (tmp_path / "w-fresh", tmp_path / "w-old")]
    assert len(cached[0]) == len(files) and cached[0] == cached[1]

    checks.clear()  # and the next build of either reads nothing
    build_site(runs, tmp_path / "fresh", ROOT, tmp_path / "w-fresh", **QUIET)
    assert not checks


def test_a_fresh_build_of_a_refused_file_names_its_problems_and_leaves_no_store(tmp_path) -> None:
    """A copy of a run under another name (its run id twice, one not at its place): the first ingest refuses it and
    keeps nothing, validation names the problems as a build that validates first does, and the work folder holds no
    store for the next build to trust."""
    from leaderboard.render.build import BuildError

    runs = tmp_path / "runs"
    shutil.copytree(ROOT / "runs" / "decoder" / DEMO, runs / "decoder" / DEMO)
    first = sorted((runs / "decoder" / DEMO).glob("*.json"))[0]
    shutil.copy(first, runs / "decoder" / DEMO / "copy.json")
    with pytest.raises(BuildError) as err:
        build_site(runs, tmp_path / "public", ROOT, tmp_path / "work", **QUIET)
    assert "invalid run file" in str(err.value) and any("copy.json" in p.path for p in err.value.problems)
    assert not (tmp_path / "work" / "leaderboard.duckdb").exists() and not (tmp_path / "public").exists()


def _model_headline(grown, model: str = "synthetic/encoder-000") -> pl.DataFrame:
    """The headline rows of one model of the grown site's store."""
    con = duckdb.connect(str(grown["work"] / "leaderboard.duckdb"), read_only=True)
    try:
        return queries.headline(con).filter(pl.col("model_id") == model)
    finally:
        con.close()


def test_board_cells_are_the_last_builds_only_where_the_runs_headline_row_is_the_same(grown) -> None:
    """tables.CellMemo: a run's cells are taken from an earlier build when its headline row hashes the same (the one
    thing they are made from), made again when any value of the row changed, and kept for the next build even when
    no board of this one asked for them (a rebuild that changed nothing keeps every page, and its memo whole)."""
    h = _model_headline(grown)
    fresh: dict = {}
    memo = tables.remember_cells(fresh, h, {})
    page = tables.board(h, 0, shared=fresh)
    assert sorted(memo.cells) == sorted(h["run_id"].to_list())
    a, b = (r for r in h.filter(pl.col("n_steps") > 0)["run_id"].to_list()[:2])
    real_a = "".join(memo.cells[a][1:])
    assert real_a in page
    previous = {**memo.cells, a: [memo.cells[a][0], "<td>cached-a", "</td><td></td>"],
                b: [memo.cells[b][0] + 1, "<td>stale-b", "</td><td></td>"], "gone": [1, "<td>", "</td>"]}
    shared: dict = {}
    kept = tables.remember_cells(shared, h, previous)
    assert sorted(kept.cells) == sorted(set(h["run_id"].to_list()) - {b})  # before any board: what is still valid
    again = tables.board(h, 0, shared=shared)
    assert "cached-a" in again and real_a not in again  # the same row: taken as the last build made it
    assert "stale-b" not in again and "".join(memo.cells[b][1:]) in again  # another hash: made again
    assert kept.cells[b] == memo.cells[b]
    changed = h.with_columns(value=pl.when(pl.col("run_id") == a).then(pl.col("value") + 0.0123).otherwise(pl.col("value")))
    shared = {}
    now = tables.remember_cells(shared, changed, previous)
    assert "cached-a" not in tables.board(changed, 0, shared=shared) and now.cells[a][0] != memo.cells[a][0]


def test_board_rows_cells_are_the_last_builds_only_where_the_rows_runs_are_the_same(grown) -> None:
    """tables.CellMemo.rows: a row's opening tag, fixed cells and first cell are taken from the last build when its
    runs' headline rows hash the same and it links the same run, made again otherwise; rows no longer on the site are
    not carried to the next build."""
    h = _model_headline(grown)
    fresh: dict = {}
    tables.rows_of(h, fresh)
    memo = tables.remember_cells(fresh, h, {}, {})
    page = tables.board(h, 0, shared=fresh)
    rows = {row.key: row for row in tables.rows_of(h, fresh)}
    assert sorted(name.partition("|")[0] for name in memo.rows) == sorted(rows)
    a, b = (f"{k}|11" for k in sorted(k for k, row in rows.items() if row.n_steps > 0)[:2])
    assert memo.rows[a][1] in page and memo.rows[a][2] in page
    previous = {**memo.rows, a: [memo.rows[a][0], '<tr class="cached-a">', *memo.rows[a][2:]],
                b: [memo.rows[b][0] + 1, '<tr class="stale-b">', *memo.rows[b][2:]], "gone|11": [1, "<tr>", "", ""]}
    shared: dict = {}
    tables.rows_of(h, shared)
    kept = tables.remember_cells(shared, h, memo.cells, previous)
    assert "gone|11" not in kept.rows
    again = tables.board(h, 0, shared=shared)
    assert 'class="cached-a"' in again  # the same runs: taken as the last build made it
    assert "stale-b" not in again and kept.rows[b] == memo.rows[b]  # another hash: made again
    run_a = next(iter(rows[a.partition("|")[0]].tasks.values()))["run_id"]
    changed = h.with_columns(value=pl.when(pl.col("run_id") == run_a).then(pl.col("value") + 0.0123).otherwise(pl.col("value")))
    shared = {}
    tables.rows_of(changed, shared)
    now = tables.remember_cells(shared, changed, memo.cells, previous)
    assert "cached-a" not in tables.board(changed, 0, shared=shared) and now.rows[a][0] != memo.rows[a][0]


def test_a_boards_rows_are_the_last_builds_only_where_their_runs_and_the_board_are_the_same(grown, tmp_path) -> None:
    """render/boardmemo.py: a page board's row (its HTML, words and sort values) is taken from the last build's memo of
    that board when the row hashes the same, its entry has the shape board() writes and the board the same signature
    (tasks, depth, first cell); made again otherwise."""
    from leaderboard.render import boardmemo

    h = _model_headline(grown)

    def made(depth: int = 0, folder: Path = tmp_path, name: str = "t") -> tuple[str, dict, dict]:
        shared: dict = {}
        data: dict = {}
        tables.rows_of(h, shared)
        tables.remember_cells(shared, h, {})
        memos = shared[tables.BOARD_MEMOS] = boardmemo.BoardMemos(folder, "code")
        page = tables.board(h, depth, shared=shared, data=data, data_name=name)
        memos.save()
        return page, memos.made.get(name, ("", {}))[1], data

    page, rows, _ = made()
    assert len(rows) > 3 and all(row[1] in page and row[2] in page for row in rows.values())
    a, b, c = sorted(rows)[:3]
    saved = orjson.loads((tmp_path / "t.json").read_bytes())
    saved["rows"][a] = [rows[a][0], '<tr class="cached-a">', *rows[a][2:]]
    saved["rows"][b] = [rows[b][0] + 1, '<tr class="stale-b">', *rows[b][2:]]
    saved["rows"][c] = [rows[c][0], '<tr class="odd-c">', *rows[c][2:-1], "not a number"]
    (tmp_path / "t.json").write_bytes(orjson.dumps(saved))
    again, rows2, _ = made()
    assert 'class="cached-a"' in again and "stale-b" not in again and "odd-c" not in again
    assert rows2[b] == rows[b] and rows2[c] == rows[c]
    (tmp_path / "t.json").write_bytes(orjson.dumps(saved))
    deeper, _, _ = made(depth=1)  # another signature: the memo is not read
    assert "cached-a" not in deeper and 'href="../runs/' in deeper
    assert "cached-a" not in made(name="../t")[0] and not (tmp_path.parent / "t.json").exists()  # not a file name


def test_a_board_made_from_its_memo_is_the_board_made_without_it(tmp_path, monkeypatch) -> None:
    """Big enough to be sharded (INLINE_MAX): the shards, columns and words from the memo are those made fresh."""
    from leaderboard.render import boardmemo

    runs, work = tmp_path / "runs", tmp_path / "work"
    synthetic.write(synthetic.generate(700, seed=11), runs)
    from leaderboard.store import ingest

    ingest(runs, work / "store.duckdb")
    con = duckdb.connect(str(work / "store.duckdb"), read_only=True)
    try:
        h = queries.headline(con)
    finally:
        con.close()
    out = []
    made_rows = []
    real = tables._row_parts
    monkeypatch.setattr(tables, "_row_parts", lambda *a: made_rows.append(a[1].key) or real(*a))
    for memo in (None, tmp_path / "memo", tmp_path / "memo"):
        made_rows.clear()
        shared: dict = {}
        data: dict = {}
        tables.rows_of(h, shared)
        tables.remember_cells(shared, h, {})
        if memo is not None:
            shared[tables.BOARD_MEMOS] = memos = boardmemo.BoardMemos(memo, "code")
        page = tables.board(h, 0, shared=shared, data=data, data_name="leaderboard", url_state=True)
        if memo is not None:
            memos.save()
        out.append((page, data))
    assert len(h) > tables.INLINE_MAX and "data/board/leaderboard/rows-0.json" in out[0][1]
    assert out[0] == out[1] == out[2] and made_rows == []  # the last board: every row from the memo


def _compare_rows(work: Path, previous: dict, shas: dict | None = None) -> tuple[dict, dict]:
    """compare.build on the store of ``work``, after the previous build's compare rows ``previous``: the rows as
    published (key -> the row's JSON) and the memo it leaves for the next build. ``shas``: run files' sha256 to take
    in place of the store's (a run file whose bytes changed)."""
    import orjson

    from leaderboard import jsontext
    from leaderboard.render.pages import compare
    from leaderboard.render.site import Site

    con = duckdb.connect(str(work / "leaderboard.duckdb"), read_only=True)
    try:
        site = Site(work / "unused", con, compare_memo_previous=previous)
        h = queries.headline(con)
        tables.remember_cells(site.board_cells, h, {})
        with pytest.MonkeyPatch.context() as mp:
            if shas:
                real = queries.run_file_shas
                mp.setattr(queries, "run_file_shas", lambda c: {rid: (p, shas.get(rid, sha)) for rid, (p, sha) in real(c).items()})
            compare.build(site, h)
    finally:
        con.close()
    rows = {k: v for rel, shard in site.data.items() if rel.startswith("data/compare/rows-")
            for k, v in orjson.loads(jsontext.dumps(shard)).items()}
    return rows, site.board_cells[compare.ROW_MEMO]


def test_compare_rows_are_the_last_builds_only_where_their_runs_are_the_same(grown) -> None:
    """pages/compare.py: a row's JSON is taken from the last build where every run of the row has the same headline
    row (its hash) and run file (its sha256: the relation scores come from it), and made again otherwise."""
    rows, memo = _compare_rows(grown["work"], {})
    assert sorted(rows) == sorted(memo) and len(rows) > 10
    assert all(orjson.loads(memo[k][1]) == rows[k] for k in rows)
    a, b, c = sorted(k for k in rows if any("rel" in t for t in rows[k]["tasks"].values()))[:3]
    previous = {**memo, a: [memo[a][0], '{"kept":"a"}'], b: ["another key", '{"kept":"b"}'], "gone": ["k", "{}"]}
    again, memo2 = _compare_rows(grown["work"], previous)
    assert again[a] == {"kept": "a"}  # the same runs: taken as the last build made it
    assert again[b] == rows[b] and memo2[b] == memo[b]  # another key: made again
    assert "gone" not in memo2 and {k: v for k, v in again.items() if k != a} == {k: v for k, v in rows.items() if k != a}
    run_c = next(iter(rows[c]["tasks"].values()))["run"]
    previous = {**memo, c: [memo[c][0], '{"kept":"c"}']}
    changed, memo3 = _compare_rows(grown["work"], previous, {run_c: "0" * 64})
    assert changed[c] == rows[c] and memo3[c][0] != memo[c][0]  # its run file changed: made again


MEMO_FILES = {  # the work folder's memo files: name, reader, the field that holds the entries
    "cells": (build.CELL_MEMO, build._read_cells, "cells"),
    "rows": (build.ROW_MEMO, build._read_row_cells, "rows"),
    "compare": (build.COMPARE_MEMO, build._read_compare_rows, "rows"),
}


@pytest.mark.parametrize("memo", sorted(MEMO_FILES))
@pytest.mark.parametrize("text", [b"\xff not json", b"[]", b'{"code": "other", "FIELD": {"r": ["k", "{}"]}}',
                                  b'{"code": "c", "FIELD": []}', b'{"code": "c"}'])
def test_a_damaged_or_foreign_memo_is_ignored(tmp_path, memo, text) -> None:
    name, read, field = MEMO_FILES[memo]
    path = tmp_path / name
    path.write_bytes(text.replace(b"FIELD", field.encode()))
    assert read(path, "c") == {}
    assert read(tmp_path / "absent.json", "c") == {}


@pytest.mark.parametrize(("memo", "entries", "kept"), [
    ("cells", b'{"a": [7, "<td>", "</td>"], "b": ["7", "x"], "c": [7], "d": [7, 3], "e": [7.5, "x"], "f": {"x": 1}}',
     {"a": [7, "<td>", "</td>"]}),
    ("rows", b'{"a": [7, "<tr>", "<td></td>", "<td>"], "b": [7, "<tr>", "x"], "c": ["7", "a", "b", "c"], '
             b'"d": [7, "a", 3, "c"], "e": {"x": 1}}', {"a": [7, "<tr>", "<td></td>", "<td>"]}),
    ("compare", b'{"a": ["k", "{}"], "b": ["k"], "c": ["k", 3], "d": [1, "{}"], "e": ["k", "{}", "x"], "f": {"k": "{}"}}',
     {"a": ["k", "{}"]}),
])
def test_only_well_formed_entries_of_a_memo_are_kept(tmp_path, memo, entries, kept) -> None:
    name, read, field = MEMO_FILES[memo]
    path = tmp_path / name
    path.write_bytes(b'{"code": "c", "' + field.encode() + b'": ' + entries + b"}")
    assert read(path, "c") == kept
    link = tmp_path / "link.json"
    link.symlink_to(path)
    assert read(link, "c") == {}  # read through the bounded reader: a link is not the builder's file


def test_relation_scores_of_some_runs_are_those_rows_of_every_runs(grown) -> None:
    con = duckdb.connect(str(grown["work"] / "leaderboard.duckdb"), read_only=True)
    try:
        every = queries.relation_p1(con)
        some = sorted(set(every["run_id"].to_list()))[::3]
        assert queries.relation_p1(con, some).equals(every.filter(pl.col("run_id").is_in(some)))
        assert queries.relation_p1(con, []).is_empty()
    finally:
        con.close()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 5), st.booleans()), max_size=12),
       st.lists(st.tuples(st.integers(0, 3), st.integers(0, 5), st.booleans()), max_size=12))
def test_what_a_page_made_is_what_was_added_since_and_made_by_nothing_before(before_ops, page_ops) -> None:
    """Site.made_since (the tails of the site's ordered collections) is every file made less those made before, whatever was added
    again or by another kind of file of the same path (a data file and a page, a kept file and a snippet)."""
    from leaderboard.render.site import Site

    site = Site(Path("/nonexistent"), None)

    def apply(ops) -> None:
        for kind, i, snippet_path in ops:
            if kind == 0:
                site.pages[f"p{i}.md"] = "x"
            elif kind == 1:
                site.snippets[f"p{i}"] = "x"
            elif kind == 2:
                site.data[f"p{i}.md"] = 1
            else:
                site.written[f"_snippets/p{i}.html" if snippet_path else f"p{i}.md"] = None

    def made() -> set[str]:  # every file made so far, as the memo counted them before made_since
        return set(site.pages) | {f"_snippets/{n}.html" for n in site.snippets} | set(site.data) | set(site.written)

    apply(before_ops)
    before, sizes = made(), site._sizes()
    apply(page_ops)
    assert site.made_since(sizes) == made() - before
