"""Measure what compression really did: zeros per scope, bytes of weights as stored, peak memory."""

from __future__ import annotations

import resource
import sys

import torch
from torch import nn

from .scopes import unique_weights

_PLAIN = (torch.Tensor, nn.Parameter)


def tensor_bytes(t: torch.Tensor) -> int:
    """Bytes a (possibly quantized) tensor holds, including scales and other quantization state."""
    if type(t) not in _PLAIN and hasattr(t, "__tensor_flatten__"):  # torchao and other tensor subclasses
        names, _ctx = t.__tensor_flatten__()
        return sum(tensor_bytes(getattr(t, n)) for n in names)
    total = t.numel() * t.element_size()
    state = getattr(t, "quant_state", None)  # bitsandbytes 4-bit: absmax, code, nested state
    if state is not None:
        for v in state.as_dict(packed=True).values():
            if isinstance(v, torch.Tensor):
                total += v.numel() * v.element_size()
    scb = getattr(t, "SCB", None)  # bitsandbytes 8-bit: per-row scales
    if isinstance(scb, torch.Tensor):
        total += scb.numel() * scb.element_size()
    return total


def module_bytes(module: nn.Module) -> int:
    """Bytes of all parameters and buffers under ``module`` (shared tensors once)."""
    seen: set[int] = set()
    total = 0
    for t in [*module.parameters(), *module.buffers()]:
        if t.dtype == torch.int64:  # index buffers (position ids), not weights
            continue
        if id(t) not in seen:
            seen.add(id(t))
            total += tensor_bytes(t)
    for sub in module.modules():  # torch.ao dynamic-quantized Linear keeps packed weights outside parameters
        packed = getattr(sub, "_packed_params", None)
        if packed is not None and hasattr(packed, "_weight_bias"):
            w, b = packed._weight_bias()
            total += w.int_repr().numel() + (w.q_per_channel_scales().numel() * 8 if w.qscheme() in
                                             (torch.per_channel_affine, torch.per_channel_symmetric) else 16)
            total += b.numel() * b.element_size() if b is not None else 0
    return total


def scope_sparsity(modules: dict[str, nn.Module]) -> float | None:
    """Fraction of exactly-zero weights over the (unique) floating-point weights of a scope; None when
    the scope holds no such weight (already quantized layers are not counted)."""
    zeros = total = 0
    for m in unique_weights(modules).values():
        w = m.weight
        if not w.dtype.is_floating_point or type(w) not in _PLAIN:
            continue
        zeros += int((w.detach() == 0).sum())
        total += w.numel()
    return zeros / total if total else None


def count_parameters(model: nn.Module) -> int:
    seen: set[int] = set()
    n = 0
    for p in model.parameters():
        if id(p) not in seen:
            seen.add(id(p))
            n += p.numel()
    return n


def peak_memory_bytes(device: torch.device) -> int:
    """Peak accelerator memory since the last reset, or the process's peak resident set on CPU."""
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss if sys.platform == "darwin" else rss * 1024)
