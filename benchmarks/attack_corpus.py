"""Attack corpus (issue 20, "done when"): hostile inputs through the real CLI entry points, counted per surface.

    python benchmarks/attack_corpus.py [--out benchmarks/results/attack_corpus.json] [--only SURFACE ...] [--src DIR]

Builds every hostile input in a scratch folder (nothing outside it is touched; the committed runs/ are only read
and copied), then runs each case as ``leaderboard ARGV`` through ``leaderboard.cli.main`` in one worker process
(imports once; address space capped at 6 GiB; a case that takes longer than its timeout is a hang: the worker is
killed and restarted). A case is *handled* when

- it is refused: a nonzero exit code, no traceback, and one line that names the file (and the field, where the case
  says which) -- at most a few lines of output in all (argparse's usage lines aside) -- and nothing written: every
  folder the command writes to is byte-for-byte what it was before; or
- it is accepted where that is right (hostile-but-valid text: HTML, Markdown, JavaScript in a free-text field): the
  exit code is 0, and after all cases one site is built from every accepted hostile run file and no payload
  appears unescaped in any built HTML page, nor in pr-check's Markdown summary.

Prints a table (surface, attempts, handled) and writes the per-case details as JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import gzip
import hashlib
import json
import os
import platform
import re
import resource
import select
import shutil
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "src" / "leaderboard"
SRC = ROOT / "src"  # the code under test (--src: another checkout's, e.g. to count what an older version handled)
MEMORY_LIMIT = 6 * 1024**3
DEFAULT_TIMEOUT = 90

WORKER = r"""
import contextlib, io, json, os, sys, traceback
from leaderboard.cli import main as cli
print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    job = json.loads(line)
    out, err = io.StringIO(), io.StringIO()
    rc, tb = None, None
    os.chdir(job["cwd"])
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = cli(job["argv"])
    except SystemExit as e:
        rc = e.code if isinstance(e.code, int) else 2
    except BaseException:
        tb = traceback.format_exc()
    print(json.dumps({"rc": rc, "out": out.getvalue()[-20000:], "err": err.getvalue()[-20000:], "traceback": tb}),
          flush=True)
