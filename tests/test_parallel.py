"""pmap over a process pool after the parent has used polars (as validate and ingest do)."""

from __future__ import annotations

import os

import polars as pl
import pytest

from leaderboard.parallel import Pool, pmap


def _count_fact_lines(n: int) -> int:
    # the string kernels facts_frame runs on every run file, in the worker
    lines = pl.Series("line", ["fact\t1\n" * n]).str.split("\n").explode()
    return int(lines.str.contains(r"^[^\t\n]+\t[1-9][0-9]*$").sum())


@pytest.mark.timeout(120)
def test_pmap_after_polars_in_the_parent_finishes_in_order():
    # The parent unpacks facts first (validate does, then ingest fans out): polars' thread pool now runs
    # in the parent. A forked worker inherits that pool without its threads and waits on it for ever
    # (CI timed out at 90 minutes on an ingest of the committed runs). This hangs with a "fork" pool.
    assert _count_fact_lines(100_000) == 100_000
    items = [1 + i % 50 for i in range(600)]
    assert pmap(_count_fact_lines, items, min_items=100, workers=2) == items


def _pid(_x: int) -> int:
    return os.getpid()


@pytest.mark.timeout(120)
def test_a_pool_keeps_its_workers_for_every_map():
    """The ingest maps batch after batch: each pmap spawned new workers, at half a CPU second each (issue 22)."""
    with Pool(min_items=10, workers=2) as pool:
        first = pool.map(_pid, list(range(40)))
        second = pool.map(_pid, list(range(40)))
        assert pool.map(_count_fact_lines, [3, 1, 2] * 5) == [3, 1, 2] * 5
    assert os.getpid() not in first and len(set(first) | set(second)) <= 2
