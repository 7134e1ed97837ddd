"""Wanda (Sun et al. 2024) through llm-compressor: layer by layer, |W_ij|·‖X_j‖ within each output row,
unstructured or N:M. The one-pass variant this project had before is ``wanda-oneshot``."""

from __future__ import annotations

from typing import Literal

from ..spec import DECODERS, Calibration, Method, NMParams


class WandaStep(NMParams):
    criterion: Literal["wanda"]
    calibration: Calibration | None = None


def run(ctx, modules, step: WandaStep) -> None:
    from ..llmc import run_oneshot, sparsity_modifier

    run_oneshot(ctx, modules, step, sparsity_modifier("WandaPruningModifier", step))


ORDER = 21
METHODS = (Method(
    kind="prune", name="wanda", params=WandaStep, run=run, calibration=True, families=DECODERS,
    library="llm-compressor", title="Wanda", label_name="Wanda",
    summary="Scores each weight by |W_ij|·‖X_j‖ (weight magnitude times the norm of its input on calibration "
            "data) and prunes the lowest scores within each output row, layer by layer, so later layers see "
            "the pruned earlier ones. No weight update.",
    reference="Sun, Liu, Bair, Kolter 2024, A Simple and Effective Pruning Approach for Large Language Models (ICLR)",
    url="https://arxiv.org/abs/2306.11695", example="prune:criterion=wanda,n=2,m=4",
    notes=("Schema 1.0 files could name criterion 'wanda', but the runner of that version never ran it "
           "(no calibration data was passed), so no published file used it.",)),)
