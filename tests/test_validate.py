"""`validate`: one bad file per rule with its exact message; hostile files; never a traceback."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ROOT, example, place, with_run_id
from leaderboard import registry
from leaderboard.schema import MODEL_ID_RULE, encode_facts
from leaderboard.validate import check_bytes, validate_paths


def lines(report) -> list[str]:
    return [p.line() for p in report.problems]


def only_problem(runs: Path, data: dict, keep_run_id: bool = False) -> str:
    """Validate one run dict placed at its canonical path; return its single problem line
    (leaving out the no-baseline warning of compressed runs validated alone)."""
    data = data if keep_run_id else with_run_id(data)
    path = place(runs, data) if keep_run_id is False else _write_raw(runs, data)
    got = [ln.replace(str(path), "FILE") for ln in lines(validate_paths([path])) if "no baseline run" not in ln]
    assert len(got) == 1, got
    return got[0]


def _write_raw(runs: Path, data: dict) -> Path:
    path = runs / data["model"]["family"] / "example--bert-base-cased" / f"{data['run_id']}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def test_valid_examples_have_no_problems(tmp_path, baseline, compressed) -> None:
    for d in (baseline, compressed):
        place(tmp_path, d)
    report = validate_paths([tmp_path])
    assert report.problems == [] and len(report.checked) == 2


def _set(path: str, value):
    def apply(d: dict) -> None:
        *head, last = path.split("/")
        node = d
        for k in head:
            node = node[int(k)] if isinstance(node, list) else node[k]
        if isinstance(node, list):
            node[int(last)] = value
        elif value is _DELETE:
            del node[last]
        else:
            node[last] = value
    return apply


_DELETE = object()

SCHEMA_RULES = [
    ("wrong type", _set("model/parameters", "108M"), "FILE: /model/parameters: Input should be a valid integer"),
    ("bool is not int", _set("provenance/seed", True), "FILE: /provenance/seed: Input should be a valid integer"),
    ("enum", _set("model/family", "rnn"),
     "FILE: /model/family: Input should be 'encoder', 'encoder-decoder' or 'decoder'"),
    ("sparsity > 1", _set("compression/0/sparsity", 1.5),
     "FILE: /compression/0/sparsity: Input should be less than or equal to 1"),
    ("negative sparsity", _set("measured/sparsity/all", -0.1),
     "FILE: /measured/sparsity/all: Input should be greater than or equal to 0"),
    ("unknown method", _set("compression/0/method", "distill"),
     "FILE: /compression/0: Input tag 'distill' found using 'method' does not match any of the expected tags: 'prune', 'quantize'"),
    ("unknown scheme", _set("compression/1/scheme", "hqq"),
     "FILE: /compression/1: Input tag 'hqq' found using 'scheme' does not match any of the expected tags: "
     + ", ".join(f"'{s}'" for s in registry.QUANT_SCHEMES)),
    ("new vocabulary in an old file", _set("compression/1", {"method": "quantize", "scheme": "gptq", "bits": 4}),
     "FILE: /: compression[1]: scheme 'gptq' needs schema_version 1.1 or later"),
    ("step rule", _set("compression/0/criterion", "wanda"),
     "FILE: /compression/0: criterion 'wanda' ranks weights within each layer: granularity must be 'local'"),
    ("missing field", _set("model/architecture", _DELETE), "FILE: /model/architecture: required field is missing"),
    ("unknown field", _set("model/colour", "blue"),
     "FILE: /model/colour: unknown field (the schema forbids fields it does not define)"),
    ("bad scope glob", _set("compression/0/scope", "../../x y"),
     "FILE: /compression/0/scope: String should match pattern '^[A-Za-z0-9_.*?\\[\\]\\-]{1,200}$'"),
    ("model id with markup", _set("model/id", "<img src=x onerror=alert(1)>"),
     "FILE: /model/id: not a model id: 'org/name' or 'name', ASCII letters, digits, '_', and '.' or '-' between "
     "them (no '//', '--', '..', no leading or trailing '.' or '-')"),
    ("model id with a double slash", _set("model/id", "HuggingFaceTB//SmolLM-1.7B"), f"FILE: /model/id: {MODEL_ID_RULE}"),
    ("model id with a look-alike letter", _set("model/id", "HuggingFaceTB/SmolLM-1.7В"), f"FILE: /model/id: {MODEL_ID_RULE}"),
    ("model id as its folder name", _set("model/id", "HuggingFaceTB--SmolLM-1.7B"), f"FILE: /model/id: {MODEL_ID_RULE}"),
    ("lineage base with a double slash", _set("model/lineage", {"base": "org//base", "relation": "quantized"}),
     f"FILE: /model/lineage/base: {MODEL_ID_RULE}"),
    ("huge count", _set("model/parameters", 10**30), "FILE: /model/parameters: Input should be less than or equal to 1000000000000000"),
    ("string too long", _set("notes", "x" * 3000), "FILE: /notes: String should have at most 2000 characters"),
    ("no results", _set("results", []), "FILE: /results: List should have at least 1 item after validation, not 0"),
    ("newer minor schema", _set("schema_version", "1.4"),
     "FILE: /schema_version: schema 1.4 is newer than this validator knows (1.3); upgrade compression-leaderboard"),
    ("other major schema", _set("schema_version", "2.0"),
     "FILE: /schema_version: Input should be '1.0', '1.1', '1.2' or '1.3'"),
    ("bad url", _set("source", {"kind": "reported", "citation": "x", "table": "1", "url": "javascript:alert(1)"}),
     "FILE: /source/url: String should match pattern '^https://[^\\s<>\"']{1,490}$'"),
]


@pytest.mark.parametrize(("name", "mutate", "expected"), SCHEMA_RULES, ids=[r[0] for r in SCHEMA_RULES])
def test_schema_rule(tmp_path, compressed, name, mutate, expected) -> None:
    mutate(compressed)
    assert only_problem(tmp_path, compressed, keep_run_id=True) == expected


SEMANTIC_RULES = [
    ("metric out of range", _set("results/0/metrics/precision@1/value", 1.2),
     "FILE: /results/0/metrics/precision@1/value: 1.2 is outside the range of precision@1 on the fraction scale [0, 1]"),
    ("percent metric out of range", _set("results/0/metrics/mrr", {"value": 120, "scale": "percent"}),
     "FILE: /results/0/metrics/mrr/value: 120 is outside the range of mrr on the percent scale [0, 100]"),
    ("unbounded metric on percent scale", _set("results/0/metrics/word_perplexity", {"value": 12, "scale": "percent"}),
     "FILE: /results/0/metrics/word_perplexity/scale: metric 'word_perplexity' cannot be on the percent scale"),
    ("ci excludes value", _set("results/0/metrics/precision@1/ci", {"low": 0.3, "high": 0.4}),
     "FILE: /results/0/metrics/precision@1/ci: interval [0.3, 0.4] does not contain the value 0.25"),
    ("relation metric out of range", _set("results/0/relations/1/metrics/precision@1/value", -0.5),
     "FILE: /results/0/relations/1/metrics/precision@1/value: -0.5 is outside the range of precision@1 on the fraction scale [0, 1]"),
    ("metric of unknown direction", _set("results/0/metrics/rouge9", {"value": 0.5}),
     "FILE: /results/0/metrics/rouge9: unknown metric 'rouge9': the registry (src/leaderboard/registry.py, METRICS) "
     "does not say whether higher or lower is better; add it there with its range and direction"),
    ("relation metric of unknown direction", _set("results/0/relations/1/metrics/precision@5", {"value": 0.5}),
     "FILE: /results/0/relations/1/metrics/precision@5: unknown metric 'precision@5': the registry "
     "(src/leaderboard/registry.py, METRICS) does not say whether higher or lower is better; add it there with its "
     "range and direction"),
    ("relation counts", _set("results/0/n", 1000), "FILE: /results/0/relations: relations hold 1700 scored examples but n is 1000"),
    ("relation twice", _set("results/0/relations/1/relation", "P19"), "FILE: /results/0/relations/1/relation: relation 'P19' appears twice"),
    ("task of another suite", _set("results/0/task", "lm-eval:boolq"),
     "FILE: /results/0/task: task 'lm-eval:boolq' is not of the evaluated suite 'lama'"),
    ("unknown suite", lambda d: (d["evaluation"].update(task="mmlu:all"), d["results"][0].update(task="mmlu:all")),
     "FILE: /evaluation/task: unknown suite 'mmlu'; known: lama, bear, lm-eval"),
    ("reproduced without provenance", _set("provenance", _DELETE), "FILE: /provenance: required for reproduced runs"),
    ("reproduced without n", _set("results/0/n", _DELETE), "FILE: /results/0/n: required for reproduced runs"),
    ("time travel", _set("provenance/finished_at", "2026-11-23T11:00:00Z"), "FILE: /provenance/finished_at: is before started_at"),
    ("naive timestamp", _set("provenance/started_at", "2026-11-23T11:00:00"),
     "FILE: /provenance/started_at: timestamp needs a time zone (e.g. 'Z')"),
    ("fact count", _set("results/0/facts", encode_facts([("a", 1)]).model_dump()),
     "FILE: /results/0/facts/count: 1 fact outcomes for 1700 scored examples"),
    ("fact data", _set("results/0/facts", {"count": 1, "data": "AAAA"}), "FILE: /results/0/facts/data: not valid gzip: incorrect header check"),
    ("toy reported", lambda d: (d.update(source=example("reported")["source"]), d["model"].update(toy=True)),
     "FILE: /model/toy: a reported result cannot be about a toy model"),
    ("undeclared source", lambda d: d.update(source={"kind": "reported", "citation": "x", "table": "1", "url": "https://x.org"}),
     "FILE: /source: warning: not a declared source (url, citation and table as in data/reported/sources.yaml): the "
     "site shows it under Other sources, not on a paper's page"),
]


@pytest.mark.parametrize(("name", "mutate", "expected"), SEMANTIC_RULES, ids=[r[0] for r in SEMANTIC_RULES])
def test_semantic_rule(tmp_path, baseline, name, mutate, expected) -> None:
    mutate(baseline)
    assert only_problem(tmp_path, baseline) == expected


def test_every_metric_has_a_direction_and_breakdowns_take_their_base_metrics() -> None:
    """No metric defaults to higher-is-better: a name the registry does not know raises; BEAR's breakdowns and
    lm-eval's filtered values (``<metric>@<filter>``) take the range and direction of the metric they break down."""
    assert registry.metric_info("perplexity").higher_is_better is False and registry.metric_info("perplexity").lower == 1.0
    for name in ("accuracy-template-0", "accuracy-domain-geographic", "exact_match@strict-match", "perplexity@none"):
        base = registry.metric_info(name.split("-")[0] if name.startswith("accuracy-") else name.split("@")[0])
        got = registry.metric_info(name)
        assert (got.lower, got.upper, got.higher_is_better) == (base.lower, base.upper, base.higher_is_better), name
    for name in ("rouge9", "precision@5", "accuracy-template-", "accuracy-x", "@none"):
        with pytest.raises(registry.UnknownMetric, match=f"unknown metric '{name}'"):
            registry.metric_info(name)


