"""Issue 20: `leaderboard run` on hostile inputs, by mechanism: one bounded reader (config.json, recipe.yaml,
demo_model.json, calibration text), strict typed models of each checkpoint format, everything a run file must hold
checked before the model is loaded (and an evaluation never lost after), and recorded commands that parse back to
the same spec. Real folders (copies of the bundled tiny decoder), real files, the real CLI."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ROOT, run_cli
from leaderboard.cli import build_parser, run_spec_from_args
from leaderboard.compress.calibration import CalibrationData, describe, read_text
from leaderboard.compress.checkpoint import CheckpointError, steps_from_config
from leaderboard.evaluate.suites.bear import bear_root
from leaderboard.evaluate.suites.lama import lama_root
from leaderboard.runner import (
    SpecError,
    check,
    make_spec,
    parse_step,
    reproduce_command,
    step_text,
)
from leaderboard.schema import MODEL_ID_PATTERN

DECODER = ROOT / "src" / "leaderboard" / "data" / "demo-decoder"
LAMA = ["--eval", "lama:trex", "--lama-dir", "builtin:lama-sample", "--limit", "2", "--no-progress"]



def folder(tmp_path: Path, name: str = "ckpt", config: dict | None = None, recipe: str | None = None,
           toy: bool = True) -> Path:
    """A copy of the bundled tiny decoder with config.json fields replaced and a recipe.yaml added."""
    dest = tmp_path / name
    shutil.copytree(DECODER, dest)
    if config:
        data = json.loads((dest / "config.json").read_text())
        data.update(config)
        (dest / "config.json").write_text(json.dumps(data))
    if recipe is not None:
        (dest / "recipe.yaml").write_text(recipe)
    if not toy:
        (dest / "demo_model.json").unlink()
    return dest


def one_error_line(out: str) -> str:
    lines = [line for line in out.strip().splitlines() if line.startswith("error:")]
    assert len(lines) == 1, out
    return lines[0]


# --- quantization_config and recipe.yaml: strict typed models -------------------------------------------------------


@pytest.mark.parametrize(("qc", "message"), [
    ({"quant_method": "gptq", "bits": 4.9, "group_size": 128}, "quantization_config.bits: Input should be a valid integer (got 4.9)"),
    ({"quant_method": "gptq", "bits": True}, "quantization_config.bits: Input should be a valid integer (got True)"),
    ({"quant_method": "gptq", "bits": "4"}, "quantization_config.bits: Input should be a valid integer (got '4')"),
    ({"quant_method": "gptq", "bits": 4, "group_size": -5}, "quantization_config.group_size: -1 (per row) or a positive group size (got -5)"),
    ({"quant_method": "gptq", "bits": 4, "sym": "false"}, "quantization_config.sym: Input should be a valid boolean (got 'false')"),
    ({"quant_method": "awq", "bits": 4, "zero_point": "false"}, "quantization_config.zero_point: Input should be a valid boolean"),
    ({"quant_method": "awq", "bits": 4, "w_bit": 8}, "bits: 4 but w_bit: 8"),
    ({"quant_method": "awq", "group_size": 128}, "bits: missing"),
    ({"quant_method": "bitsandbytes", "load_in_4bit": "false", "load_in_8bit": True},
     "quantization_config.load_in_4bit: Input should be a valid boolean (got 'false')"),
    ({"quant_method": "bitsandbytes", "load_in_4bit": True, "load_in_8bit": True}, "both true"),
    ({"quant_method": "bitsandbytes", "load_in_4bit": True, "bnb_4bit_quant_type": "int3"}, "bnb_4bit_quant_type"),
    ({"quant_method": "compressed-tensors", "config_groups": {"g": {"targets": ["Linear"], "weights": {"num_bits": 4.5}}}},
     "config_groups.g.weights.num_bits: Input should be a valid integer"),
    ({"quant_method": "compressed-tensors", "config_groups": [1]}, "config_groups: Input should be a valid dictionary"),
    ({"quant_method": ["gptq"]}, "quant_method ['gptq']: not a method the run file can state"),
])
def test_quantization_config_fields_are_typed_never_guessed(qc, message) -> None:
    """Before: bits 4.9 was read as 4, group_size -5 as per row, "false" as true, a list as a traceback."""
    with pytest.raises(CheckpointError) as e:
        steps_from_config(SimpleNamespace(quantization_config=qc), Path("/ckpt"), set())
    assert message in str(e.value) and "/ckpt/config.json" in str(e.value) and "\n" not in str(e.value)


RECIPE = "default_stage:\n  default_modifiers:\n    SparseGPTModifier:\n      {body}\n"


@pytest.mark.parametrize(("body", "message"), [
    ("sparsity: true", "SparseGPTModifier.sparsity: Input should be a valid number (got True)"),
    ("sparsity: '0.5'", "SparseGPTModifier.sparsity: Input should be a valid number (got '0.5')"),
    ("sparsity: 1.5", "SparseGPTModifier.sparsity: Input should be less than or equal to 1"),
    ("sparsity: {layer: 0.5}", "SparseGPTModifier.sparsity: Input should be a valid number"),
    ("mask_structure: 4", "SparseGPTModifier.mask_structure: Input should be a valid string"),
    ("targets: [Linear]", "SparseGPTModifier.sparsity: missing"),
])
def test_recipe_fields_are_typed(tmp_path, body, message) -> None:
    """Before: `sparsity: true` was recorded as sparsity 1.0; a per-layer mapping was a traceback."""
    (tmp_path / "recipe.yaml").write_text(RECIPE.format(body=body))
    with pytest.raises(CheckpointError) as e:
        steps_from_config(SimpleNamespace(quantization_config=None), tmp_path, set())
    assert message in str(e.value) and str(tmp_path / "recipe.yaml") in str(e.value)


def test_a_recipe_alias_bomb_is_refused_before_it_is_built(tmp_path) -> None:
    lines = ["a: &a {x: [1, 2, 3, 4, 5, 6, 7, 8, 9]}"]
    lines += [f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]" for i in range(8)]
    (tmp_path / "recipe.yaml").write_text("\n".join(lines) + "\nstage: {group: {SparseGPTModifier: {sparsity: 0.5}, x: *i}}\n")
    t0 = time.perf_counter()
    with pytest.raises(CheckpointError, match="recipe.yaml: expands to more than 100,000 values"):
        steps_from_config(SimpleNamespace(quantization_config=None), tmp_path, set())
    assert time.perf_counter() - t0 < 5


def test_a_control_character_in_any_yaml_file_is_one_line(tmp_path, capsys) -> None:
    """Before: PyYAML's reader refused the character while being made, outside the error handling: a traceback for
    run specs, sweep specs and recipes alike."""
    spec = tmp_path / "spec.yaml"
    spec.write_bytes(b"model: m\x1f\neval: lama:trex\n")
    rc, out = run_cli(["run", "--spec", str(spec)], capsys)
    assert rc == 2 and f"{spec}: invalid YAML: unacceptable character #x001f" in one_error_line(out)
    rc, out = run_cli(["sweep", str(spec), "--dry-run"], capsys)
    assert rc == 2 and "unacceptable character #x001f" in out and "Traceback" not in out
    (tmp_path / "recipe.yaml").write_bytes(b"\x1f")
    with pytest.raises(CheckpointError, match="recipe.yaml: invalid YAML"):
        steps_from_config(SimpleNamespace(quantization_config=None), tmp_path, set())


def test_a_valid_recipe_still_reads(tmp_path) -> None:
    (tmp_path / "recipe.yaml").write_text(RECIPE.format(body="sparsity: 0.5") + "    x: !!python/object/apply:enum.E [1]\n")
    steps, relation = steps_from_config(SimpleNamespace(quantization_config=None), tmp_path, set())
    assert [step_text(s) for s in steps] == ["prune:criterion=sparsegpt,scope=all,granularity=local,sparsity=0.5"]
    assert relation == "pruned"


# --- config.json and the folder's files: bounded, sane, before anything is built ------------------------------------


@pytest.mark.parametrize(("config", "message"), [
    ({"num_hidden_layers": 10_000_000}, "config.json: num_hidden_layers: Input should be less than or equal to 2000 (got 10000000)"),
    ({"num_hidden_layers": 2000, "hidden_size": 100_000, "intermediate_size": 1_000_000}, "parameters (more than 1e+13)"),
    ({"vocab_size": True}, "config.json: vocab_size: Input should be a valid integer (got True)"),
    ({"hidden_size": "64"}, "config.json: hidden_size: Input should be a valid integer (got '64')"),
    ({"architectures": "LlamaForCausalLM"}, "config.json: architectures: Input should be a valid list"),
    ({"quantization_config": {"quant_method": "gptq", "bits": 4.9}}, "config.json: quantization_config.bits"),
    ({"hidden_size": 65, "num_attention_heads": 2}, "config.json: transformers refuses it: Class validation error"),
])
def test_config_json_is_checked_before_anything_is_built(tmp_path, capsys, config, message) -> None:
    """Before: 10,000,000 layers ran past 90 s building a skeleton; a string or boolean size was a traceback."""
    ckpt = folder(tmp_path, config=config)
    t0 = time.perf_counter()
    rc, out = run_cli(["run", "--model", str(ckpt), *LAMA, "--out", str(tmp_path / "runs")], capsys)
    assert rc == 2 and message in one_error_line(out), out
    assert time.perf_counter() - t0 < 30 and not (tmp_path / "runs").exists()


@pytest.mark.parametrize("name", ["config.json", "recipe.yaml", "demo_model.json"])
def test_a_fifo_or_device_in_the_folder_is_refused_not_read(tmp_path, capsys, name) -> None:
    """Before: a FIFO named config.json (or recipe.yaml, demo_model.json) hung the run; /dev/zero grew without end."""
    ckpt = folder(tmp_path)
    (ckpt / name).unlink(missing_ok=True)
    os.mkfifo(ckpt / name)
    rc, out = run_cli(["run", "--model", str(ckpt), *LAMA, "--out", str(tmp_path / "runs")], capsys)
    assert rc == 2 and f"{ckpt / name}: is not a regular file (a FIFO, device" in one_error_line(out)
    (ckpt / name).unlink()
    (ckpt / name).symlink_to("/dev/zero")
    rc, out = run_cli(["run", "--model", str(ckpt), *LAMA, "--out", str(tmp_path / "runs")], capsys)
    assert rc == 2 and "not a regular file" in one_error_line(out)


def test_a_bad_demo_marker_or_invalid_json_is_one_line(tmp_path, capsys) -> None:
    ckpt = folder(tmp_path)
    (ckpt / "demo_model.json").write_text('{"model_id": "../evil"}')
    rc, out = run_cli(["run", "--model", str(ckpt), *LAMA, "--check-only"], capsys)
    assert rc == 2 and "demo_model.json: model_id: a model name such as org/name" in one_error_line(out)
    (ckpt / "demo_model.json").write_text("[")
    rc, out = run_cli(["run", "--model", str(ckpt), *LAMA, "--check-only"], capsys)
    assert rc == 2 and "demo_model.json: invalid JSON" in one_error_line(out)
    (ckpt / "demo_model.json").unlink()
    (ckpt / "config.json").write_text('{"num_hidden_layers": NaN}')
    rc, out = run_cli(["run", "--model", str(ckpt), *LAMA, "--check-only"], capsys)
    assert rc == 2 and "config.json: NaN is not valid JSON" in one_error_line(out)


# --- check before compute ---------------------------------------------------------------------------------------


def _spec(model: Path, tmp_path: Path, **kw):
    from leaderboard.evaluate.lama_data import packaged_root

    return make_spec("t", model=str(model), evals=["lama:trex"], lama_dir=packaged_root(), limit=2, device="cpu",
                     out=tmp_path / "runs", **kw)


def test_a_folder_name_that_is_no_model_id_is_refused_before_loading(tmp_path) -> None:
    """Before: the model was loaded and evaluated, then ModelInfo refused 'my model' and nothing was written."""
    ckpt = folder(tmp_path, "my model", toy=False)
    with pytest.raises(SpecError, match="the folder name gives the model id 'my model'.*--model-id ORG/NAME"):
        check(_spec(ckpt, tmp_path))
    check(_spec(ckpt, tmp_path, model_id="org/my-model"))  # the way out


def test_more_steps_than_a_run_file_holds_are_refused_before_loading(tmp_path) -> None:
    steps = [parse_step("prune:criterion=l1,sparsity=0.1")] * 21
    with pytest.raises(SpecError, match="--compress: 21 steps; a run file records at most 20"):
        check(_spec(DECODER, tmp_path, compression=steps))


def test_a_command_too_long_to_record_is_refused_before_loading(tmp_path) -> None:
    """Before: a LAMA folder (or calibration text) deep enough made the recorded command longer than a run file holds,
    found by Provenance after the evaluation."""
    from leaderboard.evaluate.lama_data import packaged_root

    deep = tmp_path
    for i in range(9):
        deep = deep / (f"{i}" * 220)
    shutil.copytree(packaged_root(), deep / "lama")
    spec = make_spec("t", model=str(DECODER), evals=["lama:trex"], lama_dir=deep / "lama", limit=2, device="cpu")
    with pytest.raises(SpecError, match=r"command recorded in the run file would be 2,\d{3} characters"):
        check(spec)
    with pytest.raises(SpecError, match="calibration: String should have at most 1000 characters"):
        make_spec("t", model=str(DECODER), evals=["lama:trex"], calibration=str(deep / "text.txt"))


@given(value=st.floats(0, 1), low=st.floats(0, 1), high=st.floats(0, 1))
@settings(max_examples=300, deadline=None)
def test_intervals_contain_their_value_by_construction(value, low, high) -> None:
    """The rounding of every stored interval (LAMA, BEAR, lm-eval go through it): it holds the value, whatever the
    value's decimals (a BEAR run once failed after 40 minutes on [0.333333, 0.333333] around 1/3)."""
    from leaderboard.evaluate.metrics import enclosing

    lo, hi = enclosing(min(low, value), max(high, value), value)
    assert lo <= value <= hi


