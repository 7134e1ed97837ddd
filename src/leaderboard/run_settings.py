"""The run settings every evaluation shares (suites declare their own in ``evaluate/suites/``): one model, the one
source of a setting's name, type, default and help. ``leaderboard run``'s flags are generated from it (as each suite's
flags from its settings model, by ``evaluate.spec.flags_of``), and so is the command a run file records
(``runner.reproduce_command``). :class:`~leaderboard.runner.RunSpec` is these settings plus the model, the steps
and the evaluations. Torch-free.

A field's ``json_schema_extra`` may say:

- ``record``: how a recorded command states it: ``"changed"`` (the default: ``--flag value`` when it is not the
  default), ``"calibrated"`` (always, when a step uses calibration data), ``"suite"`` (where the suite that reads it
  puts it: ``Suite.uses``), ``"identity"`` (the model's name and source, written first by ``reproduce_command``),
  ``"never"`` (it changes no number: where files go, the device);
- ``flag`` (another flag name), ``metavar``, ``choices``, ``path`` (recorded as an absolute path; a ``builtin:`` name
  as it is).

A new field here is a new ``leaderboard run`` flag, a new API keyword and (by its ``record``) a new part of the
recorded command, with no other edit (tests/test_run_settings.py shows it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, Strict, StringConstraints
from pydantic.dataclasses import dataclass as pydantic_dataclass

from .compress.calibration import DEFAULT as DEFAULT_CALIBRATION
from .compress.calibration import DEFAULT_SAMPLES, DEFAULT_SEQ_LEN, MAX_CALIBRATION
from .evaluate.spec import Flag, flags_of
from .schema import ModelId
from .spectypes import Bool, OsPath, PathText, Str

DEVICE_PATTERN = r"^(auto|cpu|mps|cuda(:[0-9]{1,3})?)$"
DTYPES = ("float32", "float16", "bfloat16")
Relation = Annotated[str, Strict(), StringConstraints(pattern=r"^[A-Za-z0-9_.\-]{1,100}$")]


@pydantic_dataclass(config=ConfigDict(extra="forbid"), frozen=True, kw_only=True)
class RunSettings:
    """The settings of a run that no single evaluation suite owns, in the order ``--help`` and a recorded command
    give them."""

    model_id: ModelId | None = Field(None, description="the model's name in run files (default: folder name, or the "
                                     "hub id)", json_schema_extra={"record": "identity"})
    allow_hub: Bool = Field(False, description="allow downloading from the Hugging Face hub",
                            json_schema_extra={"record": "identity"})
    revision: Str | None = Field(None, description="hub revision (branch, tag or commit)",
                                 json_schema_extra={"record": "identity"})
    cache_dir: OsPath | None = Field(None, description="hub cache folder (default: the Hugging Face default)",
                                     json_schema_extra={"record": "never"})
    base_model: ModelId | None = Field(
        None, description="the uncompressed model this checkpoint was derived from (quantized, pruned, distilled): "
        "retention is computed against its baseline. A checkpoint's own quantization_config is read and recorded as "
        "the steps it already has", json_schema_extra={"record": "identity", "metavar": "ID"})
    calibration: PathText = Field(
        DEFAULT_CALIBRATION, description="calibration text for data-driven methods (SparseGPT, Wanda, GPTQ, AWQ, "
        "SmoothQuant): builtin:austen (public-domain novels, probe facts removed), builtin:default (a short text, for "
        "smoke tests) or a UTF-8 text file", json_schema_extra={"record": "calibrated", "metavar": "SET", "path": True})
    calibration_samples: Annotated[int, Strict(), Field(ge=1, le=MAX_CALIBRATION)] = Field(
        DEFAULT_SAMPLES, description="calibration sequences", json_schema_extra={"record": "calibrated", "metavar": "N"})
    calibration_seq_len: Annotated[int, Strict(), Field(ge=1, le=MAX_CALIBRATION)] = Field(
        DEFAULT_SEQ_LEN, description="tokens per calibration sequence",
        json_schema_extra={"record": "calibrated", "metavar": "L"})
    dtype: Literal["float32", "float16", "bfloat16"] = Field("float32", description="the weights' dtype")
    seed: Annotated[int, Strict(), Field(ge=0, le=2**63 - 1)] = Field(
        0, description="random seed (random pruning, lm-eval's sampling)")
    limit: Annotated[int, Strict(), Field(ge=1, le=10**9)] | None = Field(
        None, description="at most this many facts (examples) per relation (task) (default: all)")
    batch_size: Annotated[int, Strict(), Field(ge=1, le=10**6)] = Field(64, description="evaluation batch size")
    relations: list[Relation] | None = Field(None, description="comma-separated relation ids (default: all)",
                                             json_schema_extra={"record": "suite"})
    device: Annotated[str, Strict(), StringConstraints(pattern=DEVICE_PATTERN)] = Field(
        "auto", description="auto (cuda if available), cpu, mps, cuda, cuda:1, ...", json_schema_extra={"record": "never"})
    keep_facts: Bool = Field(True, description="record per-fact outcomes in the run file (--no-facts: leave them out)",
                             json_schema_extra={"record": "never", "flag": "--no-facts"})
    out: OsPath = Field(Path("runs"), description="runs folder", json_schema_extra={"record": "never"})


def settings_fields() -> dict:
    return dict(RunSettings.__pydantic_fields__)


def run_flags() -> list[Flag]:
    """``leaderboard run``'s flags for the shared run settings, generated from :class:`RunSettings`."""
    return flags_of(settings_fields())
