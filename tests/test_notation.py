"""Step notation (leaderboard.notation): torch-free, and printed steps parse back to themselves for every
registered method (issue 21: only flat scalar parameters round-trip, and nothing enforced it)."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from leaderboard.compress import registry
from leaderboard.notation import SpecError, parse_step, step_adapter, step_notation

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
    if kind == "string":  # any text the field's own pattern allows ('1', 'true' and '1e5' are scopes too)
        pattern = prop.get("pattern", r"^[a-z][a-z0-9_.*\-]{0,12}$")
        return st.one_of(st.sampled_from(["1", "0.5", "true", "1e5", "-3"]).filter(lambda t: re.fullmatch(pattern, t)),
                         st.from_regex(pattern))
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
        return step_adapter().validate_python(fields)
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


def test_text_that_looks_like_a_number_stays_text_where_the_field_takes_text():
    """Defect found by the pattern-driven strategy above: a scope named '1' or 'true' (the scope pattern allows
    both) validated in a run file, but its recorded --compress text read back as a number or a boolean and failed."""
    for scope in ("1", "true", "1e5", "0.5"):
        step = step_adapter().validate_python({"method": "prune", "criterion": "l1", "scope": scope,
                                               "granularity": "global", "sparsity": 0.5})
        assert parse_step(step_notation(step)) == step
    # numbers and booleans are still read as such where the field takes them
    assert parse_step("quantize:scheme=rtn,bits=4,asymmetric=false").asymmetric is False


BAD_METHOD = textwrap.dedent('''
    from typing import Literal

    from leaderboard.compress.spec import Method, PruneParams


    class BadStep(PruneParams):
        criterion: Literal["zz-bad"]
        local_only = False
        FIELD


    METHODS = (Method(kind="prune", name="zz-bad", params=BadStep, title="Bad", summary="x"),)
''')
PROBE = ("import sys; import leaderboard.compress.methods as pkg; pkg.__path__.append(sys.argv[1]); "
         "from leaderboard.compress import registry; registry.all_methods()")


@pytest.mark.parametrize(("field", "message"), [
    ("extra: dict[str, int] = {}", "BadStep.extra: a dict value cannot be written as key=value"),
    ("layers: list[int] | None = None", "BadStep.layers: a list value cannot be written"),
    ("tag: str | int = 'a'", "BadStep.tag: takes text and numbers or booleans"),
    ("mode: Literal['a,b'] = 'a,b'", "BadStep.mode: literal 'a,b' would not read back as itself"),
])
def test_registration_refuses_parameters_the_notation_cannot_round_trip(tmp_path, field, message):
    """A dict parameter used to validate from YAML and record a command that could not be parsed (issue 21)."""
    (tmp_path / "zz_bad.py").write_text(BAD_METHOD.replace("FIELD", field))
    proc = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert "prune:zz-bad cannot be registered" in last and message in last, last
