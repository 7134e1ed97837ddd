"""compression-leaderboard: what model compression does to the knowledge stored in language models.

The Python API (the CLI's own code path; see ``leaderboard.api``)::

    import leaderboard as lb
    runs = lb.run("builtin:demo-decoder", evals="lama:trex", compress=["prune:criterion=l1,sparsity=0.3"],
                  lama_dir="builtin:lama-sample", limit=20, device="cpu")
"""

__version__ = "0.1.0"

_API = ("run", "run_spec", "load_run", "write_run", "parse_step", "RunSpec", "SpecError")


def __getattr__(name: str):
    """The API on first use: ``import leaderboard`` stays light (no torch) for the torch-free commands."""
    if name in _API:
        from . import api

        return getattr(api, name)
    if name == "RunFile":
        from .schema import RunFile

        return RunFile
    raise AttributeError(f"module 'leaderboard' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_API, "RunFile"])
