"""An answer shown as the aws CLI (v1) shows it: `--query` (JMESPath) first, then `--output json|text|table|yaml`.

Our own implementation of the aws CLI's rules, so `automl <operation>` prints, byte for byte, what
`aws sagemaker <operation>` prints for the same answer: json indented by 4 with non-ASCII kept; text as
tab-separated rows (a nested list or structure on rows of its own, led by its key in capitals); table as boxed
sections, titled with the operation, one per nested structure or list. aws CLI v1 has no yaml: ours follows
v2's (block style, keys sorted).

The answer is a response dict or a botocore PageIterator (a paginated List followed to its end). As in the aws
CLI, json, table and yaml show the pages merged into one answer; text shows each page as it comes, with --query
applied to each.
"""
from __future__ import annotations

import json
import os
import sys
import unicodedata
from base64 import b64encode
from dataclasses import dataclass, field
from functools import lru_cache

import jmespath
import yaml
from botocore.paginate import PageIterator
from botocore.utils import set_value_from_jmespath

OUTPUTS = ("json", "text", "table", "yaml")
DEFAULT_WIDTH = 80  # the aws CLI's table width when stdout is not a terminal
CELL_PADDING = 4  # two spaces either side of a cell's widest value


def check_output(value: str, source: str = "--output") -> str:
    if value not in OUTPUTS:
        raise ValueError(f"{source}: must be one of {', '.join(OUTPUTS)}; got {value!r}")
    return value


@lru_cache(maxsize=16)
def compile_query(text: str | None):
    """The --query expression, compiled once; None when no --query was given."""
    if text is None:
        return None
    try:
        return jmespath.compile(text)
    except jmespath.exceptions.JMESPathError as exc:
        raise ValueError(f"--query: is not a valid JMESPath expression; got {text!r}: {exc}") from None


def terminal_width() -> int:
    """The width the aws CLI fits tables to: the terminal's, or 80 when stdout is a pipe or a file."""
    try:
        return os.get_terminal_size(sys.stdout.fileno()).columns
    except (AttributeError, OSError, ValueError):
        return DEFAULT_WIDTH


def render(value, output: str, query: str | None, *, title: str = "", width: int = DEFAULT_WIDTH) -> str:
    """`value` (a response or a PageIterator) as `--output` shows it after `--query`; "" when nothing shows."""
    check_output(output)
    expression = compile_query(query)
    if output == "text" and isinstance(value, PageIterator):
        return _text_pages(value, expression)
    answer = value.build_full_result() if isinstance(value, PageIterator) else _without_metadata(value)
    if expression is not None:
        answer = expression.search(answer)
    if output == "text":
        return _text(answer)
    if output == "table":
        return _table(answer, title, width)
    if answer == {}:  # an operation with an empty answer (StopAutoMLJob) prints nothing
        return ""
    if output == "yaml":
        return yaml.safe_dump(answer, default_flow_style=False, allow_unicode=True)
    return json.dumps(answer, indent=4, ensure_ascii=False, default=_json_default) + "\n"


def _without_metadata(answer):
    if isinstance(answer, dict) and "ResponseMetadata" in answer:
        return {k: v for k, v in answer.items() if k != "ResponseMetadata"}
    return answer


def _json_default(value):
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, bytes):
        return b64encode(value).decode()
    raise TypeError(f"{type(value).__name__} is not JSON")


def _search(expression, value):
    return value if expression is None else expression.search(value)


# text -------------------------------------------------------------------------------------------------------------

def _text_pages(pages: PageIterator, expression) -> str:
    """Each page's result keys (the first page also with the answer's other keys), then a --max-items resume
    token as a NEXTTOKEN row: what the aws CLI prints while it pages."""
    parts = []
    for number, page in enumerate(pages):
        shown = dict(pages.non_aggregate_part) if number == 0 else {}
        for key in pages.result_keys:
            set_value_from_jmespath(shown, key.expression, key.search(page))
        parts.append(_text(_search(expression, shown)))
    if pages.resume_token:
        parts.append(_text(_search(expression, {"NextToken": {"NextToken": pages.resume_token}})))
    return "".join(parts)


def _is_scalar(value) -> bool:
    return not isinstance(value, (dict, list))


def _text(value) -> str:
    lines: list[str] = []
    _text_value(value, lines, None, None)
    return "".join(lines)


