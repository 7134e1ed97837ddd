"""The run-file contract: round trips, run_id, paths, fact outcomes, the committed JSON Schema."""

from __future__ import annotations

import base64
import gzip
import json
import types
import typing

import jsonschema
import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError

from conftest import EXAMPLES, ROOT, with_run_id
from leaderboard import registry, schema
from leaderboard.compress import registry as method_registry
from leaderboard.schema import (
    ConfidenceInterval,
    Evaluation,
    FactOutcomes,
    Measured,
    MetricValue,
    ModelInfo,
    PruneStep,
    RelationResult,
    Reported,
    Reproduced,
    RunFile,
    Synthetic,
    TaskResult,
    canonical_path,
    compute_run_id,
    decode_facts,
    dump_run,
    encode_facts,
    make_step,
    model_slug,
)
from leaderboard.validate import check_bytes


def _prune(criterion: str):
    extra = {
        "n:m": {"n": 2, "m": 4, "sparsity": 0.5},
        "ln-structured": {"norm": 2, "dim": "rows"},
        "random-structured": {"dim": "columns"},
    }.get(criterion, {})
    gran = "global" if criterion in ("l1", "random") else "local"
    return make_step(**{"method": "prune", "criterion": criterion, "scope": "attention", "sparsity": 0.3,
                        "granularity": gran, **extra})


EVERY_MODEL: list[BaseModel] = [
    ModelInfo(id="org/name", revision="sha256:abc", family="decoder", architecture="LlamaForCausalLM", parameters=7, toy=True),
    *[_prune(c) for c in registry.PRUNE_CRITERIA],
    *[make_step(method="quantize", scheme=s, scope="ffn", **({"bits": 4} if s in ("rtn", "gptq", "awq") else
                                                            {"type": "Q4_0"} if s == "gguf" else {}))
      for s in registry.QUANT_SCHEMES],
    Evaluation(task="lm-eval:boolq", data_sha256="a" * 64, settings={"num_fewshot": 0, "limit": None, "x": 1.5, "y": "s"}),
    Measured(sparsity={"all": 0.5, "*.layer.11.*": 0.1}, weight_bytes=10, bits_per_weight=4.5, peak_memory_bytes=3,
             disk_bytes=4, compress_seconds=1.0, eval_seconds=2.0, throughput=3.0, throughput_unit="facts/s"),
    ConfidenceInterval(low=0.1, high=0.2, level=0.9, method="wilson"),
    MetricValue(value=50.0, scale="percent", n=3, stderr=0.1, ci=ConfidenceInterval(low=40, high=60)),
    RelationResult(relation="P19", n=3, excluded=1, metrics={"precision@1": MetricValue(value=0.5)}),
    encode_facts([("uuid-1", 1), ("uuid-2", 7)]),
    TaskResult(task="lm-eval:piqa", n=10, metrics={"acc": MetricValue(value=0.6)}, task_version="1.0", num_fewshot=5,
               config={"batch_size": 8, "device": "cpu"}),
    Reproduced(kind="reproduced"),
    Reported(kind="reported", citation="A et al.", table="Table 1", url="https://example.org/paper", page="3", checked_via="x"),
    Synthetic(kind="synthetic", generator="test"),
]


@pytest.mark.parametrize("obj", EVERY_MODEL, ids=lambda o: type(o).__name__)
def test_every_model_type_round_trips_through_json(obj: BaseModel) -> None:
    again = type(obj).model_validate_json(obj.model_dump_json(exclude_none=True))
    assert again == obj


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.json")), ids=lambda p: p.stem)
def test_example_run_files_round_trip_and_validate(path) -> None:
    raw = path.read_bytes()
    checked = check_bytes(raw, str(path), None)
    assert checked.problems == []
    assert dump_run(checked.run) == raw.decode()  # the on-disk form is stable