@pytest.mark.parametrize("steps", [1, 2])  # prune alone, and prune then quantize (measured before quantizing)
def test_measured_sparsity_more_than_half_a_point_from_requested_is_an_error(tmp_path, compressed, steps) -> None:
    compressed["compression"] = compressed["compression"][:steps]
    compressed["measured"]["sparsity"]["all"] = 0.494
    assert only_problem(tmp_path, compressed) == (
        "FILE: /measured/sparsity/all: step 0 (l1) requested sparsity 0.5000 of scope 'all' but 0.4940 was measured: "
        "more than 0.5 percentage point apart")
    compressed["measured"]["sparsity"]["all"] = 0.496  # within half a point: per-layer rounding
    place(tmp_path / "ok", with_run_id(compressed))
    assert validate_paths([tmp_path / "ok"]).errors == []


def test_measured_sparsity_of_two_pruning_steps_is_not_compared(tmp_path, compressed) -> None:
    """Two pruning steps of one scope: its zeros come from both, so no requested share is the measured one."""
    first = compressed["compression"][0]
    compressed["compression"] = [first, {**first, "criterion": "random", "granularity": "local", "sparsity": 0.2}]
    compressed["measured"]["sparsity"]["all"] = 0.6
    place(tmp_path, with_run_id(compressed))
    assert validate_paths([tmp_path]).errors == []


