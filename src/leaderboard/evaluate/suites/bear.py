"""BEAR knowledge probe (Wiland et al. 2024) through lm-pub-quiz: each instance's true statement against its
alternatives."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, ClassVar

from pydantic import Field, Strict, StringConstraints

from ...registry import TaskInfo
from ...spectypes import OsPath
from ..spec import Outcome, Prepared, Suite, SuiteError, SuiteSettings

BUILTIN_BEAR = "builtin:bear-sample"


class BearOptions(SuiteSettings):
    bear_dir: OsPath | None = Field(None, description="BEAR root holding BEAR/ and relation_info.json, or "
                                    f"{BUILTIN_BEAR} (default: $LEADERBOARD_BEAR_DIR, the fetched copy, or the "
                                    "packaged sample)")
    bear_bos: Annotated[str, Strict(), StringConstraints(min_length=1, max_length=100)] | None = Field(
        None, json_schema_extra={"metavar": "TOKEN"},
        description="BEAR on a decoder: score each statement after this token instead of the tokenizer's BOS "
                    "(lm-pub-quiz's default); e.g. '<|endoftext|>', the document separator SmolLM2 was pretrained "
                    "with, for SmolLM2-Instruct, whose BOS is the chat token <|im_start|>")


def _sample() -> Path:
    from ..bear import packaged_root

    return packaged_root()


def bear_root(spec) -> Path:
    given = spec.options.get("bear_dir")
    if given is not None:
        return _sample() if str(given) == BUILTIN_BEAR else Path(given)
    env = os.environ.get("LEADERBOARD_BEAR_DIR")
    if env:
        return Path(env)
    fetched = Path.home() / ".cache" / "compression-leaderboard" / "bear"
    return fetched if fetched.is_dir() else _sample()


def bear_name(root: Path) -> str:
    """A BEAR root as a command writes it: ``builtin:bear-sample`` for the packaged sample."""
    return BUILTIN_BEAR if Path(root).resolve() == _sample().resolve() else str(Path(root).resolve())


class Bear(Suite):
    name = "bear"
    title = "BEAR knowledge probe (Wiland et al. 2024) through lm-pub-quiz"
    Settings = BearOptions
    # 'bear' and 'bear:lite' (the 7,731 instances upstream selects from BEAR-big by bear_lite_indices.json, i.e. the
    # BEAR folder) name 'bear:bear'
    aliases: ClassVar = {"bear": "bear:bear", "bear:lite": "bear:bear"}
    tasks: ClassVar = (TaskInfo("bear:bear", "BEAR"), TaskInfo("bear:big", "BEAR-big"))
    headline = "accuracy"  # mean over templates, as the BEAR leaderboard reports it
    headline_short = "acc"
    knowledge_probe = True
    families = frozenset({"encoder", "decoder"})
    label_prefix = "BEAR "
    unit = "statements/s"
    noun = "instance-templates"
    order = 10
    uses = ("limit", "relations")
    example = "bear"
    fetch_help = "BEAR at its pinned commit, every file checked by sha256"
    label = "BEAR"

    def eval_help(self) -> str:
        return "bear (= bear:bear, as published; alias bear:lite), bear:big"

    def command_fields(self) -> tuple[str, ...]:
        return ("bear_dir", "relations", "bear_bos")

    def command_value(self, spec, field: str):
        if field == "bear_dir":
            return bear_name(bear_root(spec))
        return super().command_value(spec, field)

    def prepare(self, spec, tasks, memo):
        from ..bear import BearError, load_bear

        broot = bear_root(spec)
        rel = tuple(spec.relations) if spec.relations else None
        out = {}
        for task in tasks:
            try:
                data = memo(("bear", str(broot), task, rel, spec.limit), lambda task=task:
                            load_bear(broot, task, relations=spec.relations, limit=spec.limit))
            except BearError as e:
                raise SuiteError(f"--eval {task}: {e}") from None
            out[task] = Prepared(data, data.sha256)
        return out

    def check_model(self, spec, tasks, family):
        if family == "encoder-decoder":
            return (f"--eval {tasks[0]}: lm-pub-quiz scores masked LMs (encoders) and causal LMs (decoders), not "
                    "encoder-decoders; probe this model with lama:* instead")
        if self.settings_of(spec).bear_bos is not None and family != "decoder":
            return (f"--bear-bos applies to decoders; this model is an {family} (lm-pub-quiz scores masked LMs "
                    "without a BOS)")
        return super().check_model(spec, tasks, family)

    def before_compression(self, spec, lm, tasks):
        bos = self.settings_of(spec).bear_bos
        if bos is not None:  # a token the tokenizer lacks, found before compressing
            from ..bear import BearError, resolve_bos

            try:
                resolve_bos(lm.tokenizer, bos)
            except BearError as e:
                raise SuiteError(str(e)) from None

    def _settings(self, spec, **kw):
        from ..bear import BearSettings

        return BearSettings(relations=spec.relations, limit=spec.limit, bos=self.settings_of(spec).bear_bos, **kw)

    def record(self, spec, task, family):
        return self._settings(spec).as_settings(family)  # 'bos' only when set: older runs keep their run_id

    def evaluate(self, spec, lm, task, prepared, progress):
        from ..bear import chat_bos_notice, evaluate

        bs = self._settings(spec, batch_size=spec.batch_size, seed=spec.seed, keep_facts=spec.keep_facts)
        if bs.bos is None and (notice := chat_bos_notice(lm.tokenizer, lm.family)):
            print(notice, file=sys.stderr)
        out = evaluate(lm.model, lm.tokenizer, lm.family, lm.device, prepared.data, bs, progress=progress)
        return Outcome([out.result], out.seconds, out.throughput)

    def fetch(self, url, dest, sha256, progress, max_bytes):
        from ..bear_fetch import DEFAULT_DEST, fetch_bear

        fetch_bear(url, dest or DEFAULT_DEST, sha256, progress=progress)


SUITE = Bear()
