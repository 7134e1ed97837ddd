"""Scores an evaluation has finished, kept part by part so a run that stops (a killed job, a session's end, a
crash) resumes where it stopped instead of scoring everything again.

Content-addressed, like lm-eval's request cache (``--use_cache``): a partial evaluation lives under a folder named
by the sha256 of everything its scores depend on (``Partial.key``): the compressed model's weights (every tensor
of its state dict, names, dtypes, shapes and bytes: ``model_fingerprint``), its tokenizer, the data, the settings
and the version of the library that scores. The same command on the same model after the same compression finds it; any other
model, data or setting finds another folder. Each part (a BEAR relation) is one JSON file written atomically once it
is scored; a part that fails to read back exactly as written (truncated, reordered, another key) is scored again, and
the evaluation checks a kept part against the model by scoring one of its statement sets again (bear.score_relations).
Processes running the same evaluation share its parts through claim files (``Partial.claim``). The folder is removed
when the evaluation completes.

Where: ``$LEADERBOARD_PARTIAL_DIR``, else ``~/.cache/compression-leaderboard/partial``; ``LEADERBOARD_PARTIAL_DIR=off``
keeps nothing (every run scores from the start)."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import math
import os
import shutil
import socket
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, Strict, StrictInt, StrictStr, ValidationError, model_validator

from ..fsutil import InputError, read_json_bounded, write_atomic

FORMAT = "leaderboard-partial-scores/1"
OFF = "off"
_PART = "part-"
_CLAIM = "claim-"  # a part a process is scoring now (ephemeral: never committed)
_READER = "reader-"  # a process running this evaluation now (the last one out removes the folder)
CLAIM_TTL = 6 * 3600  # a claim or reader of another machine (a shared filesystem) counts as live this long after it was made
POLL_SECONDS = 10.0  # how often a process waiting for another's part looks for it


def partial_root() -> Path | None:
    """Where partial evaluations are kept; None when switched off."""
    env = os.environ.get("LEADERBOARD_PARTIAL_DIR")
    if env == OFF:
        return None
    return Path(env) if env else Path.home() / ".cache" / "compression-leaderboard" / "partial"


def _update_tensor(h, name: str, value) -> bool:
    """Hash one state-dict entry (a tensor, a quantized tensor, or a tuple of them as torch's packed params hold);
    False where it cannot be read as bytes (then nothing is kept: a fingerprint must not miss a weight)."""
    import torch

    if isinstance(value, (tuple, list)):
        return all(_update_tensor(h, f"{name}.{i}", v) for i, v in enumerate(value))
    if value is None or isinstance(value, (bool, int, float, str, torch.dtype)):
        h.update(f"{name}={value!r}\0".encode())
        return True
    if not isinstance(value, torch.Tensor):
        return False
    t = value.detach()
    if t.is_quantized:
        if t.qscheme() in (torch.per_tensor_affine, torch.per_tensor_symmetric):
            extra = f"{t.q_scale()!r},{t.q_zero_point()!r}"
        else:
            extra = f"per-channel axis {t.q_per_channel_axis()}"
            if not (_update_tensor(h, name + ".scales", t.q_per_channel_scales())
                    and _update_tensor(h, name + ".zero_points", t.q_per_channel_zero_points())):
                return False
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)}:{extra}\0".encode())
        t = t.int_repr()
    elif hasattr(t, "__tensor_flatten__"):  # a traceable tensor subclass (torchao's Int8Tensor...): its inner tensors
        inner, ctx = t.__tensor_flatten__()
        meta = f"{name}:{type(t).__module__}.{type(t).__qualname__}:{tuple(t.shape)}:{ctx!r}"
        if " at 0x" in meta:  # an object's address is no fingerprint
            return False
        h.update(meta.encode() + b"\0")
        return all(_update_tensor(h, f"{name}.{a}", getattr(t, a)) for a in inner)
    elif type(t) is not torch.Tensor:
        data = getattr(t, "data", None)  # a Parameter subclass (bitsandbytes' Params4bit) over plain storage
        if not isinstance(value, torch.nn.Parameter) or type(data) is not torch.Tensor:
            return False
        h.update(f"{name}:{type(value).__qualname__}:{data.dtype}:{tuple(data.shape)}\0".encode())
        t = data
    else:
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)}\0".encode())
    try:
        flat = t.cpu().contiguous().reshape(-1)
        h.update(flat.view(torch.uint8).numpy() if flat.numel() else b"")
    except (RuntimeError, TypeError):
        return False
    return True


def model_fingerprint(model) -> str | None:
    """sha256 over the model's state dict (every entry's name, dtype, shape and bytes, in order); None where an entry
    cannot be read as bytes."""
    h = hashlib.sha256()
    for name, value in model.state_dict().items():
        if not _update_tensor(h, name, value):
            return None
    return h.hexdigest()


def tokenizer_fingerprint(tokenizer) -> str:
    """sha256 of what tokenizes: a fast tokenizer's whole serialized pipeline, else its vocabulary; and its special
    tokens and padding side."""
    h = hashlib.sha256(type(tokenizer).__name__.encode() + b"\0")
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        if backend.padding is not None or backend.truncation is not None:
            # padding and truncation are what the last call asked for (a batch's padding stays set on the backend),
            # not what tokenizes: the pipeline as a fresh tokenizer has it
            from tokenizers import Tokenizer

            backend = Tokenizer.from_str(backend.to_str())
            backend.no_padding()
            backend.no_truncation()
        h.update(backend.to_str().encode())
    else:
        h.update(json.dumps(sorted(tokenizer.get_vocab().items())).encode())
    specials = {k: str(v) for k, v in sorted(getattr(tokenizer, "special_tokens_map", {}).items())}
    h.update(json.dumps([specials, getattr(tokenizer, "padding_side", None)]).encode())
    return h.hexdigest()


Score = Annotated[float, Strict(), Field(allow_inf_nan=False)]  # what the writer writes: finite floats (non-finite as null)


class PartFile(BaseModel):
    """One scored part as written (read back strictly: a part that is not exactly this is scored again)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    format: StrictStr
    key: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    part: StrictStr
    seconds: Annotated[float, Field(ge=0, allow_inf_nan=False)]  # the time scoring the part took (a resumed run's
    # measured time and throughput count every part's, not only those scored since it resumed)
    # JSON has no tuples: a row is read from a list (strict=False on the container only; every item stays strict)
    rows: list[Annotated[tuple[StrictStr, StrictInt, StrictInt, list[Score | None]], Strict(False)]]

    @model_validator(mode="after")
    def _known(self):
        if self.format != FORMAT:
            raise ValueError(f"format {self.format!r}, expected {FORMAT!r}")
        return self


