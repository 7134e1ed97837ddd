"""Published results -> `source: reported` run files (values exactly as printed, cited to the table).

Reads every row of a reported-results CSV (see ../shared/data/reported/README.md) and, optionally, the
public BEAR leaderboard (published_results.json). Models, families, architectures and sizes come from a
data table (``data/reported/models.csv``), never from code. Every row is checked before anything is
written: a bad row is an error naming its CSV line and column, and then nothing is imported. Rows whose
run_id (their spec: model, compression, evaluation, citation and table) is already in runs/ are left as
they are (append-only), so importing twice changes nothing.

A published row found wrong is corrected through the errata table (``data/reported/errata.json``, reviewed like
code): the run it supersedes (run_id), the reason, and each CSV column's value as the published run was made
(``was``) and as it should be (``now``). The row then gives its published run and the correction, a run file with
``supersedes`` (schema 1.3) made from the row with the new values (so with the same citation and source fields),
whether the CSV still holds the old values or already the new ones. Re-importing writes neither again.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from . import registry
from .schema import (
    SCHEMA_VERSION,
    Evaluation,
    MetricValue,
    ModelInfo,
    Reported,
    RunFile,
    RunId,
    Supersedes,
    TaskResult,
    canonical_path,
    compute_run_id,
    dump_run,
    earliest_version,
)

REQUIRED = ("model", "family", "task", "metric", "value", "scale", "citation", "table", "url")
BEAR_LEADERBOARD_URL = "https://lm-pub-quiz.github.io/"
BEAR_CITATION = ("Wiland, Ploner, Akbik (2024). BEAR: A Unified Framework for Evaluating Relational Knowledge in "
                 "Causal and Masked Language Models. Findings of NAACL 2024 (LM Pub Quiz leaderboard)")


class ReportedError(ValueError):
    def __init__(self, problems: list[str]):
        more = f"\n... and {len(problems) - 20} more" if len(problems) > 20 else ""
        super().__init__("\n".join(problems[:20]) + more + "\nnothing was imported")
        self.problems = problems


@dataclass(frozen=True)
class ModelRow:
    model: str
    family: str
    architecture: str
    parameters: int
    series: str


def models_table(path: Path | None = None) -> dict[str, ModelRow]:
    """The models reported rows may name (model, family, architecture, parameters, series)."""
    text = (Path(path).read_text(encoding="utf-8") if path else
            (resources.files("leaderboard") / "data" / "reported" / "models.csv").read_text(encoding="utf-8"))
    out = {}
    for i, row in enumerate(csv.DictReader(text.splitlines()), start=2):
        try:
            out[row["model"]] = ModelRow(row["model"], row["family"], row["architecture"], int(row["parameters"]),
                                         row["series"])
        except (KeyError, ValueError, TypeError) as e:
            raise ReportedError([f"models table line {i}: {e}"]) from None
    return out


@dataclass
class Import:
    runs: list[RunFile] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)  # where each run came from
    written: list[Path] = field(default_factory=list)
    existing: list[Path] = field(default_factory=list)


def _steps(text: str, where: str):
    from .runner import SpecError, parse_step

    steps = []
    for part in filter(None, (p.strip() for p in text.split(";"))):
        try:
            steps.append(parse_step(part))
        except SpecError as e:
            raise ValueError(f"{where}: {str(e).split(': ', 1)[-1]}") from None
    return steps


def _metric_value(value: float, scale: str, metric: str, stderr: float | None = None) -> MetricValue:
    if scale not in ("fraction", "percent"):
        raise ValueError(f"scale {scale!r} is not 'fraction' or 'percent'")
    if not math.isfinite(value):
        raise ValueError(f"value {value!r} is not a finite number")
    info = registry.metric_info(metric)
    factor = 100.0 if scale == "percent" else 1.0
    if scale == "percent" and metric not in registry.PERCENTABLE:
        raise ValueError(f"metric {metric!r} cannot be on the percent scale")
    lo = None if info.lower is None else info.lower * factor
    hi = None if info.upper is None else info.upper * factor
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ValueError(f"{value:g} is outside the range of {metric} on the {scale} scale [{lo:g}, {hi:g}]")
    return MetricValue(value=value, scale=scale, stderr=stderr)


REPORTED_SINCE = "1.1"


def _run(model: ModelRow, steps, task: str, metric: str, mv: MetricValue, source: Reported, notes: str,
         num_fewshot: int | None, config: dict | None, supersedes: Supersedes | None = None) -> RunFile:
    run = RunFile(
        schema_version=SCHEMA_VERSION, run_id="0" * 16,
        model=ModelInfo(id=model.model, revision=None, family=model.family, architecture=model.architecture,
                        parameters=model.parameters),
        compression=steps, evaluation=Evaluation(task=task),
        results=[TaskResult(task=task, metrics={metric: mv}, num_fewshot=num_fewshot, config=config or None)],
        source=source, notes=notes, supersedes=supersedes)
    # the same row gives the same bytes whatever schema version is current: the earliest that states it, from 1.1
    # (the version import-reported has written since it exists)
    return run.model_copy(update={"run_id": compute_run_id(run), "schema_version": earliest_version(run, REPORTED_SINCE)})


# --- the errata table (data/reported/errata.json): corrections of published rows, reviewed like code --------------

ERRATA_MAX_BYTES = 1024 * 1024
CORRECTABLE = ("compression", "method_as_published", "task", "metric", "value", "scale", "n_shot",
               "checked_via")  # never the model or the source (citation, table, url): a correction is of the same row


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class ColumnChange(_Strict):
    was: Annotated[str, StringConstraints(max_length=2000)]
    now: Annotated[str, StringConstraints(max_length=2000)]


class Erratum(_Strict):
    """One published row corrected: the run it supersedes (its run_id), why, and each CSV column's old and new value."""

    supersedes: RunId
    reason: Annotated[str, StringConstraints(min_length=1, max_length=1000, pattern=r"^[^\x00-\x1f\x7f]*\S[^\x00-\x1f\x7f]*$")]
    columns: dict[Literal[CORRECTABLE], ColumnChange] = Field(default_factory=dict, max_length=len(CORRECTABLE))

    def new_values(self) -> dict[str, str]:
        return {k: c.now for k, c in self.columns.items()}

    def old_values(self) -> dict[str, str]:
        return {k: c.was for k, c in self.columns.items()}

    def holds(self, row: dict, which: Literal["was", "now"]) -> bool:
        """The row has these columns' old (``was``: as the published run was made) or new (``now``) values; false
        with no columns."""
        return bool(self.columns) and all((row.get(k) or "").strip() == getattr(c, which).strip()
                                          for k, c in self.columns.items())


