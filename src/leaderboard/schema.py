"""The run file: the project's public contract (pydantic models, run_id, canonical path).

One JSON file per (model, compression, evaluation). Field-level rules live here (types, enums,
ranges, lengths); rules that need more than one field, a file path or other files live in
``validate.py``. Every model forbids unknown fields and coerces nothing: a run file means
exactly what it says.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from pathlib import PurePosixPath
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, model_validator

from . import registry
from .compress import registry as method_registry

SCHEMA_VERSION = "1.3"  # the version new files are written in
SCHEMA_VERSIONS = ("1.0", "1.1", "1.2", "1.3")  # every version this validator reads (minor versions only add)
RUNNER_MAJOR = 0  # part of every run_id: bump when the runner changes what a spec measures
RUN_ID_HEX = 16

MAX_INT = 10**15  # bounds every count and byte size: big enough for any model, small enough to be sane

Text = Annotated[str, StringConstraints(max_length=2000)]
ShortText = Annotated[str, StringConstraints(max_length=300)]
# A model id: a hub id ("org/name") or a local name, ASCII (no look-alike letters), at most one "/", each part
# starting with a letter or digit, and no "//", "--", "..", ".-" or "-." and no trailing "." or "-" (the hub's own
# rules; "--" is how a "/" appears in a folder name, so "a--b" and "a/b" would share one): one spelling per model.
MODEL_ID_PART = r"[A-Za-z0-9][A-Za-z0-9_]*(?:[.\-][A-Za-z0-9_]+)*"
MODEL_ID_PATTERN = rf"^{MODEL_ID_PART}(?:/{MODEL_ID_PART})?$"
MODEL_ID_RULE = ("not a model id: 'org/name' or 'name', ASCII letters, digits, '_', and '.' or '-' between them "
                 "(no '//', '--', '..', no leading or trailing '.' or '-')")
ModelId = Annotated[str, StringConstraints(max_length=200, pattern=MODEL_ID_PATTERN)]
Identifier = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.+\-]{0,99}$")]
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
Scope = Annotated[str, StringConstraints(pattern=registry.SCOPE_GLOB_PATTERN)]
TaskName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_\-]*:[a-z0-9][a-z0-9_.\-/]{0,119}$")]
MetricName = Annotated[str, StringConstraints(pattern=registry.METRIC_NAME_PATTERN)]
Count = Annotated[int, Field(ge=0, le=MAX_INT)]
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
Seconds = Annotated[float, Field(ge=0.0, le=10**9)]
Scalar = Union[bool, int, float, Annotated[str, StringConstraints(max_length=500)], None]
RunId = Annotated[str, StringConstraints(pattern=rf"^[0-9a-f]{{{RUN_ID_HEX}}}$")]

Family = Literal["encoder", "encoder-decoder", "decoder"]
assert set(Family.__args__) == set(registry.FAMILIES)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)


# --- model ---------------------------------------------------------------------------------


class Lineage(Strict):
    """Where a derived checkpoint comes from (a quantized, pruned or distilled model) and what it already had."""

    base: ModelId | None = Field(default=None, description="The uncompressed model it was derived from (hub id or name). "
                                 "The checkpoint run as it is (no step of its own) is compared with this model's "
                                 "baseline; a run applying steps on top is compared with the checkpoint run as it is.")
    base_revision: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:\-]{1,100}$")] | None = None
    relation: Literal["quantized", "pruned", "distilled", "fine-tuned"]
    steps_in_checkpoint: Annotated[int, Field(ge=0, le=20)] = Field(
        default=0, description="How many leading steps of 'compression' the checkpoint already had (read from its "
        "config); the runner applied only the steps after them.")
    read_from: Literal["config", "user"] = Field(
        default="config", description="Where the checkpoint's steps were read: its own config, or the user's flags.")
    tensor_types: dict[Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_]{1,20}$")], Count] | None = Field(
        default=None, max_length=50, description="GGUF checkpoints: weights (elements) stored in each GGML tensor type, "
        "the file's real quantization mix (a 'Q4_K_M' file holds Q4_K, Q5_0, Q6_K, Q8_0 and F32 tensors) (schema 1.2).")


class ModelInfo(Strict):
    id: ModelId = Field(description="Hub id (org/name) or the name of a local checkpoint.")
    revision: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:\-]{1,100}$")] | None = Field(
        default=None,
        description="Hub commit sha, or 'sha256:<hex>' of the weights of a local checkpoint.",
    )
    family: Family
    architecture: Identifier = Field(description="transformers class, e.g. BertForMaskedLM.")
    parameters: Count = Field(description="Number of parameters of the uncompressed model.")
    toy: bool = Field(default=False, description="A tiny demonstration model, not a real one.")
    lineage: Lineage | None = Field(default=None, description="For a derived checkpoint: its base and what it had.")


# --- compression ---------------------------------------------------------------------------


# Every compression method declares its step model in a module under compress/methods/ (see
# compress/spec.py); the step union is built from that registry, so a new method needs no edit here.
Step, PruneStep, QuantizeStep = method_registry.step_types()


def make_step(**fields) -> object:
    """A validated step from its fields (``method`` and ``criterion``/``scheme`` pick the model)."""
    return _STEP_ADAPTER.validate_python(fields)


_STEP_ADAPTER = TypeAdapter(Step)


# --- evaluation ----------------------------------------------------------------------------


class Evaluation(Strict):
    task: TaskName = Field(description="'<suite>:<name>', e.g. 'lama:trex' or 'lm-eval:boolq'.")
    data_sha256: Sha256 | None = Field(default=None, description="sha256 of the evaluation data as read.")
    settings: dict[Identifier, Scalar] = Field(
        default_factory=dict,
        max_length=50,
        description="Everything that changes what is measured (candidate set, n-shot, limit, ...).",
    )


# --- measured ------------------------------------------------------------------------------


class Measured(Strict):
    sparsity: dict[Scope, Fraction] = Field(
        default_factory=dict, max_length=100, description="Measured fraction of zero weights per scope."
    )
    weight_bytes: Count = Field(description="Bytes of the weights as stored in memory after compression.")
    bits_per_weight: Annotated[float, Field(gt=0.0, le=64.0)]
    peak_memory_bytes: Count | None = None
    disk_bytes: Count | None = None
    compress_seconds: Seconds | None = None
    eval_seconds: Seconds | None = None
    throughput: Annotated[float, Field(ge=0.0, le=1e12)] | None = None
    throughput_unit: Annotated[str, StringConstraints(pattern=r"^[a-z]{1,20}/s$")] | None = None
    stored_bytes: Count | None = Field(
        default=None, description="Bytes of all weights in the compressed checkpoint as saved (compressed-tensors "
        "save_compressed: packed integers, scales, zero points), when that differs from the in-memory form.")
    stored_bits_per_weight: Annotated[float, Field(gt=0.0, le=64.0)] | None = Field(
        default=None, description="8 x stored_bytes / parameters of the uncompressed model.")
    kernels: Literal["native", "simulated"] | None = Field(
        default=None, description="How the quantized model was evaluated: 'native' low-bit kernels (torchao, "
        "bitsandbytes) or 'simulated' (quantize-dequantize weights in floating point, as llm-compressor leaves "
        "them in memory). Absent: nothing quantized.")


# --- results -------------------------------------------------------------------------------


class ConfidenceInterval(Strict):
    low: float
    high: float
    level: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.95
    method: Literal["bootstrap", "normal", "wilson", "reported"] = "bootstrap"


class MetricValue(Strict):
    value: float = Field(description="The raw value as measured or printed; never renormalised.")
    scale: Literal["fraction", "percent"] = "fraction"
    n: Count | None = Field(default=None, description="Examples the value is computed over.")
    stderr: Annotated[float, Field(ge=0.0)] | None = None
    ci: ConfidenceInterval | None = None


Metrics = Annotated[dict[MetricName, MetricValue], Field(min_length=1, max_length=50)]


class RelationResult(Strict):
    relation: Identifier = Field(description="e.g. 'P19' (T-REx) or 'place_of_birth' (Google-RE).")
    n: Count = Field(description="Facts scored.")
    excluded: Count = Field(default=0, description="Facts left out (object not a single candidate token).")
    metrics: Metrics


class FactOutcomes(Strict):
    """Per-fact ranks of the gold object, so 'facts forgotten' can be computed between runs.

    ``data`` is base64 of gzip of UTF-8 lines ``<fact id>\\t<rank>`` (rank 1 = predicted).
    """

    format: Literal["id-rank-tsv"] = "id-rank-tsv"
    encoding: Literal["gzip+base64"] = "gzip+base64"
    count: Count
    data: Annotated[str, StringConstraints(max_length=8_000_000, pattern=r"^[A-Za-z0-9+/=]*$")]


class TaskResult(Strict):
    task: TaskName
    n: Count | None = Field(default=None, description="Examples scored (may be left out only for reported results).")
    excluded: Count = Field(default=0, description="Examples left out, and counted, never scored.")
    metrics: Metrics
    relations: list[RelationResult] | None = Field(default=None, max_length=1000)
    facts: FactOutcomes | None = None
    task_version: ShortText | None = None
    num_fewshot: Annotated[int, Field(ge=0, le=1000)] | None = None
    config: dict[Identifier, Scalar] | None = Field(default=None, max_length=100)
    nonfinite: Count | None = Field(
        default=None,
        description="Examples whose model scores were not finite (NaN or infinite); they count as wrong, never as "
        "right. Any value above 0 means the model's output is broken (schema 1.1).",
    )


# --- provenance and source -----------------------------------------------------------------


class Provenance(Strict):
    runner_version: Annotated[str, StringConstraints(pattern=r"^\d+\.\d+\.\d+([.+\-][A-Za-z0-9.+\-]*)?$")]
    git_sha: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{7,40}(-dirty)?$")] | None = None
    libraries: dict[Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.\-]{1,80}$")], ShortText] = Field(
        max_length=200
    )
    python: ShortText
    platform: ShortText
    device: ShortText = Field(description="e.g. 'cpu' or 'cuda: NVIDIA H100 80GB HBM3'.")
    dtype: Annotated[str, StringConstraints(pattern=r"^[a-z0-9]{2,20}$")]
    seed: Annotated[int, Field(ge=0, le=2**63 - 1)]
    batch_size: Annotated[int, Field(ge=1, le=10**6)]
    started_at: Annotated[datetime, Field(strict=False)]
    finished_at: Annotated[datetime, Field(strict=False)]
    command: Text


class Reproduced(Strict):
    kind: Literal["reproduced"]


class Reported(Strict):
    kind: Literal["reported"]
    citation: Annotated[str, StringConstraints(min_length=1, max_length=500)]
    table: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    url: Annotated[str, StringConstraints(pattern=r"""^https://[^\s<>"']{1,490}$""")]
    page: ShortText | None = None
    checked_via: Text | None = None


