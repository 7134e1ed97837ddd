"""Ranking metrics with bootstrap confidence intervals (P@k, MRR; micro and macro over relations)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..schema import ConfidenceInterval, MetricValue

BOOTSTRAP = 1000


@dataclass
class RankStats:
    p1: np.ndarray  # per fact: 1.0 if rank == 1
    p10: np.ndarray
    rr: np.ndarray  # reciprocal rank


def per_fact(ranks: np.ndarray) -> RankStats:
    ranks = np.asarray(ranks, dtype=np.float64)
    return RankStats((ranks == 1).astype(np.float64), (ranks <= 10).astype(np.float64), 1.0 / ranks)


def enclosing(low: float, high: float, value: float, digits: int = 6) -> tuple[float, float]:
    """(low, high) widened to hold ``value`` and rounded to ``digits`` decimals so that the stored interval
    contains the stored value by construction: to nearest (as before) where that holds it, else outward
    (rounding to nearest put both ends of a BEAR interval [1/3, 1/3] at 0.333333, below the value 1/3, and
    the run failed validation after its evaluation)."""
    lo, hi = min(float(low), float(value)), max(float(high), float(value))
    near_lo, near_hi = round(lo, digits), round(hi, digits)
    scale = 10**digits
    if near_lo > value:
        near_lo = math.floor(lo * scale) / scale
    if near_hi < value:
        near_hi = math.ceil(hi * scale) / scale
    return (near_lo if near_lo <= value else float(np.nextafter(value, -np.inf)),
            near_hi if near_hi >= value else float(np.nextafter(value, np.inf)))


def _ci(samples: np.ndarray, value: float) -> ConfidenceInterval:
    lo, hi = np.percentile(samples, [2.5, 97.5])
    low, high = enclosing(lo, hi, value)
    return ConfidenceInterval(low=low, high=high, level=0.95, method="bootstrap")


def _metric(value: float, n: int, samples: np.ndarray | None) -> MetricValue:
    value = round(float(value), 6)
    return MetricValue(value=value, n=n, ci=_ci(samples, value) if samples is not None else None)


def micro_metrics(ranks: np.ndarray, rng: np.random.Generator, bootstrap: int = BOOTSTRAP) -> dict[str, MetricValue]:
    """P@1, P@10 and MRR over one set of facts, each with a bootstrap 95% interval."""
    n = len(ranks)
    st = per_fact(ranks)
    idx = rng.integers(0, n, size=(bootstrap, n)) if n and bootstrap else None
    out = {}
    for name, arr in (("precision@1", st.p1), ("precision@10", st.p10), ("mrr", st.rr)):
        samples = arr[idx].mean(axis=1) if idx is not None else None
        out[name] = _metric(arr.mean() if n else 0.0, n, samples)
    return out


def macro_metrics(ranks_by_relation: dict[str, np.ndarray], rng: np.random.Generator,
                  bootstrap: int = BOOTSTRAP) -> dict[str, MetricValue]:
    """Means over relations (LAMA's headline numbers), with a bootstrap that resamples facts within each
    relation; plus the '-micro' variants over all facts pooled."""
    rels = [r for r, v in ranks_by_relation.items() if len(v)]
    out: dict[str, MetricValue] = {}
    if not rels:
        return out
    n_total = sum(len(ranks_by_relation[r]) for r in rels)
    names = ("precision@1", "precision@10", "mrr")
    per_rel = {r: per_fact(ranks_by_relation[r]) for r in rels}
    boot = {name: np.zeros((bootstrap, len(rels))) for name in names}
    for j, r in enumerate(rels):
        st = per_rel[r]
        idx = rng.integers(0, len(st.p1), size=(bootstrap, len(st.p1)))
        for name, arr in zip(names, (st.p1, st.p10, st.rr)):
            boot[name][:, j] = arr[idx].mean(axis=1)
    for name, attr in zip(names, ("p1", "p10", "rr")):
        value = float(np.mean([getattr(per_rel[r], attr).mean() for r in rels]))
        out[name] = _metric(value, n_total, boot[name].mean(axis=1))
    pooled = np.concatenate([ranks_by_relation[r] for r in rels])
    for name, mv in micro_metrics(pooled, rng, bootstrap).items():
        out[f"{name}-micro"] = mv
    return out
