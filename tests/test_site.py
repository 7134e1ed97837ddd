"""The static site: built from real run files; numbers, determinism, escaping, and a real browser."""

from __future__ import annotations

import copy
import functools
import html
import http.server
import json
import os
import re
import shutil
import threading
from pathlib import Path

import duckdb
import pytest

from conftest import ROOT, chromium_path, example, place, rendered_run_pages, with_run_id
from leaderboard.render import tables
from leaderboard.render.build import BuildError, build_site
from leaderboard.render.fmt import fmt

HOSTILE = "<img src=x onerror=alert(1)> {{ config }} **bold** [x](javascript:alert(1)) </script>"
ARTIFACTS = ROOT / "build" / "test-artifacts"


GGUF_BASELINE = "288a5df5bfb6142b"  # SmolLM2-135M-Instruct.Q4_1.gguf as distributed, LAMA T-REx (committed, real)
GGUF_BEAR = "8b15d3866f81cfaa"  # SmolLM2-135M-Instruct.Q4_1.gguf as distributed, BEAR, 10 per relation (committed, real)
BEAR_REPORTED = "271d0b4a27aa5ea4"  # the BEAR leaderboard's HuggingFaceTB/SmolLM2-135M (committed, reported)
DEMO_80 = "9bc2dd34d613390d"  # the toy BERT pruned 80 %


def _gguf_compressed(runs: Path) -> list[str]:
    """Compressed runs of the real GGUF checkpoint, made from its committed baseline for the site tests (the
    scores are scaled, not measured: the study's own runs land in runs/ as they finish; a committed run of the same
    spec has the same run_id and path, and is replaced here). Returns their run ids."""
    base = json.loads(next((ROOT / "runs").rglob(f"{GGUF_BASELINE}.json")).read_text())
    made = []
    for step, factor, measured in (
            ({"method": "prune", "criterion": "l1", "scope": "all", "granularity": "global", "sparsity": 0.3}, 0.8, 0.3),
            ({"method": "prune", "criterion": "l1", "scope": "all", "granularity": "global", "sparsity": 0.5}, 0.4, 0.5),
            ({"method": "quantize", "scheme": "gguf", "scope": "all", "type": "Q8_0"}, 0.99, None)):
        run = copy.deepcopy(base)
        run["compression"] = [*base["compression"], step]
        if measured is not None:
            run["measured"]["sparsity"] = {"all": measured}
        if step["method"] == "quantize":
            run["measured"]["stored_bits_per_weight"] = 13.4522
        res = run["results"][0]
        res.pop("facts", None)
        for metrics in [res["metrics"], *(rel["metrics"] for rel in res.get("relations") or [])]:
            for mv in metrics.values():
                mv["value"] = round(mv["value"] * factor, 6)
                if mv.get("ci"):
                    mv["ci"]["low"], mv["ci"]["high"] = round(mv["ci"]["low"] * factor, 6), round(mv["ci"]["high"] * factor, 6)
        made.append(place(runs, with_run_id(run)).stem)
    return made


def _runs(tmp: Path) -> Path:
    runs = tmp / "runs"
    shutil.copytree(ROOT / "runs", runs, ignore=shutil.ignore_patterns("README.md"))
    _gguf_compressed(runs)
    rep = example("reported")
    rep["notes"] = HOSTILE
    rep["source"]["citation"] = "<script>alert('cite')</script> Petroni et al."
    place(runs, with_run_id(rep))
    broken = example("reproduced-baseline")  # a model whose output was NaN on 7 facts
    broken.update(schema_version="1.1", model=dict(broken["model"], id="org/broken-model"))
    broken["results"] = [dict(broken["results"][0], nonfinite=7)]
    place(runs, with_run_id(broken))
    return runs


SITE_DB: list[Path] = []
SITE_RUNS: list[Path] = []


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("site")
    runs = _runs(tmp)
    build_site(runs, tmp / "public", ROOT, tmp / "work", log=lambda *_: None)
    SITE_DB[:] = [tmp / "work" / "leaderboard.duckdb"]
    SITE_RUNS[:] = [runs]
    return tmp / "public"


def test_pages_exist_with_the_right_numbers(site) -> None:
    for page in ("index.html", "leaderboard.html", "compare.html", "methodology.html", "run-file.html", "downloads.html",
                 "families/index.html", "families/encoder.html", "families/decoder.html", "methods/index.html",
                 "models/index.html", "models/compression-leaderboard--demo-bert-trex.html", "models/bert-base-cased.html",
                 "demo.html", "models/smollm2-135m-instruct.q4_1.gguf.html"):
        assert (site / page).is_file(), page
    board = (site / "leaderboard.html").read_text()
    demo = (site / "demo.html").read_text()
    # the committed toy 80 % run: P@1 0.784 (macro), knowledge kept 0.788 of the 0.994 baseline: on the demo page only
    run80 = json.loads(next((ROOT / "runs").rglob(f"{DEMO_80}.json")).read_text())
    p1 = run80["results"][0]["metrics"]["precision@1"]["value"]
    assert f">{p1:.3f}</a>" in demo and "Global magnitude (L1) pruning 80% of all" in demo
    assert f"runs/{DEMO_80}.html" not in board and "demo-bert-trex" not in board and "lb-badge lb-toy" not in board
    assert "lb-src-reported" in board and ">reported</span>" in board  # reported rows are marked
    # a reported pruning run has no measured sparsity: the cell shows the requested share, marked nominal
    sparsegpt = next(r for r in re.findall(r"<tr .*?</tr>", board, re.S)
                     if "facebook/opt-175b" in r and "SparseGPT pruning 50% of all" in r)
    assert '<td data-sort="0.5">50% <span class="lb-nominal"' in sparsegpt
    run_page = (site / "runs" / "9bc2dd34d613390d.html").read_text()
    assert "leaderboard run --model compression-leaderboard/demo-bert-trex --eval lama:trex" in run_page
    assert "Facts forgotten" in run_page
    assert (site / "charts" / "home-sparsity.svg").read_text().startswith("<svg")
    # the demo's chart is the task with the most pruning runs (LAMA T-REx: both demo models' sweeps), not the task
    # with the most rows (BEAR: 36 reported baselines, 8 demo runs on 15 instance-templates)
    assert "Knowledge kept as weights are pruned (LAMA T-REx; toy models)" in demo
    assert (site / "charts" / "demo-sparsity.svg").read_text().startswith("<svg")
    assert (site / "assets" / "vega" / "vega-bundle.js").stat().st_size > 500_000
    for name in ("runs", "results", "relation_results"):
        assert (site / "downloads" / f"{name}.parquet").is_file() and (site / "downloads" / f"{name}.csv.gz").is_file()
        assert not (site / "downloads" / f"{name}.csv").exists()


def test_csv_downloads_are_gzip_with_the_parquet_rows_and_a_fixed_timestamp(site) -> None:
    """Issue 22, scale: the CSV copies are gzip-compressed (158 MB of plain CSV at 100,000 runs), hold the same rows as
    the Parquet copies (text cells a spreadsheet would run as a formula get an apostrophe), carry the build's fixed
    timestamp, and the downloads page links them."""
    import gzip

    import polars as pl

    from leaderboard.render.build import FIXED_EPOCH
    from leaderboard.render.pages.downloads import DOWNLOAD_TABLES, csv_safe

    page = (site / "downloads.html").read_text()
    for name in DOWNLOAD_TABLES:
        raw = (site / "downloads" / f"{name}.csv.gz").read_bytes()
        assert raw[:2] == b"\x1f\x8b" and int.from_bytes(raw[4:8], "little") == int(FIXED_EPOCH)
        assert raw[3] & 0x08 == 0  # no file name in the header (FNAME): the same rows give the same bytes anywhere
        parquet = pl.read_parquet(site / "downloads" / f"{name}.parquet")
        csv = pl.read_csv(gzip.decompress(raw), schema=parquet.schema)
        assert csv.height == parquet.height > 0 and csv.equals(csv_safe(parquet)), name
        assert f'href="downloads/{name}.csv.gz"' in page


def test_every_local_link_resolves(site) -> None:
    import re

    missing = []
    for page in site.rglob("*.html"):
        for href in re.findall(r'(?:href|src)="([^"#?]+)', page.read_text()):
            if href.startswith(("http://", "https://", "mailto:", "data:", "javascript:")):
                continue
            target = site / href.lstrip("/") if href.startswith("/") else page.parent / href
            if not target.resolve().exists():
                missing.append(f"{page.relative_to(site)} -> {href}")
    assert missing == []


def test_hostile_strings_render_as_text(site) -> None:
    for page in site.rglob("*.html"):
        text = page.read_text()
        assert "<img src=x onerror" not in text, page
        assert "<script>alert(" not in text, page
    run_pages = [p.read_text() for p in (site / "runs").glob("*.html") if "alert(" in p.read_text()]
    assert len(run_pages) == 1 and "&lt;img src=x onerror=alert(1)&gt; {{ config }} **bold** [x](javascript:alert(1)) &lt;/script&gt;" in run_pages[0]
    assert "&lt;script&gt;alert('cite')&lt;/script&gt; Petroni et al." in run_pages[0]


def test_hostile_run_page_renders_its_strings_as_text(site, browser, server) -> None:
    """A run page's blocks become the page in the browser (site/assets/run-page.js) as text nodes only: the hostile
    strings of a run file show as they are written, no element or script of theirs exists, and a javascript: URL
    never becomes a link."""
    rid = next(p.stem for p in (site / "runs").glob("*.html") if "alert(" in p.read_text())
    ctx, tab = _tab(browser)
    dialogs = []
    tab.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    tab.goto(f"{server}/runs/{rid}.html", wait_until="networkidle")
    article = tab.locator("article")
    assert "<img src=x onerror=alert(1)> {{ config }} **bold** [x](javascript:alert(1)) </script>" in article.inner_text()
    assert "<script>alert('cite')</script> Petroni et al." in article.inner_text()
    assert article.locator("img").count() == 0 and article.locator("script").count() == 0
    hrefs = article.evaluate("(a) => Array.from(a.querySelectorAll('a')).map((x) => x.getAttribute('href'))")
    assert hrefs and not any(h.lower().startswith(("javascript:", "data:")) for h in hrefs)
    assert tab.locator("pre.lb-run-data").count() == 0 and article.locator("h2").count() >= 4  # rendered, raw data gone
    assert dialogs == []
    ctx.close()


