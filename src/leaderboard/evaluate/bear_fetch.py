"""`leaderboard data fetch bear`: download BEAR at its pinned upstream commit and check every file.

GitHub builds commit archives on the fly, so the archive's own bytes are not stable; what is pinned is the
content: ``data/bear_manifest.json`` lists the sha256 of every file of ``lm-pub-quiz/BEAR`` at the commit
(BEAR/, BEAR-big/, relation_info.json, bear_lite_indices.json, README.md). Nothing is installed unless every
listed file is present with its hash.
"""

from __future__ import annotations

import json
import tempfile
import zipfile
from importlib import resources
from pathlib import Path, PurePosixPath

from .lama_fetch import (
    FetchError,
    _check_entries,
    _top_level,
    check_dest,
    download,
    install,
    safe_extract,
    sha256_file,
    staging,
)

DEFAULT_DEST = Path.home() / ".cache" / "compression-leaderboard" / "bear"


def manifest() -> dict:
    return json.loads((resources.files("leaderboard") / "data" / "bear_manifest.json").read_text(encoding="utf-8"))


def fetch_bear(url: str | None = None, dest: Path = DEFAULT_DEST, sha256: str | None = None, progress: bool = True,
               log=print) -> Path:
    """Download the archive (``url``: default the pinned commit on GitHub; file:// works), verify each file
    against the manifest, then move BEAR/, BEAR-big/ and the metadata files into ``dest`` (all or nothing;
    only what an earlier fetch put there is ever replaced: lama_fetch.install)."""
    man = manifest()
    url = url or man["url"]
    dest = Path(dest)
    names = sorted({rel.split("/")[0] for rel in man["files"]})
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "bear.zip"
        digest = download(url, archive, progress)
        log(f"archive sha256 {digest}")
        if sha256 and digest != sha256.lower():
            raise FetchError(f"sha256 mismatch: expected {sha256}, got {digest}; nothing was unpacked")
        try:
            with zipfile.ZipFile(archive) as z:
                infos = z.infolist()
        except zipfile.BadZipFile:
            raise FetchError(f"{url} is not a zip archive") from None
        _check_entries(infos)
        top, _names = _top_level([i.filename for i in infos])  # GitHub archives: BEAR-<commit>/...
        check_dest(dest, names)  # before anything is unpacked or changed
        with staging(dest) as stage:
            safe_extract(archive, stage / "x")
            root = stage / "x" / top if top else stage / "x"
            problems = []
            for rel, want in man["files"].items():
                f = root.joinpath(*PurePosixPath(rel).parts)
                if not f.is_file():
                    problems.append(f"{rel}: missing")
                elif sha256_file(f) != want:
                    problems.append(f"{rel}: sha256 differs from commit {man['commit'][:12]}")
            if problems:
                more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
                raise FetchError("the archive is not BEAR @ " + man["commit"][:12] + ": " + "; ".join(problems[:5])
                                 + more + "; nothing was installed")
            install(root, dest, names, stage, {"dataset": f"lm-pub-quiz/BEAR @ {man['commit']} (every file checked "
                                               "against its sha256)", "license": "BEAR (Wiland, Ploner, Akbik 2024), "
                                               "CC BY-SA 4.0", "url": url, "sha256": digest})
    log(f"BEAR data in {dest} ({len(man['files'])} files checked)")
    return dest
