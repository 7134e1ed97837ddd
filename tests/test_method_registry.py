"""The method registry: a new module under compress/methods/ reaches the CLI, the run-file schema,
the validator and the site with no other edit; method modules stay light (no torch at import)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

NEW_METHOD = textwrap.dedent('''
    """A made-up method for the registry test."""
    from typing import Literal

    from leaderboard.compress.spec import Method, PruneParams


    class HalfStep(PruneParams):
        criterion: Literal["zz-half"]
        local_only = False


    def run(ctx, modules, step):
        for m in modules.values():
            m.weight.data[: m.weight.shape[0] // 2] = 0


    METHODS = (Method(kind="prune", name="zz-half", params=HalfStep, run=run, title="Half",
                      summary="Zeroes the first half of the rows.", example="prune:criterion=zz-half,sparsity=0.5"),)
''')

PROBE = textwrap.dedent('''
    import contextlib, io, json, sys
    import leaderboard.compress.methods as pkg
    pkg.__path__.append(sys.argv[1])          # the new module, found like any other
    from leaderboard import schema
    from leaderboard.cli import build_parser, main
    from leaderboard.render.pages.methods import methods_table
    from leaderboard.runner import parse_step
    from leaderboard.validate import check_bytes

    out = {}
    step = parse_step("prune:criterion=zz-half,sparsity=0.5")
    out["parsed"] = step.model_dump(exclude_none=True)
    out["in_schema"] = "zz-half" in json.dumps(schema.json_schema())
    out["in_help"] = "zz-half" in build_parser()._subparsers._group_actions[0].choices["run"].format_help()
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        main(["methods"])
    out["in_methods"] = "prune:zz-half" in buf.getvalue()
    out["in_site"] = "prune:zz-half" in str(methods_table())
    data = json.load(open(sys.argv[2]))
    data["schema_version"] = "1.1"
    data["compression"] = [out["parsed"], *data["compression"][1:]]
    run = schema.RunFile.model_validate(data)
    run = run.model_copy(update={"run_id": schema.compute_run_id(run)})
    out["validates"] = [p.line() for p in check_bytes(schema.dump_run(run).encode(), "x.json", None).problems]
    print(json.dumps(out))
''')


def test_a_new_method_module_reaches_cli_schema_validator_and_site(tmp_path) -> None:
    from conftest import EXAMPLES

    (tmp_path / "zz_half.py").write_text(NEW_METHOD)
    proc = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path), str(EXAMPLES / "reproduced-prune-then-quantize.json")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["parsed"] == {"method": "prune", "criterion": "zz-half", "scope": "all", "granularity": "local",
                             "sparsity": 0.5}
    assert out["in_schema"] and out["in_help"] and out["in_methods"] and out["in_site"]
    assert out["validates"] == []


def test_the_schema_and_the_registry_load_without_torch() -> None:
    code = ("import sys, leaderboard.schema, leaderboard.validate; "
            "from leaderboard.compress import registry; registry.all_methods(); "
            "print('torch' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "False"


def test_methods_lists_each_field_with_its_bounds(capsys) -> None:
    from leaderboard.cli import main

    assert main(["methods"]) == 0
    out = capsys.readouterr().out
    assert "smoothing_strength: number (> 0.0, ≤ 1.0) (default 0.8)" in out  # exclusive bound (was "inimum 0.0")
    assert "sparsity: number (≥ 0.0, ≤ 1.0) (required)" in out
    assert "n: integer (≥ 1, ≤ 64)" in out


SEED_METHOD = textwrap.dedent('''
    """Two made-up methods that zero one row chosen by the step context's seed."""
    from typing import Literal

    from leaderboard.compress.spec import Method, PruneParams


    class SeedyStep(PruneParams):
        criterion: Literal["zz-seedy"]
        local_only = False


    class SeededStep(PruneParams):
        criterion: Literal["zz-seeded"]
        local_only = False


    def run(ctx, modules, step):
        for m in modules.values():
            m.weight.data[ctx.seed % m.weight.shape[0]] = 0


    METHODS = (Method(kind="prune", name="zz-seedy", params=SeedyStep, run=run, title="Seedy", summary="x"),
               Method(kind="prune", name="zz-seeded", params=SeededStep, run=run, title="Seeded", summary="x",
                      seeded=True))
''')

SEED_PROBE = textwrap.dedent('''
    import json, sys
    import leaderboard.compress.methods as pkg
    pkg.__path__.append(sys.argv[1])
    import torch
    from leaderboard import schema, tiny
    from leaderboard.compress.pipeline import compress
    from leaderboard.notation import parse_step

    out = {}
    for name in ("zz-seedy", "zz-seeded"):
        step = parse_step(f"prune:criterion={name},sparsity=0.01")
        weights = []
        for seed in (1, 2):
            m = tiny.tiny_model("bert")
            compress(m, [step], device=torch.device("cpu"), seed=seed)
            weights.append(torch.cat([p.detach().flatten() for p in m.parameters()]))
        out[name] = {"seed_matters": schema.seed_matters([step]),
                     "same_weights": bool(torch.equal(weights[0], weights[1]))}
    print(json.dumps(out))
''')


def test_only_a_method_declared_seeded_sees_the_seed_and_it_alone_puts_the_seed_in_the_run_id(tmp_path) -> None:
    """Seeded-ness is the method's own fact (issue 21): there is no list of seeded criteria elsewhere that a new
    method could be missing from. A method that reads the seed without declaring it is given seed 0, so its outcome
    cannot depend on a seed its run_id leaves out."""
    (tmp_path / "zz_seedy.py").write_text(SEED_METHOD)
    proc = subprocess.run([sys.executable, "-c", SEED_PROBE, str(tmp_path)], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out == {"zz-seedy": {"seed_matters": False, "same_weights": True},
                   "zz-seeded": {"seed_matters": True, "same_weights": False}}


def test_method_facts_come_from_the_methods() -> None:
    """Labels, seeded-ness, device notes, the heatmap's methods and synthetic schemes are declared by each method
    (the values the site and run_ids had when they were lists outside the registry)."""
    from leaderboard.compress import registry
    from leaderboard.render.metrics import method_name

    assert [m.name for m in registry.all_methods() if m.seeded] == ["random", "random-structured"]
    assert registry.heatmap_keys()[0] == "prune:l1:global"
    assert all(k.startswith("quantize:") for k in registry.heatmap_keys()[1:])
    assert method_name("prune:n:m:local+quantize:bnb-nf4") == "Local N:M pruning → bitsandbytes NF4 quantization"
    assert registry.parse_key("prune:n:m:local")[0].name == "n:m"  # read through the registry, not split at ':'
    assert method_name("prune:wanda-oneshot:local") == "Local Wanda pruning"


def test_every_method_is_labelled_by_its_name_not_its_registry_code() -> None:
    """A run's label (tables, charts, run pages) names the method as its readers know it: 'bitsandbytes NF4', not the
    scheme code 'bnb-nf4' (which the site then capitalised to 'Bnb-nf4'); 'random' is a word, not a code."""
    from leaderboard import naming, notation
    from leaderboard.compress import registry

    for m in registry.all_methods():
        label = naming.step_label(notation.parse_step(m.example))
        if m.name != "random":
            assert m.name not in label, (m.key, label)
