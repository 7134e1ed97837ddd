"""The static site: built from real run files; numbers, determinism, escaping, and a real browser."""

from __future__ import annotations

import copy
import functools
import http.server
import json
import os
import shutil
import threading
from pathlib import Path

import duckdb
import pytest

from conftest import ROOT, example, place, with_run_id
from leaderboard.render.build import BuildError, build_site

HOSTILE = "<img src=x onerror=alert(1)> {{ config }} **bold** [x](javascript:alert(1)) </script>"
ARTIFACTS = ROOT / "build" / "test-artifacts"


def _runs(tmp: Path) -> Path:
    runs = tmp / "runs"
    shutil.copytree(ROOT / "runs", runs, ignore=shutil.ignore_patterns("README.md"))
    rep = example("reported")
    rep["notes"] = HOSTILE
    rep["source"]["citation"] = "<script>alert('cite')</script> Petroni et al."
    place(runs, with_run_id(rep))
    broken = example("reproduced-baseline")  # a model whose output was NaN on 7 facts
    broken.update(schema_version="1.1", model=dict(broken["model"], id="org/broken-model"))
    broken["results"] = [dict(broken["results"][0], nonfinite=7)]
    place(runs, with_run_id(broken))
    return runs


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("site")
    runs = _runs(tmp)
    build_site(runs, tmp / "public", ROOT, tmp / "work", log=lambda *_: None)
    return tmp / "public"


def test_pages_exist_with_the_right_numbers(site) -> None:
    for page in ("index.html", "leaderboard.html", "compare.html", "methodology.html", "run-file.html", "downloads.html",
                 "families/index.html", "families/encoder.html", "families/decoder.html", "methods/index.html",
                 "models/index.html", "models/compression-leaderboard--demo-bert-trex.html", "models/bert-base-cased.html"):
        assert (site / page).is_file(), page
    board = (site / "leaderboard.html").read_text()
    # the committed 80 % run: P@1 0.784 (macro), knowledge kept 0.788 of the 0.994 baseline
    run80 = json.loads(next((ROOT / "runs").rglob("9bc2dd34d613390d.json")).read_text())
    p1 = run80["results"][0]["metrics"]["precision@1"]["value"]
    assert f">{p1:.3f}</a>" in board and "global magnitude (L1) pruning 80% of all" in board
    assert "lb-src-reported" in board and ">reported</span>" in board  # reported rows are marked
    run_page = (site / "runs" / "9bc2dd34d613390d.html").read_text()
    assert "leaderboard run --model compression-leaderboard/demo-bert-trex --eval lama:trex" in run_page
    assert "Facts forgotten" in run_page
    assert (site / "charts" / "home-sparsity.svg").read_text().startswith("<svg")
    assert (site / "assets" / "vega" / "vega-bundle.js").stat().st_size > 500_000
    for name in ("runs", "results", "relation_results"):
        assert (site / "downloads" / f"{name}.parquet").is_file() and (site / "downloads" / f"{name}.csv").is_file()


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
    assert "&lt;script&gt;alert(&#x27;cite&#x27;)&lt;/script&gt; Petroni et al." in run_pages[0]


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


def _chromium() -> str | None:
    for path in ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"):
        if os.path.exists(path):
            return path
    return None


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


PAGES = ["index.html", "leaderboard.html", "models/compression-leaderboard--demo-bert-trex.html",
         "runs/9bc2dd34d613390d.html", "families/encoder.html", "published/index.html", "published/opt.html"]


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


@pytest.mark.parametrize("page", ["index.html", "leaderboard.html", "runs/9bc2dd34d613390d.html", "published/opt.html"])
def test_mobile_width_has_no_horizontal_overflow(browser, server, page) -> None:
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True)
    tab = ctx.new_page()
    tab.goto(f"{server}/{page}", wait_until="networkidle")
    tab.wait_for_timeout(300)
    width = tab.evaluate("document.documentElement.scrollWidth")
    tab.screenshot(path=str(ARTIFACTS / f"mobile_{page.replace('/', '_')}.png"))
    assert width <= 390
    ctx.close()


def test_leaderboard_sorts_and_filters(browser, server) -> None:
    tab = browser.new_page()
    tab.goto(f"{server}/leaderboard.html", wait_until="networkidle")
    tab.locator("th", has_text="Sparsity").first.click()
    first = tab.locator("table.lb-table tbody tr").first.locator("td").nth(3).inner_text()
    assert first == "30.0%"
    tab.select_option(".lb-filter-source", "reported")
    visible = tab.locator("table.lb-table tbody tr:not([hidden])")
    assert visible.count() == 1 and "bert-base-cased" in visible.first.inner_text()
    tab.close()


def test_a_run_with_non_finite_model_output_is_flagged_on_its_page(site) -> None:
    pages = [p for p in (site / "runs").glob("*.html") if "org/broken-model" in p.read_text()]
    assert pages and all("Model output is not finite" in p.read_text() for p in pages)
    healthy = (site / "runs" / "9bc2dd34d613390d.html").read_text()
    assert "Model output is not finite" not in healthy
