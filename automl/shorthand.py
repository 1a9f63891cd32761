"""The AWS CLI's parameter syntax: JSON, `file://` references, and shorthand (`Key=Value,Nested={A=1}`),
typed by the botocore shape of the parameter so `MaxCandidates=5` arrives as an integer."""
from __future__ import annotations

import json
from pathlib import Path

from automl.errors import field_error


def load_value(text: str, shape, flag: str):
    """One CLI argument -> a Python value for `shape`; `flag` is the member name errors report."""
    if text.startswith("file://"):
        text = Path(text[len("file://"):]).expanduser().read_text()
    if shape.type_name in ("structure", "list", "map"):
        stripped = text.strip()
        if stripped[:1] in "[{" or stripped.startswith('"'):
            try:
                return json.loads(stripped)
            except ValueError:
                if stripped[:1] == "[":
                    raise field_error(flag, "is neither valid JSON nor shorthand", text) from None
        return typed(parse_shorthand(text, flag), shape, flag)
    return typed(text, shape, flag)


def parse_shorthand(text: str, flag: str) -> dict:
    parser = _Parser(text, flag)
    value = parser.structure(closing=None)
    if parser.i != len(text):
        parser.fail("unexpected text")
    return value


class _Parser:
    def __init__(self, text: str, flag: str):
        self.text, self.i, self.flag = text, 0, flag

    def fail(self, why: str):
        raise field_error(self.flag, f"is not valid shorthand ({why} at character {self.i + 1})", self.text)

    def structure(self, closing: str | None) -> dict:
        out = {}
        while self.i < len(self.text):
            end = self.text.find("=", self.i)
            if end < 0:
                self.fail("expected Key=Value")
            key = self.text[self.i:end].strip()
            self.i = end + 1
            out[key] = self.value(stops=",}" if closing else ",")
            if self.i < len(self.text) and self.text[self.i] == ",":
                self.i += 1
                continue
            if closing and self.i < len(self.text) and self.text[self.i] == closing:
                return out
        if closing:
            self.fail(f"missing {closing!r}")
        return out

    def value(self, stops: str):
        if self.i < len(self.text) and self.text[self.i] == "{":
            self.i += 1
            result = self.structure(closing="}")
            self.i += 1
            return result
        if self.i < len(self.text) and self.text[self.i] == "[":
            self.i += 1
            items = []
            while self.i < len(self.text) and self.text[self.i] != "]":
                items.append(self.value(stops=",]"))
                if self.i < len(self.text) and self.text[self.i] == ",":
                    self.i += 1
            if self.i >= len(self.text):
                self.fail("missing ']'")
            self.i += 1
            return items
        if self.i < len(self.text) and self.text[self.i] in "\"'":
            quote = self.text[self.i]
            end = self.text.find(quote, self.i + 1)
            if end < 0:
                self.fail("unterminated quote")
            result = self.text[self.i + 1:end]
            self.i = end + 1
            return result
        start = self.i
        while self.i < len(self.text) and self.text[self.i] not in stops:
            self.i += 1
        return self.text[start:self.i]


def typed(value, shape, path: str):
    """Turn shorthand strings into the shape's types, recursively; JSON values pass through unchanged."""
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        return {k: typed(v, shape.members[k], f"{path}.{k}") if k in shape.members else v for k, v in value.items()}
    if kind == "list":
        items = value if isinstance(value, list) else [value]
        return [typed(v, shape.member, f"{path}[{i}]") for i, v in enumerate(items)]
    if kind == "map" and isinstance(value, dict):
        return {k: typed(v, shape.value, f"{path}[{k!r}]") for k, v in value.items()}
    if not isinstance(value, str):
        return value
    try:
        if kind in ("integer", "long"):
            return int(value)
        if kind in ("float", "double"):
            return float(value)
    except ValueError:
        raise field_error(path, "must be a number", value) from None
    if kind == "boolean":
        if value.lower() not in ("true", "false"):
            raise field_error(path, "must be true or false", value)
        return value.lower() == "true"
    return value
