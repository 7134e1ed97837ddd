"""Sweeps: a YAML grid of models x compression pipelines x evaluations, expanded into run specs.

    name: demo
    defaults: {device: cpu}             # any run-spec setting (batch_size, dtype, lama_dir, out, ...)
    groups:
      - name: encoders
        models: [bert-base-cased, {model: /ckpt/roberta-base, model_id: roberta-base}]
        evals: [lama:trex, lama:google-re]
        pipelines:
          - baseline
          - prune: {criterion: l1, scope: [all, attention, ffn], sparsity: [0.1, 0.5, 0.9]}   # lists expand
          - steps: ["prune:criterion=l1,sparsity=0.5", {quantize: {scheme: dynamic-int8}}]

Each distinct (model settings, pipeline) is a *unit*: compressed once, then evaluated on its
evaluations, one run file each. Units are ordered model by model, so a worker loads each model
once. Top-level keys starting with ``x-`` are ignored (a place for YAML anchors).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from . import bundled
from .evaluate import registry as suites
from .notation import SpecError, parse_step, step_from_dict, step_text
from .runner import SPEC_FIELDS, RunSpec, make_spec
from .schema import Step
from .yamlsafe import YamlError, load_file

COMMON_SETTINGS = tuple(f for f in SPEC_FIELDS if f not in ("model", "evals", "compression", "lineage"))
COMMON_PATHS = ("out", "cache_dir", "calibration")


def settings_names() -> tuple[str, ...]:
    """Every run setting a sweep may give: RunSpec's and each evaluation suite's own (evaluate/suites/)."""
    return (*COMMON_SETTINGS, *suites.option_names())


def path_settings() -> tuple[str, ...]:
    """Settings that name a file or folder: resolved against the sweep's folder (``builtin:`` names stay)."""
    return (*COMMON_PATHS, *suites.path_options())


MODEL_KEYS = ("model_id", "allow_hub", "revision", "cache_dir", "dtype", "device")  # what one loaded model is


class SweepError(ValueError):
    """A sweep spec that cannot be expanded; the message names the file and the field."""


@dataclass(frozen=True)
class Unit:
    """One model under one pipeline, evaluated on ``spec.evals`` (one run file each)."""

    group: str
    spec: RunSpec = field(hash=False, compare=False)
    weight: float = 1.0  # relative cost of one of its runs, for balancing shards

    @property
    def pipeline(self) -> str:
        return pipeline_label(self.spec.compression)

    def load_key(self) -> str:
        """Units with the same load key share one loaded model."""
        return json.dumps([self.spec.model, *(str(getattr(self.spec, k)) for k in MODEL_KEYS)])

    def run_key(self, task: str) -> str:
        """A run's name before its model is loaded (the run_id also needs revision and data hashes)."""
        body = {k: str(v) for k, v in vars(self.spec).items() if k not in ("evals", "compression", "out")}
        body["compression"] = [s.model_dump(exclude_none=True) for s in self.spec.compression]
        body["task"] = task
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]

    @property
    def cost(self) -> float:
        return self.weight * len(self.spec.evals)


@dataclass
class Sweep:
    name: str
    description: str
    units: list[Unit]
    source: Path

    @property
    def n_runs(self) -> int:
        return sum(len(u.spec.evals) for u in self.units)


def pipeline_label(steps: list) -> str:
    """A pipeline as ``--compress`` texts joined by ' + ' ('baseline' for none)."""
    return " + ".join(step_text(s) for s in steps) or "baseline"


# --- expansion ----------------------------------------------------------------------------------


MAX_RUNS = 100_000  # runs in one sweep (the paper's grid is 3,384); checked before anything is expanded


def _capped(sizes: list[int], where: str) -> None:
    if math.prod(sizes) > MAX_RUNS:
        raise SweepError(f"{where}: expands to {math.prod(sizes):,} combinations; the limit is {MAX_RUNS:,} runs "
                         "per sweep (split it)")


def _product(mapping: dict, where: str) -> list[dict]:
    """{'a': [1, 2], 'b': 3} -> [{'a': 1, 'b': 3}, {'a': 2, 'b': 3}] (YAML order, last key fastest)."""
    keys = list(mapping)
    values = [v if isinstance(v, list) else [v] for v in mapping.values()]
    for key, options in zip(keys, values):
        if not options:
            raise SweepError(f"{where}.{key}: an empty list expands to no step")
    _capped([len(v) for v in values], where)
    return [dict(zip(keys, combo)) for combo in itertools.product(*values)]


