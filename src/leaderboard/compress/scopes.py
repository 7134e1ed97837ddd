"""Resolve a scope name ('all', 'attention', 'ffn', ...) or a module-name glob to modules.

One spec means the same thing on every family: the tables below name, per architecture, which
Linear-like layers are the attention projections, the attention output, the feed-forward layers.
"""

from __future__ import annotations

import fnmatch
import re

import torch
from torch import nn

from .. import registry

try:  # GPT-2 and relatives store Linear weights transposed in a Conv1D
    from transformers.pytorch_utils import Conv1D
except ImportError:  # pragma: no cover
    Conv1D = ()  # type: ignore[assignment]

LINEAR_TYPES: tuple[type, ...] = (nn.Linear, Conv1D) if Conv1D else (nn.Linear,)

_ATTENTION_QKV = re.compile(
    r"(^|\.)(attention\.self\.(query|key|value)|attention\.(query|key|value|q_lin|k_lin|v_lin|query_key_value)"
    r"|(SelfAttention|EncDecAttention)\.(q|k|v)|self_attn\.(q_proj|k_proj|v_proj)|encoder_attn\.(q_proj|k_proj|v_proj)"
    r"|attn\.c_attn|attn\.(q_proj|k_proj|v_proj))$"
)
_ATTENTION_OUT = re.compile(
    r"(^|\.)(attention\.output\.dense|attention\.dense|attention\.out_lin|(SelfAttention|EncDecAttention)\.o"
    r"|self_attn\.(o_proj|out_proj)|encoder_attn\.out_proj|attn\.c_proj|attn\.(o_proj|out_proj))$"
)
_FFN = re.compile(
    r"(^|\.)(intermediate\.dense|(?<!attention\.)output\.dense|ffn\.(lin1|lin2)|ffn|ffn_output"
    r"|DenseReluDense\.(wi|wi_0|wi_1|wo)|mlp\.(c_fc|c_proj|gate_proj|up_proj|down_proj|dense_h_to_4h|dense_4h_to_h|fc1|fc2)"
    r"|fc1|fc2)$"
)


_BLOCK = re.compile(r"^(.*?\.(?:layer|layers|h|block|albert_layers)\.\d+)\.")


class ScopeError(ValueError):
    pass


def linear_modules(model: nn.Module) -> dict[str, nn.Module]:
    """Every Linear-like layer, each shared module once (ALBERT shares its layers)."""
    return {n: m for n, m in model.named_modules() if isinstance(m, LINEAR_TYPES)}


def _name_of(model: nn.Module, target: nn.Module | None) -> str | None:
    if target is None:
        return None
    return next((n for n, m in model.named_modules() if m is target), None)


def lm_head_name(model: nn.Module) -> str | None:
    get = getattr(model, "get_output_embeddings", None)
    return _name_of(model, get() if get else None)


def embeddings_name(model: nn.Module) -> str | None:
    get = getattr(model, "get_input_embeddings", None)
    return _name_of(model, get() if get else None)


def resolve(model: nn.Module, scope: str) -> dict[str, nn.Module]:
    """Modules of ``scope`` by name, in model order. Raises ScopeError if the scope matches nothing."""
    linears = linear_modules(model)
    head = lm_head_name(model)
    if scope == "all":
        out = {n: m for n, m in linears.items() if n != head}
    elif scope == "attention":
        out = {n: m for n, m in linears.items() if _ATTENTION_QKV.search(n)}
    elif scope == "attention-output":
        out = {n: m for n, m in linears.items() if _ATTENTION_OUT.search(n)}
    elif scope == "ffn":
        out = {n: m for n, m in linears.items() if _FFN.search(n)}
    elif scope == "output":
        out = {n: m for n, m in linears.items() if _FFN.search(n) or _ATTENTION_OUT.search(n)}
    elif scope == "last-layer":
        blocks = [b.group(1) for n in linears if n != head and (b := _BLOCK.match(n))]
        out = {n: m for n, m in linears.items() if blocks and n.startswith(blocks[-1] + ".")}
    elif scope == "lm-head":
        out = {head: dict(model.named_modules())[head]} if head else {}
    elif scope == "embeddings":
        emb = embeddings_name(model)
        out = {emb: dict(model.named_modules())[emb]} if emb else {}
    elif scope in registry.NAMED_SCOPES:  # pragma: no cover - registry and resolver out of step
        raise ScopeError(f"scope {scope!r} is registered but has no resolver")
    else:
        candidates = {**linears}
        emb = embeddings_name(model)
        if emb:
            candidates[emb] = dict(model.named_modules())[emb]
        out = {n: m for n, m in candidates.items() if fnmatch.fnmatchcase(n, scope)}
    if not out:
        kind = getattr(getattr(model, "config", None), "model_type", type(model).__name__)
        raise ScopeError(f"scope {scope!r} matches no layer of this {kind} model")
    return out


def is_transposed(module: nn.Module) -> bool:
    """Conv1D stores (in_features, out_features); Linear and Embedding store rows first."""
    return bool(Conv1D) and isinstance(module, Conv1D)


def as_out_in(module: nn.Module) -> torch.Tensor:
    """The weight as an (out_features, in_features) view (a transposed view for Conv1D)."""
    w = module.weight.data
    return w.t() if is_transposed(module) else w


def unique_weights(modules: dict[str, nn.Module]) -> dict[str, nn.Module]:
    """Drop modules whose weight another module already holds (tied LM head and embeddings), and packed
    layers that hold no ``weight`` (compressed-tensors checkpoints)."""
    seen: set[int] = set()
    out = {}
    for name, m in modules.items():
        if getattr(m, "weight", None) is None:  # a packed layer of a compressed checkpoint (weight_packed)
            continue
        if id(m.weight) not in seen:
            seen.add(id(m.weight))
            out[name] = m
    return out
