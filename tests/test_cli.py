"""The `leaderboard` command as a person types it (in-process, real files)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import ROOT, place
from leaderboard import synthetic
from leaderboard.cli import main
from leaderboard.schema import SCHEMA_VERSION


def test_validate_text_output_and_exit_codes(tmp_path, capsys, baseline) -> None:
    good = place(tmp_path / "runs", baseline)
    assert main(["validate", str(tmp_path / "runs")]) == 0
    assert "1 file(s) checked: 0 error(s), 0 warning(s)" in capsys.readouterr().err
    good.write_text(good.read_text().replace('"family": "encoder"', '"family": "rnn"'))
    assert main(["validate", str(good)]) == 1
    out = capsys.readouterr()
    assert out.out == f"{good}: /model/family: Input should be 'encoder', 'encoder-decoder' or 'decoder'\n"


def test_validate_json_and_github_formats(tmp_path, capsys) -> None:
    bad = tmp_path / "x.json"
    bad.write_text('{"a": NaN}')
    assert main(["validate", "--format", "json", str(bad)]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report == {"files": 1, "errors": 1, "warnings": 0, "problems": [
        {"path": str(bad), "pointer": "/", "severity": "error", "message": "NaN is not valid JSON (numbers must be finite)"}],
        "corrections": []}
    assert main(["validate", "--format", "github", str(bad)]) == 1
    assert capsys.readouterr().out == f"::error file={bad},title=/::NaN is not valid JSON (numbers must be finite)\n"


def test_ingest_query_and_demo(tmp_path, capsys) -> None:
    runs, db = tmp_path / "runs", tmp_path / "b" / "db.duckdb"
    synthetic.write(synthetic.generate(30), runs)
    assert main(["ingest", str(runs), "--db", str(db)]) == 0
    assert "30 added, 0 updated, 0 removed, 0 unchanged" in capsys.readouterr().out
    import leaderboard.store

    with pytest.MonkeyPatch.context() as mp:  # an upgrade: the store was made by other code
        mp.setattr(leaderboard.store, "validator_fingerprint", lambda: "newer code")
        assert main(["ingest", str(runs), "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "made by another version of this code: every run file was loaded again" in out and "30 added" in out
    assert main(["query", "SELECT count(*) AS n FROM runs", "--db", str(db), "--format", "csv"]) == 0
    assert capsys.readouterr().out == "n\n30\n"
    assert main(["query", "SELECT nope", "--db", str(db)]) == 1
    assert "query failed" in capsys.readouterr().err


def test_demo_remakes_the_committed_runs_and_finds_they_reproduce(tmp_path, capsys) -> None:
    """The demo makes its 32 runs (two toy families, LAMA and BEAR) again in a scratch folder and compares them with the committed runs/
    (before, it found them done and skipped them: a newcomer never saw the runner work)."""
    import shutil

    runs, db = tmp_path / "runs", tmp_path / "db.duckdb"
    shutil.copytree(ROOT / "runs", runs)
    before = {p.relative_to(runs): p.read_bytes() for p in runs.rglob("*.json")}
    assert main(["demo", "--runs", str(runs), "--db", str(db), "--no-site"]) == 0
    out = capsys.readouterr().out
    assert {p.relative_to(runs): p.read_bytes() for p in runs.rglob("*.json")} == before  # nothing changed
    assert "32 run(s): 32 written, 0 already done, 0 failed; 2 model load(s)" in out
    assert "32/32 runs reproduce the published numbers" in out
    assert "DOES NOT REPRODUCE" not in out and "new run" not in out
    assert f"{len(before)} added, 0 updated" in out
    # a published number that the runner no longer makes is named (compared against the same scratch runs)
    from leaderboard.reproduce import compare_trees, summary_line

    victim = next(p for p in runs.rglob("*.json") if "demo-bert" in str(p) and '"sparsity": 0.9' in p.read_text()
                  and '"task": "lama:trex"' in p.read_text())
    data = json.loads(victim.read_text())
    data["results"][0]["metrics"]["precision@1"]["value"] += 0.05
    victim.write_text(json.dumps(data, indent=2))
    comparisons, new = compare_trees(runs, tmp_path / "demo-rerun" / "runs")
    assert new == [] and summary_line(comparisons).startswith("31/32 runs reproduce the published numbers")
    (bad,) = [c for c in comparisons if not c.ok]
    assert bad.path == victim.relative_to(runs).as_posix() and "precision@1" in bad.problems[0]
    assert "uncompressed baseline" in out and "global magnitude (L1) pruning 90% of all" in out


def test_query_without_database_says_what_to_do(tmp_path, capsys) -> None:
    assert main(["query", "SELECT 1", "--db", str(tmp_path / "none.duckdb")]) == 2
    assert "run `leaderboard ingest` first" in capsys.readouterr().err


def test_ingest_refusal_is_reported(tmp_path, capsys) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    (runs / "bad.json").write_text("[]")
    assert main(["ingest", str(runs), "--db", str(tmp_path / "db.duckdb")]) == 1
    err = capsys.readouterr().err
    assert f"{runs}/bad.json: /: a run file is one JSON object" in err and "is unchanged" in err


def test_schema_command_prints_the_committed_schema(capsys) -> None:
    assert main(["schema"]) == 0
    assert capsys.readouterr().out == (ROOT / "schema" / f"run-{SCHEMA_VERSION}.schema.json").read_text()


def test_synthetic_refuses_the_project_runs_folder(tmp_path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    with pytest.raises(ValueError, match="refusing to write synthetic runs"):
        synthetic.write(synthetic.generate(1), tmp_path / "runs")


def test_console_script_is_installed() -> None:
    res = subprocess.run([sys.executable, "-m", "leaderboard.cli", "--version"], capture_output=True, text=True)
    assert res.returncode == 0 and res.stdout.startswith("leaderboard 0.")


def test_probe_error_is_one_line_not_a_traceback(tmp_path, capsys) -> None:
    """A masked LM whose tokenizer has no mask token cannot be probed: found once the model is loaded, said in
    one line (it printed a traceback)."""
    from leaderboard.tiny import tiny_model, word_tokenizer

    folder = tmp_path / "no-mask-bert"
    tok = word_tokenizer(["Paris", "France", "is", "the", "capital", "of"], "gpt2")  # a tokenizer without [MASK]
    tiny_model("bert", vocab_size=len(tok)).save_pretrained(folder)
    tok.save_pretrained(folder)
    rc = main(["run", "--model", str(folder), "--eval", "lama:trex", "--lama-dir", "builtin:lama-sample",
               "--relations", "P19", "--device", "cpu", "--no-progress", "--out", str(tmp_path / "runs")])
    err = capsys.readouterr().err
    assert rc == 1 and "Traceback" not in err and "mask token" in err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert errors == [err.strip().splitlines()[-1]] and not list((tmp_path / "runs").rglob("*.json"))
