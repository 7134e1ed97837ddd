"""Property (issue 12): whatever `validate` accepts, `ingest` and `build` handle.

Hypothesis generates sets of run files that are valid by the contract — extreme but legal values: model
ids of up to 200 characters, 20-step pipelines, ranks up to 10^12, timestamps at the edges of the
window, any Unicode in free text, HTML and Markdown in names — writes them as files, checks that
`validate` accepts them, then ingests them into DuckDB and builds the whole site (mkdocs --strict).
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta, timezone

import duckdb
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from conftest import ROOT
from leaderboard.render.build import build_site
from leaderboard.schema import (
    MODEL_ID_PATTERN,
    RunFile,
    canonical_path,
    compute_run_id,
    dump_run,
    encode_facts,
    model_slug,
)
from leaderboard.store import ingest
from leaderboard.validate import validate_paths

# any text a run file may hold: every character but invisible and direction-changing ones and controls other than
# tab, newline and carriage return (validate refuses those: see test_validate)
TEXT = st.text(st.characters(exclude_categories=("Cs", "Cf", "Co", "Cc", "Zl", "Zp"), include_characters="\t\n\r"),
               max_size=60)
HOSTILE = st.sampled_from(["<script>alert(1)</script>", "[x](https://evil.example)", "=HYPERLINK(\"http://e\")",
                           "| a | b |", "`code`", "Ωmega 北京 ﬁ①", "line\r\nbreak", "&amp;", "{{ jinja }}", "%s %d"])
FREE = st.one_of(TEXT, HOSTILE)
# every id the contract accepts (the schema's own pattern), up to its 200-character limit
MODEL_ID = st.from_regex(MODEL_ID_PATTERN, fullmatch=True).filter(lambda mid: len(mid) <= 200)
IDENT = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,30}", fullmatch=True)
FRACTION = st.floats(0.0, 1.0, allow_nan=False, allow_subnormal=True)
EARLIEST = datetime(2015, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(2026, 11, 1, tzinfo=timezone.utc)


@st.composite
def step(draw) -> dict:
    if draw(st.booleans()):
        return {"method": "prune", "criterion": draw(st.sampled_from(["l1", "random"])),
                "scope": draw(st.sampled_from(["all", "attention", "ffn", "layer.*.weight"])),
                "granularity": draw(st.sampled_from(["global", "local"])), "sparsity": draw(FRACTION)}
    return {"method": "quantize", "scheme": draw(st.sampled_from(["dynamic-int8", "bnb-nf4", "weight-only-int8"])),
            "scope": "all"}


@st.composite
def run(draw, model: dict, baseline: bool) -> dict:
    lama = draw(st.booleans())
    task = "lama:trex" if lama else "lm-eval:boolq"
    n = draw(st.integers(1, 10**12))
    names = ["precision@1", "precision@10", "mrr"] if lama else ["acc", "acc_norm"]
    metrics = {}
    for name in names:
        value = draw(FRACTION)
        mv = {"value": value, "scale": "fraction", "n": n}
        if draw(st.booleans()):
            mv["ci"] = {"low": draw(st.floats(0.0, value)), "high": draw(st.floats(value, 1.0)), "level": 0.95,
                        "method": "bootstrap"}
        metrics[name] = mv
    result = {"task": task, "n": n, "excluded": draw(st.integers(0, 10**15)), "metrics": metrics}
    if lama and draw(st.booleans()):
        ranks = draw(st.lists(st.integers(1, 10**12), min_size=1, max_size=30))
        result["n"] = len(ranks)
        for mv in metrics.values():
            mv["n"] = len(ranks)
        result["facts"] = encode_facts([(f"P19:{i}", r) for i, r in enumerate(ranks)]).model_dump()
    started = draw(st.datetimes(EARLIEST.replace(tzinfo=None), LATEST.replace(tzinfo=None),
                                timezones=st.sampled_from([timezone.utc, timezone(timedelta(hours=14)),
                                                           timezone(timedelta(hours=-12))])))
    assume(EARLIEST <= started.astimezone(timezone.utc) <= LATEST)
    steps = [] if baseline else draw(st.lists(step(), min_size=1, max_size=20))
    if any(s["method"] == "quantize" for s in steps):  # prune before quantize, as the runner does
        steps = sorted(steps, key=lambda s: s["method"] == "quantize")
    sparsity = draw(FRACTION)
    prunes = [s for s in steps if s["method"] == "prune"]
    if len(prunes) == 1 and prunes[0]["scope"] == "all":  # one pruning step: measured within half a point of it
        sparsity = min(1.0, max(0.0, prunes[0]["sparsity"] + draw(st.floats(-0.004, 0.004))))
    data = {
        "schema_version": draw(st.sampled_from(["1.0", "1.1"])), "run_id": "0" * 16, "model": model,
        "compression": steps,
        "evaluation": {"task": task, "data_sha256": "ab" * 32,
                       "settings": draw(st.dictionaries(IDENT, st.one_of(FREE, st.integers(-10**9, 10**9),
                                                                          st.booleans(), st.none()), max_size=4))},
        "measured": {"sparsity": {"all": sparsity}, "weight_bytes": draw(st.integers(0, 10**15)),
                     "bits_per_weight": draw(st.floats(0.01, 64.0))},
        "results": [result],
        "provenance": {"runner_version": "0.1.0", "libraries": {"torch": draw(FREE)}, "python": "3.11",
                       "platform": draw(FREE), "device": draw(FREE), "dtype": "float32",
                       "seed": draw(st.integers(0, 2**63 - 1)), "batch_size": 1,
                       "started_at": started.isoformat(), "finished_at": started.isoformat(), "command": draw(FREE)},
        "source": {"kind": "reproduced"},
        "notes": draw(st.one_of(st.none(), FREE)),
    }
    if data["notes"] is None:
        del data["notes"]
    r = RunFile.model_validate(data)
    return json.loads(dump_run(r.model_copy(update={"run_id": compute_run_id(r)})))


@st.composite
def run_sets(draw) -> list[dict]:
    models = draw(st.lists(MODEL_ID, min_size=1, max_size=3, unique_by=model_slug))
    out = []
    for mid in models:
        model = {"id": mid, "family": draw(st.sampled_from(["encoder", "encoder-decoder", "decoder"])),
                 "architecture": draw(st.sampled_from(["BertForMaskedLM", "T5ForConditionalGeneration", "X"])),
                 "parameters": draw(st.integers(0, 10**15)), "toy": draw(st.booleans())}
        if draw(st.booleans()):
            model["revision"] = draw(st.from_regex(r"[A-Za-z0-9_.:\-]{1,100}", fullmatch=True))
        out.append(draw(run(model, baseline=True)))
        out += draw(st.lists(run(model, baseline=False), min_size=1, max_size=3))
    return out


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                                  HealthCheck.function_scoped_fixture])
@given(runs=run_sets())
def test_what_validate_accepts_ingest_and_build_handle(runs, tmp_path_factory) -> None:
    tmp = tmp_path_factory.mktemp("prop")
    folder = tmp / "runs"
    ids = set()
    for data in runs:
        r = RunFile.model_validate(data)
        assume(r.run_id not in ids)
        ids.add(r.run_id)
        path = folder / canonical_path(r)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    report = validate_paths([folder])
    assert not report.errors, [p.line() for p in report.errors]
    db = tmp / "db.duckdb"
    ingest(folder, db)
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM runs").fetchone()[0] == len(ids)
        retention = [x for (x,) in con.execute("SELECT retention FROM retention").fetchall() if x is not None]
        assert all(x == x and x != float("inf") for x in retention)
    finally:
        con.close()
    out = tmp / "public"
    build_site(folder, out, ROOT, tmp / "work", log=lambda *_: None)
    assert (out / "index.html").is_file()
    for rid in ids:
        assert (out / "runs" / f"{rid}.html").is_file()
    shutil.rmtree(tmp, ignore_errors=True)