class Synthetic(Strict):
    """Made by ``leaderboard.synthetic`` for tests and benchmarks; never published."""

    kind: Literal["synthetic"]
    generator: ShortText


Source = Annotated[Union[Reproduced, Reported, Synthetic], Field(discriminator="kind")]


class Supersedes(Strict):
    """An erratum: this file corrects a published run file (which stays, append-only, and is shown as superseded)."""

    run_id: RunId = Field(description="The run_id of the published run this file corrects (same model).")
    reason: Annotated[str, StringConstraints(min_length=1, max_length=1000, pattern=r"^[^\x00-\x1f\x7f]*\S[^\x00-\x1f\x7f]*$")] = Field(
        description="What was wrong in the superseded file, for readers (shown beside the corrected row).")


# --- the run file --------------------------------------------------------------------------


class RunFile(Strict):
    schema_version: Literal["1.0", "1.1", "1.2", "1.3"]
    run_id: RunId
    model: ModelInfo
    compression: list[Step] = Field(default_factory=list, max_length=20, description="Empty = baseline.")
    evaluation: Evaluation
    measured: Measured | None = None
    results: Annotated[list[TaskResult], Field(min_length=1, max_length=200)]
    provenance: Provenance | None = None
    source: Source
    notes: Text | None = None
    supersedes: Supersedes | None = Field(
        default=None, description="Errata: the published run this file corrects, and why (schema 1.3). The superseded "
        "file stays as it was; leaderboards, charts and retention use this one instead.")

    @model_validator(mode="after")
    def _lineage_steps(self) -> RunFile:
        lin = self.model.lineage
        if lin is not None and lin.steps_in_checkpoint > len(self.compression):
            raise ValueError(f"model.lineage.steps_in_checkpoint is {lin.steps_in_checkpoint} but compression has "
                             f"{len(self.compression)} step(s)")
        return self

    @model_validator(mode="after")
    def _vocabulary_of_its_version(self) -> RunFile:
        for i, step in enumerate(self.compression):
            m = method_registry.method_of(step)
            if _version(m.since) > _version(self.schema_version):
                field = "criterion" if m.kind == "prune" else "scheme"
                raise ValueError(f"compression[{i}]: {field} {m.name!r} needs schema_version {m.since} or later")
        return self

    @property
    def checkpoint_steps(self) -> list:
        """The steps the checkpoint arrived with (a GGUF file's quantization, a GPTQ checkpoint's): not applied."""
        return self.compression[: self.model.lineage.steps_in_checkpoint if self.model.lineage else 0]

    @property
    def applied_steps(self) -> list:
        """The steps this run applied to the checkpoint: what its 'kept' is measured for."""
        return self.compression[len(self.checkpoint_steps):]

    @property
    def is_baseline(self) -> bool:
        """No step applied: the model as distributed (uncompressed, or a checkpoint that arrived compressed)."""
        return not self.applied_steps

    @model_validator(mode="after")
    def _fields_of_its_version(self) -> RunFile:
        """A file may not use what a later minor version added (a reader of its version would not see it)."""
        if self.schema_version == "1.0":
            if any(r.nonfinite is not None for r in self.results):
                raise ValueError("results[].nonfinite is new in schema 1.1; write schema_version '1.1'")
            if any(getattr(s, "backend", None) is not None for s in self.compression):
                raise ValueError("compression[].backend is new in schema 1.1; write schema_version '1.1'")
            if self.model.lineage is not None:
                raise ValueError("model.lineage is new in schema 1.1; write schema_version '1.1'")
            m = self.measured
            if m is not None and (m.stored_bytes, m.stored_bits_per_weight, m.kernels) != (None, None, None):
                raise ValueError("measured.stored_bytes, stored_bits_per_weight and kernels are new in schema 1.1; "
                                 "write schema_version '1.1'")
        lineage = self.model.lineage
        if _version(self.schema_version) < (1, 2) and lineage is not None and lineage.tensor_types is not None:
            raise ValueError("model.lineage.tensor_types is new in schema 1.2; write schema_version '1.2'")
        if _version(self.schema_version) < (1, 3) and self.supersedes is not None:
            raise ValueError("supersedes is new in schema 1.3; write schema_version '1.3'")
        return self


