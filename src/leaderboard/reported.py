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
import io
import math
import re
import unicodedata
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError

from . import registry
from .evaluate import registry as suites
from .fsutil import InputError, read_text
from .schema import (
    MODEL_ID_RULE,
    SCHEMA_VERSION,
    Evaluation,
    MetricValue,
    ModelId,
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
NUMERIC = ("value", "n_shot")  # parsed strictly from the text as typed, never from its normalised form
OPTIONAL = ("model_revision", "compression", "method_as_published", "n_shot", "checked_via")
BEAR_SOURCE = "bear"  # the sources.yaml key of the public BEAR leaderboard
MAX_CSV_BYTES = 16 * 1024 * 1024  # a reported-results CSV (the 403-row one is ~330 KB)
MAX_JSON_BYTES = 4 * 1024 * 1024  # the BEAR leaderboard's results.json (~20 KB)
MAX_FIELD = 10_000  # characters in one CSV cell


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


_WHOLE = re.compile(r"[0-9]{1,15}", re.ASCII)
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,3})?", re.ASCII)
# Unicode categories no reported text may hold: controls, format characters (zero-width space and joiners,
# bidirectional overrides, soft hyphen), private use, surrogates, unassigned, line and paragraph separators
_SPACES = re.compile(" {2,}")
_INVISIBLE = frozenset({"Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp"})


def clean_text(text: str) -> str:
    """One spelling of a piece of reported text: NFKC (compatibility look-alikes such as full-width letters,
    ligatures and no-break spaces become the plain characters), runs of spaces as one space, no space at
    either end. A control or invisible character is refused (ValueError): two rows that differ only by one
    would otherwise be two results that read the same."""
    norm = unicodedata.normalize("NFKC", text)
    for ch in norm:
        if unicodedata.category(ch) in _INVISIBLE:
            raise ValueError(f"holds the invisible or control character U+{ord(ch):04X} "
                             f"({unicodedata.name(ch, 'unnamed')}); type the text without it")
    return _SPACES.sub(" ", norm).strip(" ")


def whole_number(text: str) -> int:
    """A whole number written with ASCII digits only ('1_000', '²', '1e3' and booleans are not numbers here)."""
    if not _WHOLE.fullmatch(text):
        raise ValueError(f"{text!r} is not a whole number (digits 0-9 only)")
    return int(text)


def decimal_number(text: str) -> float:
    """A decimal number as printed ('31.1', '-2', '1.5e-3'); '3_1.1', 'nan', 'inf', '１' and '0x1f' are refused."""
    if not _NUMBER.fullmatch(text):
        raise ValueError(f"{text!r} is not a number")
    return float(text)


def json_number(value: object) -> float:
    """A JSON number (int or float, never a boolean or a string) as a float."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{value!r} is not a number")
    return float(value)


def _csv_rows(text: str, where: str) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """Header and rows (with their line numbers) of CSV text; raises ValueError naming the line."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, [])
        rows = []
        for values in reader:
            if len(values) > len(header):
                raise ValueError(f"{where}: line {reader.line_num}: {len(values)} fields for {len(header)} columns")
            rows.append((reader.line_num, dict(zip(header, values))))
    except csv.Error as e:
        raise ValueError(f"{where}: line {reader.line_num}: not valid CSV ({e})") from None
    dup = sorted({c for c in header if header.count(c) > 1})
    if dup:
        raise ValueError(f"{where}: line 1: column(s) {', '.join(dup)} appear twice")
    return header, rows


def _read_input(path: Path, max_bytes: int) -> str:
    try:
        return read_text(path, max_bytes, follow_links=True)  # the user names the file; it must be a regular one
    except InputError as e:
        raise ReportedError([f"{path}: {e}"]) from None


def _column(name: str, parse, text: str):
    try:
        return parse(text)
    except ValueError as e:
        raise ValueError(f"column {name}: {e}") from None