def _part_name(part: str) -> str:
    """A file name for any part name (a BEAR relation code such as P1412): readable where safe, else hashed."""
    if part and len(part) <= 80 and all(c.isascii() and (c.isalnum() or c in "-_") for c in part):
        return f"{_PART}{part}.json"
    return f"{_PART}{hashlib.sha256(part.encode()).hexdigest()[:32]}.json"


def _encode_scores(scores: Sequence[float]) -> list[float | None]:
    """Scores as JSON holds them: a non-finite score (NaN, inf) becomes null, read back as NaN (every non-finite score
    ranks last, so the outcome is the same)."""
    return [float(s) if math.isfinite(s) else None for s in scores]


def _decode_scores(scores: list) -> list[float]:
    return [float("nan") if s is None else float(s) for s in scores]


class Claim(BaseModel):
    """Which process claimed a part (or reads the evaluation): enough to tell whether it still runs."""

    model_config = ConfigDict(extra="forbid", strict=True)

    pid: Annotated[int, Field(strict=True, gt=1, lt=1 << 22)]  # Linux's pid_max; never init, never a group
    host: Annotated[str, Field(max_length=255)]
    start: Annotated[str, Field(max_length=40)] | None = None  # the process's start time (Linux): a reused pid is not it
    boot: Annotated[str, Field(max_length=64)] | None = None  # the boot it ran in (Linux): another VM named alike is not it

    def __str__(self) -> str:
        return f"pid {self.pid} on {self.host}"


def _proc_stat(pid: int) -> list[str] | None:
    try:  # the fields of /proc/PID/stat after the command name (which may hold spaces and parentheses)
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _start_of(fields: list[str] | None) -> str | None:
    """A process's start time (clock ticks after boot) from its /proc/PID/stat fields."""
    return fields[19] if fields is not None and len(fields) > 19 else None


def _process_start(pid: int) -> str | None:
    return _start_of(_proc_stat(pid))


def _boot_id() -> str | None:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()[:64] or None
    except OSError:
        return None


@functools.lru_cache(maxsize=4)
def _claim_of(pid: int) -> Claim:
    return Claim(pid=pid, host=socket.gethostname()[:255], start=_process_start(pid), boot=_boot_id())


def _me() -> Claim:
    """This process's claim (made once per process: a waiting process compares claims every poll)."""
    return _claim_of(os.getpid())


