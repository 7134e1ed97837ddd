"""What a reader sees (issue 22, reader defects), on the site built from the committed run files: honest rankings,
the uncertainty the data holds, nominal bits and sparsity, columns that follow the filters, charts, names, the
sitemap, the URL state and the phone layout. Browser checks use a system Chromium (skipped where there is none)."""

from __future__ import annotations

import functools
import html
import http.server
import json
import re
import shutil
import threading
from pathlib import Path

import duckdb
import polars as pl
import pytest

from conftest import ROOT, rendered_run_pages
from leaderboard.render import metrics, parts, queries
from leaderboard.render.build import build_site
from test_site import _chromium, _has_playwright

GPTQ3_ARC_350M = "3b800defdd3db152"  # facebook/opt-350m GPTQ 3-bit on ARC-Challenge, reported: acc 0.2509, baseline 0.2406
OPT13_ARC = "1131b9ae9bc2421b"  # facebook/opt-1.3b on ARC-Challenge, reported as 27.65 %
BEAR_SMOL135 = "271d0b4a27aa5ea4"  # BEAR leaderboard, HuggingFaceTB/SmolLM2-135M: 0.19864 with sem 0.011577


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("reader")
    runs = tmp / "runs"
    shutil.copytree(ROOT / "runs", runs, ignore=shutil.ignore_patterns("README.md"))
    build_site(runs, tmp / "public", ROOT, tmp / "work", log=lambda *_: None)
    return tmp / "public", tmp / "work" / "leaderboard.duckdb"


@pytest.fixture(scope="module")
def site(built) -> Path:
    return built[0]


@pytest.fixture(scope="module")
def headline(built) -> pl.DataFrame:
    con = duckdb.connect(str(built[1]), read_only=True)
    try:
        return queries.headline(con)
    finally:
        con.close()


