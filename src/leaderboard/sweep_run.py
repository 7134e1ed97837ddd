"""Running a sweep's units in one worker: status, resume, failures, model reuse, progress.

- Resume: a run whose file exists (same run_id) is skipped; run files are written atomically, so a
  killed sweep leaves whole files or none.
- Failures (out of memory, a scheme this device lacks, ...) are recorded in the state folder with
  the error and traceback; the sweep goes on. A later sweep retries them unless told not to.
- Each model is loaded once per worker and kept on the CPU; the working copy on the run device is
  restored from it between pipelines (weights copied in place after pruning, a fresh copy after
  quantization, which replaces layers) instead of being read from disk again.
"""

from __future__ import annotations

import copy
import gc
import json
import socket
import time
import traceback
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

import torch

from .models import LoadedModel, cached_revision, resolve_device
from .runner import (
    Checked,
    SpecError,
    atomic_write,
    check,
    load_model,
    model_identity,
    planned_paths,
    precompressed,
    run_loaded,
)
from .sweep import Unit

STATES = ("done", "todo", "failed", "invalid", "unknown")


# --- failures -----------------------------------------------------------------------------------


class FailureLog:
    """One JSON file per failed run under ``<state>/failures/`` (shards may share the folder)."""

    def __init__(self, state_dir: Path):
        self.dir = Path(state_dir) / "failures"

    def _path(self, key: str) -> Path:
        return self.dir / f"{key}.json"

    def record(self, unit: Unit, task: str, exc: BaseException, shard: str) -> dict:
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        entry = {"run_key": unit.run_key(task), "group": unit.group, "model": unit.spec.model_id or unit.spec.model,
                 "compression": unit.pipeline, "task": task, "error_type": type(exc).__name__,
                 "error": str(exc)[:2000] or type(exc).__name__, "traceback": tb[-8000:], "shard": shard,
                 "host": socket.gethostname(), "device": str(unit.spec.device),
                 "at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        atomic_write(self._path(entry["run_key"]), json.dumps(entry, indent=2) + "\n")
        return entry

    def clear(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def get(self, key: str) -> dict | None:
        try:
            return json.loads(self._path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None


# --- status -------------------------------------------------------------------------------------


@dataclass
class RunStatus:
    unit: Unit
    task: str
    state: str  # one of STATES
    path: Path | None = None
    detail: str = ""


def _identity(unit: Unit, memo: dict) -> tuple[str, str] | None:
    ident = model_identity(unit.spec, memo)
    if ident is None and unit.spec.allow_hub:
        rev = cached_revision(unit.spec.model, unit.spec.revision, unit.spec.cache_dir)
        ident = (unit.spec.model_id or unit.spec.model, rev) if rev else None
    return ident


def status(units: list[Unit], state_dir: Path, memo: dict | None = None) -> list[RunStatus]:
    """Which runs are done (their file exists), failed before, not yet run, or cannot run (with why);
    nothing is loaded but configs, data and (for local models) the weights' hash."""
    memo = {} if memo is None else memo
    failures = FailureLog(state_dir)
    out = []
    for unit in units:
        try:
            checked = check(unit.spec, memo)
        except SpecError as e:
            out += [RunStatus(unit, t, "invalid", detail=str(e)) for t in unit.spec.evals]
            continue
        ident = _identity(unit, memo)
        planned = planned_paths(checked, ident) if ident else None
        for task in unit.spec.evals:
            path = planned.get(task) if planned else None
            failure = failures.get(unit.run_key(task))
            if path is not None and path.exists():
                out.append(RunStatus(unit, task, "done", path))
            elif failure:
                out.append(RunStatus(unit, task, "failed", path, f"{failure['error_type']}: {failure['error']}"))
            elif path is None:
                out.append(RunStatus(unit, task, "unknown", None, "hub model not in the local cache: "
                                     "its revision (part of the run id) is known once it is downloaded"))
            else:
                out.append(RunStatus(unit, task, "todo", path))
    return out


# --- the loaded model, kept pristine ------------------------------------------------------------


class ModelKeeper:
    """A model loaded once onto the CPU (the pristine copy) and a working copy on the run device."""

    def __init__(self, spec):
        self.device = resolve_device(spec.device)
        self.pristine: LoadedModel = load_model(replace(spec, device="cpu"))
        self.working: LoadedModel | None = None
        self.state = "none"  # none | clean | pruned | replaced
        self.restores = {"in-place": 0, "copy": 0}

    def fresh(self) -> LoadedModel:
        """The working model with the pristine weights."""
        if self.state == "pruned":
            src = self.pristine.model.state_dict()
            with torch.no_grad():
                for name, t in self.working.model.state_dict().items():
                    t.copy_(src[name], non_blocking=True)
            self.restores["in-place"] += 1
        elif self.state in ("none", "replaced"):
            self.drop_working()
            model = copy.deepcopy(self.pristine.model).to(self.device).eval()
            self.working = replace(self.pristine, model=model, device=self.device)
            if self.state == "replaced":
                self.restores["copy"] += 1
        self.state = "clean"
        return self.working

    def used(self, steps: list, failed: bool = False) -> None:
        if failed or any(s.method == "quantize" for s in steps):
            self.state = "replaced"  # layers were swapped (or may be half-done): copy afresh
        elif steps:
            self.state = "pruned"

    def drop_working(self) -> None:
        self.working = None
        gc.collect()
        if self.device.type == "cuda":
            torch.cuda.empty_cache()

    def close(self) -> None:
        self.drop_working()
        self.pristine = None
        gc.collect()


# --- the worker ---------------------------------------------------------------------------------


@dataclass
class Summary:
    shard: str
    runs: int = 0  # runs in this shard
    done_before: int = 0
    written: list[str] = field(default_factory=list)
    failed: list[dict] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)
    models_loaded: int = 0
    restores: dict = field(default_factory=lambda: {"in-place": 0, "copy": 0})
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    def lines(self) -> list[str]:
        out = [f"shard {self.shard}: {self.runs} run(s): {len(self.written)} written, {self.done_before} already done, "
               f"{len(self.failed)} failed; {self.models_loaded} model load(s), "
               f"{self.restores['in-place']} in-place + {self.restores['copy']} copied restores; {_hms(self.seconds)}"]
        out += [f"  {failure_line(f)}" for f in self.failed]
        return out


def failure_line(record: dict) -> str:
    """A recorded failure on one line (its error's first line; the record keeps the whole traceback)."""
    return (f"FAILED {record['model']} | {record['compression']} | {record['task']}: {record['error_type']}: "
            f"{record['error'].splitlines()[0][:200]}")


def _hms(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600:d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class _Progress:
    """The overall bar (on a terminal) and log lines with an ETA from the runs this worker did."""

    def __init__(self, total: int, desc: str, bar: bool, log):
        self.total, self.log, self.t0, self.done = total, log, time.perf_counter(), 0
        self.bar = None
        if bar:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, unit="run", desc=desc, position=0, dynamic_ncols=True)

    def skip(self, n: int) -> None:
        """Runs found done after loading (hub models): not part of the work left."""
        self.total -= n
        if self.bar is not None:
            self.bar.total = self.total
            self.bar.refresh()

    def step(self, line: str) -> None:
        self.done += 1
        left = self.total - self.done
        eta = (time.perf_counter() - self.t0) / self.done * left
        text = f"[{self.done}/{self.total}] {line}" + (f" (ETA {_hms(eta)})" if left else "")
        if self.bar is not None:
            self.bar.update(1)
            self.bar.write(text)
        else:
            self.log(text)

    def note(self, line: str) -> None:
        (self.bar.write if self.bar is not None else self.log)(line)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def run_units(units: list[Unit], state_dir: Path, *, shard: str = "0/1", retry_failed: bool = True,
              force: bool = False, progress: bool = False, log=print, memo: dict | None = None) -> Summary:
    """Run every pending run of ``units``; never raises for a single run's failure."""
    t0 = time.perf_counter()
    memo = {} if memo is None else memo
    failures = FailureLog(state_dir)
    summary = Summary(shard, runs=sum(len(u.spec.evals) for u in units))
    checked: dict[int, Checked] = {}
    for i, u in enumerate(units):  # every spec checked before any weight is loaded
        try:
            checked[i] = check(u.spec, memo)
        except SpecError as e:
            summary.invalid.append(f"{u.group} | {u.spec.model} | {u.pipeline}: {e}")
    if summary.invalid:
        summary.seconds = time.perf_counter() - t0
        return summary

    def pending(i: int, ident) -> tuple[list[str], dict | None]:
        u = units[i]
        planned = planned_paths(checked[i], ident) if ident else None
        todo = []
        for task in u.spec.evals:
            if planned and planned[task].exists() and not force:
                continue
            if not retry_failed and failures.get(u.run_key(task)):
                continue
            todo.append(task)
        return todo, planned

    todo: dict[int, list[str]] = {}
    plans: dict[int, dict | None] = {}
    for i, u in enumerate(units):
        todo[i], plans[i] = pending(i, _identity(u, memo))
    summary.done_before = sum(len(u.spec.evals) - len(todo[i]) for i, u in enumerate(units))
    bar = _Progress(sum(len(t) for t in todo.values()), f"sweep {shard}", progress, log)

    by_model: dict[str, list[int]] = {}
    for i, u in enumerate(units):
        by_model.setdefault(u.load_key(), []).append(i)
    try:
        for indices in by_model.values():
            if not any(todo[i] for i in indices):
                continue
            _run_model(units, indices, todo, plans, pending, checked, failures, summary, bar, shard, force, progress)
    finally:
        bar.close()
    summary.seconds = round(time.perf_counter() - t0, 1)
    return summary


def _run_model(units, indices, todo, plans, pending, checked, failures, summary, bar, shard, force, progress) -> None:
    first = units[indices[0]]
    t_load = time.perf_counter()
    try:
        keeper = ModelKeeper(first.spec)
    except Exception as e:  # the whole model's runs fail (not on disk, out of memory); the sweep goes on
        for i in indices:
            for task in todo[i]:
                summary.failed.append(failures.record(units[i], task, e, shard))
                bar.step(failure_line(summary.failed[-1]) + " (the model did not load)")
        return
    summary.models_loaded += 1
    lm = keeper.pristine
    bar.note(f"loaded {lm.model_id} ({lm.parameters:,} parameters) in {time.perf_counter() - t_load:.1f} s; "
             f"runs on {keeper.device}")
    try:
        for i in indices:
            unit = units[i]
            if plans[i] is None:  # a hub model: its revision is known now
                before = len(todo[i])
                todo[i], plans[i] = pending(i, (lm.model_id, lm.revision))
                summary.done_before += before - len(todo[i])
                bar.skip(before - len(todo[i]))
            if not todo[i]:
                continue
            errors: dict[str, BaseException] = {}
            lines: list[str] = []
            try:
                working = keeper.fresh()
                written = run_loaded(checked[i], working, todo[i], planned=plans[i], progress=progress,
                                     force=force, log=lines.append, on_error=errors.__setitem__)
                keeper.used(checked[i].spec.compression[precompressed(checked[i].spec):])
            except Exception as e:  # compression failed (or OOM): every evaluation of the unit fails
                keeper.used(checked[i].spec.compression[precompressed(checked[i].spec):], failed=True)
                errors = {task: e for task in todo[i]}
                written = []
            summary.written += map(str, written)
            for task in todo[i]:
                if task in errors:
                    summary.failed.append(failures.record(unit, task, errors[task], shard))
                    bar.step(failure_line(summary.failed[-1]))
                else:
                    failures.clear(unit.run_key(task))
                    bar.step(next((x for x in lines if f" | {task}: " in x), f"{lm.model_id} | {unit.pipeline} | {task}"))
    finally:
        for k, v in keeper.restores.items():
            summary.restores[k] += v
        keeper.close()
