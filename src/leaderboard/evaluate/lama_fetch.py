"""`leaderboard data fetch lama`: download the official LAMA data.zip, check it, unpack it safely.

Bounded and careful with the user's files: the download stops at ``max_bytes`` (a ``file://`` source must be a
regular file: a FIFO or device is refused, never waited on); every archive entry's name is checked (no empty,
``.`` or ``..`` parts, no absolute path, no control character, no link, no file named like a folder) and its
size is capped while it is unpacked, whatever its header says. The archive is unpacked into a staging folder
inside ``dest``, and only then renamed into place, all or nothing; nothing the user made is ever replaced: an
entry of ``dest`` is replaced only if an earlier fetch put it there, as listed in the JSON manifest
``dest/SOURCE.json`` (a name cannot forge an entry of it, as it could a line of the old ``SOURCE.txt``, which is
never trusted).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import unicodedata
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath

LAMA_URL = "https://dl.fbaipublicfiles.com/LAMA/data.zip"
DEFAULT_DEST = Path.home() / ".cache" / "compression-leaderboard" / "lama"
MAX_DOWNLOAD = 2 * 1024**3
MAX_UNPACKED = 4 * 1024**3
MAX_ENTRY = 1024**3  # one file of an archive (LAMA's largest is ~100 MB, BEAR's ~10 MB)
MAX_ENTRIES = 100_000
MAX_MANIFEST_BYTES = 16 * 1024 * 1024
SUPPORTED_COMPRESSION = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
MANIFEST = "SOURCE.json"  # what a fetch installed in dest (JSON: names are data, never lines)
OLD_MANIFEST = "SOURCE.txt"  # the line manifest of earlier versions: read by no one
RESERVED = {MANIFEST.lower(), OLD_MANIFEST.lower()}
STAGING_PREFIX = ".fetch-"
# The archive's digest is not known offline; what is known is the content of its relations.jsonl (46
# relations; shared/data/lama/SOURCES.md: relations_lama_all46.jsonl = data.zip's relations.jsonl). Without
# --sha256, an archive fetched from the official URL must hold exactly that file.
OFFICIAL_CONTENT = {"relations.jsonl": "a35bc05a53939b844dd2441fbf6f80d0a6a315fee61c863db81b9b37124699ba"}


class FetchError(RuntimeError):
    pass


def _open_source(url: str):
    """(readable stream, size or None) of ``url``: http(s), or file:// naming a regular file (read without
    blocking on a FIFO; a device such as /dev/zero is not a file to fetch)."""
    from ..fsutil import InputError, open_regular

    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme == "file":
        path = urllib.request.url2pathname(urllib.parse.urlsplit(url).path)
        try:
            f, size = open_regular(path, follow_links=True)
        except InputError as e:
            raise FetchError(f"{url}: {e}") from None
        return f, size
    if scheme not in ("http", "https"):
        raise FetchError(f"{url}: only https://, http:// and file:// sources are fetched")
    resp = urllib.request.urlopen(url, timeout=60)  # noqa: S310 (user-given URL, scheme checked)
    return resp, int(resp.headers.get("Content-Length") or 0) or None


def download(url: str, target: Path, progress: bool = True, max_bytes: int = MAX_DOWNLOAD) -> str:
    """Stream ``url`` (http(s) or file://) to ``target``, at most ``max_bytes``; returns its sha256."""
    h = hashlib.sha256()
    got = 0
    try:
        src, total = _open_source(url)
        with src as resp, open(target, "wb") as out:
            if total is not None and total > max_bytes:
                raise FetchError(f"{url} is {total:,} bytes; the limit is {max_bytes:,} (--max-bytes)")
            bar = None
            if progress:
                from tqdm.auto import tqdm

                bar = tqdm(total=total, unit="B", unit_scale=True, desc=PurePosixPath(url).name[:40] or "download")
            for block in iter(lambda: resp.read(1 << 20), b""):
                got += len(block)
                if got > max_bytes:
                    raise FetchError(f"{url} is larger than {max_bytes:,} bytes (--max-bytes); stopped")
                out.write(block)
                h.update(block)
                if bar:
                    bar.update(len(block))
            if bar:
                bar.close()
    except (OSError, ValueError) as e:  # ValueError: a malformed URL
        raise FetchError(f"cannot download {url}: {e}") from None
    return h.hexdigest()


def sha256_file(path: Path, max_bytes: int = MAX_ENTRY) -> str:
    """sha256 of an unpacked file, read in blocks (never whole) and at most ``max_bytes``."""
    h = hashlib.sha256()
    got = 0
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            got += len(block)
            if got > max_bytes:
                raise FetchError(f"{path.name} is larger than {max_bytes:,} bytes; refusing")
            h.update(block)
    return h.hexdigest()


def _bad_name(name: str) -> str | None:
    """Why an archive entry's name is refused, or None. A folder entry ends in one '/'."""
    if not name or name in ("/", "."):
        return "an empty name"
    if any(unicodedata.category(ch)[0] == "C" or unicodedata.category(ch) in ("Zl", "Zp") for ch in name):
        return "a control or invisible character in the name"
    if name.startswith("/") or "\\" in name or ":" in name:
        return "an absolute or drive path"
    parts = name[:-1].split("/") if name.endswith("/") else name.split("/")
    if any(part in ("", ".", "..") for part in parts):
        return "an empty, '.' or '..' part"
    return None


def _check_entries(infos: list[zipfile.ZipInfo]) -> None:
    if len(infos) > MAX_ENTRIES:
        raise FetchError(f"archive has {len(infos):,} entries; refusing more than {MAX_ENTRIES:,}")
    if sum(i.file_size for i in infos) > MAX_UNPACKED:
        raise FetchError("archive unpacks to more than 4 GiB; refusing")
    files: set[str] = set()
    dirs: set[str] = set()
    for info in infos:
        why = _bad_name(info.filename)
        mode = (info.external_attr >> 16) & 0o170000
        if why is None and mode == 0o120000:
            why = "a symbolic link"
        if why is None and info.is_dir() and (info.file_size or info.compress_size > 2 or mode == 0o100000):
            why = "a file named like a folder (a trailing '/')"
        if why is not None:
            raise FetchError(f"unsafe path in archive: {info.filename!r} ({why})")
        if info.file_size > MAX_ENTRY:
            raise FetchError(f"{info.filename!r} unpacks to {info.file_size:,} bytes; refusing more than {MAX_ENTRY:,} "
                             "per file")
        p = PurePosixPath(info.filename)
        if info.flag_bits & 0x1:
            raise FetchError(f"{info.filename!r} is encrypted; refusing")
        if info.compress_type not in SUPPORTED_COMPRESSION:
            raise FetchError(f"{info.filename!r} uses compression method {info.compress_type}, which is not supported")
        key = p.as_posix().lower()  # a clash on case-insensitive file systems is a clash
        parents = {PurePosixPath(*p.parts[:k]).as_posix().lower() for k in range(1, len(p.parts))}
        if info.is_dir():
            if key in files:
                raise FetchError(f"{info.filename!r} is both a file and a folder in the archive")
            dirs.add(key)
        else:
            if key in files or key in dirs:
                raise FetchError(f"{info.filename!r} appears twice in the archive")
            files.add(key)
        if parents & files:
            raise FetchError(f"{info.filename!r} lies below an entry that is a file")
        dirs |= parents


def safe_extract(archive: Path, dest: Path) -> list[str]:
    """Unpack a zip refusing unsafe names (see _bad_name), links, clashes, encrypted entries, unknown compression,
    a file over MAX_ENTRY and archives that unpack to over 4 GiB (counted as they unpack, whatever the headers
    claim)."""
    try:
        with zipfile.ZipFile(archive) as z:
            infos = z.infolist()
            _check_entries(infos)
            written = 0
            for info in infos:
                target = dest.joinpath(*PurePosixPath(info.filename).parts)
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                this = 0
                with z.open(info) as src, open(target, "xb") as out:
                    for block in iter(lambda src=src: src.read(1 << 20), b""):
                        written += len(block)
                        this += len(block)
                        if this > MAX_ENTRY:
                            raise FetchError(f"{info.filename!r} unpacks to more than {MAX_ENTRY:,} bytes; refusing")
                        if written > MAX_UNPACKED:
                            raise FetchError("archive unpacks to more than 4 GiB; refusing")
                        out.write(block)
            return [i.filename for i in infos]
    except zipfile.BadZipFile as e:
        raise FetchError(f"not a valid zip archive: {e}") from None
    except FileExistsError as e:
        raise FetchError(f"{e.filename}: two entries of the archive unpack to the same file") from None
    except (NotImplementedError, RuntimeError, EOFError, OSError) as e:  # unsupported features, truncated data
        raise FetchError(f"cannot unpack the archive: {e}") from None


# --- installing into dest: a JSON manifest, all or nothing --------------------------------------------------------


def owned(dest: Path) -> set[str]:
    """Entries of ``dest`` an earlier fetch put there (its JSON manifest). A manifest that is not exactly what
    a fetch writes is refused, never guessed at."""
    from ..fsutil import InputError, read_regular
    from ..validate import LoadError, parse_json

    path = dest / MANIFEST
    if not os.path.lexists(path):
        return set()
    try:
        data = parse_json(read_regular(path, MAX_MANIFEST_BYTES))
    except (InputError, LoadError) as e:
        raise FetchError(f"{path}: {e}; nothing was changed (remove it to fetch into an empty --dest)") from None
    entries = data.get("entries") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not all(isinstance(e, str) and "/" not in e and _bad_name(e) is None
                                               and e.lower() not in RESERVED for e in entries):
        raise FetchError(f"{path}: not a fetch manifest (a list of plain entry names); nothing was changed")
    return set(entries)


def check_dest(dest: Path, names: list[str]) -> list[str]:
    """Which of ``names`` (top-level entries to install) are in ``dest`` already; refuses (nothing changed) if any
    is not from an earlier fetch, or is a name the manifest needs."""
    if dest.exists() and not dest.is_dir():
        raise FetchError(f"--dest {dest} exists and is not a folder")
    reserved = [n for n in names if n.lower() in RESERVED or n.startswith(STAGING_PREFIX)]
    if reserved:
        raise FetchError(f"the archive holds {reserved[0]!r}, a name this fetch keeps for itself; nothing was changed")
    clashes = [n for n in names if os.path.lexists(dest / n)]
    if not clashes:
        return []
    mine = owned(dest)
    foreign = [n for n in clashes if n not in mine]
    if foreign:
        old = (f" ({OLD_MANIFEST} is the manifest of an older version, which is not trusted: a file name could "
               "forge its lines; move the entries it lists out of the way and fetch again)"
               if os.path.lexists(dest / OLD_MANIFEST) and not os.path.lexists(dest / MANIFEST) else "")
        raise FetchError(f"--dest {dest} already holds {', '.join(foreign[:5])} (not from an earlier fetch); "
                         f"nothing was changed. Choose an empty --dest or move them{old}")
    return clashes


@contextlib.contextmanager
def staging(dest: Path):
    """A staging folder inside ``dest`` (same file system: installing is renames only), removed afterwards; a
    ``dest`` this fetch made is removed again if nothing was installed."""
    made = not dest.exists()
    try:
        dest.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=dest))
    except OSError as e:
        raise FetchError(f"cannot write in --dest {dest}: {e.strerror or e}") from None
    try:
        yield stage
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        if made:
            with contextlib.suppress(OSError):
                dest.rmdir()  # only if empty: nothing was installed


