"""Round-to-nearest (RTN) weight-only integer quantization through llm-compressor: each weight goes to the
nearest point of a min-max grid (per output row or per group); no calibration data. GPTQ's baseline."""

from __future__ import annotations

from typing import Literal

from ..spec import DECODERS, Method, WeightGridParams


class RTNStep(WeightGridParams):
    scheme: Literal["rtn"]


def run(ctx, modules, step: RTNStep) -> None:
    from ..llmc import quantization_modifier, run_oneshot

    run_oneshot(ctx, modules, step, quantization_modifier("QuantizationModifier", step))


ORDER = 20
METHODS = (Method(
    kind="quantize", name="rtn", params=RTNStep, run=run, families=DECODERS, library="llm-compressor",
    since="1.1", simulated=True, title="RTN (round to nearest)", label_name="RTN",
    summary="Weight-only integer quantization: every weight is rounded to the nearest of 2^bits levels of a "
            "min-max grid, one grid per output row (or per group of inputs). No calibration data; the baseline "
            "GPTQ is compared with.",
    reference="as in Frantar et al. 2023 (GPTQ), Tables 13-22", url="https://arxiv.org/abs/2210.17323",
    example="quantize:scheme=rtn,bits=4,granularity=per_row,asymmetric=true"),)
