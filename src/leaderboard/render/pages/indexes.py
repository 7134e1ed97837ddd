"""The index pages of families, methods and models."""

from __future__ import annotations

import polars as pl

from ... import registry
from ...schema import model_slug
from .. import metrics
from ..html import Safe, block, link, table
from ..parts import method_slug, source_badge
from ..selection import is_toy
from ..site import Site
from .methods import methods_table


def build(site: Site, h: pl.DataFrame, main: pl.DataFrame, toy: pl.DataFrame) -> None:
    """Families come from the registry, methods and models from the data: nothing is listed by hand. Toy models are
    counted apart (their results are on the demo page)."""
    main = main.filter(~is_toy())  # empty in a build with only toy models: then the toy table is the only one
    demo = [Safe('<p>Toy models are counted apart: their results are on the <a href="../demo.html">demo page</a>.</p>')
            ] if not toy.is_empty() else []

    def counts(col: str, value: str) -> list[object]:
        m, t = main.filter(pl.col(col) == value), toy.filter(pl.col(col) == value)
        return [m["model_id"].n_unique(), m.height] + ([t.height] if not toy.is_empty() else [])

    extra = ["Toy-model results"] if not toy.is_empty() else []
    numeric = {1, 2, 3}
    fam_rows = [[link(f"{f}.html", f), *counts("family", f)] for f in registry.FAMILIES]
    site.page("families/index.md", "Model families",
              block(table(["Family", "Models", "Results", *extra], fam_rows, numeric=numeric), *demo))
    meth_rows = [[link(f"{method_slug(method)}.html", metrics.method_name(method)), *counts("method", method)]
                 for method in sorted(h["method"].unique().to_list())]
    site.page("methods/index.md", "Compression methods",
              block(table(["Method", "Models", "Results", *extra], meth_rows, numeric=numeric), *demo,
                    Safe("<h2>Every method the runner knows</h2>"), methods_table()))
    site.snippets["methods"] = str(methods_table())

    def model_rows(rows: pl.DataFrame) -> list[list[object]]:
        out = []
        for model_id in sorted(rows["model_id"].unique().to_list()):
            m = rows.filter(pl.col("model_id") == model_id)
            first = m.row(0, named=True)
            out.append([link(f"{model_slug(model_id)}.html", model_id), first["family"],
                        f"{first['parameters']:,}" if first["parameters"] else None, m.height,
                        source_badge(first["source_kind"], first["toy"])])
        return out

    head = ["Model", "Family", "Parameters", "Results", "Source"]
    parts: list[object] = [table(head, model_rows(main), cls="lb-table lb-sortable", numeric={2, 3})] if not main.is_empty() else []
    if not toy.is_empty():
        parts += [Safe('<h2 id="toy-models">Toy models (demo)</h2><p>Tiny demonstration models trained on LAMA facts: they '
                       'show the method, not the behaviour of real models (<a href="../demo.html">demo page</a>).</p>'),
                  table(head, model_rows(toy), cls="lb-table lb-sortable", numeric={2, 3})]
    site.page("models/index.md", "Models", block(*parts))
