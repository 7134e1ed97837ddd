"""JSON text the site publishes (its data files, each run page's blocks, the charts' specs in a page), made by orjson:
the same JSON as the standard library's, several times faster (issue 22, scale: at 100,000 runs the boards' data
files alone were 2 s of a rebuild's main process through ``json.dumps``). Text is UTF-8 as it is (JSON's own
encoding), a float is its shortest round-trip form, and a non-finite float is ``null`` (``json.dumps`` wrote ``NaN``,
which is not JSON: a browser's ``JSON.parse`` refuses the whole file)."""

from __future__ import annotations

import orjson


def dumps(obj: object, sort_keys: bool = True) -> str:
    """Compact JSON (no spaces), keys sorted unless ``sort_keys`` is False (then in the order the dicts hold them)."""
    return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS if sort_keys else 0).decode("utf-8")
