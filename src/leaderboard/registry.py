"""The vocabularies of the run-file contract: families, methods, scopes, tasks, metrics.

Everything that lists these (the validator, the store, the site) reads them from here, so a new
method or metric is added in one place.
"""

from __future__ import annotations

from dataclasses import dataclass

FAMILIES: tuple[str, ...] = ("encoder", "encoder-decoder", "decoder")

# Compression methods (prune criteria, quantization schemes) are declared by their own modules under
# compress/methods/; PRUNE_CRITERIA and QUANT_SCHEMES below are read from that registry on first use.


# Named scopes resolve per architecture (see compress/scopes.py); anything else is a module-name glob.
NAMED_SCOPES: dict[str, str] = {
    "all": "every Linear layer of the transformer body (the paper's 'overall'; no embeddings, no LM head; "
           "in BERT-style masked LMs also the MLM head's transform dense, which is not the LM head)",
    "attention": "the query, key and value projections",
    "attention-output": "the attention output projection",
    "ffn": "the feed-forward (intermediate and output) layers",
    "output": "the paper's 'output' scope: feed-forward layers plus the attention output projection",
    "lm-head": "the language-model head (the MLM decoder or the output projection)",
    "embeddings": "the token embedding matrix",
    "last-layer": "every Linear layer of the final transformer block (of the decoder, for encoder-decoders): "
                  "the paper's local pruning of the final layer",
}
SCOPE_GLOB_PATTERN = r"^[A-Za-z0-9_.*?\[\]\-]{1,200}$"

SOURCE_KINDS: tuple[str, ...] = ("reproduced", "reported", "synthetic")

# Tasks are namespaced: "<suite>:<name>". The suites, their tasks, headline metrics and which of them probe stored facts
# are declared by their own modules under evaluate/suites/ (evaluate/registry.py); TASK_SUITES, SUITE_HEADLINES,
# KNOWLEDGE_PROBES and TASKS below are read from that registry on first use.
LAMA_CORPORA: tuple[str, ...] = ("trex", "google-re", "conceptnet", "squad")


@dataclass(frozen=True)
class TaskInfo:
    name: str  # "<suite>:<name>"
    label: str  # what readers see
    choices: int | None = None  # answer options per question in the task's definition (multiple choice): chance = 1/choices
    headline: str | None = None  # the metric leaderboards show and rank, where it is not the suite's (SUITE_HEADLINES)

    @property
    def chance(self) -> float | None:
        return None if self.choices is None else 1.0 / self.choices


# A baseline less than this far above chance (accuracy, fraction scale) knows nothing measurable: a compressed run's
# ratio to it is noise, so no "kept" is shown or ranked for it.
MIN_ABOVE_CHANCE = 0.02


def task_info(task: str) -> TaskInfo | None:
    return _tasks().get(task)


_TASKS: list = [None, {}]  # the suites last seen (all_suites() is cached per $LEADERBOARD_EVAL_SUITES) and their tasks


def _tasks() -> dict[str, TaskInfo]:
    """Every registered task by name (asked for ~800,000 times by a 100,000-run build: made once per set of suites)."""
    from .evaluate import registry as suites

    found = suites.all_suites()
    if _TASKS[0] is not found:
        _TASKS[:] = [found, {t.name: t for s in found for t in s.tasks}]
    return _TASKS[1]


class UnknownTask(ValueError):
    pass


def headline_metric(task: str) -> str:
    """The metric a run of ``task`` is shown and ranked by: the task's own, else its suite's. A task of no registered
    suite is an error (a run must never fall silently into another suite's metric)."""
    info = task_info(task)
    if info is not None and info.headline is not None:
        return info.headline
    from .evaluate import registry as suites

    suite = task.partition(":")[0]
    if suite not in suites.names():
        raise UnknownTask(f"task {task!r}: suite {suite!r} has no headline metric (known suites: "
                          f"{', '.join(suites.names())})")
    return suites.get(suite).headline


@dataclass(frozen=True)
class MetricInfo:
    name: str
    label: str
    lower: float | None  # bounds of a value on the "fraction" scale; None = unbounded
    upper: float | None
    higher_is_better: bool  # no default: a metric whose direction is not known is refused, never guessed
    description: str = ""