def install(root: Path, dest: Path, names: list[str], stage: Path, info: dict) -> None:
    """Rename ``root/<name>`` into ``dest`` for every name, all or nothing: what an earlier fetch put there is
    moved aside first and put back if any rename fails; then the manifest is written in one rename."""
    from ..fsutil import write_atomic

    clashes = set(check_dest(dest, names))  # again, right before changing anything
    previous = owned(dest)
    aside = stage / ".replaced"
    aside.mkdir()
    moved: list[str] = []
    placed: list[str] = []
    try:
        for name in names:
            if name in clashes:
                os.rename(dest / name, aside / name)
                moved.append(name)
            os.rename(root / name, dest / name)
            placed.append(name)
        kept = {n for n in previous if n not in placed and os.path.lexists(dest / n)}  # an earlier fetch's, still there
        manifest = {**info, "entries": sorted(set(names) | kept)}
        write_atomic(dest / MANIFEST, (json.dumps(manifest, indent=2, ensure_ascii=True) + "\n").encode("ascii"))
    except BaseException as e:
        for name in placed:
            with contextlib.suppress(OSError):
                os.rename(dest / name, root / name)
        for name in moved:
            with contextlib.suppress(OSError):
                os.rename(aside / name, dest / name)
        if isinstance(e, OSError):
            raise FetchError(f"cannot install into {dest}: {e.strerror or e}; nothing was changed") from None
        raise


