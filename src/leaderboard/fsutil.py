"""Write files under a root folder without following links out of it, atomically, world-readable; read untrusted
files through one bounded reader.

Run files are public: they are written with the usual permissions of a new file (0644 under the
common umask 022), never 0600, and never through a symbolic link planted inside ``runs/``.

Untrusted files (a checkpoint's config.json and recipe.yaml, run and sweep specs, calibration text, ...) are read by
``read_bounded``: a regular file only (a FIFO, device or folder is refused before a byte is read, so nothing hangs or
streams without end), at most its kind's size (``KINDS``, one registry), strict UTF-8, read once.
"""

from __future__ import annotations

import contextlib
import errno
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


def ensure_dir(root: Path, rel: PurePosixPath | str, *, create: bool = True) -> Path | None:
    """``root/rel`` as a folder, made component by component; a link or a file on the way is refused.
    ``root`` itself may be a link (the user chose it). With ``create=False`` nothing is made: None where a
    folder on the way is missing (the same checks on what is there)."""
    root = Path(root)
    if create:
        root.mkdir(parents=True, exist_ok=True)
    cur = root
    for part in PurePosixPath(rel).parts:
        if part in ("", ".", "..") or "/" in part:
            raise UnsafePath(f"{cur / part}: not a plain folder name")
        cur = cur / part
        try:
            st = os.lstat(cur)
        except FileNotFoundError:
            if not create:
                return None
            try:
                os.mkdir(cur)
                continue
            except FileExistsError:  # another process (a sweep's other shard) made it meanwhile: check it
                st = os.lstat(cur)
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


def write_atomic(path: Path, data: bytes, *, sync: bool = True) -> None:
    """Replace ``path`` by ``data`` in one rename (readers see the old or the new file, never half). ``sync=False``:
    no fsync, for outputs rebuilt from their sources (a site), not for records."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), _file_mode())
            f.write(data)
            if sync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def replace_if_changed(path: Path, data: bytes) -> bool:
    """Write ``data`` at ``path`` unless the file there holds exactly these bytes already (a rebuild then leaves the
    file, its inode and its time alone). A changed file is replaced by a rename (write_atomic, without fsync), never
    rewritten in place, so a hard link to the old file (a published site's copy) keeps the old bytes. Returns whether
    the file was written."""
    path = Path(path)
    try:
        if os.path.getsize(path) == len(data):
            with open(path, "rb") as f:
                if f.read() == data:
                    return False
    except FileNotFoundError:
        pass
    write_atomic(path, data, sync=False)
    return True


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


# --- reading untrusted files --------------------------------------------------------------------------


class InputError(ValueError):
    """An input file that is not what its reader accepts (a link, a FIFO or device, too large, not UTF-8)."""


def open_regular(path: Path | str, *, follow_links: bool = False):
    """An open binary file object of ``path`` and its size, if it is a regular file.

    Opened without blocking (a FIFO with no writer never hangs the reader) and checked on the open
    descriptor (no swap between check and read): a FIFO, device, socket or folder is refused, and so is
    a symbolic link unless ``follow_links`` (the user named the file; it must still end at a regular file,
    so a link to /dev/zero is refused)."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    if not follow_links:
        flags |= getattr(os, "O_NOFOLLOW", 0)
        try:
            if stat.S_ISLNK(os.lstat(path).st_mode):
                raise InputError("is a symbolic link; a regular file is required")
        except FileNotFoundError:
            raise InputError("no such file") from None
        except OSError as e:
            raise InputError(f"cannot read: {e.strerror or e}") from None
    try:
        fd = os.open(path, flags)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise InputError("is a symbolic link; a regular file is required") from None
        raise InputError(f"cannot read: {e.strerror or e}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise InputError("is not a regular file (a FIFO, device, socket or folder is never read)")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb"), st.st_size
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: Path | str, max_bytes: int, *, follow_links: bool = False) -> bytes:
    """The bytes of a regular file of at most ``max_bytes`` (checked before and while reading, so a file
    that grows is caught too). Raises InputError with a message that does not repeat the path."""
    f, size = open_regular(path, follow_links=follow_links)
    with f:
        if size > max_bytes:
            raise InputError(f"file is {size:,} bytes; the limit is {max_bytes:,} bytes")
        try:
            raw = f.read(size + 1)  # one byte more than its size: a file that grows is caught
        except OSError as e:
            raise InputError(f"cannot read: {e.strerror or e}") from None
    if len(raw) > size:
        raise InputError("file grew while it was read")
    return raw


