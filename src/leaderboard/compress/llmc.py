"""The llm-compressor bridge: one ``oneshot`` call per step, on the in-memory model, scoped by module name.

llm-compressor (``pip install 'compression-leaderboard[llm]'``) implements SparseGPT, Wanda, GPTQ,
AWQ, SmoothQuant and the round-to-nearest/FP8 quantization schemes of compressed-tensors; this module
only turns a step into its recipe. Facts it relies on (llm-compressor 0.14): ``oneshot`` re-reads the
model's config from ``config._name_or_path`` (so the model must come from a folder or the hub) and needs
the tokenizer as ``processor`` when a dataset is given; quantized weights stay in floating point,
quantized-dequantized (a simulation), until the checkpoint is saved compressed.
"""

from __future__ import annotations

from collections.abc import Iterable

from .base import StepContext, UnsupportedScheme

INSTALL_HINT = "pip install 'compression-leaderboard[llm]'  (llm-compressor)"


def _require():
    try:
        import llmcompressor  # noqa: F401
    except ImportError:
        raise UnsupportedScheme(f"this method runs through llm-compressor, which is not installed: {INSTALL_HINT}") from None


def _quiet() -> None:
    try:
        from loguru import logger

        logger.disable("llmcompressor")
        logger.disable("compressed_tensors")
    except ImportError:  # pragma: no cover
        pass


def mask_structure(n: int | None, m: int | None) -> str:
    """llm-compressor's ``mask_structure`` for our pattern: at most n non-zeros in every m weights (keep n).

    llm-compressor's 'N:M' *prunes* N of every M (SparseGPT and Wanda zero the N lowest-scoring weights of
    each block of M inputs), so keeping n of m is '{m - n}:{m}'; '0:0' is unstructured."""
    return f"{m - n}:{m}" if n is not None and m is not None else "0:0"


def pattern_of(mask: str) -> tuple[int, int] | None:
    """(n, m) in our notation (keep n of m) for llm-compressor's ``mask_structure`` 'N:M' (prune N of M);
    None for an unstructured mask ('0:0'). ValueError for anything else."""
    if mask in ("0:0", "None", "unstructured"):
        return None
    pruned, sep, m = mask.partition(":")
    if not (sep and pruned.isdigit() and m.isdigit() and 0 < int(pruned) < int(m)):
        raise ValueError(f"mask_structure {mask!r} is not 'N:M' with 0 < N < M (prune N of every M weights)")
    return int(m) - int(pruned), int(m)


def sparsity_modifier(kind: str, step):
    """SparseGPTModifier / WandaPruningModifier for a pruning step (targets set by run_oneshot)."""
    def make(targets: list[str]):
        from llmcompressor.modifiers.pruning import SparseGPTModifier, WandaPruningModifier

        cls = {"SparseGPTModifier": SparseGPTModifier, "WandaPruningModifier": WandaPruningModifier}[kind]
        return [cls(sparsity=step.sparsity, mask_structure=mask_structure(step.n, step.m), targets=targets)]
    return make


def weight_args(step):
    from compressed_tensors.quantization import QuantizationArgs

    per_group = step.granularity == "per_group"
    return QuantizationArgs(num_bits=step.bits, type="int", symmetric=not step.asymmetric,
                            strategy="group" if per_group else "channel",
                            group_size=step.group_size if per_group else None)


def quantization_modifier(kind: str, step):
    """QuantizationModifier (RTN) / GPTQModifier with the step's weight grid."""
    def make(targets: list[str]):
        from compressed_tensors.quantization import QuantizationScheme
        from llmcompressor.modifiers.quantization import GPTQModifier, QuantizationModifier

        cls = {"QuantizationModifier": QuantizationModifier, "GPTQModifier": GPTQModifier}[kind]
        return [cls(config_groups={"group_0": QuantizationScheme(targets=targets, weights=weight_args(step))})]
    return make


def awq_recipe(step):
    def make(targets: list[str]):
        from compressed_tensors.quantization import QuantizationScheme
        from llmcompressor.modifiers.awq import AWQModifier

        return [AWQModifier(config_groups={"group_0": QuantizationScheme(targets=targets, weights=weight_args(step))})]
    return make


