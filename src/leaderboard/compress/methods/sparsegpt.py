"""SparseGPT (Frantar & Alistarh 2023) through llm-compressor: layer-wise optimal-brain-surgeon pruning
with weight reconstruction, unstructured (sparsity S) or N:M (n, m)."""

from __future__ import annotations

from typing import Literal

from ..spec import DECODERS, Calibration, Method, NMParams


class SparseGPTStep(NMParams):
    criterion: Literal["sparsegpt"]
    calibration: Calibration | None = None


def run(ctx, modules, step: SparseGPTStep) -> None:
    from ..llmc import run_oneshot, sparsity_modifier

    run_oneshot(ctx, modules, step, sparsity_modifier("SparseGPTModifier", step))


ORDER = 20
METHODS = (Method(
    kind="prune", name="sparsegpt", params=SparseGPTStep, run=run, calibration=True, families=DECODERS,
    library="llm-compressor", since="1.1", title="SparseGPT", label_name="SparseGPT",
    summary="Prunes each layer in turn to the requested sparsity (or N:M pattern) and updates the remaining "
            "weights to reconstruct the layer's output on calibration data (second-order, one shot). Later "
            "layers see the pruned earlier ones.",
    reference="Frantar & Alistarh 2023, SparseGPT: Massive Language Models Can Be Accurately Pruned in One-Shot (ICML)",
    url="https://arxiv.org/abs/2301.00774", example="prune:criterion=sparsegpt,sparsity=0.5"),)
