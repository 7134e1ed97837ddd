"""GGUF checkpoints (llama.cpp's file format) as a model source: what the file says, read as data.

transformers loads a GGUF file through its own loader (``from_pretrained(folder, gguf_file=NAME)``, the
``gguf`` package underneath) and dequantizes every tensor to floating point. This module reads what the
run file must state about such a checkpoint *before* loading it: its architecture, its file type
(``general.file_type``, e.g. MOSTLY_Q4_1), how many weights each tensor type holds (a "Q4_K_M" file is a
mix), the bytes of its tensors as stored, and its sha256 (the model revision). A GGUF file is untrusted
input: a regular file only, bounded in size, parsed by the ``gguf`` package inside one error boundary
(any failure is one line naming the file), never executed.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from functools import cache
from pathlib import Path

MAX_GGUF_BYTES = 256 * 1024**3  # larger than any model this runner can hold in memory
SUFFIX = ".gguf"


class GgufError(ValueError):
    """The file is not a GGUF checkpoint this runner can state; the message names the file and what is wrong."""


@dataclass(frozen=True)
class GgufInfo:
    path: Path
    architecture: str  # general.architecture (llama, gemma3, ...)
    file_type: str  # llama.cpp's name of general.file_type without MOSTLY_ (Q4_1, Q4_K_M, ...)
    tensor_types: dict[str, int]  # GGML tensor type -> weights (elements) stored in it
    tensor_bytes: int  # bytes of all tensor data as stored
    tensors: dict[str, int]  # tensor name -> bytes as stored
    elements: int  # weights in the file
    name: str | None  # general.name
    bos_token_id: int | None
    sha256: str

    @property
    def revision(self) -> str:
        return "sha256:" + self.sha256

    @property
    def stored_bits_per_weight(self) -> float:
        return 8 * self.tensor_bytes / max(self.elements, 1)


def gguf_file_of(source: str | Path) -> Path | None:
    """The GGUF file a ``--model`` value names: the file itself, or the one ``.gguf`` file of a folder that
    has no ``config.json`` (a transformers folder wins). None when it names no GGUF checkpoint."""
    path = Path(source).expanduser()
    if path.suffix.lower() == SUFFIX and not path.is_dir():
        return path  # there or not (the caller says "no such GGUF file")
    if path.is_dir() and not (path / "config.json").exists():
        found = sorted(p for p in path.iterdir() if p.suffix.lower() == SUFFIX)
        if len(found) > 1:
            raise GgufError(f"{path}: holds {len(found)} .gguf files ({', '.join(p.name for p in found[:3])}); "
                            "name the file itself with --model")
        return found[0] if found else None
    return None


def _check_regular(path: Path) -> int:
    try:
        st = os.stat(path)
    except OSError as e:
        raise GgufError(f"{path}: cannot read: {e.strerror or e}") from None
    if not stat.S_ISREG(st.st_mode):
        raise GgufError(f"{path}: not a regular file")
    if st.st_size > MAX_GGUF_BYTES:
        raise GgufError(f"{path}: {st.st_size:,} bytes, more than the {MAX_GGUF_BYTES:,} a GGUF checkpoint may have here")
    return st.st_size


def sha256_of(path: Path | str) -> str:
    """sha256 of a file, read in blocks (a checkpoint is too large to read whole)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


@cache
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    return sha256_of(path)


def file_sha256(path: Path) -> str:
    """sha256 of a file, read once per (path, size, mtime) in this process."""
    st = os.stat(path)
    return _sha256(str(Path(path).resolve()), st.st_size, st.st_mtime_ns)


def _field(reader, key: str):
    f = reader.fields.get(key)
    if f is None:
        return None
    try:
        return f.contents()
    except Exception:  # noqa: BLE001 - a malformed field reads as absent
        return None


