"""What an evaluation suite module declares (one module per suite under ``evaluate/suites/``).

A suite is a subclass of :class:`Suite` instantiated as ``SUITE`` in its module. It states, in one place: its name
and aliases, its frozen settings model (the run options only it reads; their ``--flags`` are generated from the
model's fields: name, type, default and help), its tasks and metrics (with direction) and headline metric, whether it
probes stored facts, the model families it scores, how it resolves and hashes its data, how it records its settings
(they enter the run_id), how it runs on an in-memory model, and its labels, units and log noun. The runner, the CLI,
sweeps, the validator, the store and the site read these through ``evaluate/registry.py``. Importing a suite module
loads no tensor library (the heavy imports sit inside the methods that run).
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from ..registry import MetricInfo, TaskInfo


class SuiteSettings(BaseModel):
    """Base of a suite's settings model: frozen, no unknown field (give each field a strict type: spectypes). A field's ``description`` is its ``--flag``'s
    help; ``json_schema_extra`` may give ``metavar`` and ``choices`` for the flag."""

    model_config = ConfigDict(frozen=True, extra="forbid")


@dataclass(frozen=True)
class Prepared:
    """An evaluation's data, resolved and hashed before the model is loaded."""

    data: Any
    sha256: str | None


@dataclass(frozen=True)
class Outcome:
    """What one evaluation measured: the run file's ``results``, its evaluation time and throughput."""

    results: list
    seconds: float
    throughput: float


@dataclass(frozen=True)
class Flag:
    """One ``leaderboard run`` option generated from a settings field (a suite's, or the shared run settings')."""

    field: str
    flag: str
    type: Any  # what argparse converts the text with (str, int, Path); None for an on/off flag
    default: Any
    help: str
    metavar: str | None = None
    choices: tuple | None = None
    const: Any = None  # an on/off flag (a bool field): the value giving the flag sets (True; False for --no-X)
    record: str = "changed"  # how a recorded command states it (runner.reproduce_command; see run_settings.py)
    path: bool = False  # a file path: recorded absolute (a builtin: name as it is)

    def add_to(self, parser) -> None:
        """Add it to an argparse parser or group; its value is None unless given (the settings model's default
        applies then), so a command states only what it sets."""
        if self.const is not None:
            parser.add_argument(self.flag, dest=self.field, action="store_const", const=self.const, default=None,
                                help=self.help)
        else:
            parser.add_argument(self.flag, dest=self.field, type=self.type, default=None, metavar=self.metavar,
                                choices=self.choices, help=self.help)


def flag_name(field: str) -> str:
    return "--" + field.replace("_", "-")


def flags_of(fields: dict) -> list[Flag]:
    """The flags of a settings model's fields (``model_fields``, or a pydantic dataclass's ``__pydantic_fields__``):
    ``--field-name``, its type, default and help (the field's description). ``json_schema_extra`` may give
    ``metavar``, ``choices``, ``flag`` (another flag name: ``--no-facts``), ``record`` and ``path``."""
    out = []
    for name, f in fields.items():
        extra = f.json_schema_extra if isinstance(f.json_schema_extra, dict) else {}
        default = None if f.is_required() else f.default
        help_ = f.description or ""
        is_bool = _base_type(f.annotation) is bool
        if default is not None and not is_bool:
            help_ += f" (default: {default})"
        out.append(Flag(name, extra.get("flag") or flag_name(name), None if is_bool else _base_type(f.annotation),
                        default, help_.replace("%", "%%"), extra.get("metavar"),
                        tuple(extra["choices"]) if "choices" in extra else _choices(f.annotation),
                        const=(not default) if is_bool else None, record=extra.get("record", "changed"),
                        path=bool(extra.get("path", False))))
    return out


def comma_list(text: str) -> list[str] | None:
    """A list setting's flag text: comma-separated ('P19,P20'); empty: not given."""
    return text.split(",") if text else None


