"""Ordered compression steps on an in-memory model, with what they really did measured."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from ..schema import PruneStep, QuantizeStep
from .measure import count_parameters, module_bytes, peak_memory_bytes, scope_sparsity
from .prune import apply_prune
from .quantize import apply_quantize
from .scopes import resolve

Step = PruneStep | QuantizeStep


class CompressionError(RuntimeError):
    pass


@dataclass
class CompressionResult:
    sparsity: dict[str, float]
    weight_bytes: int
    bits_per_weight: float
    compress_seconds: float
    peak_memory_bytes: int


def check_scopes(model: nn.Module, steps: list[Step]) -> None:
    """Raise ScopeError naming the step whose scope matches nothing (works on a meta-device skeleton)."""
    for s in steps:
        resolve(model, s.scope)


def compress(model: nn.Module, steps: list[Step], *, device: torch.device, seed: int = 0,
             calibrate: Callable[[], None] | None = None) -> CompressionResult:
    t0 = time.perf_counter()
    n_params = count_parameters(model)
    sparsity: dict[str, float] = {}
    prune_scopes = ["all"] + [s.scope for s in steps if s.method == "prune"]
    measured_sparsity = False
    for i, step in enumerate(steps):
        modules = resolve(model, step.scope)
        if step.method == "prune":
            apply_prune(model, modules, step, seed=seed + i, calibrate=calibrate)
            continue
        if not measured_sparsity:
            sparsity = {sc: scope_sparsity(resolve(model, sc)) for sc in dict.fromkeys(prune_scopes)}
            measured_sparsity = True
        before = module_bytes(model)  # the whole model: a quantized copy of a tied weight adds bytes
        apply_quantize(model, modules, step, device)
        after = module_bytes(model)
        if after >= before:
            what = "made the model bigger" if after > before else "changed nothing measurable"
            hint = (" (the scope shares its weight with another module, which keeps a full-precision copy)"
                    if after > before else "")
            raise CompressionError(
                f"step {i} ({step.scheme} of {step.scope}) {what} on {device.type}: {before:,} bytes of weights "
                f"before, {after:,} after{hint}; refusing to record it as compression"
            )
    if not measured_sparsity:
        sparsity = {sc: scope_sparsity(resolve(model, sc)) for sc in dict.fromkeys(prune_scopes)}
    weight_bytes = module_bytes(model)
    return CompressionResult(
        sparsity={k: round(v, 6) for k, v in sparsity.items() if v is not None},
        weight_bytes=weight_bytes,
        bits_per_weight=round(8 * weight_bytes / max(n_params, 1), 4),
        compress_seconds=round(time.perf_counter() - t0, 3),
        peak_memory_bytes=peak_memory_bytes(device),
    )