"""


@dataclass
class Case:
    surface: str
    name: str
    argv: list[str]
    hints: list[str] = field(default_factory=list)  # the one error line must hold each (file name, field)
    expect: str = "refuse"  # refuse | accept | either
    watch: list[Path] = field(default_factory=list)  # unchanged after a refusal
    timeout: float = DEFAULT_TIMEOUT
    always: list[Path] = field(default_factory=list)  # unchanged whatever the outcome (outside what it may write)


# --- the worker -----------------------------------------------------------------------------------------------


class Worker:
    def __init__(self, scratch: Path) -> None:
        self.scratch = scratch
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        env = {**os.environ, "PYTHONPATH": str(SRC), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
               "OMP_NUM_THREADS": "1", "HOME": str(self.scratch / "home"), "NO_MKDOCS_2_WARNING": "1"}
        (self.scratch / "home").mkdir(exist_ok=True)
        self.proc = subprocess.Popen(
            [sys.executable, "-c", WORKER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            text=True, env=env, cwd=self.scratch,
            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT)))
        assert json.loads(self._readline(120)) == {"ready": True}

    def _readline(self, timeout: float) -> str:
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            raise TimeoutError
        line = self.proc.stdout.readline()
        if not line:
            raise EOFError
        return line

    def ask(self, argv: list[str], cwd: Path, timeout: float) -> dict:
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        self.proc.stdin.write(json.dumps({"argv": argv, "cwd": str(cwd)}) + "\n")
        self.proc.stdin.flush()
        try:
            return json.loads(self._readline(timeout))
        except TimeoutError:
            self.stop()
            return {"rc": None, "out": "", "err": "", "traceback": None, "hang": True}
        except EOFError:  # killed (memory) or crashed
            code = self.proc.wait()
            self.proc = None
            return {"rc": None, "out": "", "err": "", "traceback": f"worker died ({code})", "hang": False}

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


def tree_state(path: Path) -> dict:
    """What is under a path: names, kinds, sizes, content hashes (links not followed)."""
    out = {}
    if not os.path.lexists(path):
        return {"": "absent"}
    paths = [path] + (sorted(path.rglob("*")) if path.is_dir() and not path.is_symlink() else [])
    for p in paths:
        st = p.lstat()
        rel = str(p.relative_to(path))
        if stat.S_ISREG(st.st_mode):
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest() if st.st_size < 50_000_000 else st.st_size
        elif stat.S_ISLNK(st.st_mode):
            out[rel] = "link:" + os.readlink(p)
        else:
            out[rel] = stat.filemode(st.st_mode)
    return out


USAGE = re.compile(r"^(usage: |\s{2,}\S)")


def judge(case: Case, ans: dict, before: dict, after: dict) -> tuple[bool, str]:
    if ans.get("hang"):
        return False, f"no answer in {case.timeout:.0f} s (hang)"
    if ans["traceback"] or "Traceback (most recent call last)" in ans["out"] + ans["err"]:
        return False, "traceback: " + (ans["traceback"] or ans["err"]).strip().splitlines()[-1][:300]
    rc = ans["rc"]
    text = (ans["err"] + "\n" + ans["out"]).strip()
    if rc == 0:
        if case.expect == "refuse":
            return False, "accepted (exit 0): " + text.splitlines()[-1][:200] if text else "accepted (exit 0)"
        return True, "accepted"
    if case.expect == "accept":
        return False, f"refused (exit {rc}) a valid input: " + text[:300]
    if before != after:
        changed = sorted({k for k in set(before) | set(after) if before.get(k) != after.get(k)})
        return False, f"refused (exit {rc}) but wrote: {changed[:5]}"
    lines = [ln for ln in text.splitlines() if ln.strip() and not USAGE.match(ln)]
    named = [ln for ln in lines if all(h.lower() in ln.lower() for h in case.hints)]
    if not named:
        return False, f"refused (exit {rc}) but no line names {case.hints}: " + " | ".join(lines)[:300]
    if len(lines) > 4:
        return False, f"refused (exit {rc}) in {len(lines)} lines: " + " | ".join(lines)[:300]
    return True, named[0][:300]


# --- building the corpus -----------------------------------------------------------------------------------------


def fifo(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)
    return path


def link(path: Path, target: str | Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(target, path)
    return path


def sock(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(path))
    return path  # the socket object is dropped; the file stays


def write(path: Path, data: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    (path.write_bytes if isinstance(data, bytes) else path.write_text)(data)
    return path


PAYLOADS = [
    '<script>alert("xss-1")</script>',
    '<img src=x onerror=alert(2)>',
    '"><svg/onload=alert(3)>',
    "[click](javascript:alert(4))",
    "{: onclick=alert(5) }",
    "</textarea><iframe src=//evil.example>",
    "**bold** <b>raw-b</b> # heading | a | table |",
    "${alert(6)}{{7*7}}<!-- c -->",
]
# what must never appear in built HTML, whatever page the text reaches
RAW_MARKERS = ['<script>alert("xss-1")', "<img src=x onerror", "<svg/onload", 'href="javascript:', "onclick=alert(5)\"",
               "<iframe src=//evil", "<b>raw-b</b>"]


def run_template() -> dict:
    return json.loads((ROOT / "runs" / "encoder" / "bert-base-cased" / "12c691e1910b6dc7.json").read_text())


def reproduced_template() -> dict:
    return json.loads((ROOT / "schema" / "examples" / "reproduced-baseline.json").read_text())


def with_run_id(data: dict) -> dict:
    from leaderboard.schema import with_run_id as assign

    return assign(data)


def placed(runs: Path, data: dict) -> Path:
    from leaderboard.schema import RunFile, canonical_path, dump_run

    run = RunFile.model_validate(data)
    return write(runs / canonical_path(run), dump_run(run))


def hostile_run_files(d: Path) -> list[tuple[str, Path, list[str]]]:
    """(name, file, hints) of run files that must be refused."""
    good = run_template()
    good.pop("supersedes")
    good = with_run_id(good)
    out: list[tuple[str, Path, list[str]]] = []

    def js(name: str, data, hints: list[str], raw: bytes | None = None) -> None:
        p = d / f"{name}.json"
        write(p, raw if raw is not None else json.dumps(data).encode())
        out.append((name, p, [p.name, *hints]))

    def mod(name: str, path: list, value, hints: list[str]) -> None:
        data = copy.deepcopy(good)
        obj = data
        for k in path[:-1]:
            obj = obj[k]
        obj[path[-1]] = value
        if path[0] != "run_id":
            with contextlib.suppress(ValueError):  # the run_id its content hashes to, where it is valid enough to hash
                data = with_run_id(data)
        js(name, data, hints)

    body = json.dumps(good)
    js("huge", None, [], raw=(body[:-1] + ', "notes": "' + "A" * (6 * 1024 * 1024) + '"}').encode())
    js("huge-whitespace", None, [], raw=body.encode() + b" " * (6 * 1024 * 1024))
    js("nested-arrays", None, [], raw=b"[" * 200_000 + b"]" * 200_000)
    js("nested-objects", None, [], raw=b'{"a":' * 100_000 + b"1" + b"}" * 100_000)
    js("nested-in-notes", None, [], raw=(body[:-1] + ', "x": ' + "[" * 5000 + "]" * 5000 + "}").encode())
    js("dup-top", None, [], raw=(body[:-1] + ', "run_id": "0000000000000000"}').encode())
    js("dup-nested", None, [], raw=body.replace('"id": "bert-base-cased"', '"id": "bert-base-cased", "id": "bert-large-cased"').encode())
    for lit in ["NaN", "Infinity", "-Infinity", "1e400", "-1e400"]:
        js(f"number-{lit}", None, [], raw=body.replace('"value": 9.8', f'"value": {lit}').encode())
    js("bigint", None, [], raw=body.replace('"parameters": 108340804', '"parameters": ' + "9" * 5000).encode())
    for name, path, value, hint in [
        ("value-string", ["results", 0, "metrics", "precision@1-micro", "value"], "9.8", "value"),
        ("value-bool", ["results", 0, "metrics", "precision@1-micro", "value"], True, "value"),
        ("value-null", ["results", 0, "metrics", "precision@1-micro", "value"], None, "value"),
        ("value-list", ["results", 0, "metrics", "precision@1-micro", "value"], [9.8], "value"),
        ("scale-unknown", ["results", 0, "metrics", "precision@1-micro", "scale"], "permille", "scale"),
        ("parameters-float", ["model", "parameters"], 1.5e8, "parameters"),
        ("parameters-string", ["model", "parameters"], "108340804", "parameters"),
        ("parameters-negative", ["model", "parameters"], -5, "parameters"),
        ("toy-string", ["model", "toy"], "false", "toy"),
        ("model-null", ["model"], None, "model"),
        ("model-list", ["model"], [], "model"),
        ("compression-object", ["compression"], {"method": "prune"}, "compression"),
        ("compression-bad-step", ["compression"], [{"method": "prune", "criterion": "l1", "sparsity": 7}], "compression"),
        ("results-empty", ["results"], [], "results"),
        ("results-dict", ["results"], {"0": 1}, "results"),
        ("metrics-list", ["results", 0, "metrics"], [1], "metrics"),
        ("schema-version-2", ["schema_version"], "2.0", "schema_version"),
        ("schema-version-int", ["schema_version"], 1, "schema_version"),
        ("run-id-wrong", ["run_id"], "ffffffffffffffff", "run_id"),
        ("run-id-traversal", ["run_id"], "../../../etc/pw", "run_id"),
        ("extra-field", ["admin"], True, "admin"),
        ("source-kind-unknown", ["source", "kind"], "trusted", "source"),
        ("url-javascript", ["source", "url"], "javascript:alert(1)", "url"),
        ("url-http", ["source", "url"], "http://example.com", "url"),
        ("url-quote", ["source", "url"], 'https://x.example/"onmouseover=alert(1)', "url"),
        ("citation-empty", ["source", "citation"], "", "citation"),
        ("citation-huge", ["source", "citation"], "A" * 600, "citation"),
        ("notes-huge", ["notes"], "n" * 3000, "notes"),
        ("task-traversal", ["evaluation", "task"], "../../etc:passwd", "task"),
        ("task-html", ["evaluation", "task"], "lama:<script>", "task"),
        ("metric-html", ["results", 0, "metrics"], {"<b>x</b>": {"value": 1, "scale": "percent"}}, "metrics"),
        ("config-key-html", ["results", 0, "config"], {"<x>": "y"}, "config"),
        ("config-value-dict", ["results", 0, "config"], {"k": {"a": 1}}, "config"),
        ("family-unknown", ["model", "family"], "../encoder", "family"),
        ("architecture-html", ["model", "architecture"], "<script>x</script>", "architecture"),
        ("model-id-traversal", ["model", "id"], "../../etc/passwd", "id"),
        ("model-id-dotdot", ["model", "id"], "org/..", "id"),
        ("model-id-double-slash", ["model", "id"], "bert//base", "id"),
        ("model-id-absolute", ["model", "id"], "/etc/passwd", "id"),
        ("model-id-cyrillic", ["model", "id"], "bert-b\u0430se-cased", "id"),
        ("model-id-zero-width", ["model", "id"], "bert-base\u200b-cased", "id"),
        ("model-id-bidi", ["model", "id"], "bert-\u202ebase-cased", "id"),
        ("model-id-fullwidth", ["model", "id"], "ｂｅｒｔ", "id"),
        ("model-id-nul", ["model", "id"], "bert\x00", "id"),
        ("model-id-newline", ["model", "id"], "bert\nbase", "id"),
        ("model-id-html", ["model", "id"], "<script>", "id"),
        ("model-id-long", ["model", "id"], "a" * 300, "id"),
        ("supersedes-missing", ["supersedes"], {"run_id": "0123456789abcdef", "reason": "r"}, "supersedes"),
        ("supersedes-reason-newline", ["supersedes"], {"run_id": "0123456789abcdef", "reason": "line\nbreak"}, "reason"),
        ("supersedes-self", ["supersedes"], {"run_id": good["run_id"], "reason": "r"}, "supersedes"),
        ("supersedes-string", ["supersedes"], "0123456789abcdef", "supersedes"),
        ("notes-bidi", ["notes"], "see \u202egnp.exe", "notes"),
        ("notes-isolate", ["notes"], "a\u2066b\u2069", "notes"),
        ("checked-via-zero-width", ["source", "checked_via"], "re\u200bad", "checked_via"),
        ("citation-bidi", ["source", "citation"], "Evil \u202eCorp", "citation"),
        ("method-config-zwj", ["results", 0, "config", "method_as_published"], "den\u200dse", "method_as_published"),
        ("table-control", ["source", "table"], "Table\x1b[31m 2", "table"),
    ]:
        mod(name, path, value, [hint])
    js("top-array", [good], [])
    js("top-string", "x", [])
    js("top-null", None, [], raw=b"null")
    js("empty", None, [], raw=b"")
    js("truncated", None, [], raw=body[: len(body) // 2].encode())
    js("trailing-garbage", None, [], raw=body.encode() + b" {}")
    js("comment", None, [], raw=b"// c\n" + body.encode())
    js("single-quotes", None, [], raw=body.replace('"', "'").encode())
    js("invalid-utf8", None, [], raw=body.replace("Table 11", "Table \udcff").encode("utf-8", "surrogateescape"))
    js("overlong-utf8", None, [], raw=body.replace("Table 11", "Table ").encode().replace(b"Table ", b"Table \xc0\xaf"))
    js("utf16", None, [], raw=body.encode("utf-16"))
    js("lone-surrogate", None, [], raw=body.replace("Table 11", "Table \\ud800").encode())
    js("nul-escaped-in-notes", None, ["notes"], raw=body.replace('"notes": "', '"notes": "a\\u0000b').encode())
    js("binary", None, [], raw=bytes(range(256)) * 10)
    js("gzip", None, [], raw=gzip.compress(body.encode()))
    # things that are not regular files
    out.append(("fifo", fifo(d / "fifo.json"), ["fifo.json"]))
    out.append(("dev-zero-link", link(d / "devzero.json", "/dev/zero"), ["devzero.json"]))
    out.append(("dev-null-link", link(d / "devnull.json", "/dev/null"), ["devnull.json"]))
    out.append(("etc-passwd-link", link(d / "passwd.json", "/etc/passwd"), ["passwd.json"]))
    out.append(("dangling-link", link(d / "dangling.json", d / "nowhere.json"), ["dangling.json"]))
    out.append(("link-loop", link(d / "loop.json", d / "loop.json"), ["loop.json"]))
    (d / "folder.json").mkdir()  # named on the command line, a folder is a folder of run files: see the ingest cases
    write(d / "folder.json" / "x.json", b"[]")
    out.append(("folder", d / "folder.json", ["folder.json"]))
    out.append(("socket", sock(d / "sock.json"), ["sock.json"]))
    return out


def accepted_hostile_runs(runs: Path) -> list[Path]:
    """Valid run files whose every free-text field holds a payload: to be accepted, and escaped when built."""
    paths = []
    for i, payload in enumerate(PAYLOADS):
        data = run_template()
        data.pop("supersedes", None)
        data["source"]["citation"] = f"Evil Corp {i} {payload}"
        data["source"]["table"] = f"Table {payload}"
        data["source"]["checked_via"] = f"checked {payload}"
        data["source"]["page"] = f"p. {payload}"
        data["notes"] = f"notes {payload}"
        data["results"][0]["config"] = {"method_as_published": f"method {payload}", "other": payload}
        data["results"][0]["task_version"] = payload[:300]
        data["model"]["id"] = f"evil-org/model-{i}"
        data["model"]["architecture"] = "BertForMaskedLM"
        paths.append(placed(runs, with_run_id(data)))
    rep = reproduced_template()
    for i, payload in enumerate(PAYLOADS[:3]):
        data = copy.deepcopy(rep)
        data["model"]["id"] = f"evil-org/repro-{i}"
        data["provenance"]["command"] = f"leaderboard run {payload}"
        data["provenance"]["platform"] = payload
        data["provenance"]["device"] = payload
        data["provenance"]["python"] = payload
        data["provenance"]["libraries"] = {"torch": payload}
        data["notes"] = payload
        paths.append(placed(runs, with_run_id(data)))
    return paths


CSV_HEADER = ("model,model_revision,family,compression,method_as_published,task,metric,value,scale,n_shot,citation,"
              "table,url,checked_via\n")
CSV_GOOD = ('bert-base-cased,,encoder,,dense,lama:trex,precision@1,31.1,percent,0,"Petroni et al. 2019, Language Models '
            'as Knowledge Bases?, EMNLP",Table 2 (T-REx total),https://aclanthology.org/D19-1250,\n')
CSV_GOOD2 = CSV_GOOD.replace("31.1", "31.2").replace("dense", "dense 2")


def csv_row(**kw) -> str:
    import csv as _csv
    import io

    cols = CSV_HEADER.strip().split(",")
    base = next(_csv.reader(io.StringIO(CSV_GOOD)))
    row = dict(zip(cols, base))
    row.update(kw)
    buf = io.StringIO()
    _csv.writer(buf, lineterminator="\n").writerow([row[c] for c in cols])
    return buf.getvalue()


def csv_cases(d: Path, runs: Path) -> list[Case]:
    cases = []

    def add(name: str, path: Path, hints: list[str], expect: str = "refuse", extra: list[str] | None = None) -> None:
        cases.append(Case("import-reported", name, ["import-reported", str(path), "--runs", str(runs), *(extra or [])],
                          [path.name, *hints], expect, [runs]))

    def csvfile(name: str, text: str | bytes) -> Path:
        return write(d / f"{name}.csv", text)

    add("fifo", fifo(d / "fifo.csv"), [])
    add("dev-zero", link(d / "zero.csv", "/dev/zero"), [])
    add("dev-urandom", link(d / "urandom.csv", "/dev/urandom"), [])
    (d / "dir.csv").mkdir()
    add("folder", d / "dir.csv", [])
    add("socket", sock(d / "sock.csv"), [])
    add("missing", d / "missing.csv", [])
    add("huge", csvfile("huge", CSV_HEADER + CSV_GOOD * 400_000), [])
    add("empty", csvfile("empty", ""), [])
    add("invalid-utf8", csvfile("badutf8", (CSV_HEADER + CSV_GOOD).encode().replace(b"dense", b"d\xffnse")), [])
    add("utf16", csvfile("utf16", (CSV_HEADER + CSV_GOOD).encode("utf-16")), [])
    add("nul", csvfile("nul", CSV_HEADER + CSV_GOOD.replace("dense", "de\x00nse")), ["method_as_published"])
    add("dup-column", csvfile("dupcol", CSV_HEADER.replace("checked_via", "model") + CSV_GOOD), ["model"])
    add("unknown-column", csvfile("unkcol", CSV_HEADER.replace("checked_via", "evil") + CSV_GOOD), ["evil"])
    add("missing-column", csvfile("misscol", CSV_HEADER.replace(",value", "") + CSV_GOOD.replace(",31.1", "")), ["value"])
    add("extra-fields", csvfile("extra", CSV_HEADER + CSV_GOOD.rstrip("\n") + ",x,y\n"), ["line 2"])
    add("unterminated-quote", csvfile("quote", CSV_HEADER + CSV_GOOD.replace('"Petroni', 'Pe"troni"')), [])
    add("open-quote-eof", csvfile("openq", CSV_HEADER + CSV_GOOD.rstrip("\n") + ',"never closed\n'), [])
    # past the csv module's field limit: the line is named (which column, the csv reader cannot tell)
    add("huge-field", csvfile("bigfield", CSV_HEADER + csv_row(checked_via="x" * 200_000)), ["line 2"])
    add("many-columns", csvfile("wide", CSV_HEADER.rstrip("\n") + "," + ",".join(f"c{i}" for i in range(10_000)) + "\n"), [])
    for name, kw, hint in [
        ("value-underscore", {"value": "3_1.1"}, "value"),
        ("value-nan", {"value": "nan"}, "value"),
        ("value-inf", {"value": "inf"}, "value"),
        ("value-overflow", {"value": "1e999"}, "value"),
        ("value-fullwidth", {"value": "３1.1"}, "value"),
        ("value-superscript", {"value": "²"}, "value"),
        ("value-hex", {"value": "0x1f"}, "value"),
        ("value-empty", {"value": ""}, "value"),
        ("value-comma", {"value": "31,1"}, "value"),
        ("value-out-of-range", {"value": "131"}, "value"),
        ("value-negative", {"value": "-1"}, "value"),
        ("value-bool", {"value": "true"}, "value"),
        ("nshot-negative", {"n_shot": "-1"}, "n_shot"),
        ("nshot-huge", {"n_shot": "9" * 40}, "n_shot"),
        ("scale-unknown", {"scale": "permille"}, "scale"),
        ("model-unknown", {"model": "evil/model"}, "model"),
        ("model-zero-width", {"model": "bert-base\u200b-cased"}, "model"),
        ("model-cyrillic", {"model": "bert-b\u0430se-cased"}, "model"),
        ("model-traversal", {"model": "../../etc/passwd"}, "model"),
        ("family-wrong", {"family": "decoder"}, "family"),
        ("task-traversal", {"task": "../../x:y"}, "task"),
        ("task-unknown-suite", {"task": "evil:trex"}, "task"),
        ("metric-html", {"metric": "<script>"}, "metric"),
        ("compression-bogus", {"compression": "explode:everything=1"}, "compression"),
        ("compression-dup-key", {"compression": "prune:criterion=l1,sparsity=0.1,sparsity=0.9"}, "compression"),
        ("compression-underscore", {"compression": "prune:criterion=l1,sparsity=0_5"}, "compression"),
        ("url-javascript", {"url": "javascript:alert(1)"}, "url"),
        ("url-http", {"url": "http://aclanthology.org/D19-1250"}, "url"),
        ("url-undeclared", {"url": "https://evil.example/paper"}, "citation"),
        ("citation-undeclared", {"citation": "A GPTQ reply. Evil Corp 2025"}, "citation"),
        ("citation-lookalike", {"citation": "Petr\u043eni et al. 2019, Language Models as Knowledge Bases?, EMNLP"},
         "citation"),
        ("table-undeclared", {"table": "Table 99"}, "citation"),
        ("method-bidi", {"method_as_published": "dense \u202egnp.exe"}, "method_as_published"),
        ("method-zero-width", {"method_as_published": "den\u200bse"}, "method_as_published"),
        ("method-zwj", {"method_as_published": "den\u200dse"}, "method_as_published"),
        ("method-bom", {"method_as_published": "\ufeffdense"}, "method_as_published"),
        ("method-lrm", {"method_as_published": "dense\u200e"}, "method_as_published"),
        ("method-isolate", {"method_as_published": "dense\u2066x\u2069"}, "method_as_published"),
        ("method-line-separator", {"method_as_published": "dense\u2028x"}, "method_as_published"),
        ("method-private-use", {"method_as_published": "dense\ue000"}, "method_as_published"),
        ("method-control", {"method_as_published": "dense\x1b[31m"}, "method_as_published"),
        ("method-newline", {"method_as_published": "dense\nx"}, "method_as_published"),
        ("checked-bidi", {"checked_via": "read \u202ein the paper"}, "checked_via"),
        ("checked-zero-width", {"checked_via": "read\u200b"}, "checked_via"),
        ("revision-traversal", {"model_revision": "../../x"}, "model_revision"),
        ("revision-html", {"model_revision": "<script>"}, "model_revision"),
    ]:
        add(name, csvfile(name, CSV_HEADER + csv_row(**kw)), [hint])
    # all-or-nothing: a good row then a bad row; a good file then one whose folder is blocked
    add("second-row-bad", csvfile("secondbad", CSV_HEADER + CSV_GOOD + csv_row(value="3_1.1")), ["line 3", "value"])
    add("thousand-good-then-bad", csvfile("manybad", CSV_HEADER + "".join(
        csv_row(compression=f"prune:criterion=l1,sparsity={i / 1000}") for i in range(1, 1000)) + csv_row(value="nan")),
        ["line 1001", "value"])
    # decided to be accepted (tests/test_reported.py explains why): cross-script look-alikes in free-text columns
    for name, kw in [("method-mixed-script-confusable", {"method_as_published": "GPT\u0405 dense"}),
                     ("checked-mixed-script-confusable", {"checked_via": "T\u0430ble 2 of the paper"})]:
        add(name, csvfile(name, CSV_HEADER + csv_row(**kw)), [], expect="accept")
    # --models, --errata, --bear tables that are hostile
    good_csv = csvfile("good", CSV_HEADER + CSV_GOOD)
    for name, text, hints in [
        ("models-fifo", None, ["models-fifo.csv"]),
        ("models-bad-params", "model,family,architecture,parameters,series\nbert-base-cased,encoder,BertForMaskedLM,1_0,x\n",
         ["models-bad-params.csv", "parameters"]),
        ("models-traversal", "model,family,architecture,parameters,series\n../../x,encoder,BertForMaskedLM,10,x\n",
         ["models-traversal.csv"]),
    ]:
        p = fifo(d / f"{name}.csv") if text is None else csvfile(name, text)
        cases.append(Case("import-reported", name, ["import-reported", str(good_csv), "--runs", str(runs), "--models",
                                                    str(p)], hints, "refuse", [runs]))
    for name, raw, hints in [
        ("errata-fifo", None, ["errata-fifo.json"]),
        ("errata-nan", b'{"errata": [{"supersedes": NaN}]}', ["errata-nan.json"]),
        ("errata-wrong-type", b'{"errata": "x"}', ["errata-wrong-type.json", "errata"]),
        ("errata-dup-keys", b'{"errata": [], "errata": []}', ["errata-dup-keys.json"]),
        ("bear-fifo", None, ["bear-fifo.json"]),
        ("bear-nested", b"[" * 100_000 + b"]" * 100_000, ["bear-nested.json"]),
        ("bear-wrong-type", b'{"bert-base-cased": "x"}', ["bear-wrong-type.json"]),
        ("bear-nan", b'{"bert-base-cased": {"accuracy": NaN}}', ["bear-nan.json"]),
    ]:
        p = fifo(d / f"{name}.json") if raw is None else write(d / f"{name}.json", raw)
        flag = "--errata" if name.startswith("errata") else "--bear"
        cases.append(Case("import-reported", name, ["import-reported", str(good_csv), "--runs", str(runs), flag, str(p)],
                          hints, "refuse", [runs]))
    return cases


def checkpoint_cases(d: Path) -> list[Case]:
    cases = []
    decoder = PKG / "data" / "demo-decoder"
    base_config = json.loads((decoder / "config.json").read_text())
    lama = ["--eval", "lama:trex", "--lama-dir", "builtin:lama-sample", "--limit", "2", "--no-progress", "--check-only"]
    out = d / "out"

    def folder(name: str, config: dict | str | bytes | None = "default", files: dict | None = None) -> Path:
        f = d / name
        f.mkdir(parents=True)
        for p in decoder.iterdir():
            if p.name not in ("config.json", "demo_model.json", "facts.jsonl"):
                os.symlink(p, f / p.name)
        if config == "default":
            config = base_config
        if config is not None:
            write(f / "config.json", config if isinstance(config, str | bytes) else json.dumps(config))
        for rel, data in (files or {}).items():
            write(f / rel, data)
        return f

    def add(name: str, model: Path | str, hints: list[str], extra: list[str] | None = None, expect: str = "refuse",
            flags: list[str] | None = None) -> None:
        argv = ["run", "--model", str(model), *(flags if flags is not None else lama), "--out", str(out), *(extra or [])]
        cases.append(Case("run --check-only", name, argv, hints, expect, [out]))

    def cfg(**kw) -> dict:
        c = copy.deepcopy(base_config)
        c.update(kw)
        return c

    add("control-good-folder", folder("good"), [], expect="accept")
    add("no-weights", folder("noweights", files={}) if False else _no_weights(d, decoder, base_config), ["noweights"])
    add("no-config", folder("noconfig", None), ["noconfig", "config.json"])
    add("config-huge", folder("cfghuge", json.dumps(cfg(x="a" * (5 * 1024 * 1024)))), ["config.json"])
    add("config-nested", folder("cfgnest", b'{"a":' * 100_000 + b"1" + b"}" * 100_000), ["config.json"])
    add("config-dup-key", folder("cfgdup", json.dumps(base_config)[:-1] + ', "num_hidden_layers": 1000}'),
        ["config.json", "num_hidden_layers"])
    add("config-nan", folder("cfgnan", json.dumps(base_config)[:-1] + ', "rope_theta": NaN}'), ["config.json"])
    add("config-array", folder("cfgarr", "[]"), ["config.json"])
    add("config-invalid-utf8", folder("cfgutf", json.dumps(base_config).encode()[:-1] + b', "x": "\xff"}'),
        ["config.json"])
    add("config-empty", folder("cfgempty", ""), ["config.json"])
    for name, kw, hint in [
        ("layers-huge", {"num_hidden_layers": 10_000_000}, "config.json"),
        ("layers-string", {"num_hidden_layers": "2"}, "num_hidden_layers"),
        ("layers-float", {"num_hidden_layers": 2.5}, "num_hidden_layers"),
        ("layers-bool", {"num_hidden_layers": True}, "num_hidden_layers"),
        ("layers-negative", {"num_hidden_layers": -1}, "num_hidden_layers"),
        ("layers-zero", {"num_hidden_layers": 0}, "matches no layer"),  # named by its effect, not the field
        ("hidden-huge", {"hidden_size": 2**40}, "config.json"),
        ("vocab-huge", {"vocab_size": 10**12}, "config.json"),
        ("vocab-bigint", {"vocab_size": 10**400}, "config.json"),
        ("heads-not-dividing", {"num_attention_heads": 7}, "config.json"),
        ("model-type-traversal", {"model_type": "../../etc/passwd"}, "config.json"),
        ("model-type-unknown", {"model_type": "evilnet"}, "config.json"),
        ("model-type-int", {"model_type": 5}, "config.json"),
        ("architectures-string", {"architectures": "LlamaForCausalLM"}, "config.json"),
        ("architectures-html", {"architectures": ["<script>alert(1)</script>"]}, "config.json"),
        ("auto-map-remote-code", {"auto_map": {"AutoModelForCausalLM": "evil.Model"}}, "config.json"),
        ("text-config-huge", {"text_config": {"num_hidden_layers": 10**9}}, "text_config"),
        ("qc-gptq-bits-float", {"quantization_config": {"quant_method": "gptq", "bits": 4.9, "group_size": 128}}, "bits"),
        ("qc-gptq-bits-string", {"quantization_config": {"quant_method": "gptq", "bits": "4", "group_size": 128}}, "bits"),
        ("qc-gptq-group-negative", {"quantization_config": {"quant_method": "gptq", "bits": 4, "group_size": -5}},
         "group_size"),
        ("qc-gptq-sym-string", {"quantization_config": {"quant_method": "gptq", "bits": 4, "group_size": 128,
                                                        "sym": "false"}}, "sym"),
        ("qc-awq-wbit", {"quantization_config": {"quant_method": "awq", "bits": 99, "group_size": 128}}, "bits"),
        ("qc-bnb-yes", {"quantization_config": {"quant_method": "bitsandbytes", "load_in_4bit": "yes"}}, "load_in_4bit"),
        ("qc-unknown-method", {"quantization_config": {"quant_method": "evil"}}, "quant_method"),
        ("qc-string", {"quantization_config": "gptq"}, "quantization_config"),
        ("qc-nested-deep", {"quantization_config": {"quant_method": "compressed-tensors", "config_groups":
                                                    {"g": {"weights": {"num_bits": "eight"}}}}}, "config.json"),
    ]:
        add(name, folder(f"c-{name}", cfg(**kw)), [hint])
    recipe = "default_stage:\n  default_modifiers:\n    SparseGPTModifier:\n      {body}\n"
    bomb = "\n".join(["a: &a [x, x, x, x, x, x, x, x, x]"] + [f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, "
                                                               f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]"
                                                               for i in range(9)])
    for name, text, hint in [
        ("recipe-alias-bomb", bomb, "recipe.yaml"),
        ("recipe-sparsity-bool", recipe.format(body="sparsity: true"), "sparsity"),
        ("recipe-sparsity-string", recipe.format(body="sparsity: '0.5'"), "sparsity"),
        ("recipe-sparsity-big", recipe.format(body="sparsity: 5"), "sparsity"),
        ("recipe-dup-key", recipe.format(body="sparsity: 0.5\n      sparsity: 0.9"), "recipe.yaml"),
        ("recipe-huge", "# " + "x" * (2 * 1024 * 1024) + "\n", "recipe.yaml"),
        ("recipe-control-char", "a: \x07\n", "recipe.yaml"),
        ("recipe-nested", "a: " + "[" * 10_000 + "]" * 10_000 + "\n", "recipe.yaml"),
        ("recipe-list", "- 1\n- 2\n", "recipe.yaml"),
        ("recipe-invalid-utf8", b"a: \xff\n", "recipe.yaml"),
        ("recipe-mask-structure", recipe.format(body="sparsity: 0.5\n      mask_structure: '9:4'"), "mask_structure"),
    ]:
        add(name, folder(f"r-{name}", files={"recipe.yaml": text}), [hint])
    # python tags are read as nothing (llm-compressor writes them), never built: accepted, and nothing runs
    add("recipe-python-tag", folder("r-recipe-python-tag", files={
        "recipe.yaml": "!!python/object/apply:os.system ['touch /tmp/pwned-attack']\n"}), [], expect="either")
    f = folder("r-recipe-fifo")
    fifo(f / "recipe.yaml")
    add("recipe-fifo", f, ["recipe.yaml"])
    f = folder("r-recipe-devzero")
    link(f / "recipe.yaml", "/dev/zero")
    add("recipe-dev-zero", f, ["recipe.yaml"])
    f = folder("c-fifo", None)
    fifo(f / "config.json")
    add("config-fifo", f, ["config.json"])
    f = folder("c-devzero", None)
    link(f / "config.json", "/dev/zero")
    add("config-dev-zero", f, ["config.json"])
    f = folder("c-passwd", None)
    link(f / "config.json", "/etc/passwd")
    add("config-link-etc-passwd", f, ["config.json"])
    f = folder("c-dir", None)
    (f / "config.json").mkdir()
    add("config-folder", f, ["config.json"])
    # the model is the folder: names that are not model ids; --model-id values that are not
    for name, dirname in [("name-space", "my model"), ("name-bidi", "mo\u202edel"), ("name-zero-width", "mo\u200bdel"),
                          ("name-html", "<b>x<"), ("name-newline", "a\nb"), ("name-leading-dash", "-model")]:
        model = folder(f"names/{dirname}")
        add(name, model, ["model"] if name != "name-leading-dash" else [])
    for name, mid in [("id-traversal", "../../etc"), ("id-double-slash", "org//m"), ("id-html", "<script>"),
                      ("id-bidi", "org/m\u202e"), ("id-cyrillic", "org/m\u043e"), ("id-long", "o/" + "m" * 300),
                      ("id-empty", "")]:
        add(name, folder(f"i-{name}"), ["model"], extra=["--model-id", mid])
    # GGUF files that lie
    gg = d / "gguf"
    gg.mkdir()
    for name, data in [
        ("gguf-random", os.urandom(4096)),
        ("gguf-empty", b""),
        ("gguf-magic-only", b"GGUF"),
        ("gguf-bad-version", b"GGUF" + struct.pack("<I", 999) + struct.pack("<QQ", 0, 0)),
        ("gguf-huge-counts", b"GGUF" + struct.pack("<I", 3) + struct.pack("<QQ", 2**62, 2**62)),
        ("gguf-huge-string", b"GGUF" + struct.pack("<I", 3) + struct.pack("<QQ", 0, 1) + struct.pack("<Q", 2**60) + b"k"),
        ("gguf-truncated-kv", b"GGUF" + struct.pack("<I", 3) + struct.pack("<QQ", 0, 1) + struct.pack("<Q", 4) + b"ke"),
        ("gguf-bad-type", b"GGUF" + struct.pack("<I", 3) + struct.pack("<QQ", 0, 1) + struct.pack("<Q", 3) + b"key"
         + struct.pack("<I", 99) + b"\x00" * 8),
        ("gguf-array-bomb", b"GGUF" + struct.pack("<I", 3) + struct.pack("<QQ", 0, 1) + struct.pack("<Q", 3) + b"key"
         + struct.pack("<I", 9) + struct.pack("<I", 4) + struct.pack("<Q", 2**40)),
    ]:
        add(name, write(gg / f"{name}.gguf", data), [f"{name}.gguf"])
    add("gguf-fifo", fifo(gg / "fifo.gguf"), ["fifo.gguf"])
    add("gguf-dev-zero", link(gg / "zero.gguf", "/dev/zero"), ["zero.gguf"])
    # calibration text for a calibration-driven method (checked before loading)
    good = folder("calib-model")
    wanda = lama + ["--compress", "prune:criterion=wanda-oneshot,sparsity=0.5"]
    cal = d / "calibration"
    for name, path in [
        ("calibration-fifo", fifo(cal / "fifo.txt")),
        ("calibration-dev-zero", link(cal / "zero.txt", "/dev/zero")),
        ("calibration-invalid-utf8", write(cal / "bad.txt", b"some text \xff\xfe more")),
        ("calibration-empty", write(cal / "empty.txt", b"")),
        ("calibration-folder", (cal / "folder.txt").mkdir() or cal / "folder.txt"),
        ("calibration-missing", cal / "missing.txt"),
        ("calibration-huge", write(cal / "huge.txt", b"")),
    ]:
        if name == "calibration-huge":
            with open(path, "wb") as fh:
                fh.truncate(300 * 1024 * 1024)  # sparse: 300 MiB of NULs, over the 256 MiB cap
        add(name, good, [path.name], flags=wanda + ["--calibration", str(path)])
    add("calibration-samples-huge", good, ["calibration_samples"], flags=wanda + ["--calibration-samples", "2000000"])
    add("calibration-samples-negative", good, ["calibration_samples"], flags=wanda + ["--calibration-samples", "-1"])
    add("calibration-seq-len-zero", good, ["calibration_seq_len"], flags=wanda + ["--calibration-seq-len", "0"])
    # step notation and flags
    for name, step, hint in [
        ("step-dup-key", "prune:criterion=l1,sparsity=0.1,sparsity=0.9", "sparsity"),
        ("step-underscore", "prune:criterion=l1,sparsity=0_5", "sparsity"),
        ("step-nan", "prune:criterion=l1,sparsity=nan", "sparsity"),
        ("step-inf", "prune:criterion=l1,sparsity=inf", "sparsity"),
        ("step-unknown-method", "explode:criterion=l1", "explode"),
        ("step-unknown-field", "prune:criterion=l1,sparsity=0.5,evil=1", "evil"),
        ("step-html", "prune:criterion=<script>,sparsity=0.5", "criterion"),
        ("step-nm-inverted", "prune:criterion=n:m,n=5,m=4", "n"),
        ("step-bits-float", "quantize:scheme=rtn,bits=4.9", "bits"),
        ("step-empty", "", "compress"),
    ]:
        add(name, good, [hint], flags=lama + ["--compress", step])
    for name, flags, hint in [
        ("limit-negative", ["--limit", "-5"], "limit"),
        ("limit-huge", ["--limit", "9" * 30], "limit"),
        ("batch-zero", ["--batch-size", "0"], "batch"),
        ("seed-huge", ["--seed", "9" * 40], "seed"),
        ("device-evil", ["--device", "cuda:99;rm -rf /"], "device"),
        ("eval-traversal", ["--eval", "lama:../../etc"], "lama"),
        ("eval-unknown", ["--eval", "evil:task"], "evil"),
        ("lama-dir-fifo", ["--lama-dir", str(fifo(d / "lamafifo"))], "lamafifo"),
        ("lama-dir-missing", ["--lama-dir", str(d / "nolama")], "nolama"),
        ("relations-evil", ["--relations", "../../x"], "relations"),
    ]:
        add(name, good, [hint], flags=lama + flags)
    # the token is checked against the tokenizer, which --check-only does not load: refused after loading
    add("bear-bos-unknown", good, ["bear-bos"], expect="either",
        flags=lama + ["--eval", "bear", "--bear-dir", "builtin:bear-sample", "--bear-bos", "<evil>"])
    # hostile run specs (--spec YAML)
    specs = d / "specs"
    for name, text, hint in [
        ("spec-alias-bomb", bomb, "spec"),
        ("spec-python-tag", "!!python/object/apply:os.system ['touch /tmp/pwned-attack']\n", "spec"),
        ("spec-wrong-types", f"model: {good}\nevals: lama:trex\nlimit: 'ten'\n", "limit"),
        ("spec-unknown-key", f"model: {good}\nevals: [lama:trex]\nevil: 1\n", "evil"),
        ("spec-dup-key", f"model: {good}\nmodel: {good}\nevals: [lama:trex]\n", "model"),
        ("spec-invalid-utf8", b"model: \xff\n", "spec"),
        ("spec-huge", "# " + "x" * (2 * 1024 * 1024) + "\n", "spec"),
    ]:
        p = write(specs / f"{name}.yaml", text)
        add(name, "", [p.name] if hint == "spec" else [p.name, hint], flags=["--spec", str(p), "--check-only"])
        cases[-1].argv = ["run", "--spec", str(p), "--check-only", "--out", str(out)]
    p = fifo(specs / "fifo.yaml")
    cases.append(Case("run --check-only", "spec-fifo", ["run", "--spec", str(p), "--check-only"], ["fifo.yaml"], "refuse",
                      [out]))
    return cases


def _no_weights(d: Path, decoder: Path, config: dict) -> Path:
    f = d / "noweights"
    f.mkdir()
    for p in decoder.iterdir():
        if p.suffix != ".safetensors" and p.name not in ("demo_model.json", "facts.jsonl"):
            shutil.copy(p, f / p.name)
    return f


def sweep_cases(d: Path) -> list[Case]:
    cases = []
    good = (ROOT / "sweeps" / "demo.yaml").read_text()
    bomb = "\n".join(["a: &a [x, x, x, x, x, x, x, x, x]"] + [f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, "
                                                               f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]"
                                                               for i in range(9)])
    state = d / "state"

    def add(name: str, path: Path, hints: list[str], extra: list[str] | None = None, expect: str = "refuse") -> None:
        cases.append(Case("sweep --dry-run", name, ["sweep", str(path), "--dry-run", "--state", str(state),
                                                    "--out", str(d / "runs"), *(extra or [])],
                          [path.name, *hints] if expect == "refuse" else [], expect, [state, d / "runs"]))

    def y(name: str, text: str | bytes) -> Path:
        return write(d / f"{name}.yaml", text)

    grid = "name: g\ngroups:\n  - name: a\n    models: [builtin:demo-model]\n    evals: [lama:trex]\n    pipelines:\n"
    add("control-demo", y("demo", good), [], expect="accept")
    for name, text, hint in [
        ("alias-bomb", bomb, ""),
        ("python-tag", "!!python/object/apply:os.system ['touch /tmp/pwned-attack']\n", ""),
        ("dup-key", good.replace("name: demo\n", "name: demo\nname: evil\n", 1), "name"),
        ("invalid-utf8", b"name: \xff\n", ""),
        ("utf16", good.encode("utf-16"), ""),
        ("huge", "# " + "x" * (2 * 1024 * 1024) + "\n" + good, ""),
        ("nested", "a: " + "[" * 20_000 + "]" * 20_000 + "\n", ""),
        ("empty", "", ""),
        ("top-list", "- 1\n", ""),
        ("control-char", "name: a\x07\n", ""),
        ("name-traversal", good.replace("name: demo\n", "name: ../../etc\n", 1), "name"),
        ("name-html", good.replace("name: demo\n", "name: '<script>'\n", 1), "name"),
        ("unknown-key", good.replace("name: demo\n", "name: demo\nevil: 1\n", 1), "evil"),
        ("groups-string", "name: g\ngroups: x\n", "groups"),
        ("models-int", grid.replace("[builtin:demo-model]", "5") + "      - baseline\n", "models"),
        ("model-traversal", grid.replace("builtin:demo-model", "../../../etc") + "      - baseline\n", "--model"),
        ("grid-billion", grid + "      - prune: {criterion: l1, sparsity: [" + ", ".join(f"0.{i:03d}" for i in range(1, 1000))
         + "]}\n        quantize: {scheme: rtn, bits: [2,3,4,5,6,7,8,2,3,4,5,6,7,8]}\n", ""),
        ("sparsity-string", grid + "      - prune: {criterion: l1, sparsity: 'half'}\n", "sparsity"),
        ("sparsity-nan", grid + "      - prune: {criterion: l1, sparsity: .nan}\n", "sparsity"),
        ("sparsity-bool", grid + "      - prune: {criterion: l1, sparsity: true}\n", "sparsity"),
        ("step-unknown", grid + "      - explode: {x: 1}\n", "explode"),
        # refused when the sweep is read (the evaluation registry), naming the file and groups[0].evals
        ("eval-traversal", grid.replace("[lama:trex]", "[lama:../../x]") + "      - baseline\n", "groups[0].evals"),
        ("limit-negative", "defaults: {limit: -1}\n" + grid + "      - baseline\n", "limit"),
        ("device-evil", "defaults: {device: 'cuda;reboot'}\n" + grid + "      - baseline\n", "device"),
        ("out-traversal", "out: ../../../../tmp/evil-out\n" + grid + "      - baseline\n", ""),
        ("tab-indent", "name: g\ngroups:\n\t- x\n", ""),
        ("binary", bytes(range(256)), ""),
    ]:
        add(name, y(name, text), [hint] if hint else [])
        if name == "model-traversal":  # the dry run's table row names the field, not the file
            cases[-1].hints = [hint, "invalid"]
    add("description-huge", y("description-huge", "description: '" + "d" * 100_000 + "'\n" + grid + "      - baseline\n"),
        [], expect="either")  # within the 1 MiB file cap; shown nowhere but the dry run's header
    add("fifo", fifo(d / "fifo.yaml"), [])
    add("dev-zero", link(d / "zero.yaml", "/dev/zero"), [])
    (d / "dir.yaml").mkdir()
    add("folder", d / "dir.yaml", [])
    add("missing", d / "missing.yaml", [])
    demo = d / "demo.yaml"
    for name, pair, hint in [("set-nan", "limit=.nan", "limit"), ("set-bomb", "limit=" + bomb.replace("\n", "\n"), "limit"),
                             ("set-unknown", "evil=1", "evil"), ("set-no-equals", "limit", "limit"),
                             ("set-device", "device=cuda;reboot", "device"), ("set-python-tag", "limit=!!python/none ''", "")]:
        cases.append(Case("sweep --dry-run", name, ["sweep", str(demo), "--dry-run", "--state", str(state), "--set", pair],
                          ["--set", hint] if hint else ["--set"], "refuse", [state]))
    for name, shard, expect in [("shard-bad", "3/2", "refuse"), ("shard-text", "x/y", "refuse"),
                                ("shard-huge", "0/" + "9" * 40, "either")]:  # a valid shard of many: holds one run
        cases.append(Case("sweep --dry-run", name, ["sweep", str(demo), "--dry-run", "--state", str(state), "--shard", shard],
                          ["shard"], expect, [state]))
    return cases


def _zip(path: Path, entries: list[tuple[str, bytes]], symlink: str | None = None) -> Path:
    import warnings

    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings(), zipfile.ZipFile(path, "w") as z:
        warnings.simplefilter("ignore")
        for name, data in entries:
            z.writestr(name, data)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.create_system = 3
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            z.writestr(info, "/etc/passwd")
    return path


def fetch_cases(d: Path) -> list[Case]:
    cases = []
    rel = ("data/relations.jsonl", b"{}\n")
    n = 0

    def add(name: str, url: str, hints: list[str], what: str = "lama", expect: str = "refuse") -> None:
        nonlocal n
        n += 1
        dest = d / f"dest{n}"
        write(dest / "victim", "mine")
        cases.append(Case(f"data fetch {what}", name, ["data", "fetch", what, "--url", url, "--dest", str(dest)],
                          hints, expect, [dest]))

    arch = d / "archives"
    for name, entries in [
        ("traversal", [("../victim", b"x"), rel]),
        ("traversal-deep", [("data/../../../../tmp/evil", b"x"), rel]),
        ("absolute", [("/tmp/evil-abs", b"x"), rel]),
        ("forged-manifest-line", [("data/x\nentry victim", b"x"), rel]),
        ("dot", [("data/.", b"x"), rel]),
        ("source-dir", [("SOURCE.txt/", b""), rel]),
        ("source-json", [("SOURCE.json", b"{}"), rel]),
        ("backslash", [("data\\..\\..\\evil", b"x"), rel]),
        ("drive", [("C:/evil", b"x"), rel]),
        ("bidi-name", [("data/\u202etxt.exe", b"x"), rel]),
        ("zero-width-name", [("data/a\u200bb", b"x"), rel]),
        ("control-name", [("data/a\x1bb", b"x"), rel]),
        ("case-clash", [("data/A.txt", b"x"), ("data/a.txt", b"y"), rel]),
        ("duplicate", [("data/a.txt", b"x"), ("data/a.txt", b"y"), rel]),
        ("file-then-dir", [("data/a", b"x"), ("data/a/b", b"y"), rel]),
        ("long-name", [("data/" + "n" * 5000, b"x"), rel]),
        ("victim-name", [("victim", b"overwritten"), rel]),
    ]:
        add(name, _zip(arch / f"{name}.zip", entries).as_uri(), [])
    # two names a Linux file system keeps apart; a path 1,000 characters deep: both valid here
    add("nfc-nfd-names", _zip(arch / "nfc.zip", [("data/\u00e9", b"x"), ("data/e\u0301", b"y"), rel]).as_uri(), [],
        expect="either")
    add("deep-path", _zip(arch / "deep.zip", [("data/" + "/".join(["d"] * 500) + "/f", b"x"), rel]).as_uri(), [],
        expect="either")
    add("symlink-entry", _zip(arch / "symlink.zip", [rel], symlink="data/evil-link").as_uri(), [])
    many = arch / "many.zip"
    with zipfile.ZipFile(many, "w") as z:
        for i in range(200_000):
            z.writestr(f"data/{i}", b"")
    add("200k-entries", many.as_uri(), [])
    # an entry whose header claims 2.5 GB (never read whole), and one that lies small but inflates large
    big = _zip(arch / "declared-big.zip", [("data/big.bin", b"\0" * 1000), rel])
    raw = bytearray(big.read_bytes())
    for sig, off in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        i = raw.find(sig)
        struct.pack_into("<I", raw, i + off, 2_500_000_000)
    big.write_bytes(bytes(raw))
    add("declared-2.5GB", big.as_uri(), [])
    add("not-a-zip", write(arch / "text.zip", b"hello").as_uri(), ["text.zip"])
    add("empty-file", write(arch / "empty.zip", b"").as_uri(), [])
    add("truncated-zip", write(arch / "trunc.zip", (arch / "traversal.zip").read_bytes()[:40]).as_uri(), [])
    add("fifo", fifo(arch / "fifo.zip").as_uri(), ["fifo.zip"])
    add("dev-zero", "file:///dev/zero", ["/dev/zero"])
    add("folder", (arch.as_uri()), [])
    add("missing", (arch / "missing.zip").as_uri(), ["missing.zip"])
    add("scheme-ftp", "ftp://example.invalid/x.zip", [])
    add("scheme-javascript", "javascript:alert(1)", [])
    add("url-newline", "file:///tmp/x\nentry", [])
    good = _zip(arch / "good.zip", [("data/a.txt", b"a"), rel])
    # dest that is not a folder the user owns
    dest_file = write(d / "dest-file", "mine")
    cases.append(Case("data fetch lama", "dest-is-a-file", ["data", "fetch", "lama", "--url", good.as_uri(), "--dest",
                                                            str(dest_file)], ["dest-file"], "refuse", [dest_file]))
    # a link planted inside the destination, where an entry will land: never written through (whatever the outcome)
    outside = write(d / "outside" / "target.txt", "mine")
    planted = d / "dest-planted"
    write(planted / "victim", "mine")
    link(planted / "a.txt", outside)
    cases.append(Case("data fetch lama", "planted-link-in-dest", ["data", "fetch", "lama", "--url", good.as_uri(), "--dest",
                                                                  str(planted)], [], "either", [planted],
                      always=[d / "outside"]))
    for name, entries in [("bear-traversal", [("../victim", b"x")]), ("bear-not-bear", [("BEAR/x.json", b"{}")]),
                          ("bear-forged-line", [("BEAR/x\nentry victim", b"x")])]:
        add(name, _zip(arch / f"{name}.zip", entries).as_uri(), [], what="bear")
    add("bear-fifo", fifo(arch / "bfifo.zip").as_uri(), ["bfifo.zip"], what="bear")
    add("bear-dev-zero", "file:///dev/zero", ["/dev/zero"], what="bear")
    for name, extra in [("model-unknown", ["../../etc"]), ("model-html", ["<script>"])]:
        dest = d / f"mdest-{name}"
        cases.append(Case("data fetch model", name, ["data", "fetch", "model", *extra, "--dest", str(dest), "--wheels",
                                                     str(d / "nowheels")], [], "refuse", [dest]))
    return cases


def pr_cases(d: Path, base: Path) -> list[Case]:
    """pr-check with a base of published runs and a pull request tree holding one hostile change each."""
    cases = []
    good = run_template()
    published = sorted((base / "encoder" / "bert-base-cased").glob("*.json"))
    n = 0

    def pr(name: str, change, hints: list[str], expect: str = "refuse") -> None:
        nonlocal n
        n += 1
        tree = d / f"pr{n}"
        shutil.copytree(base, tree, symlinks=True)
        change(tree)
        summary = d / f"summary{n}.md"
        cases.append(Case("pr-check", name, ["pr-check", "--runs", str(tree), "--base", str(base), "--summary",
                                             str(summary), "--work", str(d / f"work{n}")], hints, expect, [base]))

    def edit(tree: Path) -> None:
        p = tree / "encoder" / "bert-base-cased" / published[0].name
        p.write_text(p.read_text().replace('"value": ', '"value": 1', 1))

    pr("edit-published", edit, [published[0].name])
    pr("delete-published", lambda t: (t / "encoder" / "bert-base-cased" / published[0].name).unlink(), [published[0].name])
    pr("symlink-run", lambda t: link(t / "encoder" / "bert-base-cased" / "0123456789abcdef.json", "/etc/passwd"),
       ["0123456789abcdef.json"])
    pr("fifo-run", lambda t: fifo(t / "encoder" / "bert-base-cased" / "0123456789abcdef.json"), ["0123456789abcdef.json"])
    pr("symlink-folder", lambda t: link(t / "encoder" / "evil", "/etc"), ["evil"])

    def wrong_path(t: Path) -> None:
        data = copy.deepcopy(good)
        data.pop("supersedes")
        data["results"][0]["metrics"]["precision@1-micro"]["value"] = 9.9
        data["model"]["id"] = "bert-large-cased"
        data["model"]["parameters"] = 333_579_251
        data = with_run_id(data)
        write(t / "decoder" / "x" / f"{data['run_id']}.json", json.dumps(data))

    pr("wrong-path", wrong_path, ["decoder/x", "file must be at"])

    def double_slash(t: Path) -> None:
        data = copy.deepcopy(good)
        data.pop("supersedes")
        data["model"]["id"] = "HuggingFaceTB//SmolLM-1.7B"
        write(t / "encoder" / "huggingfacetb--smollm-1.7b" / "0123456789abcdef.json", json.dumps(data))

    pr("model-id-double-slash", double_slash, ["id"])

    def toy_false(t: Path) -> None:
        src = sorted((ROOT / "runs" / "encoder" / "compression-leaderboard--demo-bert-trex").glob("*.json"))[0]
        data = json.loads(src.read_text())
        data["model"]["toy"] = False
        data = with_run_id(data)
        write(t / "encoder" / "compression-leaderboard--demo-bert-trex" / f"{data['run_id']}.json", json.dumps(data))

    pr("toy-false-demo", toy_false, ["toy"])

    def hostile_text(t: Path) -> None:
        for p in accepted_hostile_runs(d / "hostile-runs-pr"):
            rel = p.relative_to(d / "hostile-runs-pr")
            write(t / rel, p.read_bytes())

    pr("hostile-free-text", hostile_text, [], expect="accept")
    return cases


def validate_cases(d: Path) -> list[Case]:
    cases = []
    for name, path, hints in hostile_run_files(d / "v"):
        cases.append(Case("validate", name, ["validate", "--no-path-check", str(path)], hints))
    return cases


def tree_with(tree: Path, path: Path) -> Path:
    """A runs folder: the committed bert-base-cased runs, and beside them the hostile entry ``path`` as it is (a link,
    a FIFO, a folder, a socket or a file)."""
    shutil.copytree(ROOT / "runs" / "encoder" / "bert-base-cased", tree / "encoder" / "bert-base-cased")
    target = tree / "encoder" / "bert-base-cased" / path.name
    if path.is_symlink():
        os.symlink(os.readlink(path), target)
    elif stat.S_ISFIFO(path.lstat().st_mode):
        os.mkfifo(target)
    elif path.is_dir():
        target.mkdir()
    elif stat.S_ISSOCK(path.lstat().st_mode):
        sock(target)
    else:
        shutil.copy(path, target)
    return tree


def ingest_cases(d: Path, files: list[tuple[str, Path, list[str]]]) -> list[Case]:
    """Each hostile file inside a runs folder with a good one: ingest must refuse and leave the store as it was."""
    cases = []
    for name, path, hints in files:
        tree = tree_with(d / f"t-{name}", path)
        db = d / f"{name}.duckdb"
        cases.append(Case("ingest", name, ["ingest", str(tree), "--db", str(db)], hints, "refuse", [db]))
        if name in EXISTING_STORE_KINDS:  # into a store that exists: it must stay as it was
            db = d / f"existing-{name}.duckdb"
            shutil.copy(d.parent / "misc" / "store.duckdb", db)
            cases.append(Case("ingest", f"{name} (existing store)", ["ingest", str(tree), "--db", str(db)], hints,
                              "refuse", [db]))
    return cases


EXISTING_STORE_KINDS = {"huge", "dup-top", "number-NaN", "value-string", "run-id-wrong", "fifo", "etc-passwd-link",
                        "model-id-cyrillic", "notes-bidi"}


def build_cases(d: Path, files: list[tuple[str, Path, list[str]]]) -> list[Case]:
    """build refuses a runs folder holding a hostile file, and leaves the previous site as it was."""
    cases = []
    site = d / "site"
    write(site / "index.html", "previous site")
    for name, path, hints in files:
        tree = tree_with(d / f"b-{name}", path)
        cases.append(Case("build", name, ["build", "--runs", str(tree), "--out", str(site), "--work", str(d / "work"),
                                          "--root", str(ROOT)], hints, "refuse", [site]))
    return cases


def misc_cases(d: Path) -> list[Case]:
    db = d / "store.duckdb"
    cases = [Case("cli", "help", ["--help"], [], "accept")]
    for name, argv, hints in [
        ("unknown-command", ["evil"], ["evil"]),
        ("query-copy-to-file", ["query", "--db", str(db), f"COPY (SELECT 1) TO '{d}/leak.csv'"], []),
        ("query-attach", ["query", "--db", str(db), f"ATTACH '{d}/other.db' AS o"], []),
        ("query-install", ["query", "--db", str(db), "INSTALL httpfs"], []),
        ("query-drop", ["query", "--db", str(db), "DROP TABLE runs"], []),
        ("query-read-file", ["query", "--db", str(db), "SELECT * FROM read_text('/etc/passwd')"], []),
        ("query-set", ["query", "--db", str(db), "SET enable_external_access=true"], []),
        ("query-missing-db", ["query", "--db", str(d / "none.duckdb"), "SELECT 1"], ["none.duckdb"]),
        ("query-fifo-db", ["query", "--db", str(fifo(d / "f.duckdb")), "SELECT 1"], ["f.duckdb"]),
        ("submit-fifo", ["submit", str(fifo(d / "s.json")), "--runs", str(d / "sruns"), "--base", str(d / "sbase")], ["s.json"]),
        ("submit-dev-zero", ["submit", str(link(d / "z.json", "/dev/zero")), "--runs", str(d / "sruns"), "--base",
                             str(d / "sbase")], ["z.json"]),
    ]:
        cases.append(Case("cli", name, argv, hints, "refuse", [d / "leak.csv", d / "other.db", d / "sruns", db]))
    return cases


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "attack_corpus.json"))
    ap.add_argument("--only", nargs="*", help="surfaces (prefixes) to run")
    ap.add_argument("--keep", action="store_true", help="keep the scratch folder")
    ap.add_argument("--src", type=Path, help="the package source to attack (default: this checkout's src/)")
    args = ap.parse_args()
    global SRC
    SRC = (args.src or SRC).resolve()
    sys.path.insert(0, str(ROOT / "src"))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    scratch = Path(tempfile.mkdtemp(prefix="attack-corpus-"))
    try:
        return run_corpus(args, scratch)
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
        else:
            print(f"scratch kept: {scratch}")


def run_corpus(args: argparse.Namespace, scratch: Path) -> int:
    t0 = time.time()
    cpu0 = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    base = scratch / "base-runs"
    shutil.copytree(ROOT / "runs" / "encoder" / "bert-base-cased", base / "encoder" / "bert-base-cased")

    # a store for the query cases
    subprocess.run([sys.executable, "-m", "leaderboard.cli", "ingest", str(base), "--db", str(scratch / "misc" / "store.duckdb")],
                   env={**os.environ, "PYTHONPATH": str(ROOT / "src")}, check=True, capture_output=True)
    files = hostile_run_files(scratch / "v")
    build_kinds = {"huge", "nested-arrays", "dup-top", "number-NaN", "value-string", "model-id-traversal",
                   "model-id-zero-width", "invalid-utf8", "fifo", "dev-zero-link", "etc-passwd-link", "run-id-wrong"}
    cases = ([Case("validate", n, ["validate", "--no-path-check", str(p)], h) for n, p, h in files]
             + ingest_cases(scratch / "ingest", files)
             + build_cases(scratch / "build", [f for f in files if f[0] in build_kinds])
             + csv_cases(scratch / "csv", scratch / "csv-runs")
             + checkpoint_cases(scratch / "ckpt")
             + sweep_cases(scratch / "sweep")
             + fetch_cases(scratch / "fetch")
             + pr_cases(scratch / "pr", base)
             + misc_cases(scratch / "misc"))
    if args.only:
        cases = [c for c in cases if any(c.surface.startswith(s) for s in args.only)]
    worker = Worker(scratch)
    results = []
    surface = None
    for case in cases:
        if case.surface != surface:  # a fresh process per surface: nothing carries over
            worker.stop()
            surface = case.surface
            print(f"== {surface}", flush=True)
        before = {str(w): tree_state(w) for w in case.watch}
        kept = {str(w): tree_state(w) for w in case.always}
        t = time.time()
        ans = worker.ask(case.argv, scratch, case.timeout)
        after = {str(w): tree_state(w) for w in case.watch}
        ok, why = judge(case, ans, before, after)
        if kept != {str(w): tree_state(w) for w in case.always}:
            ok, why = False, f"changed what it may never touch: {case.always}"
        results.append({"surface": case.surface, "case": case.name, "handled": ok, "why": why,
                        "rc": ans.get("rc"), "seconds": round(time.time() - t, 2)})
        print(f"  {'ok ' if ok else 'BAD'} {case.name}: {why[:160]}", flush=True)
    worker.stop()
    # the accepted hostile text: one site built from all of it, and no payload unescaped on any page
    esc = escape_check(scratch)
    results.extend(esc)
    for r in esc:
        print(f"  {'ok ' if r['handled'] else 'BAD'} {r['case']}: {r['why'][:160]}", flush=True)
    pwned = Path("/tmp/pwned-attack").exists()
    table: dict[str, list[int]] = {}
    for r in results:
        t = table.setdefault(r["surface"], [0, 0, 0])
        t[0] += 1
        t[1] += r["handled"]
        t[2] += r["handled"] and r["rc"] == 0  # handled by accepting (hostile-but-valid input)
    total = [sum(v[0] for v in table.values()), sum(v[1] for v in table.values())]
    cpu1 = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    cpu = sum(b.ru_utime + b.ru_stime - a.ru_utime - a.ru_stime for a, b in zip(cpu0, cpu1, strict=True))
    summary = {
        "machine": f"{_cpu_model()}, {os.cpu_count()} cores, {platform.platform()}; "
                   f"load average at start {os.getloadavg()[0]:.1f}",
        "python": platform.python_version(),
        "wall_seconds": round(time.time() - t0, 1),
        "cpu_seconds": round(cpu, 1),
        "code_executed_from_yaml": pwned,
        "surfaces": {k: {"attempts": v[0], "handled": v[1], "handled_by_accepting": v[2]} for k, v in table.items()},
        "total": {"attempts": total[0], "handled": total[1], "share": round(total[1] / max(total[0], 1), 4)},
        "not_handled": [r for r in results if not r["handled"]],
        "cases": results,
    }
    rows = ["| surface | attempts | handled | of which accepted (valid hostile input) |", "|---|---:|---:|---:|"]
    rows += [f"| {k} | {v[0]} | {v[1]} | {v[2]} |" for k, v in table.items()]
    rows.append(f"| **total** | **{total[0]}** | **{total[1]}** ({100 * total[1] / max(total[0], 1):.1f} %) | "
                f"{sum(v[2] for v in table.values())} |")
    note = (f"\n{summary['machine']}; wall {summary['wall_seconds']} s, CPU {summary['cpu_seconds']} s "
            f"(this process and the CLI worker); code run from YAML: {'YES' if pwned else 'no'}\n")
    print("\n" + "\n".join(rows) + note)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(summary, indent=1, ensure_ascii=False) + "\n")
    Path(args.out).with_suffix(".md").write_text(
        "# Attack corpus (benchmarks/attack_corpus.py)\n\n" + "\n".join(rows) + "\n" + note
        + "".join(f"\n- not handled: {r['surface']} / {r['case']}: {r['why']}" for r in summary["not_handled"]) + "\n")
    return 0 if total[0] == total[1] and not pwned else 1


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    return platform.processor() or platform.machine()


def escape_check(scratch: Path) -> list[dict]:
    """Build one site from the accepted hostile runs (beside the published bert-base-cased runs) and look for any
    payload unescaped in its HTML, and in pr-check's Markdown summaries."""
    d = scratch / "escape"
    runs = d / "runs"
    shutil.copytree(ROOT / "runs" / "encoder" / "bert-base-cased", runs / "encoder" / "bert-base-cased")
    accepted_hostile_runs(runs)
    env = {**os.environ, "PYTHONPATH": str(SRC), "HF_HUB_OFFLINE": "1", "NO_MKDOCS_2_WARNING": "1"}
    out = []
    proc = subprocess.run([sys.executable, "-m", "leaderboard.cli", "validate", str(runs)], env=env, capture_output=True,
                          text=True, timeout=300)
    out.append({"surface": "escaping", "case": "validate accepts hostile free text", "handled": proc.returncode == 0,
                "why": (proc.stdout + proc.stderr).strip().splitlines()[-1][:300] if proc.stdout + proc.stderr else "",
                "rc": proc.returncode, "seconds": 0})
    proc = subprocess.run([sys.executable, "-m", "leaderboard.cli", "build", "--runs", str(runs), "--out", str(d / "site"),
                           "--work", str(d / "work"), "--root", str(ROOT)], env=env, capture_output=True, text=True,
                          timeout=600)
    built = proc.returncode == 0
    out.append({"surface": "escaping", "case": "build with hostile free text", "handled": built,
                "why": (proc.stdout + proc.stderr).strip()[-300:], "rc": proc.returncode, "seconds": 0})
    pages = sorted((d / "site").rglob("*.html")) + sorted((d / "site").rglob("*.json")) if built else []
    found: dict[str, list[str]] = {}
    seen: dict[str, int] = {}
    for p in pages:
        text = p.read_text(errors="replace")
        for m in RAW_MARKERS:
            if m in text:
                found.setdefault(m, []).append(str(p.relative_to(d / "site")))
        for i, payload in enumerate(PAYLOADS):
            if f"Evil Corp {i}" in text:
                seen[payload] = seen.get(payload, 0) + 1
    for m in RAW_MARKERS:
        pages_with = [x for x in found.get(m, []) if x.endswith(".html")]
        out.append({"surface": "escaping", "case": f"unescaped {m!r} in built HTML", "handled": built and not pages_with,
                    "why": f"raw in {pages_with[:5]}" if pages_with else f"escaped on every page ({len(pages)} files)",
                    "rc": None, "seconds": 0})
    for i, payload in enumerate(PAYLOADS):
        out.append({"surface": "escaping", "case": f"payload {i} reaches pages", "handled": seen.get(payload, 0) > 0,
                    "why": f"citation shown on {seen.get(payload, 0)} files", "rc": None, "seconds": 0})
    summaries = sorted((scratch / "pr").glob("summary*.md"))
    for s in summaries:
        text = s.read_text()
        raw = [m for m in RAW_MARKERS if m in text] + [p for p in PAYLOADS if p in text]
        if "Evil Corp" in text or raw:
            out.append({"surface": "escaping", "case": f"pr-check summary {s.name}", "handled": not raw,
                        "why": f"raw in Markdown: {raw[:3]}" if raw else "escaped", "rc": None, "seconds": 0})
    return out


if __name__ == "__main__":
    sys.exit(main())
