"""`leaderboard data fetch bear`: download BEAR at its pinned upstream commit and check every file.

GitHub builds commit archives on the fly, so the archive's own bytes are not stable; what is pinned is the
content: ``data/bear_manifest.json`` lists the sha256 of every file of ``lm-pub-quiz/BEAR`` at the commit
(BEAR/, BEAR-big/, relation_info.json, bear_lite_indices.json, README.md). Nothing is installed unless every
listed file is present with its hash.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import zipfile
from importlib import resources
from pathlib import Path

from .lama_fetch import FetchError, download, safe_extract

DEFAULT_DEST = Path.home() / ".cache" / "compression-leaderboard" / "bear"


def manifest() -> dict:
    return json.loads((resources.files("leaderboard") / "data" / "bear_manifest.json").read_text(encoding="utf-8"))


def fetch_bear(url: str | None = None, dest: Path = DEFAULT_DEST, sha256: str | None = None, progress: bool = True,
               log=print) -> Path:
    """Download the archive (``url``: default the pinned commit on GitHub; file:// works), verify each file
    against the manifest, then move BEAR/, BEAR-big/ and the metadata files into ``dest``."""
    man = manifest()
    url = url or man["url"]
    dest = Path(dest)
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "bear.zip"
        digest = download(url, archive, progress)
        log(f"archive sha256 {digest}")
        if sha256 and digest != sha256.lower():
            raise FetchError(f"sha256 mismatch: expected {sha256}, got {digest}; nothing was unpacked")
        try:
            safe_extract(archive, Path(tmp) / "x")
        except zipfile.BadZipFile:
            raise FetchError(f"{url} is not a zip archive") from None
        root = Path(tmp) / "x"
        tops = [p for p in root.iterdir()]
        if len(tops) == 1 and tops[0].is_dir():  # GitHub archives: BEAR-<commit>/...
            root = tops[0]
        problems = []
        for rel, want in man["files"].items():
            f = root / rel
            if not f.is_file():
                problems.append(f"{rel}: missing")
            elif hashlib.sha256(f.read_bytes()).hexdigest() != want:
                problems.append(f"{rel}: sha256 differs from commit {man['commit'][:12]}")
        if problems:
            more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
            raise FetchError("the archive is not BEAR @ " + man["commit"][:12] + ": " + "; ".join(problems[:5]) + more
                             + "; nothing was installed")
        dest.mkdir(parents=True, exist_ok=True)
        for name in sorted({rel.split("/")[0] for rel in man["files"]}):
            target = dest / name
            if target.exists():
                shutil.rmtree(target) if target.is_dir() else target.unlink()
            shutil.move(str(root / name), target)
    (dest / "SOURCE.txt").write_text(
        f"{url}\nlm-pub-quiz/BEAR @ {man['commit']} (every file checked against its sha256)\n"
        "BEAR (Wiland, Ploner, Akbik 2024), CC BY-SA 4.0\n", encoding="utf-8")
    log(f"BEAR data in {dest} ({len(man['files'])} files checked)")
    return dest
