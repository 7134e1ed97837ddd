"""Read untrusted YAML (run specs, sweep specs, --set values) as plain data, bounded.

``yaml.safe_load`` never runs code, but aliases let a few hundred bytes stand for billions of nodes
(a "billion laughs" bomb) that only explode later, when the data is walked. Here the document's node
graph is measured as it would be expanded (every alias counted each time it is used) before anything
is built from it, and refused past ``max_nodes``.
"""

from __future__ import annotations

from pathlib import Path

import yaml

MAX_NODES = 100_000
MAX_BYTES = 1024 * 1024


class YamlError(ValueError):
    """YAML that cannot be read or is too large; the message names where it came from."""


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [x for pair in node.value for x in pair]
    return []


def expanded_size(root: yaml.Node, cap: int) -> int:
    """Nodes of the document with aliases expanded; stops counting past ``cap``; a recursive alias is
    infinitely large."""
    memo: dict[int, int] = {}
    open_: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            open_.discard(key)
            memo[key] = min(cap + 1, 1 + sum(memo[id(c)] for c in _children(node)))
            continue
        if key in memo:
            continue
        open_.add(key)
        stack.append((node, True))
        for child in _children(node):
            if id(child) in open_:
                return cap + 1  # an alias inside its own anchor
            if id(child) not in memo:
                stack.append((child, False))
    return memo[id(root)]


def duplicate_key(root: yaml.Node) -> yaml.Node | None:
    """The first key that appears twice in one mapping (YAML says keys are unique; PyYAML keeps the last value, so
    ``sparsity: 0.5`` then ``sparsity: 0.9`` silently meant 0.9). Merge keys (``<<``) are not keys."""
    seen_nodes: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen_nodes:
            continue
        seen_nodes.add(id(node))
        if isinstance(node, yaml.MappingNode):
            keys: set[tuple[str, str]] = set()
            for key, _value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                    if (key.tag, key.value) in keys:
                        return key
                    keys.add((key.tag, key.value))
        stack.extend(_children(node))
    return None


class DataLoader(yaml.SafeLoader):
    """Safe YAML where the ``python/...`` tags other libraries write (llm-compressor's enums) are read as nothing,
    never built."""


DataLoader.add_multi_constructor("tag:yaml.org,2002:python/", lambda loader, suffix, node: None)


def load(text: str, where: str, max_nodes: int = MAX_NODES, loader_cls: type = yaml.SafeLoader) -> object:
    try:  # the reader refuses control characters as it is made: inside the try, as every other YAML error
        loader = loader_cls(text)
    except yaml.YAMLError as e:
        raise YamlError(f"{where}: invalid YAML: {' '.join(str(e).split())}") from None
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if expanded_size(node, max_nodes) > max_nodes:
            raise YamlError(f"{where}: expands to more than {max_nodes:,} values (aliases count each time they "
                            "are used); refusing")
        dup = duplicate_key(node)
        if dup is not None:
            raise YamlError(f"{where}: line {dup.start_mark.line + 1}: key {dup.value[:80]!r} appears twice in one "
                            "mapping; write it once")
        return loader.construct_document(node)
    except yaml.YAMLError as e:
        raise YamlError(f"{where}: invalid YAML: {' '.join(str(e).split())}") from None
    except RecursionError:
        raise YamlError(f"{where}: nested too deeply") from None
    finally:
        loader.dispose()


def load_file(path: Path, max_bytes: int = MAX_BYTES, max_nodes: int = MAX_NODES, kind: str = "yaml",
              loader_cls: type = yaml.SafeLoader) -> object:
    """A YAML file through the one bounded reader (regular file, size cap, strict UTF-8), then ``load``."""
    from .fsutil import InputError, read_text_bounded

    try:
        text = read_text_bounded(path, kind, max_bytes)
    except InputError as e:
        raise YamlError(str(e)) from None
    return load(text, str(path), max_nodes, loader_cls)
