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

# Tasks are namespaced: "<suite>:<name>".
TASK_SUITES: dict[str, str] = {
    "lama": "LAMA fact probing (Petroni et al. 2019)",
    "lm-eval": "EleutherAI lm-evaluation-harness task",
    "bear": "BEAR knowledge probe (Wiland et al. 2024) through lm-pub-quiz",
}
# Each suite's headline metric: the number its leaderboard rows show and rank (mteb's main_score). A task may name
# its own (TaskInfo.headline); a task of a suite not listed here has none, and the store says so (never a default).
SUITE_HEADLINES: dict[str, str] = {
    "lama": "precision@1",  # mean over relations, as LAMA reports it
    "bear": "accuracy",  # mean over templates, as the BEAR leaderboard reports it
    "lm-eval": "acc",  # lm-eval's accuracy (its multiple-choice tasks' first metric)
}
KNOWLEDGE_PROBES: tuple[str, ...] = ("lama", "bear")  # the suites that probe stored facts (lm-eval tasks measure other things)
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


# Tasks the site names; a multiple-choice task carries its number of options as its lm-eval definition gives them
# (lm_eval/tasks/<task>/*.yaml, doc_to_choice; ARC and OpenBookQA: four options per question), so accuracy can be
# read against chance (a model guessing keeps nothing). tests/test_site_reader.py checks these against lm-eval's YAML.
TASKS: dict[str, TaskInfo] = {
    t.name: t
    for t in (
        TaskInfo("lama:trex", "LAMA T-REx"), TaskInfo("lama:google-re", "LAMA Google-RE"),
        TaskInfo("lama:squad", "LAMA SQuAD"), TaskInfo("lama:conceptnet", "LAMA ConceptNet"),
        TaskInfo("bear:bear", "BEAR"), TaskInfo("bear:big", "BEAR-big"),
        TaskInfo("lm-eval:boolq", "BoolQ", 2), TaskInfo("lm-eval:piqa", "PIQA", 2),
        TaskInfo("lm-eval:winogrande", "Winogrande", 2), TaskInfo("lm-eval:copa", "COPA", 2),
        TaskInfo("lm-eval:rte", "RTE", 2), TaskInfo("lm-eval:wic", "WiC", 2), TaskInfo("lm-eval:cb", "CB", 3),
        TaskInfo("lm-eval:anli_r1", "ANLI R1", 3), TaskInfo("lm-eval:arc_easy", "ARC-Easy", 4),
        TaskInfo("lm-eval:arc_challenge", "ARC-Challenge", 4), TaskInfo("lm-eval:hellaswag", "HellaSwag", 4),
        TaskInfo("lm-eval:openbookqa", "OpenBookQA", 4), TaskInfo("lm-eval:mmlu", "MMLU", 4),
        TaskInfo("lm-eval:sciq", "SciQ", 4), TaskInfo("lm-eval:storycloze_2018", "StoryCloze 2018", 2),
        TaskInfo("lm-eval:storycloze_2016", "StoryCloze 2016", 2),
        TaskInfo("lm-eval:lambada_openai", "LAMBADA (OpenAI)"), TaskInfo("lm-eval:lambada_standard", "LAMBADA"),
    )
}
# A baseline less than this far above chance (accuracy, fraction scale) knows nothing measurable: a compressed run's
# ratio to it is noise, so no "kept" is shown or ranked for it.
MIN_ABOVE_CHANCE = 0.02


def task_info(task: str) -> TaskInfo | None:
    return TASKS.get(task)


class UnknownTask(ValueError):
    pass


def headline_metric(task: str) -> str:
    """The metric a run of ``task`` is shown and ranked by: the task's own, else its suite's. A task of a suite
    with no headline is an error (a run must never fall silently into another suite's metric)."""
    info = TASKS.get(task)
    if info is not None and info.headline is not None:
        return info.headline
    suite = task.partition(":")[0]
    if suite not in SUITE_HEADLINES:
        raise UnknownTask(f"task {task!r}: suite {suite!r} has no headline metric (known suites: "
                          f"{', '.join(SUITE_HEADLINES)})")
    return SUITE_HEADLINES[suite]


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


def _qualified(name: str, base: str, qualifier: str) -> MetricInfo | None:
    info = METRICS.get(base)
    if info is None:
        return None
    return MetricInfo(name, f"{info.label} ({qualifier})", info.lower, info.upper, info.higher_is_better, info.description)


def metric_info(name: str) -> MetricInfo:
    """Registry entry for a metric (or a breakdown or filtered value of one); UnknownMetric for any other
    name: a metric whose direction is unknown is refused, never guessed."""
    info = METRICS.get(name) or _derived(name)
    if info is None:
        raise UnknownMetric(f"unknown metric {name!r}: the registry (src/leaderboard/registry.py, METRICS) does not say "
                            "whether higher or lower is better; add it there with its range and direction")
    return info


def __getattr__(name: str):
    if name in ("PRUNE_CRITERIA", "QUANT_SCHEMES"):
        from .compress import registry as methods

        return methods.names("prune" if name == "PRUNE_CRITERIA" else "quantize")
    raise AttributeError(name)
