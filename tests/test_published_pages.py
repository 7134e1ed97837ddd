"""The Published results pages: every value as printed, cited to its table, reproduced twins beside them."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from conftest import ROOT, example, place, with_run_id
from leaderboard.render.build import build_site


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """runs/: the committed reported files of the GPTQ OPT tables and the BERT LAMA rows, plus a reproduced
    run of the same spec as the Petroni et al. row (bert-base-cased, no compression, lama:trex)."""
    tmp = tmp_path_factory.mktemp("published")
    runs = tmp / "runs"
    for f in (ROOT / "runs").rglob("*.json"):
        text = f.read_text()
        if '"source"' in text and ('"facebook/opt-' in text or '"bert-base-cased"' in text):
            target = runs / f.relative_to(ROOT / "runs")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(f, target)
    twin = example("reproduced-baseline")
    twin["model"]["id"] = "bert-base-cased"
    twin["model"]["revision"] = None
    place(runs, with_run_id(twin))
    build_site(runs, tmp / "public", ROOT, tmp / "work", log=lambda *_: None)
    return tmp / "public"


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
