"""Where a built site's bytes are: by kind of file, the leaderboard page, the search index (raw and gzip, as
GitHub Pages serves them), bytes per run.

    python benchmarks/site_size.py public [--runs N]
"""

from __future__ import annotations

import argparse
import gzip
import json
from pathlib import Path

# the site's parts by path prefix, first match wins (runs/ splits into pages and files below)
PARTS = (("data/facts/", "fact bitsets (data/facts)"), ("data/board/", "leaderboard data (data/board)"),
         ("search/", "search index"), ("charts/", "charts"), ("downloads/", "downloads"), ("assets/", "assets"))


def kind(rel: str) -> str:
    if rel.startswith("runs/"):
        return "run pages (html)" if rel.endswith(".html") else "run files (json)"
    part = next((name for prefix, name in PARTS if rel.startswith(prefix)), None)
    if part is not None:
        return part
    return "other pages (html)" if rel.endswith(".html") else "other"


def gz(path: Path) -> int:
    return len(gzip.compress(path.read_bytes(), compresslevel=6)) if path.exists() else 0


def breakdown(site: Path, runs: int | None = None) -> dict:
    kinds: dict[str, list[int]] = {}
    total = 0
    for p in site.rglob("*"):
        if p.is_file():
            n = p.stat().st_size
            total += n
            k = kinds.setdefault(kind(p.relative_to(site).as_posix()), [0, 0])
            k[0] += 1
            k[1] += n
    board = site / "leaderboard.html"
    search = site / "search" / "search_index.json"
    out = {"site_bytes": total, "site_mb": round(total / 1e6, 1),
           "by_kind": {k: {"files": v[0], "mb": round(v[1] / 1e6, 2)} for k, v in sorted(kinds.items(), key=lambda x: -x[1][1])},
           "leaderboard_html_bytes": board.stat().st_size if board.exists() else 0, "leaderboard_html_gzip_bytes": gz(board),
           "search_index_bytes": search.stat().st_size if search.exists() else 0, "search_index_gzip_bytes": gz(search)}
    if runs:
        out["bytes_per_run"] = round(total / runs)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("site", type=Path)
    ap.add_argument("--runs", type=int)
    args = ap.parse_args()
    print(json.dumps(breakdown(args.site, args.runs), indent=2))


if __name__ == "__main__":
    main()
