"""Stable keys and human labels for compression pipelines (used by the store and the site)."""

from __future__ import annotations

from .schema import Step


def step_notation(step: Step) -> str:
    """The step as ``--compress`` text (its calibration set is given by --calibration flags)."""
    fields = step.model_dump(exclude_none=True, exclude={"calibration"})
    method = fields.pop("method")
    return f"{method}:" + ",".join(f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in fields.items())


def step_key(step: Step) -> str:
    """'prune:l1:global', 'prune:n:m:local', 'quantize:bnb-nf4'."""
    if step.method == "prune":
        return f"prune:{step.criterion}:{step.granularity}"
    return f"quantize:{step.scheme}"


def method_key(steps: list[Step]) -> str:
    """One key per pipeline shape, independent of scope and sparsity; 'baseline' for no steps."""
    return "+".join(step_key(s) for s in steps) or "baseline"


def step_label(step: Step) -> str:
    from .compress import registry

    own = registry.method_of(step).label
    if own is not None:
        return own(step)
    if step.method == "prune":
        extra = ""
        if getattr(step, "n", None) is not None:
            extra = f" {step.n}:{step.m}"
        elif step.criterion == "ln-structured":
            extra = f" L{step.norm} {step.dim}"
        elif step.criterion == "random-structured":
            extra = f" {step.dim}"
        crit = {"l1": "magnitude (L1)", "n:m": "N:M", "sparsegpt": "SparseGPT", "wanda": "Wanda"}.get(
            step.criterion, step.criterion)
        return f"{step.granularity} {crit}{extra} pruning {step.sparsity:.0%} of {step.scope}"
    if getattr(step, "bits", None) is not None:
        grid = f"groups of {step.group_size}" if step.granularity == "per_group" else "per row"
        sym = "asymmetric" if step.asymmetric else "symmetric"
        name = {"gptq": "GPTQ", "rtn": "RTN", "awq": "AWQ"}.get(step.scheme, step.scheme)
        return f"{name} {step.bits}-bit ({grid}, {sym}) quantization of {step.scope}"
    return f"{step.scheme} quantization of {step.scope}"


def pipeline_label(steps: list[Step]) -> str:
    return " → ".join(step_label(s) for s in steps) or "uncompressed baseline"


def as_distributed_label(held: list[Step]) -> str:
    """A checkpoint that arrived compressed, run as it is: 'as distributed (GGUF Q4_1 quantization of all)'."""
    return f"as distributed ({pipeline_label(held)})"


def pipeline_scope(steps: list[Step]) -> str | None:
    scopes = {s.scope for s in steps}
    return None if not scopes else scopes.pop() if len(scopes) == 1 else "mixed"


def pipeline_sparsity(steps: list[Step]) -> float | None:
    """Requested sparsity when the pipeline has exactly one pruning step."""
    prunes = [s for s in steps if s.method == "prune"]
    return prunes[0].sparsity if len(prunes) == 1 else None


def pipeline_scheme(steps: list[Step]) -> str | None:
    schemes = [s.scheme for s in steps if s.method == "quantize"]
    return schemes[0] if len(schemes) == 1 else None
