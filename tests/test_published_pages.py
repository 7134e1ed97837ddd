"""The Published results pages: every value as printed, cited to its table, reproduced twins beside them."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from conftest import ROOT, example, place, with_run_id
from leaderboard.render.build import build_site

GGUF_LAMA = "288a5df5bfb6142b"  # SmolLM2-135M-Instruct.Q4_1.gguf as distributed, LAMA T-REx (committed, real)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """runs/: the committed reported files of the GPTQ OPT tables and the BERT LAMA rows, plus a reproduced
    run of the same spec as the Petroni et al. row (bert-base-cased, no compression, lama:trex)."""
    tmp = tmp_path_factory.mktemp("published")
    runs = tmp / "runs"
    for f in (ROOT / "runs").rglob("*.json"):
        text = f.read_text()
        if '"source"' in text and ('"facebook/opt-' in text or '"bert-base-cased"' in text
                                   or '"HuggingFaceTB/SmolLM2-135M"' in text):
            target = runs / f.relative_to(ROOT / "runs")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(f, target)
    # the real GGUF checkpoint's LAMA baseline, without its BEAR run: the related base model's published BEAR score
    gguf = next((ROOT / "runs").rglob(f"{GGUF_LAMA}.json"))
    (runs / gguf.relative_to(ROOT / "runs")).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(gguf, runs / gguf.relative_to(ROOT / "runs"))
    twin = example("reproduced-baseline")
    twin["model"]["id"] = "bert-base-cased"
    twin["model"]["revision"] = None
    place(runs, with_run_id(twin))
    build_site(runs, tmp / "public", ROOT, tmp / "work", log=lambda *_: None)
    return tmp / "public"


def test_a_related_published_score_without_our_run_says_not_run_yet(site):
    """The GGUF checkpoint's model page with its LAMA baseline only: the base model's published BEAR score sits beside
    an explicit "not run yet", not a blank cell (test_site: with our BEAR run, its value, linked)."""
    page = (site / "models" / "smollm2-135m-instruct.q4_1.gguf.html").read_text()
    beside = page.split('<h2 id="related">Published beside ours</h2>')[1].split("</table>")[0]
    assert '<span class="lb-none">not run yet</span>' in beside and ">0.199</a>" in beside


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_paper_page_shows_as_printed_with_citation_and_caveats(site):
    page = (site / "published" / "gptq.html").read_text()
    text = _text(page)
    assert "Frantar, Ashkboos, Hoefler, Alistarh (2023)" in text
    assert "Table 13 (OPT accuracy on LAMBADA)" in text
    assert "acc or acc_norm" in text  # the paper's caveat
    # the GPTQ 4-bit OPT-125m LAMBADA cell: 34.74 as printed, the paper's words, linked to its run file
    run = next(json.loads(p.read_text()) for p in (ROOT / "runs" / "decoder" / "facebook--opt-125m").glob("*.json")
               if '"gptq"' in p.read_text() and '"bits": 4' in p.read_text() and "lambada" in p.read_text().split('"task"')[1])
    assert f'href="../runs/{run["run_id"]}.html">34.74 %</a>' in page
    assert "GPTQ, 4 bits" in text


def test_series_page_compares_rtn_and_gptq_across_sizes(site):
    page = (site / "published" / "opt.html").read_text()
    text = _text(page)
    for model in ("facebook/opt-125m", "facebook/opt-175b"):
        assert model in text
    assert "RTN 3-bit" in text and "GPTQ 3-bit" in text
    svg = (site / "charts" / "published-opt.svg").read_text()
    assert svg.startswith("<svg")
    # panels titled with the names the tables use; five tasks, five x axes (none under the empty sixth slot)
    assert "ARC-Challenge" in svg and "LAMBADA (OpenAI)" in svg and "lm-eval:arc_challenge" not in svg
    assert svg.count(">parameters (log scale)<") == 5
    # OPT-66b RTN 4-bit LAMBADA collapses (13.08 of 74.93): printed in its row beside FP16
    row = re.search(r"facebook/opt-66b</a></td>(.*?)</tr>", page.split(">lm-eval:lambada_openai</h2>")[1], re.S).group(1)
    assert "74.93" in row and "13.08" in row


def test_reproduced_twin_is_shown_beside_the_printed_value(site):
    page = (site / "published" / "petroni.html").read_text()
    assert "Reproduced (95% CI)" in page
    twin = example("reproduced-baseline")["results"][0]["metrics"]["precision@1"]
    assert f"{twin['value'] * 100:.2f}" in _text(page)
    index = _text((site / "published" / "index.html").read_text())
    assert "exactly as printed" in index and "OPT" in index


# --- issue 20: pages by declared source, never by citation text; no run-file text as Markdown ---------------------


@pytest.fixture(scope="module")
def hostile_site(tmp_path_factory) -> Path:
    """The GPTQ rows, plus reported runs that name GPTQ without being GPTQ's: another citation at GPTQ's address
    and tables, GPTQ's citation with a table it does not have, and a citation ending in a Markdown attribute list."""
    tmp = tmp_path_factory.mktemp("hostile")
    runs = tmp / "runs"
    gptq = [f for f in (ROOT / "runs" / "decoder" / "facebook--opt-125m").glob("*.json") if '"gptq"' in f.read_text()]
    for f in gptq:
        target = runs / f.relative_to(ROOT / "runs")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(f, target)
    base = json.loads(gptq[0].read_text())
    for i, (citation, table) in enumerate([
            ("A GPTQ reply. Evil Corp 2025", base["source"]["table"]),
            (base["source"]["citation"], "Table 99 (not in the paper)"),
            ("Some paper {: style=font-size:20em }", "Table 1 {: .evil }")]):
        run = json.loads(json.dumps(base))
        run["source"].update(citation=citation, table=table)
        run["results"][0]["metrics"]["acc"]["value"] = 90.0 + i
        place(runs, with_run_id(run))
    build_site(runs, tmp / "public", ROOT, tmp / "work", log=lambda *_: None)
    return tmp / "public"


