"""Issue 21, item 1: evaluations are one module each. A toy suite (a JSONL capital-city fact probe, scored by the
model) is declared in a temporary package outside ``leaderboard`` and registered through $LEADERBOARD_EVAL_SUITES;
with no other edit it reaches ``leaderboard run --eval`` and its generated flags, a run file that validates and whose
recorded command parses back to the same spec, a sweep, the store (headline metric from the suite) and the
leaderboard page. The registry's own suites keep the run_ids and commands of the committed runs."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import textwrap
from pathlib import Path

import duckdb
import pytest

from conftest import ROOT, run_cli
from leaderboard.evaluate import registry as suites
from leaderboard.render.pages import published  # imported before any toy suite is registered, as a site build would

DECODER = ROOT / "src" / "leaderboard" / "data" / "demo-decoder"

TOY_SUITE = '''
"""Toy suite: which capital does the model rank first after 'The capital of X is'?"""
import hashlib
import json
import time
from pathlib import Path
from typing import ClassVar

from pydantic import Field

from leaderboard.evaluate.spec import Outcome, Prepared, Suite, SuiteError, SuiteSettings
from leaderboard.registry import MetricInfo, TaskInfo
from leaderboard.spectypes import OsPath

PROMPT = "The capital of {subject} is"


class CapitalSettings(SuiteSettings):
    capitals_file: OsPath | None = Field(None, json_schema_extra={"metavar": "JSONL"},
                                         description="facts, one JSON object a line: subject, object")


class Capitals(Suite):
    name = "capitals"
    title = "World capitals (a toy fact probe)"
    Settings = CapitalSettings
    aliases: ClassVar = {"capitals": "capitals:world"}
    tasks: ClassVar = (TaskInfo("capitals:world", "World capitals"),)
    metrics: ClassVar = (MetricInfo("capital-hit", "Capital hit rate", 0.0, 1.0, True,
                                    "share of countries whose capital the model ranks first"),)
    headline = "capital-hit"
    knowledge_probe = True
    families = frozenset({"decoder"})
    unit = "facts/s"
    noun = "countries"
    order = 5

    def prepare(self, spec, tasks, memo):
        path = self.settings_of(spec).capitals_file
        if path is None or not Path(path).is_file():
            raise SuiteError(f"--capitals-file: {path} is not a file")
        raw = Path(path).read_bytes()[:100_000]
        rows = [json.loads(line) for line in raw.decode().splitlines() if line.strip()][:spec.limit]
        return {t: Prepared(rows, hashlib.sha256(raw).hexdigest()) for t in tasks}

    def record(self, spec, task, family):
        return {"prompt": PROMPT, "limit": spec.limit}

    def evaluate(self, spec, lm, task, prepared, progress):
        import torch

        from leaderboard.schema import MetricValue, TaskResult

        rows, t0 = prepared.data, time.perf_counter()
        cities = sorted({r["object"] for r in rows})
        hits = 0
        for r in rows:
            scores = []
            for city in cities:
                prompt = lm.tokenizer(PROMPT.format(subject=r["subject"]))["input_ids"]
                whole = lm.tokenizer(PROMPT.format(subject=r["subject"]) + " " + city)["input_ids"]
                ids = torch.tensor([whole], device=lm.device)
                with torch.no_grad():
                    logp = torch.log_softmax(lm.model(ids).logits[0, :-1].float(), -1)
                scores.append(sum(logp[i - 1, whole[i]].item() for i in range(len(prompt), len(whole))))
            hits += cities[max(range(len(cities)), key=scores.__getitem__)] == r["object"]
        seconds = time.perf_counter() - t0
        result = TaskResult(task=task, n=len(rows), metrics={"capital-hit": MetricValue(value=hits / len(rows))})
        return Outcome([result], seconds, len(rows) / seconds)


SUITE = Capitals()
'''

FACTS = [("France", "Paris"), ("Germany", "Berlin"), ("Italy", "Rome"), ("Spain", "Madrid"), ("Japan", "Tokyo")]


@pytest.fixture
def toy_suite(tmp_path, monkeypatch) -> Path:
    """The toy suite as a package of its own, registered at test time; a folder with its data and a checkpoint (a copy
    of the bundled tiny decoder, not marked as a toy, so its runs go on the leaderboard)."""
    pkg = tmp_path / "plugins" / "toyeval"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "capitals.py").write_text(textwrap.dedent(TOY_SUITE))
    monkeypatch.syspath_prepend(str(tmp_path / "plugins"))
    monkeypatch.setenv(suites.ENV, "toyeval.capitals")
    work = tmp_path / "work"
    work.mkdir()
    (work / "capitals.jsonl").write_text("".join(json.dumps({"subject": s, "object": o}) + "\n" for s, o in FACTS))
    shutil.copytree(DECODER, work / "ckpt")
    (work / "ckpt" / "demo_model.json").unlink()
    monkeypatch.chdir(work)
    return work


def test_an_unknown_evaluation_is_one_clear_line(capsys) -> None:
    rc, out = run_cli(["run", "--model", str(DECODER), "--eval", "capitals:world", "--device", "cpu"], capsys)
    assert rc == 2
    assert out.strip() == ("error: --eval 'capitals:world': no evaluation suite runs it; use " + suites.eval_help())


def test_a_new_suite_is_one_module(toy_suite, capsys) -> None:
    from leaderboard.cli import build_parser, run_spec_from_args
    from leaderboard.reproduce import compare_trees
    from leaderboard.runner import check, planned_paths
    from leaderboard.store import ingest
    from leaderboard.sweep import parse
    from leaderboard.sweep_run import run_units
    from leaderboard.validate import validate_paths

    # the CLI: listed, its flag generated from the settings model, --eval by alias
    rc, out = run_cli(["evals"], capsys)
    assert rc == 0 and "capitals  (World capitals (a toy fact probe): knowledge probe; decoder; headline Capital hit " \
        "rate (capital-hit))" in out and "--capitals-file JSONL: facts, one JSON object a line" in out
    assert "--capitals-file JSONL" in build_parser()._subparsers._group_actions[0].choices["run"].format_help()
    rc, out = run_cli(["run", "--model", "ckpt", "--model-id", "org/capital-decoder", "--eval", "capitals",
                       "--capitals-file", "capitals.jsonl", "--device", "cpu", "--out", "runs", "--no-progress"], capsys)
    assert rc == 0, out
    assert "capitals:world: Capital hit rate" in out and "on 5 countries" in out
    (path,) = (toy_suite / "runs").rglob("*.json")
    run = json.loads(path.read_text())
    assert run["evaluation"]["task"] == "capitals:world"
    assert run["evaluation"]["settings"] == {"prompt": "The capital of {subject} is", "limit": None}
    assert run["measured"]["throughput_unit"] == "facts/s"
    assert 0.0 <= run["results"][0]["metrics"]["capital-hit"]["value"] <= 1.0
    # a run file the validator accepts; its recorded command parses back to the spec that made it (same path)
    report = validate_paths([toy_suite / "runs"])
    assert not report.errors, [p.line() for p in report.errors]
    command = run["provenance"]["command"]
    assert "--capitals-file " + str((toy_suite / "capitals.jsonl").resolve()) in command
    spec = run_spec_from_args(build_parser().parse_args(shlex.split(command)[1:] + ["--device", "cpu",
                                                                                   "--out", "runs"]))
    assert toy_suite / planned_paths(check(spec))["capitals:world"] == path
    # a sweep: the suite's path setting resolves against the sweep's folder, its alias canonicalises
    (toy_suite / "sweep.yaml").write_text(textwrap.dedent("""\
        name: capitals
        defaults: {device: cpu, capitals_file: capitals.jsonl, out: sweep-runs}
        groups:
          - models: [{model: ckpt, model_id: org/capital-decoder}]
            evals: [capitals]
            pipelines: [baseline, "prune:criterion=l1,sparsity=0.3"]
        """))
    sweep = parse(toy_suite / "sweep.yaml")
    assert [u.spec.evals for u in sweep.units] == [["capitals:world"]] * 2
    summary = run_units(sweep.units, toy_suite / "state", log=lambda line: None)
    assert not summary.failed and not summary.invalid, summary.lines()
    made = sorted((toy_suite / "sweep-runs").rglob("*.json"))
    assert len(made) == 2
    comparisons, new = compare_trees(toy_suite / "runs", toy_suite / "sweep-runs")  # the baseline: the CLI's run again
    assert [c.ok for c in comparisons] == [True] and len(new) == 1
    # the store: the headline metric is the suite's
    db = toy_suite / "lb.duckdb"
    ingest(toy_suite / "sweep-runs", db)
    con = duckdb.connect(str(db), read_only=True)
    rows = con.sql("SELECT eval_task, headline_metric, n_steps FROM runs ORDER BY n_steps").fetchall()
    ret = con.sql("SELECT round(retention, 6) FROM retention JOIN runs r USING (run_id) "
                  "WHERE metric = r.headline_metric AND r.n_steps = 1").fetchall()
    con.close()
    assert rows == [("capitals:world", "capital-hit", 0), ("capitals:world", "capital-hit", 1)]
    assert len(ret) == 1
    # the leaderboard page shows the task by its label, among the knowledge probes the table leads with
    from leaderboard.render.build import render

    render(db, toy_suite / "generated", toy_suite / "cache")
    board = (toy_suite / "generated" / "leaderboard.md").read_text()
    # the board's table reaches the page after MkDocs (site.after): read it where the build keeps it
    board = re.sub(r"<!-- leaderboard-after:([0-9a-f]+) -->",
                   lambda m: (toy_suite / "generated" / "_snippets" / f"after-{m.group(1)}.html").read_text(), board)
    assert "World capitals" in board and "org/capital-decoder" in board
    assert "Real models first" in board  # a knowledge probe: the table leads with it
    from leaderboard.render.metrics import metric_short

    assert metric_short("capitals:world") == "Capital hit rate"  # the suite's headline, by its label
    # the Published pages' headline metrics are read when a page is built (they were fixed when the module was imported)
    assert "capital-hit" in published.headline_metrics()


def test_the_registry_states_the_three_suites() -> None:
    assert suites.names() == ("lama", "bear", "lm-eval")
    assert {s.name: s.headline for s in suites.all_suites()} == {"lama": "precision@1", "bear": "accuracy",
                                                                 "lm-eval": "acc"}
    assert suites.knowledge_probes() == ("lama", "bear")
    assert suites.canonical("bear") == suites.canonical("bear:lite") == "bear:bear"
    assert suites.canonical("lm-eval:anything_local") == "lm-eval:anything_local"
    with pytest.raises(suites.UnknownSuite, match="lama has no task 'wiki'"):
        suites.canonical("lama:wiki")
    flags = {f.flag: f for s in suites.all_suites() for f in s.flags()}
    assert set(flags) == {"--lama-dir", "--candidates", "--subset", "--lama-pairs", "--bear-dir", "--bear-bos",
                          "--num-fewshot", "--lm-eval-include"}
    assert flags["--lama-pairs"].choices == ("all", "unique") and flags["--num-fewshot"].type is int
    assert flags["--bear-dir"].type is Path and flags["--bear-bos"].metavar == "TOKEN"


def test_chart_titles_and_synthetic_tasks_come_from_the_registry(toy_suite) -> None:
    """Before: the pareto chart's y title was 'P@1 (LAMA) / accuracy (lm-eval)' for any mix, BEAR's panels included,
    and a new suite's panels were called 'accuracy'; synthetic.py listed LAMA's and lm-eval's tasks itself."""
    from leaderboard import synthetic
    from leaderboard.render.charts import _metric_title

    assert _metric_title(["lama:trex", "lama:google-re"]) == "P@1"
    assert _metric_title(["bear:bear"]) == "BEAR accuracy"
    assert _metric_title(["lama:trex", "bear:bear"]) == "P@1 (LAMA) / BEAR accuracy, per panel"
    assert _metric_title(["capitals:world"]) == "Capital hit rate"  # the toy suite's own headline label
    assert _metric_title(["lama:trex", "capitals:world", "lm-eval:boolq"]) == \
        "P@1 (LAMA) / Capital hit rate (capitals) / Accuracy (lm-eval), per panel"
    assert synthetic.synthetic_tasks("encoder") == ["lama:trex", "lama:google-re", "lama:squad", "lama:conceptnet"]
    assert synthetic.synthetic_tasks("decoder") == ["lama:trex", "lm-eval:boolq", "lm-eval:piqa", "lm-eval:winogrande"]
    runs = synthetic.generate(450)
    assert {r.evaluation.task for r in runs} == {"lama:trex", "lama:google-re", "lama:squad", "lama:conceptnet"}
    assert all(r.results[0].relations for r in runs)  # LAMA's made-up results are per relation, as its real ones
