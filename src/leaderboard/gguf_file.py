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
import mmap
import os
import stat
import struct
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


# GGUF metadata value types (ggml's gguf.h): fixed sizes in bytes; 8 = string, 9 = array
_FIXED = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
_STRING, _ARRAY = 8, 9


def check_header(path: Path) -> None:
    """Walk a GGUF file's header (metadata and tensor table) with every count and length checked against the bytes
    that are left, before the gguf package parses it: its reader trusts the counts, so a header stating an array of
    2**40 elements in a 100-byte file kept it busy without end. A lie is one GgufError naming the file."""
    def bad(why: str) -> GgufError:
        return GgufError(f"{path}: not a readable GGUF file ({why})")

    if os.path.getsize(path) < 24:
        raise bad("shorter than a GGUF header")
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
        size = len(m)
        pos = 0

        def take(n: int, what: str) -> int:
            nonlocal pos
            if n < 0 or n > size - pos:
                raise bad(f"its header states {what} of {n:,} bytes at offset {pos:,}, past the end of the file ({size:,} bytes)")
            start, pos = pos, pos + n
            return start

        def num(fmt: str, what: str) -> int:
            return struct.unpack_from(fmt, m, take(struct.calcsize(fmt), what))[0]

        def string(what: str) -> None:
            take(num("<Q", what), what)

        def value(kind: int, what: str, depth: int = 0) -> None:
            if kind in _FIXED:
                take(_FIXED[kind], what)
            elif kind == _STRING:
                string(what)
            elif kind == _ARRAY and depth < 2:
                inner, count = num("<I", what), num("<Q", what)
                if inner in _FIXED:
                    take(count * _FIXED[inner], f"{what} (an array of {count:,})")
                elif inner in (_STRING, _ARRAY):
                    if count * 8 > size - pos:
                        raise bad(f"its header states {what} as an array of {count:,} items, more than the {size - pos:,} bytes "
                              "left can hold")
                    for _ in range(count):
                        value(inner, what, depth + 1)
                else:
                    raise bad(f"{what}: unknown array element type {inner}")
            else:
                raise bad(f"{what}: unknown value type {kind}")

        if m[:4] != b"GGUF":
            raise bad("no GGUF header")
        take(4, "the magic")
        version = num("<I", "the version")
        if version not in (2, 3):
            raise bad(f"GGUF version {version}; versions 2 and 3 are read")
        n_tensors, n_kv = num("<Q", "the tensor count"), num("<Q", "the metadata count")
        if n_kv * 13 > size - pos or n_tensors * 24 > size - pos:  # the smallest metadata entry and tensor record
            raise bad(f"its header states {n_kv:,} metadata entries and {n_tensors:,} tensors, more than its "
                      f"{size:,} bytes can hold")
        for i in range(n_kv):
            string(f"metadata key {i}")
            value(num("<I", f"metadata {i}'s type"), f"metadata {i}")
        for i in range(n_tensors):
            string(f"tensor {i}'s name")
            dims = num("<I", f"tensor {i}'s dimensions")
            if dims > 8:
                raise bad(f"tensor {i} has {dims} dimensions (at most 8)")
            take(8 * dims + 4 + 8, f"tensor {i}'s record")


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
        check_header(path)
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