def test_run_id_must_match_content(tmp_path, baseline) -> None:
    baseline["compression"] = [{"method": "quantize", "scheme": "bnb-nf4", "scope": "all"}]  # id not recomputed
    path = _write_raw(tmp_path, baseline)
    expected_id = with_run_id(baseline)["run_id"]
    assert [p.line() for p in validate_paths([path]).errors] == [
        f"{path}: /run_id: does not match the content: expected {expected_id} "
        "(a hash of model id and revision, compression, evaluation and runner version)",
        f"{path}: /: file must be at <runs>/encoder/example--bert-base-cased/{expected_id}.json (family/model-slug/run_id.json)",
    ]


def test_file_must_be_at_its_canonical_path(tmp_path, baseline) -> None:
    path = tmp_path / "decoder" / "whatever" / "x.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(baseline))
    got = lines(validate_paths([path]))
    assert got == [f"{path}: /: file must be at <runs>/encoder/example--bert-base-cased/{baseline['run_id']}.json "
                   "(family/model-slug/run_id.json)"]
    assert validate_paths([path], check_paths=False).problems == []


def test_duplicate_run_ids_across_files(tmp_path, baseline) -> None:
    first = place(tmp_path / "a", baseline)
    second = place(tmp_path / "b", baseline)
    got = lines(validate_paths([tmp_path / "b", tmp_path / "a"]))
    assert got == [f"{first}: /run_id: duplicate run_id {baseline['run_id']}: also in {second}"]
    # one tree: a copy one level deeper is an error of its own (no second tree can hide in runs/)
    (tmp_path / "b").rename(tmp_path / "a" / "copy")
    assert any("folder too deep" in x for x in lines(validate_paths([tmp_path / "a"])))


