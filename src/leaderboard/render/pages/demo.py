"""The demo page: the toy models' charts and tables, apart from the real ones."""

from __future__ import annotations

import polars as pl

from ...schema import model_slug
from .. import metrics, tables
from ..html import Safe, block, esc
from ..parts import best_section, headline_charts
from ..site import Site


def build(site: Site, toy: pl.DataFrame) -> None:
    """The toy models' charts and tables, apart from the real ones: they show how the runner and the site work."""
    parts: list[object] = [Safe(
        '<div class="lb-banner lb-demo-banner" role="note"><strong>Toy models.</strong> Everything on this page comes from '
        "tiny demonstration models (<code>toy: true</code> in their run files) trained on real LAMA facts: the numbers "
        "show how compression, the probes and the site work, not how real models behave. They are kept out of the home "
        "page, the leaderboard and the family and method pages.</div>")]
    if toy.is_empty():
        parts.append(Safe("<p>No toy models in this build.</p>"))
        site.page("demo.md", "Demo (toy models)", block(*parts), rows=toy)
        return
    models = []
    for model_id in sorted(toy["model_id"].unique().to_list()):
        m = toy.filter(pl.col("model_id") == model_id)
        first = m.row(0, named=True)
        models.append(f'<li><a href="models/{esc(model_slug(model_id))}.html">{esc(model_id)}</a> '
                      f'<span class="lb-badge lb-toy">toy</span> {esc(first["family"])}, '
                      + (f'{first["parameters"]:,} parameters, ' if first["parameters"] else "")
                      + f'{m["run_id"].n_unique():,} runs on {", ".join(esc(metrics.task_name(t)) for t in sorted(set(m["task"].to_list()), key=lambda t: (tables.task_rank(t), t)))}</li>')
    parts.append(Safe(f'<ul class="lb-demo-models">{"".join(models)}</ul>'))
    parts += headline_charts(site, toy, "demo", "toy models")
    parts += best_section(toy, "toy models")
    parts.append(Safe("<h2>Every toy-model run</h2>"))
    parts.append(tables.board(toy, 0, url_state=True, shared=site.board_cells))
    site.page("demo.md", "Demo (toy models)", block(*parts), rows=toy)
