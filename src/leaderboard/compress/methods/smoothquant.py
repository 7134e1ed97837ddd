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


def model_check(config) -> str | None:
    """Gemma, Gemma 2 and Gemma 3 are refused: llm-compressor (0.14) smooths a norm by dividing its weight, but a
    Gemma RMSNorm multiplies by (1 + weight), so the division is not the inverse of the balance layers' scaling; and it
    smooths post_attention_layernorm into gate_proj/up_proj, which on Gemma 2 and 3 normalises the attention's output,
    not the MLP's input (pre_feedforward_layernorm). The model it leaves is broken: Gemma 3 270M scored P@1 0.000 on
    all 27,044 LAMA T-REx facts (as distributed: 0.284)."""
    kind = str(getattr(config, "model_type", "") or "")
    if kind.startswith("gemma"):
        return (f"not on {kind} models: llm-compressor divides a norm's weight by the smoothing scales, but a Gemma "
                "RMSNorm multiplies by (1 + weight), and its mapping smooths post_attention_layernorm, which on Gemma "
                "is not the MLP's input; the smoothed model is broken (Gemma 3 270M: LAMA T-REx P@1 0.000)")
    return None


def run(ctx, modules, step: SmoothQuantStep) -> None:
    from ..llmc import run_oneshot, smoothquant_recipe

    run_oneshot(ctx, modules, step, smoothquant_recipe(step))


ORDER = 23
METHODS = (Method(
    kind="quantize", name="smoothquant", params=SmoothQuantStep, run=run, calibration=True, families=DECODERS,
    library="llm-compressor", since="1.1", simulated=True, title="SmoothQuant W8A8", label_name="SmoothQuant W8A8",
    model_check=model_check,
    notes=("Not on Gemma models (Gemma, Gemma 2, Gemma 3): llm-compressor divides a norm's weight by the smoothing "
           "scales, but a Gemma RMSNorm multiplies by (1 + weight), and its mapping smooths post_attention_layernorm, "
           "which on Gemma 2 and 3 normalises the attention's output, not the MLP's input. The model it leaves is "
           "broken (Gemma 3 270M: LAMA T-REx P@1 0.000 against 0.284 as distributed), so the runner refuses it.",),
    summary="Divides each input channel of a layer by a smoothing factor (multiplying the weights by it) so that "
            "activation outliers become quantizable, then quantizes weights to int8 per output channel and "
            "activations to int8 per token at run time.",
    reference="Xiao et al. 2023, SmoothQuant: Accurate and Efficient Post-Training Quantization for Large Language Models (ICML)",
    url="https://arxiv.org/abs/2211.10438", example="quantize:scheme=smoothquant,smoothing_strength=0.8"),)
