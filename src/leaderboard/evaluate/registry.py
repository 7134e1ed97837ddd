"""The evaluation registry: every module under ``evaluate/suites/`` that declares ``SUITE`` (see ``evaluate/spec.py``),
and every module named in ``$LEADERBOARD_EVAL_SUITES`` (comma-separated importable module names: a suite kept
outside this package).

Adding an evaluation = one module (+ its tests). The runner, ``leaderboard run``'s ``--eval`` and its flags, sweeps,
the validator, the store and the site read this registry; none of them lists suites itself. Importing it loads no
tensor library.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import re
from functools import cache

from . import suites as _suites_pkg
from .spec import Suite

ENV = "LEADERBOARD_EVAL_SUITES"
_NAME = re.compile(r"^[a-z0-9][a-z0-9\-]{0,30}$")
_MODULE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


class UnknownSuite(ValueError):
    """A task of no registered suite: one line naming it and the suites there are."""


def all_suites() -> tuple[Suite, ...]:
    return _load(os.environ.get(ENV, ""))


@cache
def _load(extra: str) -> tuple[Suite, ...]:
    modules = [f"{_suites_pkg.__name__}.{info.name}" for info in pkgutil.iter_modules(_suites_pkg.__path__)
               if not info.name.startswith("_")]
    for name in filter(None, (m.strip() for m in extra.split(","))):
        if not _MODULE.match(name):
            raise RuntimeError(f"${ENV}: {name[:100]!r} is not a module name")
        modules.append(name)
    found: list[Suite] = []
    for name in modules:
        try:
            mod = importlib.import_module(name)
        except ImportError as e:
            raise RuntimeError(f"evaluation suite module {name}: cannot import it ({e})") from None
        suite = getattr(mod, "SUITE", None)
        if not isinstance(suite, Suite):
            raise TypeError(f"{name}.SUITE is {type(suite).__name__}, not an evaluate.spec.Suite")
        if not _NAME.match(suite.name):
            raise RuntimeError(f"{name}: suite name {suite.name!r}: lower-case letters, digits and -")
        found.append(suite)
    found.sort(key=lambda s: (s.order, s.name))
    names = [s.name for s in found]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise RuntimeError(f"evaluation suites declared twice: {', '.join(dupes)}")
    owners: dict[str, str] = {}
    for s in found:
        for f in s.Settings.model_fields:
            if f in owners:
                raise RuntimeError(f"run option {f!r} is declared by both {owners[f]} and {s.name}")
            owners[f] = s.name
    return tuple(found)


def names() -> tuple[str, ...]:
    return tuple(s.name for s in all_suites())


def get(name: str) -> Suite:
    for s in all_suites():
        if s.name == name:
            return s
    raise UnknownSuite(f"unknown evaluation suite {name!r} (known: {', '.join(names())})")


def find(task: str) -> Suite | None:
    """The suite a task (or an alias such as 'bear') belongs to; None for none."""
    for s in all_suites():
        if s.owns(task):
            return s
    return None


def suite_of(task: str) -> Suite:
    s = find(task)
    if s is None:
        raise UnknownSuite(f"--eval {task!r}: no evaluation suite runs it; use {eval_help()}")
    return s


def canonical(task: str) -> str:
    """The task a run file records for what ``--eval`` said ('bear' -> 'bear:bear'); UnknownSuite for a task of no
    suite, or one its suite does not have."""
    s = suite_of(task)
    name = s.canonical(task)
    why = s.check_task(name)
    if why is not None:
        raise UnknownSuite(f"--eval {task!r}: {why}")
    return name


def eval_help() -> str:
    return "; ".join(s.eval_help() for s in all_suites())


def option_owner(field: str) -> Suite | None:
    """The suite whose settings model declares run option ``field``."""
    for s in all_suites():
        if field in s.Settings.model_fields:
            return s
    return None


def option_names() -> tuple[str, ...]:
    return tuple(f for s in all_suites() for f in s.Settings.model_fields)


def path_options() -> tuple[str, ...]:
    """Run options that name a file or folder (sweeps resolve them against the spec's folder)."""
    from pathlib import Path

    return tuple(fl.field for s in all_suites() for fl in s.flags() if fl.type is Path)


def knowledge_probes() -> tuple[str, ...]:
    return tuple(s.name for s in all_suites() if s.knowledge_probe)
