"""The llm-compressor methods (SparseGPT, Wanda, GPTQ, RTN, SmoothQuant) on tiny Llama, OPT and GPT-2 checkpoints:
patterns exact, sparsity as requested, at most 2^bits levels per group, stored size as the format
packs it, the model still runs; clear errors where a method cannot run; the CLI end to end."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from leaderboard import models, tiny
from leaderboard.cli import main
from leaderboard.compress import registry as methods
from leaderboard.compress.base import UnsupportedScheme
from leaderboard.compress.calibration import CalibrationData, CalibrationError, describe, read_text
from leaderboard.compress.pipeline import compress
from leaderboard.compress.scopes import as_out_in, resolve
from leaderboard.compress.stored import compressed_module_bytes
from leaderboard.runner import RunSpec, SpecError, check, parse_step
from leaderboard.schema import SCHEMA_VERSION, RunFile
from leaderboard.validate import validate_paths

CPU = torch.device("cpu")
DECODERS = ("llama", "opt", "gpt2")
SAMPLES, SEQ_LEN = 4, 16
_, TEXT = read_text("builtin:default")
WORDS = sorted({w for w in TEXT.split()})


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    """Tiny checkpoints saved to folders (llm-compressor re-reads the config from there)."""
    root = tmp_path_factory.mktemp("tiny")
    out = {}
    for arch in (*DECODERS, "t5", "bert"):
        tok = tiny.word_tokenizer(WORDS, arch)
        models.save(tiny.tiny_model(arch, vocab_size=len(tok)), tok, root / arch)
        out[arch] = root / arch
    return out


def _load(folder: Path):
    lm = models.load(str(folder), device="cpu")
    return lm.model, lm.tokenizer, lm.family


def _run(folder: Path, text: str):
    model, tok, family = _load(folder)
    step = parse_step(text)
    info = describe("builtin:default", SAMPLES, SEQ_LEN)
    if "calibration" in type(step).model_fields:
        step = step.model_copy(update={"calibration": info})
    ids = torch.arange(5, 25).view(2, 10)
    with torch.no_grad():
        ref = model(input_ids=ids).logits
    result = compress(model, [step], device=CPU, calibration=CalibrationData.load("builtin:default", info),
                      tokenizer=tok, family=family)
    with torch.no_grad():
        out = model(input_ids=ids).logits
    assert torch.isfinite(out).all() and out.std() > 0  # still runs, not constant
    assert not torch.equal(out, ref)  # and something changed
    return model, result


@pytest.mark.parametrize("arch", DECODERS)
@pytest.mark.parametrize("criterion", ["sparsegpt", "wanda"])
def test_n_m_pattern_is_exact(folders, arch, criterion) -> None:
    model, r = _run(folders[arch], f"prune:criterion={criterion},n=2,m=4")
    for name, mod in resolve(model, "all").items():
        w = as_out_in(mod)
        nonzero = (w != 0).reshape(w.shape[0], -1, 4).sum(-1)
        assert (nonzero <= 2).all(), name
    assert r.sparsity["all"] == pytest.approx(0.5, abs=1e-9)
    assert r.kernels is None and r.stored_bytes is None  # pruning only: the in-memory size is the stored size


def _at_most_n_of_every_m(model, n: int, m: int) -> None:
    for name, mod in resolve(model, "all").items():
        w = as_out_in(mod)
        nonzero = (w != 0).reshape(w.shape[0], -1, m).sum(-1)
        assert (nonzero <= n).all(), f"{name}: up to {int(nonzero.max())} non-zeros in a block of {m}"


@pytest.mark.parametrize("criterion", ["sparsegpt", "wanda", "n:m"])
@pytest.mark.parametrize(("n", "m"), [(1, 4), (2, 4), (4, 8), (3, 4)])
def test_n_m_keeps_n_of_every_m_whatever_the_library(folders, criterion, n, m) -> None:
    """Our n:m keeps at most n non-zeros in every m inputs (sparsity 1 - n/m); llm-compressor's
    mask_structure 'N:M' prunes N of every M. 2:4 and 4:8 read the same either way; 1:4 and 3:4 do not."""
    model, r = _run(folders["llama"], f"prune:criterion={criterion},n={n},m={m}")
    _at_most_n_of_every_m(model, n, m)
    assert r.sparsity["all"] == pytest.approx(1 - n / m, abs=1e-9)


def test_mask_structure_is_llm_compressors_prune_n_of_m() -> None:
    from leaderboard.compress.llmc import mask_structure, pattern_of

    assert [mask_structure(n, m) for n, m in [(1, 4), (2, 4), (3, 4), (4, 8), (None, None)]] == \
        ["3:4", "2:4", "1:4", "4:8", "0:0"]
    assert [pattern_of(s) for s in ("3:4", "1:4", "0:0")] == [(1, 4), (3, 4), None]
    with pytest.raises(ValueError, match="not 'N:M'"):
        pattern_of("4:4")


def test_an_n_m_checkpoint_reads_back_as_the_pattern_it_keeps(folders, tmp_path) -> None:
    """SparseGPT 1:4 (keep 1 of 4) saved by llm-compressor: recipe.yaml says mask_structure '3:4' (prune 3 of 4);
    the step read back is n=1, m=4, sparsity 0.75, which is what the weights measure."""
    from leaderboard.compress.checkpoint import steps_from_config
    from leaderboard.compress.measure import scope_sparsity
    from leaderboard.runner import step_text

    model, _r = _run(folders["llama"], "prune:criterion=sparsegpt,n=1,m=4")
    model.save_pretrained(tmp_path / "pruned", save_compressed=True)
    _load(folders["llama"])[1].save_pretrained(tmp_path / "pruned")
    assert "mask_structure: '3:4'" in (tmp_path / "pruned" / "recipe.yaml").read_text()
    steps, relation = steps_from_config(model.config, tmp_path / "pruned", set())
    assert [step_text(s) for s in steps] == ["prune:criterion=sparsegpt,scope=all,granularity=local,sparsity=0.75,n=1,m=4"]
    assert relation == "pruned"
    loaded = models.load(str(tmp_path / "pruned")).model
    assert scope_sparsity(resolve(loaded, "all")) == pytest.approx(steps[0].sparsity, abs=1e-9)
    _at_most_n_of_every_m(loaded, 1, 4)


@pytest.mark.parametrize("arch", DECODERS)
@pytest.mark.parametrize("criterion", ["sparsegpt", "wanda"])
def test_unstructured_sparsity_is_as_requested(folders, arch, criterion) -> None:
    _model, r = _run(folders[arch], f"prune:criterion={criterion},sparsity=0.55")
    assert abs(r.sparsity["all"] - 0.55) <= 0.005  # per row of 64 inputs: 35 of 64 zeroed


def _levels_per_group(w: torch.Tensor, group: int | None) -> int:
    rows = w if group is None else w.reshape(-1, group)
    return max(len(torch.unique(r)) for r in rows)


@pytest.mark.parametrize("arch", DECODERS)
@pytest.mark.parametrize(("text", "bits", "group"), [
    ("quantize:scheme=gptq,bits=4,granularity=per_group,group_size=32,asymmetric=false", 4, 32),
    ("quantize:scheme=rtn,bits=3,granularity=per_row,asymmetric=true", 3, None),
])
def test_quantized_weights_take_at_most_2_to_the_bits_values_and_pack_to_the_format(folders, arch, text, bits, group) -> None:
    model, r = _run(folders[arch], text)
    assert r.kernels == "simulated"
    for name, mod in resolve(model, "all").items():
        assert _levels_per_group(as_out_in(mod), group) <= 2**bits, name
        # stored: packed integers (bits per weight, padded to whole int32 words per row), one scale per row
        # or group, and a zero point per row/group when asymmetric
        out_f, in_f = mod.weight.shape
        n_scales = out_f * (in_f // group if group else 1)
        asym = "asymmetric=true" in text
        packed = out_f * math.ceil(in_f * bits / 32) * 4
        scales = n_scales * mod.weight.element_size()
        zeros = math.ceil(n_scales * bits / 32) * 4 if asym else 0
        bias = mod.bias.numel() * mod.bias.element_size() if mod.bias is not None else 0
        got = compressed_module_bytes(mod) - bias
        assert packed + scales <= got <= packed + scales + zeros + 16, name  # + the weight_shape record
        assert got * 8 / mod.weight.numel() < bits + 2
    assert r.stored_bytes < r.weight_bytes and r.stored_bits_per_weight < r.bits_per_weight


@pytest.mark.parametrize("arch", ["t5", "bert"])
def test_llm_compressor_methods_refuse_other_families_clearly(folders, arch) -> None:
    model, tok, family = _load(folders[arch])
    with pytest.raises(UnsupportedScheme, match=f"runs on decoder models .*this model is an {family}"):
        compress(model, [parse_step("prune:criterion=sparsegpt,sparsity=0.5")], device=CPU, tokenizer=tok, family=family)


@pytest.mark.parametrize("text", ["quantize:scheme=fp8", "quantize:scheme=awq,bits=4", "quantize:scheme=torchao-int4"])
def test_gpu_only_methods_refuse_cpu_before_loading(folders, text) -> None:
    spec = RunSpec(model=str(folders["llama"]), evals=["lama:trex"], compression=[parse_step(text)], device="cpu")
    with pytest.raises(SpecError, match="runs on cuda.*this run's device is cpu"):
        check(spec)


def test_calibration_set_too_short_or_missing_is_a_clear_error(folders, tmp_path) -> None:
    with pytest.raises(CalibrationError, match="not a file"):
        describe(str(tmp_path / "nope.txt"), 4, 16)
    with pytest.raises(CalibrationError, match="no such built-in set"):
        describe("builtin:c4", 4, 16)
    with pytest.raises(CalibrationError, match="the text has 8,708 bytes"):  # before any model is loaded
        describe("builtin:default", 10_000, 512)
    model, tok, family = _load(folders["opt"])
    info = describe("builtin:default", 16, 512)  # fits the text's bytes, not this tokenizer's tokens
    data = CalibrationData.load("builtin:default", info)
    data.tokenizer = tok
    with pytest.raises(CalibrationError, match="gives .* sequences of 512 tokens"):
        data.sequences()


def test_run_end_to_end_records_calibration_stored_size_and_simulation(folders, tmp_path, capsys) -> None:
    from test_harness import _tasks

    tasks = _tasks(tmp_path / "tasks")
    own = tmp_path / "my-text.txt"
    own.write_text(TEXT[:4000], encoding="utf-8")
    base = ["run", "--model", str(folders["llama"]), "--eval", "lm-eval:boolq_local", "--lm-eval-include", str(tasks),
            "--limit", "8", "--out", str(tmp_path / "runs"), "--no-progress",
            "--calibration-samples", "4", "--calibration-seq-len", "16"]
    assert main([*base, "--compress", "quantize:scheme=gptq,bits=4,granularity=per_row,asymmetric=true"]) == 0
    assert main([*base, "--compress", "quantize:scheme=gptq,bits=4,granularity=per_row,asymmetric=true",
                 "--calibration", str(own)]) == 0
    files = sorted((tmp_path / "runs").rglob("*.json"))
    assert len(files) == 2 and validate_paths([tmp_path / "runs"]).errors == []
    runs = [RunFile.model_validate_json(f.read_text()) for f in files]
    cals = {r.compression[0].calibration.name: r for r in runs}
    assert set(cals) == {"builtin:austen", "my-text.txt"}  # the default set; a different set is a different run
    r = cals["builtin:austen"]
    assert r.schema_version == SCHEMA_VERSION and r.compression[0].calibration.samples == 4
    assert r.compression[0].calibration.seq_len == 16 and len(r.compression[0].calibration.sha256) == 64
    assert r.measured.kernels == "simulated" and r.measured.stored_bytes < r.measured.weight_bytes
    assert "--calibration builtin:austen --calibration-samples 4 --calibration-seq-len 16" in r.provenance.command
    assert "llmcompressor" in r.provenance.libraries
    data = json.loads(files[0].read_text())
    assert data["compression"][0]["scheme"] == "gptq" and data["compression"][0]["bits"] == 4


def test_every_registered_method_has_a_distinct_key_and_an_example_that_parses() -> None:
    keys = [m.key for m in methods.all_methods()]
    assert len(keys) == len(set(keys))
    for m in methods.all_methods():
        if m.example:
            step = parse_step(m.example)
            assert methods.method_of(step) is m


def test_a_checkpoint_saved_compressed_runs_with_its_steps_and_lineage(folders, tmp_path) -> None:
    """llm-compressor's own save_pretrained(save_compressed=True) output, read back: the run records the GPTQ
    step from the checkpoint's config and recipe, does not apply it again, and is compared with its base."""
    from test_harness import _tasks

    model, tok, family = _load(folders["llama"])
    info = describe("builtin:default", SAMPLES, SEQ_LEN)
    step = parse_step("quantize:scheme=gptq,bits=4,granularity=per_group,group_size=32,asymmetric=true")
    compress(model, [step.model_copy(update={"calibration": info})], device=CPU,
             calibration=CalibrationData.load("builtin:default", info), tokenizer=tok, family=family)
    ids = torch.arange(5, 25).view(2, 10)
    with torch.no_grad():
        simulated = model(input_ids=ids).logits
    qdir = tmp_path / "tiny-llama-gptq"
    model.save_pretrained(qdir, save_compressed=True)
    tok.save_pretrained(qdir)
    assert json.loads((qdir / "config.json").read_text())["quantization_config"]["quant_method"] == "compressed-tensors"

    loaded = models.load(str(qdir))
    with torch.no_grad():  # the packed checkpoint computes what the simulation computed
        assert torch.allclose(loaded.model(input_ids=ids).logits, simulated, atol=1e-4)

    tasks, runs = _tasks(tmp_path / "tasks"), tmp_path / "runs"
    common = ["--eval", "lm-eval:boolq_local", "--lm-eval-include", str(tasks), "--limit", "8", "--out", str(runs),
              "--no-progress"]
    assert main(["run", "--model", str(folders["llama"]), "--model-id", "org/tiny-llama", *common]) == 0
    assert main(["run", "--model", str(qdir), "--model-id", "org/tiny-llama-gptq", "--base-model", "org/tiny-llama",
                 *common]) == 0
    assert validate_paths([runs]).errors == []
    (path,) = [p for p in runs.rglob("*.json") if "gptq" in str(p)]
    run = RunFile.model_validate_json(path.read_text())
    (got,) = run.compression
    assert (got.scheme, got.bits, got.granularity, got.group_size, got.asymmetric) == ("gptq", 4, "per_group", 32, True)
    assert got.calibration is None  # not stated by the checkpoint
    lin = run.model.lineage
    assert (lin.base, lin.relation, lin.steps_in_checkpoint, lin.read_from) == ("org/tiny-llama", "quantized", 1, "config")
    assert run.model.parameters == loaded.parameters or run.model.parameters > loaded.parameters  # unpacked count
    assert run.measured.kernels == "simulated" and run.measured.stored_bytes < run.measured.weight_bytes * 2
    assert "--compress" not in run.provenance.command and "--base-model org/tiny-llama" in run.provenance.command

    got, base = _retention_and_base(runs, tmp_path / "lb.duckdb", "org/tiny-llama-gptq", "acc", "org/tiny-llama")
    assert got[0] == base  # kept knowledge is measured against the base model's baseline