def test_compressed_run_without_baseline_is_a_warning(tmp_path, compressed) -> None:
    path = place(tmp_path, compressed)
    report = validate_paths([tmp_path])
    assert lines(report) == [f"{path}: /compression: warning: no baseline run of example/bert-base-cased on lama:trex "
                             "(same revision, data and evaluation settings); retention cannot be computed"]
    assert report.errors == []


def test_synthetic_rejected_on_request(tmp_path) -> None:
    from leaderboard import synthetic

    synthetic.write(synthetic.generate(1), tmp_path)
    assert validate_paths([tmp_path]).problems == []
    got = lines(validate_paths([tmp_path], reject_synthetic=True))
    assert len(got) == 1 and got[0].endswith("/source/kind: synthetic runs are for tests and benchmarks, never for publication")


# --- hostile files ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'{"a": 1,}', "invalid JSON at line 1 column 9: Expecting property name enclosed in double quotes"),
        (b"[1, 2]", "a run file is one JSON object"),
        (b'{"x": NaN}', "NaN is not valid JSON (numbers must be finite)"),
        (b'{"x": -Infinity}', "-Infinity is not valid JSON (numbers must be finite)"),
        (b'{"run_id": "a", "run_id": "b"}', "key 'run_id' appears twice in one object"),
        (b'{"x": "\xff"}', "not UTF-8 (byte 7)"),
        (b"\xef\xbb\xbf{}", "starts with a byte-order mark; save as UTF-8 without BOM"),
        (b"[" * 100_000 + b"]" * 100_000, "JSON is nested too deeply"),
        (b'{"x": ' + b"9" * 5000 + b"}", "invalid JSON: Exceeds the limit (4300 digits) for integer string conversion: value has 5000 digits; use sys.set_int_max_str_digits() to increase the limit"),
        (b"", "invalid JSON at line 1 column 1: Expecting value"),
    ],
    ids=["trailing comma", "array", "nan", "inf", "duplicate key", "not utf8", "bom", "deep", "huge int", "empty"],
)
def test_malformed_input_is_one_clear_error(raw, message) -> None:
    checked = check_bytes(raw, "f.json", None)
    assert [p.line() for p in checked.problems] == [f"f.json: /: {message}"]


def test_inf_from_overflowing_float_is_rejected(tmp_path, baseline) -> None:
    path = place(tmp_path, baseline)
    path.write_text(path.read_text().replace('"value": 0.25', '"value": 1e999'))
    assert lines(validate_paths([path])) == [f"{path}: /results/0/metrics/precision@1/value: Input should be a finite number"]


def test_200_mb_file_is_refused_without_reading_it(tmp_path) -> None:
    big = tmp_path / "big.json"
    with open(big, "wb") as f:
        f.truncate(200 * 1024 * 1024)  # sparse: costs no disk
    t0 = time.perf_counter()
    got = lines(validate_paths([big]))
    assert time.perf_counter() - t0 < 1.0
    assert got == [f"{big}: /: file is 209,715,200 bytes; the limit is 5,242,880 bytes"]


