"""GGUF (llama.cpp) quantization types as a compression method, through the ``gguf`` package's own code.

Each Linear weight of the scope is quantized to the GGML type block by block (blocks of 32 consecutive
inputs of a row, each with its own scale, and for the ``_1`` types its own minimum) with
``gguf.quants.quantize`` and put back dequantized with ``gguf.quants.dequantize``: the model is evaluated
in floating point on exactly the values a GGUF file of that type holds (simulated, labelled so). The stored
size is the type's block layout (bytes per block x blocks). The same step names the quantization a GGUF
checkpoint arrives with (``model.lineage``); ``type`` is then llama.cpp's file-type name (``Q4_K_M``), of
which the K-quants and IQ types can be read but not made in Python.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..spec import DECODERS, Method, QuantizeParams

# Types the gguf package quantizes in Python (0.19): what the runner can apply.
RUNNABLE = ("Q8_0", "Q5_1", "Q5_0", "Q4_1", "Q4_0", "MXFP4", "TQ2_0", "TQ1_0")
# llama.cpp's file types (general.file_type), for checkpoints that arrive in them.
FILE_TYPES = ("F32", "F16", "BF16", "Q2_K", "Q2_K_S", "Q3_K_S", "Q3_K_M", "Q3_K_L", "Q4_K_S", "Q4_K_M", "Q5_K_S",
              "Q5_K_M", "Q6_K", "IQ1_S", "IQ1_M", "IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ2_M", "IQ3_XXS", "IQ3_XS", "IQ3_S",
              "IQ3_M", "IQ4_NL", "IQ4_XS", "MXFP4_MOE")
GgufType = Literal[RUNNABLE + FILE_TYPES]  # type: ignore[valid-type]


class GGUFStep(QuantizeParams):
    scheme: Literal["gguf"]
    type: GgufType = Field(description="GGML quantization type (Q8_0, Q5_1, Q5_0, Q4_1, Q4_0, MXFP4, TQ2_0, TQ1_0 "
                           "can be applied; llama.cpp file types such as Q4_K_M name what a GGUF checkpoint arrived in).")


def check(step: GGUFStep) -> str | None:
    if step.type not in RUNNABLE:
        return (f"type {step.type} can be read from a GGUF file but not made by the gguf package in Python; "
                f"apply one of {', '.join(RUNNABLE)}")
    return None


def run(ctx, modules, step: GGUFStep) -> None:
    import gguf
    import numpy as np
    import torch
    from gguf import quants

    from ..base import UnsupportedScheme
    from ..scopes import unique_weights

    qtype = gguf.GGMLQuantizationType[step.type]
    block, size = gguf.GGML_QUANT_SIZES[qtype]
    for name, m in unique_weights(modules).items():
        w = m.weight
        if w.dim() != 2 or w.shape[1] % block:
            raise UnsupportedScheme(f"gguf {step.type}: {name} has rows of {w.shape[-1]} weights, not a multiple of "
                                    f"the type's block of {block}")
        data = w.detach().to("cpu", torch.float32).numpy()
        packed = quants.quantize(np.ascontiguousarray(data), qtype)
        back = quants.dequantize(packed, qtype).reshape(data.shape)
        w.data.copy_(torch.from_numpy(np.ascontiguousarray(back)).to(w.device, w.dtype))
        m.leaderboard_stored_weight_bytes = (w.numel() // block) * size  # see stored.py
    ctx.note(kernels="simulated")


def label(step: GGUFStep) -> str:
    return f"GGUF {step.type} quantization of {step.scope}"


ORDER = 40
METHODS = (Method(
    kind="quantize", name="gguf", params=GGUFStep, run=run, check=check, label=label, families=DECODERS, library="gguf",
    since="1.2", simulated=True, title="GGUF (llama.cpp) types",
    summary="llama.cpp's block quantization: each row is cut into blocks of 32 weights, each block stored with "
            "its own scale (Q4_0, Q5_0, Q8_0) or scale and minimum (Q4_1, Q5_1) in 4, 5 or 8 bits, through the "
            "gguf package's own quantize/dequantize; evaluated on the dequantized values (simulated).",
    reference="llama.cpp / ggml (Gerganov et al.)", url="https://github.com/ggml-org/llama.cpp",
    example="quantize:scheme=gguf,type=Q4_0",
    notes=("Stored size follows the type's block layout: Q8_0 8.5, Q5_1 6, Q5_0 5.5, Q4_1 5, Q4_0 4.5 bits per "
           "weight, MXFP4 4.25.",
           "The same step, with llama.cpp's file-type name (e.g. Q4_K_M), states the quantization a GGUF checkpoint "
           "was distributed in; model.lineage.tensor_types then gives the file's real mix of tensor types.")),)
