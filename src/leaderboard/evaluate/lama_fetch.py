"""`leaderboard data fetch lama`: download the official LAMA data.zip, check it, unpack it safely.

Bounded and careful with the user's files: the download stops at ``max_bytes``; the archive is
unpacked into a private folder first (entries checked one by one: paths, links, name clashes,
encryption, compression methods, real unpacked sizes), and only then moved into ``dest``, where
nothing the user made is ever replaced: an entry of ``dest`` is replaced only if an earlier fetch
put it there (listed in ``dest/SOURCE.txt``).
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath

LAMA_URL = "https://dl.fbaipublicfiles.com/LAMA/data.zip"
DEFAULT_DEST = Path.home() / ".cache" / "compression-leaderboard" / "lama"
MAX_DOWNLOAD = 2 * 1024**3
MAX_UNPACKED = 4 * 1024**3
MAX_ENTRIES = 100_000
SUPPORTED_COMPRESSION = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
MANIFEST = "SOURCE.txt"
# The archive's digest is not known offline; what is known is the content of its relations.jsonl (46
# relations; shared/data/lama/SOURCES.md: relations_lama_all46.jsonl = data.zip's relations.jsonl). Without
# --sha256, an archive fetched from the official URL must hold exactly that file.
OFFICIAL_CONTENT = {"relations.jsonl": "a35bc05a53939b844dd2441fbf6f80d0a6a315fee61c863db81b9b37124699ba"}


class FetchError(RuntimeError):
    pass


def download(url: str, target: Path, progress: bool = True, max_bytes: int = MAX_DOWNLOAD) -> str:
    """Stream ``url`` (http(s) or file://) to ``target``, at most ``max_bytes``; returns its sha256."""
    h = hashlib.sha256()
    got = 0
    try:
        with urllib.request.urlopen(url, timeout=60) as resp, open(target, "wb") as out:  # noqa: S310 (user-given URL)
            total = int(resp.headers.get("Content-Length") or 0) or None
            if total is not None and total > max_bytes:
                raise FetchError(f"{url} is {total:,} bytes; the limit is {max_bytes:,} (--max-bytes)")
            bar = None
            if progress:
                from tqdm.auto import tqdm

                bar = tqdm(total=total, unit="B", unit_scale=True, desc="LAMA data.zip")
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


def _check_entries(infos: list[zipfile.ZipInfo]) -> None:
    if len(infos) > MAX_ENTRIES:
        raise FetchError(f"archive has {len(infos):,} entries; refusing more than {MAX_ENTRIES:,}")
    if sum(i.file_size for i in infos) > MAX_UNPACKED:
        raise FetchError("archive unpacks to more than 4 GiB; refusing")
    files: set[str] = set()
    dirs: set[str] = set()
    for info in infos:
        p = PurePosixPath(info.filename)
        if (p.is_absolute() or ".." in p.parts or "\\" in info.filename or ":" in info.filename
                or (info.external_attr >> 16) & 0o170000 == 0o120000):
            raise FetchError(f"unsafe path in archive: {info.filename!r}")
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
    """Unpack a zip refusing absolute paths, '..', links, clashes, encrypted entries, unknown compression
    and archives that unpack to over 4 GiB (counted as they unpack, whatever the headers claim)."""
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
                with z.open(info) as src, open(target, "xb") as out:
                    for block in iter(lambda src=src: src.read(1 << 20), b""):
                        written += len(block)
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


def _owned(dest: Path) -> set[str]:
    """Entries of ``dest`` an earlier fetch put there (listed in its manifest)."""
    manifest = dest / MANIFEST
    if not manifest.is_file():
        return set()
    lines = manifest.read_text(encoding="utf-8", errors="replace").splitlines()
    return {line.removeprefix("entry ") for line in lines if line.startswith("entry ")}


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
        names = safe_extract(archive, Path(tmp) / "x")
        root = Path(tmp) / "x"
        tops = {PurePosixPath(n).parts[0] for n in names if n}
        if len(tops) == 1 and (root / next(iter(tops))).is_dir():
            root = root / next(iter(tops))
        if not sha256 and url == LAMA_URL:
            for name, want in OFFICIAL_CONTENT.items():
                f = root / name
                got = hashlib.sha256(f.read_bytes()).hexdigest() if f.is_file() else "missing"
                if got != want:
                    raise FetchError(f"{url}: {name} is not the published LAMA file (sha256 {got}); nothing was "
                                     "unpacked. Pass --sha256 of an archive you trust to override")
        items = sorted(root.iterdir())
        owned = _owned(dest)
        clashes = [i.name for i in items if (dest / i.name).exists() or (dest / i.name).is_symlink()]
        foreign = [n for n in clashes if n not in owned]
        if foreign:
            raise FetchError(f"--dest {dest} already holds {', '.join(foreign[:5])} (not from an earlier fetch); "
                             "nothing was changed. Choose an empty --dest or move them")
        dest.mkdir(parents=True, exist_ok=True)
        for item in items:
            target = dest / item.name
            if item.name in clashes:  # from an earlier fetch: replace it
                shutil.rmtree(target) if target.is_dir() and not target.is_symlink() else target.unlink()
            shutil.move(str(item), target)
    entries = "".join(f"entry {i.name}\n" for i in items)
    (dest / MANIFEST).write_text(f"{url}\nsha256 {digest}\nLAMA (Petroni et al. 2019), CC BY-NC 4.0\n{entries}")
    log(f"LAMA data in {dest}")
    return dest
