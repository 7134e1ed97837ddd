"""The numbers the site adds to the run files' metrics, checked against independent computations on real
run files (the committed demo runs): the paired retention interval against a plain fact-level bootstrap,
chance-normalised retention against its definition, and the tied/lower verdicts."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import ROOT
from leaderboard.render import metrics
from leaderboard.schema import RunFile, decode_facts


def _run(run_id: str) -> RunFile:
    return RunFile.model_validate_json(next((ROOT / "runs").rglob(f"{run_id}.json")).read_text())


def _outcomes(run_id: str) -> dict[str, bool]:
    return {fid: rank == 1 for fid, rank in decode_facts(_run(run_id).results[0].facts).items()}


@pytest.mark.parametrize("run_id", ["9bc2dd34d613390d", "cfee8158bb921cf4", "dde7a93c2ca37cea"])
def test_paired_interval_equals_a_fact_level_bootstrap(run_id) -> None:
    """Resampling facts (the same draw for the model and its baseline) and taking the micro P@1 ratio: the
    multinomial shortcut must give the same 95% interval as the textbook loop over resampled fact indices."""
    base, comp = _outcomes("4f77a6412579a8db"), _outcomes(run_id)
    ids = sorted(set(base) & set(comp))
    b = np.array([base[i] for i in ids], dtype=float)
    c = np.array([comp[i] for i in ids], dtype=float)
    rng = np.random.default_rng(0)
    idx = rng.integers(0, len(ids), size=(4000, len(ids)))
    ratios = c[idx].sum(axis=1) / b[idx].sum(axis=1)
    ref = np.quantile(ratios, [0.025, 0.975])
    kept = int(((b == 1) & (c == 1)).sum())
    forgotten = int(((b == 1) & (c == 0)).sum())
    learned = int(((b == 0) & (c == 1)).sum())
    lo, hi = metrics.paired_interval(kept, forgotten, learned, len(ids), seed=run_id)
    point = c.sum() / b.sum()
    assert lo <= point <= hi
    width = ref[1] - ref[0]
    assert abs(lo - ref[0]) < 0.1 * width + 1e-3 and abs(hi - ref[1]) < 0.1 * width + 1e-3, ((lo, hi), ref)


def test_paired_interval_is_narrower_than_the_unpaired_one_on_real_runs() -> None:
    """The 80 % run and its baseline share most facts: pairing removes that shared noise."""
    base, comp = _run("4f77a6412579a8db"), _run("9bc2dd34d613390d")
    mb, mc = base.results[0].metrics["precision@1-micro"], comp.results[0].metrics["precision@1-micro"]
    o_b, o_c = _outcomes("4f77a6412579a8db"), _outcomes("9bc2dd34d613390d")
    ids = set(o_b) & set(o_c)
    kept = sum(o_b[i] and o_c[i] for i in ids)
    forgotten = sum(o_b[i] and not o_c[i] for i in ids)
    learned = sum(o_c[i] and not o_b[i] for i in ids)
    lo, hi = metrics.paired_interval(kept, forgotten, learned, len(ids), seed="x")
    ulo, uhi = metrics.delta_interval(mc.value, mc.ci.low, mc.ci.high, mb.value, mb.ci.low, mb.ci.high)
    assert hi - lo < uhi - ulo


def test_chance_normalised_retention_and_verdicts() -> None:
    import polars as pl

    h = pl.DataFrame({
        "run_id": ["a", "b", "c", "base"], "task": ["lm-eval:boolq"] * 3 + ["lm-eval:boolq"],
        "n_steps": [1, 1, 1, 0], "value": [0.5, 0.70, 0.78, 0.78], "ci_low": [0.47, 0.67, 0.75, 0.75],
        "ci_high": [0.53, 0.73, 0.81, 0.81], "retention": [0.5 / 0.78, 0.70 / 0.78, 1.0, 1.0],
        "baseline_value": [0.78] * 4, "baseline_run_id": ["base"] * 4})
    base_ci = pl.DataFrame({"run_id": ["base"], "ci_low": [0.75], "ci_high": [0.81]})
    paired = pl.DataFrame(schema={"run_id": pl.String, "task": pl.String, "kept": pl.Int64, "forgotten": pl.Int64,
                                  "learned": pl.Int64, "compared": pl.Int64, "micro_ret": pl.Float64})
    out = metrics.add_retention(h, paired, base_ci).rows_by_key("run_id", named=True, unique=True)
    # a model at chance keeps 0 of what the baseline knew above chance, though plain retention says 0.64
    assert out["a"]["nret"] == pytest.approx(0.0) and out["a"]["retention"] == pytest.approx(0.641, abs=1e-3)
    assert out["b"]["nret"] == pytest.approx((0.70 - 0.5) / (0.78 - 0.5))
    assert out["a"]["verdict"] == "lower" and out["c"]["verdict"] == "tied" and out["base"]["verdict"] == "baseline"
    assert out["c"]["ret_low"] < 1 < out["c"]["ret_high"]


def test_method_and_relation_names() -> None:
    assert metrics.method_name("prune:l1:global") == "Global magnitude (L1) pruning"
    assert metrics.method_name("prune:l1:global+quantize:dynamic-int8") == \
        "Global magnitude (L1) pruning → Dynamic int8 quantization"
    assert metrics.method_name("quantize:rtn") == "RTN quantization" and metrics.method_name("prune:sparsegpt:local") == \
        "Local SparseGPT pruning"
    assert metrics.relation_label("P19") == "P19 · place of birth"
    assert metrics.relation_label("place_of_birth") == "Google-RE · place of birth"  # not taken for T-REx's P19
    assert metrics.relation_label("some_other_relation") == "some other relation"
    names = {json.loads(line)["relation"] for line in (ROOT / "src/leaderboard/data/lama/relations.jsonl").read_text().splitlines()
             if line.strip()}
    assert names <= set(metrics.relation_names())


def test_task_names() -> None:
    assert [metrics.task_name(t) for t in ("lama:trex", "bear:bear", "bear:big", "lm-eval:arc_easy", "lm-eval:lambada_openai",
                                          "lm-eval:mmlu", "lm-eval:some_new_task", "lama:new")] == \
        ["LAMA T-REx", "BEAR", "BEAR-big", "ARC-Easy", "LAMBADA (OpenAI)", "MMLU", "some_new_task", "LAMA new"]


def test_a_chart_point_over_several_models_does_not_depend_on_row_order() -> None:
    """The home chart's point of a group of models (their baselines at sparsity 0) carried the run_id of whichever row
    came first, and rows came from an unordered unique(): two builds of the same runs gave different bytes."""
    import polars as pl

    from leaderboard.render.chartdata import _aggregate

    rows = pl.DataFrame({"series": ["L1"] * 3, "sparsity": [0.0] * 3, "retention": [1.0, 1.0, 1.0],
                         "ret_low": [1.0] * 3, "ret_high": [1.0] * 3, "model_id": ["a", "b", "c"],
                         "run_id": ["3a643c26", "288a5df5", "9bc2dd34"], "family": ["decoder", "decoder", "encoder"],
                         "method": ["prune:l1:global"] * 3})
    points = {_aggregate(frame, ["series", "sparsity"], "").row(0, named=True)["run_id"]
              for frame in (rows, rows.reverse(), rows[[1, 2, 0]])}
    assert points == {"288a5df5"}
