"""Issue 12: a hostile pull request or an unlucky user, tried for real (git repos, files, DuckDB).

Each test is one attack from the issue; every one must end in a clear error naming the file and the
field (nonzero exit code), or in correct, unchanged published results. Nothing here mocks our own code.
"""

from __future__ import annotations

import base64
import copy
import gzip
import json
import os
import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest

from conftest import ROOT, place, with_run_id
from leaderboard.cli import main
from leaderboard.schema import RunFile, canonical_path, encode_facts
from leaderboard.store import ingest
from leaderboard.validate import validate_paths

ENV = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
       "GIT_COMMITTER_EMAIL": "t@t"}
SLUG = "compression-leaderboard--demo-bert-trex"
PUBLISHED = ROOT / "runs" / "encoder" / SLUG


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True, env=ENV).stdout


@pytest.fixture
def repo(tmp_path) -> Path:
    """A repository whose main branch publishes the committed runs (and has code beside them)."""
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "runs", repo / "runs")
    (repo / "mkdocs.yml").write_text("site_name: x\n")
    (repo / "README.md").write_text("readme\n")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "published")
    git(repo, "checkout", "-qb", "pr")
    return repo


def run_cli(args: list[str], cwd: Path, capsys) -> tuple[int, str]:
    old = os.getcwd()
    os.chdir(cwd)
    try:
        rc = main(args)
    finally:
        os.chdir(old)
    cap = capsys.readouterr()
    return rc, cap.out + cap.err


def published(name: str = "9bc2dd34d613390d") -> dict:
    return json.loads((PUBLISHED / f"{name}.json").read_text())


def baseline_file() -> Path:
    return next(p for p in sorted(PUBLISHED.glob("*.json")) if not json.loads(p.read_text())["compression"])


def write_run(runs: Path, data: dict) -> Path:
    """Give ``data`` its run_id and write it at its canonical place."""
    return place(runs, with_run_id(data))


# --- 1. hiding published runs ------------------------------------------------------------------------


def test_moving_a_model_into_a_hidden_folder_behind_a_symlink_fails(repo, capsys) -> None:
    runs = repo / "runs"
    (runs / ".hidden").mkdir()
    (runs / "encoder" / SLUG).rename(runs / ".hidden" / SLUG)
    (runs / "encoder" / SLUG).symlink_to(Path("..") / ".hidden" / SLUG)
    rc, out = run_cli(["validate", "runs", "--base", "main"], repo, capsys)
    assert rc == 1
    assert "runs/.hidden: /: a hidden entry; a runs folder may not hold hidden files or folders" in out
    assert f"runs/encoder/{SLUG}: /: is a symbolic link" in out
    assert f"runs/encoder/{SLUG}/9bc2dd34d613390d.json: /: is no longer a regular file" in out
    rc, out = run_cli(["pr-check", "--runs", "runs", "--base", "main", "--work", str(repo.parent / "w")], repo, capsys)
    assert rc == 1 and "is a symbolic link" in out


def test_an_absolute_symlink_to_a_copy_outside_the_repo_fails(repo, tmp_path, capsys) -> None:
    runs = repo / "runs"
    outside = tmp_path / "elsewhere" / SLUG
    shutil.copytree(runs / "encoder" / SLUG, outside)
    shutil.rmtree(runs / "encoder" / SLUG)
    (runs / "encoder" / SLUG).symlink_to(outside)
    rc, out = run_cli(["validate", "runs", "--base", "main"], repo, capsys)
    assert rc == 1 and f"runs/encoder/{SLUG}: /: is a symbolic link" in out
    report = validate_paths([runs])  # without --base too: a link in runs/ is an error of its own
    assert any("symbolic link" in p.message for p in report.errors)


def test_file_links_fifos_and_deep_folders_are_errors(tmp_path) -> None:
    runs = tmp_path / "runs"
    shutil.copytree(ROOT / "runs", runs)
    folder = runs / "encoder" / SLUG
    target = folder / "9bc2dd34d613390d.json"
    copy_ = tmp_path / "copy.json"
    shutil.move(target, copy_)
    target.symlink_to(copy_)
    os.mkfifo(folder / "pipe.json")
    (folder / "deeper").mkdir()
    msgs = {(p.path, p.message.split(";")[0]) for p in validate_paths([runs]).errors}
    assert (str(target), "is a symbolic link") in msgs
    assert (str(folder / "pipe.json"), "is not a regular file or folder") in msgs
    assert (str(folder / "deeper"), "folder too deep: run files sit at <family>/<model-slug>/<run_id>.json") in msgs


# --- 2. re-basing published retention ------------------------------------------------------------------


