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
AFTER = re.compile(r"<!-- leaderboard-after:([0-9a-f]{32}) -->")  # site.Site._defer: HTML put back after rendering
AFTER_TEXT = "<!-- leaderboard-after:{} -->"  # what AFTER matches, for a block's key


def _generated(config) -> Path:
    env = os.environ.get("LEADERBOARD_GENERATED")
    return Path(env) if env else Path(config.config_file_path).parent / "build" / "generated"


class LinkedFile(File):
    """A generated file (data, chart, download) put into the site as a hard link, not a copy: the build replaces a
    generated file that changed by a new one (a new inode, never rewritten in place), so the site keeps its bytes,
    and a rebuild writes only what changed (issue 22, scale: 250 MB of data at 100,000 runs). Where a link cannot be
    made (another file system), it is copied."""

    def copy_file(self, dirty: bool = False) -> None:
        if getattr(self, "_content", None) is None and self.abs_src_path:
            dest = self.abs_dest_path
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            try:
                if os.path.lexists(dest):
                    os.unlink(dest)
                os.link(self.abs_src_path, dest)
                return
            except OSError:
                pass
        super().copy_file(dirty)


DATA = "data"  # the generated data files (boards' rows, compare's): put into the site by `leaderboard build` itself
DATA_LINKED = "LEADERBOARD_DATA_LINKED"  # set by `leaderboard build` (build.mkdocs_build): MkDocs leaves data/ out


def on_files(files: Files, config) -> Files:
    root = _generated(config)
    if not root.is_dir():
        return files
    # `leaderboard build` links the data files (14,000 at 100,000 runs, none of them a page) into the site itself,
    # meanwhile, on the other core (build.Linking); `mkdocs build` or `serve` on its own takes them here
    skip = f"{DATA}/" if os.environ.get(DATA_LINKED) == "1" else None
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_dir() or rel.startswith("_") or (skip and rel.startswith(skip)):
            continue
        existing = files.get_file_from_path(rel)
        if existing is not None:
            files.remove(existing)
        cls = File if rel.endswith(".md") else LinkedFile
        files.append(cls(rel, str(root), config.site_dir, config.use_directory_urls))
    return files


def on_page_markdown(markdown: str, page, config, files) -> str:
    root = _generated(config) / "_snippets"

    extra = config.get("extra") or {}

    def fill(m: re.Match) -> str:
        if m.group(1).startswith("link-"):  # a link configured once in mkdocs.yml (extra.repository, extra.submit_run)
            from html import escape

            url = str(extra.get(m.group(1)[5:]) or "")
            return f'<a href="{escape(url, quote=True)}">{escape(url)}</a>' if url else ""
        snippet = root / f"{m.group(1)}.html"
        return snippet.read_text(encoding="utf-8") if snippet.exists() else ""

    text = PLACEHOLDER.sub(fill, markdown)
    banner = root / "_banner.html"  # toy / synthetic / reported-only data: said on every page without its own status
    if "data-page-status" in text:  # a data page (or the run pages' shell) says what it holds itself
        return text
    if banner.exists() and banner.stat().st_size:
        head, sep, rest = text.partition("\n# ")
        if sep and head.startswith("---"):  # after the front matter, before the title
            return head + "\n" + banner.read_text(encoding="utf-8") + "# " + rest
        return banner.read_text(encoding="utf-8") + text
    return text


SEARCHED = re.compile(r"<!-- leaderboard-search:([0-9a-f]{32}) -->.*?<!-- leaderboard-end:\1 -->", re.S)


def on_page_content(html: str, page, config, files) -> str:
    """Where a deferred block is to be found by the site search (site.searched_as: a model page's run list), the
    search reads its stand-in, between markers that on_post_page replaces with the block itself."""
    root = _generated(config) / "_snippets"

    def stand_in(m: re.Match) -> str:
        searched = root / f"search-{m.group(1)}.html"
        if not searched.is_file():
            return m.group(0)
        return (f"<!-- leaderboard-search:{m.group(1)} -->{searched.read_text(encoding='utf-8')}"
                f"<!-- leaderboard-end:{m.group(1)} -->")

    return AFTER.sub(stand_in, html)


def on_post_page(output: str, page, config) -> str:
    """Put back the big generated HTML (charts' specs, boards' tables) that MkDocs only saw as a placeholder: Markdown
    passes raw HTML through unchanged, so the page is the same, without parsing megabytes twice per page."""
    root = _generated(config) / "_snippets"

    def fill(m: re.Match) -> str:
        snippet = root / f"after-{m.group(1)}.html"
        if not snippet.is_file():
            from mkdocs.exceptions import PluginError

            raise PluginError(f"{page.file.src_uri}: generated HTML {m.group(1)} is missing from {root}")
        return snippet.read_text(encoding="utf-8")

    return AFTER.sub(fill, SEARCHED.sub(lambda m: AFTER_TEXT.format(m.group(1)), output))
