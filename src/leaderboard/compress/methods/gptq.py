"""GPTQ (Frantar et al. 2023) through llm-compressor: layer-wise weight quantization that corrects the
not-yet-quantized weights for each rounding error (second order, on calibration data)."""

from __future__ import annotations

from typing import Literal

from ..spec import DECODERS, Calibration, Method, WeightGridParams


class GPTQStep(WeightGridParams):
    scheme: Literal["gptq"]
    calibration: Calibration | None = None


def run(ctx, modules, step: GPTQStep) -> None:
    from ..llmc import quantization_modifier, run_oneshot

    run_oneshot(ctx, modules, step, quantization_modifier("GPTQModifier", step))


ORDER = 21
METHODS = (Method(
    kind="quantize", name="gptq", params=GPTQStep, run=run, calibration=True, families=DECODERS,
    library="llm-compressor", since="1.1", simulated=True, title="GPTQ",
    summary="Quantizes each layer's weights column by column on a min-max grid and updates the columns not yet "
            "quantized to compensate each rounding error, using the Hessian of the layer's inputs on calibration "
            "data. Layer by layer: later layers see the quantized earlier ones.",
    reference="Frantar, Ashkboos, Hoefler, Alistarh 2023, GPTQ: Accurate Post-Training Quantization for "
              "Generative Pre-trained Transformers (ICLR)",
    url="https://arxiv.org/abs/2210.17323", example="quantize:scheme=gptq,bits=4,granularity=per_row,asymmetric=true"),)
