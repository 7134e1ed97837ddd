"""One run spec -> one run file per evaluation (atomic write, full provenance).

A spec is checked completely before any weight is loaded: steps, evaluations, data, the model's
config, and every scope against the model's module tree (built on the meta device).
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import torch
from pydantic import (
    ConfigDict,
    TypeAdapter,
    ValidationError,
    field_validator,
)
from pydantic.dataclasses import dataclass as pydantic_dataclass

from . import __version__, bundled, registry
from .compress import registry as methods
from .compress.base import CompressionError, UnsupportedScheme
from .compress.calibration import CalibrationData, CalibrationError, describe
from .compress.pipeline import CompressionResult, check_scopes, check_supported, compress
from .compress.scopes import ScopeError
from .compress.spec import sparsity_mismatch
from .evaluate import registry as suites
from .evaluate.spec import Prepared, SuiteError, flag_name
from .fsutil import UnsafePath, check_target, ensure_dir, write_atomic
from .models import LoadedModel, ModelLoadError, family_of, load, load_config, local_revision, skeleton
from .naming import pipeline_label
from .notation import SpecError, parse_step, step_from_dict, step_text  # noqa: F401 (the runner's API)
from .run_settings import RunSettings, run_flags
from .schema import (
    SCHEMA_VERSION,
    Evaluation,
    Identifier,
    Lineage,
    ModelId,
    RunFile,
    Text,
    canonical_path,
    compute_run_id,
    dump_run,
    path_for,
    run_id_of,
    spec_dict,
)
from .spectypes import Bool, Int, OsPath, PathText, Str, _os_path  # noqa: F401 (the types of run settings)
from .validate import check_bytes

LIBRARIES = ("torch", "transformers", "tokenizers", "numpy", "bitsandbytes", "torchao", "lm_eval", "accelerate",
             "llmcompressor", "compressed_tensors", "lm_pub_quiz")


@pydantic_dataclass(config=ConfigDict(arbitrary_types_allowed=True, extra="forbid"), frozen=True, kw_only=True)
class RunSpec(RunSettings):
    """One run spec: the shared run settings (run_settings.RunSettings), the model, its compression steps, the
    evaluations and the suites' own settings. Every field is type-checked when it is made (from flags, a spec file,
    a sweep or the API), so a wrong setting fails before any model is loaded; paths may be given as text. Frozen:
    ``check`` returns the complete spec (calibration sets, a checkpoint's lineage) as a new one
    (``dataclasses.replace``), never changing the one it is given."""

    model: PathText
    evals: list[Str]
    compression: list = field(default_factory=list)
    lineage: Lineage | None = None  # set by check(): what a pre-compressed checkpoint already had
    # the evaluation suites' own settings given (field name -> value; each suite's settings model in
    # evaluate/suites/ declares and checks them): read as attributes (spec.lama_dir) with the suite's defaults
    options: dict = field(default_factory=dict)

    @field_validator("options", mode="before")
    @classmethod
    def _options(cls, value):
        if not isinstance(value, dict):
            raise ValueError("a mapping of evaluation settings")
        try:
            return suite_options(value)
        except ValidationError as e:
            raise ValueError(validation_message(e)) from None

    def __getattr__(self, name: str):
        owner = None if name.startswith("_") else suites.option_owner(name)
        if owner is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return getattr(owner.settings_of(self), name)

    @field_validator("compression", mode="before")
    @classmethod
    def _steps(cls, value):
        """Steps as objects, as notation text ('prune:criterion=l1,sparsity=0.3') or as mappings: all become
        steps here, so a text step fails when the spec is made, naming the step."""
        if not isinstance(value, list | tuple):
            raise ValueError("a list of steps")
        steps = [parse_step(v) if isinstance(v, str) else step_from_dict(v, "compression") if isinstance(v, dict)
                 else v for v in value]
        for i, step in enumerate(steps):
            if not isinstance(step, tuple(m.params for m in methods.all_methods())):
                raise ValueError(f"step {i + 1}: {type(step).__name__} is not a step (give notation text such as "
                                 "'prune:criterion=l1,sparsity=0.3', a mapping, or a step object)")
        return steps

    @property
    def source(self) -> str:
        """Where the model loads from: ``model`` with bundled names (``builtin:demo-model``, or the model id
        a bundled model's run files record) resolved to the package's folder."""
        return bundled.resolve_model(self.model)


def suite_options(given: dict) -> dict:
    """Evaluation settings by field name, each checked by the settings model of the suite that declares it (sorted
    by name, only those given); ValueError for a name no suite declares, ValidationError for a bad value."""
    by_suite: dict[str, dict] = {}
    for key, value in given.items():
        owner = suites.option_owner(str(key))
        if owner is None:
            raise ValueError(f"unknown setting {key!r}")
        by_suite.setdefault(owner.name, {})[key] = value
    out = {}
    for name, values in by_suite.items():
        model = suites.get(name).Settings.model_validate(values)
        out.update({k: getattr(model, k) for k in values})
    return dict(sorted(out.items()))


SPEC_FIELDS = frozenset(f for f in RunSpec.__dataclass_fields__ if f != "options")


def make_spec(where: str, **fields) -> RunSpec:
    """RunSpec(**fields), with a type error as a SpecError naming ``where`` and the field. Fields of an evaluation
    suite's settings model (lama_dir, bear_bos, num_fewshot, ...) go to ``options``, checked by that model."""
    given = {k: fields.pop(k) for k in list(fields) if k not in SPEC_FIELDS}
    try:
        fields["options"] = {**suite_options(given), **fields.get("options", {})}
    except ValidationError as e:
        raise SpecError(f"{where}: {validation_message(e)}") from None
    except ValueError as e:
        raise SpecError(f"{where}: {e}") from None
    try:
        return RunSpec(**fields)
    except ValidationError as e:
        raise SpecError(f"{where}: {validation_message(e)}") from None
    except TypeError as e:  # a field that does not exist
        raise SpecError(f"{where}: {e}") from None


def validation_message(e: ValidationError) -> str:
    msgs = []
    for err in e.errors(include_url=False):
        loc = ".".join(str(x) for x in err["loc"] if not str(x).startswith(("function-", "constrained-")))
        value = err.get("input")
        shown = f" (got {value!r})" if isinstance(value, str | int | float | bool) and len(repr(value)) < 80 else ""
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "string_pattern_mismatch" and loc == "device":
            msg = "auto, cpu, mps, cuda or cuda:N"
        elif err["type"] == "string_pattern_mismatch" and loc == "model_id":
            msg = "a model name such as org/name (letters, digits, . _ - /; starting with a letter or digit)"
        msgs.append(f"{loc or 'spec'}: {msg}{shown}")
    return "; ".join(msgs)


# --- parsing ------------------------------------------------------------------------------------


SPEC_MAX_BYTES = 1024 * 1024


def spec_from_yaml(path: Path) -> RunSpec:
    from .yamlsafe import YamlError, load_file

    try:
        data = load_file(Path(path), SPEC_MAX_BYTES)
    except YamlError as e:
        raise SpecError(str(e)) from None
    if not isinstance(data, dict):
        raise SpecError(f"{path}: a run spec is a mapping")
    known = (SPEC_FIELDS - {"lineage"}) | set(suites.option_names()) | {"compress", "eval"}
    unknown = sorted(map(str, set(data) - known))
    if unknown:
        raise SpecError(f"{path}: unknown field(s) {', '.join(unknown)}")
    raw_steps = data.pop("compress", data.pop("compression", [])) or []
    if not isinstance(raw_steps, list):
        raise SpecError(f"{path}: compress: a list of steps")
    steps = []
    for i, s in enumerate(raw_steps):
        if isinstance(s, dict):
            steps.append(step_from_dict(s, f"{path}: compress[{i}]"))
        elif isinstance(s, str):
            steps.append(parse_step(s))
        else:
            raise SpecError(f"{path}: compress[{i}]: 'prune:...' / 'quantize:...' or a mapping, not {s!r}")
    evals = data.pop("eval", data.pop("evals", None))
    if isinstance(evals, str):
        evals = [evals]
    if "model" not in data or not evals:
        raise SpecError(f"{path}: needs 'model' and 'eval'")
    return make_spec(str(path), evals=evals, compression=steps, **data)


# --- checking -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Checked:
    """A checked spec: ``spec`` is the complete one (every calibration set and a checkpoint's lineage in it), what
    the run records and runs."""

    spec: RunSpec
    prepared: dict[str, Prepared]  # task -> its data, resolved and hashed (evaluate/spec.py)
    family: str

    @property
    def tasks(self) -> list[str]:
        return list(self.prepared)


def _memo(memo: dict | None, key: tuple, make):
    """``make()`` once per key when a memo is given (sweeps check hundreds of specs over the same data)."""
    if memo is None:
        return make()
    if key not in memo:
        try:
            memo[key] = (True, make())
        except (SpecError, ModelLoadError, ScopeError, OSError, ValueError) as e:
            memo[key] = (False, e)  # e.g. a hub model unreachable offline: tried once, not once per spec
    ok, value = memo[key]
    if not ok:
        raise value
    return value


def check(spec: RunSpec, memo: dict | None = None) -> Checked:
    """Everything that can be wrong with a spec, found before loading weights; the complete spec is
    ``Checked.spec`` (``spec`` itself is frozen, never changed). ``memo`` (a dict the caller keeps) shares loaded
    corpora, vocabulary, configs and skeletons between specs."""
    if not spec.evals:
        raise SpecError("--eval: name at least one evaluation, e.g. lama:trex")
    _check_fetched(spec.model)
    if spec.batch_size < 1 or (spec.limit is not None and spec.limit < 1):
        raise SpecError("batch_size and limit must be positive")
    _check_device(spec.device)
    spec = with_calibration(spec, memo)
    seen_prune_after_quant = False
    for i, s in enumerate(spec.compression):
        if s.method == "quantize":
            seen_prune_after_quant = True
        elif seen_prune_after_quant:
            raise SpecError(f"compress[{i}]: pruning after quantization is not supported; prune first")
    try:
        options = suite_options(spec.options)  # (a spec changed after it was made)
        by_suite: dict[str, list[str]] = {}
        for task in dict.fromkeys(suites.canonical(t) for t in spec.evals):
            by_suite.setdefault(suites.suite_of(task).name, []).append(task)
    except ValidationError as e:
        raise SpecError(validation_message(e)) from None
    except ValueError as e:
        raise SpecError(str(e)) from None
    if options != spec.options:
        spec = replace(spec, options=options)
    prepared: dict[str, Prepared] = {}
    for name, tasks in by_suite.items():
        try:
            prepared.update(suites.get(name).prepare(spec, tasks, lambda key, make: _memo(memo, key, make)))
        except SuiteError as e:
            raise SpecError(str(e)) from None
    try:
        key = ("model", spec.source, spec.allow_hub, spec.revision, str(spec.cache_dir))
        config, tree = _memo(memo, key, lambda: _config_and_skeleton(spec))
        spec = with_lineage(spec, config, tree)
        check_scopes(tree, spec.compression)
    except ModelLoadError as e:
        raise SpecError(f"--model: {e}") from None
    except ScopeError as e:
        raise SpecError(f"--compress scope: {e}") from None
    family = family_of(config)
    from .models import resolve_device

    for s in spec.compression[precompressed(spec):]:
        try:
            check_supported(s, family=family, device=resolve_device(spec.device))
        except UnsupportedScheme as e:
            raise SpecError(f"--compress {step_text(s)}: {e}") from None
    for name, tasks in by_suite.items():
        why = suites.get(name).check_model(spec, tasks, family)
        if why is not None:
            raise SpecError(why)
    preflight(spec, config, list(prepared), family)
    return Checked(spec, prepared, family)


MAX_STEPS = RunFile.model_fields["compression"].metadata[0].max_length if RunFile.model_fields["compression"].metadata \
    else 20
_MODEL_ID = TypeAdapter(ModelId)
_IDENTIFIER = TypeAdapter(Identifier)
_COMMAND = TypeAdapter(Text)
HUB_REVISION_PLACEHOLDER = "0" * 40  # a hub commit, as long as the one recorded after the download


def planned_model_id(spec: RunSpec) -> tuple[str, str]:
    """(the model id the run file will record, where it comes from), known before loading (as models.load names it)."""
    if spec.model_id:
        return spec.model_id, "--model-id"
    info = gguf_of(spec)
    if info is not None:
        return gguf_model_id(spec, info), "the GGUF file name"
    folder = Path(spec.source)
    if folder.is_dir():
        _toy, toy_id = _is_toy(spec.source)
        return (toy_id, "demo_model.json") if toy_id else (folder.resolve().name, "the folder name")
    return spec.model, "the hub id"


def preflight(spec: RunSpec, config, tasks: list[str], family: str) -> None:
    """Everything of the run file that is known before the model is loaded, validated as the run file's own types:
    the model id (a folder name with a space is no id), the architecture, the number of steps, each evaluation's
    settings, and the recorded command (its length). A run never fails on these after its evaluation."""
    model_id, origin = planned_model_id(spec)
    try:
        _MODEL_ID.validate_python(model_id)
    except ValidationError:
        raise SpecError(f"--model {spec.model}: {origin} gives the model id {model_id[:120]!r}, which a run file cannot "
                        "record (letters, digits, . _ - /, starting with a letter or digit, at most 200 characters); "
                        "name the model with --model-id ORG/NAME") from None
    arch = (getattr(config, "architectures", None) or [None])[0]
    if arch is not None:
        try:
            _IDENTIFIER.validate_python(arch)
        except ValidationError:
            raise SpecError(f"--model {spec.model}: config.json: architectures[0] {str(arch)[:80]!r} is not a class "
                            "name a run file can record") from None
    if len(spec.compression) > MAX_STEPS:
        held = precompressed(spec)
        extra = f" ({held} of them the checkpoint's own)" if held else ""
        raise SpecError(f"--compress: {len(spec.compression)} steps{extra}; a run file records at most {MAX_STEPS}")
    revision = HUB_REVISION_PLACEHOLDER if spec.allow_hub else None
    for task in tasks:
        try:
            evaluation_for(spec, task, family, None)
        except ValidationError as e:
            raise SpecError(f"--eval {task}: {validation_message(e)}") from None
        command = reproduce_command(spec, model_id, task, revision)
        try:
            _COMMAND.validate_python(command)
        except ValidationError:
            raise SpecError(f"the command recorded in the run file would be {len(command):,} characters; a run file "
                            f"holds at most {_COMMAND.json_schema().get('maxLength', 2000):,}: shorten the paths or "
                            f"names in it (model, --calibration, and the evaluation's data paths)") from None


def with_calibration(spec: RunSpec, memo: dict | None = None) -> RunSpec:
    """The spec with the calibration set recorded in every step whose method needs data (it enters the run_id).

    A step that already names a calibration set (a spec file written out in full) keeps it."""
    needs = [i for i, s in enumerate(spec.compression) if i >= precompressed(spec)
             and methods.method_of(s).calibration and getattr(s, "calibration", None) is None]
    if not needs:
        return spec
    try:
        info = _memo(memo, ("calibration", spec.calibration, spec.calibration_samples, spec.calibration_seq_len),
                     lambda: describe(str(spec.calibration), spec.calibration_samples, spec.calibration_seq_len))
    except CalibrationError as e:
        raise SpecError(str(e)) from None
    steps = [s.model_copy(update={"calibration": info}) if i in needs else s for i, s in enumerate(spec.compression)]
    return replace(spec, compression=steps)


def precompressed(spec: RunSpec) -> int:
    """How many leading steps of ``spec.compression`` the checkpoint already had (not to be applied)."""
    return spec.lineage.steps_in_checkpoint if spec.lineage else 0


def _check_fetched(model: str) -> None:
    from . import model_fetch

    if model.startswith(model_fetch.FETCHED_PREFIX):
        try:
            model_fetch.resolve(model)
        except model_fetch.FetchError as e:
            raise SpecError(str(e)) from None


def gguf_of(spec: RunSpec):
    """The GGUF file's description (gguf_file.GgufInfo) when the spec's model is a GGUF checkpoint, else None."""
    from .models import gguf_info

    try:
        return gguf_info(spec.source)
    except ModelLoadError as e:
        raise SpecError(f"--model: {e}") from None


def gguf_model_id(spec: RunSpec, info) -> str:
    """A GGUF checkpoint's model id: --model-id, else the fetchable model's id (by sha256), else the file name."""
    from . import model_fetch

    known = model_fetch.by_sha256(info.sha256)
    return spec.model_id or (known[1].model_id if known else info.path.name)


def _gguf_lineage(spec: RunSpec, info) -> RunSpec:
    """A GGUF checkpoint arrives quantized: its file type is the step it already had, its tensor-type mix the
    lineage's record; the base model comes from --base-model, else from the fetchable model's manifest."""
    from . import model_fetch
    from .schema import make_step

    known = model_fetch.by_sha256(info.sha256)
    try:
        step = make_step(method="quantize", scheme="gguf", type=info.file_type, scope="all")
    except ValidationError:
        raise SpecError(f"--model {spec.model}: GGUF file type {info.file_type!r} is not one the run file can "
                        "state") from None
    lineage = Lineage(base=spec.base_model or (known[1].base_model if known else None), relation="quantized",
                      steps_in_checkpoint=1, tensor_types=info.tensor_types)
    return replace(spec, lineage=lineage, compression=[step, *spec.compression])


def with_lineage(spec: RunSpec, config, tree) -> RunSpec:
    """A checkpoint that arrives compressed: the spec with the steps read from its config prepended (once) and its
    lineage recorded; ``--base-model`` names its base (also for distilled models, which have no steps)."""
    if spec.lineage is not None:
        return spec
    info = gguf_of(spec)
    if info is not None:
        return _gguf_lineage(spec, info)
    from .compress.checkpoint import CheckpointError, steps_from_config
    from .compress.scopes import resolve

    folder = Path(spec.source) if Path(spec.source).is_dir() else None
    try:
        body = set(resolve(tree, "all"))
        steps, relation = steps_from_config(config, folder, body)
    except CheckpointError as e:
        raise SpecError(f"--model {spec.model}: the checkpoint is compressed, but {e}") from None
    if not steps and spec.base_model is None:
        return spec
    if not steps and relation is None:
        relation = "distilled"
    lineage = Lineage(base=spec.base_model, relation=relation or "distilled", steps_in_checkpoint=len(steps))
    return replace(spec, lineage=lineage, compression=[*steps, *spec.compression])


def calibration_data(spec: RunSpec) -> CalibrationData | None:
    infos = {s.calibration for s in spec.compression if getattr(s, "calibration", None) is not None}
    if not infos:
        return None
    if len(infos) > 1:
        raise SpecError("compression: steps name different calibration sets; one run uses one set")
    try:
        return CalibrationData.load(str(spec.calibration), infos.pop())
    except CalibrationError as e:
        raise SpecError(str(e)) from None


def _check_device(device: str) -> None:
    """The device exists here (a run never starts on a GPU it cannot have)."""
    if not device.startswith("cuda"):
        if device == "mps" and not torch.backends.mps.is_available():
            raise SpecError("device: mps is not available on this machine")
        return
    if not torch.cuda.is_available():
        raise SpecError(f"device: {device}: no CUDA device is visible here (use cpu or auto)")
    index = int(device.partition(":")[2] or 0)
    if index >= torch.cuda.device_count():
        raise SpecError(f"device: {device}: this machine has {torch.cuda.device_count()} CUDA device(s)")


def _config_and_skeleton(spec: RunSpec):
    config = load_config(spec.source, allow_hub=spec.allow_hub, revision=spec.revision, cache_dir=spec.cache_dir)
    return config, skeleton(config)


# --- running ------------------------------------------------------------------------------------


def _git_sha() -> str | None:
    here = Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5)
        if sha.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return sha.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def _libraries() -> dict[str, str]:
    out = {}
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(name.replace("_", "-"))
        except metadata.PackageNotFoundError:
            continue
    return out


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    return device.type


def _flag(flag: str, value: object) -> list[str]:
    """``--flag value``, or ``--flag=value`` where the value would read as an option (it starts with '-'): argparse
    takes ``--model -model`` for two options, ``--model=-model`` for one with its value."""
    text = str(value)
    return [f"{flag}={text}"] if text.startswith("-") else [flag, text]


def _command_text(value, path: bool) -> str:
    """A setting as a recorded command states it: a path absolute (a ``builtin:`` name as it is), a list joined by
    commas."""
    if path and not str(value).startswith("builtin:"):
        return str(Path(value).resolve())
    if isinstance(value, list | tuple):
        return ",".join(map(str, value))
    return str(value)


def reproduce_command(spec: RunSpec, model_id: str, task: str, revision: str | None = None) -> str:
    """The ``leaderboard run`` command that makes this run again: every setting that enters the run and
    where its data came from, so that neither defaults nor the environment (``LEADERBOARD_LAMA_DIR``, a
    fetched LAMA copy) can change what it computes. Bundled models and data go by their ``builtin:`` names.
    Every value is quoted (shlex) and attached with '=' where it starts with '-', so the command parses back to the
    same spec (tests/test_run_inputs.py checks that over generated specs)."""
    model = bundled.model_name(spec.source)
    parts = ["leaderboard", "run", *_flag("--model", model)]
    if spec.allow_hub:
        parts += ["--allow-hub"] + (_flag("--revision", revision) if revision else [])
    if spec.model_id and spec.model_id != model:
        parts += _flag("--model-id", spec.model_id)
    parts += _flag("--eval", task)
    for s in spec.compression[precompressed(spec):]:
        parts += _flag("--compress", step_text(s))
    if spec.base_model:
        parts += _flag("--base-model", spec.base_model)
    calibrated = any(getattr(s, "calibration", None) is not None for s in spec.compression)
    for f in run_flags():  # the shared settings, as run_settings.RunSettings says to record each
        value = getattr(spec, f.field)
        if (f.record == "calibrated" and calibrated) or (f.record == "changed" and value != f.default):
            parts += _flag(f.flag, _command_text(value, f.path))
    suite = suites.suite_of(task)
    for name in suite.command_fields():  # the suite's own settings, and the shared ones it reads (relations)
        value = suite.command_value(spec, name)
        if value != suite.command_default(name):
            parts += _flag(flag_name(name), value)
    return shlex.join(parts)


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` in one rename, with the usual permissions of a new file (0644)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, text.encode("utf-8"))


def _is_toy(model: str) -> tuple[bool, str | None]:
    """Whether a folder is the toy demo model (its demo_model.json marker), and the model id the marker names."""
    from .fsutil import InputError, read_json_bounded

    marker = Path(model) / "demo_model.json"
    if not os.path.lexists(marker):
        return False, None
    try:
        info = read_json_bounded(marker, "demo_model.json")
    except InputError as e:
        raise SpecError(f"--model: {e}") from None
    model_id = info.get("model_id") if isinstance(info, dict) else None
    if model_id is not None:
        try:
            _MODEL_ID.validate_python(model_id)
        except ValidationError:
            raise SpecError(f"--model: {marker}: model_id: a model name such as org/name (got {str(model_id)[:80]!r})") \
                from None
    return True, model_id


def evaluation_for(spec: RunSpec, task: str, family: str, data_sha: str | None) -> Evaluation:
    """The run file's evaluation: the task, its data's hash and the settings its suite records (they enter the
    run_id)."""
    return Evaluation(task=task, data_sha256=data_sha, settings=suites.suite_of(task).record(spec, task, family))


class UnfinishedRun(RuntimeError):
    """An evaluation finished but its run file is not valid: the outcomes are kept in a file; the message says where
    and how to finish (``leaderboard run --finish FILE``)."""


UNFINISHED_FORMAT = "leaderboard-unfinished-run/1"


def unfinished_dir() -> Path:
    env = os.environ.get("LEADERBOARD_UNFINISHED_DIR")
    return Path(env) if env else Path.home() / ".cache" / "compression-leaderboard" / "unfinished"


def keep_unfinished(data: dict, problem: str, out: Path) -> UnfinishedRun:
    """Write the run document that failed validation where ``--finish`` reads it; the error to raise."""
    task = str(data.get("evaluation", {}).get("task", "run"))
    slug = "".join(c if c.isascii() and c.isalnum() else "-" for c in task)[:60]
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")
    doc = {"format": UNFINISHED_FORMAT, "problem": problem, "out": str(Path(out).resolve()), "run": data}
    folder = unfinished_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stamp}-{slug}.json"
    write_atomic(path, (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
    hint = " or give --model-id ORG/NAME" if "model.id" in problem or "model/id" in problem else ""
    return UnfinishedRun(f"{task}: the run file is not valid ({problem[:300]}); the evaluation is kept in {path}: fix "
                         f"the field there{hint} and finish with: leaderboard run --finish {shlex.quote(str(path))}")


def build_run(spec: RunSpec, lm: LoadedModel, task: str, comp: CompressionResult, results: list, eval_seconds: float,
              throughput: float, started: datetime, toy: bool, data_sha: str | None, unit: str = "facts/s") -> RunFile:
    """The run file of one evaluation. Built as a plain document and validated as the JSON it is written as: a value
    the run file cannot hold never loses the evaluation (UnfinishedRun keeps it)."""
    data = {
        "schema_version": SCHEMA_VERSION, "run_id": "0" * 16,
        "model": {"id": lm.model_id, "revision": lm.revision, "family": lm.family, "architecture": lm.architecture,
                  "parameters": lm.parameters, "toy": toy,
                  "lineage": spec.lineage.model_dump(mode="json", exclude_none=True) if spec.lineage else None},
        "compression": [s.model_dump(mode="json", exclude_none=True) for s in spec.compression],
        "evaluation": evaluation_for(spec, task, lm.family, data_sha).model_dump(mode="json", exclude_none=True),
        "measured": {"sparsity": comp.sparsity, "weight_bytes": comp.weight_bytes, "bits_per_weight": comp.bits_per_weight,
                     "peak_memory_bytes": comp.peak_memory_bytes, "compress_seconds": comp.compress_seconds,
                     "eval_seconds": round(eval_seconds, 3), "throughput": round(throughput, 2), "throughput_unit": unit,
                     "stored_bytes": comp.stored_bytes, "stored_bits_per_weight": comp.stored_bits_per_weight,
                     "kernels": comp.kernels},
        "results": [r.model_dump(mode="json", exclude_none=True) for r in results],
        "provenance": {
            "runner_version": __version__, "git_sha": _git_sha(), "libraries": _libraries(),
            "python": platform.python_version(), "platform": platform.platform(terse=True),
            "device": _device_name(lm.device), "dtype": lm.dtype, "seed": spec.seed, "batch_size": spec.batch_size,
            "started_at": started.isoformat(), "finished_at": datetime.now(timezone.utc).isoformat(),
            "command": reproduce_command(spec, lm.model_id, task, lm.revision)},
        "source": {"kind": "reproduced"},
    }
    return run_from_document(data, lambda problem: keep_unfinished(data, problem, Path(spec.out)))


def run_from_document(data: dict, on_invalid) -> RunFile:
    """RunFile from a plain document (its run_id computed); ``on_invalid(problem)`` gives the error to raise."""
    from .compress.checkpoint import errors_line

    try:
        run = RunFile.model_validate_json(json.dumps({**data, "run_id": "0" * 16}, allow_nan=False))
    except ValidationError as e:
        raise on_invalid(errors_line(e)) from None
    except ValueError as e:  # a NaN or infinity: JSON has none
        raise on_invalid(str(e)) from None
    return run.model_copy(update={"run_id": compute_run_id(run)})


def finish_unfinished(path: Path, *, out: Path | None = None, model_id: str | None = None, force: bool = False) -> Path:
    """Write the run file of an evaluation kept by keep_unfinished, after the user fixed the field (or gave
    ``--model-id``). Validated exactly as the runner validates; one line naming the field if it still is not valid."""
    from .fsutil import InputError, read_json_bounded

    try:
        doc = read_json_bounded(path, "unfinished-run")
    except InputError as e:
        raise SpecError(str(e)) from None
    if not isinstance(doc, dict) or doc.get("format") != UNFINISHED_FORMAT or not isinstance(doc.get("run"), dict):
        raise SpecError(f"{path}: not a kept evaluation (format {UNFINISHED_FORMAT})")
    data = doc["run"]
    if model_id is not None:
        try:
            _MODEL_ID.validate_python(model_id)
        except ValidationError:
            raise SpecError(f"--model-id {model_id!r}: a model name such as org/name") from None
        if not isinstance(data.get("model"), dict):
            raise SpecError(f"{path}: run.model: a mapping")
        data["model"]["id"] = model_id
        command = (data.get("provenance") or {}).get("command")
        if isinstance(command, str):
            data["provenance"]["command"] = _with_model_id(command, model_id)
    out = Path(out) if out is not None else Path(str(doc.get("out") or "runs"))

    def invalid(problem: str) -> SpecError:
        return SpecError(f"{path}: still not a valid run file: {problem[:300]}; fix it there and run --finish again")

    run = run_from_document(data, invalid)
    text = dump_run(run)
    problems = [p for p in check_bytes(text.encode(), str(path), str(canonical_path(run))).problems
                if p.severity == "error"]
    if problems:
        raise invalid(problems[0].line())
    target = out / canonical_path(run)
    try:
        ensure_dir(out, canonical_path(run).parent)
        exists = check_target(target)
    except UnsafePath as e:
        raise SpecError(f"--out: {e}") from None
    if exists and not force:
        raise SpecError(f"{target} exists (same spec); use --force to replace it")
    write_atomic(target, text.encode("utf-8"))
    return target


def _with_model_id(command: str, model_id: str) -> str:
    """The recorded command with ``--model-id`` set to ``model_id`` (replacing one it had)."""
    try:
        argv = shlex.split(command)
    except ValueError:
        return command
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
            continue
        if a == "--model-id":
            skip = True
            continue
        if a.startswith("--model-id="):
            continue
        out.append(a)
    return shlex.join(out[:2] + _flag("--model-id", model_id) + out[2:])


def model_identity(spec: RunSpec, memo: dict | None = None) -> tuple[str, str] | None:
    """(model id, revision) of a local checkpoint before loading it; None for a hub model, whose
    revision is known once it is fetched (then take ``lm.model_id, lm.revision``)."""
    info = gguf_of(spec)
    if info is not None:
        return gguf_model_id(spec, info), info.revision
    folder = Path(spec.source)
    if not folder.is_dir():
        return None
    _toy, toy_id = _is_toy(spec.source)
    model_id = spec.model_id or toy_id or folder.resolve().name
    try:
        return model_id, _memo(memo, ("revision", str(folder.resolve())), lambda: local_revision(folder))
    except ModelLoadError as e:  # a folder without weight files: one line before anything is loaded
        raise SpecError(f"--model: {e}") from None


def planned_paths(checked: Checked, identity: tuple[str, str] | None = None) -> dict[str, Path] | None:
    """Where each evaluation's run file will be, known before loading a local model (see model_identity)."""
    spec = checked.spec
    identity = identity or model_identity(spec)
    if identity is None:
        return None
    model_id, revision = identity
    out = {}
    for task, prepared in checked.prepared.items():
        ev = evaluation_for(spec, task, checked.family, prepared.sha256)
        rid = run_id_of(spec_dict(model_id, revision, spec.compression, ev, seed=spec.seed))
        out[task] = Path(spec.out) / path_for(checked.family, model_id, rid)
    return out


def execute(spec: RunSpec, *, progress: bool = True, force: bool = False, log=print) -> list[Path]:
    """Run a checked spec; returns the run files written. Evaluations whose run file exists (same spec)
    are skipped unless ``force``; when all exist, the model is not even loaded."""
    checked = check(spec)
    planned = planned_paths(checked)
    todo = pending_tasks(checked, planned, force, log)
    if not todo:
        return []
    lm = load_model(checked.spec)
    return run_loaded(checked, lm, todo, planned=planned, progress=progress, force=force, log=log)


def pending_tasks(checked: Checked, planned: dict[str, Path] | None, force: bool = False, log=print) -> list[str]:
    """The evaluations of a checked spec whose run file is not there yet (all of them with ``force``)."""
    tasks = checked.tasks
    if not planned or force:
        return tasks
    todo = []
    for task in tasks:
        if planned[task].exists():
            log(f"{planned[task]} exists (same spec); left as it is (use --force to replace)")
        else:
            todo.append(task)
    return todo


def load_model(spec: RunSpec) -> LoadedModel:
    _toy, toy_id = _is_toy(spec.source)
    info = gguf_of(spec)
    model_id = gguf_model_id(spec, info) if info is not None else spec.model_id or toy_id
    return load(spec.source, allow_hub=spec.allow_hub, revision=spec.revision, device=spec.device, dtype=spec.dtype,
                model_id=model_id, cache_dir=spec.cache_dir)


def run_loaded(checked: Checked, lm: LoadedModel, tasks: list[str], *,
               planned: dict[str, Path] | None = None, progress: bool = True, force: bool = False, log=print,
               on_error=None) -> list[Path]:
    """Compress the loaded model (in place) by the checked spec's steps and write a run file per task, each as
    soon as its evaluation ends.

    ``on_error(task, exc)``: when given, an evaluation that raises is reported there and the others
    still run (sweeps); otherwise the error propagates."""
    written = []
    for task, run, comp in iter_runs(checked, lm, tasks, progress=progress, on_error=on_error):
        try:
            written += _write_runs(checked.spec, [run], planned, comp, force, log)
        except Exception as e:
            if on_error is None:
                raise
            on_error(task, e)
    return written


class RunRng:
    """A run's own random state: torch's (CPU and every CUDA device), seeded once with the run's seed and carried on
    from compression through each evaluation, as one global seed did before; swapped in only while the run's code
    runs (``active()``), so the caller's torch, ``random`` and numpy states are as they were between and after (a
    notebook's RNG is not reseeded by a run; lm-eval seeds all three globally)."""

    def __init__(self, seed: int) -> None:
        self.devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
        with torch.random.fork_rng(devices=self.devices):
            torch.manual_seed(seed)
            self.state = self._get()

    def _get(self) -> tuple:
        return torch.get_rng_state(), [torch.cuda.get_rng_state(d) for d in self.devices]

    @contextmanager
    def active(self):
        import random

        import numpy as np

        py_state, np_state = random.getstate(), np.random.get_state()
        with torch.random.fork_rng(devices=self.devices):
            cpu, cuda = self.state
            torch.set_rng_state(cpu)
            for d, st in zip(self.devices, cuda, strict=True):
                torch.cuda.set_rng_state(st, d)
            try:
                yield
            finally:
                self.state = self._get()
                random.setstate(py_state)
                np.random.set_state(np_state)


def iter_runs(checked: Checked, lm: LoadedModel, tasks: list[str], *, progress: bool = True,
              on_error=None) -> Iterator[tuple[str, RunFile, CompressionResult]]:
    """Compress the loaded model (in place) by the checked spec's steps, then evaluate each task: yields
    (task, run file, compression result) per task, each run file valid (what the validator accepts), not
    written. The one code path of ``leaderboard run``, sweeps and the Python API."""
    spec = checked.spec
    rng = RunRng(spec.seed)
    started = datetime.now(timezone.utc)
    toy, _ = _is_toy(spec.source)
    by_suite: dict[str, list[str]] = {}
    for task in tasks:
        by_suite.setdefault(suites.suite_of(task).name, []).append(task)
    for name, its_tasks in by_suite.items():  # before compressing (a token the tokenizer lacks)
        try:
            suites.get(name).before_compression(spec, lm, its_tasks)
        except SuiteError as e:
            raise SpecError(str(e)) from None
    k = precompressed(spec)
    held = _held_tensors(spec, lm) if k else None  # before compressing: the tensors as the checkpoint has them
    with rng.active():
        comp = compress(lm.model, spec.compression[k:], device=lm.device, seed=spec.seed,
                        calibration=calibration_data(spec), tokenizer=lm.tokenizer, family=lm.family)
    if k:
        comp = _as_stored(spec, lm, comp, held)
    mismatch = sparsity_mismatch(spec.compression[k:], comp.sparsity)
    if mismatch:
        raise CompressionError(f"{mismatch[1]}; refusing to record it")
    for task in tasks:
        try:
            with rng.active():
                run = _evaluate(spec, checked, lm, task, comp, started, toy, progress)
            valid_text(run, Path(spec.out))
        except Exception as e:
            if on_error is None:
                raise
            on_error(task, e)
            continue
        yield task, run, comp


def _held_tensors(spec: RunSpec, lm: LoadedModel) -> dict[str, tuple[object, int]] | None:
    """A GGUF checkpoint's parameters before any step: name -> (the tensor object, its bytes in the file)."""
    info = gguf_of(spec)
    if info is None:
        return None
    from .gguf_file import held_bytes

    sizes = held_bytes(info, lm.model)
    return {name: (p, sizes[name]) for name, p in lm.model.named_parameters() if name in sizes}


def _as_stored(spec: RunSpec, lm: LoadedModel, comp: CompressionResult,
               held: dict[str, tuple[object, int]] | None = None) -> CompressionResult:
    """A pre-compressed checkpoint: its stored size is that of its weight files (a GGUF file: its tensors), also after
    pruning on top (the same format holds the pruned weights in as many bytes); a quantization step on top
    measures its own. It runs as transformers loaded it (compressed-tensors decompresses each layer in its forward
    pass, GGUF is dequantized on loading: simulated; bitsandbytes: native)."""
    from dataclasses import replace

    from .compress.checkpoint import checkpoint_bytes
    from .compress.measure import count_parameters
    from .models import skeleton

    k = precompressed(spec)
    n = count_parameters(skeleton(lm.model.config))
    lm.parameters = n  # of the uncompressed architecture, not of the packed tensors
    quant = [s for s in spec.compression[:k] if s.method == "quantize"]
    kernels = comp.kernels or (("simulated" if methods.method_of(quant[0]).simulated else "native") if quant else None)
    info = gguf_of(spec)
    if any(s.method == "quantize" for s in spec.compression[k:]):
        if info is None:
            return replace(comp, kernels=kernels)
        from .compress.stored import stored_bytes

        # the tensors no step touched or replaced (embeddings, norms) stay as the GGUF file stores them
        now = dict(lm.model.named_parameters())
        same = {id(t): size for name, (t, size) in (held or {}).items() if now.get(name) is t}
        stored = stored_bytes(lm.model, held=same)[0]
        return replace(comp, kernels=kernels, stored_bytes=stored, stored_bits_per_weight=round(8 * stored / n, 4))
    folder = Path(spec.source)
    stored = info.tensor_bytes if info is not None else checkpoint_bytes(folder) if folder.is_dir() else None
    return replace(comp, stored_bytes=stored or None,
                   stored_bits_per_weight=round(8 * stored / n, 4) if stored else None, kernels=kernels)


def _evaluate(spec: RunSpec, checked: Checked, lm: LoadedModel, task: str, comp: CompressionResult,
              started: datetime, toy: bool, progress: bool) -> RunFile:
    suite = suites.suite_of(task)
    prepared = checked.prepared[task]
    out = suite.evaluate(spec, lm, task, prepared, progress)
    return build_run(spec, lm, task, comp, out.results, out.seconds, out.throughput, started, toy, prepared.sha256,
                     unit=suite.unit)


def _headline(run: RunFile) -> tuple[str, object]:
    metrics = run.results[0].metrics
    name = registry.headline_metric(run.evaluation.task)
    name = name if name in metrics else next(iter(metrics))
    return name, metrics[name]


def valid_text(run: RunFile, out: Path | None = None) -> str:
    """The run file's text, checked by the validator as ``leaderboard validate`` checks it: the runner never
    writes or returns a file the validator would refuse. With ``out`` (the runs folder it was meant for), an invalid
    file keeps its evaluation on disk (UnfinishedRun names the file and how to finish it)."""
    text = dump_run(run)
    path = canonical_path(run)
    problems = [p for p in check_bytes(text.encode(), str(path), str(path)).problems if p.severity == "error"]
    if problems:
        problem = "; ".join(p.line() for p in problems[:3])
        if out is not None:
            raise keep_unfinished(json.loads(text), problem, out)
        raise RuntimeError("the runner produced an invalid run file: " + problem)
    return text


def _write_runs(spec: RunSpec, runs: list[RunFile], planned: dict | None, comp: CompressionResult, force: bool,
                log) -> list[Path]:
    written = []
    for run in runs:
        task = run.evaluation.task
        path = Path(spec.out) / canonical_path(run)
        text = dump_run(run)
        if planned and planned.get(task) != path:
            raise keep_unfinished(json.loads(text), f"run file path {path} differs from the planned {planned.get(task)}",
                                  Path(spec.out))
        text = valid_text(run, Path(spec.out))
        try:  # never through a link planted inside runs/
            ensure_dir(Path(spec.out), canonical_path(run).parent)
            exists = check_target(path)
        except UnsafePath as e:
            raise SpecError(f"--out: {e}") from None
        if exists and not force:
            log(f"{path} exists (same spec); left as it is (use --force to replace)")
        else:
            write_atomic(path, text.encode("utf-8"))
            written.append(path)
        name, mv = _headline(run)
        ci = f" [{mv.ci.low:.3f}, {mv.ci.high:.3f}]" if mv.ci else ""
        noun = suites.suite_of(task).noun
        log(f"{run.model.id} | {pipeline_label(run.compression)} | "
            f"{task}: {registry.metric_info(name).label} {mv.value:.3f}{ci} on {run.results[0].n} {noun} "
            f"({run.results[0].excluded} excluded), "
            f"sparsity {comp.sparsity.get('all', 0):.3f}, {comp.bits_per_weight:.2f} bits/weight, "
            f"{run.measured.throughput:.0f} {run.measured.throughput_unit} -> {path}")
    return written