def models_table(path: Path | None = None) -> dict[str, ModelRow]:
    """The models reported rows may name (model, family, architecture, parameters, series)."""
    text = (_read_input(Path(path), MAX_CSV_BYTES) if path else
            (resources.files("leaderboard") / "data" / "reported" / "models.csv").read_text(encoding="utf-8"))
    where = f"{path}: models table" if path else "models table"  # a file given with --models is named in errors
    try:
        _header, rows = _csv_rows(text, where)
    except ValueError as e:
        raise ReportedError([str(e)]) from None
    out = {}
    for i, row in rows:
        try:
            model = clean_text(row["model"])
            try:
                _MODEL_ID.validate_python(model)
            except ValidationError:
                raise ValueError(f"column model: {model[:100]!r}: {MODEL_ID_RULE}") from None
            if model in out:
                raise ValueError(f"model {model!r} appears twice")
            out[model] = ModelRow(model, clean_text(row["family"]), clean_text(row["architecture"]),
                                  _column("parameters", whole_number, row["parameters"]), clean_text(row["series"]))
        except KeyError as e:
            raise ReportedError([f"{where} line {i}: missing column {e}"]) from None
        except (ValueError, TypeError, AttributeError) as e:
            raise ReportedError([f"{where} line {i}: {e}"]) from None
    return out


class Source(BaseModel):
    """A paper or leaderboard reported results may cite (data/reported/sources.yaml)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    key: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9\-]{0,39}$")]
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    url: Annotated[str, StringConstraints(pattern=r"^https://[!-~]{1,500}$")]
    citation: Annotated[str, StringConstraints(min_length=1, max_length=2000)]
    tables: list[Annotated[str, StringConstraints(min_length=1, max_length=300)]] = Field(min_length=1)
    caveat: Annotated[str, StringConstraints(max_length=2000)] = "none stated"
    series_curves: bool = False


@cache
def sources() -> dict[str, Source]:
    """Every declared source by key (the packaged data/reported/sources.yaml, reviewed like code)."""
    from .yamlsafe import load

    where = "data/reported/sources.yaml"
    text = (resources.files("leaderboard") / "data" / "reported" / "sources.yaml").read_text(encoding="utf-8")
    data = load(text, where)
    if not isinstance(data, list):
        raise ValueError(f"{where}: a list of sources")
    out: dict[str, Source] = {}
    for i, entry in enumerate(data):
        try:
            src = Source.model_validate(entry)
        except ValidationError as e:
            raise ValueError(f"{where}: entry {i}: {e}") from None
        texts = [src.name, src.citation, *src.tables]
        if src.key in out or src.key == "other-sources" or any(clean_text(t) != t for t in texts):
            raise ValueError(f"{where}: entry {i} ({src.key}): the key appears twice or is the other sources' page, or a "
                             "text is not in its one spelling")
        out[src.key] = src
    return out


def source_key(url: str | None, citation: str | None, table: str | None) -> str | None:
    """The declared source a reported run cites (url, citation and table all as declared), else None: such a
    run is shown under "Other sources", never on a paper's page."""
    for src in sources().values():
        if url == src.url and citation == src.citation and table in src.tables:
            return src.key
    return None


@dataclass
class Import:
    runs: list[RunFile] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)  # where each run came from
    written: list[Path] = field(default_factory=list)
    existing: list[Path] = field(default_factory=list)


