"""Errata (schema 1.3): a new run file supersedes a published one, with a reason. validate checks it, the store
leaves the superseded run out of every leaderboard, chart and retention (but keeps it), and the site shows the
correction with a "corrected" badge and the reason, linked both ways with the original."""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
from pathlib import Path

import duckdb
import pytest

from conftest import ROOT, place, rendered_run_pages, with_run_id
from leaderboard.cli import main
from leaderboard.contrib import submit
from leaderboard.render.build import build_site
from leaderboard.schema import RunFile, compute_run_id
from leaderboard.store import IngestError, ingest
from leaderboard.validate import validate_paths

DEMO = ROOT / "runs" / "encoder" / "compression-leaderboard--demo-bert-trex"
OPT175 = ROOT / "runs" / "decoder" / "facebook--opt-175b"
ROBERTA = ROOT / "runs" / "encoder" / "roberta-base"

# what the audit found (issue 20), and the files that correct it (written by `leaderboard import-reported`)
MAGNITUDE = {"29cf2e9072018872": "45ab1efb1d2ec023", "2c6bb143a58cca6d": "cf3b31b76b676269",
             "ae7c8bdaee53e29a": "d4efe5983b6b5030", "0a15ee0c8b3a9d7a": "55bea8c9e3c79946",
             "a4c936f4711b9587": "603636ea02de3ba8"}
KEPLER = {"e0bde3eb69b77056": "12c691e1910b6dc7", "832748ca2a25df2c": "25d4000c87ec83ea",
          "81f7829bfb60487a": "49f3819547c03ae4", "92de856ece6ccdc2": "2faa3c50fb12188d",
          "81b14fa1fec13660": "9c05b22f78a87de9", "c58f7e2576c6dbbe": "95a2d160ea2bbac9",
          "209c2c049109ee5a": "e29f2c096cb42e77"}
COSMETIC = {"9b68816ba3ac9a49": "22798ca0cbedf615"}
AUDIT = {**MAGNITUDE, **KEPLER, **COSMETIC}


def erratum(original: dict, reason: str, change=None) -> dict:
    """A correction of ``original``: its content changed by ``change``, superseding it, with its own run_id."""
    data = copy.deepcopy(original)
    if change is not None:
        change(data)
    data["schema_version"] = "1.3"
    data["supersedes"] = {"run_id": original["run_id"], "reason": reason}
    return with_run_id(data)


def _load(path: Path) -> dict:
    return json.loads(path.read_text())


def _demo() -> dict:
    """The demo model's baseline on LAMA T-REx (P@1 0.994048)."""
    return _load(DEMO / "4f77a6412579a8db.json")


def _set_p1(value: float):
    def change(d: dict) -> None:
        m = d["results"][0]["metrics"]["precision@1"]
        m["value"] = value
        m["ci"] = {**m["ci"], "low": min(m["ci"]["low"], value), "high": max(m["ci"]["high"], value)}
    return change


def _errors(report) -> list[str]:
    return [p.line() for p in report.errors]


# --- the committed errata ------------------------------------------------------------------------------------------


def test_the_13_committed_errata_validate_and_say_what_they_change():
    report = validate_paths([ROOT / "runs"])
    assert report.errors == []
    corrected = {Path(p.path).stem: p for p in report.notes}
    assert set(corrected) == set(AUDIT.values())
    runs = {p.stem: RunFile.model_validate_json(p.read_text()) for p in ROOT.glob("runs/*/*/*.json")
            if p.stem in AUDIT.values()}
    assert {r.supersedes.run_id: rid for rid, r in runs.items()} == AUDIT
    lines = {Path(p.path).stem: p.line().split(": ", 1)[1] for p in report.notes}
    assert lines["45ab1efb1d2ec023"] == '/compression/0/granularity: note: corrects run 29cf2e9072018872: "global" -> "local"'
    assert lines["9c05b22f78a87de9"] == ('/results/0/metrics/precision@1: note: corrects run 81b14fa1fec13660: renamed '
                                         '"precision@1" -> "precision@1-micro", value unchanged')
    assert lines["22798ca0cbedf615"] == ('/results/0/config: note: corrects run 9b68816ba3ac9a49: (absent) -> '
                                         '{"method_as_published": "dense (no compression)"}')
    # one line per changed field: each of the 13 changes one thing
    assert len(report.notes) == 13
    # the corrections are made like every reported row: same citation and source fields, same model
    for old, new in AUDIT.items():
        before = _load(next(ROOT.glob(f"runs/*/*/{old}.json")))
        after = _load(next(ROOT.glob(f"runs/*/*/{new}.json")))
        assert after["source"] == before["source"] and after["model"] == before["model"]
        assert after["schema_version"] == "1.3" and before["schema_version"] in ("1.0", "1.1")


