"""What a compression method declares: its step model (the run-file notation) and its capabilities.

This module is the bottom of the method registry and imports no tensor library: the run-file
schema (``schema.py``) builds its step union from the method modules, and validating a run file
must not load torch. How a method *runs* lives behind ``Method.run`` (imported when called).

A method module under ``compress/methods/`` defines one pydantic model per method (a subclass of
``PruneParams`` or ``QuantizeParams``; its fields are the step notation, in file order) and a
module-level ``METHODS`` tuple of ``Method`` entries. Nothing else needs editing to add one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from .. import registry

Scope = Annotated[str, StringConstraints(pattern=registry.SCOPE_GLOB_PATTERN)]
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
Families = frozenset[str]

ALL_FAMILIES: Families = frozenset(registry.FAMILIES)
DECODERS: Families = frozenset({"decoder"})


class StepModel(BaseModel):
    """A compression step as the run file writes it: strict, closed, immutable."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)


class Calibration(StepModel):
    """The calibration set a data-driven method saw: which text, how much of it, its hash."""

    name: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:+\-]{0,99}$")] = Field(
        description="'builtin:<name>' for text shipped with the runner, else the file name of the user's text.")
    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")] = Field(
        description="sha256 of the calibration text as read (UTF-8 bytes).")
    samples: Annotated[int, Field(ge=1, le=1_000_000)] = Field(description="Calibration sequences used.")
    seq_len: Annotated[int, Field(ge=1, le=1_000_000)] = Field(description="Tokens per calibration sequence.")


class PruneParams(StepModel):
    """Fields every pruning step has (``criterion`` names the method)."""

    method: Literal["prune"]
    criterion: str  # each method narrows it to Literal["<its name>"] (the field keeps this position)
    scope: Scope = "all"
    granularity: Literal["global", "local"]
    sparsity: Fraction = Field(description="Requested fraction of zeroed weights in the scope.")

    local_only: ClassVar[bool] = True  # ranks weights within each layer; 'global' makes no sense

    @model_validator(mode="after")
    def _local(self):
        if self.local_only and self.granularity != "local":
            raise ValueError(f"criterion {self.criterion!r} ranks weights within each layer: granularity must be 'local'")
        return self


