"""Small HTML building blocks for the report page: escaped text, tables, figures."""

from __future__ import annotations

from html import escape

__all__ = ["card", "cell", "figure", "keyvalue", "number", "table"]


def cell(value: object) -> str:
    """Escaped text of a value; None shows as an en dash."""
    return "&ndash;" if value is None else escape(str(value))


def number(value: float | None, digits: int = 4) -> str:
    """A number for a table: integers as they are, floats with `digits` significant digits."""
    if value is None:
        return "&ndash;"
    if isinstance(value, (bool, int)):
        return str(value)
    return f"{value:.{digits}g}"


def table(headers: list[str], rows: list[list[str]], numeric: set[int] | None = None,
          row_classes: list[str] | None = None, css: str = "") -> str:
    """A table of already-escaped cells; columns in `numeric` are right-aligned."""
    numeric = numeric or set()
    head = "".join(f'<th{" class=num" if i in numeric else ""}>{escape(h)}</th>'
                   for i, h in enumerate(headers))
    body = []
    for position, row in enumerate(rows):
        css_row = f' class="{row_classes[position]}"' if row_classes and \
            row_classes[position] else ""
        cells = "".join(f'<td{" class=num" if i in numeric else ""}>{value}</td>'
                        for i, value in enumerate(row))
        body.append(f"<tr{css_row}>{cells}</tr>")
    css_attr = f' class="{css}"' if css else ""
    return (f"<table{css_attr}><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>")


def keyvalue(pairs: list[tuple[str, str]]) -> str:
    """A two-column table of labels and already-escaped values."""
    rows = "".join(f"<tr><th>{escape(key)}</th><td>{value}</td></tr>" for key, value in pairs)
    return f'<table class="keyvalue"><tbody>{rows}</tbody></table>'


def card(value: str, label: str) -> str:
    return (f'<div class="card"><div class="value">{value}</div>'
            f'<div class="label">{escape(label)}</div></div>')


def figure(kind: str, figure_id: str, svg: str, caption: str) -> str:
    """A figure holding inline SVG; `data-figure` names its kind for tests and tools."""
    return (f'<figure id="{escape(figure_id)}" data-figure="{escape(kind)}">{svg}'
            f"<figcaption>{escape(caption)}</figcaption></figure>")