def test_an_evaluation_whose_run_file_fails_is_kept_and_can_be_finished(tmp_path, monkeypatch, capsys) -> None:
    """The safety net behind the checks: a model loaded under a name no run file can hold (what a folder name with a
    space did before) is evaluated, its run file refused, and the evaluation kept with the command that finishes it."""
    from leaderboard.runner import UnfinishedRun, check, load_model, pending_tasks, run_loaded
    from leaderboard.validate import validate_paths

    monkeypatch.setenv("LEADERBOARD_UNFINISHED_DIR", str(tmp_path / "unfinished"))
    spec = _spec(DECODER, tmp_path)
    checked = check(spec)
    lm = load_model(spec)
    lm.model_id = "my model"
    with pytest.raises(UnfinishedRun) as e:
        run_loaded(checked, lm, pending_tasks(checked, None), progress=False, log=lambda *_: None)
    message = str(e.value)
    assert "\n" not in message and "model.id" in message and "leaderboard run --finish" in message
    (kept,) = (tmp_path / "unfinished").glob("*.json")
    assert str(kept) in message and not (tmp_path / "runs").exists()
    results = json.loads(kept.read_text())["run"]["results"]
    assert results[0]["n"] > 0 and results[0]["metrics"]["precision@1"]["value"] >= 0
    rc, out = run_cli(["run", "--finish", str(kept), "--model-id", "org/my-model"], capsys)
    assert rc == 0, out
    (written,) = (tmp_path / "runs").rglob("*.json")
    assert validate_paths([tmp_path / "runs"]).errors == []
    run = json.loads(written.read_text())
    assert run["model"]["id"] == "org/my-model" and run["results"] == results  # the evaluation, as it was kept
    assert "--model-id org/my-model" in run["provenance"]["command"]
    rc, out = run_cli(["run", "--finish", str(kept), "--model-id", "org/my-model"], capsys)
    assert rc == 2 and "exists" in one_error_line(out)


