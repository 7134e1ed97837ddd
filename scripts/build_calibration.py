"""Build the built-in calibration set ``builtin:austen`` from Jane Austen's novels, without LAMA or BEAR facts.

    apt-get download r-cran-janeaustenr=1.0.0-1        # Debian's package of the CRAN package janeaustenr
    python scripts/build_calibration.py --deb r-cran-janeaustenr_1.0.0-1_all.deb \
        [--lama ../shared/data/lama] [--bear ../shared/data/bear/BEAR] [--out src/leaderboard/data/calibration]

The .deb is read in memory (an ar archive holding data.tar.xz; nothing is extracted to disk). The novels
are character vectors (one line of the Project Gutenberg text per element) in the package's R lazy-load
database ``data/Rdata.rdb`` / ``Rdata.rdx``, read here by a small reader of R's XDR serialization that
accepts only the types those files use.

The text: "Sense and Sensibility" (1811), then "Pride and Prejudice" (1813), each from its first chapter
heading on (the title block, with the author's name, is dropped), hard-wrapped lines joined into one line
per paragraph, paragraphs separated by a blank line, the Gutenberg italics marks (``_word_``) and the
transcriber's bracketed notes removed. Then every sentence that contains a probe fact is removed: a
sentence holding both the subject label and the object label of one fact of LAMA T-REx, LAMA Google-RE
(``sub_label``, ``obj_label``) or BEAR (``sub_label``, ``obj_label``), case-insensitively, each as a whole
run of words (a label matches at word boundaries: "Bath" does not match "Bathe").

It prints how many sentences it removed and why, and the sha256 of the file it writes.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import lzma
import re
import struct
import tarfile
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOVELS = (("sensesensibility", "Sense and Sensibility"), ("prideprejudice", "Pride and Prejudice"))
RDATA = "./usr/lib/R/site-library/janeaustenr/data/Rdata"
NAME = "austen"
MAX_MEMBER = 64 * 1024 * 1024


# ---- the Debian package: ar archive -> data.tar.xz -> Rdata.rdb / Rdata.rdx ----

def deb_members(deb: bytes) -> dict[str, bytes]:
    if not deb.startswith(b"!<arch>\n"):
        raise ValueError("not a Debian package (no ar magic)")
    out, i = {}, 8
    while i + 60 <= len(deb):
        header = deb[i:i + 60]
        name, size = header[:16].decode("ascii").strip().rstrip("/"), int(header[48:58].decode("ascii").strip())
        if size > MAX_MEMBER:
            raise ValueError(f"ar member {name} too large")
        out[name] = deb[i + 60:i + 60 + size]
        i += 60 + size + (size & 1)
    return out


def rdata_files(deb: bytes) -> tuple[bytes, bytes]:
    data = deb_members(deb)["data.tar.xz"]
    with tarfile.open(fileobj=io.BytesIO(lzma.decompress(data)), mode="r:") as tar:
        def read(name: str) -> bytes:
            member = tar.getmember(name)
            if not member.isfile() or member.size > MAX_MEMBER:
                raise ValueError(f"{name}: not a regular file of sane size")
            return tar.extractfile(member).read()
        return read(RDATA + ".rdb"), read(RDATA + ".rdx")


# ---- R's XDR serialization, only what these files use ----

class RReader:
    NIL, SYM, LIST, CHAR, LGL, INT, REAL, STR, VEC, REF = 254, 1, 2, 9, 10, 13, 14, 16, 19, 255

    def __init__(self, data: bytes) -> None:
        if data[:2] != b"X\n":
            raise ValueError("not R XDR serialization")
        self.b, self.i, self.refs = data, 2, []
        version = self.int()
        self.int(), self.int()  # R version that wrote it, minimal reader version
        if version == 3:
            self.take(self.length())  # native encoding name
        elif version != 2:
            raise ValueError(f"R serialization version {version}")

    def take(self, n: int) -> bytes:
        if n < 0 or self.i + n > len(self.b):
            raise ValueError("truncated R serialization")
        out = self.b[self.i:self.i + n]
        self.i += n
        return out

    def int(self) -> int:
        return struct.unpack(">i", self.take(4))[0]

    def length(self) -> int:
        n = self.int()
        if n < 0 or n > len(self.b):
            raise ValueError("bad length in R serialization")
        return n

    def item(self):
        flags = self.int()
        kind, has_attr, has_tag = flags & 0xFF, flags & (1 << 9), flags & (1 << 10)
        if kind == self.NIL:
            return None
        if kind == self.REF:
            return self.refs[(flags >> 8) - 1]
        if kind == self.SYM:
            sym = ("sym", self.item())
            self.refs.append(sym)
            return sym
        if kind == self.CHAR:
            n = self.int()
            return None if n == -1 else self.take(n).decode("utf-8")
        if kind == self.LIST:
            attr = self.item() if has_attr else None  # noqa: F841 (pairlist attributes are not used)
            tag = self.item() if has_tag else None
            head = (tag[1] if tag else None, self.item())
            return [head, *(self.item() or [])]
        if kind in (self.STR, self.VEC):
            value = [self.item() for _ in range(self.length())]
        elif kind in (self.INT, self.LGL):
            value = list(struct.unpack(f">{(n := self.length())}i", self.take(4 * n)))
        elif kind == self.REAL:
            value = list(struct.unpack(f">{(n := self.length())}d", self.take(8 * n)))
        else:
            raise ValueError(f"R type {kind} not expected in this package")
        attr = dict(self.item()) if has_attr else {}
        return (value, attr) if attr else value


def read_novels(deb: bytes) -> dict[str, list[str]]:
    rdb, rdx = rdata_files(deb)
    index, index_attr = RReader(gzip.decompress(rdx)).item()
    offsets, attr = index[index_attr["names"].index("variables")]
    out = {}
    for name, (offset, size) in zip(attr["names"], offsets):
        blob = rdb[offset:offset + size]
        raw = zlib.decompress(blob[4:])
        if len(raw) != struct.unpack(">I", blob[:4])[0]:
            raise ValueError(f"{name}: length mismatch in Rdata.rdb")
        lines = RReader(raw).item()
        out[name] = [ln or "" for ln in (lines[0] if isinstance(lines, tuple) else lines)]
    return out


# ---- text ----

CHAPTER = re.compile(r"^chapter\s+(1|i)\b", re.IGNORECASE)


def paragraphs(lines: list[str]) -> list[str]:
    start = next(i for i, ln in enumerate(lines) if CHAPTER.match(ln.strip()))
    paras, cur = [], []
    for ln in [*lines[start:], ""]:
        if ln.strip():
            cur.append(ln.strip())
        elif cur:
            paras.append(" ".join(" ".join(cur).split()))
            cur = []
    paras = [p for p in paras if not (p.startswith("[") and p.endswith("]"))]
    return [re.sub(r"_(?=\S)|(?<=\S)_", "", p) for p in paras]


ABBREV = "".join(rf"(?<!\b{a}\.)" for a in ("Mr", "Mrs", "Dr", "St", "Col", "Capt", "Gen", "Rev", "Messrs"))
SENTENCE_END = re.compile(ABBREV + r"(?<=[.!?])([\"')\]]*)\s+(?=[\"'(\[]?[A-Z0-9])")


def sentences(para: str) -> list[str]:
    """Split a paragraph after . ! ? (and closing quotes) before a capital; not after Mr. Mrs. Dr. ..."""
    out, last = [], 0
    for m in SENTENCE_END.finditer(para):
        out.append(para[last:m.end(1)])
        last = m.end()
    out.append(para[last:])
    return [s for s in out if s]


WORD = re.compile(r"\w+|[^\w\s]")


def words(s: str) -> tuple[str, ...]:
    return tuple(WORD.findall(s.casefold()))


def probe_facts(lama: Path, bear: Path) -> dict[str, list[tuple[str, str]]]:
    def pairs(files) -> list[tuple[str, str]]:
        out = []
        for f in files:
            for line in f.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    r = json.loads(line)
                    if r.get("sub_label") and r.get("obj_label"):
                        out.append((r["sub_label"], r["obj_label"]))
        return out
    facts = {"LAMA T-REx": pairs(sorted((lama / "trex").glob("P*.jsonl"))),
             "LAMA Google-RE": pairs(sorted((lama / "google_re").glob("*_test.jsonl"))),
             "BEAR": pairs(sorted(bear.glob("P*.jsonl")))}
    for source, rows in facts.items():
        if not rows:
            raise SystemExit(f"no {source} facts found: check --lama / --bear")
    return facts


class FactFilter:
    def __init__(self, facts: dict[str, list[tuple[str, str]]]) -> None:
        self.objects: dict[tuple[str, ...], dict[tuple[str, ...], tuple[str, str, str]]] = {}
        for source, rows in facts.items():
            for sub, obj in rows:
                s, o = words(sub), words(obj)
                if s and o:
                    self.objects.setdefault(s, {}).setdefault(o, (source, sub, obj))
        self.labels = set(self.objects) | {o for objs in self.objects.values() for o in objs}
        self.longest = max(map(len, self.labels))

    def hit(self, sentence: str) -> tuple[str, str, str] | None:
        w = words(sentence)
        present = {w[i:i + n] for n in range(1, self.longest + 1) for i in range(len(w) - n + 1)} & self.labels
        for s in present:
            for o, fact in self.objects.get(s, {}).items():
                if o in present:
                    return fact
        return None


def build(deb: bytes, lama: Path, bear: Path) -> tuple[str, dict]:
    novels = read_novels(deb)
    flt = FactFilter(facts := probe_facts(lama, bear))
    stats = {"facts": {k: len(v) for k, v in facts.items()}, "sentences": 0, "removed": [], "paragraphs_emptied": 0}
    out = []
    for key, _title in NOVELS:
        for para in paragraphs(novels[key]):
            kept = []
            for s in sentences(para):
                stats["sentences"] += 1
                if fact := flt.hit(s):
                    stats["removed"].append((fact, s))
                else:
                    kept.append(s)
            if kept:
                out.append(" ".join(kept))
            else:
                stats["paragraphs_emptied"] += 1
    return "\n\n".join(out) + "\n", stats


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--deb", type=Path, required=True, help="r-cran-janeaustenr_1.0.0-1_all.deb")
    ap.add_argument("--lama", type=Path, default=ROOT.parent / "shared" / "data" / "lama")
    ap.add_argument("--bear", type=Path, default=ROOT.parent / "shared" / "data" / "bear" / "BEAR")
    ap.add_argument("--out", type=Path, default=ROOT / "src" / "leaderboard" / "data" / "calibration")
    args = ap.parse_args()
    deb = args.deb.read_bytes()
    print(f"{args.deb.name}: sha256 {hashlib.sha256(deb).hexdigest()}")
    text, stats = build(deb, args.lama, args.bear)
    path = args.out / f"{NAME}.txt"
    path.write_text(text, encoding="utf-8")
    print("probe facts checked: " + ", ".join(f"{k} {v:,}" for k, v in stats["facts"].items()))
    print(f"sentences: {stats['sentences']:,}; removed as probe facts: {len(stats['removed'])} "
          f"({stats['paragraphs_emptied']} paragraphs emptied)")
    for (source, sub, obj), s in stats["removed"]:
        print(f"  - {source} ({sub!r}, {obj!r}): {s[:110]}")
    data = path.read_bytes()
    print(f"wrote {path}: {len(data):,} bytes, {len(text.split()):,} words, sha256 {hashlib.sha256(data).hexdigest()}")
