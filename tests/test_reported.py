"""`leaderboard import-reported`: every published row becomes a marked, cited run file; bad rows refused."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from conftest import ROOT, SHARED
from leaderboard.cli import main
from leaderboard.reported import ReportedError, errata_table, import_reported, models_table, read_csv
from leaderboard.validate import validate_paths

CSV = SHARED / "data" / "reported" / "results.csv"
BEAR_JSON = SHARED / "data" / "bear" / "published_results.json"
needs_data = pytest.mark.skipif(not CSV.is_file(), reason="../shared/data/reported not present")


def _rows() -> tuple[list[str], list[dict]]:
    with open(CSV, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames), list(reader)


def _write(path: Path, fields: list[str], rows: list[dict]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)
    return path


@needs_data
def test_every_row_imports_and_matches_the_committed_runs(tmp_path):
    runs = tmp_path / "runs"
    done = import_reported(CSV, runs, bear_json=BEAR_JSON)
    n_csv = len(_rows()[1])
    n_bear = sum(1 for e in json.loads(BEAR_JSON.read_text()) if e.get("model_url"))
    n_errata = len(errata_table())
    assert n_csv == 403 and n_bear == 36 and n_errata == 13
    # every row, and the correction of each row the errata table corrects (beside it: the run it supersedes)
    assert len(done.written) == n_csv + n_bear + n_errata and not done.existing
    report = validate_paths([runs])
    assert not report.problems and len({p.path for p in report.notes}) == n_errata
    # the committed reported files are exactly what the importer writes (byte for byte), but for the
    # first one, committed earlier without the paper's words and kept as it was (append-only; an erratum adds them)
    first = "encoder/bert-base-cased/9b68816ba3ac9a49.json"
    for path in done.written:
        rel = path.relative_to(runs).as_posix()
        committed = ROOT / "runs" / rel
        assert committed.is_file(), rel
        if rel != first:
            assert committed.read_bytes() == path.read_bytes(), rel
    # a GPTQ cell, as printed, with the paper's words and n-shot
    loaded = [json.loads(p.read_text()) for p in done.written]
    gptq = [r for r in loaded if r["compression"] and r["compression"][0].get("scheme") == "gptq"
            and r["model"]["id"] == "facebook/opt-125m" and r["evaluation"]["task"] == "lm-eval:lambada_openai"]
    assert len(gptq) == 2  # 4 and 3 bits
    g4 = next(r for r in gptq if r["compression"][0]["bits"] == 4)
    assert g4["results"][0]["metrics"]["acc"] == {"value": 34.74, "scale": "percent"}
    assert g4["results"][0]["config"]["method_as_published"] == "GPTQ, 4 bits"
    assert g4["results"][0]["num_fewshot"] == 0
    assert g4["source"]["table"] == "Table 13 (OPT accuracy on LAMBADA)"
    assert g4["model"]["parameters"] == 125_239_296 and g4["model"]["architecture"] == "OPTForCausalLM"
    bear = [r for r in loaded if r["evaluation"]["task"] == "bear:bear" and r["model"]["id"] == "gpt2-xl"]
    assert bear[0]["results"][0]["metrics"]["accuracy"]["value"] == pytest.approx(0.2624067607)


@needs_data
def test_importing_twice_adds_nothing(tmp_path):
    runs = tmp_path / "runs"
    shutil.copytree(ROOT / "runs", runs)
    before = {p: p.read_bytes() for p in runs.rglob("*.json")}
    done = import_reported(CSV, runs, bear_json=BEAR_JSON)
    assert not done.written and len(done.existing) == 439 + 13  # the 13 corrections of the errata table included
    assert {p: p.read_bytes() for p in runs.rglob("*.json")} == before


def _corrected_rows() -> tuple[list[str], list[dict]]:
    """The CSV with the errata table's new values written into the rows it corrects (as a fixed CSV would be)."""
    fields, rows = _rows()
    runs, _lines, _problems = read_csv(CSV, models_table())  # one run per row, in order (no errata applied)
    by_target = {e.supersedes: e for e in errata_table()}
    changed = 0
    for row, run in zip(rows, runs, strict=True):
        e = by_target.get(run.run_id)
        if e is not None and e.holds(row, "was"):
            row.update(e.new_values())
            changed += 1
    assert changed == 12  # 5 magnitude rows, 7 KEPLER rows (the CSV already holds the 13th's new value)
    return fields, rows