# --- calibration files --------------------------------------------------------------------------------------------


def test_calibration_samples_out_of_range_is_one_line(tmp_path, capsys) -> None:
    """Before: --calibration-samples 2000000 was a pydantic traceback."""
    args = ["run", "--model", str(DECODER), *LAMA, "--compress", "prune:criterion=wanda,sparsity=0.5", "--check-only"]
    rc, out = run_cli([*args, "--calibration-samples", "2000000"], capsys)
    assert rc == 2 and "calibration_samples: Input should be less than or equal to 1000000" in one_error_line(out)
    rc, out = run_cli([*args, "--calibration-samples", "1000000"], capsys)
    assert rc == 2 and "need 2,048,000,000 tokens; the text has 1,344,820 bytes" in one_error_line(out)


def test_non_ascii_calibration_file_names_are_recorded(tmp_path) -> None:
    """Before: a file named 'Kalibrierung-ä.txt' made a Calibration name the schema refused (a traceback)."""
    text = tmp_path / "Kalibrierung-äöü.txt"
    text.write_text("Ein Satz. " * 200)
    info = describe(str(text), 2, 8)
    assert info.name == "Kalibrierung----.txt"


def test_a_calibration_fifo_or_device_is_refused(tmp_path) -> None:
    from leaderboard.compress.calibration import CalibrationError

    os.mkfifo(tmp_path / "fifo.txt")
    (tmp_path / "zero.txt").symlink_to("/dev/zero")
    for name in ("fifo.txt", "zero.txt"):
        with pytest.raises(CalibrationError, match="not a regular file"):
            read_text(str(tmp_path / name))


