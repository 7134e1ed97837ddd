"""Checkpoints that arrive compressed: read what was done to them from their config, as run-file steps.

A folder saved by llm-compressor (``save_pretrained(..., save_compressed=True)``) carries a
compressed-tensors ``quantization_config`` (the weight grid) and ``recipe.yaml`` (which modifier made
it: GPTQ, round to nearest, AWQ, SparseGPT, ...). AutoGPTQ/AutoAWQ and bitsandbytes checkpoints name
their method in ``quant_method``. The steps read here are recorded in the run file as steps the
checkpoint already had (``model.lineage.steps_in_checkpoint``); the runner does not apply them again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from .llmc import pattern_of
from .spec import StepModel


class CheckpointError(ValueError):
    """The checkpoint says it is compressed but not in a way the run file can state; the message says what was found."""


# --- the formats, typed -------------------------------------------------------------------------------------------
# Each ``quantization_config`` flavour and the llm-compressor recipe fields read here, as strict models: a field read
# has exactly its type (``bits: 4.9`` is no integer, ``"false"`` no boolean, ``true`` no number); fields not read are
# left alone (the libraries write many).

StrictBool = Annotated[bool, Strict()]
Bits = Annotated[int, Strict(), Field(ge=1, le=16)]
GroupSize = Annotated[int, Strict(), Field(ge=1, le=1 << 20)]


class _Format(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True, allow_inf_nan=False, frozen=True)


def _group(value: int | None) -> int | None:
    """AutoGPTQ/AutoAWQ write ``-1`` for one group per row; any other non-positive size is no size."""
    if value is None or value == -1:
        return None
    if value < 1:
        raise ValueError("-1 (per row) or a positive group size")
    return value


RowOrGroup = Annotated[int, Strict(), Field(ge=-(1 << 20), le=1 << 20)] | None


class GptqConfig(_Format):
    quant_method: Literal["gptq"]
    bits: Bits
    group_size: RowOrGroup = None  # absent: one group per row, as -1
    sym: StrictBool = True

    @field_validator("group_size")
    @classmethod
    def _size(cls, v):
        return _group(v)


class AwqConfig(_Format):
    quant_method: Literal["awq"]
    bits: Bits | None = None
    w_bit: Bits | None = None  # AutoAWQ's older name
    group_size: RowOrGroup = None
    q_group_size: RowOrGroup = None
    zero_point: StrictBool = True

    @field_validator("group_size", "q_group_size")
    @classmethod
    def _size(cls, v):
        return _group(v)

    @model_validator(mode="after")
    def _one_bits(self):
        if self.bits is None and self.w_bit is None:
            raise ValueError("bits: missing (neither bits nor w_bit)")
        if None not in (self.bits, self.w_bit) and self.bits != self.w_bit:
            raise ValueError(f"bits: {self.bits} but w_bit: {self.w_bit}")
        if None not in (self.group_size, self.q_group_size) and self.group_size != self.q_group_size:
            raise ValueError(f"group_size: {self.group_size} but q_group_size: {self.q_group_size}")
        return self

    @property
    def n_bits(self) -> int:
        return self.bits if self.bits is not None else self.w_bit

    @property
    def size(self) -> int | None:
        return self.group_size if self.group_size is not None else self.q_group_size


class BnbConfig(_Format):
    quant_method: Literal["bitsandbytes"]
    load_in_8bit: StrictBool = False
    load_in_4bit: StrictBool = False
    bnb_4bit_quant_type: Literal["fp4", "nf4"] = "fp4"

    @model_validator(mode="after")
    def _one_mode(self):
        if self.load_in_8bit and self.load_in_4bit:
            raise ValueError("load_in_8bit and load_in_4bit are both true")
        if not (self.load_in_8bit or self.load_in_4bit):
            raise ValueError("loads neither 8- nor 4-bit (load_in_8bit and load_in_4bit are false)")
        return self


class CtWeights(_Format):
    num_bits: Bits
    type: Literal["int", "float"] = "int"
    symmetric: StrictBool = True
    strategy: Annotated[str, Strict(), StringConstraints(max_length=50)] | None = None
    group_size: GroupSize | None = None


class CtGroup(_Format):
    targets: Annotated[list[Annotated[str, Strict(), StringConstraints(max_length=500)]], Field(max_length=1000)] = []
    weights: CtWeights | None = None
    input_activations: dict | None = None


class CompressedTensorsConfig(_Format):
    quant_method: Literal["compressed-tensors"]
    config_groups: Annotated[dict[str, CtGroup], Field(max_length=100)] | None = None
    ignore: Annotated[list[Annotated[str, Strict(), StringConstraints(max_length=500)]], Field(max_length=100_000)] | None = None


# one registry: quant_method -> the model of its config
QUANT_CONFIGS: dict[str, type[_Format]] = {"gptq": GptqConfig, "awq": AwqConfig, "bitsandbytes": BnbConfig,
                                           "compressed-tensors": CompressedTensorsConfig}

Fraction = Annotated[float, Strict(), Field(ge=0.0, le=1.0)]


class PruneModifier(_Format):
    """SparseGPTModifier / WandaPruningModifier as the recipe states them (only what a step records)."""

    sparsity: Fraction | None = None
    mask_structure: Annotated[str, Strict(), StringConstraints(max_length=20)] = "0:0"


class SmoothQuantModifier(_Format):
    smoothing_strength: Fraction = 0.8


class AnyModifier(_Format):
    """A modifier whose presence alone says what was done (GPTQ, AWQ, round to nearest)."""


# one registry: recipe modifier -> the model of the fields read from it (other modifiers are not read)
RECIPE_MODIFIERS: dict[str, type[_Format]] = {"SparseGPTModifier": PruneModifier, "WandaPruningModifier": PruneModifier,
                                              "SmoothQuantModifier": SmoothQuantModifier, "GPTQModifier": AnyModifier,
                                              "AWQModifier": AnyModifier, "QuantizationModifier": AnyModifier}


def errors_line(e: ValidationError, prefix: str = "") -> str:
    """A pydantic error as one line: ``field.sub: message (got value)``; several joined by '; '."""
    msgs = []
    for err in e.errors(include_url=False):
        loc = ".".join(str(x) for x in err["loc"] if not str(x).startswith(("function-", "constrained-")))
        loc = ".".join(x for x in (prefix, loc) if x)
        value = err.get("input")
        shown = f" (got {value!r})" if isinstance(value, str | int | float | bool) and len(repr(value)) < 80 else ""
        msgs.append(f"{loc or 'value'}: {err['msg'].removeprefix('Value error, ')}{shown}")
    return "; ".join(msgs[:3]) + (f"; and {len(msgs) - 3} more" if len(msgs) > 3 else "")


def quant_config(qc: dict, where: str) -> _Format:
    """The typed ``quantization_config``; a wrong type or value is a CheckpointError naming file and field."""
    method = qc.get("quant_method")
    model = QUANT_CONFIGS.get(method) if isinstance(method, str) else None
    if model is None:
        raise CheckpointError(f"{where}: quantization_config.quant_method {method!r}: not a method the run file can "
                              f"state (known: {', '.join(QUANT_CONFIGS)})")
    try:
        return model.model_validate(qc)
    except ValidationError as e:
        raise CheckpointError(f"{where}: {errors_line(e, 'quantization_config')}") from None


def _dict(qc) -> dict:
    if qc is None:
        return {}
    if isinstance(qc, dict):
        return qc
    return qc.to_dict() if hasattr(qc, "to_dict") else dict(vars(qc))


def _grid(weights: CtWeights | None) -> dict:
    if weights is None:
        raise CheckpointError("quantization_config has no weights in its config group")
    strategy = weights.strategy
    if weights.type != "int" or strategy not in ("group", "channel"):
        raise CheckpointError(f"weights quantized as {weights.type} / {strategy}: not an integer per-row or "
                              "per-group grid")
    out = {"bits": weights.num_bits, "asymmetric": not weights.symmetric}
    if strategy == "group":
        if weights.group_size is None:
            raise CheckpointError("weights quantized in groups, but group_size is missing")
        out.update(granularity="per_group", group_size=weights.group_size)
    else:
        out["granularity"] = "per_row"
    return out


def _scope(targets: list[str], ignore: list[str], body: set[str]) -> str:
    if set(targets) == body or (targets == ["Linear"] and set(ignore) <= {"lm_head", "re:.*lm_head"}):
        return "all"
    raise CheckpointError(f"quantized layers {targets[:3]}… are not one of the named scopes; the run file cannot state them")


def _recipe_modifiers(folder: Path | None) -> dict[str, _Format]:
    """The recipe's modifiers that are read, typed; through the one bounded reader and the bounded YAML loader
    (an alias bomb is refused before it is built)."""
    if folder is None or not (folder / "recipe.yaml").exists():
        return {}
    from ..yamlsafe import DataLoader, YamlError, load_file

    path = folder / "recipe.yaml"
    try:
        recipe = load_file(path, kind="recipe.yaml", loader_cls=DataLoader) or {}
    except YamlError as e:
        raise CheckpointError(str(e)) from None
    out: dict[str, _Format] = {}
    if not isinstance(recipe, dict):
        raise CheckpointError(f"{path}: a recipe is a mapping of stages")
    for stage_name, stage in recipe.items():
        for group_name, group in (stage or {}).items() if isinstance(stage, dict) else []:
            if not isinstance(group, dict):
                continue
            for name, args in group.items():
                model = RECIPE_MODIFIERS.get(name) if isinstance(name, str) else None
                if model is None:
                    continue
                if name in out:
                    raise CheckpointError(f"{path}: {name} appears twice; a run file states each step once")
                try:
                    out[name] = model.model_validate(args if args is not None else {})
                except ValidationError as e:
                    raise CheckpointError(f"{path}: {errors_line(e, f'{stage_name}.{group_name}.{name}')}") from None
    return out


def _step(where: str, **fields):
    from ..schema import make_step

    try:
        return make_step(**fields)
    except ValidationError as e:
        raise CheckpointError(f"{where}: as a run-file step: {errors_line(e)}") from None


def steps_from_config(config, folder: Path | None, body: set[str]) -> tuple[list[StepModel], str | None]:
    """(steps, relation) the checkpoint already has; ([], None) for an uncompressed one.

    ``body`` are the names of the layers of scope 'all' (from the model's skeleton)."""
    where = str(folder / "config.json") if folder is not None else "config.json"
    qc = _dict(getattr(config, "quantization_config", None))
    if not isinstance(qc, dict):
        raise CheckpointError(f"{where}: quantization_config: a mapping")
    mods = _recipe_modifiers(folder)
    recipe = str(folder / "recipe.yaml") if folder is not None else "recipe.yaml"
    steps: list = []
    for name in ("SparseGPTModifier", "WandaPruningModifier"):
        if name in mods:
            m = mods[name]
            crit = "sparsegpt" if name.startswith("Sparse") else "wanda"
            fields = {"method": "prune", "criterion": crit, "scope": "all", "granularity": "local"}
            try:  # llm-compressor's 'N:M' prunes N of every M; the step keeps n = M - N of them
                pattern = pattern_of(m.mask_structure)
            except ValueError as e:
                raise CheckpointError(f"{recipe}: {name}.mask_structure: {e}") from None
            if pattern is not None:
                fields.update(n=pattern[0], m=pattern[1])
            elif m.sparsity is None:
                raise CheckpointError(f"{recipe}: {name}.sparsity: missing (and no N:M mask_structure)")
            else:
                fields["sparsity"] = m.sparsity
            steps.append(_step(f"{recipe}: {name}", **fields))
    if not qc:
        return steps, ("pruned" if steps else None)
    cfg = quant_config(qc, where)
    if isinstance(cfg, CompressedTensorsConfig):
        groups = cfg.config_groups or {}
        if len(groups) != 1:
            raise CheckpointError(f"quantization_config has {len(groups)} config groups; one is needed to state it as a step")
        (group,) = groups.values()
        weights, acts = group.weights, group.input_activations
        scope = _scope(group.targets, cfg.ignore or [], body)
        if "GPTQModifier" in mods or "AWQModifier" in mods:
            scheme = "gptq" if "GPTQModifier" in mods else "awq"
            steps.append(_step(where, method="quantize", scheme=scheme, scope=scope, **_grid(weights)))
        elif "SmoothQuantModifier" in mods:
            steps.append(_step(where, method="quantize", scheme="smoothquant", scope=scope,
                               smoothing_strength=mods["SmoothQuantModifier"].smoothing_strength))
        elif "QuantizationModifier" in mods and weights is not None and weights.type == "float" and acts:
            steps.append(_step(where, method="quantize", scheme="fp8", scope=scope))
        elif "QuantizationModifier" in mods and not acts:
            steps.append(_step(where, method="quantize", scheme="rtn", scope=scope, **_grid(weights)))
        else:
            w = weights or CtWeights(num_bits=1)
            raise CheckpointError("quantization_config (compressed-tensors) without a recipe.yaml naming the method "
                                  f"({w.num_bits}-bit {w.type}, {w.strategy}): cannot tell GPTQ from round to nearest")
    elif isinstance(cfg, GptqConfig | AwqConfig):
        if isinstance(cfg, GptqConfig):
            bits, group, asym = cfg.bits, cfg.group_size, not cfg.sym
        else:
            bits, group, asym = cfg.n_bits, cfg.size, cfg.zero_point
        grid = {"granularity": "per_group", "group_size": group} if group is not None else {"granularity": "per_row"}
        steps.append(_step(where, method="quantize", scheme=cfg.quant_method, scope="all", bits=bits, asymmetric=asym,
                           **grid))
    elif isinstance(cfg, BnbConfig):
        scheme = "bnb-int8" if cfg.load_in_8bit else f"bnb-{cfg.bnb_4bit_quant_type}"
        steps.append(_step(where, method="quantize", scheme=scheme, scope="all"))
    return steps, "quantized"


def checkpoint_bytes(folder: Path) -> int:
    """Bytes of the weight files of a local checkpoint as stored."""
    return sum(p.stat().st_size for p in folder.glob("*.safetensors")) or sum(p.stat().st_size for p in folder.glob("*.bin"))
