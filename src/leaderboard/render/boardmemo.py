"""Each page board's rows as the previous build made them, kept across builds (issue 22, scale: a rebuild after adding
ten runs made every row of the leaderboard, its family's and its methods' boards again, 4.7 s at 100,000 runs).

One file per board (its data name: "leaderboard", "family-encoder", ...) in the work folder's cache, read only when
that board is made again: {"code": ..., "sig": ..., "rows": {row key: [row hash, opening tag, the cells after the
rank, the words the text filter looks in, *sort values]}}. ``sig`` says what every row of the board depends on (its
tasks in order, the links' depth, the first cell's form); the row hash what the row depends on (tables._row_hash: its
runs' headline rows and the run its first cell links). The builder's own files, read strictly all the same: a file of
another code or signature is ignored whole, an entry of another shape is not taken (tables.board makes that row)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import orjson

from ..fsutil import InputError, read_regular, write_atomic

FOLDER = "boards"  # under the work folder's cache
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")  # a board's data name, as a file name


def signature(*parts: object) -> str:
    return hashlib.sha256(orjson.dumps(parts)).hexdigest()[:32]


class BoardMemos:
    """The boards' row memos of one build: the previous build's, read on demand (previous), and this build's (made),
    written by save() once the render is complete."""

    def __init__(self, folder: Path | None, code: str) -> None:
        self.folder = folder
        self.code = code
        self.made: dict[str, tuple[str, dict[str, list]]] = {}  # board name -> (signature, rows)

    def previous(self, name: str, sig: str) -> dict[str, list]:
        """The rows the previous build made for the board ``name`` with this code and signature, or none (each entry's
        shape is checked where board() takes it: usable())."""
        if self.folder is None or not NAME.fullmatch(name):
            return {}
        return read_memo(self.folder / f"{name}.json", self.code, "rows", lambda _v: True, sig=sig)

    def save(self) -> None:
        """Write the memo of every board made this build (the others' files stay: their pages were kept)."""
        if self.folder is None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        for name, (sig, rows) in self.made.items():
            if NAME.fullmatch(name):
                write_atomic(self.folder / f"{name}.json",  # (no fsync: as the generated files it describes)
                             orjson.dumps({"code": self.code, "sig": sig, "rows": rows}), sync=False)


def read_memo(path: Path, code: str, field: str, entry_ok, **expect: str) -> dict[str, list]:
    """A memo a previous build left in the work folder's cache with this code (and the top-level values ``expect``),
    {"code": ..., field: {key: [entry]}}, with the entries ``entry_ok`` accepts (the boards' rows here; the runs' cells,
    the rows' cells and compare's rows: build.py). The builder's own file, read strictly all the same: anything else
    (damaged, foreign, another code's, a link) reads as no memo."""
    try:
        data = orjson.loads(read_regular(path, 1 << 30))
    except (InputError, OSError, orjson.JSONDecodeError):
        return {}
    if not isinstance(data, dict) or data.get("code") != code or any(data.get(k) != v for k, v in expect.items()):
        return {}
    entries = data.get(field)
    if not isinstance(entries, dict):
        return {}
    return {k: v for k, v in entries.items() if isinstance(v, list) and entry_ok(v)}


def usable(entry: object, n_values: int) -> bool:
    """Whether a memo entry has the shape board() writes: an int, three texts, then ``n_values`` floats or nulls."""
    return (type(entry) is list and len(entry) == 4 + n_values and type(entry[0]) is int
            and type(entry[1]) is str and type(entry[2]) is str and type(entry[3]) is str
            and all(v is None or type(v) is float for v in entry[4:]))