# lm-eval's metrics carry the direction lm-eval registers for them (lm_eval/api/metrics.py, higher_is_better);
# the runner checks each lm-eval result against it and refuses a metric missing here or a disagreement.
METRICS: dict[str, MetricInfo] = {
    m.name: m
    for m in (
        # LAMA convention: the headline number is the mean over relations (macro), as in Petroni et al.
        MetricInfo("precision@1", "P@1", 0.0, 1.0, True, "mean over relations of the share of facts whose object is ranked first"),
        MetricInfo("precision@10", "P@10", 0.0, 1.0, True, "mean over relations of the share of facts whose object is in the top 10"),
        MetricInfo("mrr", "MRR", 0.0, 1.0, True, "mean over relations of the mean reciprocal rank of the object"),
        MetricInfo("precision@1-micro", "P@1 (micro)", 0.0, 1.0, True, "share of all facts whose object is ranked first"),
        MetricInfo("precision@10-micro", "P@10 (micro)", 0.0, 1.0, True, "share of all facts whose object is in the top 10"),
        MetricInfo("mrr-micro", "MRR (micro)", 0.0, 1.0, True, "mean reciprocal rank over all facts"),
        MetricInfo("acc", "Accuracy", 0.0, 1.0, True, "lm-eval accuracy"),
        MetricInfo("accuracy", "BEAR accuracy", 0.0, 1.0, True,
                   "BEAR: share of instances whose true statement scores highest, mean over the three templates"),
        MetricInfo("acc_norm", "Accuracy (length-normalised)", 0.0, 1.0, True, "lm-eval acc_norm"),
        MetricInfo("acc_mutual_info", "Accuracy (mutual information)", 0.0, 1.0, True,
                   "lm-eval accuracy choosing by mutual information with the context"),
        MetricInfo("acc_bytes", "Accuracy (byte-normalised)", 0.0, 1.0, True, "lm-eval accuracy with byte-length-normalised scores"),
        MetricInfo("acc_all", "Accuracy (all answers)", 0.0, 1.0, True, "lm-eval: share of questions with every answer right"),
        MetricInfo("exact_match", "Exact match", 0.0, 1.0, True, "lm-eval exact match"),
        MetricInfo("f1", "F1", 0.0, 1.0, True, "lm-eval F1"),
        MetricInfo("mcc", "Matthews correlation", -1.0, 1.0, True, "lm-eval Matthews correlation coefficient"),
        MetricInfo("brier_score", "Brier score", 0.0, 2.0, False, "lm-eval multi-class Brier score"),
        MetricInfo("bleu", "BLEU", 0.0, 100.0, True, "lm-eval BLEU (sacrebleu, 0 to 100)"),
        MetricInfo("chrf", "chrF", 0.0, 100.0, True, "lm-eval chrF (sacrebleu, 0 to 100)"),
        MetricInfo("ter", "TER", 0.0, None, False, "lm-eval translation edit rate (sacrebleu)"),
        MetricInfo("perplexity", "Perplexity", 1.0, None, False,
                   "lm-eval perplexity of the target (LAMBADA: of the last word), exp of the mean negative log-likelihood"),
        MetricInfo("word_perplexity", "Word perplexity", 1.0, None, False, "lm-eval word perplexity"),
        MetricInfo("byte_perplexity", "Byte perplexity", 1.0, None, False, "lm-eval byte perplexity"),
        MetricInfo("bits_per_byte", "Bits per byte", 0.0, None, False, "lm-eval bits per byte"),
    )
}
METRIC_NAME_PATTERN = r"^[a-z0-9][a-z0-9_@.\-]{0,63}$"
# Metrics whose values may be written on the percent scale (bounded by 1 on the fraction scale).
PERCENTABLE = frozenset(n for n, m in METRICS.items() if m.lower == 0.0 and m.upper == 1.0)
# Breakdowns of a registered metric, with its range and direction: BEAR's per template and per domain.
BREAKDOWNS: dict[str, str] = {"accuracy-template-": "accuracy", "accuracy-domain-": "accuracy"}


class UnknownMetric(ValueError):
    """A metric name the registry does not know, so neither its range nor its direction (higher or lower is better)."""


def _derived(name: str) -> MetricInfo | None:
    """A breakdown (``accuracy-template-0``) or an lm-eval filtered value (``exact_match@strict-match``) of a
    registered metric: its range and direction."""
    for prefix, base in BREAKDOWNS.items():
        if name.startswith(prefix) and len(name) > len(prefix):
            return _qualified(name, base, name[len(base) + 1:])
    metric, at, qualifier = name.partition("@")
    return _qualified(name, metric, qualifier) if at and qualifier else None


def _suite_metrics() -> dict[str, MetricInfo]:
    """Metrics an evaluation suite introduces (evaluate/suites/*: Suite.metrics)."""
    from .evaluate import registry as suites

    return {m.name: m for s in suites.all_suites() for m in s.metrics}


def _qualified(name: str, base: str, qualifier: str) -> MetricInfo | None:
    info = METRICS.get(base) or _suite_metrics().get(base)
    if info is None:
        return None
    return MetricInfo(name, f"{info.label} ({qualifier})", info.lower, info.upper, info.higher_is_better, info.description)


def metric_info(name: str) -> MetricInfo:
    """Registry entry for a metric (or a breakdown or filtered value of one); UnknownMetric for any other
    name: a metric whose direction is unknown is refused, never guessed."""
    info = METRICS.get(name) or _suite_metrics().get(name) or _derived(name)
    if info is None:
        raise UnknownMetric(f"unknown metric {name!r}: the registry (src/leaderboard/registry.py, METRICS) does not say "
                            "whether higher or lower is better; add it there with its range and direction")
    return info


def __getattr__(name: str):
    if name in ("PRUNE_CRITERIA", "QUANT_SCHEMES"):
        from .compress import registry as methods

        return methods.names("prune" if name == "PRUNE_CRITERIA" else "quantize")
    if name in ("TASK_SUITES", "SUITE_HEADLINES", "KNOWLEDGE_PROBES", "TASKS"):
        from .evaluate import registry as suites

        found = suites.all_suites()
        return {"TASK_SUITES": lambda: {s.name: s.title for s in found},
                "SUITE_HEADLINES": lambda: {s.name: s.headline for s in found},
                "KNOWLEDGE_PROBES": lambda: tuple(s.name for s in found if s.knowledge_probe),
                "TASKS": _tasks}[name]()
    raise AttributeError(name)
