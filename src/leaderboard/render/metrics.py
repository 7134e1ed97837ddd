"""The numbers the site shows beside the raw metrics: retention per task with an interval, chance-normalised
retention for multiple-choice accuracy, whether a run is distinguishable from its baseline, and readable
names (methods, relations). Pure functions over polars frames; no HTML here.

Retention interval (defined on the methodology page):
- with per-fact outcomes in both run files (LAMA): a paired bootstrap. Every fact falls in one of four cells
  (right in both, forgotten, newly right, wrong in both); resampling the facts with replacement is drawing the
  four counts from a multinomial, so 2,000 resamples cost nothing. Each resample gives the micro P@1 ratio
  R* = (kept + newly right) / (kept + forgotten); the interval is R_macro · [q2.5(R*), q97.5(R*)] / R_micro,
  i.e. the paired relative uncertainty applied to the headline (macro) retention.
- otherwise (reported results, lm-eval without per-example outcomes, synthetic runs): the delta-method
  interval of a ratio of two independent estimates, with standard errors read off each 95% interval. It is
  marked "≈" (not paired; wider than the paired one when the two runs are positively correlated).
"""

from __future__ import annotations

import hashlib
import json
import math
from functools import cache
from importlib import resources

import numpy as np
import polars as pl

from .. import registry

Z = 1.959963984540054
RESAMPLES = 2000

MIN_ABOVE_CHANCE = registry.MIN_ABOVE_CHANCE


def chance(task: str) -> float | None:
    """Chance accuracy of a multiple-choice task (1 / its number of options, from the registry), else None."""
    info = registry.task_info(task)
    return None if info is None else info.chance


def near_chance(task: str, baseline: float | None) -> bool:
    """The baseline is within MIN_ABOVE_CHANCE of chance (or below it): it has no knowledge to keep, and a compressed
    run's ratio to it is a ratio of two guesses."""
    return _within_chance(chance(task), baseline)


def _within_chance(c: float | None, baseline: float | None) -> bool:
    """near_chance's rule, for a task's chance ``c`` already looked up."""
    return c is not None and baseline is not None and baseline - c < MIN_ABOVE_CHANCE


def paired_interval(kept: int, forgotten: int, learned: int, compared: int, seed: str) -> tuple[float, float] | None:
    """95% percentile interval of the micro P@1 ratio (compressed / baseline) over paired resamples of facts."""
    base_right = kept + forgotten
    if compared <= 0 or base_right <= 0:
        return None
    p = np.array([kept, forgotten, learned, compared - kept - forgotten - learned], dtype=float) / compared
    rng = np.random.default_rng(int(hashlib.sha256(seed.encode()).hexdigest()[:16], 16))
    draws = rng.multinomial(compared, p, size=RESAMPLES)
    denom = draws[:, 0] + draws[:, 1]
    ok = denom > 0
    ratio = (draws[ok, 0] + draws[ok, 2]) / denom[ok]
    if ratio.size == 0:
        return None
    lo, hi = np.quantile(ratio, [0.025, 0.975])
    return float(lo), float(hi)


def _se(low: float | None, high: float | None) -> float | None:
    if low is None or high is None or not math.isfinite(low) or not math.isfinite(high):
        return None
    return max(high - low, 0.0) / (2 * Z)


def delta_interval(value: float, v_low, v_high, base: float, b_low, b_high, offset: float = 0.0) -> tuple[float, float] | None:
    """Interval of (value - offset) / (base - offset) from two independent 95% intervals (delta method)."""
    num, den = value - offset, base - offset
    se_v, se_b = _se(v_low, v_high), _se(b_low, b_high)
    if se_v is None or den <= 0:
        return None
    r = num / den
    se = math.sqrt((se_v / den) ** 2 + ((r * se_b / den) ** 2 if se_b is not None else 0.0))
    return r - Z * se, r + Z * se


