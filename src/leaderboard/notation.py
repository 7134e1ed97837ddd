"""Step notation, parsed and printed without torch: ``prune:criterion=l1,sparsity=0.5`` <-> a step object.

What ``--compress`` takes, what sweeps and the reported-results importer read, and what recorded commands hold
(printed by ``step_notation``). The steps' models come from the method registry, which loads no tensor
library, so importing this module is cheap (the runner re-exports these names).

Only flat scalar parameters can be written this way; the registry refuses a method whose parameters cannot
(``compress.spec.notation_problem``). A value is read as the field's type: text for a text-only field (so
``scope=1`` or ``scope=true`` stays the scope it names), else true/false, an integer or a number.
"""

from __future__ import annotations

import re
from functools import cache
from typing import TYPE_CHECKING

from pydantic import TypeAdapter, ValidationError

from .compress import registry as methods
from .compress.spec import text_only_fields

if TYPE_CHECKING:
    from .schema import Step


@cache
def step_adapter() -> TypeAdapter:
    """Validates a step (the schema's ``Step``: every registered method's model), built on first use: the registry
    reads this module's ``_scalar`` while it registers methods."""
    return TypeAdapter(methods.step_types()[0])


class SpecError(ValueError):
    """A run spec that cannot run; the message names the field."""


_INT = re.compile(r"^-?[0-9]+$")
_FLOAT = re.compile(r"^-?([0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)([eE][-+]?[0-9]+)?$")


def _scalar(text: str):
    """A step value as written: true/false, an integer, a decimal number, else the text. Strict: no ``_`` in numbers,
    no ``inf``/``nan`` (as Python's int() and float() would read them)."""
    if text in ("true", "false"):
        return text == "true"
    if _INT.match(text) and len(text) <= 30:
        return int(text)
    if _FLOAT.match(text) and len(text) <= 50:
        return float(text)
    return text


def parse_step(text: str) -> Step:
    """'prune:criterion=l1,sparsity=0.5,scope=attention' or 'quantize:scheme=bnb-nf4' -> a step.

    Defaults: scope=all; granularity=global for l1/random, local otherwise. A key given twice is an error (never
    the last one silently)."""
    method, _, rest = text.partition(":")
    raw: dict[str, str] = {"method": method.strip()}
    for part in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, value = part.partition("=")
        if not eq:
            raise SpecError(f"--compress {text!r}: {part!r} is not key=value")
        key = key.strip()
        if key in raw:
            what = "the method is named before ':'" if key == "method" else "each key once"
            raise SpecError(f"--compress {text!r}: {key!r} is given twice ({what})")
        raw[key] = value.strip()
    texts = _text_fields(raw)
    fields = {k: v if k == "method" or k in texts else _scalar(v) for k, v in raw.items()}
    return step_from_dict(fields, where=f"--compress {text!r}")


def _text_fields(raw: dict[str, str]) -> frozenset[str]:
    """The fields of the named method that take text only (empty when the method is unknown: validation says so)."""
    name = raw.get("criterion") if raw.get("method") == "prune" else raw.get("scheme")
    try:
        return text_only_fields(methods.get(raw.get("method", ""), name or "").params)
    except KeyError:
        return frozenset()


def step_notation(step: Step) -> str:
    """The step as ``--compress`` text, what parse_step reads back (its calibration set is given by --calibration
    flags). Fields in the method's order, None left out, booleans as true/false."""
    fields = step.model_dump(exclude_none=True, exclude={"calibration"})
    method = fields.pop("method")
    return f"{method}:" + ",".join(f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in fields.items())


step_text = step_notation  # the name the runner and sweeps have used


def step_from_dict(fields: dict, where: str) -> Step:
    fields = dict(fields)
    if fields.get("method") == "prune" and "granularity" not in fields:
        crit = fields.get("criterion")
        fields["granularity"] = "global" if crit in ("l1", "random") else "local"
    try:
        return step_adapter().validate_python(fields)
    except ValidationError as e:
        msgs = []
        for err in e.errors(include_url=False):
            tags = {fields.get("method"), fields.get("criterion"), fields.get("scheme")}
            loc = ".".join(str(x) for x in err["loc"] if x not in tags)
            msgs.append(f"{loc or 'step'}: {err['msg'].removeprefix('Value error, ')}")
        raise SpecError(f"{where}: " + "; ".join(msgs)) from None
