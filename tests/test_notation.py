"""Step notation (leaderboard.notation): torch-free, and printed steps parse back to themselves for every
registered method (issue 21: only flat scalar parameters round-trip, and nothing enforced it)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from leaderboard.compress import registry
from leaderboard.naming import step_notation
from leaderboard.notation import _STEP, SpecError, parse_step

METHODS = registry.all_methods()


def _values(prop: dict, defs: dict) -> st.SearchStrategy:
    """Values a field's JSON schema allows (enums, bounded numbers, booleans; text as a plain word)."""
    if "$ref" in prop:
        prop = defs[prop["$ref"].rsplit("/", 1)[1]]
    if "anyOf" in prop:
        return st.one_of([_values(p, defs) for p in prop["anyOf"]])
    if "const" in prop:
        return st.just(prop["const"])
    if "enum" in prop:
        return st.sampled_from(prop["enum"])
    kind = prop.get("type")
    if kind == "null":
        return st.none()
    if kind == "boolean":
        return st.booleans()
    if kind == "integer":
        lo = prop.get("minimum", prop.get("exclusiveMinimum", -10) + 1 if "exclusiveMinimum" in prop else -10)
        hi = prop.get("maximum", prop.get("exclusiveMaximum", 4096) - 1 if "exclusiveMaximum" in prop else 4096)
        return st.integers(lo, hi)
    if kind == "number":
        lo = prop.get("minimum", prop.get("exclusiveMinimum", -10.0))
        hi = prop.get("maximum", prop.get("exclusiveMaximum", 10.0))
        return st.floats(lo, hi, allow_nan=False, allow_infinity=False,
                         exclude_min="exclusiveMinimum" in prop, exclude_max="exclusiveMaximum" in prop)
    if kind == "string":
        return st.from_regex(r"\A[a-z][a-z0-9_.*\-]{0,12}\Z")
    return st.nothing()


@st.composite
def steps(draw, method):
    schema = method.params.model_json_schema()
    defs = schema.get("$defs", {})
    fields = {}
    for name, prop in schema["properties"].items():
        if name == "calibration":  # given by --calibration flags, not in the notation
            continue
        if name not in schema.get("required", []) and draw(st.booleans()):
            continue
        fields[name] = draw(_values(prop, defs))
    try:
        return _STEP.validate_python(fields)
    except ValidationError:
        assume(False)


@pytest.mark.parametrize("method", METHODS, ids=[m.key for m in METHODS])
def test_every_method_round_trips_through_its_notation(method):
    @settings(max_examples=25, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(steps(method))
    def check(step):
        text = step_notation(step)
        back = parse_step(text)
        assert back == step, text
        assert step_notation(back) == text  # printing is canonical

    check()


def test_text_given_twice_or_not_flat_is_refused():
    with pytest.raises(SpecError, match="given twice"):
        parse_step("prune:criterion=l1,sparsity=0.1,sparsity=0.9")
    with pytest.raises(SpecError, match="not key=value"):
        parse_step("prune:criterion=l1,sparsity")


def test_notation_is_torch_free():
    code = ("import sys, leaderboard.notation as n, leaderboard.reported; n.parse_step('quantize:scheme=dynamic-int8'); "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