def test_optional_fields_all_have_defaults() -> None:
    """dump_run drops None values, so an optional field without a default would not reload."""
    steps = [m.params for m in method_registry.all_methods()]
    models = [RunFile, ModelInfo, *steps, Evaluation, Measured, MetricValue, ConfidenceInterval,
              RelationResult, FactOutcomes, TaskResult, schema.Provenance, Reported, Synthetic]
    for m in models:
        for name, f in m.model_fields.items():
            if not f.is_required():
                continue
            accepts_none = typing.get_origin(f.annotation) in (typing.Union, types.UnionType) and type(None) in typing.get_args(f.annotation)
            assert not accepts_none, f"{m.__name__}.{name} accepts null but has no default"


def test_committed_json_schema_is_current() -> None:
    committed = (ROOT / "schema" / f"run-{schema.SCHEMA_VERSION}.schema.json").read_text()
    assert committed == schema.json_schema_text(), (
        f"schema/run-{schema.SCHEMA_VERSION}.schema.json is stale: run `leaderboard schema --out "
        f"schema/run-{schema.SCHEMA_VERSION}.schema.json` "
        "and say in the changelog what changed"
    )


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.json")), ids=lambda p: p.stem)
def test_exported_json_schema_accepts_examples_and_rejects_a_bad_enum(path) -> None:
    js = schema.json_schema()
    data = json.loads(path.read_text())
    jsonschema.validate(data, js)
    data["model"]["family"] = "rnn"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, js)


def test_run_id_hashes_the_spec_not_the_outcome(compressed) -> None:
    run = RunFile.model_validate(compressed)
    rid = compute_run_id(run)
    assert rid == run.run_id and len(rid) == 16
    outcome = json.loads(json.dumps(compressed))
    outcome["results"][0]["metrics"]["precision@1"]["value"] = 0.01
    outcome["provenance"]["batch_size"] = 1
    outcome["notes"] = "rerun"
    assert compute_run_id(RunFile.model_validate(outcome)) == rid
    for change in (
        lambda d: d["compression"][0].update(sparsity=0.6),
        lambda d: d["compression"].reverse(),
        lambda d: d["model"].update(revision="other"),
        lambda d: d["evaluation"].update(data_sha256="b" * 64),
        lambda d: d["evaluation"]["settings"].update(candidates="full-vocab"),
    ):
        spec = json.loads(json.dumps(compressed))
        change(spec)
        assert compute_run_id(RunFile.model_validate(spec)) != rid


def test_int_and_float_sparsity_give_the_same_run_id(compressed) -> None:
    a = json.loads(json.dumps(compressed))
    a["compression"] = [{"method": "prune", "criterion": "l1", "scope": "all", "granularity": "global", "sparsity": 1}]
    b = json.loads(json.dumps(a))
    b["compression"][0]["sparsity"] = 1.0
    assert with_run_id(a)["run_id"] == with_run_id(b)["run_id"]


@pytest.mark.parametrize(
    ("model_id", "slug"),
    [("google/flan-t5-base", "google--flan-t5-base"), ("bert-base-cased", "bert-base-cased"),
     ("..", "model"), ("../../etc", "etc"), ("A/B.C_d", "a--b.c_d"), ("...x", "x")],
)
def test_model_slug_is_a_safe_folder_name(model_id, slug) -> None:
    assert model_slug(model_id) == slug


def test_canonical_path(baseline) -> None:
    run = RunFile.model_validate(baseline)
    assert str(canonical_path(run)) == f"encoder/example--bert-base-cased/{run.run_id}.json"


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"criterion": "n:m", "granularity": "local", "n": 2, "m": 4, "sparsity": 0.3}, "sparsity of 2:4 must be 0.5"),
        ({"criterion": "wanda", "granularity": "global"}, "granularity must be 'local'"),
        ({"criterion": "ln-structured", "granularity": "local", "dim": "rows"}, "needs norm"),
        ({"criterion": "random-structured", "granularity": "local"}, "needs dim"),
        ({"criterion": "l1", "granularity": "global", "n": 2}, "Extra inputs are not permitted"),
        ({"criterion": "l1", "granularity": "global", "sparsity": 1.5}, "less than or equal to 1"),
    ],
)
def test_prune_step_rules(bad, message) -> None:
    with pytest.raises(ValidationError, match=message):
        TypeAdapter(PruneStep).validate_python({"method": "prune", "scope": "all", "sparsity": 0.5, **bad})