def _tiny_baseline(p_at_1: float, **settings) -> dict:
    data = json.loads(baseline_file().read_text())
    data["evaluation"]["settings"].update(settings)
    tr = data["results"][0]
    tr.update(n=1, excluded=0)
    tr.pop("relations", None)
    tr.pop("facts", None)
    tr["metrics"] = {"precision@1": {"value": p_at_1, "scale": "fraction", "n": 1}}
    return data


def _retention(db: Path) -> dict[str, float | None]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute("SELECT run_id, retention FROM retention WHERE metric = 'precision@1' "
                           "AND task = eval_task").fetchall()
    finally:
        con.close()
    return dict(rows)


def test_an_added_baseline_with_other_settings_does_not_rebase_published_runs(repo, tmp_path, capsys) -> None:
    runs = repo / "runs"
    before = _retention(_ingested(runs, tmp_path / "before.duckdb"))
    attack = _tiny_baseline(0.001, limit=1)
    attack["provenance"]["started_at"] = "2026-11-24T00:00:00Z"
    attack["provenance"]["finished_at"] = "2026-11-24T00:00:01Z"  # later than every published baseline
    path = write_run(runs, attack)
    after = _retention(_ingested(runs, tmp_path / "after.duckdb"))
    assert {k: v for k, v in after.items() if k in before} == before
    assert max(v for v in before.values() if v is not None) < 2  # the published retention, e.g. 0.8, not 200
    rc, out = run_cli(["pr-check", "--runs", "runs", "--base", "main", "--work", str(tmp_path / "w")], repo, capsys)
    assert rc == 0, out
    assert "### New baselines for published models" in out and "compression-leaderboard/demo-bert-trex on lama:trex" in out
    assert "warning: new baseline for the published model" in out
    assert path.name in {p.name for p in (runs / "encoder" / SLUG).iterdir()}


def test_a_new_baseline_of_a_lineage_base_is_reported_as_a_rebase(repo, tmp_path, capsys) -> None:
    """Issue 20: a published GGUF run as distributed is compared with its lineage base's baseline; a pull request that
    adds only that baseline changes the published retention (none -> a number): pr-check says so, as it does for a
    new baseline of a run's own model."""
    derived_path = ROOT / "runs" / "decoder" / "smollm2-135m-instruct.q4_1.gguf" / "288a5df5bfb6142b.json"
    derived = json.loads(derived_path.read_text())
    base_id = derived["model"]["lineage"]["base"]
    data = copy.deepcopy(derived)
    data["model"] = {"id": base_id, "family": "decoder", "architecture": "LlamaForCausalLM",
                     "parameters": derived["model"]["parameters"]}
    data["compression"] = []
    data["measured"].pop("stored_bytes")
    data["measured"].pop("stored_bits_per_weight")
    data["measured"]["sparsity"] = {"all": 0.0}
    data["results"][0].pop("facts")
    data["results"][0]["metrics"]["precision@1"].update(value=0.2, ci={**derived["results"][0]["metrics"]["precision@1"]["ci"],
                                                                     "low": 0.195, "high": 0.205})
    path = write_run(repo / "runs", data)
    before = _retention(_ingested(repo / "runs", tmp_path / "after.duckdb"))
    assert before[derived["run_id"]] == pytest.approx(0.171017 / 0.2)  # the published run is re-based
    rc, out = run_cli(["pr-check", "--runs", "runs", "--base", "main", "--work", str(tmp_path / "w")], repo, capsys)
    assert rc == 0, out
    assert f"new baseline for {base_id} on lama:trex, the lineage base of the published SmolLM2-135M-Instruct.Q4_1.gguf" in out
    assert "### New baselines for published models" in out and "### Published runs that change" in out
    changed = out.split("### Published runs that change")[1]
    row = next(line for line in changed.splitlines() if "as distributed (GGUF Q4&#95;1" in line)
    assert row.startswith("| SmolLM2-135M-Instruct.Q4&#95;1.gguf |") and "| 0.171 | 0.171 | – | 0.855 |" in row
    assert path.is_file()


def _ingested(runs: Path, db: Path) -> Path:
    ingest(runs, db)
    return db


def test_a_baseline_from_the_future_or_before_year_1_is_refused(tmp_path) -> None:
    for stamp in ("2099-01-01T00:00:00Z", "0001-01-01T00:00:00+14:00"):
        data = _tiny_baseline(0.5)
        data["provenance"]["started_at"] = data["provenance"]["finished_at"] = stamp
        path = write_run(tmp_path / stamp[:4], data)
        errors = validate_paths([tmp_path / stamp[:4]]).errors
        assert [(p.path, p.pointer) for p in errors] == [(str(path), "/provenance/started_at"),
                                                          (str(path), "/provenance/finished_at")]
        assert "is not a plausible time of a run" in errors[0].message


