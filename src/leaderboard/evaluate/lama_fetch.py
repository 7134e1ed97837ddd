"""`leaderboard data fetch lama`: download the official LAMA data.zip, check it, unpack it safely."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath

LAMA_URL = "https://dl.fbaipublicfiles.com/LAMA/data.zip"
DEFAULT_DEST = Path.home() / ".cache" / "compression-leaderboard" / "lama"
MAX_UNPACKED = 4 * 1024**3


class FetchError(RuntimeError):
    pass


def download(url: str, target: Path, progress: bool = True) -> str:
    """Stream ``url`` (http(s) or file://) to ``target``; returns its sha256."""
    h = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=60) as resp, open(target, "wb") as out:  # noqa: S310 (user-given URL)
            total = int(resp.headers.get("Content-Length") or 0) or None
            bar = None
            if progress:
                from tqdm.auto import tqdm

                bar = tqdm(total=total, unit="B", unit_scale=True, desc="LAMA data.zip")
            for block in iter(lambda: resp.read(1 << 20), b""):
                out.write(block)
                h.update(block)
                if bar:
                    bar.update(len(block))
            if bar:
                bar.close()
    except OSError as e:
        raise FetchError(f"cannot download {url}: {e}") from None
    return h.hexdigest()


def safe_extract(archive: Path, dest: Path) -> list[str]:
    """Unpack a zip refusing absolute paths, '..', links and archives that unpack to over 4 GiB."""
    with zipfile.ZipFile(archive) as z:
        infos = z.infolist()
        if sum(i.file_size for i in infos) > MAX_UNPACKED:
            raise FetchError("archive unpacks to more than 4 GiB; refusing")
        names = []
        for info in infos:
            p = PurePosixPath(info.filename)
            if p.is_absolute() or ".." in p.parts or (info.external_attr >> 16) & 0o170000 == 0o120000:
                raise FetchError(f"unsafe path in archive: {info.filename!r}")
            names.append(info.filename)
        z.extractall(dest)
    return names


def fetch_lama(url: str = LAMA_URL, dest: Path = DEFAULT_DEST, sha256: str | None = None, progress: bool = True,
               log=print) -> Path:
    """Download and unpack LAMA into ``dest`` (its ``data/`` folder's contents land directly in it)."""
    dest = Path(dest)
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "data.zip"
        digest = download(url, archive, progress)
        log(f"sha256 {digest}")
        if sha256 and digest != sha256.lower():
            raise FetchError(f"sha256 mismatch: expected {sha256}, got {digest}; nothing was unpacked")
        try:
            names = safe_extract(archive, Path(tmp) / "x")
        except zipfile.BadZipFile:
            raise FetchError(f"{url} is not a zip archive") from None
        root = Path(tmp) / "x"
        tops = {PurePosixPath(n).parts[0] for n in names if n}
        if len(tops) == 1 and (root / next(iter(tops))).is_dir():
            root = root / next(iter(tops))
        dest.mkdir(parents=True, exist_ok=True)
        for item in root.iterdir():
            target = dest / item.name
            if target.exists():
                shutil.rmtree(target) if target.is_dir() else target.unlink()
            shutil.move(str(item), target)
    (dest / "SOURCE.txt").write_text(f"{url}\nsha256 {digest}\nLAMA (Petroni et al. 2019), CC BY-NC 4.0\n")
    log(f"LAMA data in {dest}")
    return dest