# SmoothQuant's (balance layers, smoothing layer) pairs for architectures llm-compressor 0.14 has no mapping for
# (its default is Llama's names, which fail on these): OPT, the paper's main model, as in Xiao et al. 2023 and
# llm-compressor's own Whisper mapping (same layer names); GPT-2 (Conv1D already turned into Linear). And Gemma 2 and 3,
# whose mapping there is wrong: llm-compressor maps them to Llama's pairs, which smooth post_attention_layernorm into
# gate_proj/up_proj, but on Gemma that norm ends the attention branch (before the residual add) and the MLP's input is
# pre_feedforward_layernorm; smoothed that way, Gemma 3 270M scored LAMA T-REx P@1 0.000 (as distributed: 0.284).
# (Gemma's norms multiply by 1 + weight; oneshot() turns them into plain norms while it smooths, so dividing their
# weight is right.)
SMOOTHQUANT_MAPPINGS = {
    "opt": [[["re:.*q_proj", "re:.*k_proj", "re:.*v_proj"], "re:.*self_attn_layer_norm"],
            [["re:.*fc1"], r"re:.*layers\.\d+\.final_layer_norm"]],  # not the decoder's last norm
    "gpt2": [[["re:.*c_attn"], "re:.*ln_1"], [["re:.*c_fc"], "re:.*ln_2"]],
    "gemma": [[["re:.*q_proj", "re:.*k_proj", "re:.*v_proj"], "re:.*input_layernorm"],
              [["re:.*gate_proj", "re:.*up_proj"], "re:.*pre_feedforward_layernorm"]],
}


def smoothquant_mappings(targets: list[str], modules: Iterable[str] = ()) -> list | None:
    """Our mapping for the layer names of ``targets`` (and the names of every module of the model, ``modules``), or
    None to let llm-compressor pick by architecture."""
    ends = {t.rsplit(".", 1)[-1] for t in targets}
    if {"q_proj", "fc1"} <= ends:
        return SMOOTHQUANT_MAPPINGS["opt"]
    if "c_attn" in ends:
        return SMOOTHQUANT_MAPPINGS["gpt2"]
    if any(name.endswith(".pre_feedforward_layernorm") for name in modules):
        return SMOOTHQUANT_MAPPINGS["gemma"]
    return None


def smoothquant_recipe(step, model):
    def make(targets: list[str]):
        from llmcompressor.modifiers.quantization import QuantizationModifier
        from llmcompressor.modifiers.transform.smoothquant import SmoothQuantModifier

        names = [n for n, _ in model.named_modules()]
        return [SmoothQuantModifier(smoothing_strength=step.smoothing_strength, mappings=smoothquant_mappings(targets, names)),
                QuantizationModifier(targets=targets, scheme="W8A8")]
    return make


def fp8_recipe(step):
    def make(targets: list[str]):
        from llmcompressor.modifiers.quantization import QuantizationModifier

        return [QuantizationModifier(targets=targets, scheme="FP8_DYNAMIC")]
    return make


def run_oneshot(ctx: StepContext, modules: dict, step, make_recipe) -> None:
    """Apply one llm-compressor recipe to the modules of the step's scope, in place."""
    from . import registry

    _require()
    method = registry.method_of(step)
    model = ctx.model
    if not getattr(getattr(model, "config", None), "_name_or_path", ""):
        raise UnsupportedScheme(f"{method.key}: llm-compressor re-reads the model's config from the folder it was "
                                "loaded from; load the model from a folder or a hub id")
    if ctx.tokenizer is None:
        raise UnsupportedScheme(f"{method.key}: llm-compressor needs the model's tokenizer")
    from .quantize import conv1d_to_linear

    modules = conv1d_to_linear(model, modules)  # GPT-2's Conv1D: llm-compressor targets Linear layers
    import torch
    from llmcompressor import oneshot

    _quiet()
    kw = {}
    if method.calibration:
        cal = ctx.calibration
        if cal is None:
            raise UnsupportedScheme(f"{method.key} needs calibration data (--calibration)")
        kw = {"dataset": cal.dataset(), "num_calibration_samples": cal.info.samples,
              "max_seq_length": cal.info.seq_len, "shuffle_calibration_samples": False}
    torch.manual_seed(ctx.seed + ctx.index)
    oneshot(model=model, processor=ctx.tokenizer, recipe=make_recipe(list(modules)), **kw)
    if method.kind == "quantize":
        _weights_on_grid(model, modules)
        ctx.note(kernels="simulated")


def _weights_on_grid(model, modules: dict) -> None:
    """Put the quantize-dequantized weights in the weight tensors themselves.

    GPTQ/AWQ leave them there already; round-to-nearest (data-free) only fake-quantizes in the forward
    pass. Doing it here for every method (idempotent: a value on the grid stays put) makes the in-memory
    weights the ones evaluated and saved, so measurements (sparsity, distinct levels) see them."""
    from compressed_tensors.quantization.lifecycle.forward import fake_quantize

    for name in modules:
        mod = model.get_submodule(name)
        scheme = getattr(mod, "quantization_scheme", None)
        scale = getattr(mod, "weight_scale", None)
        if scheme is None or scheme.weights is None or scale is None:
            continue
        zp = getattr(mod, "weight_zero_point", None)
        mod.weight.data.copy_(fake_quantize(mod.weight.data, scale, zp, scheme.weights))
