"""BEAR (Wiland, Ploner, Akbik 2024) through the authors' library, lm-pub-quiz, on the in-memory model.

Every instance becomes one statement per answer option (the relation's whole answer space); lm-pub-quiz
scores each statement by its (pseudo-)log-likelihood (``Evaluator.from_model(model=..., tokenizer=...,
model_type="MLM"|"CLM")``, ``evaluate_dataset``), and the instance is known under a template when the true
statement scores highest. The headline is accuracy over instances averaged over the three templates,
as on the BEAR leaderboard.

The scores are lm-pub-quiz's; this module only decides, from them, where the true statement ranks, and
does so fail-safe: lm-pub-quiz takes ``scores.index(max(scores))``, so a tie (or a NaN in first place)
picks the first option, and a constant or NaN model "knows" every instance whose answer is option 0.
Here non-finite scores rank last and ties rank the true statement after every option that scores the
same, so a broken model never scores; instances with a non-finite score are counted in the result's
config. On a model without ties or non-finite scores the outcome is exactly lm-pub-quiz's accuracy.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import math
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
from torch import nn

from ..schema import ConfidenceInterval, MetricValue, RelationResult, TaskResult, encode_facts
from .metrics import BOOTSTRAP, enclosing

# task name in run files -> the dataset folder under the BEAR root
TASKS = {"bear:bear": "BEAR", "bear:big": "BEAR-big"}
ALIASES = {"bear": "bear:bear", "bear:lite": "bear:bear"}
MODEL_TYPES = {"encoder": "MLM", "decoder": "CLM"}
RELATION_INFO = "relation_info.json"
METADATA = "metadata_relations.json"
CITATION = ("Wiland, Ploner, Akbik (2024). BEAR: A Unified Framework for Evaluating Relational Knowledge in "
            "Causal and Masked Language Models. Findings of NAACL 2024")


class BearError(ValueError):
    pass


def canonical_task(task: str) -> str:
    """'bear' and 'bear:lite' (the 7,731 instances upstream selects from BEAR-big by bear_lite_indices.json,
    i.e. the BEAR folder) name 'bear:bear'."""
    return ALIASES.get(task, task)


def packaged_root() -> Path:
    """The small attributed BEAR sample that ships with the package (for the demo)."""
    return Path(str(resources.files("leaderboard") / "data" / "bear-sample"))


@dataclass
class BearData:
    task: str
    root: Path
    dataset: object  # lm_pub_quiz.Dataset (filtered)
    sha256: str
    relations: list[str]
    domains: dict[str, list[str]] = field(default_factory=dict)
    instances: int = 0


def data_sha256(folder: Path, relation_info: Path | None) -> str:
    """sha256 over the dataset folder's files (names and bytes, sorted) and relation_info.json."""
    h = hashlib.sha256()
    files = sorted(p for p in Path(folder).iterdir() if p.is_file() and p.suffix in (".jsonl", ".json"))
    if relation_info is not None and relation_info.is_file():
        files.append(relation_info)
    for p in files:
        h.update(p.name.encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def load_bear(root: Path, task: str = "bear:bear", relations: list[str] | None = None,
              limit: int | None = None) -> BearData:
    """Load BEAR (or BEAR-big) from ``root`` with lm-pub-quiz's ``Dataset.from_path``; keep the relations
    asked for and the first ``limit`` instances of each (answer spaces stay whole)."""
    task = canonical_task(task)
    if task not in TASKS:
        raise BearError(f"{task!r}: use bear (= bear:bear, as published; bear:lite is the same instances) or bear:big")
    try:
        from lm_pub_quiz import Dataset
    except ImportError:
        raise BearError("lm-pub-quiz is not installed: pip install lm-pub-quiz") from None
    root = Path(root)
    folder = root / TASKS[task]
    if not (folder / METADATA).is_file():
        raise BearError(f"{folder} has no {METADATA}: fetch BEAR with `leaderboard data fetch bear` or pass --bear-dir")
    info_path = root / RELATION_INFO
    try:
        ds = Dataset.from_path(str(folder), relation_info=str(info_path) if info_path.is_file() else None)
    except Exception as e:  # noqa: BLE001 - a broken data folder is the user's input, never a traceback
        raise BearError(f"{folder}: lm-pub-quiz cannot read it: {e}") from None
    codes = list(ds.relation_codes)
    if relations:
        unknown = [r for r in relations if r not in codes]
        if unknown:
            raise BearError(f"relation(s) {', '.join(unknown)} not in {folder} (it has {', '.join(codes[:8])}, ...)")
        codes = [c for c in codes if c in set(relations)]
    if relations or limit:
        ds = ds.filter_subset({c: list(range(min(limit or len(ds[c]), len(ds[c])))) for c in codes},
                              keep_answer_space=True, dataset_name=ds.name)
    domains = {rel.relation_code: list(rel.relation_info().get("domains") or []) for rel in ds}
    n = sum(len(rel.instance_table) for rel in ds)
    if n == 0:
        raise BearError(f"{folder}: no instance to score")
    return BearData(task, root, ds, data_sha256(folder, info_path), list(ds.relation_codes), domains, n)


@dataclass
class BearSettings:
    relations: list[str] | None = None
    limit: int | None = None
    batch_size: int = 32
    bootstrap: int = BOOTSTRAP
    seed: int = 0
    keep_facts: bool = True
    bos: str | None = None  # decoders: the token each statement is scored after (default: the tokenizer's BOS)
    resume: bool = True  # keep each relation's scores as it ends; a stopped run resumes (evaluate/partial.py)

    def as_settings(self, family: str) -> dict:
        """What changes what is measured (it enters the run_id). Batch size does not. ``bos`` only when
        set, so runs made before it existed keep their run_id."""
        settings = {"model_type": MODEL_TYPES.get(family), "templates": "all", "reduction": "sum",
                    "relations": ",".join(self.relations) if self.relations else None, "limit": self.limit}
        if self.bos is not None:
            settings["bos"] = self.bos
        return settings


@dataclass
class BearOutput:
    result: TaskResult
    outcomes: dict[str, int]  # '<relation>:<subject id>:t<template>' -> rank of the true statement
    seconds: float
    statements: int

    @property
    def throughput(self) -> float:
        return self.statements / self.seconds if self.seconds else 0.0


def gold_rank(scores: list[float], gold: int) -> tuple[int, bool]:
    """Rank (1 = predicted) of option ``gold``: non-finite scores rank last, ties rank the gold last.
    Returns (rank, whether any score was non-finite)."""
    arr = np.asarray(scores, dtype=np.float64)
    finite = np.isfinite(arr)
    key = np.where(finite, arr, -np.inf)
    g = key[gold]
    others = np.delete(key, gold)
    ahead = int(np.sum(others >= g)) if math.isfinite(g) else len(others)
    return 1 + ahead, not bool(finite.all())


@contextlib.contextmanager
def _quiet_progress(enabled: bool) -> Iterator[None]:
    """lm-pub-quiz draws a bar per relation and per instance; keep them only when progress is wanted."""
    import lm_pub_quiz.evaluators.base as lpq_base

    original = lpq_base.tqdm
    if not enabled:
        lpq_base.tqdm = functools.partial(original, disable=True)
    try:
        yield
    finally:
        lpq_base.tqdm = original


def evaluator_for(model: nn.Module, tokenizer, family: str, device):
    """lm-pub-quiz's evaluator for the in-memory model (MLM for encoders, CLM for decoders)."""
    if family not in MODEL_TYPES:
        raise BearError(f"lm-pub-quiz scores masked LMs (MLM) and causal LMs (CLM); this model is an {family}: "
                        "probe it with lama:* instead, or BEAR with an encoder or a decoder")
    from lm_pub_quiz import Evaluator

    return Evaluator.from_model(model=model, tokenizer=tokenizer, model_type=MODEL_TYPES[family], device=device)


def chat_bos_notice(tokenizer, family: str) -> str | None:
    """A one-line notice when a decoder's BOS is the token its chat template opens every turn with
    (SmolLM2-Instruct's ``<|im_start|>``): lm-pub-quiz scores each statement after the BOS, so such a model
    reads every statement as the start of a chat turn's role name."""
    bos = getattr(tokenizer, "bos_token", None)
    template = getattr(tokenizer, "chat_template", None)
    if family != "decoder" or not bos or not isinstance(template, str) or template.count(bos) < 1:
        return None
    return (f"note: this tokenizer's BOS {bos!r} opens chat turns in its chat template; lm-pub-quiz scores every "
            f"BEAR statement after it. To score after the pretraining document separator instead, pass "
            f"--bear-bos TOKEN (e.g. '<|endoftext|>' for SmolLM2); see the methodology page.")


def resolve_bos(tokenizer, bos: str) -> int:
    """The id of ``bos`` as one token of the tokenizer's vocabulary, else a BearError naming it."""
    vocab = tokenizer.get_vocab()
    if bos not in vocab:
        raise BearError(f"--bear-bos {bos!r} is not a token of this tokenizer's vocabulary (its BOS is "
                        f"{getattr(tokenizer, 'bos_token', None)!r})")
    return int(vocab[bos])


@contextlib.contextmanager
def _bos_token(tokenizer, bos: str | None) -> Iterator[None]:
    """lm-pub-quiz puts ``tokenizer.bos_token`` before each statement of a decoder; score after ``bos``
    instead for the duration (the tokenizer is left as it was)."""
    if bos is None:
        yield
        return
    resolve_bos(tokenizer, bos)
    original = tokenizer.bos_token
    tokenizer.bos_token = bos
    try:
        yield
    finally:
        tokenizer.bos_token = original


def run_lm_pub_quiz(model: nn.Module, tokenizer, family: str, device, data: BearData, batch_size: int = 32,
                    progress: bool = False, bos: str | None = None):
    """lm-pub-quiz's own evaluation (all templates, sum of token log-likelihoods): its DatasetResults.
    ``bos`` (decoders): score each statement after this token instead of the tokenizer's BOS."""
    if bos is not None and family != "decoder":
        raise BearError("--bear-bos applies to decoders (lm-pub-quiz scores masked LMs without a BOS)")
    evaluator = evaluator_for(model, tokenizer, family, device)
    was_training = model.training
    model.eval()
    try:
        with _quiet_progress(progress), _bos_token(tokenizer, bos):
            results = evaluator.evaluate_dataset(data.dataset, template_index=None, batch_size=batch_size,
                                                 reduction="sum", create_instance_table=True)
    finally:
        model.train(was_training)
    got = [r.relation_code for r in results]
    missing = [c for c in data.relations if c not in got]
    if missing:  # evaluate_dataset logs a RuntimeError in a relation and goes on; a run never hides that
        raise BearError(f"lm-pub-quiz failed on relation(s) {', '.join(missing)} (see the log above)")
    return results


def _ci(samples: np.ndarray, value: float) -> ConfidenceInterval:
    lo, hi = np.percentile(samples, [2.5, 97.5])
    low, high = enclosing(lo, hi, value)
    return ConfidenceInterval(low=low, high=high, level=0.95, method="bootstrap")


def _accuracy(per_instance: np.ndarray, rng: np.random.Generator, bootstrap: int, correct: int,
              total: int) -> MetricValue:
    """correct / total (instance-templates known), with a bootstrap CI that resamples instances (each with
    its share of templates known)."""
    n = len(per_instance)
    value = correct / total
    ci = None
    if n and bootstrap:
        idx = rng.integers(0, n, size=(bootstrap, n))
        ci = _ci(per_instance[idx].mean(axis=1), value)
    return MetricValue(value=value, n=total, ci=ci)


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-") or "other"


@dataclass
class ScoredRelation:
    """One relation's statement scores: rows of (subject id, template index, answer index, scores of every option),
    from lm-pub-quiz's instance table or read back from a partial evaluation (evaluate/partial.py)."""

    relation_code: str
    rows: list[tuple[str, int, int, list[float]]]

    @classmethod
    def of(cls, relation_result) -> ScoredRelation:
        table = relation_result.instance_table
        rows = [(str(r.sub_id), int(r.template_index), int(r.answer_idx), [float(x) for x in r.pll_scores])
                for r in table[["sub_id", "template_index", "answer_idx", "pll_scores"]].itertuples(index=False)]
        return cls(relation_result.relation_code, rows)


def partial_key(model: nn.Module, tokenizer, family: str, device, data: BearData, batch_size: int,
                bos: str | None) -> dict:
    """What a relation's scores depend on (evaluate/partial.py names the kept scores by it): the weights, tokenizer,
    data, settings and lm-pub-quiz's version. Not the numerics of what runs the model (torch, transformers, the CPU's
    kernels): a kept relation is read back only after one of its statement sets, scored again here, matches
    (score_relations), so a study can resume on another machine or after a library update."""
    from importlib.metadata import version

    import torch

    from .partial import model_fingerprint, tokenizer_fingerprint

    return {"evaluation": "bear", "task": data.task, "data_sha256": data.sha256, "limit_per_relation": _limit_of(data),
            "model_fingerprint": model_fingerprint(model), "tokenizer_fingerprint": tokenizer_fingerprint(tokenizer),
            "family": family, "device": torch.device(device).type, "dtype": str(next(model.parameters()).dtype),
            "batch_size": batch_size, "bos": bos, "reduction": "sum", "lm_pub_quiz": version("lm-pub-quiz")}


def _limit_of(data: BearData) -> list[tuple[str, int]]:
    """The instances kept of each relation (their count): the data's sha256 is of the whole folder."""
    return [(rel.relation_code, len(rel.instance_table)) for rel in data.dataset]


def _matches(rows: list[tuple], relation) -> bool:
    """Kept rows are this relation's instances as lm-pub-quiz scores them: every (subject, template, answer) in its
    order (instances, then templates; the bootstrap resamples instances in that order), every option scored."""
    table = relation.instance_table
    want = [(str(s), t, int(a)) for s, a in zip(table.sub_id, table.answer_idx, strict=True)
            for t in range(len(relation.templates))]
    n_options = len(relation.answer_space)
    return [(n, t, a) for n, t, a, _s in rows] == want and all(len(s) == n_options for *_x, s in rows)


SPOT_RTOL = 1e-4  # a kept relation's re-scored statement set matches when every score is this close (float32 noise
SPOT_ATOL = 1e-3  # of another CPU or library build is ~1e-6 of a score of ~-100; a different model is far off)


def _spot_check(evaluator, relation, rows: list[tuple], batch_size: int, pick: int | None = None) -> str | None:
    """Score one of the relation's statement sets (an instance under a template, drawn at random: an edit anywhere
    in the kept scores may be the one checked) again and compare with the kept scores; None when they match, else
    why not. ``pick``: the row to check (tests)."""
    import secrets

    if not rows:
        return None
    i = secrets.randbelow(len(rows)) if pick is None else pick
    name, t, _answer, kept = rows[i]
    table = relation.instance_table
    subject = table.sub_label[table.sub_id.astype(str) == name]
    if len(subject) != 1:
        return f"its statement set {name} is not one instance of the relation"
    try:
        fresh = evaluator.evaluate_instance(template=relation.templates[t], answers=relation.answer_space.tolist(),
                                            subject=str(subject.iloc[0]), reduction="sum", batch_size=batch_size)
    except RuntimeError as e:
        raise BearError(f"lm-pub-quiz failed on relation {relation.relation_code}: {e}") from None
    a = np.asarray([float(x) for x in fresh], dtype=np.float64)
    b = np.asarray(kept, dtype=np.float64)
    a[~np.isfinite(a)] = np.nan  # every non-finite score ranks last: kept as null, read back as NaN
    b[~np.isfinite(b)] = np.nan
    if a.shape != b.shape or not np.allclose(a, b, rtol=SPOT_RTOL, atol=SPOT_ATOL, equal_nan=True):
        worst = float(np.nanmax(np.abs(a - b))) if a.shape == b.shape and np.isfinite(a - b).any() else float("nan")
        return (f"its statement set {name} under template {t} scores differently now (largest difference "
                f"{worst:.3g})")
    return None


def score_relations(model: nn.Module, tokenizer, family: str, device, data: BearData, batch_size: int = 32,
                    progress: bool = False, bos: str | None = None, resume: bool = True,
                    log=None, spot_pick: int | None = None) -> tuple[list[ScoredRelation], float]:
    """lm-pub-quiz's evaluation of every relation (``Evaluator.evaluate_relation``, what its ``evaluate_dataset``
    runs for each), one relation at a time: each relation's scores are kept as soon as it is scored and read back
    instead of scored again when the same evaluation (same weights, tokenizer, data, settings) runs again after
    stopping (``resume``; evaluate/partial.py), once one of its statement sets scored again matches them
    (_spot_check). Processes running the same evaluation at once (two shards of one sweep, or a second process
    started to finish a long run sooner) share its relations: each claims the relation it scores, leaves the others'
    to them and reads their scores when kept. The outcome equals an uninterrupted run's. Returns the relations'
    scores and the seconds scoring them took, kept relations' included (a resumed run measures its whole
    evaluation, not its last part)."""
    from .partial import open_partial

    if bos is not None and family != "decoder":
        raise BearError("--bear-bos applies to decoders (lm-pub-quiz scores masked LMs without a BOS)")
    evaluator = evaluator_for(model, tokenizer, family, device)
    partial = open_partial(partial_key(model, tokenizer, family, device, data, batch_size, bos)) if resume else None
    say = log or (lambda line: print(line, file=sys.stderr))
    relations = list(data.dataset)
    scored: dict[str, ScoredRelation] = {}
    kept = 0
    seconds = 0.0

    def from_kept(relation) -> bool:
        nonlocal kept, seconds
        code = relation.relation_code
        t0 = time.perf_counter()
        loaded = partial.load(code) if partial is not None else None
        if loaded is None:
            return False
        rows, kept_seconds = loaded
        if not _matches(rows, relation):
            partial.reject(code, f"relation {code}: the kept scores do not fit its instances, scored again")
            return False
        if (why := _spot_check(evaluator, relation, rows, batch_size, spot_pick)) is not None:
            partial.reject(code, f"relation {code}: kept scores not used, {why}; scored again")
            return False
        kept += 1
        seconds += kept_seconds + (time.perf_counter() - t0)
        scored[code] = ScoredRelation(code, rows)
        return True

    def score(relation) -> None:
        nonlocal seconds
        code = relation.relation_code
        t0 = time.perf_counter()
        try:
            result = evaluator.evaluate_relation(relation, template_index=None, batch_size=batch_size,
                                                 reduction="sum", create_instance_table=True)
        except RuntimeError as e:  # what evaluate_dataset logs and skips; a run never hides it
            raise BearError(f"lm-pub-quiz failed on relation {code}: {e}") from None
        rows = ScoredRelation.of(result).rows
        took = time.perf_counter() - t0
        seconds += took
        if partial is not None:
            partial.save(code, rows, took)
            partial.release(code)
            partial.touch()
        scored[code] = ScoredRelation(code, rows)

    def take(relation):
        """Read the relation's kept scores, or claim and score it; None when done, else the claim of the live process
        that is scoring it (read its scores later)."""
        if from_kept(relation):
            return None
        other = partial.claim(relation.relation_code) if partial is not None else None
        if other is not None:
            return other
        # claimed: another process may have kept it in the meantime (then released its claim)
        if partial is None or not from_kept(relation):
            score(relation)
        return None

    was_training = model.training
    model.eval()
    if partial is not None:
        partial.attach()
    try:
        with _quiet_progress(progress), _bos_token(tokenizer, bos):
            from tqdm.auto import tqdm

            bar = tqdm(total=len(relations), unit="relation", desc=f"BEAR {data.task}", disable=not progress)
            later = []  # relations another live process of the same evaluation is scoring: read its scores after
            for relation in relations:
                if take(relation) is not None:
                    later.append(relation)
                    continue
                bar.update(1)
            waited = False
            while later:
                for relation in list(later):
                    other = take(relation)
                    if other is not None:
                        if not waited:
                            say(f"BEAR: waiting for {len(later)} relation(s) that another process of this "
                                f"evaluation is scoring ({other}; {partial.folder})")
                            waited = True
                        continue
                    later.remove(relation)
                    bar.update(1)
                if later:
                    time.sleep(partial.poll_seconds)
            bar.close()
    finally:
        model.train(was_training)
        if partial is not None:
            partial.release_all()  # claims and the reader mark: another process may score what this one left
    if partial is not None:
        for note in partial.notes:
            say(f"note: {note}")
        if kept:
            say(f"BEAR: resumed {kept} of {len(relations)} relations scored before ({partial.folder})")
        partial.done()
    return [scored[r.relation_code] for r in relations], seconds


def evaluate(model: nn.Module, tokenizer, family: str, device, data: BearData, settings: BearSettings,
             progress: bool = False) -> BearOutput:
    """Score ``data`` through lm-pub-quiz (resuming a stopped evaluation of the same model) and build the run file's
    TaskResult: accuracy (mean over templates) with a bootstrap CI, per template, per domain, per relation, and
    per-instance outcomes."""
    scored, seconds = score_relations(model, tokenizer, family, device, data, settings.batch_size, progress,
                                      settings.bos, resume=settings.resume)
    # decoders: the token every statement was scored after, whether set or the tokenizer's own
    bos = (settings.bos if settings.bos is not None else tokenizer.bos_token) if family == "decoder" else None
    return summarise(scored, data, family, settings, seconds, bos_token=bos)


def summarise(results, data: BearData, family: str, settings: BearSettings, seconds: float = 0.0,
              bos_token: str | None = None) -> BearOutput:
    """Per-statement scores (lm-pub-quiz's DatasetResults, or ScoredRelations) -> the run file's TaskResult."""
    outcomes: dict[str, int] = {}
    rows: list[tuple[str, str, int, bool]] = []  # relation, instance key, template, correct
    nonfinite = 0
    statements = 0
    templates: set[int] = set()
    for rel in results:
        scored = rel if isinstance(rel, ScoredRelation) else ScoredRelation.of(rel)
        for sub_id, t, answer, scores in scored.rows:
            rank, bad = gold_rank(scores, answer)
            nonfinite += bad
            statements += len(scores)
            templates.add(t)
            key = f"{scored.relation_code}:{sub_id}"
            outcomes[f"{key}:t{t}"] = rank
            rows.append((scored.relation_code, key, t, rank == 1))
    if not rows:
        raise BearError("lm-pub-quiz returned no instance")
    rng = np.random.default_rng(settings.seed)
    n_templates = len(templates)

    def accuracy(selected: list[tuple[str, str, int, bool]]) -> MetricValue:
        acc: dict[str, list[bool]] = {}
        for _r, key, _t, ok in selected:
            acc.setdefault(key, []).append(ok)
        per_instance = np.array([np.mean(v) for v in acc.values()], dtype=np.float64)
        return _accuracy(per_instance, rng, settings.bootstrap, sum(ok for *_x, ok in selected), len(selected))

    metrics = {"accuracy": accuracy(rows)}
    for t in sorted(templates):
        metrics[f"accuracy-template-{t}"] = accuracy([row for row in rows if row[2] == t])
    all_domains = sorted({d for ds in data.domains.values() for d in ds})
    for d in all_domains:
        rels = {r for r, ds in data.domains.items() if d in ds}
        metrics[f"accuracy-domain-{_slug(d)}"] = accuracy([row for row in rows if row[0] in rels])
    relations = []
    for code in data.relations:
        sel = [row for row in rows if row[0] == code]
        if sel:
            relations.append(RelationResult(relation=code, n=len(sel), metrics={"accuracy": accuracy(sel)}))
    n_instances = len({key for _r, key, _t, _o in rows})
    from importlib.metadata import version

    lpq_version = version("lm-pub-quiz")

    config = {"library": "lm-pub-quiz", "library_version": lpq_version, "model_type": MODEL_TYPES[family],
              "templates": n_templates, "statements": statements, "nonfinite_instances": nonfinite,
              "instances": n_instances, "domains": ",".join(all_domains)[:500] or None,
              "outcome_ids": "<relation>:<subject id>:t<template>"}
    if bos_token is not None:
        config["bos_token"] = bos_token
    # n counts scored examples: one per instance and template (what the per-instance outcomes hold)
    extra = {"nonfinite": nonfinite} if "nonfinite" in TaskResult.model_fields else {}  # schema 1.1 (issue 11)
    result = TaskResult(task=data.task, n=len(rows), excluded=0, metrics=metrics, relations=relations,
                        facts=encode_facts(sorted(outcomes.items())) if settings.keep_facts else None,
                        config=config, **extra)
    return BearOutput(result, outcomes, seconds, statements)