class ErrataTable(_Strict):
    errata: list[Erratum] = Field(max_length=10_000)


def errata_table(path: Path | None = None) -> list[Erratum]:
    """The corrections of published reported rows (default: the packaged data/reported/errata.json)."""
    from pydantic import ValidationError

    from .validate import LoadError, parse_json, read_bounded

    where = str(path) if path else "data/reported/errata.json"
    try:
        raw = (read_bounded(Path(path), ERRATA_MAX_BYTES) if path else
               (resources.files("leaderboard") / "data" / "reported" / "errata.json").read_bytes())
        table = ErrataTable.model_validate(parse_json(raw))
    except LoadError as e:
        raise ReportedError([f"errata table {where}: {e}"]) from None
    except ValidationError as e:
        err = e.errors(include_url=False)[0]
        raise ReportedError([f"errata table {where}: {'/'.join(map(str, err['loc']))}: {err['msg']}"]) from None
    seen: set[str] = set()
    for i, e in enumerate(table.errata):
        if e.supersedes in seen:
            raise ReportedError([f"errata table {where}: errata/{i}/supersedes: run {e.supersedes} is corrected twice"])
        seen.add(e.supersedes)
    return table.errata


class _RowError(ValueError):
    """A CSV row the importer refuses: the message, after '<file>: line <n>'."""


