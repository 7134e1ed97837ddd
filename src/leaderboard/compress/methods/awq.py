"""AWQ (Lin et al. 2024) through llm-compressor: activation-aware per-channel scaling searched on
calibration data, then integer weight-only quantization. Needs an accelerator (llm-compressor 0.14)."""

from __future__ import annotations

from typing import ClassVar, Literal

from ..spec import DECODERS, Calibration, Method, WeightGridParams


class AWQStep(WeightGridParams):
    scheme: Literal["awq"]
    calibration: Calibration | None = None

    supported_bits: ClassVar[tuple[int, ...]] = (4, 8)


def run(ctx, modules, step: AWQStep) -> None:
    from ..llmc import awq_recipe, run_oneshot

    run_oneshot(ctx, modules, step, awq_recipe(step))


ORDER = 22
METHODS = (Method(
    kind="quantize", name="awq", params=AWQStep, run=run, calibration=True, families=DECODERS,
    devices=frozenset({"cuda"}), library="llm-compressor", since="1.1", simulated=True,
    title="AWQ", label_name="AWQ",
    device_note="llm-compressor 0.14 raises 'Cannot access accelerator device' without one",
    summary="Searches, per layer, scales for the input channels that protect the weights seen by large "
            "activations (on calibration data), folds them into the previous operation, then quantizes the "
            "weights on a min-max grid (usually 4 bits in groups of 128).",
    reference="Lin et al. 2024, AWQ: Activation-aware Weight Quantization for LLM Compression and Acceleration (MLSys)",
    url="https://arxiv.org/abs/2306.00978",
    example="quantize:scheme=awq,bits=4,granularity=per_group,group_size=128,asymmetric=true"),)
