"""The strict field types of run settings (RunSpec's and every evaluation suite's): torch-free."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, Strict, StringConstraints


def _os_path(value):
    """A value the file system can be asked about (``is_dir`` on it must answer, not raise): no NUL character, no
    name longer than 255 bytes, at most 4,095 bytes in all."""
    text = str(value)
    if "\x00" in text:
        raise ValueError("a path cannot hold a NUL character")
    raw = text.encode("utf-8", "surrogatepass")
    if len(raw) > 4095:
        raise ValueError(f"a path of {len(raw):,} bytes; at most 4,095")
    if any(len(part) > 255 for part in raw.split(b"/")):
        raise ValueError("a file or folder name longer than 255 bytes")
    return value


Int = Annotated[int, Strict()]
Bool = Annotated[bool, Strict()]
Str = Annotated[str, Strict(), StringConstraints(max_length=1000)]
PathText = Annotated[str, Strict(), StringConstraints(max_length=1000), AfterValidator(_os_path)]  # a path or a name
OsPath = Annotated[Path, AfterValidator(_os_path)]