@needs_data
def test_a_csv_that_already_states_the_corrections_gives_the_same_files(tmp_path):
    """A corrected row must not come back as a new plain run beside its erratum (local magnitude pruning under
    another run_id), nor a metric renamed under the original's run_id: whether the CSV holds the published values or
    the corrected ones, the same files."""
    (tmp_path / "fixed").mkdir()
    fixed = _write(tmp_path / "fixed" / "results.csv", *_corrected_rows())
    runs = tmp_path / "runs"
    shutil.copytree(ROOT / "runs", runs)
    before = {p: p.read_bytes() for p in runs.rglob("*.json")}
    done = import_reported(fixed, runs, bear_json=BEAR_JSON)
    assert not done.written
    assert {p: p.read_bytes() for p in runs.rglob("*.json")} == before
    # into empty folders: byte for byte what the published CSV gives
    a, b = import_reported(fixed, tmp_path / "a"), import_reported(CSV, tmp_path / "b")
    assert len(a.written) == 403 + 13
    assert {p.relative_to(tmp_path / "a"): p.read_bytes() for p in a.written} == \
        {p.relative_to(tmp_path / "b"): p.read_bytes() for p in b.written}


@needs_data
@pytest.mark.parametrize("entry,message", [
    ({"supersedes": "29cf2e9072018872", "reason": "x", "columns": {"citation": {"was": "a", "now": "b"}}},
     "errata table bad.json: errata/0/columns/citation/[key]: Input should be 'compression'"),
    ({"supersedes": "29cf2e9072018872", "reason": "", "columns": {}}, "errata table bad.json: errata/0/reason: String"),
    ({"supersedes": "29cf2e90", "reason": "x"}, "errata table bad.json: errata/0/supersedes: String should match"),
    ({"supersedes": "29cf2e9072018872", "reason": "x", "colour": 1}, "errata/0/colour: Extra inputs are not permitted"),
])
def test_a_bad_errata_table_is_one_line_and_nothing_is_imported(tmp_path, entry, message):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"errata": [entry]}))
    runs = tmp_path / "runs"
    with pytest.raises(ReportedError) as e:
        import_reported(CSV, runs, errata_json=bad)
    assert str(e.value).splitlines() == [str(e.value).splitlines()[0], "nothing was imported"]
    assert f"errata table {bad}: " + message.removeprefix("errata table bad.json: ") in str(e.value)
    assert not runs.exists()


@needs_data
def test_an_erratum_whose_new_values_break_a_row_names_the_line(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"errata": [{"supersedes": "29cf2e9072018872", "reason": "x", "columns": {
        "metric": {"was": "acc", "now": "no-such-metric"}}}]}))
    with pytest.raises(ReportedError) as e:
        import_reported(CSV, tmp_path / "runs", errata_json=bad)
    assert "results.csv: line 378, column value: unknown metric 'no-such-metric'" in str(e.value)


@needs_data
@pytest.mark.parametrize("column,value,message", [
    ("model", "facebook/opt-1t", "column model: unknown model 'facebook/opt-1t'"),
    ("value", "101.5", "column value: 101.5 is outside the range of acc on the percent scale [0, 100]"),
    ("value", "abc", "column value: 'abc' is not a number"),
    ("citation", "", "column citation: empty"),
    ("compression", "quantize:scheme=gptq,bits=5", "column compression:"),
    ("family", "encoder", "column family: 'encoder' but the models table says 'decoder'"),
    ("scale", "permille", "column scale"),
    ("n_shot", "few", "column n_shot"),
])
def test_bad_rows_name_line_and_column_and_nothing_is_imported(tmp_path, capsys, column, value, message):
    fields, rows = _rows()
    rows[41][column] = value  # CSV line 43 (header is line 1)
    bad = _write(tmp_path / "bad.csv", fields, rows)
    runs = tmp_path / "runs"
    with pytest.raises(ReportedError) as e:
        import_reported(bad, runs)
    assert f"bad.csv: line 43, {message}" in str(e.value)
    assert not runs.exists()  # nothing half-imported
    rc = main(["import-reported", str(bad), "--runs", str(runs)])
    err = capsys.readouterr().err
    assert rc == 1 and "line 43" in err and "nothing was imported" in err and "Traceback" not in err


