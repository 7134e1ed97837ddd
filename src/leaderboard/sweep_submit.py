"""Scale-out through submitit: one job per shard (a SLURM job array, or local processes).

Each job parses the same sweep spec and runs its shard (``shard_units``), so the partition is the
same everywhere; results land as ordinary run files, and merging shards is just ``ingest``. Jobs are
``Checkpointable``: on a time limit or preemption submitit requeues them, and the requeued job
skips the runs already written (resume), so nothing is redone or lost.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import submitit

from .sweep import parse, shard_units, with_out
from .sweep_run import run_units


@dataclass
class SlurmOptions:
    partition: str | None = None
    gpus_per_task: int | None = None  # default: 1 (locally: 1 if a GPU is visible, else 0)
    cpus_per_task: int = 8
    mem_gb: int | None = None
    time_min: int = 24 * 60
    array_parallelism: int | None = None
    account: str | None = None
    qos: str | None = None
    constraint: str | None = None


class ShardJob(submitit.helpers.Checkpointable):
    """Runs shard ``index`` of ``count`` of a sweep; returns its summary as a dict."""

    def __call__(self, spec: str, index: int, count: int, overrides: dict, base: str, state_dir: str,
                 out: str | None, retry_failed: bool) -> dict:
        sweep = parse(Path(spec), overrides, Path(base))
        units = shard_units(sweep.units, index, count)
        if out:
            units = with_out(units, Path(out))
        summary = run_units(units, Path(state_dir), shard=f"{index}/{count}", retry_failed=retry_failed,
                            progress=False, log=lambda line: print(line, flush=True))
        for line in summary.lines():
            print(line, flush=True)
        return summary.as_dict()


def executor(cluster: str, folder: Path, name: str, opts: SlurmOptions):
    """submitit's SLURM executor (through AutoExecutor's shared parameter names), or its LocalExecutor
    (processes on this machine; GPUs are set per job in ``submit``)."""
    if cluster == "local":
        ex = submitit.LocalExecutor(folder=str(folder / "%j"))
        ex.update_parameters(name=f"leaderboard-{name}", timeout_min=opts.time_min, tasks_per_node=1, nodes=1)
        return ex
    ex = submitit.AutoExecutor(folder=str(folder / "%j"), cluster=cluster)
    params = {"name": f"leaderboard-{name}", "timeout_min": opts.time_min, "cpus_per_task": opts.cpus_per_task,
              "tasks_per_node": 1, "nodes": 1,
              "gpus_per_node": opts.gpus_per_task if opts.gpus_per_task is not None else 1}
    if opts.mem_gb:
        params["mem_gb"] = opts.mem_gb
    slurm = {"slurm_partition": opts.partition, "slurm_array_parallelism": opts.array_parallelism,
             "slurm_account": opts.account, "slurm_qos": opts.qos, "slurm_constraint": opts.constraint}
    params.update({k: v for k, v in slurm.items() if v is not None})
    ex.update_parameters(**params)
    return ex


def local_gpus() -> list[int]:
    """The GPUs local shard jobs may use: $CUDA_VISIBLE_DEVICES if it lists ids, else every device."""
    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    if listed is not None and all(x.strip().isdigit() for x in listed.split(",") if x.strip()):
        return [int(x) for x in listed.split(",") if x.strip()]
    import torch

    return list(range(torch.cuda.device_count()))


def gpu_sets(count: int, gpus: list[int], per_task: int) -> list[list[int]]:
    """GPUs for each of ``count`` local shard jobs: consecutive blocks of ``per_task``, round robin
    (more shards than GPUs share them)."""
    if per_task <= 0 or not gpus:
        return [[] for _ in range(count)]
    per_task = min(per_task, len(gpus))
    return [[gpus[(i * per_task + k) % len(gpus)] for k in range(per_task)] for i in range(count)]


def submit(spec: Path, count: int, *, cluster: str, state_dir: Path, name: str, overrides: dict | None = None,
           base: Path | None = None, out: Path | None = None, retry_failed: bool = True,
           opts: SlurmOptions | None = None) -> list:
    """Submit ``count`` shard jobs (a SLURM array; local processes, each with its own GPUs); returns
    submitit jobs (``.job_id``, ``.result()``)."""
    opts = opts or SlurmOptions()
    ex = executor(cluster, Path(state_dir).resolve() / "submitit", name, opts)
    base = Path(base or Path.cwd()).resolve()
    args = (str(Path(spec).resolve()), dict(overrides or {}), str(base), str(Path(state_dir).resolve()),
            str(Path(out).resolve()) if out else None, retry_failed)
    if cluster == "local":  # submitit gives every local job the same first GPUs: spread them instead
        gpus = local_gpus()
        per_task = opts.gpus_per_task if opts.gpus_per_task is not None else int(bool(gpus))
        jobs = []
        for i, ids in enumerate(gpu_sets(count, gpus, per_task)):
            ex.update_parameters(gpus_per_node=len(ids), visible_gpus=tuple(ids))
            jobs.append(ex.submit(ShardJob(), args[0], i, count, *args[1:]))
        return jobs
    indices = list(range(count))
    return ex.map_array(ShardJob(), [args[0]] * count, indices, [count] * count, *([a] * count for a in args[1:]))