def _row_run(row: dict, csv_name: str, line: int, models: dict[str, ModelRow], erratum: Erratum | None = None) -> RunFile:
    """One CSV row -> its run file (every column checked); _RowError names the column. With ``erratum``: the
    correction, a run file that supersedes the erratum's run (schema 1.3)."""

    def col(name: str) -> str:
        return (row.get(name) or "").strip()

    bad = [c for c in REQUIRED if not col(c)]
    if bad:
        raise _RowError(f", column {bad[0]}: empty ({'a citation, table and url are' if bad[0] in ('citation', 'table', 'url') else 'a value is'} required)")
    model = models.get(col("model"))
    if model is None:
        raise _RowError(f", column model: unknown model {col('model')!r}; add it to the models table "
                        "(data/reported/models.csv: family, architecture, parameters)")
    if col("family") != model.family:
        raise _RowError(f", column family: {col('family')!r} but the models table says {model.family!r}")
    task = col("task")
    if task.partition(":")[0] not in registry.TASK_SUITES:
        raise _RowError(f", column task: unknown suite in {task!r}; known: {', '.join(registry.TASK_SUITES)}")
    try:
        steps = _steps(col("compression"), "step")
    except ValueError as e:
        raise _RowError(f", column compression: {e}") from None
    try:
        value = float(col("value"))
    except ValueError:
        raise _RowError(f", column value: {col('value')!r} is not a number") from None
    try:
        mv = _metric_value(value, col("scale"), col("metric"))
    except ValueError as e:
        raise _RowError(f", column {'scale' if 'scale' in str(e) and 'outside' not in str(e) else 'value'}: {e}") from None
    n_shot = col("n_shot")
    if n_shot and not n_shot.isdigit():
        raise _RowError(f", column n_shot: {n_shot!r} is not a whole number")
    if not col("url").startswith("https://"):
        raise _RowError(f", column url: {col('url')!r} is not an https:// address")
    method = col("method_as_published")
    try:
        return _run(model, steps, task, col("metric"), mv,
                    Reported(kind="reported", citation=col("citation"), table=col("table"), url=col("url"),
                             checked_via=col("checked_via") or None),
                    f"Entered from {csv_name} row {line - 1}; the value is as printed in the source.",
                    int(n_shot) if n_shot and task.startswith("lm-eval:") else None,
                    {"method_as_published": method[:500]} if method else None,
                    Supersedes(run_id=erratum.supersedes, reason=erratum.reason) if erratum is not None else None)
    except ValueError as e:  # pydantic: a field the schema refuses
        raise _RowError(f": {str(e).splitlines()[0]}: {' '.join(str(e).splitlines()[1:3])}") from None