@needs_data
def test_duplicate_rows_are_refused(tmp_path):
    fields, rows = _rows()
    bad = _write(tmp_path / "dup.csv", fields, [rows[1], rows[2], dict(rows[1])])
    with pytest.raises(ReportedError, match=r"line 4: the same spec as .*line 2"):
        import_reported(bad, tmp_path / "runs")


def test_models_come_from_the_data_table():
    table = models_table()
    assert table["bigscience/bloom"].parameters == 176_247_271_424
    assert table["facebook/opt-350m"].series == "OPT"
    assert table["bert-base-cased"].parameters == 108_340_804  # the count the first reported file holds


# --- issue 20: all or nothing, strict numbers, one spelling, declared sources ------------------------------------


def _two_models(tmp_path: Path) -> Path:
    fields, rows = _rows()
    first = next(r for r in rows if r["model"] == "facebook/opt-125m")
    second = next(r for r in rows if r["model"] == "facebook/opt-350m")
    return _write(tmp_path / "two.csv", fields, [first, second])


@needs_data
def test_an_error_on_the_second_models_folder_leaves_nothing_written(tmp_path, capsys):
    runs = tmp_path / "runs"
    (runs / "decoder").mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (runs / "decoder" / "facebook--opt-350m").symlink_to(elsewhere)  # the second model's folder is a link
    rc = main(["import-reported", str(_two_models(tmp_path)), "--runs", str(runs)])
    err = capsys.readouterr().err
    assert rc == 1 and "symbolic link" in err and "Traceback" not in err
    assert not (runs / "decoder" / "facebook--opt-125m").exists()  # the first model's file was not written either
    assert not list(elsewhere.iterdir()) and sorted(p.name for p in (runs / "decoder").iterdir()) == ["facebook--opt-350m"]
    (runs / "decoder" / "facebook--opt-350m").unlink()
    done = import_reported(_two_models(tmp_path), runs)  # the same import, once the link is gone: both files
    assert len(done.written) == 2 and not [p for p in runs.rglob(".*")]  # no staging folder left behind


@needs_data
@pytest.mark.parametrize("column,value,message", [
    ("value", "3_1.1", "column value: '3_1.1' is not a number"),
    ("value", "３1.1", "column value: '３1.1' is not a number"),  # a full-width digit is not read as a digit
    ("value", "nan", "column value: 'nan' is not a number"),
    ("value", "0x1f", "column value: '0x1f' is not a number"),
    ("n_shot", "²", "column n_shot: '²' is not a number"),  # str.isdigit() says yes; int() then fails
    ("n_shot", "1_0", "column n_shot: '1_0' is not a whole number"),
    ("citation", "Frantar\u200b, Ashkboos", "column citation: holds the invisible or control character U+200B"),
    ("table", "Table 13\u202e", "column table: holds the invisible or control character U+202E"),
    ("citation", "A GPTQ reply. Evil Corp 2025", "column citation: the source"),
    # the free-text columns too (issue 20 leftover): bidirectional controls and zero-width characters
    ("method_as_published", "dense \u202egnp.exe", "column method_as_published: holds the invisible or control character U+202E"),
    ("method_as_published", "den\u2066se\u2069", "column method_as_published: holds the invisible or control character U+2066"),
    ("method_as_published", "den\u200dse", "column method_as_published: holds the invisible or control character U+200D"),
    ("checked_via", "read\u200b in the paper", "column checked_via: holds the invisible or control character U+200B"),
    ("checked_via", "read \u200fin the paper", "column checked_via: holds the invisible or control character U+200F"),
    # a revision was read and dropped: the run file said nothing of it
    ("model_revision", "../../etc", "column model_revision: '../../etc' is not a revision"),
    ("model_revision", "<script>", "column model_revision: '<script>' is not a revision"),
])
def test_numbers_are_strict_and_text_has_one_spelling(tmp_path, column, value, message):
    fields, rows = _rows()
    rows[41][column] = value
    bad = _write(tmp_path / "bad.csv", fields, rows)
    with pytest.raises(ReportedError) as e:
        import_reported(bad, tmp_path / "runs")
    assert f"bad.csv: line 43, {message}" in str(e.value)
    assert not (tmp_path / "runs").exists()