def test_a_denormal_baseline_gives_no_retention(tmp_path, baseline, compressed) -> None:
    base = copy.deepcopy(baseline)
    tr = base["results"][0]
    tr["metrics"]["precision@1"] = {"value": 5e-324, "scale": "fraction", "n": 1700}
    place(tmp_path / "runs", with_run_id(base))
    place(tmp_path / "runs", with_run_id(compressed))
    assert not validate_paths([tmp_path / "runs"]).errors
    ret = _retention(_ingested(tmp_path / "runs", tmp_path / "db.duckdb"))
    assert ret[compressed["run_id"]] is None  # not inf, not ranked first


def test_a_metric_over_zero_examples_is_refused(tmp_path) -> None:
    data = _tiny_baseline(1.0)
    data["results"][0]["n"] = 0
    data["results"][0]["metrics"]["precision@1"]["n"] = 0
    path = write_run(tmp_path, data)
    assert [(p.path, p.pointer) for p in validate_paths([tmp_path]).errors] == [
        (str(path), "/results/0/n"), (str(path), "/results/0/metrics/precision@1/n")]


# --- 3. spoofed model pages ---------------------------------------------------------------------------------


@pytest.mark.parametrize("model_id", ["Compression-Leaderboard/Demo-Bert-Trex"])
def test_model_ids_that_share_a_page_are_refused(repo, model_id, capsys) -> None:
    data = published()
    data["model"]["id"] = model_id
    path = write_run(repo / "runs", data)
    rc, out = run_cli(["validate", "runs", "--base", "main"], repo, capsys)
    assert rc == 1
    assert f"{path.relative_to(repo)}: /model/id: model {model_id!r} and model " in out
    assert f"would share the page and folder name {SLUG!r}" in out


@pytest.mark.parametrize("model_id", ["compression-leaderboard--demo-bert-trex", "compression-leaderboard/demo-bert-trex.",
                                      "compression-leaderboard/demo-bert-trex/", "compression-leaderboard//demo-bert-trex",
                                      "HuggingFaceTB//SmolLM-1.7B", "compression-leaderboard/demo-bert-tr\u0435x"])
def test_model_ids_in_another_spelling_are_refused_by_pr_check(repo, tmp_path, model_id, capsys) -> None:
    """Issue 20: 'HuggingFaceTB//SmolLM-1.7B' had a folder of its own and escaped both collision checks; an id has
    one spelling (the schema's ModelId), so every other spelling is refused before any check across files."""
    from leaderboard.schema import MODEL_ID_RULE, model_slug

    data = published()
    data["model"]["id"] = model_id
    path = repo / "runs" / "encoder" / model_slug(model_id) / f"{data['run_id']}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "pr")
    rc, out = run_cli(["pr-check", "--runs", "runs", "--base", "main", "--work", str(tmp_path / "w")], repo, capsys)
    assert rc == 1 and f"{path.relative_to(repo)}: /model/id: {MODEL_ID_RULE}" in out, out


def test_a_real_run_of_the_bundled_demo_model_is_refused(repo, capsys) -> None:
    """Issue 20: toy-ness is part of a model's identity: a `toy: false` run of the demo model is not a real result."""
    data = published()
    data["model"]["toy"] = False
    data["evaluation"]["settings"]["limit"] = 7  # a run of its own (its own run_id)
    path = write_run(repo / "runs", data)
    rc, out = run_cli(["validate", "runs"], repo, capsys)
    rel = path.relative_to(repo)
    assert rc == 1
    assert f"{rel}: /model/toy: 'compression-leaderboard/demo-bert-trex' is the bundled demo model" in out
    assert f"{rel}: /model/toy: False, but " in out and "one model has one toy" in out


def test_truncated_long_ids_collide_and_are_refused(tmp_path) -> None:
    long_id = "a" * 200
    for mid in (long_id, long_id[:120]):
        data = published()
        data["model"]["id"] = mid
        write_run(tmp_path, data)
    errors = validate_paths([tmp_path]).errors
    assert len(errors) == 1 and errors[0].pointer == "/model/id" and "share the page" in errors[0].message