def test_fact_outcomes_round_trip() -> None:
    pairs = [(f"fact-{i}", i % 50 + 1) for i in range(2000)]
    fo = encode_facts(pairs)
    assert fo.count == 2000
    assert decode_facts(fo) == dict(pairs)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (gzip.compress(b"a" * 100_000), "decompresses to more than 1000 bytes"),
        (gzip.compress(b"x\t0"), "line 1 is not"),
        (gzip.compress(b"x\t1\nx\t2"), "appears twice"),
        (b"not gzip at all", "not valid gzip"),
        (gzip.compress(b"x\t1")[:-4], "truncated"),
    ],
)
def test_fact_outcomes_refuse_bombs_and_garbage(payload, message) -> None:
    fo = FactOutcomes(count=1, data=base64.b64encode(payload).decode())
    with pytest.raises(ValueError, match=message):
        decode_facts(fo, max_bytes=1000)


def _example(name: str) -> dict:
    return json.loads((EXAMPLES / name).read_text())


def test_a_1_0_file_may_not_use_what_1_1_added():
    data = _example("reproduced-baseline.json")
    assert data["schema_version"] == "1.0"
    data["results"][0]["nonfinite"] = 3
    with pytest.raises(ValidationError, match="nonfinite is new in schema 1.1"):
        RunFile.model_validate(data)
    data["schema_version"] = "1.1"
    assert RunFile.model_validate(data).results[0].nonfinite == 3


def test_quantize_backend_only_names_another_dynamic_int8_library():
    step = make_step(method="quantize", scheme="dynamic-int8", backend="torch.ao")
    assert step.backend == "torch.ao"
    with pytest.raises(ValidationError, match="backend"):
        make_step(method="quantize", scheme="bnb-nf4", backend="torch.ao")
    with pytest.raises(ValidationError):
        make_step(method="quantize", scheme="dynamic-int8", backend="torchao")  # absent means torchao
    # absent and explicit torch.ao are different computations, so different run ids
    plain = make_step(method="quantize", scheme="dynamic-int8")
    ev = Evaluation(task="lama:trex")
    from leaderboard.schema import run_id_of, spec_dict

    assert run_id_of(spec_dict("m", None, [plain], ev)) != run_id_of(spec_dict("m", None, [step], ev))


def test_every_step_of_the_published_rows_parses_and_validates_in_a_reported_run(reported) -> None:
    """The vocabulary of ../shared/data/reported/results.csv (README: 'Vocabulary these rows need')."""
    import csv

    from conftest import SHARED
    from leaderboard.runner import parse_step, step_text

    path = SHARED / "data" / "reported" / "results.csv"
    notations = {s.strip() for row in csv.DictReader(path.open(encoding="utf-8"))
                 for s in row["compression"].split(";") if s.strip()}
    assert {"quantize:scheme=rtn,bits=4,granularity=per_row,asymmetric=true",
            "quantize:scheme=gptq,bits=3,granularity=per_row,asymmetric=true",
            "prune:criterion=sparsegpt,sparsity=0.5,scope=all",
            "prune:criterion=sparsegpt,n=2,m=4,scope=all"} <= notations
    for text in sorted(notations):
        step = parse_step(text)
        assert parse_step(step_text(step)) == step
        data = {**reported, "schema_version": schema.SCHEMA_VERSION,
                "compression": [step.model_dump(mode="json", exclude_none=True)]}
        run = RunFile.model_validate(with_run_id(data))
        assert check_bytes(dump_run(run).encode(), "x.json", None).problems == []
    nm = parse_step("prune:criterion=sparsegpt,n=4,m=8,scope=all")
    assert (nm.n, nm.m, nm.sparsity, nm.granularity) == (4, 8, 0.5, "local")
    gptq = parse_step("quantize:scheme=gptq,bits=4,granularity=per_row,asymmetric=true")
    assert (gptq.bits, gptq.granularity, gptq.asymmetric, gptq.group_size) == (4, "per_row", True, None)
