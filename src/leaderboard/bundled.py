"""What ships inside the package and how the command line names it: the demo models and the LAMA sample.

A bundled model has a name the CLI accepts (``builtin:<folder>``) and answers to the model id its
run files record (``demo_model.json``'s ``model_id``), so the reproduce command a run file records works
verbatim on any machine with the package. Names resolve both ways: a path that is the bundled
folder is written back as its ``builtin:`` name, never as a machine's absolute path.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path

BUILTIN_PREFIX = "builtin:"
BUILTIN_LAMA = "builtin:lama-sample"
BUILTIN_MODEL = "builtin:demo-model"  # the tiny BERT trained on 1,000 T-REx facts


def data_root() -> Path:
    return Path(str(resources.files("leaderboard") / "data"))


@cache
def models() -> dict[str, Path]:
    """``builtin:<folder>`` -> folder, for every folder under data/ that holds a demo_model.json."""
    return {BUILTIN_PREFIX + d.name: d for d in sorted(data_root().iterdir())
            if (d / "demo_model.json").is_file()}


@cache
def model_ids() -> dict[str, Path]:
    """The model id each bundled model's run files record -> its folder."""
    out = {}
    for folder in models().values():
        model_id = json.loads((folder / "demo_model.json").read_text(encoding="utf-8")).get("model_id")
        if model_id:
            out[model_id] = folder
    return out


def resolve_model(model: str) -> str:
    """A ``--model`` value as a loadable source: ``fetched:NAME`` is the fetched GGUF file's path (whether it is
    there yet or not: the runner's check says how to fetch it); a local folder wins, then a bundled name or id,
    else the value itself (a hub id)."""
    from . import model_fetch

    if model.startswith(model_fetch.FETCHED_PREFIX):
        try:
            return str(model_fetch.fetched_path(model.removeprefix(model_fetch.FETCHED_PREFIX)))
        except model_fetch.FetchError:
            return model
    if model in models():
        return str(models()[model])
    if not Path(model).is_dir() and model in model_ids():
        return str(model_ids()[model])
    return model


def model_name(source: str) -> str:
    """The name to write in a command for a model source: ``builtin:<folder>`` for a bundled folder,
    ``fetched:NAME`` for a GGUF file that is one of the fetchable models (by its sha256, wherever it lies)."""
    path = Path(source)
    if path.suffix.lower() == ".gguf" and path.is_file():
        from . import model_fetch
        from .gguf_file import file_sha256

        known = model_fetch.by_sha256(file_sha256(path))
        return model_fetch.FETCHED_PREFIX + known[0] if known else str(path.resolve())
    if path.is_dir():
        for name, folder in models().items():
            if path.resolve() == folder.resolve():
                return name
    return source


def resolve_lama(value: str | Path) -> Path:
    from .evaluate.lama_data import packaged_root

    return packaged_root() if str(value) == BUILTIN_LAMA else Path(value)


def lama_name(root: Path) -> str:
    from .evaluate.lama_data import packaged_root

    return BUILTIN_LAMA if Path(root).resolve() == packaged_root().resolve() else str(Path(root).resolve())
