"""int8 through torchao: dynamic (int8 weights and per-token int8 activations) or weight-only."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..spec import Method, QuantizeParams


class DynamicInt8Step(QuantizeParams):
    scheme: Literal["dynamic-int8"]
    backend: Literal["torch.ao"] | None = Field(
        default=None,
        description="dynamic-int8 only: the library that quantizes. Absent = torchao (Int8DynamicActivationInt8Weight); "
        "'torch.ao' = torch.ao.quantization.quantize_dynamic, a different computation (schema 1.1).",
    )


class WeightOnlyInt8Step(QuantizeParams):
    scheme: Literal["weight-only-int8"]


def run(ctx, modules, step) -> None:
    from ..quantize import apply_quantize

    apply_quantize(ctx.model, modules, step, ctx.device)
    ctx.note(kernels="native")


ORDER = 10
METHODS = (
    Method(kind="quantize", name="dynamic-int8", params=DynamicInt8Step, run=run, library="torchao",
           title="Dynamic int8", label_name="dynamic int8", synthetic=(8, 0.99), devices=frozenset({"cpu", "cuda", "xpu"}),
           summary="int8 weights (per output channel) and int8 activations quantized per token at run time "
                   "(torchao; backend=torch.ao asks for PyTorch's own quantize_dynamic, CPU only).",
           example="quantize:scheme=dynamic-int8"),
    Method(kind="quantize", name="weight-only-int8", params=WeightOnlyInt8Step, run=run, library="torchao",
           title="Weight-only int8", label_name="weight-only int8", devices=frozenset({"cpu", "cuda", "xpu"}),
           summary="int8 weights with per-channel scales; activations stay in floating point (torchao).",
           example="quantize:scheme=weight-only-int8"),
)
