"""MkDocs hook: add the generated pages (a git-ignored folder) and fill placeholders in hand-written pages.

Hand-written pages in site/ may hold `<!-- leaderboard:NAME -->`; it is replaced by the generated snippet
NAME. Hand-written files are never modified on disk.

Under `leaderboard build` (PAGE_CACHE set) each page's rendering is kept across builds (PageCache): a page whose
Markdown, metadata and surroundings (the configuration, the site's files and navigation, the theme's and this hook's
code) are those of a page the last successful build rendered is not rendered again.
"""

from __future__ import annotations

import hashlib
import json
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


PAGE_CACHE = "LEADERBOARD_PAGE_CACHE"  # set by `leaderboard build`: the folder each page's rendering is kept in
CACHED_TEMPLATE = "leaderboard-cached-page.html"  # the (empty) template of a page taken from the cache


class PageCache:
    """Each page's rendering as the last successful build made it (issue 22, scale: MkDocs rendered every page of the
    site again on every build, 2.7 s at 100,000 runs, for the few pages that changed). A page is taken from the cache
    where its key is the one it was rendered with: its Markdown (after on_page_markdown, so with the snippets filled in
    and the deferred blocks' content hashes) and metadata, under a key of everything around it (``surroundings``). A
    page taken is not converted, indexed or laid out: MkDocs converts an empty page with an empty template, and the
    hook puts back what the rendering gave, each where MkDocs would have made it: the template's output (before
    on_post_page, which puts the deferred blocks in as for any page), the search index's entries, the page's anchors,
    links to other pages' anchors and title (MkDocs checks anchors across pages). Nothing is kept from a build that
    failed or warned (strict: a warning fails the build; ``commit`` is called only after MkDocs returned), and nothing
    is taken where a plugin other than the search is configured (its work per page would be skipped)."""

    def __init__(self, folder: Path, search, generated: Path) -> None:
        self.folder = folder
        self.generated = generated  # the generated folder (_generated): its snippets
        self.search = search  # Material's search plugin (its index's entries)
        self.around = ""  # surroundings(): set by on_nav
        self.keys: dict[str, str] = {}  # src_uri -> this build's key of the page
        self.taken: dict[str, dict] = {}  # src_uri -> the cached rendering used
        self.made: dict[str, dict] = {}  # src_uri -> this build's rendering, for the next build
        self.seen = 0  # search entries up to the last page's
        self.pages = 0  # pages looked up (every page MkDocs makes)

    @staticmethod
    def surroundings(config, files, nav) -> str:
        from importlib.metadata import PackageNotFoundError, version

        h = hashlib.sha256(Path(__file__).read_bytes())
        h.update(Path(config.config_file_path).read_bytes())
        for dist in ("mkdocs", "mkdocs-material", "markdown", "jinja2", "pymdown-extensions"):
            try:
                h.update(f"|{dist}={version(dist)}".encode())
            except PackageNotFoundError:
                h.update(f"|{dist}=none".encode())
        h.update(json.dumps([str(config.site_url), config.extra, str(config.theme.name), str(config.docs_dir),
                             os.environ.get("SOURCE_DATE_EPOCH"), os.environ.get(DATA_LINKED)],
                            sort_keys=True, default=str).encode())
        for f in sorted(files, key=lambda f: f.src_uri):
            h.update(f"\0{f.src_uri}\0{f.dest_uri}".encode())
        h.update(str(nav).encode())
        return h.hexdigest()

    def _file(self, src_uri: str) -> Path:
        return self.folder / f"{hashlib.sha256(src_uri.encode()).hexdigest()[:32]}.json"

    def lookup(self, page, markdown: str) -> bool:
        """Whether the page is taken from the cache (then its rendering is in ``taken``)."""
        import orjson

        uri = page.file.src_uri
        self.pages += 1
        try:
            h = hashlib.sha256(json.dumps([self.around, uri, page.meta, markdown], sort_keys=True, default=repr).encode())
        except (TypeError, ValueError):  # metadata that JSON cannot sort (keys of mixed types): rendered, never kept
            return False
        # a deferred block's key is its content's hash, but what the search reads of it is made by other code
        # (site.searched_as): its stand-in is part of the page's key
        for block in sorted(set(AFTER.findall(markdown))):
            try:
                h.update(b"\0" + (self.generated / "_snippets" / f"search-{block}.html").read_bytes())
            except OSError:
                h.update(b"\0-")
        key = h.hexdigest()
        self.keys[uri] = key
        from leaderboard.fsutil import InputError, read_regular

        try:  # the builder's own file, read strictly all the same: anything else (damaged, foreign, a link) is no page
            kept = orjson.loads(read_regular(self._file(uri), 1 << 30))
        except (InputError, OSError, ValueError):
            return False
        if not (isinstance(kept, dict) and kept.get("key") == key and _well_formed(kept)):
            return False
        self.taken[uri] = kept
        return True

    def commit(self) -> tuple[int, int]:
        """Keep this build's renderings for the next one (after a successful build only); drop those of pages gone.
        Returns how many pages were rendered, of all."""
        import orjson

        from leaderboard.fsutil import write_atomic

        self.folder.mkdir(parents=True, exist_ok=True)
        for uri, made in self.made.items():
            if {"output", "entries"} <= made.keys():  # (no fsync: as the generated files these pages are made from)
                write_atomic(self._file(uri), orjson.dumps(made), sync=False)
        current = {self._file(uri).name for uri in self.keys}
        for entry in os.scandir(self.folder):
            if entry.name not in current:
                Path(entry.path).unlink(missing_ok=True)
        return self.pages - len(self.taken), self.pages


