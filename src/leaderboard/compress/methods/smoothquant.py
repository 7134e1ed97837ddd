"""SmoothQuant (Xiao et al. 2023) W8A8 through llm-compressor: activation outliers migrated into the
weights by per-channel smoothing (calibration data), then int8 weights (per channel, RTN) and int8
activations (per token, dynamic)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from ..spec import DECODERS, Calibration, Method, QuantizeParams


class SmoothQuantStep(QuantizeParams):
    scheme: Literal["smoothquant"]
    smoothing_strength: Annotated[float, Field(gt=0.0, le=1.0)] = Field(
        default=0.8, description="alpha: how much of the activation range moves into the weights.")
    calibration: Calibration | None = None


def run(ctx, modules, step: SmoothQuantStep) -> None:
    from ..llmc import run_oneshot, smoothquant_recipe

    run_oneshot(ctx, modules, step, smoothquant_recipe(step, ctx.model))


ORDER = 23
METHODS = (Method(
    kind="quantize", name="smoothquant", params=SmoothQuantStep, run=run, calibration=True, families=DECODERS,
    library="llm-compressor", since="1.1", simulated=True, title="SmoothQuant W8A8", label_name="SmoothQuant W8A8",
    summary="Divides each input channel of a layer by a smoothing factor (multiplying the weights by it) so that "
            "activation outliers become quantizable, then quantizes weights to int8 per output channel and "
            "activations to int8 per token at run time.",
    reference="Xiao et al. 2023, SmoothQuant: Accurate and Efficient Post-Training Quantization for Large Language Models (ICML)",
    url="https://arxiv.org/abs/2211.10438", example="quantize:scheme=smoothquant,smoothing_strength=0.8",
    notes=("On Gemma 2 and 3 the runner smooths pre_feedforward_layernorm, the norm the MLP reads. llm-compressor 0.14 "
           "maps these architectures to Llama's pairs, which smooth post_attention_layernorm: on Gemma that norm ends "
           "the attention branch, so the model's outputs changed before any rounding, and Gemma 3 270M scored LAMA "
           "T-REx P@1 0.000 (0.284 as distributed). Smoothing alone leaves the outputs as they were with the runner's "
           "mapping (tested on a small Gemma 3).",)),)