def test_hostile_model_name_is_refused_before_anything_is_built(tmp_path) -> None:
    runs = tmp_path / "runs"
    bad = copy.deepcopy(example("reported"))
    bad["model"]["id"] = "<img src=x onerror=alert(1)>"
    path = runs / "encoder" / "x" / "0000000000000000.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(bad))
    with pytest.raises(BuildError) as err:
        build_site(runs, tmp_path / "public", ROOT, tmp_path / "work", log=lambda *_: None)
    assert any(p.pointer == "/model/id" for p in err.value.problems)
    assert not (tmp_path / "public").exists()


def test_same_runs_give_a_byte_identical_site(site, tmp_path) -> None:
    """Every file identical, except DuckDB's random database identifier: there, tables and rows are compared."""
    again = tmp_path / "public"
    build_site(_runs(tmp_path), again, ROOT, tmp_path / "work", log=lambda *_: None)
    first = sorted(p.relative_to(site) for p in site.rglob("*") if p.is_file())
    assert first == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    different = [str(p) for p in first if (site / p).read_bytes() != (again / p).read_bytes()]
    assert different in ([], ["downloads/leaderboard.duckdb"])
    a = duckdb.connect(str(site / "downloads" / "leaderboard.duckdb"), read_only=True)
    b = duckdb.connect(str(again / "downloads" / "leaderboard.duckdb"), read_only=True)
    tables = [r[0] for r in a.execute("SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall()]
    assert "runs" in tables and "fact_ranks" in tables
    for t in tables:
        assert a.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() == b.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
    assert a.execute("SELECT count(*) FROM retention").fetchone()[0] > 0  # the views came along


# --- in a real browser ---------------------------------------------------------------------------


_chromium = chromium_path  # test_site_reader imports it from here


@pytest.fixture(scope="module")
def browser():
    exe = _chromium()
    if exe is None or not _has_playwright():
        if os.environ.get("LEADERBOARD_REQUIRE_BROWSER"):
            pytest.fail("Chromium and playwright are required here (LEADERBOARD_REQUIRE_BROWSER is set)")
        pytest.skip("no Chromium or playwright on this machine (CI installs both)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


def _has_playwright() -> bool:
    try:
        import playwright  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.fixture(scope="module")
def server(site):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    handler.log_message = lambda *a, **k: None
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


GGUF_MODEL = "models/smollm2-135m-instruct.q4_1.gguf.html"
PAGES = ["index.html", "leaderboard.html", "models/compression-leaderboard--demo-bert-trex.html",
         "runs/9bc2dd34d613390d.html", "families/encoder.html", "families/decoder.html", "compare.html",
         "methods/prune-l1-global.html", "published/index.html", "published/opt.html", "demo.html", GGUF_MODEL,
         f"runs/{GGUF_BASELINE}.html"]


@pytest.mark.parametrize("page", PAGES)
def test_pages_in_chromium(browser, server, page) -> None:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = ctx.new_page()
    errors, foreign = [], []
    tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: errors.append(str(e)))
    tab.on("request", lambda r: foreign.append(r.url) if not r.url.startswith(server) else None)
    tab.goto(f"{server}/{page}", wait_until="networkidle")
    figures = tab.locator("figure.lb-chart").count()
    if figures:
        tab.wait_for_function(f"document.querySelectorAll('figure.lb-interactive').length === {figures}", timeout=15000)
        assert tab.locator("figure.lb-chart img[src$='.svg']").count() == figures  # the static SVG stays for no-JS readers
        assert tab.locator("figure.lb-interactive .lb-vega svg").count() >= figures
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(ARTIFACTS / f"{page.replace('/', '_')}.png"), full_page=False)
    assert errors == []
    assert foreign == []
    ctx.close()


@pytest.mark.parametrize("page", ["index.html", "leaderboard.html", "runs/9bc2dd34d613390d.html", "families/encoder.html",
                                  "compare.html", "models/compression-leaderboard--demo-bert-trex.html", "published/opt.html",
                                  "demo.html", GGUF_MODEL, f"runs/{GGUF_BASELINE}.html"])
def test_mobile_width_has_no_horizontal_overflow(browser, server, page) -> None:
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True)
    tab = ctx.new_page()
    tab.goto(f"{server}/{page}", wait_until="networkidle")
    tab.wait_for_timeout(300)
    width = tab.evaluate("document.documentElement.scrollWidth")
    tab.screenshot(path=str(ARTIFACTS / f"mobile_{page.replace('/', '_')}.png"))
    assert width <= 390
    ctx.close()


def test_run_page_tables_fit_a_phone(browser, server) -> None:
    """Issue 22: at 390 px no table of a run page scrolls sideways (the per-relation table of a T-REx run did: its 41
    relations are cards now, as the results)."""
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    tab = ctx.new_page()
    tab.goto(f"{server}/runs/{GGUF_BASELINE}.html", wait_until="networkidle")
    assert tab.locator("article h2", has_text="Per relation").count() == 1
    wraps = tab.evaluate("() => Array.from(document.querySelectorAll('article .lb-table-wrap')).map((w) => w.scrollWidth - w.clientWidth)")
    assert len(wraps) >= 3 and max(wraps) <= 1, wraps
    ctx.close()


def test_filtered_rows_stay_hidden_as_cards(browser, server) -> None:
    """At phone width rows are cards (display: grid): a row the default filter hides must not show as a card."""
    ctx, tab = _tab(browser, 390)
    tab.goto(f"{server}/leaderboard.html", wait_until="networkidle")
    cards = tab.locator("table.lb-board tbody tr")
    shown = [cards.nth(i).get_attribute("data-source") for i in range(cards.count()) if cards.nth(i).is_visible()]
    assert shown and set(shown) == {"reproduced"}
    # every row the filter keeps shows as a card, up to the phone's 25 at a time (rows past it carry lb-over; the
    # study's runs took the committed board past 25 reproduced rows)
    kept = tab.locator("table.lb-board tbody tr:not([hidden])").count()
    assert len(shown) == min(kept, 25) == tab.locator("table.lb-board tbody tr:not([hidden]):not(.lb-over)").count()
    ctx.close()


def _tab(browser, width: int = 1280, **kw):
    ctx = browser.new_context(viewport={"width": width, "height": 900 if width > 600 else 844}, is_mobile=width < 600, **kw)
    return ctx, ctx.new_page()


def _column(tab, col: str) -> list[float | None]:
    cells = tab.evaluate(f"""() => {{
        const ths = Array.from(document.querySelectorAll('table.lb-board thead th'));
        const i = ths.findIndex((h) => h.getAttribute('data-col') === '{col}');
        return Array.from(document.querySelectorAll('table.lb-board tbody tr:not([hidden])'))
            .map((tr) => tr.cells[i].getAttribute('data-sort'));
    }}""")
    return [None if c is None else float(c) for c in cells]


def test_score_columns_are_on_screen_at_1280(browser, server) -> None:
    """The numbers readers come for (metric, its interval, kept) fit a 1280 px window: no sideways scrolling."""
    ctx, tab = _tab(browser)
    tab.goto(f"{server}/leaderboard.html", wait_until="networkidle")
    assert tab.evaluate("document.documentElement.scrollWidth") <= 1280
    for col in ("t0", "k0", "sparsity", "bits"):
        box = tab.locator(f"table.lb-board th[data-col='{col}']").bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 1280, col
    # the interval, under the value (reported rows without a standard error have none): the real GGUF model pruned
    assert tab.locator(".lb-col[value='lama:trex']").is_checked()  # the real models' probe: shown by default
    row = tab.locator("table.lb-board tbody tr").filter(has_text="SmolLM2-135M-Instruct.Q4_1.gguf").filter(
        has_text="pruning 50% of all")
    assert row.first.locator("td .lb-ci").first.is_visible()
    tab.screenshot(path=str(ARTIFACTS / "leaderboard_1280.png"))
    # the column chooser: Size is hidden by default; ticking it shows it, unticking the task hides its two columns
    assert not tab.locator("table.lb-board th[data-col='size']").is_visible()
    tab.locator(".lb-col[value='size']").check()
    assert tab.locator("table.lb-board th[data-col='size']").is_visible()
    headline = tab.locator("table.lb-board th[data-col='t0']").get_attribute("data-task")
    tab.locator(f".lb-col[value='{headline}']").uncheck()
    assert not tab.locator("table.lb-board th[data-col='k0']").is_visible()
    assert not tab.locator("table.lb-board tbody tr").first.locator("td").nth(5).is_visible()
    from urllib.parse import parse_qs, urlparse

    cols = parse_qs(urlparse(tab.url).query)["cols"][0].split(",")
    assert "size" in cols and headline not in cols
    ctx.close()


