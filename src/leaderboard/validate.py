"""Validate run files: schema, semantic checks, set checks, and the append-only rule.

Run files come from strangers (pull requests), so reading one is defensive: a size limit checked
before reading, no symbolic links, strict UTF-8, no NaN/Infinity, no duplicate keys, bounded
nesting. Every problem is reported as ``path: /json/pointer: message``; nothing raises.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import secrets
import stat
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path, PurePosixPath
from typing import Annotated, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from . import registry
from .compress.spec import sparsity_mismatch
from .fsutil import InputError, read_regular, write_atomic
from .parallel import pmap
from .schema import (
    FACTS_MAX_FILE_BYTES,
    MODEL_ID_PATTERN,
    MODEL_ID_RULE,
    SCHEMA_VERSION,
    SCHEMA_VERSIONS,
    MetricValue,
    ModelInfo,
    RunFile,
    TaskResult,
    canonical_path,
    compute_run_id,
    facts_frame,
    model_slug,
)

DEFAULT_MAX_BYTES = 5 * 1024 * 1024
IDENTITY_FIELDS = ("family", "architecture", "parameters", "toy")  # one model id, one of each
IGNORED_NAMES = frozenset({"README.md", ".gitkeep"})
RUN_DEPTH = 3  # <family>/<model-slug>/<run_id>.json below the runs folder
# Timestamps outside this window cannot be real runs (and years outside 1..9999 in UTC break every reader).
EARLIEST = datetime(2015, 1, 1, tzinfo=timezone.utc)
FUTURE_SLACK = timedelta(days=1)

Severity = Literal["error", "warning", "note"]  # notes say what an erratum changes; they are not problems


@dataclass(frozen=True)
class Problem:
    path: str
    pointer: str
    message: str
    severity: Severity = "error"

    def line(self) -> str:
        prefix = f"{self.severity}: " if self.severity != "error" else ""
        return f"{self.path}: {self.pointer or '/'}: {prefix}{self.message}"

    def as_dict(self) -> dict:
        return {"path": self.path, "pointer": self.pointer or "/", "severity": self.severity, "message": self.message}


class RunKey(NamedTuple):
    """What checks across files need to know of a run (cheap to pass between processes)."""

    run_id: str
    source_kind: str
    baseline: tuple  # see baseline_key()
    is_baseline: bool
    model_id: str
    task: str
    identity: tuple = ()  # model_identity(): the same for every file of one model id
    supersedes: str | None = None  # an erratum: the run_id of the run it corrects
    lineage_base: str | None = None  # the model whose baseline a derived checkpoint's retention is computed against


def model_identity(model: ModelInfo) -> tuple:
    """What every file of one model id must agree on (IDENTITY_FIELDS): validate, pr-check and the store compare
    this, and model_problems names the field that differs."""
    return tuple(getattr(model, name) for name in IDENTITY_FIELDS)


def identity_problems(path: str, model: ModelInfo) -> list[Problem]:
    """Rules on one file's model beyond its id's spelling (the schema's ModelId): a bundled demo model is a toy
    under any source, so its id cannot stand for a real model's result."""
    from .bundled import model_ids

    if model.id in model_ids() and not model.toy:
        return [Problem(path, "/model/toy", f"{model.id!r} is the bundled demo model: its runs say toy: true")]
    return []


def run_key(r: RunFile) -> RunKey:
    return RunKey(r.run_id, r.source.kind, baseline_key(r), r.is_baseline, r.model.id, r.evaluation.task,
                  model_identity(r.model), r.supersedes.run_id if r.supersedes is not None else None,
                  r.model.lineage.base if r.model.lineage is not None else None)


@dataclass
class Checked:
    """One file after validation: its run (if the schema accepted it) and its problems.

    Bulk checks drop ``run`` and keep only ``key``; single-file checks keep both.
    """

    path: str
    sha256: str
    run: RunFile | None
    problems: list[Problem] = field(default_factory=list)
    key: RunKey | None = None
    size: int = -1  # bytes read (-1: unknown)

    def __post_init__(self) -> None:
        if self.run is not None and self.key is None:
            self.key = run_key(self.run)

    @property
    def ok(self) -> bool:
        return self.key is not None and not any(p.severity == "error" for p in self.problems)

    def light(self) -> Checked:
        return Checked(self.path, self.sha256, None, self.problems, self.key, self.size)


@dataclass
class Report:
    checked: list[Checked]
    problems: list[Problem]
    notes: list[Problem] = field(default_factory=list)  # what each erratum changes, one line per field
    rechecked: int = 0  # files checked one by one this time (the others' results came from the cache)
    unread: int = 0  # of the cached ones, files not even read: their stat signature is the one cached (stat_signature)
    max_bytes: int = DEFAULT_MAX_BYTES  # the size limit the files were read under
    check_paths: bool = True  # whether each file's place was checked against its content
    roots: tuple[str, ...] = ()  # the paths validated (each folder walked once: ingest takes its files from here)

    def accepted(self, max_bytes: int = DEFAULT_MAX_BYTES) -> dict[str, str]:
        """{path: sha256} of the files with no error of their own, for check_bytes(accepted=...) of a reader that
        reads them next under the same size limit and path rule (the build's ingest): a file whose bytes still
        have that hash need not be checked again. Empty where this report was made under other rules."""
        if max_bytes != self.max_bytes or not self.check_paths:
            return {}
        return {c.path: c.sha256 for c in self.checked if c.ok}

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]


# --- reading -------------------------------------------------------------------------------


class LoadError(Exception):
    pass