@pytest.mark.parametrize(("qc", "expected"), [
    ({"quant_method": "gptq", "bits": 4, "group_size": 128, "sym": False},
     "quantize:scheme=gptq,scope=all,bits=4,granularity=per_group,group_size=128,asymmetric=true"),
    ({"quant_method": "gptq", "bits": 3, "group_size": -1, "sym": True},
     "quantize:scheme=gptq,scope=all,bits=3,granularity=per_row,asymmetric=false"),
    ({"quant_method": "awq", "bits": 4, "group_size": 128, "zero_point": True},
     "quantize:scheme=awq,scope=all,bits=4,granularity=per_group,group_size=128,asymmetric=true"),
    ({"quant_method": "bitsandbytes", "load_in_4bit": True, "bnb_4bit_quant_type": "nf4"}, "quantize:scheme=bnb-nf4,scope=all"),
    ({"quant_method": "bitsandbytes", "load_in_8bit": True}, "quantize:scheme=bnb-int8,scope=all"),
])
def test_other_libraries_quantization_configs_read_as_steps(qc, expected) -> None:
    from types import SimpleNamespace

    from leaderboard.compress.checkpoint import steps_from_config
    from leaderboard.runner import step_text

    steps, relation = steps_from_config(SimpleNamespace(quantization_config=qc), None, set())
    assert [step_text(s) for s in steps] == [expected] and relation == "quantized"


