"""MkDocs' pages kept across builds (mkdocs_hook.PageCache; issue 22, scale): a page is taken from the cache only where
its Markdown and everything around it are those it was rendered with, never from a build that failed, and the site is
the site MkDocs makes without the cache."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from leaderboard.render.build import BuildError, mkdocs_build

ROOT = Path(__file__).resolve().parents[1]
HOOK = ROOT / "src" / "leaderboard" / "render" / "mkdocs_hook.py"


def _project(tmp: Path, pages: dict[str, str], hooks: tuple[Path, ...] = (HOOK,)) -> Path:
    """A small MkDocs project beside the real one: its theme and hook, pages of its own."""
    root = tmp / "project"
    shutil.rmtree(root / "site", ignore_errors=True)
    (root / "site").mkdir(parents=True)
    for name, text in pages.items():
        (root / "site" / name).write_text(text, encoding="utf-8")
    (root / "generated").mkdir(exist_ok=True)
    (root / "mkdocs.yml").write_text(
        "site_name: Cache test\nsite_url: https://example.org/x/\ndocs_dir: site\nuse_directory_urls: false\n"
        "strict: true\ntheme:\n  name: material\n  font: false\nhooks:\n"
        + "".join(f"  - {h}\n" for h in hooks)
        + "nav:\n  - Home: index.md\n  - Other: other.md\n", encoding="utf-8")
    return root


def _build(root: Path, out: Path, cache: Path | None) -> tuple[int, int] | None:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    return mkdocs_build(root, out, root / "generated", None, cache)[2]


def _site(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


PAGES = {
    "index.md": "# Home\n\nSee [the other page](other.md#section-two) and [a third](third.md).\n",
    "other.md": "# Other\n\nText with <b>raw HTML</b> and words to search.\n\n## Section two\n\nMore words.\n",
    "third.md": "# Third\n\nA page outside the navigation.\n",
}


def test_pages_taken_from_the_cache_make_the_site_mkdocs_makes_without_it(tmp_path) -> None:
    root = _project(tmp_path, PAGES)
    cache = tmp_path / "cache"
    assert _build(root, tmp_path / "a", cache) == (3, 3)  # nothing kept yet: every page rendered
    assert _build(root, tmp_path / "b", cache) == (0, 3)  # nothing changed: every page as the last build made it
    (root / "site" / "other.md").write_text(PAGES["other.md"].replace("More words.", "Other words."), encoding="utf-8")
    assert _build(root, tmp_path / "c", cache) == (1, 3)  # one page changed: that page only
    assert _build(root, tmp_path / "d", None) is None
    plain = _site(tmp_path / "d")
    assert _site(tmp_path / "c") == plain  # the pages, the search index, the sitemap: byte for byte
    assert b"Other words" in plain["search/search_index.json"] and b"More words" not in plain["search/search_index.json"]
    assert _site(tmp_path / "b") == _site(tmp_path / "a")


def test_a_page_kept_is_rendered_again_where_the_sites_files_changed_and_its_broken_link_still_fails(tmp_path) -> None:
    root = _project(tmp_path, PAGES)
    cache = tmp_path / "cache"
    _build(root, tmp_path / "a", cache)
    (root / "site" / "third.md").unlink()  # index.md, unchanged, now links to a page that is gone
    with pytest.raises(BuildError, match="strict"):
        _build(root, tmp_path / "b", cache)


def test_nothing_is_kept_from_a_build_that_failed(tmp_path) -> None:
    broken = PAGES | {"index.md": PAGES["index.md"] + "\n[gone](missing.md)\n"}
    root = _project(tmp_path, broken)
    cache = tmp_path / "cache"
    with pytest.raises(BuildError, match="strict"):
        _build(root, tmp_path / "a", cache)
    assert not cache.exists() or not any(cache.iterdir())
    with pytest.raises(BuildError, match="strict"):  # the page that warned is rendered (and warns) again
        _build(root, tmp_path / "b", cache)


WELL_FORMED = b'"output": "x", "entries": [], "anchors": [], "links": {}, "title": null'


@pytest.mark.parametrize("damage", [
    b"", b"\xff", b"[]", b'{"key": 1}', b'{"key": "KEY", "output": 3}',
    b'{"key": "KEY", "output": "x", "entries": {}, "anchors": [], "links": {}, "title": null}',
    b'{"key": "KEY", "output": "x", "entries": [{"location": 1, "title": "", "text": ""}], "anchors": [], "links": {}, "title": null}',
    b'{"key": "KEY", "output": "x", "entries": [{"location": "", "title": "", "text": "", "x": 1}], "anchors": [], "links": {}, "title": null}',
    b'{"key": "KEY", "output": "x", "entries": [{"location": "", "title": "", "text": "", "tags": "t"}], "anchors": [], "links": {}, "title": null}',
    b'{"key": "KEY", "output": "x", "entries": [{"location": "", "title": "", "text": "", "tags": [1]}], "anchors": [], "links": {}, "title": null}',
    b'{"key": "KEY", "output": "x", "entries": [], "anchors": [3], "links": {}, "title": null}',
    b'{"key": "KEY", "output": "x", "entries": [], "anchors": [], "links": {"a.md": {"b": 2}}, "title": null}',
    b'{"key": "KEY", "output": "x", "entries": [], "anchors": [], "links": {}, "title": 5}',
    b'{"key": "other", ' + WELL_FORMED + b'}',
    b"LINK",  # a link to a file of the right shape and key: not the builder's own file
])
def test_a_damaged_or_foreign_cache_file_is_ignored(tmp_path, damage) -> None:
    import orjson

    root = _project(tmp_path, PAGES)
    cache = tmp_path / "cache"
    _build(root, tmp_path / "a", cache)
    for f in cache.iterdir():
        key = orjson.loads(f.read_bytes())["key"]
        if damage == b"LINK":
            target = tmp_path / f"{f.name}.elsewhere"
            target.write_bytes(b'{"key": "' + key.encode() + b'", ' + WELL_FORMED + b"}")
            f.unlink()
            f.symlink_to(target)
            continue
        f.write_bytes(damage.replace(b"KEY", key.encode()))
    assert _build(root, tmp_path / "b", cache) == (3, 3)
    assert _site(tmp_path / "b") == _site(tmp_path / "a")


def test_another_plugin_or_hook_turns_the_cache_off(tmp_path) -> None:
    other = tmp_path / "other_hook.py"
    other.write_text("def on_post_page(output, page, config):\n    return output.replace('</body>', '<!-- x --></body>')\n")
    root = _project(tmp_path, PAGES, (HOOK, other))
    cache = tmp_path / "cache"
    assert _build(root, tmp_path / "a", cache) is None and _build(root, tmp_path / "b", cache) is None
    assert not cache.exists()


def test_a_well_formed_cache_file_with_the_pages_key_is_what_the_page_becomes(tmp_path) -> None:
    """(What the damaged files above differ from: the cache is read, not only written.)"""
    import orjson

    root = _project(tmp_path, PAGES)
    cache = tmp_path / "cache"
    _build(root, tmp_path / "a", cache)
    for f in cache.iterdir():
        key = orjson.loads(f.read_bytes())["key"]
        f.write_bytes(b'{"key": "' + key.encode() + b'", ' + WELL_FORMED + b"}")
    assert _build(root, tmp_path / "b", cache) == (0, 3)
    assert (tmp_path / "b" / "other.html").read_bytes() == b"x"


def test_a_page_whose_metadata_json_cannot_sort_is_rendered_every_time(tmp_path) -> None:
    """Front matter with keys of mixed types (YAML allows it) has no key: the page is rendered on every build, the
    others are kept, and the build does not fail."""
    odd = PAGES | {"third.md": "---\n1: one\ntwo: 2\n---\n# Third\n\nA page outside the navigation.\n"}
    root = _project(tmp_path, odd)
    cache = tmp_path / "cache"
    assert _build(root, tmp_path / "a", cache) == (3, 3)
    assert _build(root, tmp_path / "b", cache) == (1, 3)
    assert _site(tmp_path / "b") == _site(tmp_path / "a")