def test_a_published_model_id_with_another_identity_is_refused(repo, capsys) -> None:
    data = published()
    data["model"].update(family="decoder", architecture="GPT2LMHeadModel", parameters=124_000_000)
    data["evaluation"]["settings"]["limit"] = 7  # a run of its own (its own run_id)
    path = write_run(repo / "runs", data)
    rc, out = run_cli(["validate", "runs"], repo, capsys)
    assert rc == 1
    rel = path.relative_to(repo)
    for field in ("family", "architecture", "parameters"):
        assert f"{rel}: /model/{field}: " in out
    assert "one model has one family" in out


# --- 4. append-only by content ------------------------------------------------------------------------------


def test_crlf_checkouts_match_the_published_blobs(repo, capsys) -> None:
    git(repo, "config", "core.autocrlf", "true")
    shutil.rmtree(repo / "runs")
    git(repo, "checkout", "--", "runs")
    f = repo / "runs" / "encoder" / SLUG / "9bc2dd34d613390d.json"
    assert b"\r\n" in f.read_bytes()  # the checkout really has Windows line ends
    rc, out = run_cli(["validate", "runs", "--base", "main"], repo, capsys)
    assert rc == 0, out
    f.write_bytes(f.read_bytes().replace(b'"value": 0.783', b'"value": 0.883', 1))
    rc, out = run_cli(["validate", "runs", "--base", "main"], repo, capsys)
    assert rc == 1 and f"{f.relative_to(repo)}: /: changed, but it is published in main" in out


def test_gitattributes_under_runs_is_refused(repo, capsys) -> None:
    (repo / "runs" / ".gitattributes").write_text("*.json text eol=crlf\n")
    rc, out = run_cli(["validate", "runs", "--base", "main"], repo, capsys)
    assert rc == 1 and "runs/.gitattributes: /: a .gitattributes file would change how git stores run files" in out


# --- 5. changes outside runs/ ---------------------------------------------------------------------------------


