"""Step notation, parsed and printed without torch: ``prune:criterion=l1,sparsity=0.5`` <-> a step object.

What ``--compress`` takes, what sweeps and the reported-results importer read, and what recorded commands hold
(printed by ``naming.step_notation``). The steps' models come from the method registry, which loads no tensor
library, so importing this module is cheap (the runner re-exports these names).
"""

from __future__ import annotations

import re

from pydantic import TypeAdapter, ValidationError

from .naming import step_notation
from .schema import Step

_STEP = TypeAdapter(Step)


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
    fields: dict = {"method": method.strip()}
    for part in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, value = part.partition("=")
        if not eq:
            raise SpecError(f"--compress {text!r}: {part!r} is not key=value")
        key = key.strip()
        if key in fields:
            what = "the method is named before ':'" if key == "method" else "each key once"
            raise SpecError(f"--compress {text!r}: {key!r} is given twice ({what})")
        fields[key] = _scalar(value.strip())
    return step_from_dict(fields, where=f"--compress {text!r}")


def step_text(step: Step) -> str:
    """A step as ``--compress`` text (what parse_step reads back)."""
    return step_notation(step)  # calibration: --calibration flags


def step_from_dict(fields: dict, where: str) -> Step:
    fields = dict(fields)
    if fields.get("method") == "prune" and "granularity" not in fields:
        crit = fields.get("criterion")
        fields["granularity"] = "global" if crit in ("l1", "random") else "local"
    try:
        return _STEP.validate_python(fields)
    except ValidationError as e:
        msgs = []
        for err in e.errors(include_url=False):
            tags = {fields.get("method"), fields.get("criterion"), fields.get("scheme")}
            loc = ".".join(str(x) for x in err["loc"] if x not in tags)
            msgs.append(f"{loc or 'step'}: {err['msg'].removeprefix('Value error, ')}")
        raise SpecError(f"{where}: " + "; ".join(msgs)) from None