def test_a_huge_calibration_text_is_tokenized_only_as_far_as_the_samples_need(tmp_path) -> None:
    """Before: the whole text was tokenized (100 MB grew to 6 GB). The tokenizer now sees a prefix, and the
    sequences are exactly those of the whole text."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(DECODER)
    seen: list[int] = []

    class Counting:  # the real tokenizer; only the length of what it is given is noted
        def __call__(self, text, **kw):
            seen.append(len(text))
            return tok(text, **kw)

    big = tmp_path / "big.txt"
    _, austen = read_text("builtin:austen")
    big.write_text(austen * 8)  # about 10 MB
    info = describe(str(big), 4, 64)
    data = CalibrationData.load(str(big), info)
    data.tokenizer = Counting()
    ids = data.sequences()
    assert ids.shape == (4, 64) and max(seen) < 100_000
    whole = tok(austen, add_special_tokens=False, verbose=False)["input_ids"]
    assert ids.flatten().tolist() == whole[:256]


# --- step notation and recorded commands ---------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "message"), [
    ("prune:criterion=l1,sparsity=0.1,sparsity=0.9", "'sparsity' is given twice"),
    ("prune:criterion=l1,criterion=random,sparsity=0.5", "'criterion' is given twice"),
    ("prune:method=quantize,criterion=l1,sparsity=0.5", "'method' is given twice (the method is named before ':')"),
    ("prune:criterion=n:m,n=1_0,m=16", "n: Input should be a valid integer"),
    ("prune:criterion=l1,sparsity=inf", "sparsity: Input should be a valid number"),
])
def test_step_notation_is_strict(text, message) -> None:
    """Before: a key given twice silently took the last value; '1_0' was read as 10, 'inf' as infinity."""
    with pytest.raises(SpecError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_step(text)


def _parse_command(command: str):
    argv = shlex.split(command)
    assert argv[:2] == ["leaderboard", "run"]
    return run_spec_from_args(build_parser().parse_args(argv[1:]))


def test_a_model_named_like_an_option_is_recorded_so_it_parses_back(tmp_path) -> None:
    """Before: `--model=-model` was recorded as `--model -model`, which argparse reads as two options."""
    spec = make_spec("t", model="-model", evals=["lm-eval:boolq"], device="cpu")
    command = reproduce_command(spec, "org/m", "lm-eval:boolq")
    assert "--model=-model" in command
    assert _parse_command(command).model == "-model"


STEPS = [m.example for m in __import__("leaderboard.compress.registry", fromlist=["x"]).all_methods() if m.example]
SCOPES = ["all", "attention", "mlp"]
free_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1, max_size=40)
model_ids = st.from_regex(r"\A" + MODEL_ID_PATTERN.strip("^$") + r"\Z").filter(lambda s: len(s) <= 60)  # canonical ids
relation = st.from_regex(r"\A[A-Za-z0-9_.\-]{1,12}\Z")


@st.composite
def run_specs(draw):
    steps = [parse_step(draw(st.sampled_from(STEPS))) for _ in range(draw(st.integers(0, 2)))]
    steps += [parse_step(f"prune:criterion=l1,scope={draw(st.sampled_from(SCOPES))},sparsity={draw(st.floats(0, 1))!r}")
              for _ in range(draw(st.integers(0, 1)))]
    steps = sorted(steps, key=lambda s: s.method != "prune")  # prune before quantize
    task = draw(st.sampled_from(["lama:trex", "lama:google_re", "bear:big", "lm-eval:boolq"]))
    fields = dict(
        model=draw(free_text), evals=[task], compression=steps, model_id=draw(st.none() | model_ids),
        base_model=draw(st.none() | model_ids), seed=draw(st.integers(0, 2**63 - 1)),
        limit=draw(st.none() | st.integers(1, 10**9)), batch_size=draw(st.integers(1, 10**6)),
        dtype=draw(st.sampled_from(["float32", "float16", "bfloat16"])),
        relations=draw(st.none() | st.lists(relation, min_size=1, max_size=3)),
        # (the LAMA settings model refuses any other candidate set or subset when the spec is made)
        candidates=draw(st.sampled_from(["lama-common-vocab", "model-vocab"])),
        subset=draw(st.sampled_from(["all", "object-final"])),
        lama_pairs=draw(st.sampled_from(["all", "unique"])),
        num_fewshot=draw(st.none() | st.integers(0, 1000)), bear_bos=draw(st.none() | free_text),
        lama_dir=draw(st.none() | free_text.map(lambda t: "/" + t.replace("\x00", ""))),
        bear_dir=draw(st.none() | free_text.map(lambda t: "/" + t)),
        calibration="/" + draw(free_text), calibration_samples=draw(st.integers(1, 10**6)),
        calibration_seq_len=draw(st.integers(1, 10**6)), device="cpu")
    spec = make_spec("generated", **fields)
    calibrated = [i for i, s in enumerate(spec.compression) if "calibration" in type(s).model_fields]
    if draw(st.booleans()) and calibrated:  # a data-driven step records its calibration set
        from leaderboard.compress.spec import Calibration

        info = Calibration(name="c", sha256="0" * 64, samples=spec.calibration_samples, seq_len=spec.calibration_seq_len)
        spec.compression[calibrated[0]] = spec.compression[calibrated[0]].model_copy(update={"calibration": info})
    return spec


@given(spec=run_specs())
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_a_recorded_command_parses_back_to_the_same_spec(spec) -> None:
    """parse(record(spec)) == spec for every setting the command records, over generated specs: values that start with
    '-', hold spaces, quotes, newlines or any Unicode, and every method's step."""
    task = spec.evals[0]
    command = reproduce_command(spec, spec.model_id or spec.model, task)
    back = _parse_command(command)
    assert back.source == spec.source and back.evals == [task]
    assert (back.model_id or back.model) == (spec.model_id or spec.model)
    assert back.compression == [s.model_copy(update={"calibration": None}) if "calibration" in type(s).model_fields
                                else s for s in spec.compression]
    assert (back.base_model, back.seed, back.limit, back.batch_size, back.dtype) == \
        (spec.base_model, spec.seed, spec.limit, spec.batch_size, spec.dtype)
    if any(getattr(s, "calibration", None) for s in spec.compression):
        assert (Path(back.calibration), back.calibration_samples, back.calibration_seq_len) == \
            (Path(spec.calibration).resolve(), spec.calibration_samples, spec.calibration_seq_len)
    if task.startswith("lama:"):
        assert (back.candidates, back.subset, back.lama_pairs, back.relations) == \
            (spec.candidates, spec.subset, spec.lama_pairs, spec.relations)
        assert lama_root(back).resolve() == lama_root(spec).resolve()
    elif task.startswith("bear:"):
        assert back.relations == spec.relations and bear_root(back).resolve() == bear_root(spec).resolve()
        assert back.bear_bos == spec.bear_bos
    else:
        assert back.num_fewshot == spec.num_fewshot
    for i, s in enumerate(spec.compression):  # check() gives the parsed spec's steps their calibration set again
        if getattr(s, "calibration", None) is not None:
            back.compression[i] = back.compression[i].model_copy(update={"calibration": s.calibration})
    assert reproduce_command(back, back.model_id or back.model, task) == command  # and it records the same again