def _text_value(value, lines: list[str], key: str | None, columns: list[str] | None) -> None:
    if isinstance(value, dict):
        _text_dict(value, lines, key, columns)
    elif isinstance(value, list):
        _text_list(value, lines, key)
    else:
        lines.append(f"{value!s}\n")


def _text_list(items: list, lines: list[str], key: str | None) -> None:
    """Structures share one set of columns (every scalar key of any of them, sorted); lists of lists put the
    scalars on one row and each inner list after it."""
    if not items:
        return
    if any(isinstance(item, dict) for item in items):
        columns = sorted({k for item in items if isinstance(item, dict) for k, v in item.items() if _is_scalar(v)})
        for item in items:
            _text_value(item, lines, key, columns)
        return
    scalars = [item for item in items if _is_scalar(item)]
    nested = [item for item in items if not _is_scalar(item)]
    if scalars:
        if key is None:
            lines.append("\t".join(str(item) for item in scalars) + "\n")
        else:
            lines.extend(f"{key.upper()}\t{item}\n" for item in scalars)
    for item in nested:
        _text_value(item, lines, key, None)


def _text_dict(item: dict, lines: list[str], key: str | None, columns: list[str] | None) -> None:
    """One row of the scalar values (led by the key in capitals when nested), then each nested value by key."""
    if columns is None:
        cells = [str(item[k]) for k in sorted(item) if _is_scalar(item[k])]
        nested = [k for k in sorted(item) if not _is_scalar(item[k])]
    else:
        cells = [str(item.get(k, "")) for k in columns]
        nested = sorted(set(item) - set(columns))
    if cells:
        lines.append("\t".join(([key.upper()] if key is not None else []) + cells) + "\n")
    for name in nested:
        _text_value(item[name], lines, name, None)


# table ------------------------------------------------------------------------------------------------------------

def _cell_width(text: str) -> int:
    """Columns a string takes on a terminal: wide and ambiguous East Asian characters take two."""
    return sum(2 if unicodedata.east_asian_width(char) in "WFA" else 1 for char in text)


@dataclass
class _Section:
    title: str | None  # None: a list nested in a list, whose sections have no title line
    indent: int
    headers: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    widest: list[int] = field(default_factory=list)  # per column, over the headers and every row
    columns: int | None = None

    def set_headers(self, names: list[str]) -> None:
        self._widen(names)
        self.columns = len(names) if self.columns is None else self.columns
        self.headers = list(names)

    def add_row(self, values: list) -> None:
        cells = [str(v) for v in values]
        if self.columns is None:
            self.columns = len(cells)
        if len(cells) != self.columns:
            raise ValueError(f"a table row of {len(cells)} cells in a section of {self.columns} columns")
        self.rows.append(cells)
        self._widen(cells)

    def _widen(self, cells: list[str]) -> None:
        sizes = [_cell_width(str(c)) for c in cells]
        if not self.widest:
            self.widest = sizes
        for i, size in enumerate(sizes):
            self.widest[i] = max(self.widest[i], size)

    def natural_width(self) -> int:
        """Width with every cell padded and the borders, indented by one '|' each side per level."""
        cells = sum(w + CELL_PADDING for w in self.widest) + 2 + 2 * self.indent
        return max(_cell_width(str(self.title)) + 2 + 2 * self.indent, cells)


