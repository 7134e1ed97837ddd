"""Hard-link the run pages a rebuild carries over from the published site, in a process of its own: `leaderboard build`
starts it before MkDocs, which then renders the other pages on the other core meanwhile (issue 22, scale: the
100,000 links were a second of a rebuild's main process). Light on purpose: it imports nothing of the package.

    python -m leaderboard.render.linkpages JOB

JOB: a JSON file {"source": folder, "target": folder, "names": [file name, ...], "trees": [[folder, folder], ...]}: each
name is linked from source to target (made if missing), and every file of each tree's first folder to the same place
under its second. Prints what could not be linked (gone, another file system) as JSON: {"names": [...], "trees":
[[path under the tree, ...], ...]}."""

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


def link_tree(source: str, target: str) -> list[str]:
    """Link every file under ``source`` to the same place under ``target`` (folders made as needed); returns the
    paths (relative to ``source``) not linked. Links are not followed: a link in ``source`` is not linked."""
    failed = []
    for folder, dirs, files in os.walk(source):
        dirs.sort()
        rel = os.path.relpath(folder, source)
        out = target if rel == "." else os.path.join(target, rel)
        os.makedirs(out, exist_ok=True)
        for name in sorted(files):
            src = os.path.join(folder, name)
            try:
                if os.path.islink(src):
                    raise OSError("a link")
                os.link(src, os.path.join(out, name))
            except OSError:
                failed.append(os.path.normpath(os.path.join(rel, name)))
    return failed


def main(argv: list[str]) -> int:
    with open(argv[0], encoding="utf-8") as f:
        job = json.load(f)
    failed = link_all(job["source"], job["target"], job["names"])
    trees = [link_tree(src, dst) for src, dst in job.get("trees", [])]
    json.dump({"names": failed, "trees": trees}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
