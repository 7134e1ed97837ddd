"""Unstructured random pruning: the same share of every layer, chosen uniformly (seeded)."""

from __future__ import annotations

from typing import Literal

from ..spec import Method, PruneParams


class RandomStep(PruneParams):
    criterion: Literal["random"]
    local_only = False


def run(ctx, modules, step: RandomStep) -> None:
    import torch

    from ..prune import prune_random

    prune_random(modules, step.sparsity, torch.Generator().manual_seed(ctx.seed + ctx.index))


ORDER = 11
METHODS = (Method(
    kind="prune", name="random", params=RandomStep, run=run, title="Random", seeded=True, short_title="random",
    summary="Zeroes round(sparsity x size) weights of each layer chosen uniformly at random (seeded), so "
            "global and local random pruning coincide in expectation; the control every criterion must beat.",
    example="prune:criterion=random,sparsity=0.5"),)