def read_text(path: Path | str, max_bytes: int, *, follow_links: bool = False) -> str:
    """``read_regular`` decoded as strict UTF-8 (a byte-order mark is dropped)."""
    raw = read_regular(path, max_bytes, follow_links=follow_links)
    try:
        return raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as e:
        raise InputError(f"not UTF-8 (byte {e.start})") from None


# --- writing several files: all or nothing ------------------------------------------------------------


def _check_route(root: Path, rel: PurePosixPath) -> bool:
    """Whether ``root/rel`` exists (as a regular file), checking every folder on the way without making any."""
    folder = ensure_dir(root, rel.parent, create=False)
    return folder is not None and check_target(folder / rel.name)


def write_all_under(root: Path, files: dict[PurePosixPath | str, bytes]) -> tuple[list[Path], list[Path]]:
    """Write many new files under ``root`` all or nothing: every place is checked first (no links, nothing
    that is not a folder on the way), every file is staged in full, and only then linked into place
    (never replacing a file); on any failure what was placed is removed again. Files already there are
    left as they are (returned second); returns (written, existing)."""
    root = Path(root)
    todo: list[tuple[PurePosixPath, bytes]] = []
    existing: list[Path] = []
    for rel, data in files.items():
        rel = PurePosixPath(rel)
        if _check_route(root, rel):
            existing.append(root / rel)
        else:
            todo.append((rel, data))
    if not todo:
        return [], existing
    root.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".staging-", dir=root))
    placed: list[Path] = []
    made: list[Path] = []
    try:
        staged = []
        for i, (rel, data) in enumerate(todo):
            tmp = stage / f"{i}.tmp"
            with open(tmp, "xb") as f:
                os.fchmod(f.fileno(), _file_mode())
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            staged.append((tmp, rel))
        for tmp, rel in staged:
            cur = root
            for part in rel.parent.parts:
                cur = cur / part
                if not os.path.lexists(cur):
                    made.append(cur)
            ensure_dir(root, rel.parent)
            target = root / rel
            os.link(tmp, target)  # fails if something appeared there meanwhile: never replaces
            placed.append(target)
    except BaseException:
        for p in placed:
            p.unlink(missing_ok=True)
        for d in reversed(made):
            with contextlib.suppress(OSError):
                d.rmdir()
        raise
    finally:
        for p in stage.iterdir():
            p.unlink(missing_ok=True)
        stage.rmdir()
    return placed, existing


# --- untrusted files by kind (one cap per kind) ----------------------------------------------------------


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
    "partial-scores": Kind(256 * 1024 * 1024, links=False),  # a part of an evaluation kept to resume (evaluate/partial.py)
}


def read_bounded(path: Path | str, kind: str, max_bytes: int | None = None) -> bytes:
    """The bytes of ``path`` as its kind (KINDS) may be, read once through ``read_regular``: a regular file only (never
    a FIFO, device or folder; a symbolic link only where the kind allows it), at most the kind's cap (checked on the
    open file and again while reading). Errors are one line naming the file."""
    spec = KINDS[kind]
    cap = spec.max_bytes if max_bytes is None else max_bytes
    try:
        return read_regular(path, cap, follow_links=spec.links)
    except InputError as e:
        raise InputError(f"{path}: {e}") from None


def decode_utf8(raw: bytes, where: object) -> str:
    """Strict UTF-8 (no replacement characters, no byte-order mark guessing); one line naming the byte."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(f"{where}: not UTF-8 text (byte {e.start})") from None


def read_text_bounded(path: Path | str, kind: str, max_bytes: int | None = None) -> str:
    return decode_utf8(read_bounded(path, kind, max_bytes), path)


def read_json_bounded(path: Path | str, kind: str, max_bytes: int | None = None) -> object:
    """JSON from a bounded read, parsed by the project's one strict JSON reader (validate.parse_json: UTF-8 without
    BOM, no NaN/Infinity, no duplicate keys, bounded nesting); errors are one line naming the file."""
    from .validate import LoadError, parse_json

    raw = read_bounded(path, kind, max_bytes)
    try:
        return parse_json(raw)
    except LoadError as e:
        raise InputError(f"{path}: {e}") from None

