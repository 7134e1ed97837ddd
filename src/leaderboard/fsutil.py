"""Write files under a root folder without following links out of it, atomically, world-readable; read untrusted
files through one bounded reader.

Run files are public: they are written with the usual permissions of a new file (0644 under the
common umask 022), never 0600, and never through a symbolic link planted inside ``runs/``.

Untrusted files (a checkpoint's config.json and recipe.yaml, run and sweep specs, calibration text, ...) are read by
``read_bounded``: a regular file only (a FIFO, device or folder is refused before a byte is read, so nothing hangs or
streams without end), at most its kind's size (``KINDS``, one registry), strict UTF-8, read once.
"""

from __future__ import annotations

import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath


class UnsafePath(OSError):
    """A path that would leave the root folder (a link on the way) or is not what it should be."""


def _file_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def ensure_dir(root: Path, rel: PurePosixPath | str) -> Path:
    """``root/rel`` as a folder, made component by component; a link or a file on the way is refused.
    ``root`` itself may be a link (the user chose it)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    cur = root
    for part in PurePosixPath(rel).parts:
        if part in ("", ".", "..") or "/" in part:
            raise UnsafePath(f"{cur / part}: not a plain folder name")
        cur = cur / part
        try:
            st = os.lstat(cur)
        except FileNotFoundError:
            os.mkdir(cur)
            continue
        if stat.S_ISLNK(st.st_mode):
            raise UnsafePath(f"{cur} is a symbolic link; files are written inside {root} only")
        if not stat.S_ISDIR(st.st_mode):
            raise UnsafePath(f"{cur} exists and is not a folder")
    return cur


def check_target(path: Path) -> bool:
    """Whether ``path`` exists as a regular file; a link, folder or other thing there is an UnsafePath."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    if stat.S_ISLNK(st.st_mode):
        raise UnsafePath(f"{path} is a symbolic link; refusing to write through it")
    if not stat.S_ISREG(st.st_mode):
        raise UnsafePath(f"{path} exists and is not a regular file")
    return True


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` by ``data`` in one rename (readers see the old or the new file, never half)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), _file_mode())
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_under(root: Path, rel: PurePosixPath | str, data: bytes, *, replace: bool = False) -> Path:
    """Write ``root/rel`` (folders made as needed, no links followed); an existing file is kept unless
    ``replace``. Returns the path."""
    rel = PurePosixPath(rel)
    folder = ensure_dir(root, rel.parent)
    target = folder / rel.name
    if check_target(target) and not replace:
        raise FileExistsError(f"{target} exists")
    write_atomic(target, data)
    return target


# --- reading untrusted files --------------------------------------------------------------------------------------


class InputError(ValueError):
    """An untrusted file that cannot be read as its kind says; the message is one line naming the file."""


@dataclass(frozen=True)
class Kind:
    """What a kind of untrusted file may be: its size cap, and whether a symbolic link to a regular file is
    followed (a Hugging Face cache snapshot is a folder of links into its blob store)."""

    max_bytes: int
    links: bool = True


# One registry of the untrusted files the project reads and what each may be.
KINDS: dict[str, Kind] = {
    "config.json": Kind(4 * 1024 * 1024),  # a checkpoint's config (quantization_config included)
    "recipe.yaml": Kind(1024 * 1024),  # llm-compressor's recipe in a checkpoint folder
    "demo_model.json": Kind(64 * 1024),  # the toy demo model's marker
    "yaml": Kind(1024 * 1024),  # run specs, sweep specs
    "calibration": Kind(256 * 1024 * 1024),  # calibration text
    "unfinished-run": Kind(64 * 1024 * 1024),  # an evaluation kept after its run file failed validation
}


def read_bounded(path: Path | str, kind: str, max_bytes: int | None = None) -> bytes:
    """The bytes of ``path``, read once: a regular file only (never a FIFO, device or folder; a symbolic link only
    where the kind allows it), at most the kind's cap (checked on the open file, and again while reading, so a file
    that grows is refused too). Errors are one line naming the file."""
    spec = KINDS[kind]
    cap = spec.max_bytes if max_bytes is None else max_bytes
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    if not spec.links:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except OSError as e:
        if not spec.links and os.path.islink(path):
            raise InputError(f"{path}: a symbolic link; give the file itself") from None
        raise InputError(f"{path}: cannot read: {e.strerror or e}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            what = "a folder" if stat.S_ISDIR(st.st_mode) else "not a regular file (a FIFO, device or socket)"
            raise InputError(f"{path}: {what}; refusing to read it")
        if st.st_size > cap:
            raise InputError(f"{path}: {st.st_size:,} bytes; the limit for a {kind} file is {cap:,}")
        chunks, size = [], 0
        while True:
            try:
                block = os.read(fd, min(1 << 20, cap + 1 - size))
            except OSError as e:
                raise InputError(f"{path}: cannot read: {e.strerror or e}") from None
            if not block:
                break
            chunks.append(block)
            size += len(block)
            if size > cap:
                raise InputError(f"{path}: more than {cap:,} bytes; the limit for a {kind} file is {cap:,}")
    finally:
        os.close(fd)
    return b"".join(chunks)


def decode_utf8(raw: bytes, where: object) -> str:
    """Strict UTF-8 (no replacement characters, no byte-order mark guessing); one line naming the byte."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(f"{where}: not UTF-8 text (byte {e.start})") from None


def read_text_bounded(path: Path | str, kind: str, max_bytes: int | None = None) -> str:
    return decode_utf8(read_bounded(path, kind, max_bytes), path)


def read_json_bounded(path: Path | str, kind: str, max_bytes: int | None = None) -> object:
    """JSON from a bounded read; NaN/Infinity, duplicate keys and nesting past the parser's depth are errors."""
    import json

    text = read_text_bounded(path, kind, max_bytes)

    def no_constant(name: str):
        raise InputError(f"{path}: {name} is not a JSON number")

    def pairs(items: list) -> dict:
        out: dict = {}
        for k, v in items:
            if k in out:
                raise InputError(f"{path}: key {k!r} appears twice in one object")
            out[k] = v
        return out

    try:
        return json.loads(text, parse_constant=no_constant, object_pairs_hook=pairs)
    except json.JSONDecodeError as e:
        raise InputError(f"{path}: invalid JSON: {e.msg} (line {e.lineno}, column {e.colno})") from None
    except RecursionError:
        raise InputError(f"{path}: nested too deeply") from None