def _well_formed(kept: dict) -> bool:
    """Whether a cached page has the shape PageCache writes: the template's output, the search index's entries (texts;
    tags, a boost), the anchors, the links to other pages' anchors ({page: {anchor: link}}) and the title."""
    def texts(d: object) -> bool:
        return isinstance(d, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in d.items())

    entries, anchors, links, title = kept.get("entries"), kept.get("anchors"), kept.get("links"), kept.get("title")
    return (isinstance(kept.get("output"), str) and isinstance(entries, list)
            and all(isinstance(e, dict) and all(isinstance(e.get(k), str) for k in ("location", "title", "text"))
                    and set(e) <= {"location", "title", "text", "tags", "boost"}
                    and ("tags" not in e or isinstance(e["tags"], list) and all(isinstance(t, str) for t in e["tags"]))
                    and ("boost" not in e or type(e["boost"]) in (int, float, str)) for e in entries)
            and isinstance(anchors, list) and all(a is None or isinstance(a, str) for a in anchors)
            and isinstance(links, dict) and all(texts(v) for v in links.values())
            and (title is None or isinstance(title, str)))


_cache: PageCache | None = None


def on_config(config):
    """A page cache where `leaderboard build` asks for one and MkDocs' plugins are the search and this hook only."""
    global _cache
    _cache = None
    folder = os.environ.get(PAGE_CACHE)
    others = [name for name, plugin in config.plugins.items()
              if name != "material/search" and getattr(plugin, "__file__", None) != __file__]
    search = config.plugins.get("material/search")
    if folder and not others and isinstance(getattr(getattr(search, "search_index", None), "entries", None), list):
        _cache = PageCache(Path(folder), search, _generated(config))
    return config


def on_nav(nav, config, files):
    if _cache is not None:
        _cache.around = PageCache.surroundings(config, files, nav)
    return nav


def on_env(env, config, files):
    if _cache is not None:  # the template of a page taken from the cache: empty (its output is put back after)
        from jinja2 import ChoiceLoader, DictLoader

        env.loader = ChoiceLoader([DictLoader({CACHED_TEMPLATE: ""}), env.loader])
    return env


def commit_page_cache() -> tuple[int, int] | None:
    """Called by `leaderboard build` once MkDocs returned: this build's renderings are kept for the next. Returns how
    many pages MkDocs rendered, of all (None: no cache)."""
    return _cache.commit() if _cache is not None else None


def on_page_markdown(markdown: str, page, config, files) -> str:
    text = _filled(markdown, page, config)
    if _cache is not None and _cache.lookup(page, text):
        page.meta["template"] = CACHED_TEMPLATE
        return ""
    return text


def _filled(markdown: str, page, config) -> str:
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
    if _cache is not None:
        uri = page.file.src_uri
        kept = _cache.taken.get(uri)
        if kept is not None:  # what MkDocs' check of anchors across pages reads of this page (Page.render)
            page.present_anchor_ids = set(kept["anchors"])
            page.links_to_anchors = {f: links for target, links in kept["links"].items()
                                     if (f := files.get_file_from_path(target)) is not None}
            page._title_from_render = kept["title"]
            return html
        if uri in _cache.keys:
            _cache.made[uri] = {"key": _cache.keys[uri], "anchors": list(page.present_anchor_ids or ()),
                                "links": {f.src_uri: links for f, links in (page.links_to_anchors or {}).items()},
                                "title": getattr(page, "_title_from_render", None)}
    root = _generated(config) / "_snippets"

    def stand_in(m: re.Match) -> str:
        searched = root / f"search-{m.group(1)}.html"
        if not searched.is_file():
            return m.group(0)
        return (f"<!-- leaderboard-search:{m.group(1)} -->{searched.read_text(encoding='utf-8')}"
                f"<!-- leaderboard-end:{m.group(1)} -->")

    return AFTER.sub(stand_in, html)


def on_page_context(context, page, config, nav):
    """(After the search indexed the page.) A page taken from the cache: its entries as they were; else the entries
    the search made of it, kept."""
    if _cache is not None:
        entries = _cache.search.search_index.entries
        uri = page.file.src_uri
        kept = _cache.taken.get(uri)
        if kept is not None:
            del entries[_cache.seen:]
            entries.extend(kept["entries"])
        elif uri in _cache.made:
            _cache.made[uri]["entries"] = entries[_cache.seen:]
        _cache.seen = len(entries)
    return context


def on_post_page(output: str, page, config) -> str:
    """Put back the big generated HTML (charts' specs, boards' tables) that MkDocs only saw as a placeholder: Markdown
    passes raw HTML through unchanged, so the page is the same, without parsing megabytes twice per page."""
    if _cache is not None:
        uri = page.file.src_uri
        kept = _cache.taken.get(uri)
        if kept is not None:
            output = kept["output"]
        elif uri in _cache.made:
            _cache.made[uri]["output"] = output
    root = _generated(config) / "_snippets"

    def fill(m: re.Match) -> str:
        snippet = root / f"after-{m.group(1)}.html"
        if not snippet.is_file():
            from mkdocs.exceptions import PluginError

            raise PluginError(f"{page.file.src_uri}: generated HTML {m.group(1)} is missing from {root}")
        return snippet.read_text(encoding="utf-8")

    return AFTER.sub(fill, SEARCHED.sub(lambda m: AFTER_TEXT.format(m.group(1)), output))