class NMParams(PruneParams):
    """A pruning method that also takes an N:M pattern (at most n non-zeros in every m weights).

    With n and m given, sparsity may be left out: it is 1 - n/m."""

    sparsity: Fraction | None = Field(
        default=None,  # filled from n:m in _derive_sparsity
        description="Requested fraction of zeroed weights in the scope (1 - n/m for an N:M pattern).")
    n: Annotated[int, Field(ge=1, le=64)] | None = Field(
        default=None, description="N:M pattern: at most n non-zeros in every m consecutive input weights.")
    m: Annotated[int, Field(ge=2, le=64)] | None = None

    nm_required: ClassVar[bool] = False

    @model_validator(mode="before")
    @classmethod
    def _derive_sparsity(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("sparsity") is None and isinstance(data.get("n"), int) \
                and isinstance(data.get("m"), int) and 0 < data["n"] < data["m"]:
            data = {**data, "sparsity": round(1 - data["n"] / data["m"], 12)}
        return data

    @model_validator(mode="after")
    def _pattern(self):
        if self.nm_required and (self.n is None or self.m is None):
            raise ValueError(f"criterion {self.criterion!r} needs both n and m")
        if (self.n is None) != (self.m is None):
            raise ValueError("an N:M pattern needs both n and m")
        if self.n is not None:
            if self.n >= self.m:
                raise ValueError("n must be smaller than m")
            if abs(self.sparsity - (1 - self.n / self.m)) > 1e-9:
                raise ValueError(f"sparsity of {self.n}:{self.m} must be {1 - self.n / self.m:g}")
        elif self.sparsity is None:
            raise ValueError("sparsity: Field required (or give an N:M pattern with n and m)")
        return self


SPARSITY_TOLERANCE = 0.005  # measured and requested sparsity of the pruned scope: at most half a percentage point apart


def sparsity_mismatch(steps: list, measured: dict[str, float]) -> tuple[str, str] | None:
    """(scope, message) when the measured sparsity of the pruned scope contradicts the requested one, else None.

    Compared only where the measurement is of exactly what one step pruned: a pipeline with one pruning
    step, whose scope was measured (the runner measures before any quantization step; prune-after-quantize
    is refused). With two pruning steps a scope's zeros come from both, so nothing is compared."""
    prunes = [(i, s) for i, s in enumerate(steps) if s.method == "prune"]
    if len(prunes) != 1:
        return None
    i, step = prunes[0]
    got = measured.get(step.scope)
    if got is None or abs(got - step.sparsity) <= SPARSITY_TOLERANCE:
        return None
    return step.scope, (f"step {i} ({step.criterion}) requested sparsity {step.sparsity:.4f} of scope {step.scope!r} "
                        f"but {got:.4f} was measured: more than {SPARSITY_TOLERANCE * 100:g} percentage point apart")


class QuantizeParams(StepModel):
    """Fields every quantization step has (``scheme`` names the method)."""

    method: Literal["quantize"]
    scheme: str  # each method narrows it to Literal["<its name>"]
    scope: Scope = "all"


Bits = Annotated[int, Field(ge=2, le=8)]
GroupSize = Annotated[int, Field(ge=8, le=1 << 16)]


class WeightGridParams(QuantizeParams):
    """Integer weight-only quantization on a min-max grid (GPTQ, RTN, AWQ): bits, granularity, symmetry."""

    bits: Bits = Field(description="Bits per stored weight (integer grid of 2^bits levels).")
    granularity: Literal["per_row", "per_group"] = Field(
        default="per_row", description="One grid per output row, or per group of group_size consecutive inputs of a row.")
    group_size: GroupSize | None = Field(default=None, description="per_group only: inputs sharing one grid.")
    asymmetric: bool = Field(default=True, description="Grid with a zero point (min-max) rather than symmetric around 0.")

    supported_bits: ClassVar[tuple[int, ...]] = (2, 3, 4, 8)

    @model_validator(mode="after")
    def _grid(self):
        if self.bits not in self.supported_bits:
            raise ValueError(f"scheme {self.scheme!r} supports bits {', '.join(map(str, self.supported_bits))}, not {self.bits}")
        if self.granularity == "per_group" and self.group_size is None:
            raise ValueError("granularity 'per_group' needs group_size")
        if self.granularity != "per_group" and self.group_size is not None:
            raise ValueError("group_size is for granularity 'per_group' only")
        return self


RunFn = Callable[..., Any]


@dataclass(frozen=True)
class Method:
    """One compression method, as the registry knows it.

    ``run(ctx: base.StepContext, modules: dict[str, nn.Module], step)`` compresses the modules of the
    step's scope in place; it imports its tensor libraries when called. None = vocabulary only
    (published results can name it; the runner refuses it, saying ``unavailable``)."""

    kind: Literal["prune", "quantize"]
    name: str  # the criterion or scheme
    params: type[StepModel]
    title: str
    summary: str
    families: Families = ALL_FAMILIES
    devices: frozenset[str] = frozenset({"cpu", "cuda"})
    calibration: bool = False
    run: RunFn | None = None
    check: Callable[[Any], str | None] | None = None  # why this step's parameters cannot run here (None: they can)
    label: Callable[[Any], str] | None = None  # a step's human label (default: built from the generic fields)
    library: str = "compression-leaderboard"
    reference: str = ""
    url: str = ""
    since: str = "1.0"  # run-file schema version that introduced the name
    simulated: bool = False  # evaluation runs on quantize-dequantize weights, not low-bit kernels
    unavailable: str = ""  # why the runner cannot run it (when run is None)
    example: str = ""  # a --compress example
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.name}"

    def runner(self) -> RunFn:
        if self.run is None:
            raise LookupError(self.unavailable or f"{self.key} has no implementation in this runner")
        return self.run