def test_default_order_is_the_headline_metric_descending_and_headers_sort_by_keyboard(browser, server) -> None:
    """The leaderboard opens on the real models' reproduced knowledge probes (LAMA T-REx first, sorted by P@1); the
    reported rows are one filter away, the toy ones on the demo page."""
    ctx, tab = _tab(browser)
    tab.goto(f"{server}/leaderboard.html", wait_until="networkidle")
    assert tab.locator("table.lb-board th[data-col='t0']").get_attribute("data-task") == "lama:trex"
    shown = tab.locator("table.lb-board tbody tr:not([hidden])")
    assert {shown.nth(i).get_attribute("data-source") for i in range(shown.count())} == {"reproduced"}
    assert shown.filter(has_text="SmolLM2-135M-Instruct.Q4_1.gguf").count() >= 4  # as distributed and 3 compressions
    p1 = [v for v in _column(tab, "t0") if v is not None]
    assert p1 == sorted(p1, reverse=True) and len(p1) >= 5  # the GGUF as distributed, 3 compressions, org/broken-model
    n_base = tab.locator("table.lb-board tbody tr.lb-baseline:not([hidden])").count()
    assert n_base >= 2  # the GGUF as distributed and org/broken-model
    # keyboard: Tab to the 'Kept' header's button, Enter sorts high-to-low (baselines have no kept: last), Enter again low-to-high
    button = tab.locator("table.lb-board th[data-col='k0'] button")
    button.focus()
    tab.keyboard.press("Enter")
    assert tab.locator("table.lb-board th[data-col='k0']").get_attribute("aria-sort") == "descending"
    kept = _column(tab, "k0")
    numbers = [v for v in kept if v is not None]
    assert len(numbers) >= 3 and numbers == sorted(numbers, reverse=True) and kept[-n_base:] == [None] * n_base
    tab.keyboard.press("Enter")
    kept = _column(tab, "k0")
    assert [v for v in kept if v is not None] == sorted(numbers) and kept[-1] is None
    assert tab.locator("table.lb-board tbody tr:not([hidden])").first.locator("td").first.inner_text() == "1"
    # filters and sort are in the URL: reopening it gives the same view
    n_reported = tab.locator("table.lb-board tbody tr.lb-src-reported").count()
    assert 1 < n_reported < tab.locator("table.lb-board tbody tr").count()
    tab.select_option(".lb-filter-source", "reported")
    assert tab.locator("table.lb-board tbody tr:not([hidden])").count() == n_reported
    url = tab.url
    assert "source=reported" in url and "sort=k0%3Aascending" in url
    again = ctx.new_page()
    again.goto(url, wait_until="networkidle")
    assert again.locator("table.lb-board tbody tr:not([hidden])").count() == n_reported
    assert again.locator("table.lb-board th[data-col='k0']").get_attribute("aria-sort") == "ascending"
    # 'all' is not the default, so it is written out; reopened, every row shows
    tab.select_option(".lb-filter-source", "")
    assert "source=all" in tab.url
    again.goto(tab.url, wait_until="networkidle")
    assert again.locator("table.lb-board tbody tr:not([hidden])").count() == again.locator("table.lb-board tbody tr").count()
    # the intro's link to the reported rows opens them with their own columns (lm-eval accuracy) shown and sorted
    again.goto(f"{server}/leaderboard.html", wait_until="networkidle")
    again.locator("a.lb-show-reported").click()
    again.wait_for_load_state("networkidle")
    assert again.locator("table.lb-board tbody tr:not([hidden])").count() == n_reported
    th = again.locator("table.lb-board th[aria-sort='descending']")
    assert th.get_attribute("data-task").startswith("lm-eval:") and th.is_visible()
    col = th.get_attribute("data-col")
    assert _column(again, col)[0] is not None
    ctx.close()


def test_compare_view_round_trips_through_the_url(browser, server) -> None:
    ctx, tab = _tab(browser)
    tab.goto(f"{server}/demo.html", wait_until="networkidle")  # the toy models' board (picks work there too)
    rows = tab.locator("table.lb-board tbody tr").filter(has_text="demo-bert-trex")
    picked = [rows.filter(has_text=t).first for t in ("uncompressed baseline", "pruning 80% of all", "random pruning 50%")]
    for r in picked:
        r.locator("input.lb-pick").check()
    assert tab.locator(".lb-npicked").inner_text() == "3"
    tab.locator("a.lb-compare").click()
    tab.wait_for_selector(".lb-compare-table")
    assert "rows=" in tab.url
    head = tab.locator(".lb-compare-table").first.locator("thead th")
    assert head.count() == 4  # the label column and three picked rows
    tab.wait_for_selector(".lb-facts-summary")
    summary = tab.locator(".lb-facts-summary").inner_text()
    # facts forgotten between the baseline and the 80 % run: the same count the store computes
    con = duckdb.connect(str(SITE_DB[0]), read_only=True)
    want = con.execute("SELECT forgotten, learned FROM facts_forgotten WHERE run_id = '9bc2dd34d613390d'").fetchone()
    con.close()
    ids = [k.strip() for k in tab.url.split("rows=")[1].split("&")[0].split("%2C")]
    assert len(ids) == 3
    tab.select_option(".lb-compare-b", ids[1])
    tab.wait_for_function("document.querySelector('.lb-facts-summary')")
    summary = tab.locator(".lb-facts-summary").inner_text()
    assert f"{want[0]:,} forgotten" in summary and f"{want[1]:,} newly right" in summary
    tab.select_option(".lb-compare-rsort", "drop")
    tab.wait_for_selector(".lb-facts-summary")
    url = tab.url
    assert "b=" in url and "rsort=drop" in url
    text = tab.locator(".lb-compare-out").inner_text()
    tab.screenshot(path=str(ARTIFACTS / "compare_1280.png"), full_page=True)
    other = ctx.new_page()
    other.goto(url, wait_until="networkidle")
    other.wait_for_selector(".lb-facts-summary")
    assert other.locator(".lb-compare-out").inner_text() == text
    ctx.close()


def test_dark_mode_follows_the_system_and_the_toggle(browser, server) -> None:
    ctx, tab = _tab(browser, color_scheme="dark")
    tab.goto(f"{server}/families/decoder.html", wait_until="networkidle")
    assert tab.evaluate("document.body.getAttribute('data-md-color-scheme')") == "slate"
    tab.wait_for_selector("figure.lb-interactive")
    fill = tab.evaluate("getComputedStyle(document.querySelector('.lb-vega svg .role-axis-label text')).fill")
    assert fill in ("rgb(230, 230, 230)", "#e6e6e6")  # axis labels readable on the dark background
    tab.screenshot(path=str(ARTIFACTS / "dark_family_decoder.png"))
    tab.locator("label[title='Switch to light mode']").first.click()
    assert tab.evaluate("document.body.getAttribute('data-md-color-scheme')") == "default"
    ctx.close()


def test_legends_list_the_series_drawn_and_points_open_runs(browser, server) -> None:
    ctx, tab = _tab(browser)
    tab.goto(f"{server}/demo.html", wait_until="networkidle")  # the toy models' sweeps: the most series
    figures = tab.locator("figure.lb-chart")
    tab.wait_for_function(f"document.querySelectorAll('figure.lb-interactive').length === {figures.count()}")
    for i in range(figures.count()):
        fig = figures.nth(i)
        spec = json.loads(fig.locator("script.lb-spec").text_content())
        drawn = {row["method_name"] for rows in spec["datasets"].values() for row in rows}
        legend = set(fig.locator(".role-legend").first.locator(".role-legend-label text").all_text_contents())
        assert legend == drawn, (i, legend, drawn)
        assert fig.locator(".lb-vega").get_attribute("role") == "img"
        assert len(fig.locator(".lb-vega").get_attribute("aria-label")) > 40
    def click(locator) -> None:  # Vega picks items by position: a real mouse click at the item's centre
        locator.evaluate("(e) => e.scrollIntoView({block: 'center'})")
        box = locator.bounding_box()
        tab.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)

    first = figures.first
    # the legend highlights: clicking a method dims the others
    click(first.locator(".role-legend-label text").first)
    tab.wait_for_timeout(300)
    opacities = first.evaluate("(f) => Array.from(f.querySelectorAll('.lb-vega svg .mark-line path'))"
                               ".map((p) => p.style.opacity || '1')")
    assert any(float(o) < 0.5 for o in opacities) and any(float(o) == 1 for o in opacities)
    # a point (one model behind it) opens its run page
    with tab.expect_navigation():
        click(figures.nth(1).locator(".mark-symbol path").first)
    assert "/runs/" in tab.url
    ctx.close()


def test_vega_is_loaded_only_where_a_chart_is(browser, server) -> None:
    ctx, tab = _tab(browser)
    for page, expected in (("leaderboard.html", False), ("runs/9bc2dd34d613390d.html", False), ("index.html", True)):
        urls = []
        tab.on("request", lambda r, urls=urls: urls.append(r.url))
        tab.goto(f"{server}/{page}", wait_until="networkidle")
        assert any(u.endswith("vega-bundle.js") for u in urls) is expected, page
        tab.remove_listener("request", tab.listeners("request")[0]) if hasattr(tab, "listeners") else None
    ctx.close()


def test_run_pages_are_small_pages_at_their_old_urls(site, browser, server) -> None:
    """Issue 22 (scale): a run page is its title and its data (the blocks site/assets/run-page.js turns into the page;
    the raw data for a reader without JavaScript) in a small page: the site's stylesheets, a one-line header, one
    script shared by every run page, none of MkDocs Material's chrome (19 KB a page: 250 MB at 10,000 runs). Its URL
    stays runs/<run_id>.html and the sitemap lists it."""
    page = (site / "runs" / "9bc2dd34d613390d.html").read_text()
    data = page[page.index('<pre class="lb-run-data">'):page.index("</pre>")]
    assert len(page) - len(data) < 1600, len(page) - len(data)
    assert page.count("<script") == 1 and '<script src="page.js"></script>' in page
    assert "md-tabs" not in page and "md-search" not in page and "bundle." not in page and "__config" not in page
    assert re.search(r'<link rel="stylesheet" href="\.\./assets/stylesheets/main\.[0-9a-f]+\.min\.css">', page)
    assert '<link rel="stylesheet" href="../assets/leaderboard.css">' in page and 'href="../index.html"' in page
    assert '<link rel="canonical" href="https://compression-leaderboard.github.io/compression-leaderboard/runs/9bc2dd34d613390d.html">' in page
    assert "<title>compression-leaderboard/demo-bert-trex · Global magnitude (L1) pruning 80% of all · LAMA T-REx - " in page
    assert not (site / "runs" / "_shell.html").exists() and not list((site / "runs").glob("*.json"))
    assert "runs/9bc2dd34d613390d.html</loc>" in (site / "sitemap.xml").read_text()
    # in the browser: the header has the site's sections, and the blocks are the page
    ctx, tab = _tab(browser)
    tab.goto(f"{server}/runs/9bc2dd34d613390d.html", wait_until="networkidle")
    assert tab.locator('.lb-mini-header nav a[href="../leaderboard.html"]').inner_text() == "Leaderboard"
    assert tab.locator("pre.lb-run-data").count() == 0
    assert tab.locator("article h2").all_inner_texts()[:3] == ["Results", "Per relation (P@1)", "Compression"]
    assert tab.locator("article .lb-page-status").count() == 1
    ctx.close()


