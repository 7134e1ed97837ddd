"""The Python API: what ``leaderboard run`` does, from a notebook or a script.

    import leaderboard as lb

    runs = lb.run("builtin:demo-decoder", evals=["lama:trex"], compress=["prune:criterion=l1,sparsity=0.3"],
                  lama_dir="builtin:lama-sample", limit=20, device="cpu")
    runs[0].results[0].metrics["precision@1"].value

It is the CLI's own code path (a :class:`~leaderboard.runner.RunSpec` made and checked as the flags make it,
then load, compress, evaluate, validate), so a run made here has the run_id ``leaderboard run`` gives it with
the same settings, and a written file is the file the CLI writes. Results are typed run files
(:class:`~leaderboard.schema.RunFile`), valid by construction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from .runner import RunSpec, SpecError, check, iter_runs, load_model, make_spec, parse_step, valid_text
from .schema import RunFile, Step, canonical_path

__all__ = ["RunSpec", "SpecError", "make_spec", "parse_step", "run", "run_spec", "load_run", "write_run"]


def run_spec(model: str, evals: str | Sequence[str], compress: Iterable[str | Step | dict] = (),
             **settings) -> RunSpec:
    """A checked-on-creation run spec, as ``leaderboard run`` makes it from its flags.

    ``model``: any source the CLI takes (a local folder, a ``.gguf`` file, ``fetched:NAME``, ``builtin:NAME``,
    a hub id with ``allow_hub=True``); ``evals``: one task or several (``lama:trex``, ``bear``,
    ``lm-eval:boolq``); ``compress``: steps as notation text, mappings or step objects, applied in order;
    ``settings``: any other run setting by its field name (``limit``, ``relations``, ``lama_dir``, ``device``,
    ``calibration_samples``, ...: see ``RunSpec``). A wrong one raises :class:`SpecError` naming it."""
    evals = [evals] if isinstance(evals, str) else list(evals)
    return make_spec("leaderboard.run", model=model, evals=evals, compression=list(compress), **settings)


def run(model: str, evals: str | Sequence[str], compress: Iterable[str | Step | dict] = (), *,
        write: bool = False, force: bool = False, progress: bool = False, **settings) -> list[RunFile]:
    """Load ``model``, compress it by ``compress``, evaluate each of ``evals``: one run file per evaluation.

    With ``write=True`` each file is also written under ``settings['out']`` (default ``runs/``) where the CLI
    would write it; an existing file is left as it is unless ``force``. Nothing is written otherwise."""
    spec = run_spec(model, evals, compress, **settings)
    checked = check(spec)
    tasks = checked.tasks
    lm = load_model(checked.spec)
    runs = []
    for _task, run_file, _comp in iter_runs(checked, lm, tasks, progress=progress):
        if write:
            write_run(run_file, spec.out, force=force)
        runs.append(run_file)
    return runs


def write_run(run_file: RunFile, out: str | Path = "runs", *, force: bool = False) -> Path:
    """Write a run file under ``out`` at its canonical path (``<family>/<model>/<run_id>.json``), atomically;
    an existing file stays unless ``force``. Returns the path."""
    from .fsutil import check_target, ensure_dir, write_atomic

    text = valid_text(run_file)
    rel = canonical_path(run_file)
    ensure_dir(Path(out), rel.parent)
    path = Path(out) / rel
    if not check_target(path) or force:
        write_atomic(path, text.encode("utf-8"))
    return path


def load_run(path: str | Path) -> RunFile:
    """Read and validate one run file, as ``leaderboard validate`` does; a ValueError names what is wrong."""
    from .validate import check_file

    checked = check_file(Path(path))
    errors = [p for p in checked.problems if p.severity == "error"]
    if errors or checked.run is None:
        raise ValueError("; ".join(p.line() for p in errors) or f"{path}: not a run file")
    return checked.run