def earliest_version(run: RunFile, floor: str = "1.0") -> str:
    """The first schema version from ``floor`` on that can state ``run`` (every field it uses existed then): a writer
    that must give the same bytes for the same content across releases (import-reported) writes that one."""
    data = run.model_dump(mode="json", exclude_none=True)
    for v in (v for v in SCHEMA_VERSIONS if _version(v) >= _version(floor)):
        try:
            RunFile.model_validate_json(json.dumps({**data, "schema_version": v}))
        except ValueError:
            continue
        return v
    return run.schema_version


def _version(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in v.split("."))


# --- run_id and canonical path -------------------------------------------------------------


def canonical_json(obj: object) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def seed_matters(compression: list) -> bool:
    """Whether a step's outcome depends on the random seed (its method is declared ``seeded``): then a non-default
    seed is part of what is measured and enters the run_id (schema 1.1). Seed 0 (the default) leaves run_ids as in
    1.0. A method not declared seeded runs with seed 0 whatever the run's seed (compress.pipeline)."""
    return method_registry.seed_matters(compression)


def spec_dict(model_id: str, revision: str | None, compression: list, evaluation: Evaluation,
              source: Reproduced | Reported | Synthetic | None = None, seed: int | None = None,
              supersedes: str | None = None) -> dict:
    """What identifies a run: the thing measured and how, not the outcome. An erratum's spec also names the run it
    corrects (schema 1.3), so a correction of the outcome alone (a metric's name, a missing field) gets a run_id, and
    a file, of its own; files without ``supersedes`` hash as before."""
    spec: dict = {
        "model": {"id": model_id, "revision": revision},
        "compression": [s.model_dump(exclude_none=True) for s in compression],
        "evaluation": evaluation.model_dump(),
    }
    if seed and seed_matters(compression):
        spec["seed"] = seed
    if source is None or source.kind == "reproduced":
        spec["runner_major"] = RUNNER_MAJOR
    else:
        spec["source"] = source.model_dump(include={"kind", "citation", "table", "generator"})
    if supersedes is not None:
        spec["supersedes"] = supersedes
    return spec


