"""Tiny HTML helpers: everything from data is escaped unless it is explicitly marked safe."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

from .. import jsontext


class Safe(str):
    """HTML built by this package from escaped parts."""


def esc(value: object) -> Safe:
    if isinstance(value, Safe):
        return value
    if value is None:
        return Safe("–")
    if isinstance(value, float):
        return Safe(html.escape(f"{value:.3f}"))
    return Safe(html.escape(str(value), quote=True))


_MD_SPECIAL = re.compile(r"[\\`*_\[\]<>|~&$#!{}]")
_MD_SPACE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def md_text(text: object) -> Safe:
    """Data text for Markdown outside a raw-HTML block (a heading, a page title, a table cell, a list item): one
    line, every character that Markdown, its extensions (attribute lists ``{: ...}``, tables, emphasis, links),
    HTML or autolinking reads as syntax written as a numeric entity, so it renders as the text it is."""
    one_line = _MD_SPACE.sub(" ", str(text))
    return Safe(_MD_SPECIAL.sub(lambda m: f"&#{ord(m.group())};", one_line))


def link(href: str, text: object, cls: str | None = None) -> Safe:
    c = f' class="{esc(cls)}"' if cls else ""
    return Safe(f'<a href="{esc(href)}"{c}>{esc(text)}</a>')


def badge(text: str, kind: str) -> Safe:
    return Safe(f'<span class="lb-badge lb-{esc(kind)}">{esc(text)}</span>')


def table(headers: list[str], rows: Iterable[list[object]], cls: str = "lb-table", numeric: set[int] | None = None,
          row_classes: list[str] | None = None, caption: str | None = None) -> Safe:
    numeric = numeric or set()
    out = [f'<div class="lb-table-wrap"><table class="{esc(cls)}">']
    if caption:
        out.append(f"<caption>{esc(caption)}</caption>")
    num_th = ' class="lb-num"'
    out.append("<thead><tr>" + "".join(f'<th scope="col"{num_th if i in numeric else ""}>{esc(h)}</th>'
                                       for i, h in enumerate(headers)) + "</tr></thead><tbody>")
    for i, row in enumerate(rows):
        rc = f' class="{esc(row_classes[i])}"' if row_classes and row_classes[i] else ""
        cells = []
        for j, v in enumerate(row):
            num = ' class="lb-num"' if j in numeric else ""
            sort = ""
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                sort = f' data-sort="{v!r}"'
            label = f' data-label="{esc(headers[j])}"' if "lb-cards" in cls and j < len(headers) else ""
            cells.append(f"<td{num}{sort}{label}>{esc(v)}</td>")
        out.append(f"<tr{rc}>" + "".join(cells) + "</tr>")
    out.append("</tbody></table></div>")
    return Safe("\n".join(out))


def dl(items: list[tuple[str, object]]) -> Safe:
    return Safe('<dl class="lb-dl">' + "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in items) + "</dl>")


def code(text: str) -> Safe:
    return Safe(f'<pre class="lb-code"><code>{esc(text)}</code></pre>')


def script_json(obj: object) -> Safe:
    """JSON that is safe inside a <script> element: no '<', '>' or '&' survive unescaped."""
    text = jsontext.dumps(obj)
    return Safe(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def block(*parts: object) -> str:
    """A raw-HTML block for a Markdown page (blank lines around it keep Markdown out of it)."""
    return "\n\n<div class=\"lb-block\" markdown=\"0\">\n" + "\n".join(str(esc(p)) for p in parts) + "\n</div>\n\n"
