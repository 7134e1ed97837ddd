"""EleutherAI's lm-evaluation-harness: any of its tasks (or a local folder of task YAMLs) on the in-memory model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, ClassVar

from pydantic import Field, Strict

from ...registry import TaskInfo
from ...spectypes import OsPath
from ..spec import Outcome, Prepared, Suite, SuiteError, SuiteSettings


class LmEvalSettings(SuiteSettings):
    num_fewshot: Annotated[int, Strict(), Field(ge=0, le=1000)] | None = Field(
        None, description="lm-eval n-shot (default: the task's)")
    lm_eval_include: OsPath | None = Field(None, description="a folder of local lm-eval task YAMLs (for "
                                           "lm-eval:<task>)")


class LmEval(Suite):
    name = "lm-eval"
    title = "EleutherAI lm-evaluation-harness task"
    Settings = LmEvalSettings
    # a multiple-choice task carries its number of options as its lm-eval definition gives them
    # (lm_eval/tasks/<task>/*.yaml, doc_to_choice; ARC and OpenBookQA: four options per question), so accuracy can be
    # read against chance. tests/test_site_reader.py checks these against lm-eval's YAML.
    tasks: ClassVar = (
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
    open_tasks = True
    headline = "acc"  # lm-eval's accuracy (its multiple-choice tasks' first metric)
    headline_short = "acc"
    families = frozenset({"decoder", "encoder-decoder"})
    unit = "examples/s"
    noun = "examples"
    order = 50
    example = "lm-eval:boolq"
    synthetic_tasks: ClassVar = {"decoder": ("lm-eval:boolq", "lm-eval:piqa", "lm-eval:winogrande")}

    def eval_help(self) -> str:
        return "lm-eval:<task> (e.g. lm-eval:boolq)"

    def synthetic_result(self, task, n, level, keep, rng, metric):
        from ...schema import TaskResult

        return TaskResult(task=task, n=n, metrics={self.headline: metric(0.5 + (level + 0.1) * keep * 0.6, n, rng)},
                          num_fewshot=0, task_version="1.0")

    def prepare(self, spec, tasks, memo):
        s = self.settings_of(spec)
        sha = None
        if s.lm_eval_include is not None:
            include = str(s.lm_eval_include)
            if not Path(include).is_dir():
                raise SuiteError(f"--lm-eval-include: {include} is not a folder")
            from lm_eval.tasks import TaskManager

            from ..harness import include_sha256

            known = memo(("lm-eval-tasks", include),
                         lambda: set(TaskManager(include_path=include, include_defaults=False).all_tasks))
            missing = [t for t in tasks if t.partition(":")[2] not in known]
            if missing:
                raise SuiteError(f"--eval {missing[0]}: no such task in {include}")
            sha = memo(("lm-eval-sha", include), lambda: include_sha256(Path(include)))
        return {task: Prepared(None, sha) for task in tasks}

    def check_model(self, spec, tasks, family):
        if family not in self.families:
            return f"--eval {tasks[0]}: lm-eval scores decoders and encoder-decoders; this model is an {family}"
        return None

    def record(self, spec, task, family):
        from ..harness import default_seeds

        return {"num_fewshot": self.settings_of(spec).num_fewshot, "limit": spec.limit,
                "tasks_from": "local" if self.settings_of(spec).lm_eval_include else "lm-eval",
                "seeds": ",".join(map(str, default_seeds()))}  # lm-eval's (random, numpy, torch, few-shot)

    def evaluate(self, spec, lm, task, prepared, progress):
        from ..harness import run_harness

        s = self.settings_of(spec)
        out = run_harness(lm.model, lm.tokenizer, lm.family, lm.device, [task], include_path=s.lm_eval_include,
                          include_defaults=s.lm_eval_include is None, num_fewshot=s.num_fewshot, limit=spec.limit,
                          batch_size=spec.batch_size)
        return Outcome(out.results, out.seconds, out.throughput)


SUITE = LmEval()