def run_id_of(spec: dict) -> str:
    return hashlib.sha256(canonical_json(spec).encode()).hexdigest()[:RUN_ID_HEX]


def spec_of(run: RunFile) -> dict:
    seed = run.provenance.seed if run.provenance is not None else None
    return spec_dict(run.model.id, run.model.revision, run.compression, run.evaluation, run.source, seed,
                     run.supersedes.run_id if run.supersedes is not None else None)


def compute_run_id(run: RunFile) -> str:
    return run_id_of(spec_of(run))


def with_run_id(data: dict) -> dict:
    """A copy of a run dict with the run_id its content hashes to (what the runner writes); for tests, benchmarks and
    tools that build run dicts by hand."""
    import copy

    data = copy.deepcopy(data)
    data["run_id"] = "0" * 16
    data["run_id"] = compute_run_id(RunFile.model_validate(data))
    return data


_SLUG_BAD = re.compile(r"[^a-z0-9._\-]+")


def model_slug(model_id: str) -> str:
    """Folder name of a model: 'google/flan-t5-base' -> 'google--flan-t5-base'. Never '.', '..' or empty."""
    slug = _SLUG_BAD.sub("-", model_id.lower().replace("/", "--")).strip(".-")
    return slug[:120] or "model"


def canonical_path(run: RunFile) -> PurePosixPath:
    """Path of a run file relative to the runs/ root."""
    return path_for(run.model.family, run.model.id, run.run_id)