class _TableBuilder:
    """Lays an answer out as sections: a structure's scalars as one row under their sorted keys (a lone scalar
    as a key | value row), a list of structures as rows under the union of their scalar keys, and every nested
    structure or list as a section of its own, titled with its key and indented one level deeper."""

    def __init__(self):
        self.sections: list[_Section] = []

    def _open(self, title: str, indent: int) -> None:
        self.sections.append(_Section(title, indent))

    @property
    def _current(self) -> _Section:
        return self.sections[-1]

    def add(self, title: str | None, value, indent: int = 0) -> bool:
        if not value:
            return False
        if title is not None:
            self._open(title, indent)
        if isinstance(value, list):
            self._add_list(title, value, indent)
        elif isinstance(value, dict):
            self._add_dict(value, indent)
        return True

    def _add_list(self, title: str | None, items: list, indent: int) -> None:
        if isinstance(items[0], dict):
            self._add_structures(title, items, indent)
            return
        for item in items:
            if _is_scalar(item):
                self._current.add_row([item])
            elif all(_is_scalar(v) for v in item):
                self._current.add_row(list(item))
            else:
                self.add(None, item)

    def _add_dict(self, item: dict, indent: int) -> None:
        scalars = sorted(k for k in item if _is_scalar(item[k]))
        if len(scalars) == 1:
            self._current.add_row([scalars[0], item[scalars[0]]])
        elif scalars:
            self._current.set_headers(scalars)
            self._current.add_row([item[k] for k in scalars])
        for name in sorted(k for k in item if not _is_scalar(item[k])):
            self.add(name, item[name], indent + 1)

    def _add_structures(self, title: str | None, items: list[dict], indent: int) -> None:
        """Rows under shared headers; when the structures nest more, each gets its own section (repeating the
        title and headers) followed by its nested sections."""
        headers = sorted({k for item in items for k in item if _is_scalar(item[k])})
        nested = sorted({k for item in items for k in item if not _is_scalar(item[k])})
        self._current.set_headers(headers)
        for number, item in enumerate(items):
            if number and nested:
                self._open(title, indent)
                self._current.set_headers(headers)
            self._current.add_row([item.get(k, "") for k in headers])
            for name in nested:
                if name in item:
                    self.add(name, item[name], indent + 1)


def _fit(widths: list[int], total: int) -> list[int]:
    """Scale column widths to add up to `total`, rounding each, then take the rounding error off the first
    columns (too wide) or give it to the last ones (too narrow), one character each."""
    if not widths:
        return []
    factor = total / float(sum(widths))
    scaled = [int(round(factor * w)) for w in widths]
    error = sum(scaled) - total
    while error:
        step = 1 if error > 0 else -1
        order = range(len(scaled)) if error > 0 else range(len(scaled) - 1, -1, -1)
        for i in order:
            scaled[i] -= step
            error -= step
            if not error:
                break
    return scaled


def _centred(text: str, width: int, left: str, right: str) -> str:
    size = _cell_width(text)
    before = width // 2 - size // 2 - 1
    after = width - len(right) - (len(left) + before + size)
    return left + " " * before + text + " " * after + right


def _left_aligned(text: str, width: int, left: str, right: str) -> str:
    size = _cell_width(text)
    padding = 2 if width - (size + 2 + len(left) + len(right)) >= 0 else 0
    return left + " " * padding + text + " " * (width - len(left) - padding - size - len(right)) + right


def _rule(widths: list[int]) -> str:
    return "".join(("+" + "-" * (w - 2) + "+") if i == 0 else ("-" * (w - 1) + "+") for i, w in enumerate(widths))


def _cells(values: list[str], widths: list[int], lay) -> str:
    return "".join(lay(v, w, "|" if i == 0 else "", "|") for i, (w, v) in enumerate(zip(widths, values, strict=False)))


def _vertical(sections: list[_Section]) -> list[_Section]:
    """Too wide for the terminal: every one-row section with headers turns into header | value rows."""
    turned = []
    for section in sections:
        if len(section.rows) == 1 and section.headers:
            pairs = _Section(section.title, section.indent)
            for header, value in zip(section.headers, section.rows[0], strict=False):
                pairs.add_row([header, value])
            section = pairs
        turned.append(section)
    return turned


def _section_lines(section: _Section, total: int) -> list[str]:
    inner = total - 2 * section.indent
    lines = []
    if section.title:
        lines.append(_centred(section.title, inner, "|", "|"))
        if not section.headers and not section.rows:
            lines.append("+" + "-" * (inner - 2) + "+")
    widths = _fit([w + CELL_PADDING for w in section.widest], inner)
    if section.headers:
        lines += [_rule(widths), _cells(section.headers, widths, _centred)]
    if section.rows and widths:
        lines.append(_rule(widths))
        lines += [_cells(row, widths, _left_aligned) for row in section.rows]
        lines.append(_rule(widths))
    edge = "|" * section.indent
    return [edge + line + edge for line in lines]


def _table(answer, title: str, width: int) -> str:
    builder = _TableBuilder()
    if not builder.add(title, answer):
        return ""
    sections = builder.sections
    total = max(s.natural_width() for s in sections)
    if total > width:
        sections = _vertical(sections)
        total = max(s.natural_width() for s in sections)
    lines = ["-" * total]
    for section in sections:
        lines += _section_lines(section, total)
    return "\n".join(lines) + "\n"
