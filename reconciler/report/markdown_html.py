"""The Markdown the tool writes (checklists) as HTML, for the report.

Only what :mod:`reconciler.render.checklist` and the EMR packages' checklists write:
headings, paragraphs, ``- [ ]`` tasks, ``-`` and ``1.`` lists, pipe tables, fenced code,
and ``**bold**``, ``_emphasis_`` and ```code``` inline. Every piece of text is escaped
first, so a name such as ``<script>`` is shown as text, never run; no link or raw HTML is
ever produced.
"""

from __future__ import annotations

import re
from functools import lru_cache

from markupsafe import Markup, escape

_BOLD = re.compile(r"\*\*(.+?)\*\*")
_EM = re.compile(r"(?<![\w*])_(?=\S)(.+?)(?<=\S)_(?!\w)")
_CODE = re.compile(r"`([^`]+)`")
_ORDERED = re.compile(r"^(\d+)\. (.*)$")
_HEADING = re.compile(r"^(#{1,6}) (.*)$")


@lru_cache(maxsize=8192)
def inline(text: str) -> str:
    """One line of Markdown text as safe HTML: escaped, then code, bold and emphasis."""
    parts = _CODE.split(text)
    out = []
    for i, part in enumerate(parts):
        if i % 2:
            out.append(f"<code>{escape(part)}</code>")
            continue
        html = str(escape(part))
        html = _BOLD.sub(r"<strong>\1</strong>", html)
        html = _EM.sub(r"<em>\1</em>", html)
        out.append(html)
    return "".join(out)


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def to_html(markdown: str, top: int = 3) -> Markup:
    """``markdown`` as HTML; its ``#`` headings start at ``<h{top}>``."""
    out: list[str] = []
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        if line.startswith("```"):
            end = next((j for j in range(i + 1, len(lines)) if lines[j].startswith("```")), None)
            stop = len(lines) if end is None else end
            out.append(f"<pre><code>{escape(chr(10).join(lines[i + 1 : stop]))}</code></pre>")
            i = stop + 1
            continue
        if heading := _HEADING.match(line):
            level = min(6, top + len(heading[1]) - 1)
            out.append(f"<h{level}>{inline(heading[2])}</h{level}>")
            i += 1
            continue
        if line.startswith("|"):
            rows = []
            while i < len(lines) and lines[i].startswith("|"):
                rows.append(lines[i])
                i += 1
            out.append(_table(rows))
            continue
        if line.startswith("- "):
            items = []
            while i < len(lines) and lines[i].startswith("- "):
                items.append(lines[i][2:])
                i += 1
            out.append(_list(items))
            continue
        if _ORDERED.match(line):
            items = []
            while i < len(lines) and (m := _ORDERED.match(lines[i])):
                items.append(f'<li value="{int(m[1])}">{inline(m[2])}</li>')
                i += 1
            out.append("<ol>" + "".join(items) + "</ol>")
            continue
        para = []
        while i < len(lines) and lines[i].strip() and not _starts_block(lines[i]):
            para.append(inline(lines[i].strip()))
            i += 1
        out.append("<p>" + " ".join(para) + "</p>")
    return Markup("\n".join(out))


def _starts_block(line: str) -> bool:
    return bool(line.startswith(("```", "|", "- ")) or _HEADING.match(line) or _ORDERED.match(line))


def _list(items: list[str]) -> str:
    tasks = all(item.startswith("[ ] ") for item in items)
    if tasks:
        body = "".join(
            f'<li><span class="box" aria-hidden="true">☐</span> {inline(item[4:])}</li>'
            for item in items
        )
        return f'<ul class="tasks">{body}</ul>'
    return "<ul>" + "".join(f"<li>{inline(item)}</li>" for item in items) + "</ul>"


def _table(rows: list[str]) -> str:
    body = [r for r in rows if not re.fullmatch(r"\|?(\s*:?-+:?\s*\|)+\s*:?-*:?\s*", r.strip())]
    if not body:
        return ""
    head, *rest = body
    html = ['<table class="md"><thead><tr>']
    html += [f'<th scope="col">{inline(c)}</th>' for c in _cells(head)]
    html.append("</tr></thead><tbody>")
    for row in rest:
        html.append("<tr>" + "".join(f"<td>{inline(c)}</td>" for c in _cells(row)) + "</tr>")
    html.append("</tbody></table>")
    return "".join(html)
