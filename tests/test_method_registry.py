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
