"""LAMA fact probing (Petroni et al. 2019): the object of each fact is ranked among candidate words."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import ClassVar

from pydantic import Field, field_validator

from ... import bundled
from ...registry import LAMA_CORPORA, TaskInfo
from ...spectypes import OsPath, Str
from ..spec import Outcome, Prepared, Suite, SuiteError, SuiteSettings

CANDIDATE_SETS = ("lama-common-vocab", "model-vocab")
SUBSETS = ("all", "object-final")
PAIRS = ("all", "unique")


def _one_of(options: tuple[str, ...]):
    def check(value: str) -> str:
        if value not in options:
            raise ValueError(f"{value!r} is not one of {', '.join(options)}")
        return value
    return check


class LamaSettings(SuiteSettings):
    lama_dir: OsPath | None = Field(None, description="LAMA data folder, or builtin:lama-sample (default: "
                                    "$LEADERBOARD_LAMA_DIR, the fetched set, or the packaged sample)")
    candidates: Str = Field("lama-common-vocab", description="lama-common-vocab (as in the paper) or model-vocab")
    subset: Str = Field("all", description="all, or object-final (the facts decoders can be scored on)")
    lama_pairs: Str = Field("all", description="all rows, or unique: LAMA's own protocol, each subject-object pair "
                            "of T-REx/Google-RE once", json_schema_extra={"choices": list(PAIRS)})

    _candidates = field_validator("candidates")(classmethod(lambda cls, v: _one_of(CANDIDATE_SETS)(v)))
    _subset = field_validator("subset")(classmethod(lambda cls, v: _one_of(SUBSETS)(v)))
    _pairs = field_validator("lama_pairs")(classmethod(lambda cls, v: _one_of(PAIRS)(v)))


def lama_root(spec) -> Path:
    """Where a spec's LAMA data is: --lama-dir, else $LEADERBOARD_LAMA_DIR, the fetched copy, the packaged sample."""
    from ..lama_data import packaged_root

    given = spec.options.get("lama_dir")
    if given is not None:
        return bundled.resolve_lama(given)
    env = os.environ.get("LEADERBOARD_LAMA_DIR")
    if env:
        return Path(env)
    fetched = Path.home() / ".cache" / "compression-leaderboard" / "lama"
    return fetched if fetched.is_dir() else packaged_root()


def data_sha(corpus_sha: str, vocab_sha: str | None) -> str:
    return hashlib.sha256(f"{corpus_sha}:{vocab_sha or 'model-vocab'}".encode()).hexdigest()


class Lama(Suite):
    name = "lama"
    title = "LAMA fact probing (Petroni et al. 2019)"
    Settings = LamaSettings
    tasks: ClassVar = (TaskInfo("lama:trex", "LAMA T-REx"), TaskInfo("lama:google-re", "LAMA Google-RE"),
                       TaskInfo("lama:squad", "LAMA SQuAD"), TaskInfo("lama:conceptnet", "LAMA ConceptNet"))
    headline = "precision@1"  # mean over relations, as LAMA reports it
    headline_short = "P@1"
    knowledge_probe = True
    label_prefix = "LAMA "
    unit = "facts/s"
    noun = "facts"
    order = 0
    lead_task = "lama:trex"
    uses = ("limit", "relations")
    example = "lama:trex"
    fetch_help = "LAMA data.zip"
    label = "LAMA"
    synthetic_tasks: ClassVar = {"encoder": ("lama:trex", "lama:google-re", "lama:squad", "lama:conceptnet"),
                                 "encoder-decoder": ("lama:trex", "lama:google-re", "lama:squad", "lama:conceptnet"),
                                 "decoder": ("lama:trex",)}
    synthetic_relations = ("P17", "P19", "P20", "P27", "P30", "P36", "P101", "P103", "P106", "P108", "P127", "P131")

    def check_task(self, task: str) -> str | None:
        if task.partition(":")[2] in LAMA_CORPORA:
            return None
        return super().check_task(task)

    def command_fields(self) -> tuple[str, ...]:
        return ("lama_dir", "candidates", "subset", "lama_pairs", "relations")

    def command_value(self, spec, field: str):
        if field == "lama_dir":  # where the data came from, never left to the environment
            return bundled.lama_name(lama_root(spec))
        return super().command_value(spec, field)

    def prepare(self, spec, tasks, memo):
        from ..lama_data import LamaDataError, load_corpus, load_vocab

        s, root = self.settings_of(spec), lama_root(spec)
        rel = tuple(spec.relations) if spec.relations else None
        corpora = {}
        for task in tasks:
            name = task.partition(":")[2]
            try:
                corpora[task] = memo(("corpus", str(root), name, rel, spec.limit, s.lama_pairs),
                                     lambda name=name: load_corpus(root, name, relations=spec.relations,
                                                                   limit_per_relation=spec.limit, pairs=s.lama_pairs))
            except LamaDataError as e:
                raise SuiteError(f"--eval {task}: {e}") from None
        vocab, vocab_sha = None, None
        if corpora and s.candidates == "lama-common-vocab":
            try:
                vocab, vocab_sha = memo(("vocab", str(root)), lambda: load_vocab(root))
            except LamaDataError as e:
                raise SuiteError(f"--candidates: {e}") from None
        return {task: Prepared((c, vocab), data_sha(c.sha256, vocab_sha)) for task, c in corpora.items()}

    def _probe_settings(self, spec, task: str):
        from ..lama import ProbeSettings

        s = self.settings_of(spec)
        return ProbeSettings(corpus=task.partition(":")[2], candidates=s.candidates, subset=s.subset,
                             relations=spec.relations, limit=spec.limit, batch_size=spec.batch_size, seed=spec.seed,
                             keep_facts=spec.keep_facts, pairs=s.lama_pairs)

    def record(self, spec, task, family):
        return self._probe_settings(spec, task).as_settings(family)

    def evaluate(self, spec, lm, task, prepared, progress):
        from ..lama import probe

        corpus, vocab = prepared.data
        out = probe(lm.model, lm.tokenizer, lm.family, lm.device, corpus, vocab, self._probe_settings(spec, task),
                    progress=progress)
        return Outcome([out.result], out.seconds, out.throughput)

    def synthetic_result(self, task, n, level, keep, rng, metric):
        from ...schema import RelationResult, TaskResult

        rels = rng.sample(self.synthetic_relations, 6)
        counts = [n // 6 + (1 if i < n % 6 else 0) for i in range(6)]
        relations = [RelationResult(relation=r, n=c, metrics={"precision@1": metric(level * keep * rng.uniform(0.5, 1.5),
                                                                                    c, rng)})
                     for r, c in zip(rels, counts, strict=False)]
        p1 = sum(rr.metrics["precision@1"].value * rr.n for rr in relations) / n
        metrics = {"precision@1": metric(p1, n, rng), "precision@10": metric(min(1.0, p1 * 1.8), n, rng),
                   "mrr": metric(p1 * 1.2, n, rng)}
        return TaskResult(task=task, n=n, excluded=rng.randint(0, 50), metrics=metrics, relations=relations)

    def fetch(self, url, dest, sha256, progress, max_bytes):
        from ..lama_fetch import LAMA_URL, fetch_lama

        fetch_lama(url or LAMA_URL, dest or Path.home() / ".cache" / "compression-leaderboard" / "lama", sha256,
                   progress=progress, max_bytes=max_bytes)


SUITE = Lama()
