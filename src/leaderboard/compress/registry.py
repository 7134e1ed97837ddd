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
from .spec import Method


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
