"""Map a function over many small items on every core, for bulk validation and ingest."""

from __future__ import annotations

import gc
import multiprocessing as mp
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


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


def _run_chunk(args: tuple[Callable, Sequence]) -> list:
    fn, chunk = args
    with gc_paused():
        return [fn(x) for x in chunk]


def pmap(fn: Callable[[T], R], items: Sequence[T], *, min_items: int = 400, workers: int | None = None) -> list[R]:
    """``[fn(x) for x in items]`` in order, over a process pool when there are enough items.

    ``fn`` must be a module-level function; what it returns is pickled back, so keep it light.

    Workers are *spawned*, never forked: polars and torch run thread pools that a forked child
    inherits locked (a fork after the parent used polars deadlocked the ingest in CI).
    """
    workers = min(workers or cpu_count(), 8)
    if workers < 2 or len(items) < min_items:
        with gc_paused():
            return [fn(x) for x in items]
    size = max(1, -(-len(items) // (workers * 4)))
    chunks = [(fn, items[i : i + size]) for i in range(0, len(items), size)]
    with gc_paused(), ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as ex:
        out: list[R] = []
        for part in ex.map(_run_chunk, chunks):
            out.extend(part)
        return out