def test_a_runs_pull_request_that_touches_code_fails(repo, tmp_path, capsys) -> None:
    write_run(repo / "runs", _tiny_baseline(0.4, limit=5))
    (repo / "evil.py").write_text("import os\n")
    (repo / "mkdocs.yml").write_text("site_name: x\nhooks: [evil.py]\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "add a run (and more)")
    summary = tmp_path / "summary.md"
    rc, out = run_cli(["pr-check", "--runs", "runs", "--base", "main", "--work", str(tmp_path / "w"),
                       "--summary", str(summary)], repo, capsys)
    assert rc == 1
    assert "evil.py: /: changed outside runs/" in out and "mkdocs.yml: /: changed outside runs/" in out
    text = summary.read_text()
    assert "### Changes outside runs/ (2)" in text and "- evil.py" in text and "- mkdocs.yml" in text


def test_ci_layout_two_checkouts_reports_code_changes(repo, tmp_path, capsys) -> None:
    """As in .github/workflows/pr-runs.yml: the base branch checked out in trusted/, the pull request in pr/."""
    (repo / "evil.py").write_text("x = 1\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "pr")
    trusted, pr = tmp_path / "trusted", tmp_path / "pr"
    subprocess.run(["git", "clone", "-q", "-b", "main", str(repo), str(trusted)], check=True, env=ENV)
    subprocess.run(["git", "clone", "-q", "-b", "pr", str(repo), str(pr)], check=True, env=ENV)
    rc, out = run_cli(["pr-check", "--runs", "../pr/runs", "--base", "runs", "--work", str(tmp_path / "w")], trusted, capsys)
    assert rc == 1 and "evil.py: /: changed outside runs/" in out
    git(pr, "rm", "-q", "evil.py")
    git(pr, "commit", "-qm", "runs only")
    rc, out = run_cli(["pr-check", "--runs", "../pr/runs", "--base", "runs", "--work", str(tmp_path / "w")], trusted, capsys)
    assert rc == 0, out


# --- 6. injection into the job summary and the CSV downloads --------------------------------------------------


def test_file_names_cannot_inject_markdown_into_the_summary(repo, tmp_path, capsys) -> None:
    folder = repo / "runs" / "encoder" / SLUG
    names = ["[x](https:evil.example)![](https:evil.example?p.png).json", "a\rb<img src=x>|`c`.json"]
    for name in names:
        (folder / name).write_text("{}")
    summary = tmp_path / "summary.md"
    rc, _out = run_cli(["pr-check", "--runs", "runs", "--base", "main", "--work", str(tmp_path / "w"),
                        "--summary", str(summary)], repo, capsys)
    text = summary.read_text()
    assert rc == 1
    for bad in ("[x](", "![](", "\r", "<img", "`c`"):
        assert bad not in text
    assert "&#91;x&#93;(https:evil.example)" in text  # shown as text, readable
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    assert rows and all(line.count("|") == 4 for line in rows)  # no cell breaks out of the table


def test_csv_downloads_neutralise_formulas(tmp_path) -> None:
    from leaderboard.render.pages import downloads
    from leaderboard.render.site import Site

    data = published()
    data["notes"] = '=HYPERLINK("https://evil.example","click")'
    runs = tmp_path / "runs"
    write_run(runs, data)
    shutil.copy(baseline_file(), runs / "encoder" / SLUG / baseline_file().name)
    db = _ingested(runs, tmp_path / "db.duckdb")
    con = duckdb.connect(str(db), read_only=True)
    try:
        downloads.build(Site(tmp_path / "gen", con))
    finally:
        con.close()
    text = gzip.decompress((tmp_path / "gen" / "downloads" / "runs.csv.gz").read_bytes()).decode("utf-8")
    assert "'=HYPERLINK(" in text and ',=HYPERLINK(' not in text and ',"=HYPERLINK(' not in text
    assert (tmp_path / "gen" / "downloads" / "runs.parquet").is_file()  # raw values stay in Parquet/DuckDB


# --- files that pass validate never crash ingest or build ---------------------------------------------------


def test_ranks_above_2_31_are_ingested_and_absurd_ranks_refused(tmp_path) -> None:
    data = _tiny_baseline(0.5)
    data["results"][0]["facts"] = encode_facts([("P19:1", 2**31 + 5)]).model_dump()
    path = write_run(tmp_path / "runs", data)
    assert not validate_paths([tmp_path / "runs"]).errors
    db = _ingested(tmp_path / "runs", tmp_path / "db.duckdb")
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT rank FROM fact_ranks").fetchall() == [(2**31 + 5,)]
    con.close()
    data["results"][0]["facts"] = encode_facts([("P19:1", 10**13)]).model_dump()
    path.unlink()
    write_run(tmp_path / "bad", data)
    errors = validate_paths([tmp_path / "bad"]).errors
    assert [p.pointer for p in errors] == ["/results/0/facts/data"] and "rank" in errors[0].message


def test_fact_blocks_are_bounded_per_file_and_ingest_memory_stays_small(tmp_path) -> None:
    """53 blocks of 64 MiB each, 4.6 MB on disk: refused by validate; `leaderboard ingest` stays far below 2 GB."""
    data = _tiny_baseline(0.5)
    block = base64.b64encode(gzip.compress(b"x\t1\n" * (16 * 1024 * 1024), compresslevel=9)).decode()
    tr = data["results"][0]
    data["results"] = [dict(tr, task=f"lama:t{i}", facts={"count": 1, "data": block}) for i in range(53)]
    data["results"][0]["task"] = "lama:trex"
    runs = tmp_path / "runs"
    path = runs / canonical_path(RunFile.model_validate(with_run_id(data)))
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(with_run_id(data)))
    assert path.stat().st_size < 5 * 1024 * 1024
    script = ("import resource, sys\nfrom leaderboard.cli import main\nrc = main(sys.argv[1:])\n"
              "print('PEAK', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\nsys.exit(rc)\n")
    res = subprocess.run([os.sys.executable, "-c", script, "ingest", str(runs), "--db", str(tmp_path / "db.duckdb")],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 1
    assert "/results/0/facts/data: line 16777217 is not '<id>\\t<rank>'" in res.stderr  # the trailing newline
    assert "/results/1/facts/data: decompresses to more than 0 bytes" in res.stderr
    peak_kib = int(res.stdout.split("PEAK")[1])
    assert peak_kib < 2 * 1024 * 1024, f"ingest peaked at {peak_kib / 1024:.0f} MiB"


def test_build_reports_an_ingest_refusal_without_a_traceback(tmp_path, capsys, monkeypatch) -> None:
    """A file that changes between validate and ingest: the window is simulated by letting validation see
    nothing; ingest then refuses and build says so in one line per problem."""
    import leaderboard.render.build as build
    from leaderboard.validate import Report

    runs = tmp_path / "runs"
    shutil.copytree(ROOT / "runs", runs)
    (runs / "encoder" / SLUG / "9bc2dd34d613390d.json").write_text("{")
    monkeypatch.setattr(build, "validate_paths", lambda *a, **k: Report([], []))
    rc, out = run_cli(["build", "--runs", str(runs), "--out", str(tmp_path / "site"), "--work", str(tmp_path / "w"),
                       "--root", str(ROOT)], tmp_path, capsys)
    assert rc == 1
    assert "9bc2dd34d613390d.json: /: invalid JSON at line 1 column 2" in out
    assert "error: ingest refused 1 problem(s); nothing was built" in out and "Traceback" not in out