def path_for(family: str, model_id: str, run_id: str) -> PurePosixPath:
    return PurePosixPath(family, model_slug(model_id), f"{run_id}.json")


def dump_run(run: RunFile) -> str:
    """The on-disk text of a run file (stable key order, 2-space indent, trailing newline)."""
    return json.dumps(run.model_dump(mode="json", exclude_none=True), indent=2, ensure_ascii=False) + "\n"


def json_schema() -> dict:
    schema = RunFile.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://compression-leaderboard.github.io/schema/run-{SCHEMA_VERSION}.json"
    schema["title"] = f"compression-leaderboard run file, schema {SCHEMA_VERSION}"
    return schema


def json_schema_text() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"


# --- per-fact outcomes ---------------------------------------------------------------------

FACTS_MAX_DECODED_BYTES = 64 * 1024 * 1024  # one block
FACTS_MAX_FILE_BYTES = 64 * 1024 * 1024  # all blocks of one file together: what ingest holds at once
MAX_RANK = 10**12  # a rank is a position in a candidate list; fits the store's BIGINT with room to spare


def encode_facts(outcomes: list[tuple[str, int]]) -> FactOutcomes:
    """Pack (fact id, rank of the gold object) pairs; ids must not hold tabs or newlines."""
    import base64
    import gzip

    lines = []
    for fact_id, rank in outcomes:
        if not fact_id or any(c in fact_id for c in "\t\r\n"):
            raise ValueError(f"fact id {fact_id!r} is empty or holds a tab or newline")
        lines.append(f"{fact_id}\t{int(rank)}")
    raw = "\n".join(lines).encode()
    data = base64.b64encode(gzip.compress(raw, compresslevel=9, mtime=0)).decode("ascii")
    return FactOutcomes(count=len(outcomes), data=data)


