"""Plausible synthetic run files for tests and benchmarks, marked ``source.kind: synthetic``.

They are never written into the project's ``runs/`` folder and the site marks them as such.
Values follow a smooth, seeded decay with sparsity so charts and views have realistic shapes.
"""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

from . import __version__
from .evaluate import registry as suites
from .schema import (
    SCHEMA_VERSION,
    ConfidenceInterval,
    Evaluation,
    Measured,
    MetricValue,
    ModelInfo,
    Provenance,
    RunFile,
    Synthetic,
    canonical_path,
    compute_run_id,
    dump_run,
    make_step,
)

GENERATOR = "leaderboard.synthetic v1"
FAMILY_ARCH = {
    "encoder": ["BertForMaskedLM", "RobertaForMaskedLM", "AlbertForMaskedLM", "DistilBertForMaskedLM"],
    "encoder-decoder": ["T5ForConditionalGeneration"],
    "decoder": ["LlamaForCausalLM", "GPT2LMHeadModel", "OPTForCausalLM", "GPTNeoXForCausalLM"],
}
SPARSITIES = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
SCOPES = ["all", "attention", "ffn"]

def _schemes() -> list:
    """The quantization methods that declare made-up numbers for synthetic runs (``Method.synthetic``), in registry order."""
    from .compress import registry as methods

    return [m for m in methods.of_kind("quantize") if m.synthetic is not None]


def _pipelines() -> list[list]:
    out: list[list] = [[]]
    for scope in SCOPES:
        for s in SPARSITIES:
            out.append([make_step(method="prune", criterion="l1", scope=scope, granularity="global", sparsity=s)])
            out.append([make_step(method="prune", criterion="random", scope=scope, granularity="local", sparsity=s)])
        for m in _schemes():
            out.append([make_step(method="quantize", scheme=m.name, scope=scope)])
        for s in (0.2, 0.5):
            out.append([
                make_step(method="prune", criterion="l1", scope=scope, granularity="global", sparsity=s),
                make_step(method="quantize", scheme="dynamic-int8", scope=scope),
            ])
    return out


def _metric(value: float, n: int, rng: random.Random) -> MetricValue:
    value = min(max(value, 0.0), 1.0)
    half = 1.96 * math.sqrt(max(value * (1 - value), 1e-6) / max(n, 1))
    return MetricValue(value=round(value, 6), n=n, ci=ConfidenceInterval(
        low=round(max(0.0, value - half), 6), high=round(min(1.0, value + half), 6)))


def _damage(steps: list) -> tuple[float, float]:
    """Knowledge kept (0..1) and bits per weight of a pipeline."""
    keep, bits = 1.0, 32.0
    for st in steps:
        if st.method == "prune":
            scale = {"all": 1.0, "ffn": 0.8, "attention": 0.5}.get(st.scope, 1.0)
            harsh = 1.6 if st.criterion == "random" else 1.0
            keep *= 1 / (1 + math.exp((st.sparsity * harsh * scale - 0.75) * 12)) / (1 / (1 + math.exp(-9)))
        else:
            from .compress import registry as methods

            bits, kept = methods.method_of(st).synthetic
            keep *= kept
    return min(keep, 1.0), bits


def make_run(model_idx: int, family: str, task: str, steps: list, rng: random.Random) -> RunFile:
    arch = FAMILY_ARCH[family][model_idx % len(FAMILY_ARCH[family])]
    params = int(10 ** random.Random(model_idx).uniform(7.5, 10))  # one size per model
    model = ModelInfo(id=f"synthetic/{family}-{model_idx:03d}", revision=f"sha256:{model_idx:064x}"[:71],
                      family=family, architecture=arch, parameters=params)
    keep, bits = _damage(steps)
    base = 0.15 + 0.35 * ((model_idx * 37) % 100) / 100
    n = rng.randint(800, 3000)
    sparsity = sum(s.sparsity for s in steps if s.method == "prune")
    measured = Measured(
        sparsity={s.scope: s.sparsity for s in steps if s.method == "prune"},
        weight_bytes=int(params * bits / 8 * (1 - 0.0 * sparsity)),
        bits_per_weight=bits,
        eval_seconds=round(rng.uniform(5, 600), 3),
        throughput=round(rng.uniform(100, 5000), 1),
        throughput_unit=suites.suite_of(task).unit,
    )
    result = suites.suite_of(task).synthetic_result(task, n, base, keep, rng, _metric)  # (its own shape of result)
    start = datetime(2025, 1, 1, tzinfo=timezone.utc) + timedelta(minutes=rng.randint(0, 5 * 10**5))
    prov = Provenance(
        runner_version=__version__, libraries={"torch": "2.13.0"}, python="3.11", platform="synthetic",
        device="cpu", dtype="float32", seed=0, batch_size=64, started_at=start,
        finished_at=start + timedelta(seconds=measured.eval_seconds or 0), command="synthetic",
    )
    run = RunFile(schema_version=SCHEMA_VERSION, run_id="0" * 16, model=model, compression=steps,
                  evaluation=Evaluation(task=task), measured=measured, results=[result], provenance=prov,
                  source=Synthetic(kind="synthetic", generator=GENERATOR), notes="SYNTHETIC: not a real measurement")
    return run.model_copy(update={"run_id": compute_run_id(run)})


def synthetic_tasks(family: str) -> list[str]:
    """The tasks synthetic runs of a family are made for: what each suite declares (``Suite.synthetic_tasks``), in
    registry order."""
    return [t for s in suites.all_suites() for t in s.synthetic_tasks.get(family, ())]


def generate(n: int, seed: int = 0) -> list[RunFile]:
    """``n`` distinct synthetic runs; every compressed run's baseline is among them."""
    rng = random.Random(seed)
    pipelines = _pipelines()
    runs: list[RunFile] = []
    model_idx = 0
    while len(runs) < n:
        family = list(FAMILY_ARCH)[model_idx % 3]
        tasks = synthetic_tasks(family)
        for task in tasks:
            for steps in pipelines:
                if len(runs) >= n:
                    break
                runs.append(make_run(model_idx, family, task, steps, rng))
        model_idx += 1
    return runs


def write(runs: list[RunFile], out_dir: Path) -> list[Path]:
    out_dir = Path(out_dir)
    if out_dir.resolve().name == "runs" and (out_dir.resolve().parent / "pyproject.toml").exists():
        raise ValueError(f"refusing to write synthetic runs into the project's runs folder {out_dir}")
    paths = []
    for run in runs:
        p = out_dir / canonical_path(run)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(dump_run(run), encoding="utf-8")
        paths.append(p)
    return paths
