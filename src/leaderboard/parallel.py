"""Map a function over many small items on every core, for bulk validation and ingest."""

from __future__ import annotations

import gc
import multiprocessing as mp
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")
C = TypeVar("C")


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


@contextmanager
def gc_paused() -> Iterator[None]:
    """Building thousands of small objects triggers the cyclic GC over and over; none form cycles."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


# mypy's thresholds (mypy/main.py): a collection of the youngest objects after 200,000 allocations, not 700
RELAXED_GC = (200_000, 30, 30)


@contextmanager
def gc_relaxed() -> Iterator[None]:
    """Collect cycles less often while a process builds and keeps millions of objects (a build of 100,000 runs: rows,
    cells, pages). With the default thresholds each full collection walks every object still held, and they ran
    again and again: 2.5 s of a 24 s rebuild (issue 22, scale). Cycles are still collected, rarely."""
    old = gc.get_threshold()
    gc.set_threshold(*RELAXED_GC)
    try:
        yield
    finally:
        gc.set_threshold(*old)


def _run_chunk(args: tuple) -> list:
    fn, chunk, *combine = args
    with gc_paused():
        out = [fn(x) for x in chunk]
        return combine[0](out) if combine else out


class Pool:
    """``pmap`` over one set of worker processes, kept for every call inside ``with Pool() as pool``.

    A spawned worker costs an interpreter and this package's imports (about half a CPU second); the ingest maps
    each batch of files in turn, and starting fresh workers per batch was a fifth of its CPU time at 100,000 runs.
    Workers start on the first call with enough items and stop when the ``with`` block ends.
    """

    def __init__(self, *, min_items: int = 400, workers: int | None = None) -> None:
        self.workers = min(workers or cpu_count(), 8)
        self.min_items = min_items
        self._ex: ProcessPoolExecutor | None = None

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._ex is not None:
            self._ex.shutdown()
            self._ex = None

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """``[fn(x) for x in items]`` in order; see pmap."""
        return next(self.map_ahead(fn, [items]))

    def map_ahead(self, fn: Callable[[T], R], batches: Iterable[Sequence[T]],
                  combine: Callable[[list[R]], C] | None = None) -> Iterator[list]:
        """``self.map(fn, batch)`` for each batch in turn, the workers already mapping the next batch while the caller
        uses this one's results (so the caller's own work on a batch, such as inserting it into a store, overlaps
        the workers' work on the next; at most two batches are held). Batches too small for the workers are mapped
        here, when they are reached. ``combine`` (a module-level function): each worker's share of a batch, in order,
        is ``combine``d where it was mapped (e.g. rows into a table), and a batch's result is the list of them."""
        pending: list | None = None  # the batch being mapped: its chunks' futures (None: mapped here), its items
        extra = (combine,) if combine is not None else ()

        def start(batch: Sequence[T]) -> list:
            if self.workers < 2 or len(batch) < self.min_items:
                return [None, batch]
            if self._ex is None:
                self._ex = ProcessPoolExecutor(self.workers, mp_context=mp.get_context("spawn"))
            size = max(1, -(-len(batch) // (self.workers * 4)))
            return [[self._ex.submit(_run_chunk, (fn, batch[i : i + size], *extra)) for i in range(0, len(batch), size)],
                    batch]

        def finish(started: list) -> list:
            futures, items = started
            with gc_paused():
                parts = [_run_chunk((fn, items, *extra))] if futures is None else [f.result() for f in futures]
                return parts if combine is not None else [x for part in parts for x in part]

        try:
            for batch in batches:
                started = start(batch)
                if pending is not None:
                    yield finish(pending)
                pending = started
            if pending is not None:
                last, pending = pending, None
                yield finish(last)
        finally:
            if pending is not None and pending[0] is not None:
                for f in pending[0]:
                    f.cancel()


def pmap(fn: Callable[[T], R], items: Sequence[T], *, min_items: int = 400, workers: int | None = None) -> list[R]:
    """``[fn(x) for x in items]`` in order, over a process pool when there are enough items.

    ``fn`` must be a module-level function; what it returns is pickled back, so keep it light.

    Workers are *spawned*, never forked: polars and torch run thread pools that a forked child
    inherits locked (a fork after the parent used polars deadlocked the ingest in CI).
    """
    with Pool(min_items=min_items, workers=workers) as pool:
        return pool.map(fn, items)
