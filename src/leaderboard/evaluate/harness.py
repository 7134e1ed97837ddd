"""lm-eval bridge: run lm-eval tasks on the in-memory (compressed) model through lm-eval's Python API.

No patched copy of lm-eval: ``HFLM(pretrained=<model object>)`` + ``simple_evaluate``. Results are
mapped into run-file TaskResults with the raw values lm-eval computes, their stderr, the number of
examples, the task version, n-shot and the task config. Tasks are named ``lm-eval:<task>`` in run
files. Local tasks in lm-eval's YAML format load from ``include_path`` (offline tests use these);
built-in tasks such as boolq, piqa and winogrande load from the hub on a machine that reaches it.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from .. import registry
from ..schema import ConfidenceInterval, MetricValue, TaskResult
from .metrics import enclosing

BACKENDS = {"decoder": "causal", "encoder-decoder": "seq2seq"}


class HarnessError(ValueError):
    pass


@dataclass
class HarnessOutput:
    results: list[TaskResult]
    seconds: float
    examples: int

    @property
    def throughput(self) -> float:
        return self.examples / self.seconds if self.seconds else 0.0


def include_sha256(include_path: Path) -> str:
    """sha256 over the files of a local task folder (YAML and data), names and bytes, sorted."""
    h = hashlib.sha256()
    for p in sorted(x for x in Path(include_path).rglob("*") if x.is_file()):
        h.update(p.relative_to(include_path).as_posix().encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


def _scalar(v: object) -> object:
    if v is None or isinstance(v, (bool, int)):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    text = v if isinstance(v, str) else json.dumps(v, sort_keys=True, default=str)
    return text[:500]


def _config(cfg: dict) -> dict:
    keys = ("output_type", "num_fewshot", "dataset_path", "dataset_name", "validation_split", "test_split",
            "doc_to_text", "doc_to_target", "doc_to_choice", "fewshot_delimiter", "target_delimiter")
    return {k: _scalar(cfg.get(k)) for k in keys if k in cfg}


def _direction(task: str, name: str, lm_eval_says: object) -> registry.MetricInfo:
    """The registry's entry for an lm-eval metric, checked against the direction lm-eval gives it (its
    ``higher_is_better``): a metric the registry does not know, or one on which the two disagree, is refused."""
    said = _said(lm_eval_says)
    try:
        info = registry.metric_info(name)
    except registry.UnknownMetric:
        raise HarnessError(f"lm-eval:{task}: metric {name!r} (lm-eval: {said}) is not in the registry "
                           "(src/leaderboard/registry.py, METRICS); add it there with its range and direction") from None
    if isinstance(lm_eval_says, bool) and lm_eval_says != info.higher_is_better:
        raise HarnessError(f"lm-eval:{task}: lm-eval says {said} for metric {name!r}, the registry says "
                           f"{_said(info.higher_is_better)} (src/leaderboard/registry.py, METRICS)")
    return info


def _said(higher_is_better: object) -> str:
    if not isinstance(higher_is_better, bool):
        return "no direction"
    return "higher is better" if higher_is_better else "lower is better"


def _metrics(values: dict, n: int | None, task: str, directions: dict | None) -> dict[str, MetricValue]:
    """lm-eval's values of one task as MetricValues; ``directions``: lm-eval's higher_is_better of the task."""
    out: dict[str, MetricValue] = {}
    for key, value in values.items():
        if "," not in key or "_stderr," in key or not isinstance(value, (int, float)) or isinstance(value, bool):
            continue
        metric, _, filt = key.partition(",")
        name = metric if filt == "none" else f"{metric}@{filt}"
        stderr = values.get(f"{metric}_stderr,{filt}")
        stderr = float(stderr) if isinstance(stderr, (int, float)) and math.isfinite(stderr) else None
        v = float(value)
        if not math.isfinite(v):
            continue
        info = _direction(task, name, (directions or {}).get(metric))
        ci = None
        if stderr is not None:  # normal approximation, clipped to the metric's range
            low, high = v - 1.96 * stderr, v + 1.96 * stderr
            low = max(low, info.lower) if info.lower is not None else low
            high = min(high, info.upper) if info.upper is not None else high
            low, high = enclosing(low, high, v)
            ci = ConfidenceInterval(low=low, high=high, method="normal")
        out[name] = MetricValue(value=v, n=n, stderr=stderr, ci=ci)
    return out


SEED_KEYS = ("random_seed", "numpy_seed", "torch_seed", "fewshot_seed")  # as lm-eval names them in its results


def default_seeds() -> tuple[int, ...]:
    """lm-eval's own default seeds (random, numpy, torch, few-shot), read from ``simple_evaluate``."""
    import inspect

    from lm_eval import simple_evaluate

    params = inspect.signature(simple_evaluate).parameters
    return tuple(params[k].default for k in ("random_seed", "numpy_random_seed", "torch_random_seed",
                                             "fewshot_random_seed"))


def _finite(x: object) -> bool:
    """False when any number inside lm-eval's per-document responses is NaN or infinite."""
    if isinstance(x, bool):
        return True
    if isinstance(x, (int, float)):
        return math.isfinite(x)
    if isinstance(x, (list, tuple)):
        return all(_finite(v) for v in x)
    return True


