"""Load a model and its tokenizer by family, from a local directory or (when allowed) a hub id."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import torch
import transformers as T
from pydantic import BaseModel, ConfigDict, Field, Strict, StringConstraints
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


# Sizes a config.json states, bounded before anything is built from it (a skeleton of 10,000,000 layers takes
# minutes even on the meta device). Generous: ten times the largest public models.
_Layers = Annotated[int, Strict(), Field(ge=0, le=2_000)]
_Width = Annotated[int, Strict(), Field(ge=0, le=1 << 18)]
_Ffn = Annotated[int, Strict(), Field(ge=0, le=1 << 20)]
_Heads = Annotated[int, Strict(), Field(ge=0, le=4_096)]
_Vocab = Annotated[int, Strict(), Field(ge=0, le=1 << 23)]
_Positions = Annotated[int, Strict(), Field(ge=0, le=1 << 24)]
_Experts = Annotated[int, Strict(), Field(ge=0, le=4_096)]


class ConfigSizes(BaseModel):
    """The size fields of a checkpoint's config.json (every architecture's names for them); other fields are
    transformers' business."""

    model_config = ConfigDict(extra="ignore", strict=True, allow_inf_nan=False)
    model_type: Annotated[str, StringConstraints(max_length=100)] | None = None
    architectures: Annotated[list[Annotated[str, StringConstraints(max_length=200)]], Field(max_length=100)] | None = None
    is_encoder_decoder: bool | None = None
    num_hidden_layers: _Layers | None = None
    num_layers: _Layers | None = None
    n_layer: _Layers | None = None
    n_layers: _Layers | None = None
    num_decoder_layers: _Layers | None = None
    encoder_layers: _Layers | None = None
    decoder_layers: _Layers | None = None
    hidden_size: _Width | None = None
    n_embd: _Width | None = None
    d_model: _Width | None = None
    dim: _Width | None = None
    embedding_size: _Width | None = None
    word_embed_proj_dim: _Width | None = None
    d_kv: _Width | None = None
    head_dim: _Width | None = None
    intermediate_size: _Ffn | None = None
    n_inner: _Ffn | None = None
    d_ff: _Ffn | None = None
    hidden_dim: _Ffn | None = None
    ffn_dim: _Ffn | None = None
    num_attention_heads: _Heads | None = None
    num_key_value_heads: _Heads | None = None
    n_head: _Heads | None = None
    n_heads: _Heads | None = None
    num_heads: _Heads | None = None
    vocab_size: _Vocab | None = None
    max_position_embeddings: _Positions | None = None
    n_positions: _Positions | None = None
    num_experts: _Experts | None = None
    num_local_experts: _Experts | None = None
    quantization_config: dict | None = None


MAX_PARAMETERS = 10**13  # ten trillion: a config that states more is refused before a skeleton is built


def _estimate(c: ConfigSizes) -> int:
    def first(*xs):
        return next((x for x in xs if x), 0)

    layers = first(c.num_hidden_layers, c.num_layers, c.n_layer, c.n_layers) + first(c.num_decoder_layers) \
        + first(c.encoder_layers) + first(c.decoder_layers)
    width = first(c.hidden_size, c.n_embd, c.d_model, c.dim)
    ffn = first(c.intermediate_size, c.n_inner, c.d_ff, c.hidden_dim, c.ffn_dim, 4 * width)
    experts = max(1, first(c.num_experts, c.num_local_experts))
    return layers * (4 * width * width + 3 * width * ffn * experts) + first(c.vocab_size) * width


def check_sizes(raw: dict, where: str) -> ConfigSizes:
    """The size fields of a config (as a dict) typed and bounded; one line naming ``where`` and the field."""
    from pydantic import ValidationError

    from .compress.checkpoint import errors_line

    try:
        sizes = ConfigSizes.model_validate(raw)
    except ValidationError as e:
        raise ModelLoadError(f"{where}: {errors_line(e)}") from None
    n = _estimate(sizes)
    if n > MAX_PARAMETERS:
        raise ModelLoadError(f"{where}: states a model of about {n:.2g} parameters (more than {MAX_PARAMETERS:.0e}); "
                             "refusing to build it")
    return sizes


