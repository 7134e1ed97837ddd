"""Write files under a root folder without following links out of it, atomically, world-readable.

Run files are public: they are written with the usual permissions of a new file (0644 under the
common umask 022), never 0600, and never through a symbolic link planted inside ``runs/``.
"""

from __future__ import annotations

import os
import stat
import tempfile
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