def test_compact_run_page_follows_the_dark_mode(browser, server) -> None:
    """Without Material's scripts the run page still follows the system's dark mode, and the palette picked on the site."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme="dark")
    tab = ctx.new_page()
    tab.goto(f"{server}/runs/9bc2dd34d613390d.html", wait_until="networkidle")
    assert tab.evaluate("document.body.getAttribute('data-md-color-scheme')") == "slate"
    tab.evaluate("""__md_set("__palette", {index: 0, color: {media: "(prefers-color-scheme: light)", scheme: "default",
                    primary: "indigo", accent: "indigo"}})""")
    tab.reload(wait_until="networkidle")
    assert tab.evaluate("document.body.getAttribute('data-md-color-scheme')") == "default"
    ctx.close()


def test_run_page_basics(site) -> None:
    page = (site / "runs" / "9bc2dd34d613390d.html").read_text()
    assert "compression-leaderboard/demo-bert-trex · Global magnitude (L1) pruning 80% of all · LAMA T-REx" in page
    # the run file: in the repository, at the commit the site was built from (issue 22, scale: no copy in the site)
    assert '["a","@repo/runs/encoder/compression-leaderboard--demo-bert-trex/9bc2dd34d613390d.json","run file (JSON)"]' in page
    repo = json.loads(re.search(r"window\.LB_SITE=(\{.*?\});", (site / "runs" / "page.js").read_text()).group(1))["repo"]
    assert re.fullmatch(r"https://github\.com/compression-leaderboard/compression-leaderboard/blob/[0-9a-f]{12}/", repo), repo
    base = json.loads(next((ROOT / "runs").rglob("4f77a6412579a8db.json")).read_text())
    assert base["compression"] == [] and '["a","4f77a6412579a8db.html",' in page  # the uncompressed baseline
    assert "P19 · place of birth" in page or "P103 · native language" in page  # relation names from the LAMA data
    reported = [p.read_text() for p in (site / "runs").glob("*.html") if '["badge","reported",' in p.read_text()]
    # a BibTeX block for each reported source, with the source's fields (author, title, year), not the whole citation
    # as a title; the hostile citation that matches no citation shape is a note of an @misc entry
    assert reported and all(re.search(r"@(inproceedings|article|misc)\{", r) for r in reported)
    assert any("@inproceedings{frantar2023sparsegpt," in r and "author = {Frantar and Alistarh}" in r for r in reported)
    assert "@inproceedings{namburi-etal-2023-cost" in (site / "index.html").read_text()
    assert 'href="https://github.com/' in (site / "contributing.html").read_text()  # the links of mkdocs.yml's extra
    notfound = (site / "404.html").read_text()
    assert 'href="/assets' not in notfound and 'src="/assets' not in notfound
    # toy models are on the demo page, marked there (and on their own pages): no toy banner on the main pages
    assert 'class="lb-banner"' not in (site / "leaderboard.html").read_text()
    assert "lb-demo-banner" in (site / "demo.html").read_text() and "lb-demo-banner" in page  # page: a toy run


# --- real models lead; toy models on the demo page; lineage; reported beside reproduced -------------------


def _before_build_info(page: str) -> str:
    """The home page without its 'This build' part (which lists the latest run files, toy ones included)."""
    return page.split("<h2>This build</h2>")[0]


def test_home_leads_with_the_real_models_knowledge_probes(site) -> None:
    home = (site / "index.html").read_text()
    lead = _before_build_info(home)
    assert "Knowledge kept as weights are pruned (LAMA T-REx; real models, reproduced here)" in lead
    assert "The charts and tables below come from <strong>real models</strong>" in lead
    figure = lead.split('id="chart-home-sparsity"')[1].split("</figure>")[0]
    spec = json.loads(re.search(r'<script type="application/json" class="lb-spec">(.*?)</script>', figure).group(1))
    points = [row for rows in spec["datasets"].values() for row in rows]
    assert points and {p["panel"] for p in points} == {"decoder · LAMA T-REx"}
    # the real models' runs (the GGUF checkpoints: SmolLM2, and Gemma 3 as its study lands), none of the toy models'
    gguf_runs = {p.stem for p in (SITE_RUNS[0] / "decoder").glob("*.gguf/*.json")}
    assert {p["run_id"] for p in points} <= gguf_runs
    best = lead.split("Which compressions keep the most knowledge")[1]
    # a compression of the real model heads it (which one depends on the committed study runs)
    assert re.search(r"(SmolLM2-135M-Instruct\.Q4_1|gemma-3-270m-q4_k_m)\.gguf</a> · <a [^>]+>[A-Z][^<]+ of all</a>", best)
    assert "demo-bert-trex" not in lead and "demo-llama" not in lead and "lb-badge lb-toy" not in lead
    assert "on GGUF Q4_1</span>" in best  # the compressed rows say what they were compressed from
    # the real models' table: the GGUF as distributed, its lineage, and a pointer to the demo page
    real = lead.split("<h2>Real models probed here</h2>")[1]
    assert ">0.171</a>" in real and "Already quantized as distributed" in real
    assert 'href="demo.html">demo page</a>' in lead


def test_toy_models_are_on_the_demo_page_and_nowhere_in_the_main_tables(site) -> None:
    demo = (site / "demo.html").read_text()
    for model in ("compression-leaderboard/demo-bert-trex", "compression-leaderboard/demo-llama-trex-bear"):
        assert f'href="models/{model.replace("/", "--")}.html">{model}</a> <span class="lb-badge lb-toy">toy</span>' in demo
    assert "Toy models.</strong> Everything on this page comes from tiny demonstration models" in demo
    assert re.search(r'<a href="demo\.html" class="md-tabs__link">\s*Demo \(toy models\)', (site / "index.html").read_text())
    for page in ("leaderboard.html", "families/encoder.html", "families/decoder.html", "methods/prune-l1-global.html"):
        text = (site / page).read_text()
        body = text.split('class="lb-table lb-board')[1] if 'class="lb-table lb-board' in text else ""
        assert "demo-bert-trex" not in body and "lb-badge lb-toy" not in body, page
        assert "demo.html" in text, page  # where they went
    # a method run only on toy models says so instead of showing an empty table
    random = (site / "methods/prune-random-global.html").read_text()
    assert "No real model has been compressed with it here yet" in random and "demo.html" in random
    toy_model = (site / "models/compression-leaderboard--demo-bert-trex.html").read_text()
    assert "<strong>Toy model</strong>" in toy_model
    models = (site / "models/index.html").read_text()
    assert models.index("SmolLM2-135M-Instruct.Q4_1.gguf") < models.index('id="toy-models"') < models.index("demo-bert-trex")


def test_a_checkpoint_that_arrived_quantized_says_what_kept_means(site, browser) -> None:
    sentence = ("Already quantized as distributed (GGUF Q4_1: 79% of weights Q4_1, 21% Q8_0, &lt;1% F32); "
                "&#x27;kept&#x27; is relative to that checkpoint, not to its unquantized base model "
                "HuggingFaceTB/SmolLM2-135M-Instruct.")
    model = (site / GGUF_MODEL).read_text()
    assert sentence in model and "<dt>base model</dt><dd>HuggingFaceTB/SmolLM2-135M-Instruct</dd>" in model
    compressed = [p.stem for p in (site / "runs").glob("*.html")
                  if "SmolLM2-135M-Instruct.Q4_1.gguf · Global magnitude (L1) pruning 50% of all · LAMA T-REx" in p.read_text()]
    assert len(compressed) == 1
    shown = rendered_run_pages(site, [GGUF_BASELINE, compressed[0]], browser)
    base_page, compressed = shown[GGUF_BASELINE], [shown[compressed[0]]]
    for page in (base_page, compressed[0]):
        assert html.unescape(sentence) in html.unescape(page)
        assert "<dt>weights per tensor type</dt><dd>79% of weights Q4_1, 21% Q8_0, &lt;1% F32</dd>" in page
    assert "<dt>bits per weight</dt><dd>5.74 as stored (96,576,768 bytes" in base_page  # not the 32 of float32 memory
    assert f'href="{GGUF_BASELINE}.html">its baseline (the checkpoint as distributed)</a>' in compressed[0]
    assert '<td data-label="Done by">the checkpoint, as distributed</td>' in compressed[0]
    assert '<td data-label="Done by">this run</td>' in compressed[0]
    # the as-distributed row of the tables shows the stored bits per weight, and every page that lists the
    # model's rows carries the sentence
    row = next(r for r in re.findall(r"<tr .*?</tr>", (site / "leaderboard.html").read_text(), re.S)
               if "As distributed (GGUF Q4_1 quantization of all)" in r)
    assert 'data-sort="5.7437">5.7</td>' in row
    for page in ("leaderboard.html", "families/decoder.html", "methods/prune-l1-global.html"):
        assert sentence in (site / page).read_text(), page


def test_published_results_of_a_related_checkpoint_sit_beside_ours(site) -> None:
    model = (site / GGUF_MODEL).read_text()
    beside = model.split('<h2 id="related">Published beside ours</h2>')[1].split("</table>")[0]
    assert f'href="../runs/{BEAR_REPORTED}.html">0.199</a>' in beside
    assert 'href="huggingfacetb--smollm2-135m.html">HuggingFaceTB/SmolLM2-135M</a>' in beside
    assert "a different checkpoint: base vs Instruct, bf16 vs Q4_1" in beside
    # our own BEAR run of the checkpoint as distributed sits in the "Ours" cell, linked (test_published_pages:
    # a tree without it says "not run yet")
    ours = json.loads(next((ROOT / "runs").rglob(f"{GGUF_BEAR}.json")).read_text())
    value = ours["results"][0]["metrics"]["accuracy"]["value"]
    assert f'<a href="../runs/{GGUF_BEAR}.html">{value:.3f}</a>' in beside and "not run yet" not in beside
    reported = (site / "models" / "huggingfacetb--smollm2-135m.html").read_text()
    assert f'Measured here on a related checkpoint: <a href="{GGUF_MODEL.split("/")[1]}">' in reported


# --- a synthetic tree: the banner, and the 2,000-run layout at 1280 and 390 px ---------------------------


@pytest.fixture(scope="module")
def synthetic_site(tmp_path_factory) -> Path:
    from leaderboard import synthetic

    tmp = tmp_path_factory.mktemp("synthetic-site")
    synthetic.write(synthetic.generate(400, seed=3), tmp / "runs")
    # a big board at a small scale: more than INLINE_MAX rows keep their rows out of the page (issue 22, scale)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(tables, "INLINE_MAX", BIG_BOARD)
        mp.setattr(tables, "FIRST_ROWS", FIRST_ROWS)
        build_site(tmp / "runs", tmp / "public", ROOT, tmp / "work", log=lambda *_: None)
    return tmp / "public"


BIG_BOARD, FIRST_ROWS = 30, 20


def _board_data(site: Path, name: str = "leaderboard") -> tuple[dict, list[str]]:
    folder = site / "data" / "board" / name
    index = json.loads((folder / "index.json").read_text())
    rows = [tr for k in range(-(-index["n"] // index["shard"])) for tr in json.loads((folder / f"rows-{k}.json").read_text())]
    return index, rows


def test_a_big_board_keeps_its_rows_out_of_the_page(synthetic_site) -> None:
    """Issue 22 (scale): 2,554 rows were 4.2 MB of leaderboard.html at 10,000 runs. A board of more than INLINE_MAX rows
    holds the first FIRST_ROWS rows of its default view (readable without JavaScript); every row is in the shards."""
    page = (synthetic_site / "leaderboard.html").read_text()
    table = re.search(r'<table id="lb-board-[^"]*"[^>]*>', page).group(0)
    index, rows = _board_data(synthetic_site)
    assert index["n"] == len(rows) > BIG_BOARD and f'data-all="{len(rows)}"' in table and 'data-rows="data/board/leaderboard/"' in table
    inline = re.findall(r"<tr class=.*?</tr>", page.split("<tbody>")[1].split("</tbody>")[0], re.S)
    assert len(inline) == FIRST_ROWS
    number = re.compile(r"^(<tr[^>]*><td>)\d+<")
    assert [number.sub(r"\1#<", tr) for tr in inline] == [number.sub(r"\1#<", tr) for tr in rows[:FIRST_ROWS]]
    assert f"the first {FIRST_ROWS} of {len(rows)} rows" in page
    t0 = json.loads((synthetic_site / "data" / "board" / "leaderboard" / "c-t0.json").read_text())
    assert len(t0) == len(rows) and t0 == sorted(t0, key=lambda v: (v is None, -(v or 0)))  # the default order
    family = json.loads((synthetic_site / "data" / "board" / "family-encoder" / "index.json").read_text())
    assert set(family["dict"]["family"]) == {"encoder"}


def test_the_search_index_does_not_grow_with_the_boards_rows(synthetic_site) -> None:
    """Issue 22 (scale): the boards' rows were indexed by the site search (3.3 MB of index at 10,000 runs, fetched by
    every page's first load). Their tables are left out; each model's page (title: the model) stays in the index,
    and leads to its runs."""
    index = json.loads((synthetic_site / "search" / "search_index.json").read_text())["docs"]
    board = " ".join(d["text"] for d in index if d["location"].startswith("leaderboard.html"))
    _, rows = _board_data(synthetic_site)
    label = re.search(r'class="lb-comp"[^>]*>([^<]+)<', rows[0]).group(1)
    assert "Leaderboard" in {d["title"] for d in index} and label not in board and "lb-comp" not in board
    model = re.search(r'class="lb-model" href="models/([^"]+)"[^>]*>([^<]+)<', rows[0])
    assert any(d["location"] == f"models/{model.group(1)}" and model.group(2) in d["title"] for d in index)


def test_a_model_pages_run_list_is_searched_as_material_reads_the_list_the_reader_gets(synthetic_site) -> None:
    """Issue 22, scale: a model page's list of every run (a link per run) is put into the page after MkDocs, and the
    site search reads a stand-in without the links (site.searched_as). The index must be what Material's own search
    parser makes of the list the reader gets, and that list must link every run of the model."""
    from material.plugins.search.plugin import Parser

    index = {d["location"]: d["text"] for d in json.loads((synthetic_site / "search" / "search_index.json").read_text())["docs"]}
    pages = sorted((synthetic_site / "models").glob("*.html"))
    checked = 0
    for page in pages:
        html = page.read_text()
        m = re.search(r'<h2 id="every-run">.*?</h2><ul class="lb-every-run">.*?</ul>', html, re.S)
        if m is None:
            continue
        assert "leaderboard-search:" not in html and "leaderboard-end:" not in html and "leaderboard-after:" not in html
        parser = Parser()
        parser.feed(m.group(0))
        parser.close()
        (section,) = [s for s in parser.data if s.id == "every-run"]
        assert index[f"models/{page.name}#every-run"] == "".join(section.text).strip() != ""
        linked = re.findall(r'href="\.\./runs/([0-9a-f]{16})\.html"', m.group(0))
        n_runs = int(re.search(r"<dt>runs</dt><dd>([0-9,]+)</dd>", html).group(1).replace(",", ""))
        assert len(set(linked)) == len(linked) == n_runs > 0, page.name
        assert all((synthetic_site / "runs" / f"{rid}.html").is_file() for rid in linked), page.name
        checked += 1
    assert checked == len(pages) - 1 >= 2  # every model page (not the index)
    generated = synthetic_site.parent / "work" / "generated"  # what MkDocs converted: a placeholder, not the list
    assert not any("lb-every-run" in md.read_text() for md in (generated / "models").glob("*.md"))
    assert len(list((generated / "_snippets").glob("search-*.html"))) == checked


def test_a_big_board_sorts_filters_and_pages_over_every_row(browser, synthetic_server, synthetic_site) -> None:
    index, rows = _board_data(synthetic_site)
    t0 = json.loads((synthetic_site / "data" / "board" / "leaderboard" / "c-t0.json").read_text())
    ctx, tab = _tab(browser)
    errors = []
    tab.on("pageerror", lambda e: errors.append(str(e)))
    fetched = []
    tab.on("request", lambda r: fetched.append(r.url) if "/data/board/" in r.url else None)
    shown = "Array.from(document.querySelectorAll('table.lb-board tbody tr')).filter((r) => !r.hidden)"
    tab.goto(f"{synthetic_server}/leaderboard.html", wait_until="networkidle")
    assert fetched == []  # the first view is in the page
    assert tab.evaluate(f"{shown}.length") == FIRST_ROWS
    # one "more" button at 1280 px (the phone's 25-cards button stayed visible there, "Show 0 more", under the theme's
    # .md-button rule)
    assert tab.locator("button.lb-more-rows").is_visible() and not tab.locator("button.lb-more").is_visible()
    tab.click("button.lb-more-rows")
    tab.wait_for_function(f"{shown}.length === {min(2 * FIRST_ROWS, len(rows))}")
    # sort by the first task ascending: the smallest value of every row comes first, not of the rows in the page
    tab.click('th[data-col="t0"] button')
    lowest = min(v for v in t0 if v is not None)
    tab.wait_for_function(f"{shown}[0].cells[5].getAttribute('data-sort') === '{lowest!r}'")
    assert "sort=t0%3Aascending" in tab.url
    # a family filter from the address, over every row
    fam = index["dict"]["family"][index["family"][-1]]
    n = sum(1 for c in index["family"] if index["dict"]["family"][c] == fam)
    tab.goto(f"{synthetic_server}/leaderboard.html?family={fam}&sort=t0:ascending", wait_until="networkidle")
    tab.wait_for_function(f"document.querySelector('.lb-count').textContent.startsWith('{n} of {len(rows)} rows')")
    assert set(tab.evaluate(f"{shown}.map((r) => r.getAttribute('data-family'))")) == {fam}
    assert tab.input_value(".lb-filter-family") == fam
    # the text filter
    model = re.search(r'class="lb-model"[^>]*>([^<]+)<', rows[-1]).group(1)
    tab.fill(".lb-filter-text", model)
    tab.wait_for_function(f"{shown}.length > 0 && {shown}.every((r) => r.querySelector('.lb-model').textContent === {json.dumps(model)})")
    assert errors == []
    ctx.close()



@pytest.fixture(scope="module")
def synthetic_server(synthetic_site):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(synthetic_site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    handler.log_message = lambda *a, **k: None
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_synthetic_build_says_so_on_every_page(synthetic_site) -> None:
    pages = [p for p in synthetic_site.rglob("*.html") if p.name != "404.html"]
    assert len(pages) > 400
    def says_synthetic(p) -> bool:
        text = p.read_text()
        if p.parent.name == "runs":  # a run page's banner is in its blocks (the run-page script shows it)
            return '["p","lb-banner lb-page-status",' in text and '["b","synthetic"]' in text
        return 'class="lb-banner' in text and "synthetic</strong>" in text

    missing = [str(p.relative_to(synthetic_site)) for p in pages if not says_synthetic(p)]
    assert missing == []
    assert "lb-synthetic" in (synthetic_site / "leaderboard.html").read_text()  # the badge in the first column


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("page", ["index.html", "leaderboard.html", "families/encoder.html", "compare.html"])
def test_synthetic_site_in_chromium(browser, synthetic_server, page, width) -> None:
    ctx, tab = _tab(browser, width)
    errors = []
    tab.on("pageerror", lambda e: errors.append(str(e)))
    tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    tab.goto(f"{synthetic_server}/{page}", wait_until="networkidle")
    tab.wait_for_timeout(500)
    assert tab.locator(".lb-banner").first.is_visible()
    assert tab.evaluate("document.documentElement.scrollWidth") <= width
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(ARTIFACTS / f"synthetic_{width}_{page.replace('/', '_')}.png"))
    assert errors == []
    ctx.close()


def test_a_run_with_non_finite_model_output_is_flagged_on_its_page(site) -> None:
    pages = [p for p in (site / "runs").glob("*.html") if "org/broken-model" in p.read_text()]
    assert pages and all("Model output is not finite" in p.read_text() for p in pages)
    healthy = (site / "runs" / "9bc2dd34d613390d.html").read_text()
    assert "Model output is not finite" not in healthy
    # and its row on the leaderboard carries the badge
    assert "output not finite</span>" in (site / "leaderboard.html").read_text()


def test_home_lists_the_run_files_added_since_the_previous_build(tmp_path) -> None:
    """'What changed' comes from git: files added since the commit of the previous published build (CI passes it),
    and files not committed yet; the same checkout gives the same page."""
    import subprocess

    from leaderboard.render.build import BuildError, run_changes

    def git(*args: str) -> str:
        return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.org", "-C", str(repo), *args],
                              check=True, capture_output=True, text=True).stdout.strip()

    published = sorted(p for p in (ROOT / "runs" / "encoder" / "compression-leaderboard--demo-bert-trex").glob("*.json"))
    repo = tmp_path / "repo"
    folder = repo / "runs" / "encoder" / "compression-leaderboard--demo-bert-trex"
    folder.mkdir(parents=True)
    git("init", "-q")
    for p in published[:3]:
        shutil.copy(p, folder / p.name)
    git("add", "-A")
    git("commit", "-q", "-m", "first runs")
    first = git("rev-parse", "HEAD")
    (repo / "README").write_text("not a run\n")
    git("add", "-A")
    git("commit", "-q", "-m", "docs")
    for p in published[3:5]:
        shutil.copy(p, folder / p.name)
    git("add", "-A")
    git("commit", "-q", "-m", "two more runs")
    shutil.copy(published[5], folder / published[5].name)  # not committed
    rel = [f"encoder/compression-leaderboard--demo-bert-trex/{p.name}" for p in published]

    default = run_changes(repo / "runs")  # before the latest commit that changed runs/
    assert default["added"] == sorted(rel[3:5]) and default["uncommitted"] == [rel[5]]
    assert run_changes(repo / "runs", first)["added"] == sorted(rel[3:5])
    with pytest.raises(BuildError, match="not a commit of this checkout"):
        run_changes(repo / "runs", "no-such-commit")
    (tmp_path / "elsewhere").mkdir()
    assert run_changes(tmp_path / "elsewhere") == {}  # not a git checkout: the page says what it can

    build_site(repo / "runs", tmp_path / "public", ROOT, tmp_path / "work", log=lambda *_: None, since=first)
    home = (tmp_path / "public" / "index.html").read_text()
    assert f"What changed: 2 run files added since commit <code>{first[:12]}</code>" in home
    for p in published[3:5]:
        assert f'href="runs/{p.stem}.html"' in home.split("What changed")[1]
    assert f'href="runs/{published[0].stem}.html"' not in home.split("What changed")[1]
    assert "Not committed yet (1)" in home
    assert '<span class="lb-badge lb-toy">toy</span></li>' in home.split("What changed")[1]  # the demo runs are toy
    # a build with no real model falls back to what there is: the toy models lead, said on the page and the banner
    assert "No real model has been probed here yet" in home and "toy models (demo)" in home
    assert "Knowledge kept as weights are pruned (LAMA T-REx; toy models (demo))" in home
    assert "<strong>toy</strong> models" in (tmp_path / "public" / "leaderboard.html").read_text()


def test_lineage_sentence_and_related_checkpoints_come_from_declared_data() -> None:
    """The tensor-type shares come from the run file's counts; related checkpoints from the one declared mapping
    (render/lineage.py), never from similar names."""
    from leaderboard.render import lineage

    counts = {"Q4_1": 106168320, "Q8_0": 28311552, "F32": 35136}  # SmolLM2-135M-Instruct.Q4_1.gguf
    assert lineage.tensor_mix(json.dumps(counts)) == "79% of weights Q4_1, 21% Q8_0, <1% F32"
    assert lineage.tensor_mix(None) is None and lineage.tensor_mix("{}") is None
    row = {"checkpoint_label": "GGUF Q4_K quantization of all", "tensor_types": None, "base_model_id": None,
           "derived_by": "quantized"}
    assert lineage.lineage_note(row) == ("Already quantized as distributed (GGUF Q4_K); 'kept' is relative to that "
                                         "checkpoint, not to the unquantized original.")
    assert lineage.lineage_note({"checkpoint_label": None, "base_model_id": None, "derived_by": None}) is None
    base = "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert lineage.related_models(base) == [(base, "its base model before the checkpoint's compression"),
                                            ("HuggingFaceTB/SmolLM2-135M", "base vs Instruct")]
    assert lineage.related_caveat(base, "HuggingFaceTB/SmolLM2-135M", "GGUF Q4_1 quantization of all") == \
        "a different checkpoint: base vs Instruct, bf16 vs Q4_1"
    # a similar name is not a relation: SmolLM2-360M-Instruct's checkpoints get no SmolLM2-135M (or -360M) beside them
    assert lineage.related_models("HuggingFaceTB/SmolLM2-360M-Instruct") == [
        ("HuggingFaceTB/SmolLM2-360M-Instruct", "its base model before the checkpoint's compression")]
    assert lineage.derived_from("HuggingFaceTB/SmolLM2-135M") == [base]


def test_sitemap_past_the_protocols_limit_is_an_index_of_sitemaps(tmp_path) -> None:
    """Issue 22 (scale): a sitemap file holds at most 50,000 URLs (sitemaps.org); 100,000 run pages are past it, so
    sitemap.xml becomes an index of sitemap files, each within the limit, that list every page once."""
    import gzip
    from xml.etree import ElementTree

    from leaderboard.render.build import _sitemap_runs

    base = "https://example.org/site/"
    urls = "".join(f"\n    <url>\n         <loc>{base}{p}</loc>\n         <lastmod>2026-01-01</lastmod>\n    </url>"
                   for p in ("index.html", "runs/_shell.html", "leaderboard.html"))
    (tmp_path / "sitemap.xml").write_text('<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/'
                                          f'schemas/sitemap/0.9">{urls}\n</urlset>')
    run_ids = [f"{i:016x}" for i in range(7)]
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    _sitemap_runs(tmp_path, "_shell.html", run_ids, max_urls=4)
    index = ElementTree.fromstring((tmp_path / "sitemap.xml").read_bytes())
    assert index.tag.endswith("sitemapindex")
    files = [loc.text for loc in index.findall("s:sitemap/s:loc", ns)]
    assert files == [f"{base}sitemap-{k}.xml" for k in (1, 2, 3)]
    listed = []
    for k in (1, 2, 3):
        part = ElementTree.fromstring((tmp_path / f"sitemap-{k}.xml").read_bytes())
        locs = [loc.text for loc in part.findall("s:url/s:loc", ns)]
        assert 0 < len(locs) <= 4
        listed += locs
    assert sorted(listed) == sorted([f"{base}index.html", f"{base}leaderboard.html"] + [f"{base}runs/{r}.html" for r in run_ids])
    assert gzip.decompress((tmp_path / "sitemap.xml.gz").read_bytes()) == (tmp_path / "sitemap.xml").read_bytes()
    # within the limit: one sitemap, MkDocs' pages (the shell left out) and then the run pages
    (tmp_path / "sitemap.xml").write_text('<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/'
                                          f'schemas/sitemap/0.9">{urls}\n</urlset>')
    _sitemap_runs(tmp_path, "_shell.html", run_ids[:1], max_urls=4)
    one = ElementTree.fromstring((tmp_path / "sitemap.xml").read_bytes())
    assert [loc.text for loc in one.findall("s:url/s:loc", ns)] == [f"{base}index.html", f"{base}leaderboard.html",
                                                                     f"{base}runs/{run_ids[0]}.html"]


def test_a_crowded_size_chart_keeps_the_frontier_and_the_best_run_of_each_method_per_cell(tmp_path) -> None:
    """Issue 22, scale: above a family's point budget the size-vs-knowledge chart draws the frontier and, per panel,
    method and cell of the (log size, score) plane, the highest-scoring run; every dropped run lies under a kept
    one of its method, and a chart within the budget is drawn whole."""
    import polars as pl

    from leaderboard import synthetic
    from leaderboard.render import queries
    from leaderboard.render.pages.families import CELLS, size_points, thin_points
    from leaderboard.store import ingest

    synthetic.write(synthetic.generate(600), tmp_path / "runs")
    ingest(tmp_path / "runs", tmp_path / "db.duckdb")
    con = duckdb.connect(str(tmp_path / "db.duckdb"), read_only=True)
    try:
        h = queries.headline(con)
        fam = h["family"].mode().sort()[0]
        pts = size_points(h.filter(pl.col("family") == fam), queries.pareto_front(con, fam)["run_id"])
    finally:
        con.close()
    assert pts["frontier"].sum() > 0 and thin_points(pts).equals(pts)  # within the budget: every run
    thin = thin_points(pts, max_points=50)
    assert 0 < thin.height < pts.height and thin.columns == pts.columns
    assert set(pts.filter("frontier")["run_id"]) <= set(thin["run_id"])
    kept_order = [r for r in pts["run_id"] if r in set(thin["run_id"])]
    assert thin["run_id"].to_list() == kept_order  # the order of the input, so the same runs give the same chart

    def cells(df: pl.DataFrame) -> pl.DataFrame:
        ref = pts.group_by("panel").agg(lx=pl.col("size_mb").log10().min(), hx=pl.col("size_mb").log10().max(),
                                        ly=pl.col("value").min(), hy=pl.col("value").max())
        return df.join(ref, on="panel").with_columns(
            cx=((pl.col("size_mb").log10() - pl.col("lx")) / (pl.col("hx") - pl.col("lx")) * CELLS[0]).floor().clip(0, CELLS[0] - 1),
            cy=((pl.col("value") - pl.col("ly")) / (pl.col("hy") - pl.col("ly")) * CELLS[1]).floor().clip(0, CELLS[1] - 1))

    best = cells(thin).group_by("panel", "method_name", "cx", "cy").agg(best=pl.col("value").max())
    dropped = cells(pts.filter(~pl.col("run_id").is_in(thin["run_id"].implode())))
    joined = dropped.join(best, on=["panel", "method_name", "cx", "cy"], how="left")
    assert dropped.height > 0 and joined["best"].null_count() == 0 and (joined["value"] <= joined["best"]).all()


def test_every_model_heatmap_is_the_chart_altair_encodes_for_it_alone() -> None:
    """Issue 22, scale: the relation heatmap's channels are wrapped once a process and shared by every model page's
    chart; each chart's spec is still the one Altair makes when its channels are encoded for it alone (a shared
    channel changed by one chart would show in the next)."""
    import altair as alt
    import polars as pl

    from leaderboard.render import charts

    def alone(df: pl.DataFrame, title: str, description: str) -> dict:
        chart = alt.Chart(charts._frame(df)).mark_rect().encode(
            x=alt.X("compression:N", title=None, sort=None, axis=alt.Axis(labelAngle=-35, labelLimit=260)),
            y=alt.Y("relation:N", title="relation", sort=None, axis=alt.Axis(labelLimit=260)),
            color=alt.Color("retention:Q", title="kept", scale=alt.Scale(domain=[0, 1], scheme="viridis", clamp=True)),
            href="href:N",
            tooltip=["relation:N", "compression:N", alt.Tooltip("value:Q", format=".3f", title="P@1"),
                     alt.Tooltip("retention:Q", format=".3f", title="kept"), "n:Q"],
        ).properties(width=alt.Step(34), height=alt.Step(16))
        return charts.spec_of(charts._finish(chart, title, 0, description))

    def frame(k: int) -> pl.DataFrame:
        rel = [f"P{i}" for i in range(k)]
        return pl.DataFrame({"relation": rel * 2, "compression": ["L1 30%"] * k + ["int8"] * k,
                             "value": [i / (3 * k) for i in range(2 * k)], "retention": [0.25 + i / (4 * k) for i in range(2 * k)],
                             "n": list(range(2 * k)), "href": [f"../runs/{i}.html" for i in range(2 * k)]})

    for k, title in ((3, "a: knowledge kept per relation"), (7, "b <&> per relation"), (3, "a: knowledge kept per relation")):
        made = charts.spec_of(charts.relation_heatmap(frame(k), title, f"{k} relations"))
        assert json.dumps(made) == json.dumps(alone(frame(k), title, f"{k} relations"))


def test_a_chart_picture_leaves_out_links_and_tooltips_and_draws_the_same_pixels(tmp_path) -> None:
    """Issue 22, scale: the static SVG (shown by an <img>, which follows no link and shows no tooltip) is converted
    without the spec's links and tooltips, a third of a heatmap's conversion time; it draws what the whole spec
    draws, pixel for pixel, and the interactive view's spec keeps both. (The links it held pointed nowhere: vl-convert
    resolved them against vega-datasets' address.) Its title is on short lines and its legend in one column: the
    browser draws its text in other fonts than vl-convert measured (a long title was cut off, legend labels overlapped)."""
    import polars as pl
    import vl_convert as vlc

    from leaderboard.render import charts, metrics

    rels = ["P19", "P36", "P103", "P1412"]
    df = pl.DataFrame({"relation": [metrics.relation_label(r) for r in rels] * 2,
                       "compression": ["Global L1 30%"] * 4 + ["Dynamic int8"] * 4,
                       "value": [0.5, 0.25, None, 0.75, 0.5, 0.125, 0.0, 0.625],
                       "retention": [1.0, 0.5, None, 0.9, 0.95, 0.25, 0.0, 0.8], "n": [40, 40, 0, 40] * 2,
                       "href": [f"../runs/{i:016x}.html" for i in range(8)]})
    title = "SmolLM2-135M-Instruct.Q4_1.gguf: knowledge kept per relation, LAMA T-REx and Google-RE"
    spec = charts.relation_heatmap(df, title, "4 relations × 2 compressions")
    assert spec["encoding"]["href"] and spec["encoding"]["tooltip"] and spec["title"] == title  # the interactive view's
    svg = charts.to_svg(spec, tmp_path)
    assert "<rect" in svg or "<path" in svg
    assert "<a " not in svg and "href" not in svg and "<title" not in svg
    whole = vlc.vegalite_to_svg(charts.picture_layout(spec))
    assert "<a " in whole  # what the picture held (vl-convert 1.x: links to vega-datasets' address, not the site's)
    assert vlc.svg_to_png(svg) == vlc.svg_to_png(charts.stable_ids(whole))
    assert charts.static_spec(spec)["datasets"] == spec["datasets"]  # data kept, even a field called href
    # the picture cannot wrap its title to the screen as the interactive view does: its lines are short, every word kept
    lines = charts.picture_layout(spec)["title"]["text"]
    assert " ".join(lines) == title and len(lines) > 1 and all(len(x) <= charts.PICTURE_TITLE_CHARS for x in lines)
    assert all(f">{html.escape(x)}<" in svg for x in lines)
    legend = charts.picture_layout(spec)["config"]["legend"]
    assert legend["columns"] == 1 and legend["layout"]["bottom"]["direction"] == "vertical"
    assert spec["config"]["legend"]["columns"] == 2 and "layout" not in spec["config"]["legend"]  # the view's own


def test_charts_specs_and_boards_reach_the_page_without_passing_through_markdown(site) -> None:
    """Issue 22, scale: MkDocs sees a placeholder for each chart's spec and board table (Markdown's HTML scanner and the
    search plugin parsed megabytes of them); the hook puts them back, so the page holds them and no placeholder."""
    generated = SITE_DB[0].parent / "generated"
    md = (generated / "families" / "decoder.md").read_text()
    assert md.count("<!-- leaderboard-after:") >= 2 and 'class="lb-spec"' not in md and "lb-board-wrap" not in md
    page = (site / "families" / "decoder.html").read_text()
    assert 'class="lb-spec">{' in page and "lb-board-wrap" in page
    for page in site.rglob("*.html"):
        assert "leaderboard-after:" not in page.read_text(), page


def test_the_build_keeps_its_validation_cache_in_its_work_folder(site) -> None:
    """The next build checks only changed run files (test_validate: the cache's rules); its results are these files'."""
    from leaderboard.validate import validate_paths

    cache = SITE_DB[0].parent / "cache" / "validate.json"
    report = validate_paths([SITE_RUNS[0]], cache=cache)
    assert report.rechecked == 0 and len(report.checked) == len(list(SITE_RUNS[0].rglob("*.json"))) > 500


# --- the compare page's data: an index and sharded rows, not one file of every row (issue 22, scale) -----------

COMPARE_FILE_MAX = 32 * 1024  # bytes of any file under data/compare/ on the 400-run synthetic site


def _compare_rows(site: Path) -> tuple[dict, dict[str, dict]]:
    folder = site / "data" / "compare"
    index = json.loads((folder / "index.json").read_text())
    rows = {k: r for p in folder.glob("rows-*.json") for k, r in json.loads(p.read_text()).items()}
    return index, rows


def test_compare_data_is_an_index_and_small_shards(synthetic_site) -> None:
    """One file of every row was 40 MB at 100,000 runs (4 MB at 10,000), fetched whole by every compare page. Each
    row is in the shard named by its key's first hex digits; the picker's names are a file per model."""
    folder = synthetic_site / "data" / "compare"
    index, rows = _compare_rows(synthetic_site)
    assert not (synthetic_site / "data" / "compare.json").exists()
    sizes = {p.relative_to(folder).as_posix(): p.stat().st_size for p in folder.rglob("*.json")}
    assert max(sizes.values()) <= COMPARE_FILE_MAX < sum(sizes.values()), sizes
    assert len(rows) == index["n"] > 16 and index["prefix"] == 1
    for p in folder.glob("rows-*.json"):
        assert {k[: index["prefix"]] for k in json.loads(p.read_text())} == {p.stem.removeprefix("rows-")}
    names = {}
    for model, file, n in index["models"]:
        mine = json.loads((folder / "models" / f"{file}.json").read_text())
        assert len(mine) == n and all(name.startswith(model + " · ") for name, _ in mine)
        names.update(mine)
    assert len(names) == len(rows) and set(names.values()) == set(rows)
    ex = index["example"]
    assert rows[ex[0]]["baseline"] and all(rows[k]["model"] == rows[ex[0]]["model"] and not rows[k]["baseline"] for k in ex[1:])


def test_a_compare_link_fetches_only_the_index_and_its_rows_shards(browser, synthetic_server, synthetic_site) -> None:
    index, rows = _compare_rows(synthetic_site)
    n = index["prefix"]
    keys = sorted(rows)
    pick = [keys[0], next(k for k in reversed(keys) if k[:n] != keys[0][:n])]
    ctx, tab = _tab(browser)
    errors, fetched = [], []
    tab.on("pageerror", lambda e: errors.append(str(e)))
    tab.on("request", lambda r: fetched.append(r.url.split("/data/", 1)[1]) if "/data/" in r.url else None)
    tab.goto(f"{synthetic_server}/compare.html?rows={','.join(pick)}", wait_until="networkidle")
    tab.wait_for_selector(".lb-compare-table")
    assert sorted(u for u in fetched if not u.startswith("facts/")) == sorted(
        ["compare/index.json"] + [f"compare/rows-{k[:n]}.json" for k in pick])
    # the side-by-side table: one column a row, each task's value as the data holds it (the site's rounding)
    table = tab.locator(".lb-compare-table").first
    assert table.locator("thead th").count() == 3
    body = tab.evaluate("""() => Object.fromEntries(Array.from(document.querySelector('.lb-compare-table tbody').rows)
        .map((tr) => [tr.cells[0].textContent, Array.from(tr.cells).slice(1).map((c) => c.firstChild.textContent)]))""")
    checked = 0
    for task in index["tasks"]:
        if not any(task in rows[k]["tasks"] for k in pick):
            continue
        line = body[f"{index['metrics'][task]} {index['task_names'][task]} (95%)"]
        want = [fmt(rows[k]["tasks"][task]["value"]) if task in rows[k]["tasks"] else "–" for k in pick]
        assert line == want
        checked += 1
    assert checked and errors == []
    # with no rows: the example, precomputed, links a baseline and its compressions
    fetched.clear()
    tab.goto(f"{synthetic_server}/compare.html", wait_until="networkidle")
    assert tab.get_attribute("a.lb-compare-example", "href") == "?rows=" + ",".join(index["example"])
    assert fetched == ["compare/index.json"]
    ctx.close()


def test_compare_picker_adds_a_row_by_name_from_its_models_file(browser, synthetic_server, synthetic_site) -> None:
    index, rows = _compare_rows(synthetic_site)
    model, file, _ = index["models"][-1]
    names = json.loads((synthetic_site / "data" / "compare" / "models" / f"{file}.json").read_text())
    name, key = names[-1]
    ctx, tab = _tab(browser)
    fetched = []
    tab.on("request", lambda r: fetched.append(r.url.split("/data/", 1)[1]) if "/data/" in r.url else None)
    tab.goto(f"{synthetic_server}/compare.html", wait_until="networkidle")
    options = "Array.from(document.querySelectorAll('#lb-compare-options option')).map((o) => o.value)"
    assert tab.evaluate(options) == [m for m, _, _ in index["models"]]
    tab.fill("input.lb-compare-add", model)
    tab.dispatch_event("input.lb-compare-add", "change")
    tab.wait_for_function(f"{options}.includes({json.dumps(name)})")
    assert tab.input_value("input.lb-compare-add") == model + " · "
    tab.fill("input.lb-compare-add", name)
    tab.dispatch_event("input.lb-compare-add", "change")
    tab.wait_for_function(f"new URLSearchParams(location.search).get('rows') === {json.dumps(key)}")
    tab.wait_for_selector(".lb-compare-table")
    head = tab.locator(".lb-compare-table").first.locator("thead th").nth(1).inner_text()
    assert f"{rows[key]['model']} · {rows[key]['label']}" in head
    assert fetched == ["compare/index.json", f"compare/models/{file}.json", f"compare/rows-{key[:index['prefix']]}.json"]
    ctx.close()


def test_cells_made_once_for_every_board_are_the_cells_each_board_makes_alone(site) -> None:
    """Issue 22 (scale): a row's first cell, its fixed cells and its runs' cells are made once a build and shared by
    every board that shows the row (tables.board(shared=...)). Boards differ in depth, in first task (the run a row's
    compression links to), in frame (a family, a method, one task) and in their columns: each must be byte for byte
    the board made without sharing. On the committed runs, a family's first task is not the leaderboard's."""
    import polars as pl

    from leaderboard.render import queries

    con = duckdb.connect(str(SITE_DB[0]), read_only=True)
    try:
        h = queries.headline(con)
    finally:
        con.close()
    tasks = tables.task_order(h)
    assert len(tasks) > 2
    family = h.filter(pl.col("family") == "encoder")
    boards = [(h, 0, {"tasks": tasks}), (h, 1, {"tasks": tasks[1:] + tasks[:1]}), (family, 1, {}),
              (family, 1, {"show_model": False, "select": False}), (h.filter(pl.col("method") == h["method"][-1]), 1, {}),
              (h.filter(pl.col("task") == tasks[1]), 0, {}), (h, 0, {"tasks": tasks[::-1]})]
    assert tables.task_order(family)[0] != tasks[0]  # the case where a shared first cell could link the wrong run
    shared: dict = {}
    tables.rows_of(h, shared)
    for frame, depth, kw in boards:
        assert str(tables.board(frame, depth, shared=shared, **kw)) == str(tables.board(frame, depth, **kw)), kw


def test_boards_take_their_rows_from_the_headline_rows_only_where_a_frame_holds_them_whole(synthetic_site) -> None:
    """Issue 22 (scale): the leaderboard, family, method and model boards are parts of the headline frame; their rows
    are the headline's Rows (made once), except where a frame holds only some of a row's runs (one task of it): those
    are made from the frame, as build_rows would."""
    import polars as pl

    from leaderboard.render import queries

    con = duckdb.connect(str(synthetic_site.parent / "work" / "leaderboard.duckdb"), read_only=True)
    try:
        h = queries.headline(con)
    finally:
        con.close()
    shared: dict = {}
    every = tables.rows_of(h, shared)
    assert every == tables.build_rows(h) and len(every) > BIG_BOARD
    made = {id(r) for r in every}
    for frame in (h.filter(pl.col("family") == h["family"][0]), h.filter(pl.col("method") == h["method"][-1]),
                  h.filter(pl.col("source_kind") == "synthetic").tail(h.height // 3)):
        got = tables.rows_of(frame, shared)
        assert got == tables.build_rows(frame) and got
    family = tables.rows_of(h.filter(pl.col("family") == h["family"][0]), shared)
    assert all(id(r) in made for r in family)  # taken, not made again
    several = {r.key for r in every if len(r.tasks) > 1}
    one_task = h.filter(pl.col("task") == h["task"][0])
    got = tables.rows_of(one_task, shared)
    assert got == tables.build_rows(one_task)
    assert any(r.key in several for r in got) and all(len(r.tasks) == 1 for r in got)


def test_downloads_exported_on_another_core_are_the_ones_exported_here(site, tmp_path, monkeypatch) -> None:
    """Issue 22 (scale): from WORKER_FROM_RUNS runs the downloads are exported in a worker process while the other
    pages render. Its files and the page are byte for byte those of the export in the building process."""
    from leaderboard.render.pages import downloads
    from leaderboard.render.site import Site

    monkeypatch.setattr(downloads, "WORKER_FROM_RUNS", 1)
    con = duckdb.connect(str(SITE_DB[0]), read_only=True)
    made = {}
    try:
        for name, workers in (("here", 1), ("worker", 2)):
            s = Site(tmp_path / name, con)
            s.db = SITE_DB[0]
            pending = downloads.start(s, workers=workers)
            assert (pending._pool is not None) == (workers == 2)
            downloads.build(s, pending)
            pending.close()
            made[name] = ({p.relative_to(tmp_path / name).as_posix(): p.read_bytes()
                           for p in (tmp_path / name).rglob("*") if p.is_file()}, s.pages, s.written)
    finally:
        con.close()
    files, pages, written = made["here"]
    assert made["worker"] == (files, pages, written)
    assert {"downloads/runs.parquet", "downloads/runs.csv.gz"} <= set(files) == set(written)
    assert (site / "downloads" / "runs.csv.gz").read_bytes() == files["downloads/runs.csv.gz"]


def test_the_downloads_are_exported_again_only_where_the_store_or_a_file_changed(tmp_path, monkeypatch) -> None:
    """The worker's export is skipped where the last one was made from the same store by the same code and every file
    it made is there with its size (an unchanged rebuild at 100,000 runs exported everything again: 4-5 s)."""
    from leaderboard import synthetic
    from leaderboard.render.pages import downloads
    from leaderboard.store import ingest

    runs, db, out = tmp_path / "runs", tmp_path / "db.duckdb", tmp_path / "generated"
    paths = synthetic.write(synthetic.generate(40, seed=3), runs)
    ingest(runs, db)
    key_file = tmp_path / "cache" / downloads.EXPORT_KEY
    calls = []
    real = downloads._export
    monkeypatch.setattr(downloads, "_export", lambda con, o: calls.append(1) or real(con, o))

    def export() -> list:
        return downloads.export(str(db), str(out), code_version="c", export_key_file=str(key_file))

    first = export()
    assert calls == [1] and [t for t, _ in first] == list(downloads.DOWNLOAD_TABLES)
    files = {p.name: p.read_bytes() for p in (out / "downloads").iterdir()}
    assert export() == first and calls == [1]  # nothing changed: the files as they are
    assert downloads.export(str(db), str(out), code_version="other", export_key_file=str(key_file)) == first
    assert calls == [1, 1]  # other code: exported again
    export()
    (out / "downloads" / "runs.csv.gz").unlink()  # a file gone (or of another size): exported again
    assert export() == first and len(calls) == 4
    with open(out / "downloads" / "runs.parquet", "ab") as f:
        f.write(b"x")
    assert export() == first and len(calls) == 5
    assert {p.name: p.read_bytes() for p in (out / "downloads").iterdir()} == files
    paths[0].unlink()  # the store changed
    ingest(runs, db)
    rows = dict(export())
    assert len(calls) == 6 and rows["runs"] == dict(first)["runs"] - 1
    for damage in (b"", b"[]", b'{"key": 1}', b"\xff"):  # a damaged key file: exported again
        key_file.write_bytes(damage)
        export()
    assert len(calls) == 10
