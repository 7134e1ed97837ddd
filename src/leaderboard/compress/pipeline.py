"""Ordered compression steps on an in-memory model, with what they really did measured."""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from torch import nn

from . import registry as methods
from .base import CompressionError, StepContext, UnsupportedScheme
from .measure import count_parameters, module_bytes, peak_memory_bytes, scope_sparsity
from .scopes import resolve
from .stored import stored_bytes

__all__ = ["CompressionError", "CompressionResult", "apply_step", "check_scopes", "compress"]


@dataclass
class CompressionResult:
    sparsity: dict[str, float]
    weight_bytes: int
    bits_per_weight: float
    compress_seconds: float
    peak_memory_bytes: int
    stored_bytes: int | None = None  # the checkpoint as saved compressed (llm-compressor methods)
    stored_bits_per_weight: float | None = None
    kernels: str | None = None  # 'native' low-bit kernels or 'simulated' quantize-dequantize; None = not quantized


def check_supported(step, *, family: str | None, device: torch.device | str | None) -> None:
    """Raise UnsupportedScheme when the step's method cannot run on this family or device (says where it can)."""
    m = methods.method_of(step)
    if m.run is None:
        raise UnsupportedScheme(f"{m.key}: {m.unavailable or 'no implementation in this runner'}")
    if family is not None and family not in m.families:
        raise UnsupportedScheme(f"{m.key} runs on {' and '.join(sorted(m.families))} models ({m.library}); "
                                f"this model is an {family}")
    reason = m.check(step) if m.check is not None else None
    if reason:
        raise UnsupportedScheme(f"{m.key}: {reason}")
    dev = device.type if isinstance(device, torch.device) else device
    if dev is not None and dev not in m.devices:
        extra = f" ({m.device_note})" if m.device_note else ""
        raise UnsupportedScheme(f"{m.key} runs on {', '.join(sorted(m.devices))}{extra}; this run's device is {dev}. "
                                "Run it on a machine with a GPU (--device cuda)")


def apply_step(ctx: StepContext, modules: dict[str, nn.Module], step) -> None:
    """Run one step through its registered method (in place)."""
    method = methods.method_of(step)
    try:
        run = method.runner()
    except LookupError as e:
        raise UnsupportedScheme(str(e)) from None
    with torch.no_grad():
        run(ctx, modules, step)


def check_scopes(model: nn.Module, steps: list) -> None:
    """Raise ScopeError naming the step whose scope matches nothing (works on a meta-device skeleton)."""
    for s in steps:
        resolve(model, s.scope)


def compress(model: nn.Module, steps: list, *, device: torch.device, seed: int = 0, calibration=None,
             tokenizer=None, family: str | None = None) -> CompressionResult:
    """Apply ``steps`` in order to ``model`` (in place) and measure what they did.

    ``calibration``: a calibration.CalibrationData for steps whose method needs data; ``tokenizer`` and
    ``family`` are passed to methods that need them (llm-compressor's, calibration)."""
    t0 = time.perf_counter()
    n_params = count_parameters(model)
    sparsity: dict[str, float] = {}
    prune_scopes = ["all"] + [s.scope for s in steps if s.method == "prune"]
    measured_sparsity = False
    kernels = None
    for s in steps:
        check_supported(s, family=family, device=device)
    if calibration is not None:
        calibration.tokenizer = calibration.tokenizer or tokenizer
        calibration.family = family or calibration.family
    for i, step in enumerate(steps):
        method = methods.method_of(step)
        modules = resolve(model, step.scope)
        # only a method declared seeded sees the run's seed: the run_id holds the seed for those alone
        ctx = StepContext(model=model, device=device, seed=seed if method.seeded else 0, index=i, family=family,
                          tokenizer=tokenizer,
                          calibration=calibration if method.calibration else None)
        if method.calibration and calibration is None:
            raise UnsupportedScheme(f"{method.key} needs calibration data")
        if step.method == "prune":
            apply_step(ctx, modules, step)
            continue
        if not measured_sparsity:
            sparsity = {sc: scope_sparsity(resolve(model, sc)) for sc in dict.fromkeys(prune_scopes)}
            measured_sparsity = True
        before = module_bytes(model)  # the whole model: a quantized copy of a tied weight adds bytes
        apply_step(ctx, modules, step)
        step_kernels = (ctx.report or {}).get("kernels", "simulated" if method.simulated else "native")
        kernels = "simulated" if "simulated" in (kernels, step_kernels) else step_kernels
        if step_kernels == "simulated":
            continue  # weights stay in float until saved: judged on the stored size below
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
    stored = stored_bytes(model) if kernels == "simulated" else None
    if kernels == "simulated" and (stored is None or stored[0] >= weight_bytes):
        raise CompressionError(f"the quantization steps left no layer smaller as saved ({stored and stored[0]:,} bytes "
                               f"stored, {weight_bytes:,} in memory); refusing to record it")
    return CompressionResult(
        sparsity={k: round(v, 6) for k, v in sparsity.items() if v is not None},
        weight_bytes=weight_bytes,
        bits_per_weight=round(8 * weight_bytes / max(n_params, 1), 4),
        compress_seconds=round(time.perf_counter() - t0, 3),
        peak_memory_bytes=peak_memory_bytes(device),
        stored_bytes=stored[0] if stored else None,
        stored_bits_per_weight=round(8 * stored[0] / max(n_params, 1), 4) if stored else None,
        kernels=kernels,
    )
