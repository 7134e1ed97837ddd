"""The method registry: every module under ``compress/methods/`` that declares ``METHODS``.

Adding a method = one module there (+ its tests). The run-file schema, the CLI's ``--compress``
parsing, sweeps, the validator and the site's method pages all read this registry; none of them
lists methods itself. Importing the registry loads no tensor library.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from typing import Annotated, Union

from pydantic import Field

from . import methods as _methods_pkg
from .spec import Method, MethodKey, notation_problem


@cache
def all_methods() -> tuple[Method, ...]:
    """Every registered method, pruning first, each kind in the order its modules declare ``ORDER``."""
    found: list[tuple[int, str, Method]] = []
    for info in pkgutil.iter_modules(_methods_pkg.__path__):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"{_methods_pkg.__name__}.{info.name}")
        order = getattr(mod, "ORDER", 1000)
        for i, m in enumerate(getattr(mod, "METHODS", ())):
            if not isinstance(m, Method):
                raise TypeError(f"{mod.__name__}.METHODS holds {type(m).__name__}, not Method")
            found.append((order * 100 + i, info.name, m))
    found.sort(key=lambda t: (t[2].kind != "prune", t[0], t[1]))
    out = tuple(m for *_, m in found)
    keys = [m.key for m in out]
    dupes = sorted({k for k in keys if keys.count(k) > 1})
    if dupes:
        raise RuntimeError(f"compression methods declared twice: {', '.join(dupes)}")
    for m in out:
        field = "criterion" if m.kind == "prune" else "scheme"
        ann = m.params.model_fields[field].annotation
        if getattr(ann, "__args__", None) != (m.name,):
            raise RuntimeError(f"{m.params.__name__}.{field} must be Literal[{m.name!r}]")
        if "+" in m.name:
            raise RuntimeError(f"{m.key}: a method name cannot contain '+' (it joins the steps of a pipeline's key)")
        problem = notation_problem(m.params)
        if problem:
            raise RuntimeError(f"{m.key} cannot be registered: {problem}. Its steps would validate in a run file but "
                               "their recorded --compress command could not be read back")
    return out


def of_kind(kind: str) -> tuple[Method, ...]:
    return tuple(m for m in all_methods() if m.kind == kind)


def names(kind: str) -> tuple[str, ...]:
    return tuple(m.name for m in of_kind(kind))


def get(kind: str, name: str) -> Method:
    for m in all_methods():
        if m.kind == kind and m.name == name:
            return m
    raise KeyError(f"no {kind} method {name!r}")


def method_of(step) -> Method:
    """The registry entry of a validated step."""
    return get(step.method, step.criterion if step.method == "prune" else step.scheme)


def step_key(step) -> MethodKey:
    """The structured key of a validated step ('prune:l1:global' when written)."""
    return method_of(step).step_key(step)


def _granularities(m: Method) -> tuple[str | None, ...]:
    if m.kind != "prune":
        return (None,)
    return ("local",) if m.params.local_only else ("global", "local")


@cache
def _keys() -> dict[str, MethodKey]:
    return {str(k): k for m in all_methods() for k in (MethodKey(m.kind, m.name, g) for g in _granularities(m))}


def parse_key(text: str) -> tuple[MethodKey | str, ...]:
    """A pipeline key as the store writes it ('prune:n:m:local+quantize:bnb-nf4') -> its steps' keys, each read
    through the registry (a part no registered method writes stays text; 'baseline' -> ())."""
    if text == "baseline":
        return ()
    return tuple(_keys().get(part, part) for part in text.split("+"))


def key_name(key: MethodKey) -> str:
    """'global magnitude (L1) pruning', 'bitsandbytes NF4 quantization' (the method's own names)."""
    return get(key.kind, key.name).key_name(key)


def heatmap_keys() -> list[str]:
    """One-step method keys the model pages' per-relation heatmap shows (each method's ``heatmap``)."""
    out = []
    for m in all_methods():
        shown = m.heatmap if m.heatmap is not None else m.kind == "quantize"
        if shown:
            out.append(str(MethodKey(m.kind, m.name, shown if m.kind == "prune" else None)))
    return out


def seed_matters(steps) -> bool:
    """Whether any step's outcome depends on the run's seed (its method is declared ``seeded``)."""
    return any(method_of(s).seeded for s in steps)


@cache
def step_types():
    """(Step, PruneStep, QuantizeStep): discriminated unions of every method's step model."""
    prune = tuple(m.params for m in of_kind("prune"))
    quant = tuple(m.params for m in of_kind("quantize"))
    prune_t = Annotated[Union[prune], Field(discriminator="criterion")]  # noqa: UP007
    quant_t = Annotated[Union[quant], Field(discriminator="scheme")]  # noqa: UP007
    step_t = Annotated[Union[prune_t, quant_t], Field(discriminator="method")]  # noqa: UP007
    return step_t, prune_t, quant_t


COMMON_FIELDS = ("method", "criterion", "scheme")


def fields_of(method: Method) -> list[dict]:
    """The step fields a method takes beyond method/criterion/scheme: name, type (JSON Schema), default, description."""
    props = method.params.model_json_schema(mode="validation")
    out = []
    for name, f in method.params.model_fields.items():
        if name in COMMON_FIELDS:
            continue
        js = props.get("properties", {}).get(name, {})
        out.append({"name": name, "required": f.is_required(), "default": None if f.is_required() else f.default,
                    "type": _type_text(js, props), "description": f.description or js.get("description", "")})
    return out


def _type_text(js: dict, root: dict) -> str:
    if "$ref" in js:
        return js["$ref"].rsplit("/", 1)[-1]
    if "anyOf" in js:
        parts = [_type_text(p, root) for p in js["anyOf"] if p.get("type") != "null"]
        return " | ".join(parts)
    if "enum" in js:
        return " | ".join(map(str, js["enum"]))
    if "const" in js:
        return str(js["const"])
    signs = {"minimum": "≥", "exclusiveMinimum": ">", "maximum": "≤", "exclusiveMaximum": "<"}
    bounds = [f"{signs[k]} {js[k]}" for k in signs if k in js]  # lower bound first
    t = js.get("type", "any")
    return f"{t} ({', '.join(bounds)})" if bounds else t