def _base_type(annotation) -> Any:
    """int, Path, str or comma_list: what a flag's text becomes before the settings model validates it."""
    origin = typing.get_origin(annotation)
    if origin is list:
        return comma_list
    if origin is typing.Annotated:
        return _base_type(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _base_type(args[0]) if len(args) == 1 else str
    if origin is typing.Literal:
        return str
    if isinstance(annotation, type) and issubclass(annotation, Path):
        return Path
    if annotation is int:
        return int
    if annotation is bool:
        return bool
    return str


def _choices(annotation) -> tuple | None:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _choices(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        for a in typing.get_args(annotation):
            if (c := _choices(a)) is not None:
                return c
    if origin is typing.Literal:
        return typing.get_args(annotation)
    return None


class SuiteError(ValueError):
    """A spec a suite cannot run (bad data, a model it does not score): one line; the runner reports it as a
    SpecError."""


class Suite:
    """One evaluation suite. Subclasses set the class attributes and implement ``prepare`` and ``evaluate``."""

    name: ClassVar[str]  # the task prefix: tasks are '<name>:<task>'
    title: ClassVar[str]  # one line: what it is, whose
    Settings: ClassVar[type[SuiteSettings]] = SuiteSettings
    aliases: ClassVar[dict[str, str]] = {}  # what --eval may say -> the task a run file records
    tasks: ClassVar[tuple[TaskInfo, ...]] = ()  # the tasks it knows (labels, options per question)
    open_tasks: ClassVar[bool] = False  # whether a task it does not list is accepted (lm-eval's are open-ended)
    metrics: ClassVar[tuple[MetricInfo, ...]] = ()  # metrics it introduces (others come from registry.METRICS)
    headline: ClassVar[str]  # the metric its leaderboard rows show and rank (mteb's main_score)
    headline_short: ClassVar[str] = ""  # the headline's short column label (P@1); default: the metric's label
    knowledge_probe: ClassVar[bool] = False  # probes stored facts (lm-eval's tasks measure other things)
    families: ClassVar[frozenset[str]] = frozenset({"encoder", "encoder-decoder", "decoder"})
    label_prefix: ClassVar[str] = ""  # an unlisted task reads '<label_prefix><name>'
    unit: ClassVar[str] = "examples/s"  # throughput unit
    noun: ClassVar[str] = "examples"  # what results[].n counts, in the log line
    order: ClassVar[int] = 100  # where its tasks go in tables (knowledge probes first)
    lead_task: ClassVar[str | None] = None  # its task tables show first (LAMA T-REx)
    uses: ClassVar[tuple[str, ...]] = ("limit",)  # run settings beyond its own that it reads (for the command)
    example: ClassVar[str] = ""  # an --eval example
    fetch_help: ClassVar[str | None] = None  # what `leaderboard data fetch <name>` gets; None: nothing to fetch
    label: ClassVar[str] = ""  # its short name in labels and chart titles (LAMA); default: its name
    synthetic_tasks: ClassVar[dict[str, tuple[str, ...]]] = {}  # family -> the tasks synthetic runs are made for

    # --- names ---------------------------------------------------------------------------------

    @property
    def short_label(self) -> str:
        return self.label or self.name

    def canonical(self, task: str) -> str:
        """The task a run file records for what ``--eval`` said."""
        return self.aliases.get(task, task)

    def owns(self, task: str) -> bool:
        return task in self.aliases or task.partition(":")[0] == self.name

    def check_task(self, task: str) -> str | None:
        """None when the (canonical) task is one this suite runs, else why not (one line)."""
        if self.open_tasks or any(t.name == task for t in self.tasks):
            return None
        known = ", ".join(t.name for t in self.tasks)
        return f"{self.name} has no task {task.partition(':')[2]!r} (known: {known})"

    def eval_help(self) -> str:
        return ", ".join([*(t.name for t in self.tasks), *self.aliases]) or f"{self.name}:<task>"

    # --- settings and flags --------------------------------------------------------------------

    def flags(self) -> list[Flag]:
        return flags_of(self.Settings.model_fields)

    def settings_of(self, spec) -> SuiteSettings:
        """This suite's settings in a run spec (its defaults where the spec gives none)."""
        return self.Settings.model_validate({k: v for k, v in spec.options.items() if k in self.Settings.model_fields})

    def command_fields(self) -> tuple[str, ...]:
        """Its options in the order the recorded command gives them (common ones it reads included)."""
        return (*self.Settings.model_fields, *(u for u in self.uses if u != "limit"))

    def command_value(self, spec, field: str):
        """The value a recorded command states for ``field`` (where its data came from, not where it was looked
        for); None or the default leave the flag out."""
        value = getattr(spec, field)
        if field == "relations":
            return ",".join(value) if value else None
        if isinstance(value, Path):
            return str(Path(value).resolve())
        return value

    def command_default(self, field: str):
        f = self.Settings.model_fields.get(field)
        return None if f is None or f.is_required() else f.default

    # --- running -------------------------------------------------------------------------------

    def prepare(self, spec, tasks: list[str], memo) -> dict[str, Prepared]:
        """Resolve, load and hash each task's data before any weight is loaded; SpecError (from the runner)
        naming the task on bad data. ``memo(key, make)`` shares loads between the specs of a sweep."""
        raise NotImplementedError

    def check_model(self, spec, tasks: list[str], family: str) -> str | None:
        """None when this suite can run ``tasks`` on a model of ``family``, else why not (one line)."""
        if family not in self.families:
            return (f"--eval {tasks[0]}: {self.name} scores {', '.join(sorted(self.families))} models; this model is "
                    f"an {family}")
        return None

    def before_compression(self, spec, lm, tasks: list[str]) -> None:
        """Checks on the loaded, not yet compressed model (a token its tokenizer lacks); SpecError-worthy ones
        raise ValueError."""

    def record(self, spec, task: str, family: str) -> dict:
        """The evaluation settings the run file records (they enter the run_id: change nothing an existing suite
        records, or its runs change id)."""
        raise NotImplementedError

    def evaluate(self, spec, lm, task: str, prepared: Prepared, progress: bool) -> Outcome:
        raise NotImplementedError

    def synthetic_result(self, task: str, n: int, level: float, keep: float, rng, metric):
        """A plausible made-up result of ``task`` for synthetic runs (synthetic.py; tests and benchmarks only): ``level``
        the model's uncompressed knowledge (0..1), ``keep`` the share a pipeline keeps, ``rng`` a random.Random,
        ``metric(value, n, rng)`` a MetricValue. Suites without ``synthetic_tasks`` are never asked."""
        raise NotImplementedError

    def fetch(self, url: str | None, dest: Path | None, sha256: str | None, progress: bool, max_bytes: int) -> None:
        """``leaderboard data fetch <name>``: download, check and unpack the suite's data (evaluate.lama_fetch's
        FetchError on failure)."""
        raise NotImplementedError