def _alive(claim: Claim, path: Path) -> bool:
    """Whether the process that wrote ``claim`` (at ``path``) still runs: on this machine (same host name and boot) by
    its pid, state and start time; on another (a shared filesystem) while the claim was touched within CLAIM_TTL."""
    me = _me()
    if claim.host != me.host or (claim.boot and me.boot and claim.boot != me.boot):
        try:
            return time.time() - path.stat().st_mtime < CLAIM_TTL
        except OSError:
            return False
    try:
        os.kill(claim.pid, 0)
    except (ProcessLookupError, OverflowError, ValueError):
        return False
    except PermissionError:
        pass
    except OSError:
        return False
    fields = _proc_stat(claim.pid)
    if fields is not None and fields[0] in ("Z", "X"):  # exited, not yet reaped: it scores nothing more
        return False
    now = _start_of(fields)
    return claim.start is None or now is None or now == claim.start


def _read_claim(path: Path) -> Claim | None:
    try:
        return Claim.model_validate(read_json_bounded(path, "partial-scores", 4096))
    except (InputError, ValidationError, ValueError, OSError):
        return None


class Partial:
    """The parts of one evaluation kept so far (``folder`` None: nothing is kept, every part is scored)."""

    def __init__(self, folder: Path | None, key: dict, digest: str):
        self.folder = folder
        self.key = key
        self.digest = digest
        self.notes: list[str] = []
        self.claimed: set[Path] = set()
        self.rejected: dict[str, tuple] = {}
        self.reader: Path | None = None
        self.poll_seconds = POLL_SECONDS

    def load(self, part: str) -> tuple[list[tuple], float] | None:
        """The rows kept for ``part`` ((name, int, int, [scores]) tuples) and the seconds scoring them took, or None when
        none were kept or they do not read back exactly (then the part is scored again, with a note)."""
        if self.folder is None:
            return None
        path = self.folder / _part_name(part)
        try:
            st = path.lstat()
        except OSError:
            return None
        seen = (st.st_ino, st.st_mtime_ns, st.st_size)
        if self.rejected.get(part) == seen:  # refused before and unchanged since (a process waiting polls it)
            return None
        try:
            doc = PartFile.model_validate(read_json_bounded(path, "partial-scores"))
            if doc.key != self.digest or doc.part != part:
                raise ValueError("written for another evaluation")
            rows = [(name, index, answer, _decode_scores(scores)) for name, index, answer, scores in doc.rows]
        except (InputError, ValidationError, ValueError, ArithmeticError, OSError) as e:
            self.reject(part, f"{path}: not used, scored again ({str(e).splitlines()[0][:200]})", seen)
            return None
        return rows, doc.seconds

    def reject(self, part: str, note: str, seen: tuple | None = None) -> None:
        """A kept part is not used (scored again): say so once, and do not read it again while it is unchanged."""
        if seen is None and self.folder is not None:
            try:
                st = (self.folder / _part_name(part)).lstat()
                seen = (st.st_ino, st.st_mtime_ns, st.st_size)
            except OSError:
                seen = None
        if seen is not None:
            self.rejected[part] = seen
        self.note(note)

    def note(self, line: str) -> None:
        """A line for the person running the evaluation, said once however often it recurs."""
        if line not in self.notes:
            self.notes.append(line)

    def save(self, part: str, rows: Sequence[tuple], seconds: float) -> None:
        """Keep ``part``'s rows (name, template, answer, scores) and the seconds scoring them took, atomically."""
        if self.folder is None:
            return
        doc = {"format": FORMAT, "key": self.digest, "part": part, "seconds": round(float(seconds), 3),
               "rows": [[str(n), int(t), int(a), _encode_scores(s)] for n, t, a, s in rows]}
        try:  # keeping is a convenience: a full disk or a blocked path never stops the evaluation
            self.folder.mkdir(parents=True, exist_ok=True)
            key_file = self.folder / "key.json"
            if not key_file.exists():  # for a person looking at the cache: what this folder is
                write_atomic(key_file, (json.dumps(self.key, indent=1, sort_keys=True) + "\n").encode(), sync=False)
            write_atomic(self.folder / _part_name(part), json.dumps(doc, separators=(",", ":")).encode(), sync=True)
        except OSError as e:
            self.note(f"{part}: not kept for resuming ({e})")

    def _mark(self, path: Path) -> None:
        """Put this process's Claim at ``path`` whole, unless a file is there (FileExistsError): written to a file of
        its own first and linked into place, so another process never reads a claim half written."""
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{time.monotonic_ns()}.tmp")
        fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        try:
            with os.fdopen(fd, "w") as f:
                f.write(_me().model_dump_json())
            os.link(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)

    def _ours(self, path: Path) -> bool:
        return _read_claim(path) == _me()

    def attach(self) -> None:
        """Say that this process runs the evaluation (done() of another leaves the kept parts while it does)."""
        if self.folder is None:
            return
        me = _me()
        path = self.folder / f"{_READER}{hashlib.sha256(f'{me.host}:{me.pid}'.encode()).hexdigest()[:16]}.json"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            path.unlink(missing_ok=True)
            self._mark(path)
            self.reader = path
        except OSError as e:
            self.note(f"cannot mark this process as running the evaluation ({e})")

    def claim(self, part: str) -> Claim | None:
        """Claim ``part`` for this process: None when this process is to score it (claimed, or claims cannot be kept),
        else the claim of the live process that is scoring it."""
        if self.folder is None:
            return None
        path = self.folder / f"{_CLAIM}{_part_name(part)[len(_PART):]}"
        try:
            for _attempt in range(3):
                try:
                    self.folder.mkdir(parents=True, exist_ok=True)
                    self._mark(path)
                except FileExistsError:
                    other = _read_claim(path)
                    if other is not None and other == _me():
                        self.claimed.add(path)
                        return None
                    if other is not None and _alive(other, path):
                        return other
                    # its process stopped (or the claim is unreadable): move it aside under a name of this process's
                    # own, so of two processes taking it over one moves it and the other finds it gone and retries
                    aside = path.with_name(f".{path.name}.{os.getpid()}.stale")
                    try:
                        os.rename(path, aside)
                    except FileNotFoundError:
                        continue
                    moved = _read_claim(aside)
                    if moved is not None and moved != other and _alive(moved, aside):
                        # another process took the stale claim over between our reading and moving it: put its claim
                        # back (unless a third claimed meanwhile) and leave the part to it
                        with contextlib.suppress(FileExistsError):
                            os.link(aside, path)
                        aside.unlink(missing_ok=True)
                        return moved
                    aside.unlink(missing_ok=True)
                    continue
                self.claimed.add(path)
                return None
            return _read_claim(path) or None
        except OSError as e:  # a claim that cannot be made costs at most a relation scored twice, never the run
            self.note(f"claims cannot be kept in {self.folder} ({e}); this process scores every relation")
            return None

    def touch(self) -> None:
        """Say that this process still runs (another machine on a shared filesystem judges it by the files' times)."""
        for path in [*self.claimed, *([self.reader] if self.reader is not None else [])]:
            with contextlib.suppress(OSError):
                os.utime(path)

    def release(self, part: str) -> None:
        path = self.folder / f"{_CLAIM}{_part_name(part)[len(_PART):]}" if self.folder is not None else None
        if path is not None and path in self.claimed:
            with contextlib.suppress(OSError):
                if self._ours(path):  # never another process's claim that replaced a stale one of ours
                    path.unlink()
            self.claimed.discard(path)

    def release_all(self) -> None:
        """Give up every claim of this process and its reader mark (it stops: another may score those parts)."""
        for path in list(self.claimed):
            with contextlib.suppress(OSError):
                if self._ours(path):
                    path.unlink()
        self.claimed.clear()
        if self.reader is not None:
            with contextlib.suppress(OSError):
                self.reader.unlink()
            self.reader = None

    def done(self) -> None:
        """The evaluation completed: nothing left to resume, once no other process is reading its parts (the last one
        to complete removes the folder). Never fails the completed evaluation."""
        if self.folder is None:
            return
        try:
            self.release_all()
            if not self.folder.is_dir():
                return
            for other in self.folder.glob(f"{_READER}*.json"):
                claim = _read_claim(other)
                if claim is not None and _alive(claim, other):
                    return
            shutil.rmtree(self.folder, ignore_errors=True)
        except OSError as e:
            self.note(f"{self.folder}: not removed ({e}); nothing in it is needed any more")


def open_partial(key: dict, root: Path | None = None) -> Partial:
    """The partial evaluation of ``key`` (a JSON-able dict of everything the scores depend on) under ``root`` (default
    ``partial_root()``); keeps nothing when switched off or when the key holds a None fingerprint."""
    text = json.dumps(key, sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(text.encode()).hexdigest()
    root = partial_root() if root is None else root
    usable = root is not None and all(v is not None for k, v in key.items() if k.endswith("fingerprint"))
    return Partial(Path(root) / digest[:32] if usable else None, key, digest)