def _text(fragment: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", fragment))).strip()


def _row(page: str, *needles: str) -> str:
    return next(r for r in re.findall(r"<tr .*?</tr>", page, re.S) if all(n in r for n in needles))


# --- 1. rankings ------------------------------------------------------------------------------------


def test_rankings_are_not_topped_by_a_ratio_of_two_near_chance_numbers(headline) -> None:
    """opt-350m GPTQ 3-bit on ARC-Challenge: acc 0.251 against a baseline of 0.241, chance 0.25. Its 'kept' of 1.043
    led the ranking; its baseline knows nothing above chance, so it has no kept and is not ranked. Rows without an
    interval are listed apart, never with a rank."""
    row = headline.filter(pl.col("run_id") == GPTQ3_ARC_350M).row(0, named=True)
    assert row["value"] == pytest.approx(0.2509) and row["baseline_value"] == pytest.approx(0.2406)
    assert row["retention"] is None and row["near_chance"] and row["verdict"] == "near chance"
    reported = headline.filter(pl.col("source_kind") == "reported")
    best = "".join(parts.best_by_task(reported))
    arc = best[best.index("ARC-Challenge"):best.index("</h3>", best.index("ARC-Challenge") + 20) + 10_000]
    arc = arc[:arc.find("<h3>", 10)] if "<h3>" in arc[10:] else arc
    assert f"runs/{GPTQ3_ARC_350M}.html" not in arc and "1.043" not in arc
    assert "within 0.02 of chance (0.250)" in arc
    assert "chance-normalised" in arc
    # every ARC row here is reported without an interval: listed as not ranked, with no rank number and no "(95%)"
    assert "Not ranked" in arc and "(95%)" not in arc
    first = re.search(r"<tbody>\s*<tr><td[^>]*>(.*?)</td>", arc, re.S).group(1)
    assert "not ranked" in first and not first.strip().isdigit()


def test_leaderboard_shows_no_kept_for_a_near_chance_baseline(site) -> None:
    board = (site / "leaderboard.html").read_text()
    cell = re.search(rf'runs/{GPTQ3_ARC_350M}\.html">[^<]*</a></td>(<td>.*?</td>)', board, re.S).group(1)
    assert "near chance" in cell and "1.043" not in cell


def test_chance_levels_come_from_the_task_definitions() -> None:
    """The registry's number of options per multiple-choice task is what lm-eval's task YAML lists (a list literal in
    doc_to_choice), where lm-eval is installed."""
    lm_eval = pytest.importorskip("lm_eval")
    tasks = Path(lm_eval.__file__).parent / "tasks"
    checked = 0
    for name, yaml_path in (("lm-eval:piqa", "piqa/piqa.yaml"), ("lm-eval:storycloze_2018", "storycloze/storycloze_2018.yaml")):
        m = re.search(r'doc_to_choice: "\{\{\[(.*?)\]\}\}"', (tasks / yaml_path).read_text())
        assert metrics.chance(name) == pytest.approx(1 / len(m.group(1).split(",")))
        checked += 1
    arc = (tasks / "arc" / "arc_easy.yaml").read_text()
    assert "output_type: multiple_choice" in arc and metrics.chance("lm-eval:arc_challenge") == 0.25
    assert metrics.chance("lm-eval:lambada_openai") is None  # not multiple choice: no chance level
    assert checked == 2


# --- 2. uncertainty -------------------------------------------------------------------------------


def test_reported_standard_errors_are_shown_as_intervals(site) -> None:
    """The BEAR leaderboard gives a standard error (sem) per model: the leaderboard shows value ± 1.96 SE, the run
    page the standard error itself."""
    board = (site / "leaderboard.html").read_text()
    cell = re.search(rf'runs/{BEAR_SMOL135}\.html">0\.199</a>(<span class="lb-ci">[^<]*</span>)', board).group(1)
    assert _text(cell) == "0.176–0.221"  # 0.198638 ± 1.96 × 0.011577
    run = (site / "runs" / f"{BEAR_SMOL135}.html").read_text()
    assert "Std. error" in run and "0.0116" in run and "[0.1759, 0.2213]" in run


def test_one_rounding_everywhere(site) -> None:
    """27.65 % (opt-1.3b, ARC-Challenge) is 0.277 on the leaderboard and on the compare page (which rounds in the
    browser with the same rule), not 0.276 on one and 0.277 on the other."""
    board = (site / "leaderboard.html").read_text()
    assert f'runs/{OPT13_ARC}.html">0.277</a>' in board
    from leaderboard.render.fmt import fmt
    assert fmt(27.65 / 100) == "0.277" and fmt(42.85 / 100) == "0.429" and fmt(-0.0001) == "0.000"
    js = (site / "assets" / "compare.js").read_text()
    assert "toFixed(3)" not in js and "function fmt(" in js


def test_interval_headers_only_over_intervals(site) -> None:
    """Card labels (phone layout) say "(95%)" only for columns that hold an interval: reported lm-eval accuracy
    has none, BEAR (from its standard error) and LAMA do."""
    board = (site / "leaderboard.html").read_text()
    style = re.search(r"<style>(.*?)</style>", board, re.S).group(1)
    decoded = [re.sub(r"\\([0-9a-f]{6})", lambda m: chr(int(m.group(1), 16)), lab)
               for lab in re.findall(r'content:"([^"]*)"', style)]
    assert any(d.startswith("acc ARC-Challenge") and "95%" not in d for d in decoded)
    assert any(d.startswith("acc BEAR") and "(95%)" in d for d in decoded)


# --- 3. nominal bits and sparsity ---------------------------------------------------------------------


def test_nominal_bits_and_sparsity_where_nothing_was_measured(site) -> None:
    board = (site / "leaderboard.html").read_text()
    gptq = _row(board, "facebook/opt-175b", "GPTQ 4-bit")
    cells = re.findall(r"<td[^>]*>.*?</td>", gptq, re.S)
    sparsity, bits = cells[2], cells[3]
    assert _text(sparsity) == "–"  # quantized, nothing measured: not "0%"
    assert _text(bits) == "4 nominal" and 'data-sort="4.0"' in bits
    sparsegpt = _row(board, "facebook/opt-175b", "SparseGPT pruning 50% of all")
    cells = re.findall(r"<td[^>]*>.*?</td>", sparsegpt, re.S)
    assert _text(cells[2]) == "50% nominal" and 'data-sort="0.5"' in cells[2]
    base = _row(board, "facebook/opt-175b", "Uncompressed baseline")
    assert _text(re.findall(r"<td[^>]*>.*?</td>", base, re.S)[2]) == "0%"


# --- in a browser -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    exe = _chromium()
    if exe is None or not _has_playwright():
        pytest.skip("no Chromium or playwright on this machine (CI installs both)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


@pytest.fixture(scope="module")
def server(site):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    handler.log_message = lambda *a, **k: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_compare_page_rounds_like_the_leaderboard(browser, server, site) -> None:
    rows = [r for p in (site / "data" / "compare").glob("rows-*.json") for r in json.loads(p.read_text()).values()]
    key = next(r["key"] for r in rows if r["tasks"].get("lm-eval:arc_challenge", {}).get("run") == OPT13_ARC)
    tab = browser.new_page(viewport={"width": 1280, "height": 900})
    tab.goto(f"{server}/compare.html?rows={key}", wait_until="networkidle")
    tab.wait_for_selector(".lb-compare-out table")
    assert "0.277" in tab.inner_text(".lb-compare-out") and "0.276" not in tab.inner_text(".lb-compare-out")
    tab.close()


# --- 5. columns follow the filters; knowledge probes by default -------------------------------------------


def _shown_columns(tab) -> list[dict]:
    return tab.evaluate("""() => {
      const t = document.querySelector('table.lb-board');
      const rows = Array.from(t.tBodies[0].rows).filter((r) => !r.hidden);
      return Array.from(t.tHead.rows[0].cells).map((th, i) => ({
        col: th.getAttribute('data-col'), task: th.getAttribute('data-task'),
        shown: getComputedStyle(th).display !== 'none',
        filled: rows.some((r) => { const s = (r.cells[i] || {}).textContent || ''; return s.trim() !== '' && s.trim() !== '–'; })
      }));
    }""")


def test_knowledge_probes_are_default_columns_and_empty_columns_drop(browser, server) -> None:
    tab = browser.new_page(viewport={"width": 1280, "height": 900})
    tab.goto(f"{server}/leaderboard.html?source=all", wait_until="networkidle")
    shown = {c["task"] for c in _shown_columns(tab) if c["shown"] and c["task"]}
    assert "bear:bear" in shown and "lama:trex" in shown  # the knowledge probes, BEAR included
    assert not any(t.startswith("lm-eval:") for t in shown)  # the papers' lm-eval tasks are a tick away
    tab.goto(f"{server}/leaderboard.html?family=encoder&source=all", wait_until="networkidle")
    cols = _shown_columns(tab)
    rows = tab.evaluate("Array.from(document.querySelectorAll('table.lb-board tbody tr')).filter((r) => !r.hidden).length")
    assert rows > 0
    empty = [c["col"] for c in cols if c["shown"] and c["col"] not in ("rank", "run") and not c["filled"]]
    assert empty == [], empty
    assert any(c["shown"] and c["task"] for c in cols)
    tab.close()


# --- 6. charts ------------------------------------------------------------------------------------------


def _specs(page: Path) -> dict[str, dict]:
    text = page.read_text()
    return {m.group(1): json.loads(m.group(2)) for m in re.finditer(
        r'<figure class="lb-chart" id="chart-([^"]+)".*?<script type="application/json" class="lb-spec">(.*?)</script>', text, re.S)}


def _layers(spec: dict) -> list[dict]:
    inner = spec.get("spec", spec)
    return inner.get("layer", [inner])


def _data(spec: dict) -> list[dict]:
    inner = spec.get("spec", spec)
    name = (inner.get("data") or spec.get("data") or {}).get("name")
    return spec["datasets"][name] if name else []


CVD_SAFE = {"#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#332288", "#88CCEE", "#44AA99",
            "#117733", "#999933", "#DDCC77", "#CC6677", "#882255", "#AA4499", "#6b6b6b"}


def test_charts_have_sensible_axes_safe_colours_shapes_and_a_visible_frontier(site) -> None:
    specs = {**_specs(site / "index.html"), **_specs(site / "families" / "decoder.html"), **_specs(site / "demo.html")}
    kept = [n for n in specs if n.endswith("-sparsity") or n.endswith("-bits")]
    assert kept
    for name in kept:
        spec = specs[name]
        ys = [lay["encoding"]["y"] for lay in _layers(spec) if "y" in lay.get("encoding", {}) and
              lay["encoding"]["y"].get("field") == "retention"]
        dom = ys[0]["scale"]["domain"]
        assert dom[0] == 0 and 1 < dom[1] <= 2.5, (name, dom)  # not -1..4
        whisk = next(lay for lay in _layers(spec) if lay.get("mark", {}).get("type") == "rule" and "y2" in lay["encoding"])
        assert whisk["encoding"]["y"]["field"] == "low_c"
        assert all(dom[0] <= r["low_c"] <= r["high_c"] <= dom[1] for r in _data(spec) if r.get("low_c") is not None)
        colours = [c for lay in _layers(spec) for c in (lay.get("encoding", {}).get("color", {}).get("scale", {}).get("range") or [])]
        assert colours and set(colours) <= CVD_SAFE, (name, colours)
        assert any(lay.get("encoding", {}).get("shape", {}).get("field") == "method_name" for lay in _layers(spec)), name
        if name.endswith("-bits"):
            bits = [r["bits"] for r in _data(spec)]
            x = next(lay["encoding"]["x"] for lay in _layers(spec) if "x" in lay.get("encoding", {}))
            lo, hi = x["scale"]["domain"]
            assert lo >= min(bits) / 1.2 and hi <= max(bits) * 1.2, (name, x["scale"]["domain"], min(bits), max(bits))
    pareto = [n for n in specs if n.endswith("-pareto")]
    assert pareto
    for name in pareto:
        line = next(lay for lay in _layers(specs[name]) if lay.get("mark", {}).get("type") == "line")
        assert "detail" not in line["encoding"] and line["encoding"]["order"]["field"] == "size_mb"
        assert line["mark"]["strokeWidth"] >= 1.5 and line["mark"]["color"] not in ("#333", "#333333", "black")
        assert sum(1 for r in _data(specs[name]) if r["frontier"]) >= 2


def test_chart_titles_fit_a_phone(browser, server) -> None:
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=1, is_mobile=True)
    tab = ctx.new_page()
    tab.goto(f"{server}/index.html", wait_until="networkidle")
    tab.wait_for_selector("figure.lb-interactive .lb-vega svg", timeout=15000)
    rights = tab.evaluate("""() => Array.from(document.querySelectorAll('figure.lb-interactive .lb-vega svg .role-title text'))
        .map((t) => t.getBoundingClientRect().right)""")
    assert rights and max(rights) <= 390, rights
    clipped = tab.evaluate("""() => Array.from(document.querySelectorAll('figure.lb-interactive .lb-vega svg .role-title text'))
        .some((t) => t.textContent.endsWith('…'))""")
    assert not clipped
    ctx.close()


# --- 7. names -------------------------------------------------------------------------------------------


def test_labels_not_codes(site, browser) -> None:
    run = rendered_run_pages(site, [BEAR_SMOL135], browser)[BEAR_SMOL135]
    title = re.search(r"<title>(.*?)</title>", run).group(1)
    assert "HuggingFaceTB/SmolLM2-135M" in title and "shell" not in title.lower() and "lb-run-title" not in run
    assert "_shell.html" not in run  # the canonical link names the run's own page
    intro = _text(run[run.index('id="run-title"'):run.index("<h2>")])
    assert "bear:bear" not in intro and "BEAR" in intro
    # results name the task and the metric; the codes are only small print beside them
    results = run[run.index("<h2>Results</h2>"):]
    assert re.search(r"<td[^>]*>BEAR <code", results) and re.search(r"<td[^>]*>BEAR accuracy <code", results)
    lama_run = next(p for p in (site / "runs").glob("*.html") if "precision@1-micro" in p.read_text())
    assert '["P@1 (micro) ",["s","precision@1-micro"]]' in lama_run.read_text()  # the label, the code as small print
    # method names start with a capital; BibTeX carries the source's own fields
    board = (site / "leaderboard.html").read_text()
    methods = re.search(r'<select class="lb-filter-method">(.*?)</select>', board, re.S).group(1)
    names = [_text(o) for o in re.findall(r"<option value=\"[^\"]+\">(.*?)</option>", methods)]
    assert names and all(n[0].isupper() for n in names), names
    assert "RTN quantization" in names and "GPTQ quantization" in names
    gptq = next(p.stem for p in (site / "runs").glob("*.html") if "Frantar, Ashkboos" in p.read_text())
    shown = rendered_run_pages(site, [gptq], browser)[gptq]
    bib = _text(re.search(r'<pre class="lb-code"><code>(@.*?)</code>', shown, re.S).group(1))
    assert bib.startswith("@inproceedings{frantar2023gptq,") and "author = {Frantar and Ashkboos and Hoefler and Alistarh}" in bib
    assert "title = {GPTQ: Accurate Post-Training Quantization for Generative Pre-trained Transformers}" in bib
    assert "year = {2023}" in bib and "(2023)" not in bib


def test_search_snippets_are_not_the_banner(site) -> None:
    assert 'data-search-exclude markdown="0"><strong>Status:</strong> this page holds' in (site / "leaderboard.html").read_text()
    index = json.loads((site / "search" / "search_index.json").read_text())
    texts = [d["text"] for d in index["docs"] if d["text"]]
    assert texts and not any("Status:" in t or "this page holds" in t for t in texts)
    assert not any("_shell" in d["location"] for d in index["docs"])


def test_compare_picker_lists_names_not_keys(browser, server) -> None:
    tab = browser.new_page(viewport={"width": 1280, "height": 900})
    tab.goto(f"{server}/compare.html", wait_until="networkidle")
    # the picker lists the models first; naming one lists its rows (issue 22, scale: every row's name was 2 MB)
    tab.wait_for_function("document.querySelectorAll('#lb-compare-options option').length > 3")
    tab.fill("input.lb-compare-add", "facebook/opt-1.3b")
    tab.dispatch_event("input.lb-compare-add", "change")
    tab.wait_for_function("document.querySelector('#lb-compare-options option').value.startsWith('facebook/opt-1.3b · ')")
    options = tab.evaluate("Array.from(document.querySelectorAll('#lb-compare-options option')).map((o) => o.value)")
    assert not any(re.search(r"\[[0-9a-f]{12}\]", o) for o in options)
    assert len(set(options)) == len(options)
    pick = next(o for o in options if o.startswith("facebook/opt-1.3b · Uncompressed baseline"))
    tab.fill("input.lb-compare-add", pick)
    tab.dispatch_event("input.lb-compare-add", "change")
    tab.wait_for_function("new URLSearchParams(location.search).get('rows')")
    tab.close()


def test_badge_stands_apart_from_its_label(browser, server) -> None:
    tab = browser.new_page(viewport={"width": 1280, "height": 900})
    tab.goto(f"{server}/leaderboard.html?source=reported", wait_until="networkidle")
    gap = tab.evaluate("""() => { const td = Array.from(document.querySelectorAll('td.lb-first'))
        .find((t) => !t.closest('tr').hidden && t.querySelector('.lb-badge.lb-reported'));
      const r = td.querySelector('.lb-badge.lb-reported').getBoundingClientRect();
      const prev = td.querySelector('.lb-badge.lb-reported').previousElementSibling.getBoundingClientRect();
      return r.top > prev.bottom - 2 ? 99 : r.left - prev.right; }""")
    assert gap >= 4
    tab.close()


# --- 8. the banner says what this page holds ----------------------------------------------------------------


def test_status_banner_says_what_each_page_holds(site, browser) -> None:
    runs = rendered_run_pages(site, [BEAR_SMOL135, "288a5df5bfb6142b"], browser)

    def banner(page: str) -> str:
        text = runs[page[5:-5]] if page.startswith("runs/") else (site / page).read_text()
        m = re.search(r'<(div|p) class="lb-banner lb-page-status"[^>]*>(.*?)</\1>', text, re.S)
        return _text(m.group(2)) if m else ""

    board, demo = banner("leaderboard.html"), banner("demo.html")
    rep, gguf_run = banner(f"runs/{BEAR_SMOL135}.html"), banner("runs/288a5df5bfb6142b.html")
    assert "reported" in board and "reproduced" in board and "toy" not in board
    assert "toy" in demo and "reported" not in demo
    assert "reported in a paper" in rep and "reproduced" in gguf_run
    assert len({board, demo, rep, gguf_run, banner("models/facebook--opt-1.3b.html")}) == 5


# --- 10. sitemap ------------------------------------------------------------------------------------------


def test_sitemap_lists_every_page(site) -> None:
    sitemap = (site / "sitemap.xml").read_text()
    locs = re.findall(r"<loc>([^<]+)</loc>", sitemap)
    assert len(locs) > 500  # the site's pages and every run page
    assert all(loc.startswith("https://") for loc in locs)
    assert any(loc.endswith("/leaderboard.html") for loc in locs) and any(loc.endswith(f"/runs/{BEAR_SMOL135}.html") for loc in locs)
    assert not any("_shell" in loc for loc in locs)
    import gzip
    assert gzip.decompress((site / "sitemap.xml.gz").read_bytes()).decode() == sitemap
    notfound = (site / "404.html").read_text()
    assert 'href="/compression-leaderboard/' not in notfound and 'href="/assets' not in notfound


# --- 4. the URL state ------------------------------------------------------------------------------------


def test_text_filter_in_the_url_does_not_open_the_theme_search(browser, server) -> None:
    tab = browser.new_page(viewport={"width": 1280, "height": 900})
    tab.goto(f"{server}/leaderboard.html?q=opt-175b&source=all", wait_until="networkidle")
    tab.wait_for_timeout(500)
    assert tab.evaluate("document.querySelector('input.lb-filter-text').value") == "opt-175b"
    assert not tab.evaluate("document.querySelector('[data-md-toggle=search]').checked")  # the overlay stays shut
    assert "q=" not in tab.url.split("?")[1] and "filter=opt-175b" in tab.url
    tab.select_option("select.lb-sort-by", "bits")
    tab.wait_for_timeout(200)
    url = tab.url
    tab.goto(url, wait_until="networkidle")
    assert tab.evaluate("document.querySelector('select.lb-sort-by').value") == "bits"
    tab.close()


# --- 9. phone --------------------------------------------------------------------------------------------


def test_phone_layout(browser, server) -> None:
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    tab = ctx.new_page()
    tab.goto(f"{server}/models/compression-leaderboard--demo-bert-trex.html", wait_until="networkidle")
    tab.wait_for_selector("figure.lb-interactive .lb-vega svg", timeout=15000)
    sizes = tab.evaluate("""() => Array.from(document.querySelectorAll('figure.lb-interactive .lb-vega svg .role-axis-label text'))
        .map((t) => t.getBoundingClientRect().height).filter((h) => h > 0)""")
    assert sizes and min(sizes) >= 9, sizes  # readable labels, not ~5 px
    labels = tab.evaluate("""() => Array.from(document.querySelectorAll('figure.lb-interactive .lb-vega svg .role-axis-label text'))
        .map((t) => t.textContent)""")
    assert sum(lab.startswith("P") and "·" in lab for lab in labels) == 9  # every relation named
    wraps = tab.evaluate("""() => Array.from(document.querySelectorAll('.lb-table-wrap:not(.lb-board-wrap)'))
        .map((w) => w.scrollWidth - w.clientWidth)""")
    assert max(wraps) <= 1, wraps  # the facts-forgotten table is cards, not cut off
    tab.goto(f"{server}/leaderboard.html?source=all", wait_until="networkidle")
    height = tab.evaluate("document.documentElement.scrollHeight")
    rows = tab.evaluate("Array.from(document.querySelectorAll('table.lb-board tbody tr')).filter((r) => !r.hidden).length")
    assert rows > 100 and height < 8000, (height, rows)  # 25 cards, then "show more" (all 114 cards: 16,500 px)
    tab.click("button.lb-more")
    assert tab.evaluate("document.documentElement.scrollHeight") > height
    tab.goto(f"{server}/index.html", wait_until="networkidle")
    # a card's labels wrap inside its cell ("P@1 LAMA Google-RE, as distributed" ran past the screen's edge)
    over = tab.evaluate("""() => Array.from(document.querySelectorAll('table.lb-cards td')).filter((td) => td.offsetParent)
        .map((td) => [td.getAttribute('data-label'), td.scrollWidth - td.clientWidth])""")
    assert over and max(d for _, d in over) <= 1, [o for o in over if o[1] > 1]
    tab.goto(f"{server}/runs/{BEAR_SMOL135}.html", wait_until="networkidle")
    order = tab.evaluate("""() => ['Results', 'Source'].map((h) => Array.from(document.querySelectorAll('h2'))
        .find((e) => e.textContent.trim().startsWith(h)).getBoundingClientRect().top)""")
    assert order[0] < order[1]  # the value first, then where it came from
    ctx.close()


# --- issue 21, item 6: one queries module under the pages ---------------------------------------------------------


def test_only_the_queries_module_reads_the_store() -> None:
    """Pages, their shared parts and the chart data get their rows from render/queries.py: no other render module
    holds SQL or runs a query (build.py, the orchestrator, copies the store file for download and lists run files)."""
    render = ROOT / "src" / "leaderboard" / "render"
    allowed = {render / "queries.py", render / "build.py"}
    sql = re.compile(r"\bSELECT\b|\bFROM\s+(runs|results|current_runs|retention|relation_results|fact_ranks)\b"
                     r"|\.sql\(|\.execute\(|\.q\(")
    offenders = [f"{p.relative_to(render)}:{i}" for p in sorted(render.rglob("*.py")) if p not in allowed
                 for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if sql.search(line)]
    assert not offenders, offenders
    assert (render / "pages").is_dir() and len(list((render / "pages").glob("*.py"))) > 5


def test_the_headline_frame_is_checked_against_its_declared_schema(headline) -> None:
    """The frame every page reads has the columns HEADLINE_SCHEMA declares, in order, with their types; a frame
    that drifts (a column dropped, retyped, or added) is refused with one line naming the column."""
    assert headline.schema == queries.HEADLINE_SCHEMA and headline.height > 400
    assert queries.checked(headline) is headline
    with pytest.raises(queries.HeadlineSchemaError, match=r"column 47: expected lineage_note \(String\), got no column"):
        queries.checked(headline.drop("lineage_note"))
    with pytest.raises(queries.HeadlineSchemaError, match=r"column 14: expected n_steps \(Int32\), got n_steps \(Int64\)"):
        queries.checked(headline.with_columns(pl.col("n_steps").cast(pl.Int64)))
    with pytest.raises(queries.HeadlineSchemaError, match=r"column 48: expected no column, got extra \(Int32\)"):
        queries.checked(headline.with_columns(extra=pl.lit(1, dtype=pl.Int32)))
