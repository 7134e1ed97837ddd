"""Read LAMA probes from a directory: this project's layout or the official LAMA data.zip layout.

Layouts (either works; the first that exists wins):
- project / shared:  relations.jsonl, trex/P*.jsonl, google_re/{relations.jsonl,*_test.jsonl},
                     squad/test.jsonl, conceptnet/test.jsonl, common_vocab_cased.txt
- official data.zip: relations.jsonl, TREx/P*.jsonl, Google_RE/*_test.jsonl, Squad/test.jsonl,
                     ConceptNet/test.jsonl (and common_vocab_cased.txt beside it, or in the package)
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from .. import registry

# Google-RE templates are not in data.zip; these are LAMA's own (scripts/run_experiments.py).
GOOGLE_RE_TEMPLATES = {
    "place_of_birth": "[X] was born in [Y] .",
    "date_of_birth": "[X] (born [Y]).",
    "place_of_death": "[X] died in [Y] .",
}
DIRS = {
    "trex": ("trex", "TREx"),
    "google-re": ("google_re", "Google_RE"),
    "squad": ("squad", "Squad"),
    "conceptnet": ("conceptnet", "ConceptNet"),
}
VOCAB_FILE = "common_vocab_cased.txt"
PAIRS = ("unique", "all")


class LamaDataError(ValueError):
    pass


@dataclass(frozen=True)
class Fact:
    id: str
    relation: str
    subject: str | None
    obj: str
    template: str | None = None  # '[X] was born in [Y] .'
    sentence: str | None = None  # 'The ... [MASK] ...' (SQuAD, ConceptNet)

    def text(self, mask: str) -> str:
        if self.template is not None:
            return self.template.replace("[X]", self.subject or "").replace("[Y]", mask)
        return (self.sentence or "").replace("[MASK]", mask)

    def prefix(self) -> str | None:
        """The text before the object when the object ends the sentence (for decoders), else None."""
        source = self.template.replace("[X]", self.subject or "") if self.template is not None else self.sentence
        marker = "[Y]" if self.template is not None else "[MASK]"
        if source is None or source.count(marker) != 1:
            return None
        before, _, after = source.partition(marker)
        if after.strip() not in ("", ".", " ."):
            return None
        return before.rstrip()


@dataclass
class Corpus:
    name: str
    facts: list[Fact]
    relations: dict[str, dict] = field(default_factory=dict)  # relation id -> {label, template, type}
    sha256: str = ""
    files: list[str] = field(default_factory=list)


def _first_dir(root: Path, corpus: str) -> Path | None:
    for name in DIRS[corpus]:
        if (root / name).is_dir():
            return root / name
    return None


def _read_jsonl(path: Path) -> list[dict]:
    rows = []
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f, 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise LamaDataError(f"{path}:{i}: invalid JSON: {e.msg}") from None
    return rows


class _Hasher:
    def __init__(self, root: Path):
        self.root, self.h, self.files = root, hashlib.sha256(), []

    def add(self, path: Path) -> Path:
        rel = path.relative_to(self.root).as_posix() if path.is_relative_to(self.root) else path.name
        self.h.update(rel.encode() + b"\0" + path.read_bytes())
        self.files.append(rel)
        return path


TEMPLATE_CORPORA = ("trex", "google-re")  # built from (subject, relation template, object) triples


def unique_pairs(rows: list[dict]) -> list[dict]:
    """The first row of each (subject, object) pair, as LAMA's own code scores template corpora
    (run_evaluation.py: "if template is active ... use a single example for (sub,obj)")."""
    seen: set[tuple] = set()
    out = []
    for r in rows:
        key = (r.get("sub_label"), r.get("obj_label"))
        if key not in seen:
            seen.add(key)
            out.append(r)
    return out


def load_corpus(root: Path, corpus: str, *, relations: list[str] | None = None,
                limit_per_relation: int | None = None, pairs: str = "all") -> Corpus:
    """Read one corpus. ``pairs="all"`` (the default) scores every row; ``"unique"`` scores each
    (subject, object) pair of a template corpus once, exactly as LAMA's own code does (the shared T-REx
    copy has 19 repeated pairs in 34,039 rows; runs record ``pairs: unique`` in their settings)."""
    if pairs not in PAIRS:
        raise LamaDataError(f"pairs: {pairs!r} is not one of {', '.join(PAIRS)}")
    dedupe = unique_pairs if pairs == "unique" else list
    root = Path(root)
    if corpus not in registry.LAMA_CORPORA:
        raise LamaDataError(f"unknown LAMA corpus {corpus!r}; known: {', '.join(registry.LAMA_CORPORA)}")
    folder = _first_dir(root, corpus)
    if folder is None:
        raise LamaDataError(f"{root}: no {corpus} data (looked for {' or '.join(DIRS[corpus])}/); "
                            "`leaderboard data fetch lama` downloads the official set")
    hasher = _Hasher(root)
    facts: list[Fact] = []
    rel_meta: dict[str, dict] = {}
    if corpus == "trex":
        rel_file = root / "relations.jsonl"
        if not rel_file.exists():
            raise LamaDataError(f"{root}: relations.jsonl (T-REx templates) is missing")
        for r in _read_jsonl(hasher.add(rel_file)):
            rel_meta[r["relation"]] = {"label": r.get("label"), "template": r["template"], "type": r.get("type")}
        wanted = relations or list(rel_meta)
        for rel in wanted:
            if rel not in rel_meta:
                raise LamaDataError(f"relation {rel!r} has no template in {rel_file}")
            path = folder / f"{rel}.jsonl"
            if not path.exists():
                if relations:
                    raise LamaDataError(f"{path} is missing")
                continue
            rows = dedupe(_read_jsonl(hasher.add(path)))[:limit_per_relation]
            facts += [Fact(r["uuid"], rel, r["sub_label"], r["obj_label"], template=rel_meta[rel]["template"]) for r in rows]
        rel_meta = {k: v for k, v in rel_meta.items() if any(f.relation == k for f in facts)}
    elif corpus == "google-re":
        templates = dict(GOOGLE_RE_TEMPLATES)
        if (folder / "relations.jsonl").exists():
            templates.update({r["relation"]: r["template"] for r in _read_jsonl(hasher.add(folder / "relations.jsonl"))})
        for rel in relations or list(templates):
            path = folder / f"{rel}_test.jsonl"
            if not path.exists():
                raise LamaDataError(f"{path} is missing")
            rows = dedupe(_read_jsonl(hasher.add(path)))[:limit_per_relation]
            rel_meta[rel] = {"label": rel.replace("_", " "), "template": templates[rel], "type": "N-1"}
            facts += [Fact(r["uuid"], rel, r["sub_label"], r["obj_label"], template=templates[rel]) for r in rows]
    else:  # squad, conceptnet: one masked sentence per fact
        path = folder / "test.jsonl"
        if not path.exists():
            raise LamaDataError(f"{path} is missing")
        rows = _read_jsonl(hasher.add(path))[:limit_per_relation]
        rel_meta[corpus] = {"label": corpus, "template": None, "type": None}
        for i, r in enumerate(rows):
            sentences = r.get("masked_sentences") or []
            if not sentences:
                continue
            fid = str(r.get("id") or r.get("uuid") or f"{corpus}-{i}")
            facts.append(Fact(fid, corpus, r.get("sub_label"), r["obj_label"], sentence=sentences[0]))
    seen: set[str] = set()
    for f in facts:
        if f.id in seen:
            raise LamaDataError(f"fact id {f.id!r} appears twice in {corpus}")
        seen.add(f.id)
    return Corpus(corpus, facts, rel_meta, hasher.h.hexdigest(), hasher.files)


def packaged_root() -> Path:
    """The small attributed sample that ships with the package (for the demo)."""
    return Path(str(resources.files("leaderboard") / "data" / "lama"))


def load_vocab(root: Path) -> tuple[list[str], str]:
    """LAMA's common vocabulary (from the data folder, else the packaged copy) and its sha256."""
    for path in (Path(root) / VOCAB_FILE, packaged_root() / VOCAB_FILE):
        if path.exists():
            raw = path.read_bytes()
            words = [w for w in raw.decode("utf-8").splitlines() if w.strip()]
            return words, hashlib.sha256(raw).hexdigest()
    raise LamaDataError(f"{VOCAB_FILE} not found in {root} or in the package")