def read_info(path: Path) -> GgufInfo:
    """What a GGUF file says about itself (metadata and tensor table; no tensor data is read). Read once per
    (path, size, modification time) in a process."""
    path = Path(path)
    _check_regular(path)
    st = os.stat(path)
    return _read_info(path, st.st_size, st.st_mtime_ns)


@cache
def _read_info(path: Path, size: int, mtime_ns: int) -> GgufInfo:
    try:
        import gguf
    except ImportError:
        raise GgufError("reading GGUF checkpoints needs the 'gguf' package: pip install gguf") from None
    try:
        reader = gguf.GGUFReader(str(path), "r")
        arch = _field(reader, "general.architecture")
        ftype = _field(reader, "general.file_type")
        types: dict[str, int] = {}
        tensors: dict[str, int] = {}
        nbytes = elements = 0
        for t in reader.tensors:
            n = int(t.n_elements)
            tensors[str(t.name)] = int(t.n_bytes)
            types[t.tensor_type.name] = types.get(t.tensor_type.name, 0) + n
            nbytes += int(t.n_bytes)
            elements += n
        name = _field(reader, "general.name")
        bos = _field(reader, "tokenizer.ggml.bos_token_id")
    except GgufError:
        raise
    except Exception as e:  # noqa: BLE001 - the gguf parser raises many kinds on a malformed file
        raise GgufError(f"{path}: not a readable GGUF file ({type(e).__name__}: {str(e)[:200]})") from None
    if not isinstance(arch, str) or not arch:
        raise GgufError(f"{path}: no general.architecture in its metadata")
    if not elements:
        raise GgufError(f"{path}: holds no tensors")
    return GgufInfo(path=path, architecture=arch, file_type=file_type_name(ftype, types),
                    tensor_types=dict(sorted(types.items(), key=lambda kv: (-kv[1], kv[0]))), tensor_bytes=nbytes, tensors=tensors,
                    elements=elements, name=name if isinstance(name, str) else None,
                    bos_token_id=bos if isinstance(bos, int) else None, sha256=file_sha256(path))


def file_type_name(ftype, types: dict[str, int]) -> str:
    """llama.cpp's name of ``general.file_type`` (MOSTLY_Q4_K_M -> Q4_K_M); without one, the tensor type that
    holds the most weights among the quantized ones."""
    import gguf

    if isinstance(ftype, int):
        try:
            return gguf.LlamaFileType(ftype).name.removeprefix("MOSTLY_").removeprefix("ALL_")
        except ValueError:
            pass
    quantized = {k: v for k, v in types.items() if k not in ("F32", "F16", "BF16", "F64")}
    pool = quantized or types
    return max(pool, key=lambda k: (pool[k], k))


def held_bytes(info: GgufInfo, model) -> dict[str, int]:
    """parameter name -> bytes of each of the model's parameters as the GGUF file stores it (names mapped by the
    gguf package's own table); parameters it cannot map are left out (counted at their own size)."""
    import gguf

    arch = {v: k for k, v in gguf.MODEL_ARCH_NAMES.items()}.get(info.architecture)
    n_blocks = getattr(model.config, "num_hidden_layers", None)
    if arch is None or not isinstance(n_blocks, int):
        return {}
    names = gguf.get_tensor_name_map(arch, n_blocks)
    out = {}
    for name, _p in model.named_parameters():
        mapped = names.get_name(name, try_suffixes=(".weight", ".bias"))
        if mapped in info.tensors:
            out[name] = info.tensors[mapped]
    return out


def check_supported(info: GgufInfo) -> None:
    """transformers' GGUF loader knows the architecture (else one line saying which it knows)."""
    from transformers.modeling_gguf_pytorch_utils import GGUF_SUPPORTED_ARCHITECTURES

    if info.architecture not in GGUF_SUPPORTED_ARCHITECTURES:
        raise GgufError(f"{info.path}: architecture {info.architecture!r} is not one transformers' GGUF loader "
                        f"supports ({', '.join(sorted(GGUF_SUPPORTED_ARCHITECTURES))})")
