"""One page per compression method with runs, and the table of every registered method."""

from __future__ import annotations

import polars as pl

from ...compress import registry as methods_registry
from .. import charts, metrics, tables
from ..chartdata import curve_description, sparsity_curve
from ..html import Safe, block, code, dl, esc, link, table
from ..parts import lineage_notes, method_slug, toy_pointer
from ..selection import default_source, is_toy, lead_tasks
from ..site import Site, frame_hash

MEMO = "methods"  # Site.memoised: each method page's key and the generated files it made


def build(site: Site, main: pl.DataFrame, toy: pl.DataFrame, method: str) -> None:
    """A method's page, kept from the previous build when its rows, its toy rows (the pointer to them) and the site's
    method colours are unchanged."""
    m = main.filter(pl.col("method") == method)
    m_toy = toy.filter(pl.col("method") == method) if m.filter(is_toy()).is_empty() else toy.clear()
    inputs = [method, frame_hash(m), frame_hash(m_toy), list(site.colours.domain) if site.colours else None]
    site.memoised(MEMO, method, inputs, _build, site, m, m_toy, method)


def _build(site: Site, m: pl.DataFrame, m_toy: pl.DataFrame, method: str) -> None:
    label = metrics.method_name(method)
    about = _about(method)
    if m.is_empty():
        site.page(f"methods/{method_slug(method)}.md", f"Method: {label}",
                  block(*about, Safe("<p>No real model has been compressed with it here yet.</p>"),
                        *toy_pointer(m_toy, "../", "compressed with it")), rows=m)
        return
    parts: list[object] = []
    curve = sparsity_curve(m, "../")
    if not curve.is_empty():
        title = f"{label}: knowledge kept vs sparsity"
        parts.append(site.chart(charts.retention_vs_sparsity(curve, site.colours, title, curve_description(curve)),
                                f"method-{method_slug(method)}", title, 1, "one panel per family × task (families are "
                                "never averaged together); whiskers: 95% interval of the mean over models"))
    parts += lineage_notes(m, "../")
    parts += toy_pointer(m_toy, "../", "compressed with it")
    parts.append(tables.board(m, 1, url_state=True, lead=lead_tasks(m), default_source=default_source(m), data=site.data,
                              data_name=f"method-{method_slug(method)}", shared=site.board_cells))
    site.page(f"methods/{method_slug(method)}.md", f"Method: {label}", block(*about, *parts), rows=m)


def _registered(method: str):
    """The registry entry behind a one-step method key ('prune:sparsegpt:local', 'quantize:gptq'), if any."""
    keys = methods_registry.parse_key(method)
    if len(keys) != 1 or isinstance(keys[0], str):
        return None
    return methods_registry.get(keys[0].kind, keys[0].name)


def _about(method: str) -> list:
    m = _registered(method)
    if m is None:
        return []
    ref = link(m.url, m.reference) if m.url else esc(m.reference)
    return [Safe(f"<p><strong>{esc(m.title)}</strong>: {esc(m.summary)}</p>"),
            dl([("reference", ref if m.reference else None), ("implementation", m.library),
                ("runs on", ", ".join(sorted(m.devices))), ("model families", ", ".join(sorted(m.families))),
                ("calibration data", "yes" if m.calibration else "no"),
                ("evaluated as", "simulated quantization (quantize-dequantize)" if m.simulated else None),
                ("example", code("--compress " + m.example) if m.example else None)]),
            *(Safe(f"<p>{esc(note)}</p>") for note in m.notes)]


def methods_table() -> Safe:
    """Every registered method (not only those with runs): what it is, where it runs, what it needs."""
    rows = []
    for m in methods_registry.all_methods():
        fields = ", ".join(f["name"] for f in methods_registry.fields_of(m) if f["name"] not in ("scope", "calibration"))
        ref = Safe(f" ({link(m.url, m.reference)})") if m.url and m.reference else (f" ({m.reference})" if m.reference else "")
        needs = "; calibration data" if m.calibration else ""
        rows.append([Safe(f"<code>{esc(m.key)}</code>"), Safe(f"<strong>{esc(m.title)}</strong><br>{esc(m.library)}"),
                     Safe(f"{esc(m.summary)}{ref if isinstance(ref, Safe) else esc(ref)}"),
                     f"{', '.join(sorted(m.devices))}; {', '.join(sorted(m.families))}{needs}", fields or "–"])
    return table(["Step", "Method", "What it does", "Runs on", "Fields"], rows, cls="lb-table lb-prose")
