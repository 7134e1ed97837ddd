"""Read-only git queries for the checks and the build: output as text, or None where git cannot answer."""

from __future__ import annotations

import subprocess
from pathlib import Path


def git_out(args: list[str], cwd: Path, timeout: float | None = None) -> str | None:
    """``git args...`` run in ``cwd``: its standard output, or None when git is missing, ``cwd`` is not a folder,
    the command fails or runs past ``timeout`` seconds."""
    try:
        res = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=timeout)
    except (OSError, subprocess.SubprocessError):
        return None
    return res.stdout if res.returncode == 0 else None
