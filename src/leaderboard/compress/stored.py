"""Size of the checkpoint as it would be saved: compressed-tensors' packed format, not in-memory floats.

llm-compressor leaves quantized weights in floating point (quantize-dequantize) while the model is in
memory; ``save_pretrained(..., save_compressed=True)`` packs them (int4 two per byte, int3 packed in
int32, FP8 as float8) with their scales and zero points. This measures exactly that packing, one
quantized layer at a time on a copy (so memory grows by one layer, never by the model), and counts
every other parameter at its own dtype.
"""

from __future__ import annotations

import copy
from itertools import chain

from torch import nn

STORED_ATTR = "leaderboard_stored_weight_bytes"  # set by methods that simulate their own format (gguf)


def _quantized_modules(model: nn.Module) -> list[tuple[str, nn.Module]]:
    try:
        from compressed_tensors.quantization import QuantizationScheme
    except ImportError:
        QuantizationScheme = ()  # noqa: N806
    return [(n, m) for n, m in model.named_modules()
            if isinstance(getattr(m, "quantization_scheme", None), QuantizationScheme) or hasattr(m, STORED_ATTR)]


def _own_tensors(m: nn.Module):
    return chain(m.parameters(recurse=False), m.buffers(recurse=False))


def compressed_module_bytes(module: nn.Module) -> int:
    """Bytes one quantized layer takes in the compressed checkpoint (packed weight, scales, zero points, shape)."""
    if hasattr(module, STORED_ATTR):  # its weight as its method stores it, every other tensor at its dtype
        rest = sum(t.numel() * t.element_size() for t in _own_tensors(module) if t is not module.weight)
        return getattr(module, STORED_ATTR) + rest
    from compressed_tensors.compressors.base import compress_module

    c = copy.deepcopy(module)
    compress_module(c)
    return sum(t.numel() * t.element_size() for t in _own_tensors(c))


def stored_bytes(model: nn.Module, held: dict[int, int] | None = None) -> tuple[int, dict[str, int]] | None:
    """(bytes of all parameters as saved compressed, bytes per quantized layer); None when no layer carries
    a compressed-tensors quantization scheme (nothing to pack: the in-memory size is the stored size).

    ``held``: for a checkpoint that arrived compressed (GGUF), ``id(tensor) -> bytes`` of the tensors as the
    checkpoint stores them; tensors no step touched keep that size (counted then even with no quantized layer)."""
    from .measure import tensor_bytes

    quantized = _quantized_modules(model)
    if not quantized and held is None:
        return None
    held = held or {}
    per_layer: dict[str, int] = {}
    seen: set[int] = set()
    for name, m in quantized:
        per_layer[name] = compressed_module_bytes(m)
        seen.update(id(t) for t in _own_tensors(m))
    total = sum(per_layer.values())
    for t in model.parameters():
        if id(t) not in seen:
            seen.add(id(t))
            total += held[id(t)] if id(t) in held else tensor_bytes(t)
    return total, per_layer
