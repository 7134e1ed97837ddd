"""int4 weight-only through torchao (``Int4WeightOnlyConfig``): packed int4 weights in groups with
bfloat16 scales, run by torchao's CUDA kernels. On CPU torchao 0.18 leaves the model unchanged, so
the runner refuses it there instead of recording a no-op."""

from __future__ import annotations

from typing import Literal

from ..spec import ALL_FAMILIES, Method, QuantizeParams


class TorchaoInt4Step(QuantizeParams):
    scheme: Literal["torchao-int4"]
    group_size: Literal[32, 64, 128, 256] = 128


def run(ctx, modules, step: TorchaoInt4Step) -> None:
    from ..quantize import torchao_int4

    torchao_int4(ctx.model, modules, step, ctx.device)
    ctx.note(kernels="native")


ORDER = 12
METHODS = (Method(
    kind="quantize", name="torchao-int4", params=TorchaoInt4Step, run=run, families=ALL_FAMILIES,
    devices=frozenset({"cuda"}), library="torchao", since="1.1", title="torchao int4 weight-only", label_name="torchao int4",
    summary="int4 weights packed two per byte in groups (32-256 inputs) with a bfloat16 scale and zero point per "
            "group, multiplied by torchao's int4 CUDA kernels.",
    example="quantize:scheme=torchao-int4,group_size=128"),)
