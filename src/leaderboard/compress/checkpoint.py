"""Checkpoints that arrive compressed: read what was done to them from their config, as run-file steps.

A folder saved by llm-compressor (``save_pretrained(..., save_compressed=True)``) carries a
compressed-tensors ``quantization_config`` (the weight grid) and ``recipe.yaml`` (which modifier made
it: GPTQ, round to nearest, AWQ, SparseGPT, ...). AutoGPTQ/AutoAWQ and bitsandbytes checkpoints name
their method in ``quant_method``. The steps read here are recorded in the run file as steps the
checkpoint already had (``model.lineage.steps_in_checkpoint``); the runner does not apply them again.
"""

from __future__ import annotations

from pathlib import Path

from .llmc import pattern_of
from .spec import StepModel


class CheckpointError(ValueError):
    """The checkpoint says it is compressed but not in a way the run file can state; the message says what was found."""


def _dict(qc) -> dict:
    if qc is None:
        return {}
    if isinstance(qc, dict):
        return qc
    return qc.to_dict() if hasattr(qc, "to_dict") else dict(vars(qc))


def _grid(weights: dict) -> dict:
    strategy = weights.get("strategy")
    if weights.get("type", "int") != "int" or strategy not in ("group", "channel"):
        raise CheckpointError(f"weights quantized as {weights.get('type')} / {strategy}: not an integer per-row or "
                              "per-group grid")
    out = {"bits": int(weights["num_bits"]), "asymmetric": not weights.get("symmetric", True)}
    if strategy == "group":
        out.update(granularity="per_group", group_size=int(weights["group_size"]))
    else:
        out["granularity"] = "per_row"
    return out


def _scope(targets: list[str], ignore: list[str], body: set[str]) -> str:
    if set(targets) == body or (targets == ["Linear"] and set(ignore) <= {"lm_head", "re:.*lm_head"}):
        return "all"
    raise CheckpointError(f"quantized layers {targets[:3]}… are not one of the named scopes; the run file cannot state them")


def _recipe_modifiers(folder: Path | None) -> dict[str, dict]:
    if folder is None or not (folder / "recipe.yaml").is_file():
        return {}
    import yaml

    class _Data(yaml.SafeLoader):
        """Safe YAML; the python/object tags llm-compressor writes (enums) are read as nothing, never built."""

    _Data.add_multi_constructor("tag:yaml.org,2002:python/", lambda loader, suffix, node: None)
    try:
        recipe = yaml.load((folder / "recipe.yaml").read_text(encoding="utf-8"), Loader=_Data) or {}  # noqa: S506
    except (OSError, yaml.YAMLError) as e:
        raise CheckpointError(f"recipe.yaml: cannot read: {e}") from None
    out: dict[str, dict] = {}
    for stage in recipe.values() if isinstance(recipe, dict) else []:
        for group in (stage or {}).values() if isinstance(stage, dict) else []:
            if isinstance(group, dict):
                out.update({k: v or {} for k, v in group.items() if isinstance(v, dict) or v is None})
    return out


def steps_from_config(config, folder: Path | None, body: set[str]) -> tuple[list[StepModel], str | None]:
    """(steps, relation) the checkpoint already has; ([], None) for an uncompressed one.

    ``body`` are the names of the layers of scope 'all' (from the model's skeleton)."""
    from ..schema import make_step

    qc = _dict(getattr(config, "quantization_config", None))
    mods = _recipe_modifiers(folder)
    steps: list = []
    for name in ("SparseGPTModifier", "WandaPruningModifier"):
        if name in mods:
            m = mods[name]
            crit = "sparsegpt" if name.startswith("Sparse") else "wanda"
            fields = {"method": "prune", "criterion": crit, "scope": "all", "granularity": "local"}
            try:  # llm-compressor's 'N:M' prunes N of every M; the step keeps n = M - N of them
                pattern = pattern_of(str(m.get("mask_structure", "0:0")))
            except ValueError as e:
                raise CheckpointError(f"recipe.yaml: {name}: {e}") from None
            if pattern is not None:
                fields.update(n=pattern[0], m=pattern[1])
            else:
                fields["sparsity"] = float(m["sparsity"])
            steps.append(make_step(**fields))
    method = qc.get("quant_method")
    if not qc:
        return steps, ("pruned" if steps else None)
    if method == "compressed-tensors":
        groups = qc.get("config_groups") or {}
        if len(groups) != 1:
            raise CheckpointError(f"quantization_config has {len(groups)} config groups; one is needed to state it as a step")
        (group,) = groups.values()
        weights, acts = group.get("weights") or {}, group.get("input_activations")
        scope = _scope(group.get("targets") or [], qc.get("ignore") or [], body)
        if "GPTQModifier" in mods or "AWQModifier" in mods:
            scheme = "gptq" if "GPTQModifier" in mods else "awq"
            steps.append(make_step(method="quantize", scheme=scheme, scope=scope, **_grid(weights)))
        elif "SmoothQuantModifier" in mods:
            steps.append(make_step(method="quantize", scheme="smoothquant", scope=scope,
                                   smoothing_strength=float(mods["SmoothQuantModifier"].get("smoothing_strength", 0.8))))
        elif "QuantizationModifier" in mods and weights.get("type") == "float" and acts:
            steps.append(make_step(method="quantize", scheme="fp8", scope=scope))
        elif "QuantizationModifier" in mods and not acts:
            steps.append(make_step(method="quantize", scheme="rtn", scope=scope, **_grid(weights)))
        else:
            raise CheckpointError("quantization_config (compressed-tensors) without a recipe.yaml naming the method "
                                  f"({weights.get('num_bits')}-bit {weights.get('type')}, {weights.get('strategy')}): "
                                  "cannot tell GPTQ from round to nearest")
    elif method in ("gptq", "awq"):
        bits = int(qc.get("bits") or qc.get("w_bit"))
        group = int(qc.get("group_size") or qc.get("q_group_size") or -1)
        asym = (not qc.get("sym", True)) if method == "gptq" else bool(qc.get("zero_point", True))
        grid = {"granularity": "per_group", "group_size": group} if group > 0 else {"granularity": "per_row"}
        steps.append(make_step(method="quantize", scheme=method, scope="all", bits=bits, asymmetric=asym, **grid))
    elif method == "bitsandbytes":
        if qc.get("load_in_8bit"):
            scheme = "bnb-int8"
        elif qc.get("load_in_4bit"):
            scheme = f"bnb-{qc.get('bnb_4bit_quant_type', 'fp4')}"
        else:
            raise CheckpointError("bitsandbytes quantization_config loads neither 8- nor 4-bit")
        steps.append(make_step(method="quantize", scheme=scheme, scope="all"))
    else:
        raise CheckpointError(f"quantization_config with quant_method {method!r}: not a method the run file can state")
    return steps, "quantized"


def checkpoint_bytes(folder: Path) -> int:
    """Bytes of the weight files of a local checkpoint as stored."""
    return sum(p.stat().st_size for p in folder.glob("*.safetensors")) or sum(p.stat().st_size for p in folder.glob("*.bin"))
