"""The help of the `automl <operation>` subcommands, made from botocore's SageMaker model as `aws sagemaker <op>
help` makes it: every member of the input shape with its documentation as plain text, `[required]` on the required
ones, and the syntax of structure, list and map members (shorthand where it stays readable, else JSON).

Shorthand examples follow the aws CLI's convention, in the syntax automl.shorthand parses: `Key=type` pairs
joined by commas, a nested structure in `{}`, a nested list in `[]`, a map as `KeyName1=type,KeyName2=type`, and
a list member's one element followed by ` ...` (each element is its own argument)."""
from __future__ import annotations

import argparse
import json
import textwrap
from html.parser import HTMLParser

SHORTHAND_MAX_DEPTH = 3  # brackets inside brackets: deeper is shown as JSON, a one-line shorthand of it is unreadable
BLOCK_TAGS = frozenset({"p", "li", "ul", "ol", "note", "important", "br", "dl", "dt", "dd", "div"})


class _Text(HTMLParser):
    """botocore's documentation HTML -> paragraphs of text (links keep their text, list items start with `- `)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.paragraphs: list[str] = []
        self.current: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in BLOCK_TAGS:
            self._end_paragraph()
        if tag == "li":
            self.current.append("- ")

    def handle_endtag(self, tag):
        if tag in BLOCK_TAGS:
            self._end_paragraph()

    def handle_data(self, data):
        self.current.append(data)

    def _end_paragraph(self):
        text = " ".join("".join(self.current).split())
        if text and text != "-":
            self.paragraphs.append(text)
        self.current = []

    def text(self) -> str:
        self.close()
        self._end_paragraph()
        return "\n\n".join(self.paragraphs)


class _TooDeep(Exception):
    pass


def doc_text(html: str) -> str:
    """Plain text: one paragraph a line, a blank line between paragraphs."""
    parser = _Text()
    parser.feed(html or "")
    return parser.text()


def shorthand_example(shape) -> str | None:
    """The shorthand syntax of a structure, list or map member; None when it nests too deep to read (then the
    JSON syntax is shown) or the member is a scalar."""
    if shape.type_name not in ("structure", "list", "map"):
        return None
    try:
        if shape.type_name == "list":
            return _shorthand(shape.member, depth=0, top=True) + " ..."
        return _shorthand(shape, depth=0, top=True)
    except _TooDeep:
        return None


def _shorthand(shape, depth: int, top: bool = False) -> str:
    """`depth`: the brackets around this value; the top level's structure or map has none."""
    kind = shape.type_name
    if kind not in ("structure", "map", "list"):
        return kind
    inside = depth if top else depth + 1
    if inside > SHORTHAND_MAX_DEPTH:
        raise _TooDeep
    if kind == "structure":
        inner = ",".join(f"{name}={_shorthand(member, inside)}" for name, member in shape.members.items())
    elif kind == "map":
        value = _shorthand(shape.value, inside)
        inner = f"KeyName1={value},KeyName2={value}"
    else:
        item = _shorthand(shape.member, inside)
        return f"[{item},{item}]"
    return inner if top else "{" + inner + "}"


def skeleton(shape, depth: int = 0):
    """A request (or response) template: every member, strings empty, numbers 0 (--generate-cli-skeleton)."""
    if shape is None:
        return {}
    if shape.type_name == "structure":
        return {} if depth > 8 else {k: skeleton(v, depth + 1) for k, v in shape.members.items()}
    if shape.type_name == "list":
        return [skeleton(shape.member, depth + 1)]
    if shape.type_name == "map":
        return {"KeyName": skeleton(shape.value, depth + 1)}
    return {"integer": 0, "long": 0, "float": 0.0, "double": 0.0, "boolean": True}.get(shape.type_name, "")


def member_help(shape, required: bool) -> str:
    """One member's help: `(type) [required]`, its documentation, its values or syntax. Lines that start with two
    spaces are examples, kept as they are by HelpFormatter."""
    parts = [" ".join([f"({shape.type_name})"] + (["[required]"] if required else [])
                      + [doc_text(shape.documentation)]).rstrip()]
    choices = getattr(shape.member if shape.type_name == "list" else shape, "enum", None)
    if choices:
        parts.append("Possible values: " + ", ".join(choices))
    example = shorthand_example(shape)
    if example:
        parts.append("Shorthand Syntax:\n  " + example)
    elif shape.type_name in ("structure", "list", "map"):
        parts.append("JSON Syntax:\n" + textwrap.indent(json.dumps(skeleton(shape), indent=2), "  "))
    return "\n\n".join(parts).replace("%", "%%")  # argparse formats help with %


class HelpFormatter(argparse.HelpFormatter):
    """Wraps each paragraph (one line of the text) to the terminal; keeps blank lines and indented examples."""

    def _split_lines(self, text, width):
        return _wrap(text, width)

    def _fill_text(self, text, width, indent):
        return "\n".join(indent + line if line else "" for line in _wrap(text, width - len(indent)))


def _wrap(text: str, width: int) -> list[str]:
    lines = []
    for line in text.splitlines():
        if not line or line.startswith("  "):
            lines.append(line)
        else:
            lines.extend(textwrap.wrap(line, max(width, 20), break_long_words=False, break_on_hyphens=False))
    return lines
