"""Published results -> `source: reported` run files (values exactly as printed, cited to the table).

Reads every row of a reported-results CSV (see ../shared/data/reported/README.md) and, optionally, the
public BEAR leaderboard (published_results.json). Models, families, architectures and sizes come from a
data table (``data/reported/models.csv``), never from code. Every row is checked before anything is
written: a bad row is an error naming its CSV line and column, and then nothing is imported. Rows whose
run_id (their spec: model, compression, evaluation, citation and table) is already in runs/ are left as
they are (append-only), so importing twice changes nothing.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from . import registry
from .schema import (
    SCHEMA_VERSION,
    Evaluation,
    MetricValue,
    ModelInfo,
    Reported,
    RunFile,
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
         num_fewshot: int | None, config: dict | None) -> RunFile:
    run = RunFile(
        schema_version=SCHEMA_VERSION, run_id="0" * 16,
        model=ModelInfo(id=model.model, revision=None, family=model.family, architecture=model.architecture,
                        parameters=model.parameters),
        compression=steps, evaluation=Evaluation(task=task),
        results=[TaskResult(task=task, metrics={metric: mv}, num_fewshot=num_fewshot, config=config or None)],
        source=source, notes=notes)
    # the same row gives the same bytes whatever schema version is current: the earliest that states it, from 1.1
    # (the version import-reported has written since it exists)
    return run.model_copy(update={"run_id": compute_run_id(run), "schema_version": earliest_version(run, REPORTED_SINCE)})


def read_csv(csv_path: Path, models: dict[str, ModelRow]) -> tuple[list[RunFile], list[str], list[str]]:
    """Check every row; returns (runs, where each came from, problems)."""
    runs, lines, problems = [], [], []
    with open(csv_path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing_cols = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
        if missing_cols:
            return [], [], [f"{csv_path}: line 1: missing column(s) {', '.join(missing_cols)}"]
        for row in reader:
            line = reader.line_num
            where = f"{csv_path}: line {line}"

            def col(name: str, row: dict = row) -> str:
                return (row.get(name) or "").strip()

            bad = [c for c in REQUIRED if not col(c)]
            if bad:
                problems.append(f"{where}, column {bad[0]}: empty ({'a citation, table and url are' if bad[0] in ('citation', 'table', 'url') else 'a value is'} required)")
                continue
            model = models.get(col("model"))
            if model is None:
                problems.append(f"{where}, column model: unknown model {col('model')!r}; add it to the models table "
                                "(data/reported/models.csv: family, architecture, parameters)")
                continue
            if col("family") != model.family:
                problems.append(f"{where}, column family: {col('family')!r} but the models table says {model.family!r}")
                continue
            task = col("task")
            if task.partition(":")[0] not in registry.TASK_SUITES:
                problems.append(f"{where}, column task: unknown suite in {task!r}; known: {', '.join(registry.TASK_SUITES)}")
                continue
            try:
                steps = _steps(col("compression"), "step")
            except ValueError as e:
                problems.append(f"{where}, column compression: {e}")
                continue
            try:
                value = float(col("value"))
            except ValueError:
                problems.append(f"{where}, column value: {col('value')!r} is not a number")
                continue
            try:
                mv = _metric_value(value, col("scale"), col("metric"))
            except ValueError as e:
                problems.append(f"{where}, column {'scale' if 'scale' in str(e) and 'outside' not in str(e) else 'value'}: {e}")
                continue
            n_shot = col("n_shot")
            if n_shot and not n_shot.isdigit():
                problems.append(f"{where}, column n_shot: {n_shot!r} is not a whole number")
                continue
            if not col("url").startswith("https://"):
                problems.append(f"{where}, column url: {col('url')!r} is not an https:// address")
                continue
            method = col("method_as_published")
            try:
                run = _run(model, steps, task, col("metric"), mv,
                           Reported(kind="reported", citation=col("citation"), table=col("table"), url=col("url"),
                                    checked_via=col("checked_via") or None),
                           f"Entered from {Path(csv_path).name} row {line - 1}; the value is as printed in the source.",
                           int(n_shot) if n_shot and task.startswith("lm-eval:") else None,
                           {"method_as_published": method[:500]} if method else None)
            except ValueError as e:  # pydantic: a field the schema refuses
                problems.append(f"{where}: {str(e).splitlines()[0]}: {' '.join(str(e).splitlines()[1:3])}")
                continue
            runs.append(run)
            lines.append(where)
    return runs, lines, problems


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
                    models_csv: Path | None = None) -> Import:
    """Check everything, then write the run files that are not there yet (all or nothing)."""
    from .fsutil import check_target, write_under

    models = models_table(models_csv)
    out = Import()
    problems: list[str] = []
    for source, reader in ((csv_path, read_csv), (bear_json, read_bear_leaderboard)):
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
