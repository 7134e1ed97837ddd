"""Quantization of the in-memory (possibly pruned) model, scoped like pruning.

- dynamic-int8 / weight-only-int8: torchao (``quantize_`` with a module filter). PyTorch's own
  ``torch.ao.quantization.quantize_dynamic`` computes differently, so it runs only when the step names
  it (``backend=torch.ao``, recorded in the run file and its run_id), never as a silent fallback.
- bnb-int8 / bnb-nf4 / bnb-fp4: each Linear of the scope is replaced by a bitsandbytes layer built
  from its current weights (so prune-then-quantize keeps the pruned zeros). Layers a model lists in
  ``_keep_in_fp32_modules`` (T5's ``wo``) stay in full precision, as in transformers' own loading.
GPT-2's Conv1D layers are first turned into equivalent nn.Linear layers.
"""

from __future__ import annotations

import torch
from torch import nn

from .base import UnsupportedScheme, set_module
from .scopes import Conv1D, is_transposed

__all__ = ["UnsupportedScheme", "apply_quantize", "conv1d_to_linear", "keep_full_precision"]

BNB_4BIT_BLOCK = 64


_set_module = set_module


def conv1d_to_linear(model: nn.Module, modules: dict[str, nn.Module]) -> dict[str, nn.Module]:
    """Replace Conv1D layers of ``modules`` by nn.Linear holding the transposed weight."""
    out = {}
    for name, m in modules.items():
        if is_transposed(m):
            lin = nn.Linear(m.weight.shape[0], m.weight.shape[1], bias=m.bias is not None,
                            device=m.weight.device, dtype=m.weight.dtype)
            lin.weight.data.copy_(m.weight.data.t())
            if m.bias is not None:
                lin.bias.data.copy_(m.bias.data)
            _set_module(model, name, lin)
            m = lin
        out[name] = m
    return out


def _check_linear(modules: dict[str, nn.Module], scheme: str) -> None:
    for name, m in modules.items():
        if not isinstance(m, nn.Linear) and not (Conv1D and isinstance(m, Conv1D)):
            raise UnsupportedScheme(f"{scheme} quantizes Linear layers; {name} is a {type(m).__name__}")
        if not m.weight.dtype.is_floating_point or type(m.weight) not in (torch.Tensor, nn.Parameter):
            raise UnsupportedScheme(f"{name} is already quantized")


def _torch_ao_dynamic(model: nn.Module, names: set[str], device: torch.device) -> None:
    """``backend=torch.ao``: PyTorch's own (deprecated) dynamic int8, CPU only; a different computation
    from torchao's, so it is asked for by name and recorded in the step (and the run_id)."""
    if device.type != "cpu":
        raise UnsupportedScheme(f"dynamic-int8 with backend=torch.ao runs on CPU only, not on {device.type}")
    torch.ao.quantization.quantize_dynamic(model, names, dtype=torch.qint8, inplace=True)


def _torchao(model: nn.Module, names: set[str], weight_only: bool, device: torch.device) -> None:
    try:
        from torchao.quantization import Int8DynamicActivationInt8WeightConfig, Int8WeightOnlyConfig, quantize_
    except ImportError:
        hint = "" if weight_only else "; or ask for PyTorch's own by name: quantize:scheme=dynamic-int8,backend=torch.ao"
        raise UnsupportedScheme(f"torchao is not installed: `pip install torchao`{hint}") from None
    if device.type not in ("cpu", "cuda", "xpu"):
        raise UnsupportedScheme(f"torchao int8 runs on CPU or CUDA, not on {device.type}")
    config = Int8WeightOnlyConfig() if weight_only else Int8DynamicActivationInt8WeightConfig()
    quantize_(model, config, filter_fn=lambda mod, fqn: fqn in names and isinstance(mod, nn.Linear))


def keep_full_precision(model: nn.Module, modules: dict[str, nn.Module]) -> dict[str, nn.Module]:
    """Leave out the layers a model declares must stay in full precision (T5's feed-forward ``wo``
    casts its input to the weight's dtype), as transformers' own bitsandbytes loading does."""
    keep = set(getattr(model, "_keep_in_fp32_modules", None) or [])
    return {n: m for n, m in modules.items() if not keep & set(n.split("."))}


def _bnb(model: nn.Module, modules: dict[str, nn.Module], scheme: str, device: torch.device) -> None:
    try:
        import bitsandbytes as bnb
    except ImportError:
        raise UnsupportedScheme("bitsandbytes is not installed: `pip install bitsandbytes`") from None
    if device.type not in ("cpu", "cuda", "xpu"):
        raise UnsupportedScheme(f"bitsandbytes runs on CUDA (and, from 0.45, on CPU), not on {device.type}")
    for name, m in modules.items():
        w = m.weight.data
        bias = m.bias.data if m.bias is not None else None
        if scheme == "bnb-int8":
            q = bnb.nn.Linear8bitLt(m.in_features, m.out_features, bias=bias is not None,
                                    has_fp16_weights=False, threshold=6.0, device="meta")
            q.weight = bnb.nn.Int8Params(w.clone(), requires_grad=False, has_fp16_weights=False)
        else:
            if m.in_features % BNB_4BIT_BLOCK:
                raise UnsupportedScheme(f"{scheme}: {name} has {m.in_features} inputs; 4-bit blocks need a multiple of {BNB_4BIT_BLOCK}")
            qt = scheme.removeprefix("bnb-")
            q = bnb.nn.Linear4bit(m.in_features, m.out_features, bias=bias is not None, quant_type=qt,
                                  compute_dtype=w.dtype, device="meta")
            q.weight = bnb.nn.Params4bit(w.clone(), requires_grad=False, quant_type=qt)
        if bias is not None:
            q.bias = nn.Parameter(bias.clone(), requires_grad=False)
        _set_module(model, name, q.to(device))


@torch.no_grad()
def apply_quantize(model: nn.Module, modules: dict[str, nn.Module], step, device: torch.device) -> None:
    _check_linear(modules, step.scheme)
    modules = conv1d_to_linear(model, modules)
    if step.scheme == "dynamic-int8" and step.backend == "torch.ao":
        _torch_ao_dynamic(model, set(modules), device)
    elif step.scheme in ("dynamic-int8", "weight-only-int8"):
        _torchao(model, set(modules), step.scheme == "weight-only-int8", device)
    else:
        kept = keep_full_precision(model, modules)
        if not kept:
            raise UnsupportedScheme(f"{step.scheme}: every layer of scope {step.scope!r} must stay in full precision")
        _bnb(model, kept, step.scheme, device)
