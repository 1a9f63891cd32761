"""One self-contained HTML file per report: every plot embedded as a PNG data URI, every text escaped.

A report opens the same from a folder, an object store download or `automl serve`, with nothing fetched from
elsewhere; a column named `<script>` is shown as those characters, never run.
"""
from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:72rem;padding:0 1rem;
color:#1b1f24;line-height:1.45}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #d0d7de}
h3{font-size:1.05rem}
table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.9rem}
th,td{border:1px solid #d0d7de;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.num{text-align:right;font-variant-numeric:tabular-nums}
.note{background:#fff8c5;border:1px solid #d4a72c;padding:.5rem .75rem;border-radius:4px;margin:.5rem 0}
.muted{color:#57606a;font-size:.9rem}figure{margin:1rem 0}figcaption{color:#57606a;font-size:.85rem}
img{max-width:100%;height:auto}nav a{margin-right:1rem}
"""


def text(value) -> str:
    """Any value as escaped HTML text (quotes too: values also land in attributes)."""
    return html.escape("" if value is None else str(value), quote=True)


def number(value, digits: int = 4) -> str:
    """A number as a report shows it: integers whole, others to `digits` significant figures; NaN as '-'."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    try:
        value = float(value)
    except (TypeError, ValueError):
        return text(value)
    if not math.isfinite(value):
        return "-"
    if value == int(value) and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:.{digits}g}"


@dataclass(frozen=True)
class Link:
    """A table cell that links somewhere (both parts escaped like any text)."""

    label: str
    href: str

    def html(self) -> str:
        return f'<a href="{text(self.href)}">{text(self.label)}</a>'


@dataclass
class Page:
    """An HTML report built part by part; `html()` is the whole file."""

    title: str
    subtitle: str = ""
    parts: list[str] = field(default_factory=list)

    def heading(self, title: str, level: int = 2) -> Page:
        self.parts.append(f"<h{level}>{text(title)}</h{level}>")
        return self

    def paragraph(self, value: str, css: str = "") -> Page:
        self.parts.append(f'<p class="{css}">{text(value)}</p>' if css else f"<p>{text(value)}</p>")
        return self

    def note(self, value: str) -> Page:
        """A finding the reader should act on (a warning box)."""
        self.parts.append(f'<div class="note">{text(value)}</div>')
        return self

    def bullets(self, items: Iterable[str]) -> Page:
        items = [f"<li>{text(i)}</li>" for i in items]
        if items:
            self.parts.append("<ul>" + "".join(items) + "</ul>")
        return self

    def link(self, label: str, href: str) -> Page:
        self.parts.append(f"<p>{Link(label, href).html()}</p>")
        return self

    def nav(self, links: Sequence[Link]) -> Page:
        self.parts.append("<nav>" + "".join(link.html() for link in links) + "</nav>")
        return self

    def table(self, rows: Sequence[dict], columns: Sequence[str] | None = None) -> Page:
        """Rows of {column: value}; numbers are right-aligned and rounded, everything else escaped."""
        if not rows:
            return self
        columns = list(columns or rows[0])
        head = "".join(f"<th>{text(c)}</th>" for c in columns)
        body = []
        for row in rows:
            cells = []
            for c in columns:
                value = row.get(c)
                numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
                if isinstance(value, Link):
                    cells.append(f"<td>{value.html()}</td>")
                elif isinstance(value, (list, tuple)) and value and all(isinstance(v, Link) for v in value):
                    cells.append("<td>" + " ".join(v.html() for v in value) + "</td>")
                else:
                    cells.append(f'<td class="num">{number(value)}</td>' if numeric else f"<td>{text(value)}</td>")
            body.append("<tr>" + "".join(cells) + "</tr>")
        self.parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>")
        return self

    def image(self, png: bytes, caption: str) -> Page:
        data = base64.b64encode(png).decode("ascii")
        self.parts.append(f'<figure><img src="data:image/png;base64,{data}" alt="{text(caption)}">'
                          f"<figcaption>{text(caption)}</figcaption></figure>")
        return self

    def html(self) -> str:
        subtitle = f'<p class="muted">{text(self.subtitle)}</p>' if self.subtitle else ""
        return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
                f'<meta name="viewport" content="width=device-width, initial-scale=1">'
                f'<link rel="icon" href="data:,">'  # no favicon request: a report opened anywhere asks for nothing
                f"<title>{text(self.title)}</title><style>{STYLE}</style></head>"
                f"<body><h1>{text(self.title)}</h1>{subtitle}{''.join(self.parts)}</body></html>\n")


def figure(width: float = 6.0, height: float = 4.0):
    """A matplotlib Figure on the Agg canvas, outside pyplot's global state (reports may run in threads)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def png(fig) -> bytes:
    """The figure as PNG bytes (100 dpi: a 6x4 inch plot is 600x400 pixels)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()
