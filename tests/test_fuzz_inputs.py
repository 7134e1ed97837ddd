"""Issue 20, mechanism 8 for `leaderboard run`: generated hostile inputs (checkpoint folder files, step notation and
flags, calibration files) through the real CLI in a separate process with a memory limit and a time limit per input.
Every input ends in success or in one `error:` line with a nonzero exit code: never a traceback, a hang, or memory
beyond the limit. `--check-only` runs everything a run does before loading weights (what hostile files reach)."""

from __future__ import annotations

import json
import os
import resource
import select
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ROOT

DECODER = ROOT / "src" / "leaderboard" / "data" / "demo-decoder"
MEMORY_LIMIT = 6 * 1024**3  # address space; importing torch reserves about 2 GiB of it
ANSWER_SECONDS = 60  # per input (the machine may be busy); a hang fails the test, it does not stall the suite
FUZZ = settings(max_examples=int(os.environ.get("LEADERBOARD_FUZZ_EXAMPLES", "20")), deadline=None,
                derandomize="LEADERBOARD_FUZZ_EXAMPLES" not in os.environ,  # CI: the same examples every run
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


class Worker:
    def __init__(self) -> None:
        def limits() -> None:
            resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
               "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error"}
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "fuzz_worker.py")], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, preexec_fn=limits,
                                     text=True)
        assert self._answer(300).get("ready")

    def _answer(self, timeout: float) -> dict:
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            self.proc.kill()
            pytest.fail(f"no answer within {timeout:g} s (a hang)")
        line = self.proc.stdout.readline()
        if not line:
            code = self.proc.wait()
            pytest.fail(f"the process died (exit {code}): memory beyond {MEMORY_LIMIT:,} bytes or a crash")
        return json.loads(line)

    def run(self, argv: list[str]) -> dict:
        self.proc.stdin.write(json.dumps(argv) + "\n")
        self.proc.stdin.flush()
        return self._answer(ANSWER_SECONDS)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@pytest.fixture(scope="module")
def worker():
    w = Worker()
    yield w
    w.close()


def assert_clean(answer: dict, argv: list[str]) -> None:
    """Success, or one `error:` line and exit code 1 or 2; never a traceback."""
    assert answer["traceback"] is None, f"{argv}\n{answer['traceback']}"
    err = answer["stderr"]
    assert "Traceback" not in err + answer["stdout"], (argv, err)
    if answer["rc"] == 0:
        return
    assert answer["rc"] in (1, 2), (argv, answer)
    errors = [line for line in err.splitlines() if line.startswith("error:") or ": error: " in line]
    assert len(errors) == 1, (argv, err)


json_scalars = (st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False, allow_infinity=False)
                | st.text(max_size=30))
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=12)
QC_FIELDS = ["bits", "group_size", "sym", "desc_act", "zero_point", "w_bit", "q_group_size", "load_in_4bit",
             "load_in_8bit", "bnb_4bit_quant_type", "config_groups", "ignore", "format"]
quant_configs = st.fixed_dictionaries(
    {"quant_method": st.sampled_from(["gptq", "awq", "bitsandbytes", "compressed-tensors"]) | json_scalars},
    optional={k: json_values | st.integers(-8, 16) | st.sampled_from([True, False, "true", "false", "nf4"])
              for k in QC_FIELDS})
CONFIG_KEYS = ["num_hidden_layers", "hidden_size", "vocab_size", "num_attention_heads", "intermediate_size",
               "max_position_embeddings", "architectures", "model_type", "num_key_value_heads", "tie_word_embeddings",
               "torch_dtype", "rope_scaling", "head_dim"]
MODIFIERS = ["SparseGPTModifier", "WandaPruningModifier", "GPTQModifier", "QuantizationModifier", "SmoothQuantModifier",
             "AWQModifier", "Other"]
