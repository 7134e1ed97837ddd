"""bitsandbytes layers built from the current (possibly pruned) weights: LLM.int8(), NF4, FP4."""

from __future__ import annotations

from typing import Literal

from ..spec import Method, QuantizeParams


class BnbInt8Step(QuantizeParams):
    scheme: Literal["bnb-int8"]


class BnbNf4Step(QuantizeParams):
    scheme: Literal["bnb-nf4"]


class BnbFp4Step(QuantizeParams):
    scheme: Literal["bnb-fp4"]


def run(ctx, modules, step) -> None:
    from ..quantize import apply_quantize

    apply_quantize(ctx.model, modules, step, ctx.device)
    ctx.note(kernels="native")


_DEV = frozenset({"cpu", "cuda", "xpu"})
ORDER = 11
METHODS = (
    Method(kind="quantize", name="bnb-int8", params=BnbInt8Step, run=run, library="bitsandbytes", devices=_DEV,
           title="bitsandbytes int8 (LLM.int8())", label_name="bitsandbytes int8", synthetic=(8, 0.985),
           summary="int8 weights with per-row scales; outlier activation columns (above 6.0) in 16 bits.",
           reference="Dettmers et al. 2022", example="quantize:scheme=bnb-int8"),
    Method(kind="quantize", name="bnb-nf4", params=BnbNf4Step, run=run, library="bitsandbytes", devices=_DEV,
           title="bitsandbytes NF4", label_name="bitsandbytes NF4", synthetic=(4.5, 0.95), summary="4-bit NormalFloat weights in blocks of 64 with one absmax scale each.",
           reference="Dettmers et al. 2023 (QLoRA)", example="quantize:scheme=bnb-nf4"),
    Method(kind="quantize", name="bnb-fp4", params=BnbFp4Step, run=run, library="bitsandbytes", devices=_DEV,
           title="bitsandbytes FP4", label_name="bitsandbytes FP4", synthetic=(4.5, 0.92), summary="4-bit floating-point weights in blocks of 64 with one absmax scale each.",
           example="quantize:scheme=bnb-fp4"),
)
