"""MkDocs hook: add the generated pages (a git-ignored folder) and fill placeholders in hand-written pages.

Hand-written pages in site/ may hold `<!-- leaderboard:NAME -->`; it is replaced by the generated snippet
NAME. Hand-written files are never modified on disk.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from mkdocs.structure.files import File, Files

PLACEHOLDER = re.compile(r"<!--\s*leaderboard:([a-z0-9_-]+)\s*-->")


def _generated(config) -> Path:
    env = os.environ.get("LEADERBOARD_GENERATED")
    return Path(env) if env else Path(config.config_file_path).parent / "build" / "generated"


def on_files(files: Files, config) -> Files:
    root = _generated(config)
    if not root.is_dir():
        return files
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_dir() or rel.startswith("_"):
            continue
        existing = files.get_file_from_path(rel)
        if existing is not None:
            files.remove(existing)
        files.append(File(rel, str(root), config.site_dir, config.use_directory_urls))
    return files


def on_page_markdown(markdown: str, page, config, files) -> str:
    root = _generated(config) / "_snippets"

    def fill(m: re.Match) -> str:
        snippet = root / f"{m.group(1)}.html"
        return snippet.read_text(encoding="utf-8") if snippet.exists() else ""

    return PLACEHOLDER.sub(fill, markdown)
