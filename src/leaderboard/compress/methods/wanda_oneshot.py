"""Wanda in one pass (this project's variant): every layer's input norms from one forward pass of the
dense model, then |W|·‖X‖ pruning per output row. Sun et al.'s Wanda is ``wanda`` (layer by layer)."""

from __future__ import annotations

from typing import Literal

from ..spec import Calibration, Method, PruneParams


class WandaOneShotStep(PruneParams):
    criterion: Literal["wanda-oneshot"]
    calibration: Calibration | None = None


def run(ctx, modules, step: WandaOneShotStep) -> None:
    from ..prune import input_norms, prune_wanda

    norms = input_norms(ctx.model, modules, ctx.calibration.forward(ctx.model, ctx.device))
    prune_wanda(modules, step.sparsity, norms)


ORDER = 15
METHODS = (Method(
    kind="prune", name="wanda-oneshot", params=WandaOneShotStep, run=run, calibration=True, since="1.1",
    title="Wanda (one pass)", label_name="Wanda (one pass)",
    summary="Scores each weight by |W_ij|·‖X_j‖ with the input norms of every layer collected in one forward pass "
            "of the dense model, and prunes the lowest scores within each output row. Unlike Sun et al.'s "
            "procedure (criterion wanda), later layers do not see the already-pruned earlier layers.",
    reference="after Sun et al. 2024 (Wanda), simplified", example="prune:criterion=wanda-oneshot,sparsity=0.5"),)