@needs_data
def test_rows_that_differ_only_by_look_alike_characters_are_one_row(tmp_path):
    fields, rows = _rows()
    twin = dict(rows[1], table=rows[1]["table"].replace("13", "１３"), citation=rows[1]["citation"].replace("  ", " "))
    bad = _write(tmp_path / "twin.csv", fields, [rows[1], twin])
    with pytest.raises(ReportedError, match=r"line 3: the same spec as .*line 2"):
        import_reported(bad, tmp_path / "runs")


@needs_data
def test_a_models_revision_is_recorded_in_its_run_file(tmp_path):
    """The model_revision column was accepted and ignored: a row that named the revision it was measured on gave a
    run file without one (found by benchmarks/attack_corpus.py)."""
    fields, rows = _rows()
    one = _write(tmp_path / "rev.csv", fields, [dict(rows[1], model_revision="v1.0")])
    done = import_reported(one, tmp_path / "runs")
    (path,) = done.written
    assert json.loads(path.read_text())["model"]["revision"] == "v1.0"


@needs_data
def test_cross_script_look_alikes_in_free_text_are_kept_as_typed(tmp_path):
    """Decided (issue 20 leftover), with a test so that it stays decided: a letter of another script that looks like
    a Latin one ('GPTЅ' with a Cyrillic Ѕ) is kept in the free-text columns (method_as_published, checked_via). They
    identify nothing: a run's identity is its spec (a row differing only there is the same spec, refused as a
    duplicate), and every identifying column is ASCII, a registry name or a declared source's exact text. Refusing
    mixed scripts there would refuse real text (Greek letters in method names, authors' names), and the page shows
    the text a reader would read anyway (escaped). Invisible and direction-changing characters, which make shown text
    differ from stored text, are refused (the test above)."""
    fields, rows = _rows()
    one = _write(tmp_path / "alike.csv", fields, [dict(rows[1], method_as_published="GPT\u0405 (α-pruned)")])
    (path,) = import_reported(one, tmp_path / "runs").written
    assert json.loads(path.read_text())["results"][0]["config"]["method_as_published"] == "GPT\u0405 (α-pruned)"
    twin = _write(tmp_path / "twin.csv", fields, [dict(rows[1], method_as_published="GPTS"),
                                                  dict(rows[1], method_as_published="GPT\u0405")])
    with pytest.raises(ReportedError, match=r"line 3: the same spec as .*line 2"):
        import_reported(twin, tmp_path / "runs2")


def test_a_models_table_given_with_models_is_named_and_its_ids_are_checked(tmp_path, capsys):
    """Its errors said 'models table line 2' without the file, and a model id such as '../../x' was taken as a
    model (found by benchmarks/attack_corpus.py)."""
    header = "model,family,architecture,parameters,series\n"
    for body, message in [("bert-base-cased,encoder,BertForMaskedLM,1_0,x\n", "line 2: column parameters: '1_0' is not a whole number"),
                          ("../../x,encoder,BertForMaskedLM,10,x\n", "line 2: column model: '../../x': not a model id"),
                          ("org//m,encoder,BertForMaskedLM,10,x\n", "line 2: column model: 'org//m': not a model id")]:
        table = tmp_path / "models.csv"
        table.write_text(header + body)
        with pytest.raises(ReportedError) as e:
            models_table(table)
        assert str(e.value).startswith(f"{table}: models table {message}"), str(e.value)


def test_bear_accuracy_must_be_a_number_not_a_boolean(tmp_path):
    entries = [{"model_name": "GPT2-XL", "model_url": "https://huggingface.co/gpt2-xl", "model_type": "CLM",
                "accuracy": {"mean": True, "sem": 0.01}}]
    path = tmp_path / "published_results.json"
    path.write_text(json.dumps(entries))
    with pytest.raises(ReportedError, match=r"entry 0 \('GPT2-XL'\), field accuracy: True is not a number"):
        import_reported(None, tmp_path / "runs", bear_json=path)
    path.write_text(json.dumps([["not", "an", "object"], {"model_url": 5}]))
    with pytest.raises(ReportedError) as e:
        import_reported(None, tmp_path / "runs", bear_json=path)
    assert "entry 0: not a JSON object" in str(e.value) and "field model_url: 5 is not plain text" in str(e.value)