def test_an_unknown_quantization_config_is_a_clear_error() -> None:
    from types import SimpleNamespace

    from leaderboard.compress.checkpoint import CheckpointError, steps_from_config

    with pytest.raises(CheckpointError, match="quant_method 'hqq'"):
        steps_from_config(SimpleNamespace(quantization_config={"quant_method": "hqq"}), None, set())


@pytest.mark.parametrize("arch", DECODERS)
def test_smoothquant_runs_on_cpu_smoothing_the_norms_and_quantizing_weights_to_int8(folders, arch) -> None:
    before, _, _ = _load(folders[arch])
    norms = {n: p.detach().clone() for n, p in before.named_parameters() if ("norm" in n or ".ln_" in n) and n.endswith("weight")}
    model, r = _run(folders[arch], "quantize:scheme=smoothquant,smoothing_strength=0.8")
    assert r.kernels == "simulated" and r.stored_bytes < r.weight_bytes
    after = dict(model.named_parameters())
    # the smoothing factors moved into the norms in front of the attention and MLP inputs
    assert sum(not torch.equal(after[n], w) for n, w in norms.items()) >= 2
    for name, mod in resolve(model, "all").items():
        assert _levels_per_group(as_out_in(mod), None) <= 2**8, name  # W8, one scale per output row