def _step_options(entry, where: str) -> list[Step]:
    """One step entry -> the steps it stands for (lists in its fields expand)."""
    if isinstance(entry, str):
        try:
            return [parse_step(entry)]
        except SpecError as e:
            raise SweepError(f"{where}: {e}") from None
    if not isinstance(entry, dict) or not entry:
        raise SweepError(f"{where}: a step is 'prune:...' / 'quantize:...' or {{prune: {{...}}}}, not {entry!r}")
    if "method" in entry:
        body = dict(entry)
    elif len(entry) == 1 and next(iter(entry)) in ("prune", "quantize"):
        method, fields_ = next(iter(entry.items()))
        if not isinstance(fields_, dict):
            raise SweepError(f"{where}.{method}: expected a mapping of fields")
        body = {"method": method, **fields_}
    else:
        raise SweepError(f"{where}: unknown step {sorted(entry)}; use prune: or quantize:")
    try:
        return [step_from_dict(d, where) for d in _product(body, where)]
    except SpecError as e:
        raise SweepError(str(e)) from None


def expand_pipelines(entries: list, where: str) -> list[list[Step]]:
    """The pipeline entries of a group -> distinct step lists, in order of first appearance."""
    out: dict[str, list[Step]] = {}
    for i, entry in enumerate(entries):
        here = f"{where}[{i}]"
        if isinstance(entry, dict) and set(entry) == {"steps"}:
            entry, here = entry["steps"], f"{here}.steps"
            if not isinstance(entry, list) or not entry:
                raise SweepError(f"{here}: a non-empty list of steps")
        if entry in (None, "baseline", []):
            options = [[]]
        elif isinstance(entry, list):
            per_step = [_step_options(s, f"{here}[{j}]") for j, s in enumerate(entry)]
            _capped([len(p) for p in per_step], here)
            options = [list(c) for c in itertools.product(*per_step)]
        else:
            options = [[s] for s in _step_options(entry, here)]
        if len(out) + len(options) > MAX_RUNS:
            raise SweepError(f"{where}: more than {MAX_RUNS:,} pipelines; split the sweep")
        for steps in options:
            out.setdefault(json.dumps([s.model_dump(exclude_none=True) for s in steps], sort_keys=True), steps)
    return list(out.values())


def _settings(raw, where: str) -> dict:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise SweepError(f"{where}: a mapping of run settings")
    known = settings_names()
    unknown = sorted(map(str, set(raw) - set(known)))
    if unknown:
        raise SweepError(f"{where}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(known)}")
    # the types and ranges `leaderboard run` enforces, checked here, before anything is expanded or run
    for key, value in raw.items():
        try:
            make_spec(where, model="check", evals=["check"], **{key: value})
        except SpecError as e:
            raise SweepError(str(e)) from None
    return dict(raw)


def _resolve_paths(settings: dict, base: Path) -> dict:
    out = {"out": "runs", **settings}  # explicit, so shard jobs started elsewhere write to the same place
    for key in path_settings():
        value = out.get(key)
        if value is None or str(value).startswith(bundled.BUILTIN_PREFIX):  # the runner resolves builtin: names
            continue
        else:
            out[key] = (base / Path(value)).resolve() if not Path(value).is_absolute() else Path(value)
    return out


def _model_source(model: str, base: Path) -> str:
    if model in bundled.models():
        return bundled.resolve_model(model)
    local = base / model
    if local.is_dir() or (local.suffix.lower() == ".gguf" and local.is_file()):
        return str(local.resolve())
    return model  # a hub id, or fetched:NAME