def test_a_run_that_only_names_a_paper_lands_on_other_sources(hostile_site):
    gptq = hostile_site / "published" / "gptq.html"
    other = hostile_site / "published" / "other-sources.html"
    text = _text(gptq.read_text())
    assert "Evil Corp" not in text and "Table 99" not in text and "90 %" not in text and "91 %" not in text
    assert text.count("Frantar, Ashkboos, Hoefler, Alistarh (2023)") >= 1  # the declared citation heads the page
    assert '<h1 id="published-gptq-frantar-et-al-2023">Published: GPTQ (Frantar et al. 2023)<' in gptq.read_text()
    others = _text(other.read_text())
    assert "A GPTQ reply. Evil Corp 2025" in others and "Table 99 (not in the paper)" in others
    assert "90 %" in others and "91 %" in others and "not declared" in others
    index = _text((hostile_site / "published" / "index.html").read_text())
    assert "Other sources (not declared)" in index


def test_run_file_text_never_becomes_markdown_syntax(hostile_site):
    pages = [p.read_text() for p in hostile_site.rglob("*.html")]
    assert not any('style="font-size:20em"' in p or 'class="evil"' in p for p in pages)
    other = (hostile_site / "published" / "other-sources.html").read_text()
    assert "Some paper {: style=font-size:20em }" in other and "Table 1 {: .evil }" in other  # shown as text


def test_markdown_titles_escape_attribute_lists_and_emphasis(tmp_path):
    from leaderboard.render.site import Site

    site = Site.__new__(Site)
    site.pages = {}
    site.page("x.md", "Method: 50% of *attn* {: style=font-size:20em }")
    title = site.pages["x.md"].splitlines()[-1]
    assert title == "# Method: 50% of &#42;attn&#42; &#123;: style=font-size:20em &#125;"
