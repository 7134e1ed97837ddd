"""What a compression method declares: its step model (the run-file notation) and its capabilities.

This module is the bottom of the method registry and imports no tensor library: the run-file
schema (``schema.py``) builds its step union from the method modules, and validating a run file
must not load torch. How a method *runs* lives behind ``Method.run`` (imported when called).

A method module under ``compress/methods/`` defines one pydantic model per method (a subclass of
``PruneParams`` or ``QuantizeParams``; its fields are the step notation, in file order) and a
module-level ``METHODS`` tuple of ``Method`` entries. Nothing else needs editing to add one: every fact about
a method (its labels, whether its outcome depends on the seed, devices, families, how it is stored, whether the
model pages' heatmap shows it) is declared there, and registration refuses parameters the step notation cannot
write and read back.
"""

from __future__ import annotations

import types
import typing
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

    def label_detail(self) -> str:
        """What the step's label adds after the method's name (' 2:4', ' L2 rows')."""
        return ""

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

    def label_detail(self) -> str:
        return f" {self.n}:{self.m}" if self.n is not None else ""

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


# --- the step notation's limits ------------------------------------------------------------------
#
# The step notation (``leaderboard.notation``) writes a step as ``method:key=value,...``: only flat scalars
# round-trip. What each field's annotation admits decides whether it can be written and how its text is read.

_NOTATION_SPECIAL = ("calibration",)  # given by --calibration flags, never in the notation
_SCALARS = (str, int, float, bool, type(None))
_NOTATION_CHARS = frozenset(",=")


def _leaves(ann) -> list:
    """The leaf types and literal values a field annotation admits (Annotated/Optional/Union/Literal unwrapped)."""
    origin = typing.get_origin(ann)
    if origin is Annotated:
        return _leaves(typing.get_args(ann)[0])
    if origin in (typing.Union, types.UnionType):
        return [leaf for a in typing.get_args(ann) for leaf in _leaves(a)]
    if origin is Literal:
        return [("literal", v) for v in typing.get_args(ann)]
    return [ann]


def _kinds(ann) -> set[type]:
    return {type(leaf[1]) if isinstance(leaf, tuple) else leaf for leaf in _leaves(ann)} - {type(None)}


def notation_problem(params: type[BaseModel]) -> str | None:
    """Why steps of this model cannot be written in the step notation and read back (None: they can): every
    field a flat scalar (text, integer, number, boolean, or literals of them), never text and a number at once
    (``=1`` would be ambiguous), literal text free of ',' and '=' and not itself a number or boolean."""
    from ..notation import _scalar  # the notation's own reading of a value

    for name, f in params.model_fields.items():
        if name in _NOTATION_SPECIAL:
            continue
        for leaf in _leaves(f.annotation):
            if isinstance(leaf, tuple):
                v = leaf[1]
                if not isinstance(v, _SCALARS):
                    return f"{params.__name__}.{name}: literal {v!r} is not a scalar"
                if isinstance(v, str) and (_NOTATION_CHARS & set(v) or v != v.strip() or _scalar(v) != v):
                    return f"{params.__name__}.{name}: literal {v!r} would not read back as itself"
            elif leaf not in _SCALARS:
                what = getattr(leaf, "__name__", None) or str(leaf)
                return (f"{params.__name__}.{name}: a {what} value cannot be written as key=value in the step "
                        "notation (only text, integers, numbers and booleans can)")
        kinds = _kinds(f.annotation)
        if str in kinds and kinds - {str}:
            return f"{params.__name__}.{name}: takes text and numbers or booleans; '{name}=1' would be ambiguous"
    return None


def text_only_fields(params: type[BaseModel]) -> frozenset[str]:
    """Fields whose value is text whatever it looks like (``scope=1`` names a module '1', not the number 1)."""
    return frozenset(name for name, f in params.model_fields.items()
                     if name not in _NOTATION_SPECIAL and _kinds(f.annotation) == {str})


# --- the registry entry ------------------------------------------------------------------------


@dataclass(frozen=True)
class MethodKey:
    """One step's method as the store and the site group runs: kind, name and (pruning) granularity.

    Written ``prune:l1:global`` or ``quantize:bnb-nf4`` (``str``); read back through the registry
    (``registry.parse_key``), never by splitting at ':' (the method ``n:m`` contains it)."""

    kind: str
    name: str
    granularity: str | None = None

    def __str__(self) -> str:
        return f"{self.kind}:{self.name}" + (f":{self.granularity}" if self.granularity else "")


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
    seeded: bool = False  # its outcome depends on the run's seed (then a non-zero seed enters the run_id); a method
    #                       not declared seeded is given seed 0 whatever --seed says (pipeline.compress)
    label_name: str = ""  # its name inside a step's label ('magnitude (L1)'); default: its registry name
    short_title: str = ""  # its name in a pipeline's name on the site ('N:M'); default: its title before ' ('
    device_note: str = ""  # added when a run on a device it does not support is refused
    heatmap: bool | str | None = None  # its one-step runs of every layer in the model pages' per-relation heatmap:
    #                                    a pruning method names the granularity shown; None = yes for quantization
    synthetic: tuple[float, float] | None = None  # (bits per weight, knowledge kept) of made-up runs (synthetic.py)

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.name}"

    def step_key(self, step) -> MethodKey:
        return MethodKey(self.kind, self.name, step.granularity if self.kind == "prune" else None)

    def step_label(self, step) -> str:
        """A step's human label ('global magnitude (L1) pruning 50% of all', 'GPTQ 4-bit (per row, asymmetric)
        quantization of all'): the method's own ``label`` when it has one, else built from the generic fields."""
        if self.label is not None:
            return self.label(step)
        name = self.label_name or self.name
        if self.kind == "prune":
            return f"{step.granularity} {name}{step.label_detail()} pruning {step.sparsity:.0%} of {step.scope}"
        if isinstance(step, WeightGridParams):
            grid = f"groups of {step.group_size}" if step.granularity == "per_group" else "per row"
            sym = "asymmetric" if step.asymmetric else "symmetric"
            return f"{name} {step.bits}-bit ({grid}, {sym}) quantization of {step.scope}"
        return f"{name} quantization of {step.scope}"

    def key_name(self, key: MethodKey) -> str:
        """A pipeline shape's name on the site ('global magnitude (L1) pruning', 'bitsandbytes NF4 quantization')."""
        short = self.short_title or self.title.split(" (")[0]
        return f"{key.granularity} {short} pruning" if self.kind == "prune" else f"{short} quantization"

    def runner(self) -> RunFn:
        if self.run is None:
            raise LookupError(self.unavailable or f"{self.key} has no implementation in this runner")
        return self.run
