"""The built-in calibration sets: the default is large enough for the papers' 128 x 2,048 tokens, holds no
LAMA or BEAR fact, matches its SOURCES.md, and the old small set is unchanged (runs record its sha256)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
from importlib import resources
from pathlib import Path

import pytest
from tokenizers import pre_tokenizers

from conftest import LAMA_DIR, SHARED
from leaderboard.compress import calibration
from leaderboard.compress.calibration import read_text

ROOT = Path(__file__).resolve().parents[1]
FOLDER = resources.files("leaderboard") / "data" / "calibration"
BEAR_DIR = SHARED / "data" / "bear" / "BEAR"


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_the_default_is_the_large_set_at_the_papers_size() -> None:
    assert calibration.DEFAULT == "builtin:austen"
    assert (calibration.DEFAULT_SAMPLES, calibration.DEFAULT_SEQ_LEN) == (128, 2048)
    assert {"austen", "default"} <= set(calibration.builtin_names())


def test_the_small_set_is_unchanged() -> None:
    name, text = read_text("builtin:default")
    assert name == "builtin:default"
    assert _sha(text) == "d577b677d789e3fbb47a732f9df1529053fdbd04de8f4c47ee50e0a8c3e7757a"


def test_the_default_set_gives_128_sequences_of_2048_bpe_tokens() -> None:
    name, text = read_text(calibration.DEFAULT)
    assert name == "builtin:austen"
    # A byte-level BPE never merges across GPT-2's pre-token boundaries, so it gives at least one token per
    # pre-token: this is a lower bound for GPT-2-style ~50k-vocabulary tokenizers (SmolLM2's gives 307,443).
    pieces = pre_tokenizers.ByteLevel(add_prefix_space=False).pre_tokenize_str(text)
    assert len(pieces) >= 128 * 2048
    assert len(text.split()) > 200_000 and text.isascii() and "\r" not in text
    assert "gutenberg" not in text.lower()  # no licence header or footer


def test_sources_md_states_the_shipped_files_sha256() -> None:
    sources = (FOLDER / "SOURCES.md").read_text(encoding="utf-8")
    for name in ("austen", "default"):
        assert _sha(read_text(f"builtin:{name}")[1]) in sources, name


def _segments(text: str) -> list[str]:
    """Pieces no longer than a sentence (split at every . ! ? ; and line break): a fact found in one is in a sentence."""
    return [s for s in re.split(r"[.!?;\n]", text.casefold()) if s.strip()]


def _has(label: str, segment: str) -> bool:
    return re.search(r"(?<!\w)" + re.escape(label.casefold()) + r"(?!\w)", segment) is not None


@pytest.mark.skipif(not LAMA_DIR.is_dir(), reason="../shared/data/lama is not beside the checkout")
def test_the_default_set_holds_none_of_these_real_lama_facts() -> None:
    """Facts whose two labels the novels both use, never in one sentence (the build removed such sentences)."""
    wanted = {("P1376", "London", "England"), ("P36", "England", "London"), ("P47", "Scotland", "England"),
              ("P176", "angel", "God"), ("P527", "white", "red")}
    found = set()
    for rel, _, _ in wanted:
        for line in (LAMA_DIR / "trex" / f"{rel}.jsonl").read_text(encoding="utf-8").splitlines():
            r = json.loads(line)
            found.add((rel, r["sub_label"], r["obj_label"]))
    assert wanted <= found  # real LAMA T-REx facts
    text = read_text("builtin:austen")[1]
    segments = _segments(text)
    for _, sub, obj in wanted:
        assert any(_has(sub, s) for s in segments) and any(_has(obj, s) for s in segments)  # the words are used...
        assert not any(_has(sub, s) and _has(obj, s) for s in segments), (sub, obj)  # ...never the fact


@pytest.mark.skipif(not (LAMA_DIR.is_dir() and BEAR_DIR.is_dir()), reason="../shared/data is not beside the checkout")
def test_the_build_script_finds_no_probe_fact_left_in_the_shipped_text() -> None:
    path = ROOT / "scripts" / "build_calibration.py"
    spec = importlib.util.spec_from_file_location("build_calibration", path)
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    flt = build.FactFilter(build.probe_facts(LAMA_DIR, BEAR_DIR))
    text = read_text("builtin:austen")[1]
    hits = [(s, f) for para in text.split("\n\n") for s in build.sentences(para) if (f := flt.hit(s))]
    assert hits == []
