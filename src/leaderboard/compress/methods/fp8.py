"""FP8 (E4M3) weights per output channel and dynamic per-token FP8 activations through llm-compressor
(FP8_DYNAMIC). Runs on CUDA: FP8 matrix kernels need a Hopper/Ada GPU; CPU is refused."""

from __future__ import annotations

from typing import Literal

from ..spec import DECODERS, Method, QuantizeParams


class FP8Step(QuantizeParams):
    scheme: Literal["fp8"]


def run(ctx, modules, step: FP8Step) -> None:
    from ..llmc import fp8_recipe, run_oneshot

    run_oneshot(ctx, modules, step, fp8_recipe(step))


ORDER = 24
METHODS = (Method(
    kind="quantize", name="fp8", params=FP8Step, run=run, families=DECODERS, devices=frozenset({"cuda"}),
    library="llm-compressor", since="1.1", simulated=True, title="FP8 (E4M3, dynamic)", label_name="FP8 (E4M3)",
    summary="Weights in 8-bit floating point (E4M3) with one scale per output channel; activations cast to FP8 "
            "per token at run time. No calibration data.",
    reference="Micikevicius et al. 2022, FP8 Formats for Deep Learning", url="https://arxiv.org/abs/2209.05433",
    example="quantize:scheme=fp8"),)