def _top_level(names: list[str]) -> tuple[str | None, list[str]]:
    """The archive's one top folder, if all entries lie in one, and the top-level names below it."""
    parts = [PurePosixPath(n).parts for n in names if n]
    tops = {p[0] for p in parts}
    if len(tops) == 1 and any(len(p) > 1 for p in parts):
        top = next(iter(tops))
        return top, sorted({p[1] for p in parts if len(p) > 1})
    return None, sorted(tops)


def fetch_lama(url: str = LAMA_URL, dest: Path = DEFAULT_DEST, sha256: str | None = None, progress: bool = True,
               log=print, max_bytes: int = MAX_DOWNLOAD) -> Path:
    """Download and unpack LAMA into ``dest`` (its ``data/`` folder's contents land directly in it)."""
    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise FetchError(f"--dest {dest} exists and is not a folder")
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "data.zip"
        digest = download(url, archive, progress, max_bytes)
        log(f"sha256 {digest}")
        if sha256 and digest != sha256.lower():
            raise FetchError(f"sha256 mismatch: expected {sha256}, got {digest}; nothing was unpacked")
        try:
            with zipfile.ZipFile(archive) as z:
                infos = z.infolist()
        except zipfile.BadZipFile as e:
            raise FetchError(f"{url}: not a valid zip archive: {e}") from None
        _check_entries(infos)
        top, names = _top_level([i.filename for i in infos])
        check_dest(dest, names)  # before anything is unpacked or changed
        with staging(dest) as stage:
            safe_extract(archive, stage / "x")
            root = stage / "x" / top if top else stage / "x"
            if not sha256 and url == LAMA_URL:
                for name, want in OFFICIAL_CONTENT.items():
                    f = root / name
                    got = sha256_file(f) if f.is_file() and not f.is_symlink() else "missing"
                    if got != want:
                        raise FetchError(f"{url}: {name} is not the published LAMA file (sha256 {got}); nothing was "
                                         "unpacked. Pass --sha256 of an archive you trust to override")
            install(root, dest, names, stage, {"dataset": "LAMA (Petroni et al. 2019)", "license": "CC BY-NC 4.0",
                                               "url": url, "sha256": digest})
    log(f"LAMA data in {dest}")
    return dest