def read_csv(csv_path: Path, models: dict[str, ModelRow],
             errata: list[Erratum] | None = None) -> tuple[list[RunFile], list[str], list[str]]:
    """Check every row; returns (runs, where each came from, problems). A row that an erratum of the errata table
    corrects gives two runs: the one published (the row with the erratum's old column values: its run_id is the one
    superseded) and its correction (the new values, superseding it). So the row gives the same two files whether the
    CSV still holds the old values or already the new ones, and a corrected CSV never adds the corrected row a
    second time as a plain run."""
    runs, lines, problems = [], [], []
    by_target = {e.supersedes: e for e in errata or ()}
    with open(csv_path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing_cols = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
        if missing_cols:
            return [], [], [f"{csv_path}: line 1: missing column(s) {', '.join(missing_cols)}"]
        name = Path(csv_path).name
        for row in reader:
            line = reader.line_num
            where = f"{csv_path}: line {line}"
            try:
                run = _row_run(row, name, line, models)
                fix = by_target.get(run.run_id) or _erratum_of_corrected_row(row, errata or (), name, line, models)
                if fix is not None:
                    run = _row_run({**row, **fix.old_values()}, name, line, models)
                    if run.run_id != fix.supersedes:
                        raise _RowError(f": the errata table's old values for run {fix.supersedes} give run "
                                        f"{run.run_id}; its columns must say what the published run was made from")
                    fixed = _row_run({**row, **fix.new_values()}, name, line, models, fix)
            except _RowError as e:
                problems.append(f"{where}{e}")
                continue
            runs.append(run)
            lines.append(where)
            if fix is not None:
                runs.append(fixed)
                lines.append(f"{where}, corrected by the errata table (supersedes {fix.supersedes})")
    return runs, lines, problems


def _erratum_of_corrected_row(row: dict, errata, name: str, line: int, models: dict[str, ModelRow]) -> Erratum | None:
    """The erratum whose correction this row already states: it holds the new values, and with the old ones it is
    the superseded run."""
    for e in errata:
        if e.columns and e.holds(row, "now") and \
                _row_run({**row, **e.old_values()}, name, line, models).run_id == e.supersedes:
            return e
    return None


def read_bear_leaderboard(path: Path, models: dict[str, ModelRow]) -> tuple[list[RunFile], list[str], list[str]]:
    """The public BEAR leaderboard (published_results.json): accuracy mean and sem per model, as reported."""
    runs, lines, problems = [], [], []
    try:
        entries = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        return [], [], [f"{path}: cannot read: {e}"]
    for i, e in enumerate(entries):
        where = f"{path}: entry {i} ({e.get('model_name')!r})"
        url = e.get("model_url")
        if not url:  # the random baseline: not a model
            continue
        model = models.get(url.removeprefix("https://huggingface.co/"))
        if model is None:
            problems.append(f"{where}, field model_url: unknown model {url!r}; add it to the models table")
            continue
        acc = e.get("accuracy") or {}
        try:
            mv = _metric_value(float(acc["mean"]), "fraction", "accuracy",
                               float(acc["sem"]) if acc.get("sem") is not None else None)
        except (KeyError, TypeError, ValueError) as err:
            problems.append(f"{where}, field accuracy: {err}")
            continue
        run = _run(model, [], "bear:bear", "accuracy", mv,
                   Reported(kind="reported", citation=BEAR_CITATION, table="BEAR leaderboard (results.json)",
                            url=BEAR_LEADERBOARD_URL,
                            checked_via="lm-pub-quiz/lm-pub-quiz.github.io @ 23b5b787 results.json, "
                                        "copied to shared/data/bear/published_results.json; stderr = the leaderboard's sem"),
                   f"Entered from {Path(path).name} entry {i}; accuracy is BEAR's mean over its three templates.",
                   None, {"model_type": e.get("model_type")} if e.get("model_type") else None)
        runs.append(run)
        lines.append(where)
    return runs, lines, problems


def import_reported(csv_path: Path | None, runs_dir: Path, bear_json: Path | None = None,
                    models_csv: Path | None = None, errata_json: Path | None = None) -> Import:
    """Check everything, then write the run files that are not there yet (all or nothing). Rows that the errata table
    corrects give their correction too (a run file that supersedes the row's run)."""
    from .fsutil import check_target, write_under

    models = models_table(models_csv)
    errata = errata_table(errata_json)
    out = Import()
    problems: list[str] = []
    for source, reader in ((csv_path, lambda p, m: read_csv(p, m, errata)), (bear_json, read_bear_leaderboard)):
        if source is None:
            continue
        runs, lines, probs = reader(Path(source), models)
        out.runs += runs
        out.lines += lines
        problems += probs
    seen: dict[str, str] = {}
    for run, where in zip(out.runs, out.lines):
        if run.run_id in seen:
            problems.append(f"{where}: the same spec as {seen[run.run_id]} (model, compression, task, citation, table)")
        seen[run.run_id] = where
    if problems:
        raise ReportedError(problems)
    for run in out.runs:
        rel = canonical_path(run)
        target = Path(runs_dir) / rel
        if check_target(target):  # a link or folder there is refused (UnsafePath), never followed
            out.existing.append(target)
            continue
        write_under(Path(runs_dir), rel, dump_run(run).encode("utf-8"))  # atomic, mode 0644, no links followed
        out.written.append(target)
    return out