def test_symlink_and_missing_path(tmp_path) -> None:
    (tmp_path / "link.json").symlink_to("/etc/hostname")
    got = lines(validate_paths([tmp_path / "link.json", tmp_path / "nope"]))
    assert got == [f"{tmp_path}/nope: /: no such file or folder",
                   f"{tmp_path}/link.json: /: is a symbolic link; run files must be regular files"]


def test_non_json_files_in_a_folder_are_reported(tmp_path) -> None:
    (tmp_path / "notes.txt").write_text("hi")
    (tmp_path / "README.md").write_text("ok")
    assert lines(validate_paths([tmp_path])) == [f"{tmp_path}/notes.txt: /: warning: not a .json file; ignored"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_arbitrary_json_gives_problems_never_exceptions(value) -> None:
    checked = check_bytes(json.dumps(value).encode(), "f.json", "a/b/c.json")
    assert checked.run is None and checked.problems
    assert all(p.line().startswith("f.json: /") for p in checked.problems)


def _leaf_paths(node, prefix=()):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _leaf_paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _leaf_paths(v, (*prefix, i))
    yield prefix


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_any_single_mutation_of_a_valid_file_never_raises(data) -> None:
    from conftest import example

    doc = example("reproduced-prune-then-quantize")
    paths = [p for p in _leaf_paths(doc) if p]
    target = data.draw(st.sampled_from(paths))
    node = doc
    for k in target[:-1]:
        node = node[k]
    node[target[-1]] = data.draw(json_values)
    checked = check_bytes(json.dumps(doc).encode(), "f.json", None)
    assert isinstance(checked.problems, list)
    for p in checked.problems:
        assert p.pointer == "" or p.pointer.startswith("/")


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_raise(raw) -> None:
    assert check_bytes(raw, "f.json", None).run is None


# --- append-only ------------------------------------------------------------------------------


def test_base_folder_forbids_changes_and_removals(tmp_path, baseline, compressed) -> None:
    base, head = tmp_path / "base", tmp_path / "head"
    a, b = place(base, baseline), place(base, compressed)
    for p in (a, b):
        target = head / p.relative_to(base)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(p.read_bytes())
    assert validate_paths([head], base=str(base)).problems == []
    ha = head / a.relative_to(base)
    ha.write_text(ha.read_text().replace("illustrative", "edited"))
    (head / b.relative_to(base)).unlink()
    got = lines(validate_paths([head], base=str(base)))
    assert f"{ha}: /: changed, but it is published in {base}; run files are append-only (add a new run instead of editing one)" in got
    assert f"{head / b.relative_to(base)}: /: removed, but it is published in {base}; run files are append-only" in got


def test_base_git_ref(tmp_path, baseline, compressed) -> None:
    repo = tmp_path / "repo"
    runs = repo / "runs"
    runs.mkdir(parents=True)
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}

    def git(*args):
        subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, env=env)

    git("init", "-q", "-b", "main")
    a = place(runs, baseline)
    git("add", ".")
    git("commit", "-qm", "base")
    place(runs, compressed)  # adding is fine
    assert validate_paths([runs], base="main").errors == []
    a.write_text(a.read_text().replace("0.25", "0.26"))
    got = lines(validate_paths([runs], base="main"))
    assert any(line.startswith(f"{a}: /: changed, but it is published in main") for line in got)
    a.unlink()
    got = lines(validate_paths([runs], base="main"))
    assert f"{a}: /: removed, but it is published in main; run files are append-only" in got
    bad = [p.line() for p in validate_paths([runs], base="no-such-ref").errors]
    assert bad == [f"{runs}: /: cannot read base 'no-such-ref': it is neither a folder nor a commit of this repository"]


def test_non_finite_model_output_is_a_warning_and_cannot_exceed_n(tmp_path, baseline) -> None:
    """A run whose model output was NaN validates (its numbers are honest zeros) but is flagged."""
    data = dict(baseline, schema_version="1.1")
    data["results"] = [dict(data["results"][0], nonfinite=3)]
    path = place(tmp_path, with_run_id(data))
    problems = validate_paths([path]).problems
    assert [p.severity for p in problems if "/nonfinite" in p.pointer] == ["warning"]
    assert any("model output is not finite for 3 of" in p.message for p in problems)
    data["results"] = [dict(data["results"][0], nonfinite=data["results"][0]["n"] + 1)]
    path = place(tmp_path / "b", with_run_id(data))
    assert any(p.severity == "error" and p.pointer == "/results/0/nonfinite" for p in validate_paths([path]).problems)


