"""Pruning helpers for the pruning methods (``compress/methods/``), made permanent: weights are zeroed in place; no masks, no hooks are left behind.

Global magnitude pruning never concatenates the weights of a scope: the k-th smallest magnitude is
found by histogram refinement over bounded chunks, then selected exactly, so the result equals exact
global top-k (ties at the threshold are broken by position) with memory of one chunk at a time.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import torch
from torch import nn

from .base import count_of
from .scopes import as_out_in, is_transposed, unique_weights

CHUNK = 1 << 22  # elements per chunk while scanning (16 MiB of float32)
BINS = 4096
MAX_CANDIDATES = 1 << 22


def _chunks(tensors: list[torch.Tensor]) -> Iterator[torch.Tensor]:
    for t in tensors:
        yield from t.reshape(-1).split(CHUNK)


def _abs(chunk: torch.Tensor) -> torch.Tensor:
    return chunk.detach().abs().float()


def kth_smallest_abs(tensors: list[torch.Tensor], k: int) -> float:
    """The k-th smallest |x| (1-based) over all elements of ``tensors``, exactly, in bounded memory."""
    total = sum(t.numel() for t in tensors)
    if not 1 <= k <= total:
        raise ValueError(f"k={k} outside 1..{total}")
    levels: list[tuple[float, float, int]] = []  # (lo, scale, bin) conditions that narrow the candidates

    def candidates(a: torch.Tensor) -> torch.Tensor:
        keep = torch.ones_like(a, dtype=torch.bool)
        for lo, scale, j in levels:
            keep &= ((a - lo) * scale).floor().clamp_(0, BINS - 1) == j
        return keep

    rank = k  # rank of the target within the current candidates
    while True:
        lo, hi, count = math.inf, -math.inf, 0
        for c in _chunks(tensors):
            a = _abs(c)
            sel = a[candidates(a)] if levels else a
            if sel.numel():
                lo, hi = min(lo, sel.min().item()), max(hi, sel.max().item())
                count += sel.numel()
        if count <= MAX_CANDIDATES or lo == hi:
            parts = []
            for c in _chunks(tensors):
                a = _abs(c)
                parts.append(a[candidates(a)] if levels else a)
            return torch.cat([p.cpu() for p in parts]).kthvalue(rank).values.item()
        scale = BINS / (hi - lo) * (1 - 1e-7)
        hist = torch.zeros(BINS, dtype=torch.int64)
        for c in _chunks(tensors):
            a = _abs(c)
            sel = a[candidates(a)] if levels else a
            bins = ((sel - lo) * scale).floor().clamp_(0, BINS - 1).long()
            hist += torch.bincount(bins, minlength=BINS).cpu()
        cum = hist.cumsum(0)
        j = int(torch.searchsorted(cum, torch.tensor(rank)).item())
        rank -= int(cum[j - 1]) if j > 0 else 0
        levels.append((lo, scale, j))


def zero_smallest(tensors: list[torch.Tensor], k: int) -> None:
    """Zero exactly the k smallest-magnitude elements over ``tensors`` (in place)."""
    if k <= 0:
        return
    t = kth_smallest_abs(tensors, k)
    below = sum(int((c.detach().abs().float() < t).sum()) for c in _chunks(tensors))
    ties_to_zero = k - below
    for w in tensors:
        flat = w.data.view(-1)
        for start in range(0, flat.numel(), CHUNK):
            c = flat[start : start + CHUNK]
            a = c.abs().float()
            c.masked_fill_(a < t, 0)
            if ties_to_zero > 0:
                tie_idx = (a == t).nonzero().view(-1)[:ties_to_zero]
                c[tie_idx] = 0
                ties_to_zero -= tie_idx.numel()


def _mask_rows(module: nn.Module, rows: torch.Tensor, columns: bool) -> None:
    """Zero whole output rows (or input columns) of a layer, whatever its storage layout."""
    w = as_out_in(module)
    if columns:
        w[:, rows] = 0
    else:
        w[rows, :] = 0


def _apply_out_in_mask(module: nn.Module, mask: torch.Tensor) -> None:
    """mask is (out, in); True = prune."""
    stored = mask.t() if is_transposed(module) else mask
    module.weight.data.masked_fill_(stored, 0)


_count = count_of


def prune_global_l1(modules: dict[str, nn.Module], sparsity: float) -> None:
    weights = [m.weight.data for m in unique_weights(modules).values()]
    zero_smallest(weights, _count(sum(w.numel() for w in weights), sparsity))


def prune_local_l1(modules: dict[str, nn.Module], sparsity: float) -> None:
    for m in unique_weights(modules).values():
        zero_smallest([m.weight.data], _count(m.weight.numel(), sparsity))


def prune_random(modules: dict[str, nn.Module], sparsity: float, generator: torch.Generator) -> None:
    """Each layer loses round(sparsity * size) weights chosen uniformly (the same share everywhere,
    so 'global' and 'local' random pruning coincide in expectation)."""
    for m in unique_weights(modules).values():
        flat = m.weight.data.view(-1)
        k = _count(flat.numel(), sparsity)
        idx = torch.randperm(flat.numel(), generator=generator)[:k].to(flat.device)
        flat[idx] = 0


def prune_structured(modules: dict[str, nn.Module], step, generator: torch.Generator) -> None:
    columns = step.dim == "columns"
    for m in unique_weights(modules).values():
        w = as_out_in(m)
        n = w.shape[1] if columns else w.shape[0]
        k = _count(n, step.sparsity)
        if k == 0:
            continue
        if step.criterion == "random-structured":
            rows = torch.randperm(n, generator=generator)[:k].to(w.device)
        else:
            norms = torch.linalg.vector_norm(w.float(), ord=step.norm, dim=0 if columns else 1)
            rows = torch.topk(norms, k, largest=False).indices
        _mask_rows(m, rows, columns)


def prune_n_m(modules: dict[str, nn.Module], n: int, m: int) -> None:
    """Keep the n largest |w| in every m consecutive input weights of each output unit."""
    for name, mod in unique_weights(modules).items():
        w = as_out_in(mod)
        if w.shape[1] % m:
            raise ValueError(f"{name}: {w.shape[1]} inputs are not a multiple of m={m}")
        groups = w.abs().float().reshape(w.shape[0], -1, m)
        drop = torch.topk(groups, m - n, dim=-1, largest=False).indices
        mask = torch.zeros_like(groups, dtype=torch.bool).scatter_(-1, drop, True).reshape(w.shape)
        _apply_out_in_mask(mod, mask)


def input_norms(model: nn.Module, modules: dict[str, nn.Module], run_calibration: Callable[[], None]) -> dict[str, torch.Tensor]:
    """‖X_j‖₂ of every input feature j of each module over the calibration data (Wanda's activations)."""
    sums: dict[str, torch.Tensor] = {}
    handles = []

    def hook_for(name: str, mod: nn.Module):
        def hook(_mod, args):
            x = args[0].detach()
            x = x.reshape(-1, x.shape[-1]).float()
            sq = x.pow(2).sum(0)
            sums[name] = sums[name] + sq if name in sums else sq
        return hook

    for name, mod in modules.items():
        handles.append(mod.register_forward_pre_hook(hook_for(name, mod)))
    try:
        run_calibration()
    finally:
        for h in handles:
            h.remove()
    missing = [n for n in modules if n not in sums]
    if missing:
        raise RuntimeError(f"calibration never reached {missing[:3]}")
    return {n: s.sqrt() for n, s in sums.items()}


def prune_wanda(modules: dict[str, nn.Module], sparsity: float, norms: dict[str, torch.Tensor]) -> None:
    """Wanda (Sun et al. 2024): score |W_ij|·‖X_j‖, prune the lowest scores within each output row."""
    for name, mod in unique_weights(modules).items():
        w = as_out_in(mod)
        k = _count(w.shape[1], sparsity)
        if k == 0:
            continue
        score = w.abs().float() * norms[name].to(w.device).unsqueeze(0)
        drop = torch.topk(score, k, dim=1, largest=False).indices
        mask = torch.zeros_like(score, dtype=torch.bool).scatter_(1, drop, True)
        _apply_out_in_mask(mod, mask)