def test_smoothquant_smooths_gemma_where_its_mlp_reads_and_keeps_the_model_exact(tmp_path) -> None:
    """Smoothing alone (before any rounding) must leave a model's outputs as they were: it only moves a per-channel
    scale from a norm into the layers that read it. llm-compressor 0.14 maps Gemma 2 and 3 to Llama's pairs, which
    smooth post_attention_layernorm into the MLP; on Gemma that norm ends the attention branch and the MLP reads
    pre_feedforward_layernorm, so the model changed (the real Gemma 3 270M scored LAMA T-REx P@1 0.000 after it). Our
    mapping smooths the norm the MLP reads: the outputs stay the same; llm-compressor's own changes them."""
    import transformers as T
    from llmcompressor.modifiers.transform.smoothquant import SmoothQuantModifier

    from leaderboard.compress.base import StepContext
    from leaderboard.compress.llmc import SMOOTHQUANT_MAPPINGS, run_oneshot, smoothquant_mappings

    config = T.Gemma3TextConfig(vocab_size=len(WORDS) + 8, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                num_attention_heads=2, num_key_value_heads=1, head_dim=32, max_position_embeddings=128)
    torch.manual_seed(0)
    gemma = T.Gemma3ForCausalLM(config).eval()
    with torch.no_grad():  # norms that do something (a fresh Gemma norm's weight is 0: it multiplies by 1 + 0)
        for name, p in gemma.named_parameters():
            if name.endswith("layernorm.weight"):
                p.copy_(torch.rand_like(p) - 0.5)
    models.save(gemma, tiny.word_tokenizer(WORDS, "llama"), tmp_path / "gemma")
    step = parse_step("quantize:scheme=smoothquant,smoothing_strength=0.8")
    info = describe("builtin:default", SAMPLES, SEQ_LEN)
    step = step.model_copy(update={"calibration": info})
    ids = torch.arange(5, 25).view(2, 10)

    def smoothed(mappings_of) -> tuple[torch.Tensor, torch.Tensor]:
        model, tok, family = _load(tmp_path / "gemma")
        with torch.no_grad():
            before = model(input_ids=ids).logits
        cal = CalibrationData.load("builtin:default", info)
        cal.tokenizer, cal.family = tok, family  # as compress() sets them
        ctx = StepContext(model=model, device=CPU, family=family, tokenizer=tok, calibration=cal)
        names = [n for n, _ in model.named_modules()]
        modules = resolve(model, "all")
        run_oneshot(ctx, modules, step, lambda targets: [SmoothQuantModifier(smoothing_strength=0.8,
                                                                             mappings=mappings_of(targets, names))])
        with torch.no_grad():
            return before, model(input_ids=ids).logits

    assert smoothquant_mappings(list(resolve(_load(tmp_path / "gemma")[0], "all")), ["model.layers.0.pre_feedforward_layernorm"]) \
        == SMOOTHQUANT_MAPPINGS["gemma"]
    before, after = smoothed(smoothquant_mappings)
    assert torch.allclose(after, before, atol=1e-4, rtol=1e-4), (after - before).abs().max()
    before, after = smoothed(lambda targets, names: None)  # llm-compressor's own mapping for Gemma3ForCausalLM
    assert (after - before).abs().max() > 1e-2
    model, r = _run(tmp_path / "gemma", "quantize:scheme=smoothquant,smoothing_strength=0.8")  # and the whole W8A8 runs
    assert r.kernels == "simulated" and r.stored_bytes < r.weight_bytes


