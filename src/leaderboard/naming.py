"""Stable keys and human labels for compression pipelines (used by the store and the site)."""

from __future__ import annotations

from .compress.spec import MethodKey
from .schema import Step


def step_key(step: Step) -> MethodKey:
    """The step's method as a structured key (written 'prune:l1:global', 'prune:n:m:local', 'quantize:bnb-nf4')."""
    from .compress import registry

    return registry.step_key(step)


def method_key(steps: list[Step]) -> str:
    """One key per pipeline shape, independent of scope and sparsity; 'baseline' for no steps (the store's column;
    ``compress.registry.parse_key`` reads it back)."""
    return "+".join(str(step_key(s)) for s in steps) or "baseline"


def step_label(step: Step) -> str:
    """The step's human label, as its method writes it."""
    from .compress import registry

    return registry.method_of(step).step_label(step)


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