def add_retention(h: pl.DataFrame, paired: pl.DataFrame, baseline_ci: pl.DataFrame) -> pl.DataFrame:
    """Columns ret_low/ret_high/ret_paired, nret (chance-normalised) with nret_low/nret_high, and verdict:
    'baseline', 'tied' (the interval holds 1), 'lower', 'higher' or None (no interval)."""
    pairs = {(r["run_id"], r["task"]): r for r in paired.iter_rows(named=True)}
    bci = {r["run_id"]: r for r in baseline_ci.iter_rows(named=True)}
    # chance per task, looked up once (a 100,000-run build asked the registry 550,000 times here: 3 s)
    chances = {t: chance(t) for t in h["task"].unique().to_list()}

    def near(task: str, base: float | None) -> bool:  # near_chance(), with chance looked up once
        return _within_chance(chances[task], base)

    cols: dict[str, list] = {k: [] for k in ("ret_low", "ret_high", "ret_paired", "nret", "nret_low", "nret_high", "verdict")}
    # only the columns read here: a row of the whole headline frame is 47 values (100,000 of them took a second)
    needed = ("run_id", "task", "retention", "baseline_value", "baseline_run_id", "n_steps", "value", "ci_low", "ci_high")
    for r in h.select(needed).iter_rows(named=True):
        lo = hi = nr = nlo = nhi = None
        is_paired = False
        ret, base = r["retention"], r["baseline_value"]
        b = bci.get(r["baseline_run_id"]) or {}
        if ret is not None and r["n_steps"] > 0:
            pr = pairs.get((r["run_id"], r["task"]))
            if pr is not None and pr["micro_ret"]:
                iv = paired_interval(pr["kept"], pr["forgotten"], pr["learned"], pr["compared"], f"{r['run_id']}:{r['task']}")
                if iv is not None:
                    lo, hi = ret * iv[0] / pr["micro_ret"], ret * iv[1] / pr["micro_ret"]
                    is_paired = True
            if lo is None:
                iv = delta_interval(r["value"], r["ci_low"], r["ci_high"], base, b.get("ci_low"), b.get("ci_high"))
                if iv is not None:
                    lo, hi = iv
        c = chances[r["task"]]
        is_near = near(r["task"], base)
        if r["n_steps"] > 0 and is_near:
            lo = hi = None  # nothing to keep: no ratio, no interval, no verdict
            is_paired = False
        elif c is not None and base is not None and not is_near and r["value"] is not None:
            nr = (r["value"] - c) / (base - c)
            if r["n_steps"] > 0:
                iv = delta_interval(r["value"], r["ci_low"], r["ci_high"], base, b.get("ci_low"), b.get("ci_high"), c)
                if iv is not None:
                    nlo, nhi = iv
        if r["n_steps"] == 0:
            verdict = "baseline"
        elif is_near:
            verdict = "near chance"
        elif lo is None:
            verdict = None
        elif lo <= 1.0 <= hi:
            verdict = "tied"
        else:
            verdict = "lower" if hi < 1.0 else "higher"
        for k, v in zip(cols, (lo, hi, is_paired, nr, nlo, nhi, verdict), strict=True):
            cols[k].append(v)
    below = pl.Series("near", [n > 0 and near(t, b) for n, t, b in h.select("n_steps", "task", "baseline_value").iter_rows()],
                      dtype=pl.Boolean)
    return h.with_columns(
        retention=pl.when(below).then(None).otherwise(pl.col("retention")),
        near_chance=below,
    ).with_columns(
        pl.Series("ret_low", cols["ret_low"], dtype=pl.Float64), pl.Series("ret_high", cols["ret_high"], dtype=pl.Float64),
        pl.Series("ret_paired", cols["ret_paired"], dtype=pl.Boolean), pl.Series("nret", cols["nret"], dtype=pl.Float64),
        pl.Series("nret_low", cols["nret_low"], dtype=pl.Float64), pl.Series("nret_high", cols["nret_high"], dtype=pl.Float64),
        pl.Series("verdict", cols["verdict"], dtype=pl.String))


# --- names ---------------------------------------------------------------------------------------

BASELINE_NAME = "Uncompressed baseline"


def cap(text: str | None) -> str | None:
    """A label as a reader sees it: its first letter upper-case ('global magnitude (L1) pruning 80% of all' ->
    'Global ...'); the rest as it is (scheme names such as 'bnb-nf4' keep their case)."""
    return text[:1].upper() + text[1:] if text else text


def method_name(key: str) -> str:
    """'prune:l1:global' -> 'Global magnitude (L1) pruning'; 'quantize:bnb-nf4' -> 'Bitsandbytes NF4 quantization'."""
    return cap(_method_name(key))


def _method_name(key: str) -> str:
    """Each step's name as its method gives it (the key read back through the method registry)."""
    from ..compress import registry as methods

    if key == "baseline":
        return BASELINE_NAME
    return " → ".join(part if isinstance(part, str) else methods.key_name(part) for part in methods.parse_key(key))


def task_name(task: str) -> str:
    """The task's label from the registry; an unknown task of a known suite reads '<suite label> <name>'."""
    info = registry.task_info(task)
    if info is not None:
        return info.label
    from ..evaluate import registry as suites

    suite, _, name = task.partition(":")
    found = suites.find(task)
    return (found.label_prefix if found is not None else suite + " ") + name


def metric_short(task: str) -> str:
    """The headline metric's short column label (P@1, acc), as the task's suite states it."""
    from ..evaluate import registry as suites

    suite = suites.suite_of(task)
    return suite.headline_short or registry.metric_info(suite.headline).label


@cache
def relation_names() -> dict[str, str]:
    """LAMA relation ids -> labels, from the LAMA relations file shipped with the package."""
    out: dict[str, str] = {}
    try:
        text = resources.files("leaderboard").joinpath("data/lama/relations.jsonl").read_text(encoding="utf-8")
    except (FileNotFoundError, OSError):
        return out
    for line in text.splitlines():
        if line.strip():
            row = json.loads(line)
            if row.get("relation") and row.get("label"):
                out[str(row["relation"])] = str(row["label"])
    return out


def relation_label(rel: str) -> str:
    """'P19 · place of birth' (a T-REx relation: its id and LAMA's label), 'Google-RE · place of birth' (a Google-RE
    relation, named by its words: beside T-REx's P19 in a model's heatmap it is told apart by its dataset)."""
    from ..evaluate.lama_data import GOOGLE_RE_TEMPLATES

    name = relation_names().get(rel)
    if name:
        return f"{rel} · {name}"
    if rel in GOOGLE_RE_TEMPLATES:
        return f"Google-RE · {rel.replace('_', ' ')}"
    return rel.replace("_", " ") if "_" in rel else rel