def test_a_value_of_no_allowed_type_is_one_line_naming_the_field(tmp_path, baseline) -> None:
    """A result config value must be a scalar: a mapping there failed every member of the union, and each failure was
    its own line under a made-up field (/config/k/bool, /config/k/int, ...): four lines, none naming the real field."""
    data = with_run_id(baseline)
    data["results"][0]["config"] = {"k": {"a": 1}}
    path = tmp_path / "run.json"
    path.write_text(json.dumps(data))
    got = lines(validate_paths([path], check_paths=False))
    assert len(got) == 1, got
    assert got[0].startswith(f"{path}: /results/0/config/k: Input should be a valid boolean; ")
    assert "valid integer" in got[0] and "valid string" in got[0]


@pytest.mark.parametrize(("where", "text", "char"), [
    (("notes",), "see \u202egnp.exe", "U+202E (RIGHT-TO-LEFT OVERRIDE)"),
    (("notes",), "a\u2066b\u2069", "U+2066 (LEFT-TO-RIGHT ISOLATE)"),
    (("notes",), "zero\u200bwidth", "U+200B (ZERO WIDTH SPACE)"),
    (("notes",), "bell\x07", "U+0007 (unnamed)"),
    (("notes",), "rub\x7fout", "U+007F (unnamed)"),  # JSON takes DEL unescaped: the file is all ASCII
    (("notes",), "line\u2028sep", "U+2028 (LINE SEPARATOR)"),
    (("provenance", "device"), "cpu\u200d", "U+200D (ZERO WIDTH JOINER)"),
    (("provenance", "command"), "leaderboard run \u202d--model x", "U+202D (LEFT-TO-RIGHT OVERRIDE)"),
])
def test_invisible_and_direction_changing_characters_in_any_text_are_refused(tmp_path, baseline, where, text, char) -> None:
    """Escaped HTML still obeys them: a right-to-left override in a note reordered what the page showed, and a
    zero-width space made two texts that read the same differ (import-reported refused them in CSV cells; run files
    took them in every free-text field, found by benchmarks/attack_corpus.py). Accented and non-Latin letters, tabs
    and newlines stay allowed."""
    data = json.loads(json.dumps(baseline))
    node = data
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = text
    pointer = "/" + "/".join(where)
    assert only_problem(tmp_path, data) == (f"FILE: {pointer}: holds the invisible or control character {char}; "
                                            "write the text without it")
    raw = place(tmp_path / "escaped", with_run_id(data))  # the same text written as \u escapes: a file all ASCII
    raw.write_text(json.dumps(json.loads(raw.read_text()), ensure_ascii=True))
    assert raw.read_bytes().isascii()
    assert [p.line().replace(str(raw), "FILE") for p in validate_paths([raw]).problems
            if "no baseline run" not in p.message] == [only_problem(tmp_path, data)]
    node[where[-1]] = "Müller, Ωmega, 北京\tnew\nline"
    assert lines(validate_paths([place(tmp_path / "ok", with_run_id(data))])) == []


def _facts(report) -> list[tuple]:
    return [(c.path, c.sha256, c.problems, c.key) for c in report.checked]


def test_a_rebuild_checks_only_changed_files_and_an_invalid_file_is_refused_every_time(tmp_path, baseline,
                                                                                        compressed) -> None:
    """The build's per-file cache (issue 22, scale): the second run checks no file again and gives the same result as
    no cache; a changed file is checked again; a refused file is never cached, so it is refused on every build."""
    runs, cache = tmp_path / "runs", tmp_path / "work" / "validate.json"
    shutil.copytree(ROOT / "runs" / "encoder" / "bert-base-cased", runs / "encoder" / "bert-base-cased")  # published, errata
    place(runs, baseline)
    other = place(runs, compressed)
    n = len(list(runs.rglob("*.json")))
    plain = validate_paths([runs])
    first = validate_paths([runs], cache=cache)
    second = validate_paths([runs], cache=cache)
    assert (first.rechecked, second.rechecked) == (n, 0) and cache.is_file()
    assert _facts(second) == _facts(first) == _facts(plain) and second.problems == plain.problems
    assert second.notes == plain.notes != []  # errata: checked across files on every build
    other.write_text(json.dumps(json.loads(other.read_text())))  # the same run, other bytes
    third = validate_paths([runs], cache=cache)
    assert third.rechecked == 1 and third.problems == plain.problems
    other.write_text(json.dumps(dict(compressed, run_id="0" * 16)))
    for _ in range(2):
        report = validate_paths([runs], cache=cache)
        assert report.rechecked == 1
        assert [p.line() for p in report.errors] == [p.line() for p in validate_paths([runs]).errors] != []