def test_cli_prints_a_line_per_change_and_counts_the_corrections(capsys):
    assert main(["validate", str(OPT175)]) == 0
    out, err = capsys.readouterr()
    assert out.count("note: corrects run") == 5
    assert "0 error(s), 0 warning(s); 5 correction(s) of published runs (errata)" in err
    assert main(["validate", "--format", "json", str(OPT175)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["errors"] == 0 and len(report["corrections"]) == 5
    assert {"path": str(OPT175 / "45ab1efb1d2ec023.json"), "pointer": "/compression/0/granularity", "severity": "note",
            "message": 'corrects run 29cf2e9072018872: "global" -> "local"'} in report["corrections"]
    assert main(["validate", "--format", "github", str(OPT175)]) == 0
    assert (f"::notice file={OPT175 / '45ab1efb1d2ec023.json'},title=/compression/0/granularity::corrects run "
            '29cf2e9072018872: "global" -> "local"') in capsys.readouterr().out


# --- validate ---------------------------------------------------------------------------------------------------------


def test_a_good_erratum_is_accepted_with_one_line_per_changed_field(tmp_path):
    runs = tmp_path / "runs"
    original = place(runs, _demo())
    fix = place(runs, erratum(_demo(), "P@1 was copied from the wrong log", _set_p1(0.99)))
    report = validate_paths([runs])
    assert report.problems == []
    notes = [p.line() for p in report.notes]
    assert notes == [f"{fix}: /results/0/metrics/precision@1/value: note: corrects run 4f77a6412579a8db: 0.994048 -> 0.99"]
    # the erratum alone, given as a file: the original is found beside it
    alone = validate_paths([fix])
    assert alone.problems == [] and len(alone.notes) == 1
    assert original.is_file()


def test_supersedes_enters_the_run_id_only_when_present():
    data = _demo()
    assert compute_run_id(RunFile.model_validate(data)) == data["run_id"]  # old files keep their run_id
    fixed = erratum(data, "same content, corrected")
    assert fixed["run_id"] != data["run_id"]


def test_supersedes_needs_schema_1_3(tmp_path):
    data = erratum(_demo(), "x", _set_p1(0.99))
    data["schema_version"] = "1.2"
    path = tmp_path / "x.json"
    path.write_text(json.dumps(data))
    assert _errors(validate_paths([path], check_paths=False)) == [
        f"{path}: /: supersedes is new in schema 1.3; write schema_version '1.3'"]


def test_an_erratum_of_a_run_that_is_not_there_is_one_clear_error(tmp_path):
    runs = tmp_path / "runs"
    fix = place(runs, erratum(_demo(), "fix", _set_p1(0.99)))
    assert _errors(validate_paths([runs])) == [
        f"{fix}: /supersedes/run_id: the superseded run 4f77a6412579a8db is not in the runs folder (a correction sits "
        "beside the file it corrects: 4f77a6412579a8db.json in the same model folder)"]
    assert main(["validate", str(runs)]) == 1


def test_an_erratum_of_another_model_is_one_clear_error(tmp_path):
    runs = tmp_path / "runs"
    other = _load(ROBERTA / "81b14fa1fec13660.json")
    place(runs, other)
    bert = _load(ROOT / "runs" / "encoder" / "bert-base-cased" / "9b68816ba3ac9a49.json")
    wrong = erratum(bert, "fix")
    wrong["supersedes"]["run_id"] = other["run_id"]
    fix = place(runs, with_run_id(wrong))
    assert _errors(validate_paths([runs])) == [
        f"{fix}: /supersedes/run_id: run 81b14fa1fec13660 is of model 'roberta-base' "
        f"({runs / 'encoder' / 'roberta-base' / '81b14fa1fec13660.json'}), this file of 'bert-base-cased': a correction "
        "is a run of the same model"]


def test_a_run_superseded_twice_is_one_clear_error(tmp_path):
    runs = tmp_path / "runs"
    place(runs, _demo())
    first = place(runs, erratum(_demo(), "fix", _set_p1(0.99)))

    def other_settings(d: dict) -> None:  # another spec, so another run_id (the same spec would be the same file)
        d["evaluation"]["settings"]["max_length"] = 256
    second = place(runs, erratum(_demo(), "fix", other_settings))
    first, second = sorted([first, second])
    assert _errors(validate_paths([runs])) == [
        f"{second}: /supersedes/run_id: run 4f77a6412579a8db is already superseded by {first}; a run has one correction "
        f"(to correct that correction, supersede {first.stem})"]


def test_a_correction_of_a_correction_is_a_chain_not_an_error(tmp_path):
    runs = tmp_path / "runs"
    place(runs, _demo())
    one = erratum(_demo(), "fix", _set_p1(0.99))
    place(runs, one)
    place(runs, erratum(one, "fix the fix", _set_p1(0.992)))
    report = validate_paths([runs])
    assert report.errors == [] and len(report.notes) == 2


def test_a_cycle_of_corrections_is_one_clear_error(tmp_path):
    """Honest run_ids cannot form a cycle (each would hash the other); forged ones are refused for that too, and the
    cycle gets a line of its own."""
    runs = tmp_path / "runs"
    a, b = _demo(), _demo()
    a["run_id"], b["run_id"] = "aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb"
    _set_p1(0.99)(b)
    for x, y in ((a, b), (b, a)):
        x["schema_version"] = "1.3"
        x["supersedes"] = {"run_id": y["run_id"], "reason": "each corrects the other"}
        path = runs / "encoder" / "compression-leaderboard--demo-bert-trex" / f"{x['run_id']}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(x))
    errors = _errors(validate_paths([runs]))
    cycle = [e for e in errors if "form a cycle" in e]
    assert cycle == [f"{runs / 'encoder' / 'compression-leaderboard--demo-bert-trex' / 'aaaaaaaaaaaaaaaa.json'}: "
                     "/supersedes/run_id: corrections form a cycle: aaaaaaaaaaaaaaaa -> bbbbbbbbbbbbbbbb -> "
                     "aaaaaaaaaaaaaaaa; a correction cannot be superseded by a run it corrects"]
    assert all("does not match the content" in e or "file must be at" in e for e in errors if e not in cycle)


@pytest.mark.parametrize("reason", ["", "   ", "two\nlines", "x" * 1001])
def test_a_reason_is_one_line_of_text(tmp_path, reason):
    data = erratum(_demo(), "x", _set_p1(0.99))
    data["supersedes"]["reason"] = reason
    path = tmp_path / "x.json"
    path.write_text(json.dumps(data))
    errors = _errors(validate_paths([path], check_paths=False))
    assert len(errors) == 1 and "/supersedes/reason: String should" in errors[0]


def test_an_erratum_that_changes_nothing_is_a_warning(tmp_path):
    runs = tmp_path / "runs"
    place(runs, _demo())
    fix = place(runs, erratum(_demo(), "nothing"))
    report = validate_paths([runs])
    assert report.errors == [] and [p.line() for p in report.warnings] == [
        f"{fix}: /supersedes: warning: corrects nothing: no field differs from run 4f77a6412579a8db"]


def test_submit_places_an_erratum_only_beside_its_original(tmp_path):
    runs = tmp_path / "runs"
    loose = tmp_path / "fix.json"
    loose.write_text(json.dumps(erratum(_demo(), "fix", _set_p1(0.99))))
    refused = submit([loose], runs)[0]
    assert refused.status == "refused" and "the superseded run 4f77a6412579a8db is not in the runs folder" in \
        refused.problems[0].message
    place(runs, _demo())
    assert submit([loose], runs)[0].status == "added"


# --- pr-check -------------------------------------------------------------------------------------------------------------



def _pr_check(repo: Path, work: Path) -> int:
    cwd = os.getcwd()
    os.chdir(repo)
    try:
        return main(["pr-check", "--runs", "runs", "--base", "main", "--work", str(work)])
    finally:
        os.chdir(cwd)


def test_pr_check_accepts_an_erratum_and_lists_what_it_changes(repo, tmp_path, capsys):
    fix = erratum(_demo(), "P@1 was copied from the wrong log", _set_p1(0.99))
    place(repo / "runs", fix)
    assert _pr_check(repo, tmp_path / "w") == 0
    out = capsys.readouterr().out
    assert "1 new run file(s); 0 error(s)" in out
    assert "### Corrections of published runs (errata: 1)" in out
    assert "/results/0/metrics/precision@1/value: corrects run 4f77a6412579a8db: 0.994048 -&#62; 0.99" in out


def test_pr_check_refuses_an_erratum_that_also_edits_the_original(repo, tmp_path, capsys):
    place(repo / "runs", erratum(_demo(), "fix", _set_p1(0.99)))
    f = DEMO.relative_to(ROOT)
    old = repo / f / "4f77a6412579a8db.json"
    old.write_text(old.read_text().replace('"value": 0.994048', '"value": 0.99', 1))
    assert _pr_check(repo, tmp_path / "w") == 1
    assert "changed, but it is published in main; run files are append-only" in capsys.readouterr().out


# --- the store ----------------------------------------------------------------------------------------------------------


def _q(db: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_store_leaves_superseded_runs_out_of_retention_and_baselines_but_keeps_them(tmp_path):
    runs = tmp_path / "runs"
    for folder in (OPT175, ROOT / "runs" / "encoder" / "bert-base-cased"):
        shutil.copytree(folder, runs / folder.relative_to(ROOT / "runs"))
    db = tmp_path / "s.duckdb"
    ingest(runs, db)
    superseded = dict(_q(db, "SELECT run_id, superseded_by FROM superseded"))
    assert superseded == {**MAGNITUDE, **{k: v for k, v in KEPLER.items() if k in ("e0bde3eb69b77056",
                          "832748ca2a25df2c", "81f7829bfb60487a")}, **COSMETIC}
    # kept and queryable
    assert _q(db, "SELECT count(*) FROM runs WHERE run_id IN (SELECT run_id FROM superseded)") == [(len(superseded),)]
    # in no retention row, as a run or as a baseline; the corrections are, against the paper's dense row
    ret = _q(db, "SELECT run_id, baseline_run_id, retention FROM retention")
    used = {r[0] for r in ret} | {r[1] for r in ret}
    assert not used & set(superseded)
    fixed = {r[0]: r for r in ret if r[0] in MAGNITUDE.values()}
    assert set(fixed) == set(MAGNITUDE.values()) and all(r[2] is not None for r in fixed.values())
    method = _q(db, f"SELECT DISTINCT method FROM current_runs WHERE run_id IN {tuple(MAGNITUDE.values())}")
    assert method == [("prune:l1:local",)]
    assert _q(db, "SELECT DISTINCT method FROM current_runs WHERE model_id = 'facebook/opt-175b' AND method LIKE 'prune:l1%'") \
        == [("prune:l1:local",)]
    # the Petroni et al. row's baseline is now its correction
    assert _q(db, "SELECT run_id FROM baselines WHERE model_id = 'bert-base-cased' AND eval_task = 'lama:trex'") == \
        [("22798ca0cbedf615",)]


def test_ingest_refuses_an_erratum_whose_original_is_missing(tmp_path):
    runs = tmp_path / "runs"
    fix = place(runs, erratum(_demo(), "fix", _set_p1(0.99)))
    with pytest.raises(IngestError) as e:
        ingest(runs, tmp_path / "s.duckdb")
    assert [p.line() for p in e.value.problems] == [
        f"{fix}: /supersedes/run_id: the superseded run 4f77a6412579a8db is not in the runs folder (a correction sits "
        "beside the file it corrects: 4f77a6412579a8db.json in the same model folder)"]


# --- the site -----------------------------------------------------------------------------------------------------------

HOSTILE = 'The value was <script>alert(1)</script> & "wrong" {: style=x }'


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> tuple[Path, dict]:
    """runs/: OPT-175B's and RoBERTa's committed reported files (5 and 4 with errata), the Petroni et al. row and its
    correction, and one more erratum of a SparseGPT row whose reason is hostile markup."""
    tmp = tmp_path_factory.mktemp("errata-site")
    runs = tmp / "runs"
    for folder in (OPT175, ROBERTA):
        shutil.copytree(folder, runs / folder.relative_to(ROOT / "runs"))
    bert = ROOT / "runs" / "encoder" / "bert-base-cased"
    (runs / "encoder" / "bert-base-cased").mkdir(parents=True)
    for rid in (*COSMETIC, *COSMETIC.values()):
        shutil.copyfile(bert / f"{rid}.json", runs / "encoder" / "bert-base-cased" / f"{rid}.json")
    sparsegpt = next(_load(p) for p in sorted(OPT175.glob("*.json"))
                     if '"sparsegpt"' in p.read_text() and '"lm-eval:piqa"' in p.read_text())

    def note(d: dict) -> None:
        d["notes"] = "corrected: see the reason"
    hostile = erratum(sparsegpt, HOSTILE, note)
    place(runs, hostile)
    build_site(runs, tmp / "public", ROOT, tmp / "work", log=lambda *_: None)
    return tmp / "public", {"hostile": hostile["run_id"], "hostile_of": sparsegpt["run_id"]}


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_the_correction_page_shows_the_badge_the_reason_and_links_the_original(site):
    public, _ = site
    page = rendered_run_pages(public, ["45ab1efb1d2ec023"])["45ab1efb1d2ec023"]
    assert '<span class="lb-badge lb-corrected" title="corrected: SparseGPT\'s magnitude baseline' in page
    assert "Corrected." in page and "prunes each layer to 50% by its own threshold" in _text(page)
    assert 'href="29cf2e9072018872.html"' in page


def test_the_original_page_says_it_was_superseded_and_links_the_correction(site):
    public, _ = site
    page = rendered_run_pages(public, ["29cf2e9072018872"])["29cf2e9072018872"]
    assert '<span class="lb-badge lb-superseded">superseded</span>' in page
    assert "Superseded." in page and 'href="45ab1efb1d2ec023.html"' in page
    assert "no leaderboard, chart or knowledge-kept figure uses it" in _text(page)


def test_leaderboard_and_published_pages_show_the_corrections_not_the_originals(site):
    public, _ = site
    board = (public / "leaderboard.html").read_text()
    for old, new in MAGNITUDE.items():
        assert f"runs/{new}.html" in board and f"runs/{old}.html" not in board
    assert "lb-corrected" in board
    sparse = (public / "published" / "sparsegpt.html").read_text()
    for old, new in MAGNITUDE.items():
        assert f"../runs/{new}.html" in sparse and f"../runs/{old}.html" not in sparse
    assert "local magnitude" in _text(sparse)
    kepler = (public / "published" / "kepler.html").read_text()
    for old, new in KEPLER.items():
        if (ROBERTA / f"{new}.json").is_file():
            assert f"../runs/{new}.html" in kepler and f"../runs/{old}.html" not in kepler
    assert _text(kepler).count("P@1 (micro)") == 4 and kepler.count("lb-corrected") == 4
    compare = "".join(p.read_text() for p in (public / "data" / "compare").rglob("*.json"))
    assert '"run":' in compare and not any(old in compare for old in MAGNITUDE)
    # the home page counts the runs shown (the 10 superseded ones are not) and the corrections
    home = _text((public / "index.html").read_text())
    n_files = sum(1 for _ in (public.parent / "runs").rglob("*.json"))
    assert f" runs {n_files - 11} " in home
    assert "corrected results (errata; the runs they supersede are left out) 11 " in home


def test_a_hostile_reason_is_escaped_everywhere(site):
    public, ids = site
    for page in public.rglob("*.html"):
        assert "<script>alert(1)" not in page.read_text(), page
    own = rendered_run_pages(public, [ids["hostile"]])[ids["hostile"]]
    assert 'The value was &lt;script&gt;alert(1)&lt;/script&gt; &amp; "wrong"' in own and "<script>alert" not in own
    assert f'href="{ids["hostile_of"]}.html"' in own
