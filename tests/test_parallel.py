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


def _mark(args: tuple[str, int]) -> int:
    folder, x = args
    with open(os.path.join(folder, f"{x}"), "w"):
        pass
    return x * x


@pytest.mark.timeout(120)
def test_map_ahead_maps_the_next_batch_while_the_caller_holds_this_one(tmp_path):
    """The ingest inserts a batch while the workers read the next (issue 22, scale): each batch's results come in
    order, and by the time the caller has one batch the next is already being mapped, without being asked for."""
    import time

    batches = [[(str(tmp_path), x) for x in range(b * 20, b * 20 + 20)] for b in range(3)] + [[(str(tmp_path), 999)]]
    with Pool(min_items=10, workers=2) as pool:
        results = pool.map_ahead(_mark, iter(batches))
        assert next(results) == [x * x for x in range(20)]
        deadline = time.monotonic() + 60
        while len(os.listdir(tmp_path)) < 40 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sorted(map(int, os.listdir(tmp_path))) == list(range(40))  # the second batch, not the third
        assert list(results) == [[x * x for x in range(20, 40)], [x * x for x in range(40, 60)], [999 * 999]]
    assert sorted(map(int, os.listdir(tmp_path))) == [*range(60), 999]  # the last batch (1 item) mapped here


def _pid_and_sum(results: list[int]) -> tuple[int, int]:
    return os.getpid(), sum(results)


@pytest.mark.timeout(120)
def test_map_ahead_combines_each_workers_share_where_it_was_mapped(tmp_path) -> None:
    """The ingest's workers turn their share of a batch into tables before sending it back (issue 22, scale): each
    share is combined in the process that mapped it, the shares come in order, and a batch too small for the workers
    is one share combined here."""
    items = [(str(tmp_path), x) for x in range(40)]
    with Pool(min_items=10, workers=2) as pool:
        big, small = pool.map_ahead(_mark, [items, items[:3]], _pid_and_sum)
    assert [s for _, s in big] == [sum(x * x for x in range(i, i + 5)) for i in range(0, 40, 5)]  # 2 workers x 4 shares
    assert os.getpid() not in {pid for pid, _ in big}
    assert small == [(os.getpid(), 0 + 1 + 4)]


def test_a_build_collects_cycles_less_often_and_puts_the_thresholds_back(tmp_path, monkeypatch) -> None:
    """build_site runs under parallel.RELAXED_GC (a 100,000-run rebuild spent 2.5 s in full collections) and leaves the
    collector as it found it, also when the build fails."""
    import gc

    from leaderboard import synthetic
    from leaderboard.parallel import RELAXED_GC
    from leaderboard.render import build

    seen = []
    real = build.validate_paths
    monkeypatch.setattr(build, "validate_paths", lambda *a, **k: seen.append(gc.get_threshold()) or real(*a, **k))
    before = gc.get_threshold()
    assert before != RELAXED_GC
    synthetic.write(synthetic.generate(3, seed=1), tmp_path / "runs")
    (tmp_path / "runs" / "broken.json").write_text("{")
    with pytest.raises(build.BuildError):
        build.build_site(tmp_path / "runs", tmp_path / "site", tmp_path, tmp_path / "work", log=lambda *_: None)
    assert seen == [RELAXED_GC] and gc.get_threshold() == before
