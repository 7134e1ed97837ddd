"""Calibration sets for data-driven methods: named, hashed, cut into sequences the same way every time.

A set is ``builtin:<name>`` (text shipped in ``leaderboard/data/calibration/``) or a UTF-8 text file
of the user's. The text is tokenized once (no special tokens) and cut into consecutive, non-overlapping
windows of ``seq_len`` tokens; the first ``samples`` windows are the calibration batch. What the step
records (name, sha256 of the text, samples, seq_len) enters the run_id.

Built in (``leaderboard/data/calibration/SOURCES.md`` says where each text comes from):
- ``builtin:austen`` (the default): two public-domain novels, about 1.3 MB and 300k BPE tokens, with every
  sentence holding a LAMA or BEAR fact removed; enough for the papers' 128 sequences of 2,048 tokens.
- ``builtin:default``: a short text written for this project (about 14 sequences of 128 BPE tokens), kept
  unchanged because runs made with it record its sha256.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from .spec import Calibration

BUILTIN_PREFIX = "builtin:"
DEFAULT = "builtin:austen"
DEFAULT_SAMPLES = 128  # the GPTQ / SparseGPT / Wanda papers' setting: 128 sequences of 2,048 tokens
DEFAULT_SEQ_LEN = 2048
MAX_TEXT_BYTES = 256 * 1024 * 1024
MAX_CALIBRATION = 1_000_000  # samples, and tokens per sample, a step can record (spec.Calibration)


class CalibrationError(ValueError):
    """The calibration set cannot be read or is too short; the message says what to change."""


def builtin_names() -> list[str]:
    folder = resources.files("leaderboard") / "data" / "calibration"
    return sorted(p.name.removesuffix(".txt") for p in folder.iterdir() if p.name.endswith(".txt"))


def read_text(source: str) -> tuple[str, str]:
    """(recorded name, text) of ``builtin:<name>`` or a file path."""
    if source.startswith(BUILTIN_PREFIX):
        name = source.removeprefix(BUILTIN_PREFIX)
        if name not in builtin_names():
            raise CalibrationError(f"--calibration {source}: no such built-in set; built in: "
                                   + ", ".join(BUILTIN_PREFIX + n for n in builtin_names()))
        raw = (resources.files("leaderboard") / "data" / "calibration" / f"{name}.txt").read_bytes()
        return source, _decode(raw, source)
    from ..fsutil import InputError, read_bounded

    path = Path(source)
    if not path.exists():
        raise CalibrationError(f"--calibration {source}: not a file (use a UTF-8 text file or one of "
                               + ", ".join(BUILTIN_PREFIX + n for n in builtin_names()) + ")")
    try:  # the one bounded reader: a regular file (never a FIFO or device), at most MAX_TEXT_BYTES, read once
        raw = read_bounded(path, "calibration", MAX_TEXT_BYTES)
    except InputError as e:
        raise CalibrationError(f"--calibration {e}") from None
    name = "".join(c if c.isascii() and (c.isalnum() or c in "_.+-") else "-" for c in path.name).lstrip("._+-")[:100]
    return name or "calibration", _decode(raw, source)


def _decode(raw: bytes, source: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise CalibrationError(f"--calibration {source}: not UTF-8 text (byte {e.start})") from None


def describe(source: str, samples: int, seq_len: int) -> Calibration:
    """What a step records about its calibration set (read and hashed, not tokenized)."""
    if samples < 1 or seq_len < 1:
        raise CalibrationError("--calibration-samples and --calibration-seq-len must be positive")
    name, text = read_text(source)
    need, size = samples * seq_len, len(text.encode("utf-8"))
    if need > size + 64:  # no tokenizer makes more tokens than the text has bytes (but for a leading marker or so)
        raise CalibrationError(f"--calibration {source}: {samples:,} samples of {seq_len:,} tokens need {need:,} tokens; "
                               f"the text has {size:,} bytes, so fewer tokens: ask for fewer with "
                               "--calibration-samples / --calibration-seq-len, or give a longer text")
    return Calibration(name=name, sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(), samples=samples,
                       seq_len=seq_len)


@dataclass
class CalibrationData:
    """A calibration set ready for a model: its record, its text and (once bound) the tokenizer."""

    info: Calibration
    text: str
    tokenizer: Any = None
    family: str = "decoder"
    _ids: Any = field(default=None, repr=False)

    @classmethod
    def load(cls, source: str, info: Calibration) -> CalibrationData:
        name, text = read_text(source)
        sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
        if sha != info.sha256:
            raise CalibrationError(f"--calibration {source}: text changed since the step was planned (sha256 {sha[:12]}…)")
        return cls(info=info, text=text)

    def sequences(self):
        """LongTensor [samples, seq_len]."""
        import torch

        if self._ids is None:
            if self.tokenizer is None:
                raise CalibrationError("calibration data needs the model's tokenizer")
            n, L = self.info.samples, self.info.seq_len
            ids = self._tokens(n * L)
            have = len(ids) // L
            if have < n:
                raise CalibrationError(
                    f"calibration set {self.info.name} gives {have} sequences of {L} tokens with this tokenizer "
                    f"({len(ids):,} tokens); ask for at most {have} with --calibration-samples, shorter ones with "
                    "--calibration-seq-len, or pass a longer text with --calibration FILE")
            self._ids = torch.tensor(ids[: n * L], dtype=torch.long).view(n, L)
        return self._ids

    def _tokens(self, need: int) -> list[int]:
        """The text's first tokens, at least ``need`` of them where the text has them, the same as tokenizing the
        whole text would give: a growing prefix is tokenized (memory follows what the samples need, not the size of
        the text), and only tokens well before the cut are kept (a cut can change the last words' tokens only)."""
        margin = 256
        chars = min(len(self.text), 8 * (need + margin) + 4096)
        while True:
            ids = self.tokenizer(self.text[:chars], add_special_tokens=False, verbose=False)["input_ids"]
            if chars >= len(self.text):
                return ids
            if len(ids) >= need + margin:
                return ids[:need]
            chars = min(len(self.text), 4 * chars)

    def dataset(self):
        """A ``datasets.Dataset`` of input_ids and attention_mask (what llm-compressor's oneshot takes)."""
        from datasets import Dataset

        ids = self.sequences()
        return Dataset.from_dict({"input_ids": ids.tolist(), "attention_mask": [[1] * ids.shape[1]] * ids.shape[0]})

    def forward(self, model, device, batch_size: int = 8):
        """A function that runs the calibration sequences through ``model`` (for hooks that collect inputs)."""
        import torch

        def run() -> None:
            ids = self.sequences()
            with torch.no_grad():
                for start in range(0, ids.shape[0], batch_size):
                    batch = ids[start:start + batch_size].to(device)
                    kw = {"decoder_input_ids": batch} if self.family == "encoder-decoder" else {}
                    model(input_ids=batch, **kw)
        return run