def parse(path: Path, overrides: dict | None = None, base: Path | None = None) -> Sweep:
    """Read and expand a sweep spec. ``overrides`` (from --set) win over everything; relative paths
    resolve against ``base`` (default: the current folder)."""
    path = Path(path)
    try:
        data = load_file(path)
    except YamlError as e:
        raise SweepError(str(e)) from None
    if not isinstance(data, dict):
        raise SweepError(f"{path}: a sweep spec is a mapping with name, defaults and groups")
    data = {k: v for k, v in data.items() if not str(k).startswith("x-")}
    unknown = sorted(set(data) - {"name", "description", "defaults", "groups"})
    if unknown:
        raise SweepError(f"{path}: unknown field(s) {', '.join(map(str, unknown))}")
    name = data.get("name")
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,79}", name):
        raise SweepError(f"{path}: name: a short identifier (letters, digits, . _ -)")
    base = Path(base or Path.cwd())
    defaults = _settings(data.get("defaults"), f"{path}: defaults")
    overrides = _settings(overrides, "--set")
    groups = data.get("groups")
    if not isinstance(groups, list) or not groups:
        raise SweepError(f"{path}: groups: a non-empty list")
    units: dict[str, Unit] = {}
    n_runs = 0
    for gi, group in enumerate(groups):
        where = f"{path}: groups[{gi}]"
        if not isinstance(group, dict):
            raise SweepError(f"{where}: a mapping")
        extra = sorted(set(group) - {"name", "models", "evals", "pipelines", "settings", "weight"})
        if extra:
            raise SweepError(f"{where}: unknown field(s) {', '.join(extra)}")
        gname = str(group.get("name", f"group-{gi}"))
        evals = group.get("evals")
        if isinstance(evals, str):
            evals = [evals]
        if not isinstance(evals, list) or not evals or not all(isinstance(e, str) for e in evals):
            raise SweepError(f"{where}.evals: a non-empty list such as [lama:trex, lm-eval:boolq]")
        try:
            evals = [suites.canonical(e) for e in evals]  # 'bear' is 'bear:bear' in run files
        except suites.UnknownSuite as e:
            raise SweepError(f"{where}.evals: {e}") from None
        models = group.get("models")
        if not isinstance(models, list) or not models:
            raise SweepError(f"{where}.models: a non-empty list of checkpoints")
        weight = group.get("weight", 1.0)
        if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0 < weight < 1e9:
            raise SweepError(f"{where}.weight: a positive number (relative cost of one run)")
        raw_pipelines = group.get("pipelines") or ["baseline"]
        if not isinstance(raw_pipelines, list):
            raise SweepError(f"{where}.pipelines: a list of pipelines")
        pipelines = expand_pipelines(raw_pipelines, f"{where}.pipelines")
        n_runs += len(models) * len(pipelines) * len(evals)
        if n_runs > MAX_RUNS:
            raise SweepError(f"{where}: the sweep has more than {MAX_RUNS:,} runs; split it")
        gsettings = _settings(group.get("settings"), f"{where}.settings")
        for mi, entry in enumerate(models):
            if isinstance(entry, str):
                entry = {"model": entry}
            if not isinstance(entry, dict) or not isinstance(entry.get("model"), str):
                raise SweepError(f"{where}.models[{mi}]: a checkpoint name or {{model: ..., model_id: ...}}")
            msettings = _settings({k: v for k, v in entry.items() if k != "model"}, f"{where}.models[{mi}]")
            settings = _resolve_paths({**defaults, **gsettings, **msettings, **overrides}, base)
            model = _model_source(entry["model"], base)
            for steps in pipelines:
                for task in evals:
                    try:
                        spec = make_spec(f"{where}.models[{mi}]", model=model, evals=[task], compression=steps, **settings)
                    except SpecError as e:
                        raise SweepError(str(e)) from None
                    unit = Unit(gname, spec, float(weight))
                    key = unit.run_key("")
                    if key in units:
                        if task not in units[key].spec.evals:
                            units[key].spec.evals.append(task)
                    else:
                        units[key] = unit
    return Sweep(name, str(data.get("description") or ""), _model_order(list(units.values())), path)


def _model_order(units: list[Unit]) -> list[Unit]:
    """Group units by loaded model (first appearance order), keeping pipeline order within a model."""
    first: dict[str, int] = {}
    for i, u in enumerate(units):
        first.setdefault(u.load_key(), i)
    return sorted(units, key=lambda u: first[u.load_key()])  # stable: pipeline order kept


# --- sharding -----------------------------------------------------------------------------------


def parse_shard(text: str) -> tuple[int, int]:
    """'2/8' -> (2, 8): the third of eight shards (indices 0..n-1, as in SLURM array task ids)."""
    i, slash, n = text.partition("/")
    try:
        index, count = int(i), int(n)
    except ValueError:
        raise SweepError(f"--shard {text!r}: write INDEX/COUNT, e.g. 0/4") from None
    if not slash or count < 1 or not 0 <= index < count:
        raise SweepError(f"--shard {text!r}: INDEX runs from 0 to COUNT-1")
    return index, count


def shard_units(units: list[Unit], index: int, count: int) -> list[Unit]:
    """Contiguous slices of the model-ordered units with about equal cost (runs x group weight): each
    unit lands in exactly one shard, and a shard mostly holds few models (few loads). Depends only on
    the spec, so every machine computes the same partition."""
    total = sum(u.cost for u in units)
    out, start = [], 0.0
    for u in units:
        mid = start + u.cost / 2
        if min(count - 1, int(mid * count / total)) == index:
            out.append(u)
        start += u.cost
    return out


def with_out(units: list[Unit], out: Path) -> list[Unit]:
    return [replace(u, spec=replace(u.spec, out=out)) for u in units]
