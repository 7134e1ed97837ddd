"""Structured pruning: whole output rows or input columns, by their L-n norm or at random."""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from ..spec import Method, PruneParams


class LnStructuredStep(PruneParams):
    criterion: Literal["ln-structured"]
    norm: Literal[1, 2] | None = None
    dim: Literal["rows", "columns"] | None = None

    @model_validator(mode="after")
    def _needs(self):
        if self.norm is None:
            raise ValueError("criterion 'ln-structured' needs norm (1 or 2)")
        if self.dim is None:
            raise ValueError("criterion 'ln-structured' needs dim ('rows' or 'columns')")
        return self

    def label_detail(self) -> str:
        return f" L{self.norm} {self.dim}"


class RandomStructuredStep(PruneParams):
    criterion: Literal["random-structured"]
    dim: Literal["rows", "columns"] | None = None

    @model_validator(mode="after")
    def _needs(self):
        if self.dim is None:
            raise ValueError("criterion 'random-structured' needs dim ('rows' or 'columns')")
        return self

    def label_detail(self) -> str:
        return f" {self.dim}"


def run(ctx, modules, step) -> None:
    import torch

    from ..prune import prune_structured

    prune_structured(modules, step, torch.Generator().manual_seed(ctx.seed + ctx.index))


ORDER = 12
METHODS = (
    Method(kind="prune", name="ln-structured", params=LnStructuredStep, run=run, title="Structured (L-n norm)",
           short_title="Ln-structured", label_name="structured",
           summary="Removes whole output rows (neurons) or input columns of each layer with the smallest L1 or L2 norm.",
           example="prune:criterion=ln-structured,sparsity=0.25,norm=2,dim=rows"),
    Method(kind="prune", name="random-structured", params=RandomStructuredStep, run=run, title="Structured (random)",
           seeded=True, short_title="random structured", label_name="random structured",
           summary="Removes whole output rows or input columns of each layer chosen at random (seeded).",
           example="prune:criterion=random-structured,sparsity=0.25,dim=columns"),
)