def test_a_step_that_cannot_run_on_this_model_is_one_line_from_the_cli(folders, tmp_path, capsys) -> None:
    # more tokens than the text has bytes: refused before loading (exit 2)
    rc = main(["run", "--model", str(folders["llama"]), "--eval", "lama:trex", "--no-progress",
               "--compress", "quantize:scheme=smoothquant", "--calibration-samples", "10000",
               "--calibration-seq-len", "512", "--out", str(tmp_path / "runs")])
    err = capsys.readouterr().err
    assert rc == 2 and "need 5,120,000 tokens" in err and "Traceback" not in err
    # found only after loading (enough bytes, too few tokens for this tokenizer): no traceback, no file
    rc = main(["run", "--model", str(folders["llama"]), "--eval", "lama:trex", "--no-progress",
               "--compress", "quantize:scheme=smoothquant", "--calibration", "builtin:default",
               "--calibration-samples", "16", "--calibration-seq-len", "512", "--out", str(tmp_path / "runs")])
    err = capsys.readouterr().err
    assert rc == 1 and "error: calibration set builtin:default gives" in err and "Traceback" not in err
    assert not list(tmp_path.rglob("*.json"))


def test_a_measured_sparsity_off_the_requested_one_is_one_line_from_the_cli_and_no_file(folders, tmp_path, capsys) -> None:
    """Wanda prunes int(inputs * s) weights per row: on 64-input layers 0.51 zeroes 32 of 64, so the model
    measures about 0.502, not 0.51. More than half a percentage point apart: an error, not a run file
    (before, the run file was written and the validator only warned)."""
    from test_harness import _tasks

    rc = main(["run", "--model", str(folders["llama"]), "--eval", "lm-eval:boolq_local", "--lm-eval-include",
               str(_tasks(tmp_path / "tasks")), "--limit", "4", "--no-progress",
               "--compress", "prune:criterion=wanda,sparsity=0.51", "--calibration-samples", str(SAMPLES),
               "--calibration-seq-len", str(SEQ_LEN), "--out", str(tmp_path / "runs")])
    err = capsys.readouterr().err
    assert rc == 1 and "Traceback" not in err
    assert "error: step 0 (wanda) requested sparsity 0.5100 of scope 'all' but 0.50" in err
    assert "more than 0.5 percentage point apart; refusing to record it" in err
    assert not list(tmp_path.rglob("*.json"))


