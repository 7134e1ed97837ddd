"""Load a model and its tokenizer by family, from a local directory or (when allowed) a hub id."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import torch
import transformers as T
from torch import nn

from .compress.measure import count_parameters

AUTO_CLASS = {"encoder": T.AutoModelForMaskedLM, "encoder-decoder": T.AutoModelForSeq2SeqLM,
              "decoder": T.AutoModelForCausalLM}
ENCODER_TYPES = {"bert", "roberta", "distilbert", "albert", "electra", "xlm-roberta", "camembert", "deberta",
                 "deberta-v2", "mpnet", "modernbert"}
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")


class ModelLoadError(RuntimeError):
    pass


@dataclass
class LoadedModel:
    model: nn.Module
    tokenizer: T.PreTrainedTokenizerBase
    model_id: str
    revision: str | None
    family: str
    architecture: str
    parameters: int
    dtype: str
    device: torch.device


def family_of(config: T.PretrainedConfig) -> str:
    if getattr(config, "is_encoder_decoder", False):
        return "encoder-decoder"
    archs = config.architectures or []
    if config.model_type in ENCODER_TYPES or any(a.endswith("ForMaskedLM") for a in archs):
        return "encoder"
    return "decoder"


def local_revision(path: Path) -> str:
    """'sha256:<hex>' over the weight files of a local checkpoint (names and bytes, sorted)."""
    h = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith(WEIGHT_SUFFIXES))
    if not files:
        raise ModelLoadError(f"{path}: no weight files ({', '.join(WEIGHT_SUFFIXES)})")
    for p in files:
        h.update(p.relative_to(path).as_posix().encode() + b"\0")
        with open(p, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return "sha256:" + h.hexdigest()


def _source(model: str, allow_hub: bool) -> tuple[str, bool, str | None]:
    """(folder or hub id, local?, GGUF file name in that folder or None)."""
    from .gguf_file import GgufError, gguf_file_of

    try:
        gguf = gguf_file_of(model)
    except GgufError as e:
        raise ModelLoadError(str(e)) from None
    if gguf is not None:
        if not gguf.exists():
            raise ModelLoadError(f"{model}: no such GGUF file")
        return str(gguf.parent), True, gguf.name
    path = Path(model).expanduser()
    if path.is_dir():
        return str(path), True, None
    if not allow_hub:
        raise ModelLoadError(f"{model!r} is not a local directory or GGUF file; pass --allow-hub to download it "
                             "from the Hugging Face hub (needs network access)")
    return model, False, None


def gguf_info(model: str):
    """The GGUF file's own description (gguf_file.GgufInfo) when ``model`` names a GGUF checkpoint, else None."""
    from .gguf_file import GgufError, check_supported, read_info

    src, _local, gguf = _source(model, allow_hub=True)
    if gguf is None:
        return None
    try:
        info = read_info(Path(src) / gguf)
        check_supported(info)
    except GgufError as e:
        raise ModelLoadError(str(e)) from None
    return info


def _hub_kwargs(local: bool, revision: str | None, cache_dir: Path | None = None, gguf: str | None = None) -> dict:
    if local:
        return {"local_files_only": True, **({"gguf_file": gguf} if gguf else {})}
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes")
    return {"revision": revision, "cache_dir": str(cache_dir) if cache_dir else None, "local_files_only": offline}


def load_config(model: str, *, allow_hub: bool = False, revision: str | None = None,
                cache_dir: Path | None = None) -> T.PretrainedConfig:
    src, local, gguf = _source(model, allow_hub)
    if gguf is not None:
        gguf_info(model)  # a file transformers' GGUF loader cannot read is one line, before it tries
    try:
        return T.AutoConfig.from_pretrained(src, **_hub_kwargs(local, revision, cache_dir, gguf))
    except (OSError, ValueError) as e:
        raise ModelLoadError(f"{model}: cannot read its config: {e}") from None


def _snapshot_commit(src: str, hub: dict) -> str | None:
    """The commit of the hub snapshot a model was read from (its cache folder is named after it)."""
    from transformers.utils import cached_file

    try:
        path = Path(cached_file(src, "config.json", **hub))
    except OSError:
        return None
    return path.parent.name if path.parent.parent.name == "snapshots" else None


def cached_revision(model: str, revision: str | None = None, cache_dir: Path | None = None) -> str | None:
    """The commit of a hub model already in the local cache (no network), else None."""
    if Path(model).expanduser().is_dir() or Path(model).suffix.lower() == ".gguf":
        return None
    return _snapshot_commit(model, {"revision": revision, "cache_dir": str(cache_dir) if cache_dir else None,
                                    "local_files_only": True})


def skeleton(config: T.PretrainedConfig) -> nn.Module:
    """The model's module tree on the meta device (no memory, no weights): for checking specs early."""
    with torch.device("meta"):
        return AUTO_CLASS[family_of(config)].from_config(config)


def resolve_device(device: str | None) -> torch.device:
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def load(model: str, *, allow_hub: bool = False, revision: str | None = None, device: str | None = "cpu",
         dtype: str = "float32", model_id: str | None = None, cache_dir: Path | None = None) -> LoadedModel:
    """Load model + tokenizer. ``model_id`` names a local checkpoint in run files (default: folder name)."""
    if dtype not in DTYPES:
        raise ModelLoadError(f"dtype {dtype!r} is not one of {', '.join(DTYPES)}")
    src, local, gguf = _source(model, allow_hub)
    config = load_config(model, allow_hub=allow_hub, revision=revision, cache_dir=cache_dir)
    hub = _hub_kwargs(local, revision, cache_dir, gguf)
    family = family_of(config)
    dev = resolve_device(device)
    try:
        tok = T.AutoTokenizer.from_pretrained(src, **hub)
        net = AUTO_CLASS[family].from_pretrained(src, dtype=DTYPES[dtype], **hub)
    except (OSError, ValueError) as e:
        raise ModelLoadError(f"{model}: cannot load: {e}") from None
    if gguf is not None:  # dequantized to floating point on loading: a plain model from here on
        from .gguf_tokenizer import fix_tokenizer

        fix_tokenizer(tok, Path(src) / gguf)
        net.hf_quantizer = None
        if hasattr(net.config, "quantization_config"):
            del net.config.quantization_config
        _config_folder(net)
    net = net.to(dev).eval()
    if gguf is not None:
        rev = gguf_info(model).revision
        name = model_id or Path(gguf).name  # as the runner names it (gguf_model_id)
    elif local:
        rev = local_revision(Path(src))
        name = model_id or Path(src).resolve().name
    else:
        rev = getattr(net.config, "_commit_hash", None) or _snapshot_commit(src, hub) or revision
        name = model_id or model
    # the tokenizer stays as saved (model_max_length may be 1e30): lm-eval resolves its max length from it
    # exactly as its CLI does, and the LAMA probe bounds its own inputs by the model's positions
    arch = (config.architectures or [type(net).__name__])[0]
    return LoadedModel(net, tok, name, rev, family, arch, count_parameters(net), dtype, dev)


def _config_folder(net: nn.Module) -> None:
    """Point the model's ``_name_or_path`` at a folder holding its config.json: libraries that re-read the config
    from where the model came (llm-compressor's oneshot) cannot read it from a GGUF file."""
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="leaderboard-gguf-config-"))
    net.config.save_pretrained(folder)
    net.config._name_or_path = str(folder)


def save(model: nn.Module, tokenizer: T.PreTrainedTokenizerBase, path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
