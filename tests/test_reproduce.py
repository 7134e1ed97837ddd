"""Recorded reproduce commands reproduce: every committed run's `provenance.command`, run verbatim on a
clean machine state, makes the same run_id with the same numbers; new runs record every setting and
where their data came from, so the environment cannot change what a command computes."""

from __future__ import annotations

import json
import shlex
import shutil
from pathlib import Path

import pytest

from conftest import ROOT
from leaderboard.cli import main
from leaderboard.reproduce import compare


def _cheap_to_redo(data: dict) -> bool:
    """The toy models' runs: seconds each. A real model's full-LAMA run takes CPU-minutes to tens of them; those are
    checked fact by fact on a sample of their facts instead (test_gguf: the real SmolLM2 against its baseline)."""
    return bool(data.get("provenance", {}).get("command")) and data["model"].get("toy", False)


COMMITTED = sorted(p for p in (ROOT / "runs").rglob("*.json") if _cheap_to_redo(json.loads(p.read_text())))


@pytest.fixture
def clean_machine(tmp_path, monkeypatch) -> Path:
    """An empty working folder, no LEADERBOARD_LAMA_DIR and no fetched LAMA copy in ~/.cache."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.delenv("LEADERBOARD_LAMA_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return work


def _run_verbatim(command: str) -> None:
    argv = shlex.split(command)
    assert argv[:2] == ["leaderboard", "run"], command
    assert main(argv[1:] + []) == 0, command  # verbatim: nothing added


def _only_run(folder: Path) -> dict:
    (path,) = list((folder / "runs").rglob("*.json"))
    return json.loads(path.read_text())


def test_there_are_committed_runs_with_commands() -> None:
    assert len(COMMITTED) >= 12


@pytest.mark.slow
@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: p.stem)
def test_every_committed_command_reproduces_verbatim(path, clean_machine) -> None:
    """Before: `--model compression-leaderboard/demo-bert-trex` failed ("not a local directory")."""
    published = json.loads(path.read_text())
    _run_verbatim(published["provenance"]["command"])
    c = compare(published, _only_run(clean_machine))
    assert c.ok, c.problems


def test_lama_command_names_its_data_so_the_environment_cannot_change_it(clean_machine, tmp_path, monkeypatch) -> None:
    """Before: with LEADERBOARD_LAMA_DIR set, a demo command ran on 16,742 facts instead of 1,000."""
    from leaderboard.evaluate.lama_data import packaged_root

    own = tmp_path / "my-lama"
    shutil.copytree(packaged_root(), own)
    monkeypatch.setenv("LEADERBOARD_LAMA_DIR", str(own))
    assert main(["run", "--model", "builtin:demo-model", "--eval", "lama:trex", "--relations", "P19,P36",
                 "--limit", "30", "--lama-pairs", "unique", "--no-progress"]) == 0
    first = _only_run(clean_machine)
    command = first["provenance"]["command"]
    assert f"--lama-dir {own}" in command and "--lama-pairs unique" in command and "--limit 30" in command
    assert first["evaluation"]["settings"]["pairs"] == "unique"
    # the same command elsewhere, with the variable pointing at other data, computes the same run
    monkeypatch.setenv("LEADERBOARD_LAMA_DIR", str(ROOT.parent / "shared" / "data" / "lama"))
    again = tmp_path / "again"
    again.mkdir()
    monkeypatch.chdir(again)
    _run_verbatim(command)
    assert compare(first, _only_run(again)).ok


def test_lm_eval_command_carries_fewshot_and_local_tasks(clean_machine, tmp_path) -> None:
    """Before: `provenance.command` left out --num-fewshot and --lm-eval-include."""
    from leaderboard import models, tiny
    from test_harness import WORDS, _tasks

    tok = tiny.word_tokenizer(WORDS + [str(i) for i in range(40)], "gpt2")
    folder = tmp_path / "tiny-gpt2"
    models.save(tiny.tiny_model("gpt2", vocab_size=len(tok), seed=5), tok, folder)
    tasks = _tasks(tmp_path / "tasks")
    assert main(["run", "--model", str(folder), "--eval", "lm-eval:piqa_local", "--lm-eval-include", str(tasks),
                 "--num-fewshot", "2", "--limit", "10", "--no-progress"]) == 0
    first = _only_run(clean_machine)
    command = first["provenance"]["command"]
    assert "--num-fewshot 2" in command and f"--lm-eval-include {tasks}" in command
    assert first["evaluation"]["settings"]["seeds"] == "0,1234,1234,1234"
    again = tmp_path / "again"
    again.mkdir()
    import os

    os.chdir(again)
    _run_verbatim(command)
    assert compare(first, _only_run(again)).ok