def _fail_safe(values: dict, samples: list[dict]) -> tuple[dict, int]:
    """Documents whose loglikelihoods are not all finite never count as right: lm-eval's argmax over NaN
    picks the first choice, so a broken model would score on every document whose answer comes first.
    Their per-document 0/1 metrics become 0 and mean and stderr are recomputed the way lm-eval computes
    them (mean, sample stddev / sqrt(n)); with every score finite lm-eval's own values stand unchanged."""
    bad = {i for i, s in enumerate(samples) if not _finite(s.get("filtered_resps"))}
    if not bad:
        return values, 0
    values = dict(values)
    for key, value in list(values.items()):
        metric, sep, filt = key.partition(",")
        if not sep or "_stderr" in metric or not isinstance(value, (int, float)):
            continue
        per_doc = [s.get(metric) for s in samples]
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v in (0, 1) for v in per_doc):
            values[key] = float("nan")  # not a 0/1 metric (perplexity, ...): it cannot be trusted, drop it
            continue
        arr = [0.0 if i in bad else float(v) for i, v in enumerate(per_doc)]
        n = len(arr)
        mean = sum(arr) / n
        values[key] = mean
        if f"{metric}_stderr,{filt}" in values:
            var = sum((a - mean) ** 2 for a in arr) / (n - 1) if n > 1 else float("nan")
            values[f"{metric}_stderr,{filt}"] = math.sqrt(var / n) if n > 1 else float("nan")
    return values, len(bad)


def results_to_task_results(res: dict) -> list[TaskResult]:
    """lm-eval's `simple_evaluate` output -> one TaskResult per task (groups' subtasks included)."""
    out = []
    run_config = res.get("config", {}) or {}
    seeds = {k: run_config[k] for k in SEED_KEYS if isinstance(run_config.get(k), int)}
    for task, values in sorted(res.get("results", {}).items()):
        samples = res.get("n-samples", {}).get(task, {})
        n = samples.get("effective") if isinstance(samples, dict) else None
        nonfinite = None
        if task in res.get("samples", {}):
            values, nonfinite = _fail_safe(values, res["samples"][task])
        metrics = _metrics(values, n, task, (res.get("higher_is_better") or {}).get(task))
        if not metrics:
            continue
        version = res.get("versions", {}).get(task)
        nshot = res.get("n-shot", {}).get(task)
        config = _config(res.get("configs", {}).get(task, {}))
        config.update(seeds)
        if isinstance(run_config.get("max_length"), int):
            config["max_length"] = run_config["max_length"]
        out.append(TaskResult(
            task=f"lm-eval:{task}", n=n, metrics=metrics,
            task_version=None if version is None else str(version),
            num_fewshot=int(nshot) if isinstance(nshot, int) else None,
            config=config or None, nonfinite=nonfinite,
        ))
    return out


def run_harness(model: nn.Module, tokenizer, family: str, device: torch.device, tasks: list[str], *,
                include_path: Path | None = None, include_defaults: bool = True, num_fewshot: int | None = None,
                limit: int | None = None, batch_size: int = 8, max_length: int | None = None,
                seeds: tuple[int, int, int, int] | None = None) -> HarnessOutput:
    """Run ``tasks`` on the in-memory model. ``max_length`` None and ``seeds`` None (random, numpy, torch,
    few-shot) leave both to lm-eval, exactly as its CLI decides them; the run file records what was used."""
    if family not in BACKENDS:
        raise HarnessError(f"lm-eval scores decoders and encoder-decoders; this model is an {family}")
    try:
        from lm_eval import simple_evaluate
        from lm_eval.models.huggingface import HFLM
        from lm_eval.tasks import TaskManager
    except ImportError:
        raise HarnessError('lm-eval is not installed: pip install "lm-eval[hf]"') from None
    names = [t.removeprefix("lm-eval:") for t in tasks]
    manager = TaskManager(include_path=str(include_path) if include_path else None,
                          include_defaults=include_defaults or include_path is None)
    unknown = [t for t in names if t not in manager.all_tasks]
    if unknown:
        raise HarnessError(f"unknown lm-eval task(s): {', '.join(unknown)}")
    # max_length=None: lm-eval resolves it as its own CLI does (config length fields, then the tokenizer's
    # model_max_length, then 2048); seeds: lm-eval's own defaults unless given
    lm = HFLM(pretrained=model, tokenizer=tokenizer, device=str(device), batch_size=batch_size,
              max_length=max_length, backend=BACKENDS[family])
    seed_kw = {} if seeds is None else dict(zip(("random_seed", "numpy_random_seed", "torch_random_seed",
                                                 "fewshot_random_seed"), seeds))
    t0 = time.perf_counter()
    res = simple_evaluate(model=lm, tasks=names, task_manager=manager, num_fewshot=num_fewshot, limit=limit,
                          log_samples=True, **seed_kw)
    seconds = time.perf_counter() - t0
    res.setdefault("config", {})["max_length"] = int(lm.max_length)
    results = results_to_task_results(res)
    if not results:
        raise HarnessError(f"lm-eval returned no metric for {', '.join(names)}")
    return HarnessOutput(results, seconds, sum(r.n or 0 for r in results))
