"""The shared run settings are one model (run_settings.RunSettings): ``leaderboard run``'s flags and the recorded
command are generated from it; a RunSpec is frozen and ``check`` returns the complete one; a run leaves its caller's
random state as it was."""

from __future__ import annotations

import dataclasses
import json
import random
import shlex
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import ROOT
from leaderboard.cli import build_parser, run_spec_from_args
from leaderboard.runner import check, make_spec, planned_paths, reproduce_command


def _parse(command: str):
    argv = shlex.split(command)
    assert argv[:2] == ["leaderboard", "run"], command
    return run_spec_from_args(build_parser().parse_args(argv[1:]))


def test_a_field_added_to_the_settings_model_is_a_flag_and_is_recorded(tmp_path) -> None:
    """One edit (a field in RunSettings) gives the flag, its help and default in --help, the API keyword and its place
    in the recorded command: a copy of the package with that one field added, run in a fresh interpreter."""
    pkg = tmp_path / "src" / "leaderboard"
    shutil.copytree(ROOT / "src" / "leaderboard", pkg, ignore=shutil.ignore_patterns("__pycache__"))
    source = (pkg / "run_settings.py").read_text()
    anchor = "    relations: list[Relation] | None = Field("
    assert source.count(anchor) == 1
    field = ('    warmup_batches: Annotated[int, Strict(), Field(ge=0)] = Field(0, description="untimed batches '
             'before timing")\n')
    (pkg / "run_settings.py").write_text(source.replace(anchor, field + anchor))
    script = textwrap.dedent("""
        import contextlib, io, json, shlex
        from leaderboard.cli import build_parser, run_spec_from_args
        from leaderboard.runner import make_spec, reproduce_command
        help_text = io.StringIO()
        with contextlib.redirect_stdout(help_text), contextlib.suppress(SystemExit):
            build_parser().parse_args(["run", "--help"])
        spec = run_spec_from_args(build_parser().parse_args(
            ["run", "--model", "builtin:demo-model", "--eval", "lama:trex", "--warmup-batches", "3"]))
        command = reproduce_command(spec, "m", "lama:trex")
        back = run_spec_from_args(build_parser().parse_args(shlex.split(command)[1:]))
        plain = reproduce_command(make_spec("t", model="builtin:demo-model", evals=["lama:trex"]), "m", "lama:trex")
        api = make_spec("t", model="builtin:demo-model", evals=["lama:trex"], warmup_batches=2).warmup_batches
        print(json.dumps({"help": help_text.getvalue(), "command": command, "back": back.warmup_batches,
                          "plain": plain, "api": api}))
    """)
    env = {"PYTHONPATH": str(tmp_path / "src"), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin",
           "HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert "--warmup-batches WARMUP_BATCHES" in out["help"]
    assert "untimed batches before timing (default: 0)" in " ".join(out["help"].split())
    assert "--warmup-batches 3" in out["command"] and out["back"] == 3
    assert "--warmup-batches" not in out["plain"]  # the default is left out, as for every "changed" setting
    assert out["api"] == 2


def test_every_shared_setting_is_in_run_help_with_its_default(capsys) -> None:
    from leaderboard.run_settings import run_flags

    with pytest.raises(SystemExit):
        build_parser().parse_args(["run", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for f in run_flags():
        assert f.flag in text and f.help.replace("%%", "%").split("(default")[0].split()[0] in text
        if f.default is not None and f.const is None:
            assert f"(default: {f.default})" in text, f.flag


def test_a_run_spec_is_frozen_and_check_returns_the_complete_one() -> None:
    """Before: check() wrote the calibration set (and a checkpoint's lineage) into the spec it was given, and any
    field could be reassigned after the spec was checked."""
    spec = make_spec("t", model="builtin:demo-decoder", evals=["lama:trex"], lama_dir="builtin:lama-sample",
                     compression=["prune:criterion=wanda-oneshot,sparsity=0.5"], calibration="builtin:default",
                     calibration_samples=4, calibration_seq_len=32, limit=2, device="cpu")
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.seed = 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.compression = []
    checked = check(spec)
    assert spec.compression[0].calibration is None  # the given spec is unchanged
    cal = checked.spec.compression[0].calibration
    assert cal is not None and (cal.name, cal.samples, cal.seq_len) == ("builtin:default", 4, 32)
    assert checked.spec.seed == spec.seed and checked.spec.evals == spec.evals
    # the complete spec is what the run records: its command gives the calibration set, the given one's does not
    assert "--calibration builtin:default" in reproduce_command(checked.spec, "m", "lama:trex")
    assert "--calibration" not in reproduce_command(spec, "m", "lama:trex")


def _committed(pattern_ok) -> list[Path]:
    out = []
    for p in sorted((ROOT / "runs").rglob("*.json")):
        data = json.loads(p.read_text())
        command = data.get("provenance", {}).get("command")
        if command and pattern_ok(data):
            out.append(p)
    return out


# the toy models' runs (their data and models ship with the package): old and new command formats alike
TOY = _committed(lambda d: d["model"].get("toy", False))


def test_there_are_committed_toy_commands_of_the_old_format() -> None:
    """(The toy runs were recorded naming the model by its id: the format before `--model builtin:NAME`; the
    round trip below records them again in today's.)"""
    commands = [json.loads(p.read_text())["provenance"]["command"] for p in TOY]
    assert len(commands) >= 12 and all("--model compression-leaderboard/" in c for c in commands)


@pytest.mark.slow
def test_committed_commands_give_their_run_id_again(tmp_path, monkeypatch) -> None:
    """Every committed toy run's recorded command, parsed by today's flags and checked, plans the run file with the
    run_id it has (nothing loaded: the run_id is known from the spec); and the command recorded for that spec does
    too."""
    monkeypatch.delenv("LEADERBOARD_LAMA_DIR", raising=False)
    monkeypatch.delenv("LEADERBOARD_BEAR_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    memo: dict = {}
    for path in TOY:
        data = json.loads(path.read_text())
        checked = check(_parse(data["provenance"]["command"]), memo)
        (task,) = checked.tasks
        assert planned_paths(checked)[task].stem == data["run_id"], path
        again = check(_parse(reproduce_command(checked.spec, data["model"]["id"], task)), memo)
        assert planned_paths(again)[task].stem == data["run_id"], path


def _rng_states() -> tuple:
    return torch.get_rng_state(), random.getstate(), np.random.get_state()


def _same_states(a: tuple, b: tuple) -> bool:
    return torch.equal(a[0], b[0]) and a[1] == b[1] and all(np.array_equal(x, y) if isinstance(x, np.ndarray) else
                                                            x == y for x, y in zip(a[2], b[2], strict=True))


@pytest.mark.slow
def test_an_api_run_leaves_the_callers_random_state_and_repeats_its_numbers() -> None:
    """Before: a run called torch.manual_seed(seed): a notebook's torch RNG was reseeded by every lb.run. Now the
    caller's torch, random and numpy states are the same after the run, and two runs with one seed give the same
    numbers (random pruning draws from the run's seed)."""
    import leaderboard as lb

    torch.manual_seed(12345)
    random.seed(7)
    np.random.seed(7)
    torch.rand(3)
    before = _rng_states()
    kwargs = dict(compress=["prune:criterion=random,sparsity=0.5"], lama_dir="builtin:lama-sample", limit=3,
                  device="cpu", seed=3)
    first = lb.run("builtin:demo-decoder", "lama:trex", **kwargs)
    assert _same_states(before, _rng_states())
    second = lb.run("builtin:demo-decoder", "lama:trex", **kwargs)
    assert first[0].run_id == second[0].run_id
    assert first[0].results == second[0].results and first[0].measured.sparsity == second[0].measured.sparsity
    other = lb.run("builtin:demo-decoder", "lama:trex", **{**kwargs, "seed": 4})
    assert other[0].run_id != first[0].run_id  # random pruning records its seed