def test_a_rebuild_does_not_read_a_file_whose_stat_signature_is_cached_and_any_write_to_it_is_seen(
        tmp_path, baseline, compressed, monkeypatch) -> None:
    """Like git's index (issue 22, scale: reading 100,000 unchanged run files was most of a rebuild's validation): a
    file whose device, inode, size, mtime and ctime are the ones cached is not read. Rewriting it with bytes of the
    same size and its old mtime still changes its ctime, so it is read and checked again. A file changed just before
    the scan (racily clean) gets no signature: it is read every time until it is older."""
    import time

    from leaderboard import validate

    runs, cache = tmp_path / "runs", tmp_path / "work" / "validate.json"
    place(runs, baseline)
    other = place(runs, compressed)
    plain = validate_paths([runs])
    first, second = validate_paths([runs], cache=cache), validate_paths([runs], cache=cache)
    assert (first.rechecked, second.rechecked, second.unread) == (2, 0, 0)  # just written: read, not trusted
    monkeypatch.setattr(validate, "RACY_NS", 0)
    validate_paths([runs], cache=cache)  # read again, found the same: their signatures are cached now
    trusted = validate_paths([runs], cache=cache)
    assert (trusted.rechecked, trusted.unread) == (0, 2)
    assert _facts(trusted) == _facts(plain) and trusted.problems == plain.problems
    time.sleep(0.05)  # past the file system's timestamp tick
    text, before = other.read_text(), other.stat()
    wrong = text.replace(compressed["run_id"], compressed["run_id"][::-1])  # same size, now an error
    assert wrong != text and len(wrong) == len(text)
    other.write_text(wrong)
    os.utime(other, ns=(before.st_atime_ns, before.st_mtime_ns))  # the mtime it had: the ctime still moves
    seen = validate_paths([runs], cache=cache)
    assert (seen.rechecked, seen.unread) == (1, 1)
    assert [p.line() for p in seen.errors] == [p.line() for p in validate_paths([runs]).errors] != []


@pytest.mark.parametrize("damage", ["truncated", "garbage", "extra field", "wrong type", "other validator",
                                    "other size limit", "old format", "a column short", "a path twice",
                                    "a problem of no entry", "not a sha256", "a delta's removed files"])