def test_a_distilled_model_is_compared_with_its_base(tmp_path) -> None:
    """Lineage without compression steps: a DistilBERT-shaped student of the demo BERT (random weights, the
    teacher's tokenizer) names its base with --base-model; the run records relation 'distilled' and no steps,
    and its knowledge kept is measured against the base model's baseline."""
    import transformers as T

    from leaderboard import bundled

    teacher = bundled.models()["builtin:demo-model"]
    tok = T.AutoTokenizer.from_pretrained(teacher)
    student = tmp_path / "tiny-distilbert"
    models.save(tiny.tiny_model("distilbert", vocab_size=len(tok)), tok, student)
    runs = tmp_path / "runs"
    common = ["--eval", "lama:trex", "--lama-dir", "builtin:lama-sample", "--limit", "50", "--out", str(runs),
              "--no-progress"]
    assert main(["run", "--model", "builtin:demo-model", *common]) == 0
    assert main(["run", "--model", str(student), "--model-id", "org/tiny-distilbert",
                 "--base-model", "compression-leaderboard/demo-bert-trex", *common]) == 0
    assert validate_paths([runs]).errors == []
    (path,) = [p for p in runs.rglob("*.json") if "distilbert" in str(p)]
    run = RunFile.model_validate_json(path.read_text())
    assert run.compression == [] and run.model.lineage is not None
    assert (run.model.lineage.base, run.model.lineage.relation, run.model.lineage.steps_in_checkpoint) == \
        ("compression-leaderboard/demo-bert-trex", "distilled", 0)
    assert "--base-model compression-leaderboard/demo-bert-trex" in run.provenance.command
    got, base = _retention_and_base(runs, tmp_path / "lb.duckdb", "org/tiny-distilbert", "precision@1",
                                    "compression-leaderboard/demo-bert-trex")
    assert got[0] == base  # compared with the teacher's uncompressed run
    assert got[1] < 0.5  # a random-weight student keeps little of what the teacher knows


def _retention_and_base(runs: Path, db: Path, model_id: str, metric: str, base_id: str) -> tuple[tuple, str]:
    """Ingest ``runs``: (baseline_run_id, retention) of ``model_id``'s result, and the run_id of ``base_id``'s run."""
    from leaderboard.store import connect, ingest

    ingest(runs, db)
    con = connect(db, read_only=True)
    try:
        got = con.execute("SELECT baseline_run_id, retention FROM retention WHERE model_id = ? AND metric = ?",
                          [model_id, metric]).fetchone()
        base = con.execute("SELECT run_id FROM runs WHERE model_id = ?", [base_id]).fetchone()
    finally:
        con.close()
    assert got is not None and base is not None
    return got, base[0]