_OPENED: list[str] = []


def _record_opens(event: str, args: tuple) -> None:
    if event == "open" and args and str(args[0]).endswith("config.json"):
        _OPENED.append(str(args[0]))


def test_a_checkpoints_config_json_is_read_once_by_the_bounded_reader(tmp_path) -> None:
    """Issue 20 leftover: after our bounded, typed check transformers opened config.json again (AutoConfig, then the
    tokenizer and the model each), unbounded, and could see other bytes than those checked. Now the config object is
    made from the checked dict and handed to the tokenizer and the model: the file is opened once (an audit hook sees
    every open in this process), and the model loads as before."""
    import sys

    from leaderboard.models import load

    model = folder(tmp_path)
    if _record_opens not in getattr(sys, "_leaderboard_hooks", []):
        sys.addaudithook(_record_opens)
        sys._leaderboard_hooks = [*getattr(sys, "_leaderboard_hooks", []), _record_opens]
    _OPENED.clear()
    lm = load(str(model))
    mine = [p for p in _OPENED if Path(p).name == "config.json" and Path(p).parent.resolve() == model.resolve()]
    _OPENED.clear()
    assert mine == [str(model / "config.json")], mine
    assert lm.model.config.num_hidden_layers == json.loads((model / "config.json").read_text())["num_hidden_layers"]
    assert lm.architecture == "LlamaForCausalLM" and lm.model.config._name_or_path == str(model)