def test_a_damaged_or_foreign_validation_cache_is_ignored(tmp_path, baseline, compressed, damage) -> None:
    """The cache is the builder's own file, yet read strictly: anything but exactly its format (one list per field,
    entry i of each list the i-th file's) is ignored and every file is checked again."""
    runs, cache = tmp_path / "runs", tmp_path / "validate.json"
    place(runs, baseline)
    bad = place(runs, compressed)
    validate_paths([runs], cache=cache)
    text = cache.read_text()
    data = json.loads(text)
    assert data["format"] == 4 and sorted(data["files"]) == sorted(map(str, runs.rglob("*.json")))
    i = data["files"].index(str(bad))
    if damage == "truncated":
        cache.write_text(text[: len(text) // 2])
    elif damage == "garbage":
        cache.write_bytes(b"\xff\xfe not json")
    else:
        if damage == "extra field":
            data["trusted"] = [True, True]
        elif damage == "wrong type":
            data["size"][i] = str(data["size"][i])
        elif damage == "other validator":
            data["validator"] = "0" * 64
        elif damage == "other size limit":
            data["max_bytes"] += 1
        elif damage == "old format":
            data["format"] = 3
        elif damage == "a column short":
            data["sha256"].pop()
        elif damage == "a path twice":
            data["files"][1 - i] = data["files"][i]
        elif damage == "a problem of no entry":
            data["problems"].append([2, "/x", "made up", "warning"])
        elif damage == "a delta's removed files":
            data["removed"] = [str(runs / "gone.json")]
        else:
            data["sha256"][i] = data["sha256"][i].upper()
        cache.write_text(json.dumps(data))
    # the file now holds an error, but the (ignored) cache says its old bytes were fine: it is checked again
    bad.write_text(json.dumps(dict(compressed, run_id="0" * 16)))
    report = validate_paths([runs], cache=cache)
    assert report.rechecked == 2
    assert [p.line() for p in report.problems] == [p.line() for p in validate_paths([runs]).problems]
    assert report.errors and validate_paths([runs], cache=cache).rechecked == 1  # rewritten: the good file is cached


def test_a_rebuild_writes_what_changed_to_the_validation_caches_delta_and_a_delta_of_another_cache_is_never_applied(
        tmp_path, baseline, compressed, monkeypatch) -> None:
    """Issue 22, scale: a rebuild after adding ten runs wrote the whole cache (100,000 entries, 2 s). The entries that
    changed since the cache was written, and the files removed since, go to its delta file; the cache itself is written
    again (with a new token) only past DELTA_MAX of them. A delta holds its cache's token: a delta left beside another
    cache, or damaged, is ignored."""
    import hashlib

    from leaderboard import validate

    runs, cache = tmp_path / "runs", tmp_path / "work" / "validate.json"
    delta = cache.with_name("validate.delta.json")
    place(runs, baseline)
    other = place(runs, compressed)

    def cached() -> dict:
        return validate._load_cache(cache, validate.validator_fingerprint(), validate.DEFAULT_MAX_BYTES, True).entries

    def on_disk() -> set[str]:
        return {str(p) for p in runs.rglob("*.json")}

    first = validate_paths([runs], cache=cache)
    base = cache.read_bytes()
    assert first.rechecked == 2 and not delta.exists()
    other.write_text(json.dumps(json.loads(other.read_text())))  # the same run, other bytes
    changed = validate_paths([runs], cache=cache)
    assert changed.rechecked == 1 and cache.read_bytes() == base
    assert json.loads(delta.read_text())["files"] == [str(other)]
    again = validate_paths([runs], cache=cache)
    assert again.rechecked == 0 and _facts(again) == _facts(changed) and again.problems == changed.problems
    assert cached()[str(other)].sha256 == hashlib.sha256(other.read_bytes()).hexdigest()
    other.unlink()
    gone = validate_paths([runs], cache=cache)
    assert gone.rechecked == 0 and cache.read_bytes() == base
    assert json.loads(delta.read_text())["removed"] == [str(other)] and set(cached()) == on_disk()
    stale = delta.read_bytes()
    monkeypatch.setattr(validate, "DELTA_MAX", 0)  # past it: the cache is written again and its delta removed
    other.write_text(json.dumps(compressed, indent=1))
    back = validate_paths([runs], cache=cache)
    assert back.rechecked == 1 and cache.read_bytes() != base and not delta.exists()
    assert set(cached()) == on_disk() and len(on_disk()) == 2
    for foreign in (stale, b"\xff not json", stale.replace(b'"format":4', b'"format":3')):
        delta.write_bytes(foreign)  # the old delta would remove `other`
        assert set(cached()) == on_disk()
        assert validate_paths([runs], cache=cache).rechecked == 0


def test_a_key_the_validation_cache_cannot_hold_exactly_is_left_out_and_the_others_are_kept(tmp_path, baseline,
                                                                                             compressed) -> None:
    """The cache holds a key's tuples as JSON lists of scalars: a key with anything else (a nested tuple, a float JSON
    cannot hold) is not cached, so its file is checked on every build, and it does not cost the other files theirs."""
    import dataclasses

    from leaderboard import validate

    runs, cache = tmp_path / "runs", tmp_path / "validate.json"
    place(runs, baseline)
    place(runs, compressed)
    checked = validate_paths([runs]).checked
    good = checked[0]
    assert validate._to_cache(good, good.size) is not None
    for bad in (good.key._replace(identity=(*good.key.identity, float("nan"))),
                good.key._replace(baseline=(*good.key.baseline, ("nested",))),
                good.key._replace(model_id=None)):
        assert validate._to_cache(dataclasses.replace(good, key=bad), good.size) is None
    entries = {c.path: validate._to_cache(c, c.size) for c in checked}
    validate._write_cache(cache, "v", validate.DEFAULT_MAX_BYTES, True, entries)
    assert validate._load_cache(cache, "v", validate.DEFAULT_MAX_BYTES, True).entries == entries
