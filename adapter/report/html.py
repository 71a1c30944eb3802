"""The shared frame of our self-contained HTML pages: escaping, the page skeleton and its CSS.

One file, nothing fetched: inline CSS (screen and print), system font stacks only, no scripts.
The ``Content-Security-Policy`` meta tag states as much to the browser (``default-src 'none'``;
inline styles only), so a page that tried to load anything would be stopped and say so.
Colour never carries meaning alone (WCAG 2.1 SC 1.4.1): severities are words and symbols too,
marks are letters and patterns, every chart has a text alternative and a data table.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

#: severity -> the symbol shown beside its word (never colour alone)
SEVERITY_SYMBOL = {"error": "✖", "warning": "▲", "information": "ℹ"}

CSS = """
:root { --ink:#1b1b1b; --muted:#555; --line:#bbb; --error:#b00020; --warning:#8a5300;
  --info:#1f4e79; --bg:#fff; --band:#f3f3f3; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif;
  color: var(--ink); background: var(--bg); margin: 1.5rem auto; max-width: 1040px;
  padding: 0 1rem; line-height: 1.4; }
h1 { font-size: 1.5rem; margin: 0 0 .25rem; }
h2 { font-size: 1.15rem; margin: 1.75rem 0 .5rem; border-bottom: 1px solid var(--line); }
.meta { color: var(--muted); margin: 0 0 1rem; }
.badges { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: .4rem; }
.badge { border: 1px solid var(--line); border-radius: .3rem; padding: .15rem .5rem;
  font-size: .9rem; }
.badge.warning { border-color: var(--warning); color: var(--warning); }
.badge.error { border-color: var(--error); color: var(--error); border-width: 2px; }
.sev-error { color: var(--error); font-weight: 600; }
.sev-warning { color: var(--warning); font-weight: 600; }
.sev-information { color: var(--info); }
figure { margin: .5rem 0 1rem; }
figcaption { color: var(--muted); font-size: .9rem; }
svg { max-width: 100%; height: auto; font-family: inherit; }
svg text { font-size: 11px; fill: var(--ink); }
table { border-collapse: collapse; width: 100%; font-size: .88rem; margin: .25rem 0 1rem; }
th, td { border-bottom: 1px solid #ddd; padding: .2rem .4rem; text-align: left;
  vertical-align: top; }
th { background: var(--band); }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.notes { color: var(--muted); font-size: .9rem; }
code { font-size: .85em; word-break: break-all; }
@media print {
  body { margin: 0; max-width: none; font-size: 10pt; }
  h2 { break-after: avoid; }
  figure, tr, .badge { break-inside: avoid; }
  a { color: inherit; text-decoration: none; }
}
"""


def esc(value: object) -> str:
    """Text for HTML/SVG content and attributes."""
    return html.escape(str(value), quote=True)


def severity(sev: str) -> str:
    """A severity as its symbol and word, coloured by class (the word carries the meaning)."""
    return f'<span class="sev-{esc(sev)}">{SEVERITY_SYMBOL.get(sev, "")} {esc(sev)}</span>'


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[str]],
    caption: str = "",
    numeric: Sequence[int] = (),
    attrs: str = "",
) -> str:
    """An HTML table; cells are already HTML (escape text with :func:`esc`)."""
    num = set(numeric)
    out = [f"<table{(' ' + attrs) if attrs else ''}>"]
    if caption:
        out.append(f"<caption>{esc(caption)}</caption>")
    cls = [' class="num"' if i in num else "" for i in range(len(headers))]
    out.append(
        "<thead><tr>"
        + "".join(f'<th scope="col"{c}>{esc(h)}</th>' for h, c in zip(headers, cls, strict=True))
        + "</tr></thead><tbody>"
    )
    for row in rows:
        out.append(
            "<tr>" + "".join(f"<td{c}>{v}</td>" for v, c in zip(row, cls, strict=True)) + "</tr>"
        )
    out.append("</tbody></table>")
    return "".join(out)


def page(title: str, body: str) -> str:
    """A complete, self-contained HTML document."""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head>"
        f"<body>{body}</body></html>\n"
    )