BOMB = "\n".join(["a: &a [x, x, x, x, x, x, x, x, x]"]
                 + [f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]" for i in range(8)])
KINDS = ["regular", "fifo", "folder", "dev-zero", "missing"]


def _place(path: Path, kind: str, data: bytes) -> None:
    if path.is_file() or path.is_symlink():
        path.unlink()
    if kind == "regular":
        path.write_bytes(data)
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "folder":
        path.mkdir()
    elif kind == "dev-zero":
        path.symlink_to("/dev/zero")


@st.composite
def checkpoint_folders(draw) -> dict:
    """What a hostile checkpoint folder holds: config.json fields replaced by any JSON (sizes, quantization_config),
    a recipe.yaml (typed or random, an alias bomb), a demo_model.json marker, or any of them not a regular file."""
    config = json.loads((DECODER / "config.json").read_text())
    for key in draw(st.lists(st.sampled_from(CONFIG_KEYS), max_size=3, unique=True)):
        config[key] = draw(json_values | st.integers(0, 10**8))
    if draw(st.booleans()):
        config["quantization_config"] = draw(quant_configs)
    recipe = draw(st.none() | st.just(BOMB + "\nstage: {g: {SparseGPTModifier: {sparsity: 0.5}, x: *i}}\n")
                  | st.dictionaries(st.sampled_from(MODIFIERS), st.none() | st.dictionaries(
                      st.sampled_from(["sparsity", "mask_structure", "smoothing_strength", "targets"]), json_values,
                      max_size=3), max_size=3).map(lambda mods: json.dumps({"stage": {"group": mods}}))
                  | st.text(max_size=200))
    marker = draw(st.sampled_from(["keep", "delete"]) | json_values.map(json.dumps))
    raw = draw(st.none() | st.binary(max_size=200))  # sometimes config.json is not JSON at all
    return {"config": raw if raw is not None else json.dumps(config).encode(), "recipe": recipe, "marker": marker,
            "kinds": {name: draw(st.sampled_from(KINDS)) if draw(st.integers(0, 9)) == 0 else "regular"
                      for name in ("config.json", "recipe.yaml", "demo_model.json")}}


@given(case=checkpoint_folders())
@FUZZ
def test_fuzz_checkpoint_folders(worker, case) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = Path(tmp) / "ckpt"
        shutil.copytree(DECODER, ckpt)
        files = {"config.json": case["config"], "recipe.yaml": case["recipe"],
                 "demo_model.json": None if case["marker"] == "delete" else
                 (DECODER / "demo_model.json").read_text() if case["marker"] == "keep" else case["marker"]}
        for name, data in files.items():
            if data is None:
                (ckpt / name).unlink(missing_ok=True)
                continue
            _place(ckpt / name, case["kinds"][name], data if isinstance(data, bytes) else data.encode())
        argv = ["run", "--model", str(ckpt), "--eval", "lama:trex", "--lama-dir", "builtin:lama-sample", "--check-only",
                "--out", str(Path(tmp) / "runs")]
        assert_clean(worker.run(argv), argv)


KEYS = ["criterion", "sparsity", "scope", "granularity", "n", "m", "scheme", "bits", "group_size", "asymmetric",
        "method", "type", "dim", "norm", "smoothing_strength"]
VALUES = ["l1", "random", "wanda", "sparsegpt", "n:m", "gptq", "rtn", "bnb-nf4", "all", "attention", "mlp", "local",
          "global", "per_row", "per_group", "true", "false", "0.5", "1_0", "inf", "nan", "-1", "4", "128", "1e-3", "",
          "=", "ä", "0x10"]
notation_values = st.sampled_from(VALUES) | st.text(max_size=12)


@st.composite
def step_texts(draw) -> str:
    method = draw(st.sampled_from(["prune", "quantize"]) | st.text(max_size=8))
    pairs = draw(st.lists(st.tuples(st.sampled_from(KEYS) | st.text(max_size=6), notation_values), max_size=5))
    sep = draw(st.sampled_from([",", ", ", ",,"]))
    return f"{method}:" + sep.join(f"{k}={v}" for k, v in pairs)


option_values = (st.integers(-(2**64), 2**64).map(str) | st.text(max_size=20)
                 | st.text(max_size=5).map(lambda t: "-" + t))


@given(steps=st.lists(step_texts(), max_size=3), options=st.dictionaries(
    st.sampled_from(["--seed", "--limit", "--batch-size", "--calibration-samples", "--calibration-seq-len",
                     "--model-id", "--relations", "--base-model", "--num-fewshot", "--candidates", "--subset",
                     "--dtype", "--device"]), option_values, max_size=3),
       model=st.just(str(DECODER)) | st.text(max_size=30) | st.text(min_size=256, max_size=300))
@FUZZ
def test_fuzz_step_notation_and_flags(worker, steps, options, model) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        argv = [f"--model={model}", "--eval", "lama:trex", "--lama-dir", "builtin:lama-sample", "--check-only",
                "--out", str(Path(tmp) / "runs")]
        argv += [f"--compress={s}" for s in steps]
        argv += [f"{k}={v}" for k, v in options.items()]
        answer = worker.run(["run", *argv])
        assert_clean(answer, argv)


@given(data=st.binary(max_size=4000) | st.text(max_size=2000).map(str.encode), kind=st.sampled_from(KINDS),
       name=st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="/\x00"), min_size=1,
                    max_size=60).filter(lambda n: n not in (".", "..")),
       samples=st.integers(-5, 3 * 10**6), seq_len=st.integers(-5, 3 * 10**6),
       method=st.sampled_from(["wanda", "sparsegpt", "wanda-oneshot"]))
@FUZZ
def test_fuzz_calibration_files(worker, data, kind, name, samples, seq_len, method) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        try:
            path = Path(tmp) / name
            _place(path, kind, data)
        except OSError:  # a name this file system cannot hold (too long in bytes): nothing to test
            return
        argv = ["run", "--model", str(DECODER), "--eval", "lama:trex", "--lama-dir", "builtin:lama-sample",
                "--compress", f"prune:criterion={method},sparsity=0.5", f"--calibration={path}",
                f"--calibration-samples={samples}", f"--calibration-seq-len={seq_len}", "--check-only",
                "--out", str(Path(tmp) / "runs")]
        assert_clean(worker.run(argv), argv)