def read_bounded(path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """Bytes of a regular file no larger than ``max_bytes`` (the project's one bounded reader, fsutil)."""
    try:
        return read_regular(path, max_bytes)
    except InputError as e:
        msg = str(e)
        if msg.startswith("is a symbolic link"):
            msg = "is a symbolic link; run files must be regular files"
        raise LoadError(msg) from None


def _reject_constant(name: str) -> None:
    raise LoadError(f"{name} is not valid JSON (numbers must be finite)")


def _no_duplicate_keys(pairs: list[tuple[str, object]]) -> dict:
    out: dict = {}
    for k, v in pairs:
        if k in out:
            raise LoadError(f"key {k!r} appears twice in one object")
        out[k] = v
    return out


def parse_json(raw: bytes) -> object:
    """Parse untrusted JSON strictly; raises LoadError with a readable message."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise LoadError(f"not UTF-8 (byte {e.start})") from None
    if text.startswith("\ufeff"):
        raise LoadError("starts with a byte-order mark; save as UTF-8 without BOM")
    try:
        obj = json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_no_duplicate_keys)
    except json.JSONDecodeError as e:
        raise LoadError(f"invalid JSON at line {e.lineno} column {e.colno}: {e.msg}") from None
    except RecursionError:
        raise LoadError("JSON is nested too deeply") from None
    except ValueError as e:  # e.g. integers with more than 4300 digits
        raise LoadError(f"invalid JSON: {e}") from None
    return obj


# --- schema errors -> JSON pointers --------------------------------------------------------


def _escape(token: object) -> str:
    return str(token).replace("~", "~0").replace("/", "~1")


def _pointer(data: object, loc: tuple, field_error: bool = True) -> str:
    """Map a pydantic error location onto the data, dropping union/discriminator tags. ``field_error``: the error is
    about a key of the object (a missing or forbidden field), so a last key absent from the data is still named."""
    parts: list[str] = []
    node = data
    for i, key in enumerate(loc):
        last = i == len(loc) - 1
        if key == "[key]":
            continue
        if isinstance(node, dict) and key in node:
            node = node[key]
            parts.append(_escape(key))
        elif isinstance(node, list) and isinstance(key, int) and 0 <= key < len(node):
            node = node[key]
            parts.append(str(key))
        elif isinstance(node, dict) and key in node.values():
            continue  # discriminator tag, e.g. 'prune'
        elif last and field_error and isinstance(node, dict):
            parts.append(_escape(key))  # a missing or forbidden field
        # else: a union-member tag such as 'int' or 'constrained-str'
    return "/" + "/".join(parts) if parts else ""


def _schema_problems(path: str, data: object, err: ValidationError) -> list[Problem]:
    by_pointer: dict[str, list[str]] = {}
    for e in err.errors(include_url=False):
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown field (the schema forbids fields it does not define)"
        elif e["type"] == "missing":
            msg = "required field is missing"
        elif e["type"] == "string_pattern_mismatch" and (e.get("ctx") or {}).get("pattern") == MODEL_ID_PATTERN:
            msg = MODEL_ID_RULE
        ptr = _pointer(data, tuple(e["loc"]), e["type"] in ("missing", "extra_forbidden"))
        if msg not in by_pointer.setdefault(ptr, []):
            by_pointer[ptr].append(msg)
    return [Problem(path, ptr, "; ".join(msgs)) for ptr, msgs in by_pointer.items()]


# --- semantic checks on one run ------------------------------------------------------------


def _metric_problems(path: str, ptr: str, name: str, mv: MetricValue) -> list[Problem]:
    out = []
    try:
        info = registry.metric_info(name)
    except registry.UnknownMetric as e:
        return [Problem(path, ptr, str(e))]
    if mv.scale == "percent" and name not in registry.PERCENTABLE:
        out.append(Problem(path, f"{ptr}/scale", f"metric {name!r} cannot be on the percent scale"))
        return out
    factor = 100.0 if mv.scale == "percent" else 1.0
    lo = None if info.lower is None else info.lower * factor
    hi = None if info.upper is None else info.upper * factor
    def rng() -> str:
        return f"[{lo:g}, {'∞' if hi is None else f'{hi:g}'}]"

    if (lo is not None and mv.value < lo) or (hi is not None and mv.value > hi):
        out.append(Problem(path, f"{ptr}/value", f"{mv.value:g} is outside the range of {name} on the {mv.scale} scale {rng()}"))
        return out
    if mv.ci is not None:
        if not (mv.ci.low <= mv.value <= mv.ci.high):
            out.append(Problem(path, f"{ptr}/ci", f"interval [{mv.ci.low:g}, {mv.ci.high:g}] does not contain the value {mv.value:g}"))
        elif (lo is not None and mv.ci.low < lo) or (hi is not None and mv.ci.high > hi):
            out.append(Problem(path, f"{ptr}/ci", f"interval leaves the range of {name} {rng()}"))
    return out


def _n_problems(path: str, ptr: str, n: int | None) -> list[Problem]:
    if n == 0:
        return [Problem(path, ptr, "must be at least 1: a metric over no examples means nothing")]
    return []


def _task_problems(path: str, i: int, tr: TaskResult, suite: str, budget: list[int]) -> list[Problem]:
    """``budget``: decompressed fact bytes left for this file (shared by its result blocks)."""
    base = f"/results/{i}"
    out = _n_problems(path, f"{base}/n", tr.n)
    for name, mv in tr.metrics.items():
        out += _n_problems(path, f"{base}/metrics/{_escape(name)}/n", mv.n)
    if tr.task.split(":", 1)[0] != suite:
        out.append(Problem(path, f"{base}/task", f"task {tr.task!r} is not of the evaluated suite {suite!r}"))
    for name, mv in tr.metrics.items():
        out += _metric_problems(path, f"{base}/metrics/{_escape(name)}", name, mv)
    if tr.nonfinite:
        if tr.n is not None and tr.nonfinite > tr.n:
            out.append(Problem(path, f"{base}/nonfinite", f"{tr.nonfinite} non-finite examples of {tr.n} scored"))
        else:
            out.append(Problem(path, f"{base}/nonfinite", f"model output is not finite for {tr.nonfinite} of "
                               f"{tr.n if tr.n is not None else '?'} examples (they count as wrong): a broken model",
                               "warning"))
    if tr.relations is not None:
        seen: set[str] = set()
        for j, rel in enumerate(tr.relations):
            if rel.relation in seen:
                out.append(Problem(path, f"{base}/relations/{j}/relation", f"relation {rel.relation!r} appears twice"))
            seen.add(rel.relation)
            out += _n_problems(path, f"{base}/relations/{j}/n", rel.n)
            for name, mv in rel.metrics.items():
                out += _metric_problems(path, f"{base}/relations/{j}/metrics/{_escape(name)}", name, mv)
        total = sum(r.n for r in tr.relations)
        if tr.n is not None and total != tr.n:
            out.append(Problem(path, f"{base}/relations", f"relations hold {total} scored examples but n is {tr.n}"))
    if tr.facts is not None:
        try:
            decoded, nbytes = facts_frame(tr.facts, max_bytes=budget[0])
        except ValueError as e:
            out.append(Problem(path, f"{base}/facts/data", f"{e} (the limit is {FACTS_MAX_FILE_BYTES:,} bytes "
                               "of fact outcomes per file)" if "decompresses" in str(e) else str(e)))
            budget[0] = 0
        else:
            budget[0] -= nbytes
            if decoded.height != tr.facts.count:
                out.append(Problem(path, f"{base}/facts/count", f"count is {tr.facts.count} but data holds {decoded.height} facts"))
            elif tr.facts.count != tr.n:
                out.append(Problem(path, f"{base}/facts/count", f"{tr.facts.count} fact outcomes for {tr.n} scored examples"))
    return out


def semantic_problems(path: str, run: RunFile, rel_path: str | None) -> list[Problem]:
    """Rules beyond the schema; ``rel_path`` (posix) is checked against the canonical location."""
    out: list[Problem] = []
    expected = compute_run_id(run)
    if run.run_id != expected:
        out.append(Problem(path, "/run_id", f"does not match the content: expected {expected} "
                           "(a hash of model id and revision, compression, evaluation and runner version)"))
    if rel_path is not None:
        want = str(canonical_path(run).with_name(f"{expected}.json"))
        if "/".join(rel_path.split("/")[-3:]) != want:
            out.append(Problem(path, "", f"file must be at <runs>/{want} (family/model-slug/run_id.json)"))
    if run.source.kind != "reported":
        for name in ("provenance", "measured"):
            if getattr(run, name) is None:
                out.append(Problem(path, f"/{name}", f"required for {run.source.kind} runs"))
    out += identity_problems(path, run.model)
    if run.source.kind == "reported":
        from .reported import source_key

        if source_key(run.source.url, run.source.citation, run.source.table) is None:
            out.append(Problem(path, "/source", "not a declared source (url, citation and table as in "
                               "data/reported/sources.yaml): the site shows it under Other sources, not on a "
                               "paper's page", "warning"))
    if run.source.kind == "reported" and run.model.toy:
        out.append(Problem(path, "/model/toy", "a reported result cannot be about a toy model"))
    p = run.provenance
    if p is not None:
        latest = datetime.now(timezone.utc) + FUTURE_SLACK
        for ts_name in ("started_at", "finished_at"):
            ts = getattr(p, ts_name)
            if ts.tzinfo is None:
                out.append(Problem(path, f"/provenance/{ts_name}", "timestamp needs a time zone (e.g. 'Z')"))
            elif not _in_window(ts, latest):
                out.append(Problem(path, f"/provenance/{ts_name}", f"{ts.isoformat()} is not a plausible time of a run "
                                   f"(between {EARLIEST.date()} and now, in UTC)"))
        if p.started_at.tzinfo is not None and p.finished_at.tzinfo is not None and p.finished_at < p.started_at:
            out.append(Problem(path, "/provenance/finished_at", "is before started_at"))
    seen_tasks: set[str] = set()
    from .evaluate import registry as suites

    suite = run.evaluation.task.split(":", 1)[0]
    known = suites.names()
    if suite not in known:
        out.append(Problem(path, "/evaluation/task", f"unknown suite {suite!r}; known: {', '.join(known)}"))
    budget = [FACTS_MAX_FILE_BYTES]
    for i, tr in enumerate(run.results):
        if tr.n is None and run.source.kind != "reported":
            out.append(Problem(path, f"/results/{i}/n", f"required for {run.source.kind} runs"))
        if tr.task in seen_tasks:
            out.append(Problem(path, f"/results/{i}/task", f"task {tr.task!r} appears twice"))
        seen_tasks.add(tr.task)
        out += _task_problems(path, i, tr, suite, budget)
    if suite in known and run.source.kind != "reported":  # a paper reports what it reports
        headline = registry.headline_metric(run.evaluation.task)
        own = [tr for tr in run.results if tr.task == run.evaluation.task]
        if own and not any(headline in tr.metrics for tr in own):
            out.append(Problem(path, "/results", f"no {headline!r} for {run.evaluation.task!r} (the metric its "
                               "leaderboards show): this run will be on no leaderboard", "warning"))
    mismatch = sparsity_mismatch(run.applied_steps, run.measured.sparsity) if run.measured is not None else None
    if mismatch:
        out.append(Problem(path, f"/measured/sparsity/{_escape(mismatch[0])}", mismatch[1]))
    return out


def _in_window(ts: datetime, latest: datetime) -> bool:
    try:
        return EARLIEST <= ts.astimezone(timezone.utc) <= latest
    except (OverflowError, ValueError):  # e.g. 0001-01-01T00:00:00+14:00 is before year 1 in UTC
        return False


# --- files ---------------------------------------------------------------------------------


def check_bytes(raw: bytes, path: str, rel_path: str | None, accepted: str | None = None) -> Checked:
    """``accepted``: the sha256 of bytes this validator found free of errors earlier in this process (Report.accepted,
    the same path, size limit and path rule): such bytes are parsed into their run and not checked again (their
    warnings are not repeated). Other bytes are checked in full."""
    sha = hashlib.sha256(raw).hexdigest()
    try:
        data = parse_json(raw)
    except LoadError as e:
        return Checked(path, sha, None, [Problem(path, "", str(e))])
    if not isinstance(data, dict):
        return Checked(path, sha, None, [Problem(path, "", "a run file is one JSON object")])
    version = data.get("schema_version")
    if isinstance(version, str) and version.split(".")[0] == "1" and version not in SCHEMA_VERSIONS:
        return Checked(path, sha, None, [Problem(path, "/schema_version",
                       f"schema {version} is newer than this validator knows ({SCHEMA_VERSION}); "
                       "upgrade compression-leaderboard")])
    try:
        run = RunFile.model_validate(data)
    except ValidationError as e:
        return Checked(path, sha, None, _schema_problems(path, data, e))
    except (RecursionError, MemoryError):
        return Checked(path, sha, None, [Problem(path, "", "run file is too complex to validate")])
    if accepted is not None and sha == accepted:
        return Checked(path, sha, run)
    hidden = hidden_text_problems(path, data) if _may_hide_text(raw) else []
    return Checked(path, sha, run, hidden + semantic_problems(path, run, rel_path))


# Characters that make text shown differ from text stored (format characters: bidirectional overrides and isolates,
# zero-width spaces and joiners, soft hyphen; controls other than tab, newline and carriage return; private use;
# surrogates; line
# and paragraph separators). HTML escaping leaves them working: a right-to-left override in a note reorders what
# the page shows. import-reported refuses them in every CSV cell (reported.clean_text); run files the same.
_HIDDEN_CATEGORIES = frozenset({"Cf", "Co", "Cs", "Zl", "Zp"})
_ASCII_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# JSON text of printable ASCII (and tab, newline, carriage return) without a backslash holds no such character in any
# string: a string takes a character only written as itself or as an escape, and strict JSON (parse_json) refuses
# raw controls inside strings. Most run files are such text; for them the walk below is skipped (it was most of the
# time a file took to check).
_PLAIN_JSON = re.compile(rb"[\t\n\r\x20-\x5b\x5d-\x7e]*")


def _may_hide_text(raw: bytes) -> bool:
    return _PLAIN_JSON.fullmatch(raw) is None


def hidden_text_problems(path: str, data: object) -> list[Problem]:
    """One problem per string of a run file (any field) that holds such a character, naming the field."""
    import unicodedata

    out = []
    stack: list[tuple[str, object]] = [("", data)]
    while stack:
        ptr, node = stack.pop()
        if isinstance(node, dict):
            stack.extend((f"{ptr}/{_escape(k)}", v) for k, v in reversed(list(node.items())))
        elif isinstance(node, list):
            stack.extend((f"{ptr}/{i}", v) for i, v in reversed(list(enumerate(node))))
        elif isinstance(node, str) and (not node.isascii() or _ASCII_CONTROL.search(node)):
            for ch in node:
                cat = unicodedata.category(ch)
                if cat in _HIDDEN_CATEGORIES or (cat == "Cc" and ch not in "\t\n\r"):
                    out.append(Problem(path, ptr, f"holds the invisible or control character U+{ord(ch):04X} "
                                                  f"({unicodedata.name(ch, 'unnamed')}); write the text without it"))
                    break
    return out


def check_file(path: Path, max_bytes: int = DEFAULT_MAX_BYTES, check_path: bool = True) -> Checked:
    shown = str(path)
    try:
        raw = read_bounded(path, max_bytes)
    except LoadError as e:
        return Checked(shown, "", None, [Problem(shown, "", str(e))])
    checked = check_bytes(raw, shown, shown.replace(os.sep, "/") if check_path else None)
    checked.size = len(raw)
    return checked


def _check_light(args: tuple[str, int, bool]) -> Checked:
    return check_file(Path(args[0]), args[1], args[2]).light()


def _walk(root: str, depth: int, files: list[str], problems: list[Problem]) -> None:
    """Regular files and folders only, nothing hidden, nothing deeper than a run file's place: anything
    else could hide a published run from one reader while another still sees it. (Paths as text: a Path for each
    of 100,000 files was 0.4 s of every build; issue 22, scale.)"""
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError as e:
        problems.append(Problem(root, "", f"cannot read folder: {e.strerror}"))
        return
    for entry in entries:
        fp = entry.path
        if entry.is_symlink():
            problems.append(Problem(fp, "", "is a symbolic link; a runs folder holds regular files and folders only"))
        elif entry.name.startswith(".") and entry.name not in IGNORED_NAMES:
            what = ("a .gitattributes file would change how git stores run files"
                    if entry.name == ".gitattributes" else "a hidden entry")
            problems.append(Problem(fp, "", f"{what}; a runs folder may not hold hidden files or folders"))
        elif entry.is_dir(follow_symlinks=False):
            if depth >= RUN_DEPTH:
                problems.append(Problem(fp, "", "folder too deep: run files sit at <family>/<model-slug>/<run_id>.json"))
            else:
                _walk(fp, depth + 1, files, problems)
        elif not entry.is_file(follow_symlinks=False):
            problems.append(Problem(fp, "", "is not a regular file or folder"))
        elif entry.name.endswith(".json"):
            files.append(fp)
        elif entry.name not in IGNORED_NAMES:
            problems.append(Problem(fp, "", "not a .json file; ignored", "warning"))


def json_files(paths: Iterable[Path | str]) -> tuple[list[str], list[Problem]]:
    """iter_json_files, the paths as text (each is the text of its Path: the folders given are written as Path
    writes them)."""
    files: list[str] = []
    problems: list[Problem] = []
    for p in paths:
        p = Path(p)
        if p.is_dir() and not p.is_symlink():
            _walk(str(p), 1, files, problems)
        elif os.path.lexists(p):
            files.append(str(p))
        else:
            problems.append(Problem(str(p), "", "no such file or folder"))
    return files, problems


def iter_json_files(paths: Iterable[Path]) -> tuple[list[Path], list[Problem]]:
    """Expand folders into the .json files below them (sorted). Symbolic links, hidden entries, special
    files and folders deeper than <family>/<model-slug>/ are errors, never skipped silently."""
    files, problems = json_files(paths)
    return [Path(f) for f in files], problems


# --- checks across files -------------------------------------------------------------------


def baseline_key(run: RunFile) -> tuple:
    """What a compressed run and its baseline share: the model revision and the whole evaluation (task,
    data and settings), within one source kind. The store's ``baselines`` view joins on the same."""
    ev = run.evaluation
    return (run.source.kind, run.model.id, run.model.revision, ev.task, ev.data_sha256,
            json.dumps(ev.settings, sort_keys=True))




def model_problems(entries: Iterable[tuple[str, str, tuple]]) -> list[Problem]:
    """``(path, model id, model_identity())`` of many files: every model id has one
    identity, and distinct ids never share a folder/page name (model_slug), so no file can stand in
    for another model's page."""
    out: list[Problem] = []
    by_slug: dict[str, tuple[str, str]] = {}
    by_id: dict[str, list[tuple[tuple, str]]] = {}
    slugs: dict[str, str] = {}  # a model has many files
    for path, model_id, identity in entries:
        slug = slugs.get(model_id)
        if slug is None:
            slug = slugs[model_id] = model_slug(model_id)
        other = by_slug.setdefault(slug, (model_id, path))
        if other[0] != model_id:
            out.append(Problem(path, "/model/id", f"model {model_id!r} and model {other[0]!r} ({other[1]}) would share "
                               f"the page and folder name {slug!r}; use the existing id or a distinct one"))
            continue
        by_id.setdefault(model_id, []).append((identity, path))
    for model_id, seen in by_id.items():
        counts = Counter(identity for identity, _ in seen)
        if len(counts) == 1:
            continue
        usual = counts.most_common(1)[0][0]  # the files that disagree with most others are the ones named
        witness = next(path for identity, path in seen if identity == usual)
        for identity, path in seen:
            for name, a, b in zip(IDENTITY_FIELDS, identity, usual, strict=True):
                if a != b:
                    out.append(Problem(path, f"/model/{name}", f"{a!r}, but {witness} (and {counts[usual] - 1} other "
                                       f"file(s)) say {b!r} for model {model_id!r}; one model has one {name}"))
    return out


def set_problems(checked: list[Checked], known: Iterable[RunFile] = ()) -> list[Problem]:
    """Duplicate run_ids, model ids that clash, and compressed runs with no baseline among these files
    (+ ``known`` runs)."""
    out: list[Problem] = []
    first: dict[str, str] = {}
    keyed = [c for c in checked if c.key is not None]
    for c in keyed:
        rid = c.key.run_id
        if rid in first:
            out.append(Problem(c.path, "/run_id", f"duplicate run_id {rid}: also in {first[rid]}"))
        else:
            first[rid] = c.path
    out += model_problems((c.path, c.key.model_id, c.key.identity) for c in keyed)
    baselines = {baseline_key(r) for r in known if r.is_baseline}
    baselines |= {c.key.baseline for c in keyed if c.key.is_baseline}
    for c in keyed:
        k = c.key
        if not k.is_baseline and k.source_kind != "reported" and k.baseline not in baselines:
            out.append(Problem(c.path, "/compression", f"no baseline run of {k.model_id} on {k.task} "
                               "(same revision, data and evaluation settings); retention cannot be computed",
                               "warning"))
    return out


# --- errata (schema 1.3): a run file that supersedes a published one ------------------------


class Supersession(NamedTuple):
    """What the errata checks need of a file: where it is, its run and model, and the run it corrects."""

    path: str
    run_id: str
    model_id: str
    supersedes: str | None


MAX_CHANGE_LINES = 20  # per erratum; the rest is counted


def supersession_problems(entries: Iterable[Supersession],
                          resolve: Callable[[Supersession], Supersession | None] | None = None) -> list[Problem]:
    """Every erratum corrects a run that is there (``resolve`` may find one outside ``entries``: the file beside it),
    of the same model; no run is corrected twice; and corrections never form a cycle."""
    entries = list(entries)
    by_id: dict[str, Supersession] = {}
    for e in entries:
        by_id.setdefault(e.run_id, e)
    out: list[Problem] = []
    queue = [e for e in entries if e.supersedes is not None]
    done: set[str] = set()
    by_target: dict[str, list[Supersession]] = {}
    while queue:
        e = queue.pop(0)
        if e.path in done:
            continue
        done.add(e.path)
        target = by_id.get(e.supersedes)
        if target is None and resolve is not None:
            target = resolve(e)
            if target is not None:
                by_id[target.run_id] = target
                if target.supersedes is not None:
                    queue.append(target)
        by_target.setdefault(e.supersedes, []).append(e)
        if target is None:
            out.append(Problem(e.path, "/supersedes/run_id", f"the superseded run {e.supersedes} is not in the runs "
                               f"folder (a correction sits beside the file it corrects: {e.supersedes}.json in the same "
                               "model folder)"))
        elif target.model_id != e.model_id:
            out.append(Problem(e.path, "/supersedes/run_id", f"run {e.supersedes} is of model {target.model_id!r} "
                               f"({target.path}), this file of {e.model_id!r}: a correction is a run of the same model"))
    for rid, errata in sorted(by_target.items()):
        first, *others = sorted(errata, key=lambda x: x.path)
        for e in others:
            out.append(Problem(e.path, "/supersedes/run_id", f"run {rid} is already superseded by {first.path}; a run "
                               f"has one correction (to correct that correction, supersede {first.run_id})"))
    edges = {e.run_id: e.supersedes for e in by_id.values() if e.supersedes is not None}
    in_cycle: set[str] = set()
    for start in sorted(edges):
        chain, node = [start], edges[start]
        while node in edges and node not in chain and node not in in_cycle and len(chain) <= len(edges):
            chain.append(node)
            node = edges[node]
        if node == start:
            in_cycle.update(chain)
            out.append(Problem(by_id[start].path, "/supersedes/run_id",
                               f"corrections form a cycle: {' -> '.join([*chain, start])}; a correction cannot be "
                               "superseded by a run it corrects"))
    return out


_ABSENT = object()


class _Name(str):
    """A key renamed (its value unchanged), as changed_fields reports it."""
_NOT_COMPARED = ("run_id", "schema_version", "supersedes")


def changed_fields(old: object, new: object, ptr: str = "") -> list[tuple[str, object, object]]:
    """(JSON pointer, old value, new value) per field that differs (a field only on one side: the other is
    _ABSENT), depth first in key order; run_id, schema_version and supersedes are not compared."""
    out: list[tuple[str, object, object]] = []
    if isinstance(old, dict) and isinstance(new, dict):
        gone = [k for k in sorted(old.keys() - new.keys()) if ptr or k not in _NOT_COMPARED]
        added = [k for k in sorted(new.keys() - old.keys()) if ptr or k not in _NOT_COMPARED]
        for k in list(gone):  # a key renamed, its value unchanged (a metric filed under another name): one change
            twin = next((a for a in added if new[a] == old[k]), None)
            if twin is not None:
                gone.remove(k)
                added.remove(twin)
                out.append((f"{ptr}/{_escape(k)}", _Name(k), _Name(twin)))
        for k in sorted(old.keys() | new.keys()):
            if not ptr and k in _NOT_COMPARED:
                continue
            p = f"{ptr}/{_escape(k)}"
            if k in old and k in new:
                out += changed_fields(old[k], new[k], p)
            elif k in gone or k in added:
                out.append((p, old.get(k, _ABSENT), new.get(k, _ABSENT)))
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            out += changed_fields(a, b, f"{ptr}/{i}")
    elif old != new or type(old) is not type(new):
        out.append((ptr or "/", old, new))
    return out


def _shown(value: object, limit: int = 160) -> str:
    if value is _ABSENT:
        return "(absent)"
    if isinstance(value, _Name):
        return json.dumps(str(value), ensure_ascii=True)
    text = json.dumps(value, ensure_ascii=True, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def change_lines(old: dict, new: dict, limit: int = MAX_CHANGE_LINES) -> list[tuple[str, str]]:
    """(pointer, 'old -> new') per changed field, at most ``limit`` and a count of the rest."""
    changes = changed_fields(old, new)
    lines = [(p, f"renamed {_shown(a)} -> {_shown(b)}, value unchanged" if isinstance(a, _Name) else
              f"{_shown(a)} -> {_shown(b)}") for p, a, b in changes[:limit]]
    if len(changes) > limit:
        lines.append(("/", f"... and {len(changes) - limit} more changed field(s)"))
    return lines


def _sibling(e: Supersession, max_bytes: int) -> Supersession | None:
    """The superseded file where a correction of the same model finds it: beside the erratum."""
    path = Path(e.path).parent / f"{e.supersedes}.json"
    if not path.is_file() or path.is_symlink():
        return None
    c = check_file(path, max_bytes)
    if c.key is None:
        return None
    return Supersession(str(path), c.key.run_id, c.key.model_id, c.key.supersedes)


def errata_checks(checked: list[Checked], max_bytes: int = DEFAULT_MAX_BYTES,
                  look_beside: bool = True) -> tuple[list[Problem], list[Problem]]:
    """(problems, notes) of the errata among ``checked``: each corrects a run that is there (among ``checked`` or,
    with ``look_beside``, the file beside it), of the same model, once, without cycles; a note per changed field."""
    entries = [Supersession(c.path, c.key.run_id, c.key.model_id, c.key.supersedes) for c in checked if c.key is not None]
    if not any(e.supersedes for e in entries):
        return [], []
    found: dict[str, Supersession] = {}

    def resolve(e: Supersession) -> Supersession | None:
        t = _sibling(e, max_bytes) if look_beside else None
        if t is not None:
            found[t.run_id] = t
        return t

    problems = supersession_problems(entries, resolve)
    bad = {p.path for p in problems}
    by_id = {e.run_id: e for e in entries} | found
    notes: list[Problem] = []
    for e in entries:
        target = by_id.get(e.supersedes) if e.supersedes else None
        if target is None or e.path in bad:
            continue
        try:
            old, new = (parse_json(read_bounded(Path(x.path), max_bytes)) for x in (target, e))
        except LoadError:
            continue
        lines = change_lines(old, new)
        notes += [Problem(e.path, ptr, f"corrects run {e.supersedes}: {text}", "note") for ptr, text in lines]
        if not lines:
            problems.append(Problem(e.path, "/supersedes", f"corrects nothing: no field differs from run {e.supersedes}",
                                    "warning"))
    return problems, notes


# --- append-only rule ----------------------------------------------------------------------


def _git(args: list[str], cwd: Path) -> str:
    try:
        res = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise LoadError("git is not installed") from None
    if res.returncode != 0:
        raise LoadError(f"git {' '.join(args[:2])} failed: {res.stderr.strip()}")
    return res.stdout


def _repo_top(runs_dir: Path) -> tuple[Path, str]:
    top = Path(_git(["rev-parse", "--show-toplevel"], runs_dir).strip()).resolve()
    return top, runs_dir.resolve().relative_to(top).as_posix()


def base_digests(base: str, runs_dir: Path) -> tuple[dict[str, str], str]:
    """Published run files as {path relative to the runs folder: digest}, and the digest kind.

    ``base`` is a folder (compared by sha256) or a git ref of the repository holding ``runs_dir``
    (compared by git blob id, so no published file needs to be read).
    """
    bp = Path(base)
    if bp.is_dir():
        files, _ = iter_json_files([bp])
        out = {}
        for f in files:
            try:
                out[f.relative_to(bp).as_posix()] = hashlib.sha256(read_bounded(f, 1 << 40)).hexdigest()
            except LoadError:
                out[f.relative_to(bp).as_posix()] = "unreadable"
        return out, "sha256"
    top, prefix = _repo_top(runs_dir)
    try:
        _git(["rev-parse", "--verify", "--quiet", f"{base}^{{commit}}"], runs_dir)
    except LoadError:
        raise LoadError("it is neither a folder nor a commit of this repository") from None
    listing = _git(["ls-tree", "-r", "-z", "--full-tree", base, "--", prefix], top)
    out = {}
    for entry in filter(None, listing.split("\0")):
        meta, _, name = entry.partition("\t")
        _mode, kind, sha = meta.split()
        if kind == "blob" and name.endswith(".json"):
            out[PurePosixPath(name).relative_to(prefix).as_posix()] = sha
    return out, "git"


def current_digests(runs_dir: Path, rels: list[str], kind: str) -> dict[str, str]:
    """Digests of files under ``runs_dir`` comparable with base_digests of the same kind. For git, the blob
    id git would store (``git hash-object``, with the repository's own line-ending conversion), so a
    checkout with ``core.autocrlf`` matches the published blobs."""
    if kind != "git":
        out = {}
        for rel in rels:
            try:
                out[rel] = hashlib.sha256(read_bounded(runs_dir / rel, 1 << 40)).hexdigest()
            except LoadError:
                out[rel] = "unreadable"
        return out
    if not rels:
        return {}
    top, prefix = _repo_top(runs_dir)
    paths = [f"{prefix}/{rel}" if prefix != "." else rel for rel in rels]
    try:
        res = subprocess.run(["git", "hash-object", "--stdin-paths"], cwd=top, input="\n".join(paths) + "\n",
                             capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise LoadError("git is not installed") from None
    shas = res.stdout.split()
    if res.returncode != 0 or len(shas) != len(rels):
        raise LoadError(f"git hash-object failed: {res.stderr.strip()}")
    return dict(zip(rels, shas, strict=True))


def append_only_problems(runs_dir: Path, base: str) -> list[Problem]:
    """Every published file is still there, at the same place, reached without links, with the same content."""
    try:
        published, kind = base_digests(base, runs_dir)
        files, _ = iter_json_files([runs_dir])  # what every reader sees (links and hidden entries are errors)
        found = {f.relative_to(runs_dir).as_posix() for f in files}
        now = current_digests(runs_dir, sorted(found & set(published)), kind)
    except LoadError as e:
        return [Problem(str(runs_dir), "", f"cannot read base {base!r}: {e}")]
    out = []
    for rel, digest in sorted(published.items()):
        here = runs_dir / rel
        if rel not in found:
            why = ("is no longer a regular file in a regular folder (a link or hidden folder)" if os.path.lexists(here)
                   else "removed")
            out.append(Problem(str(here), "", f"{why}, but it is published in {base}; run files are append-only"))
        elif now[rel] != digest:
            out.append(Problem(str(here), "", f"changed, but it is published in {base}; run files are append-only "
                               "(add a new run instead of editing one)"))
    return out


# --- entry point ---------------------------------------------------------------------------


def validate_paths(
    paths: Iterable[Path],
    *,
    base: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    check_paths: bool = True,
    reject_synthetic: bool = False,
    cache: Path | None = None,
) -> Report:
    """Every problem of the run files under ``paths``. ``cache``: a JSON file of earlier per-file results (the
    builder's own work folder): a file whose bytes did not change is not checked again (ValidationCache); checks
    across files always run on every file."""
    paths = [Path(p) for p in paths]
    files, problems = json_files(paths)
    unread = 0
    if cache is None:
        checked = pmap(_check_light, [(f, max_bytes, check_paths) for f in files])
        rechecked = len(checked)
    else:
        checked, rechecked, unread = _check_cached(files, max_bytes, check_paths, cache)
    for c in checked:
        problems += c.problems
        if reject_synthetic and c.key is not None and c.key.source_kind == "synthetic":
            problems.append(Problem(c.path, "/source/kind", "synthetic runs are for tests and benchmarks, never for publication"))
    problems += set_problems(checked)
    errata, notes = errata_checks(checked, max_bytes, look_beside=check_paths)
    problems += errata
    if base is not None:
        folders = [p for p in paths if p.is_dir()]
        if len(folders) != 1:
            problems.append(Problem(",".join(map(str, paths)), "", "--base needs exactly one runs folder among the paths"))
        else:
            problems += append_only_problems(folders[0], base)
    return Report(checked, problems, notes, rechecked, unread, max_bytes, check_paths, tuple(map(str, paths)))



# --- the per-file cache of `leaderboard build` ---------------------------------------------------
#
# A rebuild checks again only the files whose bytes, size, place, size limit or validator changed. It does not even
# read a file whose stat signature (device, inode, size, mtime and ctime in ns) is the one cached, as git's index
# does; a signature is cached only for a file last changed well before the scan that read it (racily clean files,
# changed within the file system's timestamp tick of being read, are read again), and ctime cannot be set back.
# Otherwise it reads the file and compares its sha256. The cache is the builder's own file, yet it is read strictly:
# anything that is not exactly the format below (a corrupt, truncated or foreign file, another validator's) is ignored and rebuilt, never trusted.
# Only files with no error are cached, so a refused file is checked (and refused) on every build.


_Scalar = str | int | float | bool | None
_Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
_Signature = tuple[int, int, int, int, int]


class _CacheFile(BaseModel):
    """Format 4: one list per field, entry i of every list belonging to files[i] (issue 22, scale: format 2's object
    per file was 66 MB of JSON at 100,000 runs and 2 s of parsing). ``problems``: (entry, pointer, message, severity)
    of the cached files' warnings and notes (a file with an error is never cached).

    The same format is the cache's delta file (validate.delta.json beside it): the entries that changed since the
    cache was written and the files ``removed`` since, for the cache whose ``token`` it holds (a cache written again
    gets a new token, so a delta left from before is never applied to it)."""
    model_config = ConfigDict(extra="forbid", strict=True)
    format: Literal[4]
    token: Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]
    removed: list[str] = []
    validator: str
    max_bytes: int
    check_paths: bool
    files: list[str]
    sha256: list[_Sha256]
    size: list[Annotated[int, Field(ge=0)]]
    stat: list[_Signature | None]  # stat_signature of the bytes hashed, where it can be trusted
    run_id: list[str]
    source_kind: list[str]
    baseline: list[list[_Scalar]]
    is_baseline: list[bool]
    model_id: list[str]
    task: list[str]
    identity: list[list[_Scalar]]
    supersedes: list[str | None]
    lineage_base: list[str | None]
    problems: list[tuple[Annotated[int, Field(ge=0)], str, str, Literal["warning", "note"]]]

    @model_validator(mode="after")
    def _aligned(self) -> _CacheFile:
        n = len(self.files)
        if any(len(getattr(self, k)) != n for k in _COLUMNS) or len(set(self.files)) != n:
            raise ValueError("the cache's columns are not one entry per file")
        if any(p[0] >= n for p in self.problems):
            raise ValueError("a cached problem names no entry")
        return self


_COLUMNS = ("sha256", "size", "stat", "run_id", "source_kind", "baseline", "is_baseline", "model_id", "task",
            "identity", "supersedes", "lineage_base")


class _Cached(NamedTuple):
    """One file's cached result (entry i of a _CacheFile, or one made from a check)."""
    sha256: str
    size: int
    stat: _Signature | None
    key: RunKey
    problems: tuple[tuple[str, str, str], ...]  # (pointer, message, severity)


def validator_fingerprint() -> str:
    """What the checks depend on besides the file: this package's code and data (the schema, the registry, the
    checks), Python (unicodedata) and pydantic. Any change gives another fingerprint, so every file is checked again."""
    import sys

    import pydantic

    h = hashlib.sha256(f"{SCHEMA_VERSION}|{sys.version}|{pydantic.VERSION}".encode())
    pkg = Path(__file__).resolve().parent
    for f in sorted(pkg.rglob("*")):
        if f.is_file() and "__pycache__" not in f.parts:
            h.update(f.relative_to(pkg).as_posix().encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


class _Loaded(NamedTuple):
    """A cache as read: its entries (the delta applied), the cache file's own entries and its token (None: no cache)."""
    entries: dict[str, _Cached]
    base: dict[str, _Cached]
    token: str | None


def _delta_path(path: Path) -> Path:
    return path.with_name(f"{path.stem}.delta{path.suffix}")


def _load_cache(path: Path, fingerprint: str, max_bytes: int, check_paths: bool) -> _Loaded:
    base = _read_cache_file(path, fingerprint, max_bytes, check_paths)
    if base is None or base[2]:  # (a cache that removes files is a delta, not a cache)
        return _Loaded({}, {}, None)
    token, entries, _removed = base
    delta = _read_cache_file(_delta_path(path), fingerprint, max_bytes, check_paths)
    if delta is None or delta[0] != token:
        return _Loaded(entries, entries, token)
    _token, changed, removed = delta
    merged = {f: e for f, e in entries.items() if f not in removed}
    merged.update(changed)
    return _Loaded(merged, entries, token)


def _read_cache_file(path: Path, fingerprint: str, max_bytes: int,
                     check_paths: bool) -> tuple[str, dict[str, _Cached], frozenset[str]] | None:
    """One cache file (the cache or its delta) as (token, entries, files removed), or None where it is not exactly one
    of this validator's."""
    try:
        raw = read_regular(path, 1 << 30)
        cache = _CacheFile.model_validate_json(raw)
    except (InputError, OSError, ValidationError, ValueError):
        return None
    if cache.validator != fingerprint or cache.max_bytes != max_bytes or cache.check_paths != check_paths:
        return None
    problems: dict[int, list[tuple[str, str, str]]] = {}
    for i, pointer, message, severity in cache.problems:
        problems.setdefault(i, []).append((pointer, message, severity))
    keys = map(RunKey, cache.run_id, cache.source_kind, map(tuple, cache.baseline), cache.is_baseline, cache.model_id,
               cache.task, map(tuple, cache.identity), cache.supersedes, cache.lineage_base)
    entries = {f: _Cached(sha, size, sig, key, tuple(problems.get(i, ())))
               for i, (f, sha, size, sig, key) in enumerate(zip(cache.files, cache.sha256, cache.size, cache.stat, keys,
                                                                strict=True))}
    return cache.token, entries, frozenset(cache.removed)


def _from_cache(path: str, entry: _Cached) -> Checked:
    return Checked(path, entry.sha256, None, [Problem(path, *p) for p in entry.problems], entry.key, entry.size)


def _holds(key: RunKey) -> bool:
    """Whether the cache's format holds ``key`` exactly (its tuples of scalars, its texts): a key it cannot hold is not cached,
    and its file is checked on every build."""
    texts = (key.run_id, key.source_kind, key.model_id, key.task)
    return (all(type(t) is str for t in texts) and type(key.is_baseline) is bool
            and all(t is None or type(t) is str for t in (key.supersedes, key.lineage_base))
            and all(v is None or type(v) in (str, int, bool) or type(v) is float and math.isfinite(v)
                    for v in (*key.baseline, *key.identity)))


def _to_cache(c: Checked, size: int, signature: _Signature | None = None) -> _Cached | None:
    if not c.ok or c.key is None or len(c.sha256) != 64 or not _holds(c.key):
        return None
    if signature is not None and signature[2] != size:  # the file changed between its signature and its check
        signature = None
    return _Cached(c.sha256, size, signature, c.key, tuple((p.pointer, p.message, p.severity) for p in c.problems))


RACY_NS = 2_000_000_000  # a stat signature is cached only for a file whose ctime is this much older than the scan


def stat_signature(path: Path | str, since_ns: int | None = None) -> tuple[int, int, int, int, int] | None:
    """(device, inode, size, mtime, ctime in ns) of a regular file (not a link); None for anything else, or where the
    file changed less than RACY_NS before ``since_ns`` (the scan's start: its signature may not change with its
    bytes)."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode) or (since_ns is not None and st.st_ctime_ns > since_ns - RACY_NS):
        return None
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


def _check_cached(files: list[str], max_bytes: int, check_paths: bool, cache: Path) -> tuple[list[Checked], int, int]:
    fingerprint = validator_fingerprint()
    loaded = _load_cache(cache, fingerprint, max_bytes, check_paths)
    known = loaded.entries
    scan_ns = time.time_ns()
    checked: list[Checked | None] = [None] * len(files)
    signatures: list[_Signature | None] = [None] * len(files)
    entries: dict[str, _Cached] = {}  # what the cache is to hold after this check, by path
    todo: list[int] = []
    unread = 0
    renewed = False  # cached results whose bytes were read and found the same (a new signature)
    for i, path in enumerate(files):
        entry = known.get(path)
        signatures[i] = signature = stat_signature(path, scan_ns)  # before reading: a change after it is a later ctime
        if entry is not None:
            if signature is not None and entry.stat == signature:
                checked[i] = _from_cache(path, entry)
                entries[path] = entry
                unread += 1
                continue
            try:
                raw = read_regular(path, max_bytes)
            except InputError:
                raw = None
            if raw is not None and len(raw) == entry.size and hashlib.sha256(raw).hexdigest() == entry.sha256:
                checked[i] = _from_cache(path, entry)
                if signature != entry.stat:
                    entry = entry._replace(stat=signature)
                    renewed = True
                entries[path] = entry
                continue
        todo.append(i)
    fresh = pmap(_check_light, [(files[i], max_bytes, check_paths) for i in todo])
    for i, c in zip(todo, fresh, strict=True):
        checked[i] = c
        try:
            size = os.lstat(files[i]).st_size
        except OSError:
            continue
        e = _to_cache(c, size, signatures[i])
        if e is not None:
            entries[c.path] = e
    out = [c for c in checked if c is not None]
    if todo or renewed or entries.keys() != known.keys():
        _write_cache(cache, fingerprint, max_bytes, check_paths, {c.path: entries[c.path] for c in out if c.path in entries},
                     loaded)
    return out, len(todo), unread


def seed_cache(cache: Path, checked: Iterable[Checked], signatures: dict[str, _Signature | None],
               max_bytes: int = DEFAULT_MAX_BYTES) -> int:
    """Cache the results of files checked in full elsewhere in this process, exactly as ``validate_paths`` checks
    them (check_bytes on the bytes read, the path rule on), so validation does not read them again: the build's first
    ingest into a new store checks every file it loads (issue 22, scale: each file was read, parsed and checked by
    validation's workers, then read and parsed again by the ingest's). ``signatures``: each file's stat_signature
    taken before it was read (none: its bytes are compared by sha256 next time). Returns the entries cached."""
    fingerprint = validator_fingerprint()
    loaded = _load_cache(cache, fingerprint, max_bytes, True)
    entries = dict(loaded.entries)
    n = 0
    for c in checked:
        e = _to_cache(c, c.size, signatures.get(c.path)) if c.size >= 0 else None
        if e is None:
            entries.pop(c.path, None)
        else:
            entries[c.path] = e
            n += 1
    _write_cache(cache, fingerprint, max_bytes, True, entries, loaded)
    return n


DELTA_MAX = 2_000  # entries changed since the cache was written that a delta holds; past it the cache is written again


def _write_cache(path: Path, fingerprint: str, max_bytes: int, check_paths: bool, entries: dict[str, _Cached],
                 loaded: _Loaded | None = None) -> None:
    """All or nothing (fsutil.write_atomic); a cache that cannot be written is no error, and neither is an entry this
    format cannot hold exactly (a key of other types): the cache is then left out, and every file is checked again.

    With ``loaded`` (the cache as read before, _load_cache) and at most DELTA_MAX entries that differ from its file,
    only those are written, to the delta file (issue 22, scale: a rebuild after adding ten runs wrote the whole cache
    of 100,000 entries, 2 s); otherwise the cache file is written, with a new token, and the delta removed."""
    if loaded is not None and loaded.token is not None:
        changed = {f: e for f, e in entries.items() if loaded.base.get(f) != e}
        removed = sorted(f for f in loaded.base if f not in entries)
        if len(changed) + len(removed) <= DELTA_MAX:
            delta = _delta_path(path)
            if not _write_cache_file(delta, fingerprint, max_bytes, check_paths, changed, loaded.token, removed):
                with contextlib.suppress(OSError):
                    delta.unlink(missing_ok=True)  # (a cache older than it says is safe: every entry is checked)
            return
    token = secrets.token_hex(16)
    if _write_cache_file(path, fingerprint, max_bytes, check_paths, entries, token):
        with contextlib.suppress(OSError):
            _delta_path(path).unlink(missing_ok=True)


def _write_cache_file(path: Path, fingerprint: str, max_bytes: int, check_paths: bool, entries: dict[str, _Cached],
                      token: str, removed: list[str] | None = None) -> bool:
    files = list(entries)
    values = list(entries.values())
    keys = [e.key for e in values]
    try:
        cache = _CacheFile(
            format=4, token=token, removed=removed or [], validator=fingerprint, max_bytes=max_bytes,
            check_paths=check_paths, files=files,
            sha256=[e.sha256 for e in values], size=[e.size for e in values], stat=[e.stat for e in values],
            run_id=[k.run_id for k in keys], source_kind=[k.source_kind for k in keys],
            baseline=[list(k.baseline) for k in keys], is_baseline=[k.is_baseline for k in keys],
            model_id=[k.model_id for k in keys], task=[k.task for k in keys], identity=[list(k.identity) for k in keys],
            supersedes=[k.supersedes for k in keys], lineage_base=[k.lineage_base for k in keys],
            problems=[(i, *p) for i, e in enumerate(values) for p in e.problems])
    except ValidationError:
        return False
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, cache.model_dump_json().encode("utf-8"))
    except OSError:
        return False
    return True
