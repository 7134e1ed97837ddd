"""Hard-link the run pages a rebuild carries over from the published site, in a process of its own: `leaderboard build`
starts it before MkDocs, which then renders the other pages on the other core meanwhile (issue 22, scale: the
100,000 links were a second of a rebuild's main process). Light on purpose: it imports nothing of the package.

    python -m leaderboard.render.linkpages JOB

JOB: a JSON file {"source": folder, "target": folder, "names": [file name, ...]}; each name is linked from source to
target (made if missing). Prints the names that could not be linked (gone, another file system) as a JSON list."""

from __future__ import annotations

import json
import os
import sys


def link_all(source: str, target: str, names: list[str]) -> list[str]:
    """Link ``source/name`` to ``target/name`` for each name (plain strings: through pathlib, 100,000 links took a
    second more); returns the names not linked."""
    os.makedirs(target, exist_ok=True)
    src, dst = os.path.join(source, ""), os.path.join(target, "")
    failed = []
    for name in names:
        try:
            os.link(f"{src}{name}", f"{dst}{name}")
        except OSError:
            failed.append(name)
    return failed


def main(argv: list[str]) -> int:
    with open(argv[0], encoding="utf-8") as f:
        job = json.load(f)
    json.dump(link_all(job["source"], job["target"], job["names"]), sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