def check_config_file(folder: Path) -> dict:
    """A local checkpoint's config.json through the one bounded reader, its sizes and its quantization_config typed
    and bounded: a wrong or absurd value is one line naming the file and field, before transformers builds anything."""
    from pydantic import ValidationError

    from .compress.checkpoint import CheckpointError, errors_line, quant_config
    from .fsutil import InputError, read_json_bounded

    path = folder / "config.json"
    if not path.exists():
        raise ModelLoadError(f"{folder}: no config.json (not a transformers checkpoint folder)")
    try:
        raw = read_json_bounded(path, "config.json")
    except InputError as e:
        raise ModelLoadError(str(e)) from None
    if not isinstance(raw, dict):
        raise ModelLoadError(f"{path}: a JSON object (mapping) of settings")
    sizes = check_sizes(raw, str(path))
    for key in ("text_config", "encoder", "decoder"):  # composite configs state their parts' sizes inside
        part = raw.get(key)
        if isinstance(part, dict):
            try:
                inner = ConfigSizes.model_validate(part)
            except ValidationError as e:
                raise ModelLoadError(f"{path}: {errors_line(e, key)}") from None
            if _estimate(inner) > MAX_PARAMETERS:
                raise ModelLoadError(f"{path}: {key} states more than {MAX_PARAMETERS:.0e} parameters; refusing")
    if sizes.quantization_config is not None:
        try:
            quant_config(sizes.quantization_config, str(path))
        except CheckpointError as e:
            raise ModelLoadError(str(e)) from None
    return raw


def config_of(raw: dict, path: Path, src: str) -> T.PretrainedConfig:
    """transformers' config object made from the dict check_config_file read and checked, as AutoConfig makes it
    from the file (config class by model_type, ``from_dict``), so that config.json is read once, by us: the model
    and tokenizer are given this object and never open the file again (no second read that could see other bytes,
    unbounded). Custom code (auto_map) is refused: code from a checkpoint is never run."""
    model_type = raw.get("model_type")
    if "auto_map" in raw:
        raise ModelLoadError(f"{path}: auto_map: names custom code to run (trust_remote_code); code from a checkpoint "
                             "is never run here")
    if model_type == "mistral" and "layer_types" in raw:  # AutoConfig's own heuristic, kept identical
        model_type = "ministral"
    if not isinstance(model_type, str) or model_type not in T.CONFIG_MAPPING:
        raise ModelLoadError(f"{path}: model_type: {_one_line(repr(model_type))[:80]} is not a model type transformers "
                             f"{T.__version__} knows")
    try:
        config = T.CONFIG_MAPPING[model_type].from_dict({**raw, "model_type": model_type})
    except Exception as e:  # noqa: BLE001 - transformers' own checks on an untrusted config raise anything
        raise ModelLoadError(f"{path}: transformers refuses it: {_one_line(e)}") from None
    config._name_or_path = src
    return config


def load_config(model: str, *, allow_hub: bool = False, revision: str | None = None,
                cache_dir: Path | None = None) -> T.PretrainedConfig:
    src, local, gguf = _source(model, allow_hub)
    if gguf is not None:
        gguf_info(model)  # a file transformers' GGUF loader cannot read is one line, before it tries
    elif local:
        folder = Path(src)
        return config_of(check_config_file(folder), folder / "config.json", src)
    try:
        return T.AutoConfig.from_pretrained(src, **_hub_kwargs(local, revision, cache_dir, gguf))
    except Exception as e:  # noqa: BLE001 - transformers on an untrusted config raises anything; one line, named
        raise ModelLoadError(f"{model}: cannot read its config: {_one_line(e)}") from None


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
    check_sizes({k: v for k, v in config.to_dict().items() if k in ConfigSizes.model_fields and k != "quantization_config"},
                f"{config._name_or_path or 'the model'}: config")
    try:
        with torch.device("meta"):
            return AUTO_CLASS[family_of(config)].from_config(config)
    except Exception as e:  # noqa: BLE001 - a config transformers accepted but cannot build (sizes that do not fit)
        raise ModelLoadError(f"{config._name_or_path or 'the model'}: config.json: transformers cannot build the model "
                             f"from it: {_one_line(e)}") from None


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return text if len(text) <= 300 else text[:300] + "…"


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
    # a local folder's config object (read and checked once, above) is passed on: neither reads config.json again
    given = {"config": config} if local and gguf is None else {}
    try:
        tok = T.AutoTokenizer.from_pretrained(src, **hub, **given)
        net = AUTO_CLASS[family].from_pretrained(src, dtype=DTYPES[dtype], **hub, **given)
    except (OSError, ValueError, TypeError, KeyError, AttributeError, RuntimeError) as e:
        raise ModelLoadError(f"{model}: cannot load: {_one_line(e)}") from None
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