@pytest.mark.parametrize(("config", "message"), [
    ({"model_type": "../../etc/passwd"}, "config.json: model_type: '../../etc/passwd' is not a model type transformers"),
    ({"auto_map": {"AutoModelForCausalLM": "evil.Model"}}, "config.json: auto_map: names custom code to run"),
])
def test_config_json_errors_from_transformers_name_the_file(tmp_path, capsys, config, message) -> None:
    """They named the folder ('--model: DIR: cannot read its config: ...'), and auto_map passed the check."""
    model = folder(tmp_path, config=config)
    rc, out = run_cli(["run", "--model", str(model), *LAMA, "--check-only"], capsys)
    assert rc == 2 and f"{model}/{message}" in one_error_line(out), out


def test_a_folder_without_weight_files_is_one_line_before_loading(tmp_path, capsys) -> None:
    """`run` and `run --check-only` on a checkpoint folder with no weight file raised ModelLoadError as a traceback
    (found by benchmarks/attack_corpus.py): the run file's path needs the weights' hash, taken before loading."""
    model = folder(tmp_path)
    (model / "model.safetensors").unlink()
    for extra in (["--check-only"], []):
        rc, out = run_cli(["run", "--model", str(model), *LAMA, "--out", str(tmp_path / "runs"), *extra], capsys)
        assert rc == 2 and one_error_line(out) == (f"error: --model: {model}: no weight files "
                                                   "(.safetensors, .bin, .pt, .pth)"), out
    assert not (tmp_path / "runs").exists()