class FactRanks(dict):
    """{fact id: rank}; ``nbytes`` is the size of the decompressed text it came from."""

    nbytes: int = 0


def facts_text(facts: FactOutcomes, max_bytes: int = FACTS_MAX_DECODED_BYTES) -> bytes:
    """The decompressed ``id\trank`` lines, refusing more than ``max_bytes`` (no gzip bombs)."""
    import base64
    import binascii
    import zlib

    try:
        blob = base64.b64decode(facts.data, validate=True)
    except binascii.Error as e:
        raise ValueError(f"not valid base64: {e}") from None
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        raw = inflater.decompress(blob, max_bytes + 1)
    except zlib.error as e:  # "Error -3 while decompressing data: incorrect header check"
        raise ValueError(f"not valid gzip: {str(e).rpartition(': ')[2]}") from None
    if len(raw) > max_bytes or inflater.unconsumed_tail:
        raise ValueError(f"decompresses to more than {max_bytes} bytes")
    if not inflater.eof:
        raise ValueError("gzip stream is truncated")
    return raw


def facts_frame(facts: FactOutcomes, max_bytes: int = FACTS_MAX_DECODED_BYTES):
    """Unpack and check per-fact ranks as two columns (fact_id, rank), never as millions of Python
    objects: ids non-empty and unique, ranks 1..MAX_RANK. Returns the frame and the unpacked size."""
    import polars as pl

    raw = facts_text(facts, max_bytes)
    if not raw:
        return pl.DataFrame(schema={"fact_id": pl.String, "rank": pl.Int64}), 0
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"not UTF-8 (byte {e.start})") from None
    lines = pl.Series("line", [raw.decode("utf-8")], dtype=pl.String).str.split("\n").explode()
    ok = lines.str.contains(r"^[^\t\n]+\t[1-9][0-9]{0,14}$")
    if not ok.all():
        bad = int(ok.arg_min()) + 1
        raise ValueError(f"line {bad} is not '<id>\\t<rank>' with a rank of 1 to {MAX_RANK}")
    parts = lines.str.split_exact("\t", 1).struct.rename_fields(["fact_id", "rank"]).struct.unnest()
    frame = parts.with_columns(pl.col("rank").cast(pl.Int64))
    too_big = frame["rank"] > MAX_RANK
    if too_big.any():
        bad = int(too_big.arg_max()) + 1
        raise ValueError(f"line {bad}: rank {frame['rank'][bad - 1]} is not between 1 and {MAX_RANK}")
    dup = frame["fact_id"].is_duplicated()
    if dup.any():
        first = frame["fact_id"][int(dup.arg_max())]
        later = int(frame.with_row_index().filter(pl.col("fact_id") == first)["index"][1]) + 1
        raise ValueError(f"line {later}: fact id {first!r} appears twice")
    return frame, len(raw)


def decode_facts(facts: FactOutcomes, max_bytes: int = FACTS_MAX_DECODED_BYTES) -> FactRanks:
    """Unpack per-fact ranks (1 ≤ rank ≤ MAX_RANK), refusing more than ``max_bytes`` of decompressed text."""
    frame, nbytes = facts_frame(facts, max_bytes)
    out = FactRanks(zip(frame["fact_id"].to_list(), frame["rank"].to_list(), strict=True))
    out.nbytes = nbytes
    return out