def _steps(text: str, where: str):
    steps = []
    for part in filter(None, (p.strip() for p in text.split(";"))):
        from .notation import SpecError, parse_step  # torch-free

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
         num_fewshot: int | None, config: dict | None, supersedes: Supersedes | None = None,
         revision: str | None = None) -> RunFile:
    run = RunFile(
        schema_version=SCHEMA_VERSION, run_id="0" * 16,
        model=ModelInfo(id=model.model, revision=revision, family=model.family, architecture=model.architecture,
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


_MODEL_ID = TypeAdapter(ModelId)
_REVISION = TypeAdapter(ModelInfo.model_fields["revision"].annotation)


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
        value = decimal_number(col("value"))
    except ValueError as e:
        raise _RowError(f", column value: {e}") from None
    try:
        mv = _metric_value(value, col("scale"), col("metric"))
    except ValueError as e:
        raise _RowError(f", column {'scale' if 'scale' in str(e) and 'outside' not in str(e) else 'value'}: {e}") from None
    n_shot = col("n_shot")
    try:
        shots = whole_number(n_shot) if n_shot else None
    except ValueError as e:
        raise _RowError(f", column n_shot: {e}") from None
    if not col("url").startswith("https://"):
        raise _RowError(f", column url: {col('url')!r} is not an https:// address")
    if source_key(col("url"), col("citation"), col("table")) is None:
        raise _RowError(f", column citation: the source (url {col('url')!r}, this citation, table {col('table')!r}) "
                        "is not declared in data/reported/sources.yaml; declare the paper and its tables there first")
    revision = col("model_revision") or None
    if revision is not None:  # it was read and dropped: a row naming a revision got a run file without it
        try:
            _REVISION.validate_python(revision)
        except ValidationError:
            raise _RowError(f", column model_revision: {revision[:100]!r} is not a revision (a commit, tag or branch: "
                            "1-100 of A-Z a-z 0-9 _ . : -)") from None
    method = col("method_as_published")
    try:
        return _run(model, steps, task, col("metric"), mv,
                    Reported(kind="reported", citation=col("citation"), table=col("table"), url=col("url"),
                             checked_via=col("checked_via") or None),
                    f"Entered from {csv_name} row {line - 1}; the value is as printed in the source.",
                    shots if "num_fewshot" in suites.suite_of(task).Settings.model_fields else None,
                    {"method_as_published": method[:500]} if method else None,
                    Supersedes(run_id=erratum.supersedes, reason=erratum.reason) if erratum is not None else None,
                    revision)
    except ValueError as e:  # pydantic: a field the schema refuses
        raise _RowError(f": {str(e).splitlines()[0]}: {' '.join(str(e).splitlines()[1:3])}") from None


def read_csv(csv_path: Path, models: dict[str, ModelRow],
             errata: list[Erratum] | None = None) -> tuple[list[RunFile], list[str], list[str]]:
    """Check every row; returns (runs, where each came from, problems). The file is read through the bounded
    reader (a regular file, at most MAX_CSV_BYTES, UTF-8); every cell is text in its one spelling (clean_text).

    A row that an erratum of the errata table corrects gives two runs: the one published (the row with the
    erratum's old column values: its run_id is the one superseded) and its correction (the new values, superseding
    it). So the row gives the same two files whether the CSV still holds the old values or already the new ones, and
    a corrected CSV never adds the corrected row a second time as a plain run."""
    runs, lines, problems = [], [], []
    by_target = {e.supersedes: e for e in errata or ()}
    text = _read_input(csv_path, MAX_CSV_BYTES)
    try:
        header, rows = _csv_rows(text, str(csv_path))
    except ValueError as e:
        return [], [], [str(e)]
    missing_cols = [c for c in REQUIRED if c not in header]
    if missing_cols:
        return [], [], [f"{csv_path}: line 1: missing column(s) {', '.join(missing_cols)}"]
    unknown = [c for c in header if c not in REQUIRED and c not in OPTIONAL]
    if unknown:
        return [], [], [f"{csv_path}: line 1: unknown column(s) {', '.join(map(repr, unknown[:5]))}; "
                        f"the columns are {', '.join(REQUIRED + OPTIONAL)}"]
    file_name = Path(csv_path).name
    for line, raw in rows:
        where = f"{csv_path}: line {line}"
        row: dict[str, str] = {}
        for column, value in raw.items():
            try:
                if len(value) > MAX_FIELD:
                    raise ValueError(f"{len(value):,} characters; at most {MAX_FIELD:,}")
                row[column] = clean_text(value)
                if column in NUMERIC and row[column] != value.strip(" "):  # '３1.1', '²': a look-alike is not a digit
                    raise ValueError(f"{value!r} is not a number (ASCII digits only)")
            except ValueError as e:
                problems.append(f"{where}, column {column}: {e}")
                break
        else:
            fix = None
            try:
                run = _row_run(row, file_name, line, models)
                fix = by_target.get(run.run_id) or _erratum_of_corrected_row(row, errata or (), file_name, line, models)
                if fix is not None:
                    run = _row_run({**row, **fix.old_values()}, file_name, line, models)
                    if run.run_id != fix.supersedes:
                        raise _RowError(f": the errata table's old values for run {fix.supersedes} give run "
                                        f"{run.run_id}; its columns must say what the published run was made from")
                    fixed = _row_run({**row, **fix.new_values()}, file_name, line, models, fix)
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
    from .validate import LoadError, parse_json

    runs, lines, problems = [], [], []
    source = sources()[BEAR_SOURCE]
    bear_task = suites.canonical(BEAR_SOURCE)  # the published BEAR set: 'bear' names it (bear:bear)
    metric = suites.suite_of(bear_task).headline
    try:
        entries = parse_json(_read_input(path, MAX_JSON_BYTES).encode("utf-8"))
    except LoadError as e:
        return [], [], [f"{path}: {e}"]
    if not isinstance(entries, list):
        return [], [], [f"{path}: a JSON list of leaderboard entries"]
    for i, e in enumerate(entries):
        if not isinstance(e, dict):
            problems.append(f"{path}: entry {i}: not a JSON object")
            continue
        name, url, kind = e.get("model_name"), e.get("model_url"), e.get("model_type")
        where = f"{path}: entry {i} ({name!r})"
        if not url:  # the random baseline: not a model
            continue
        try:
            for field_name, text in (("model_url", url), ("model_type", kind)):
                if text is not None and (not isinstance(text, str) or clean_text(text) != text):
                    raise ValueError(f"field {field_name}: {text!r} is not plain text in its one spelling")
        except ValueError as err:
            problems.append(f"{where}, {err}")
            continue
        model = models.get(url.removeprefix("https://huggingface.co/"))
        if model is None:
            problems.append(f"{where}, field model_url: unknown model {url!r}; add it to the models table")
            continue
        acc = e.get("accuracy")
        try:
            if not isinstance(acc, dict) or "mean" not in acc:
                raise ValueError("needs a mean")
            sem = acc.get("sem")
            mv = _metric_value(json_number(acc["mean"]), "fraction", metric,
                               json_number(sem) if sem is not None else None)
        except ValueError as err:
            problems.append(f"{where}, field accuracy: {err}")
            continue
        run = _run(model, [], bear_task, metric, mv,
                   Reported(kind="reported", citation=source.citation, table=source.tables[0], url=source.url,
                            checked_via="lm-pub-quiz/lm-pub-quiz.github.io @ 23b5b787 results.json, "
                                        "copied to shared/data/bear/published_results.json; stderr = the leaderboard's sem"),
                   f"Entered from {Path(path).name} entry {i}; accuracy is BEAR's mean over its three templates.",
                   None, {"model_type": kind} if kind else None)
        runs.append(run)
        lines.append(where)
    return runs, lines, problems


def import_reported(csv_path: Path | None, runs_dir: Path, bear_json: Path | None = None,
                    models_csv: Path | None = None, errata_json: Path | None = None) -> Import:
    """Check everything, then write the run files that are not there yet (all or nothing). Rows that the errata table
    corrects give their correction too (a run file that supersedes the row's run)."""
    from .fsutil import write_all_under

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
    files: dict[PurePosixPath, bytes] = {canonical_path(run): dump_run(run).encode("utf-8") for run in out.runs}
    # all or nothing: every place checked (a link or folder where a file goes is refused, never followed), every
    # file staged, then linked into place; a failure on any of them leaves runs/ as it was
    out.written, out.existing = write_all_under(Path(runs_dir), files)
    return out
