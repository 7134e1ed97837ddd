"""Shared ground of every compression method: errors, the step context, module surgery helpers.

The bottom of the compression package (below ``prune``/``quantize`` helpers and the method modules);
it imports nothing else from the package, so arrows only point down.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn


class CompressionError(RuntimeError):
    """A step ran but its result cannot be recorded honestly (e.g. it changed nothing)."""


class UnsupportedScheme(RuntimeError):
    """The method cannot run here (device, family, layer type, missing library); the message says where it can."""


@dataclass
class StepContext:
    """What a method's ``run`` gets besides its modules and step."""

    model: nn.Module
    device: torch.device
    seed: int = 0
    index: int = 0  # position of the step in the pipeline
    family: str | None = None
    tokenizer: Any = None
    model_dir: str | None = None  # the folder the model was loaded from (llm-compressor re-reads its config)
    calibration: Any = None  # calibration.CalibrationData when the step needs data
    report: dict | None = None  # what the method tells the measurement (e.g. {"kernels": "simulated"})

    def note(self, **kw) -> None:
        if self.report is None:
            self.report = {}
        self.report.update(kw)


def set_module(model: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, new)


def count_of(numel: int, sparsity: float) -> int:
    """Weights to remove: round(sparsity * numel)."""
    return int(round(sparsity * numel))
