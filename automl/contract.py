"""Shape checks against botocore's SageMaker service model, for requests and for our own responses.

One walker, one message format: every problem names the full field path (`InputDataConfig[1].ChannelType`),
and, as botocore's parameter validation does, a request is walked whole: one ValidationException lists every
member that is missing, unknown or breaks its shape (one problem a line), not only the first.
The only departure from the model: wherever the model wants an S3 location (shapes `S3Uri`, `Url`), a local
path or `file://` URI is accepted too, because this engine runs on the user's machine.
"""
from __future__ import annotations

import datetime as dt
from functools import cache, lru_cache

import regex

from automl.errors import ValidationException, field_error, field_message

LOCATION_SHAPES = frozenset({"S3Uri", "Url"})
MAX_LISTED = 20  # problems one message lists; a list of a thousand bad items reads as its first ones and a count


@lru_cache(maxsize=1)
def service_model():
    import botocore.session

    return botocore.session.get_session().get_service_model("sagemaker")


def input_shape(operation: str):
    return service_model().operation_model(operation).input_shape


def output_shape(operation: str):
    return service_model().operation_model(operation).output_shape


def validate_request(operation: str, request: dict) -> None:
    """Raise one ValidationException naming every member of `request` that breaks the operation's input shape."""
    shape = input_shape(operation)
    if not isinstance(request, dict):
        raise field_error(operation, "the request must be an object", type(request).__name__)
    _raise_all(_Walk().check(shape, request, ""))


def validate_response(operation: str, response: dict) -> None:
    """The same walk over our answers: Describe/List must stay inside botocore's output shapes."""
    _raise_all(_Walk().check(output_shape(operation), response, ""))


def _raise_all(problems: list[str]) -> None:
    """One problem is the message as it is; several are counted on a first line, then listed one a line."""
    if len(problems) == 1:
        raise ValidationException(problems[0])
    if problems:
        listed = problems[:MAX_LISTED]
        more = [f"and {len(problems) - MAX_LISTED} more"] if len(problems) > MAX_LISTED else []
        raise ValidationException("\n".join([f"{len(problems)} problems:", *listed, *more]))


@cache
def _pattern(text: str):
    return regex.compile(text)


def is_local_location(value: str) -> bool:
    return not value.startswith(("s3://", "https://", "http://"))


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _count(n: int, unit: str) -> str:
    """Singular for one (`unit` is given in the plural): 1 character, 32 characters."""
    return f"{n} {unit[:-1] if n == 1 else unit}"


class _Walk:
    """One walk over a value and its shape, gathering each problem (a value reports its first broken rule)."""

    def __init__(self):
        self.problems: list[str] = []

    def add(self, path: str, rule: str, got: object = None) -> None:
        self.problems.append(field_message(path, rule, got))

    def check(self, shape, value, path: str) -> list[str]:
        kind = shape.type_name
        label = path or shape.name
        if kind == "structure":
            self._structure(shape, value, label, path)
        elif kind == "list":
            if not isinstance(value, (list, tuple)):
                self.add(label, "must be a list", value)
            elif self._length(shape, len(value), label, "items"):
                for i, item in enumerate(value):
                    self.check(shape.member, item, f"{label}[{i}]")
        elif kind == "map":
            if not isinstance(value, dict):
                self.add(label, "must be a map of key to value", value)
            elif self._length(shape, len(value), label, "entries"):
                for key, item in value.items():
                    self.check(shape.key, key, f"{label}.{{key}}")
                    self.check(shape.value, item, f"{label}[{key!r}]")
        elif kind == "string":
            self._string(shape, value, label)
        elif kind in ("integer", "long"):
            if isinstance(value, bool) or not isinstance(value, int):
                self.add(label, "must be an integer", value)
            else:
                self._range(shape, value, label)
        elif kind in ("float", "double"):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                self.add(label, "must be a number", value)
            else:
                self._range(shape, value, label)
        elif kind == "boolean":
            if not isinstance(value, bool):
                self.add(label, "must be true or false", value)
        elif kind == "timestamp" and not isinstance(value, (dt.datetime, dt.date, int, float, str)):
            self.add(label, "must be a timestamp", value)
        return self.problems

    def _structure(self, shape, value, label: str, path: str) -> None:
        if not isinstance(value, dict):
            self.add(label, "must be an object", value)
            return
        for name in sorted(set(value) - set(shape.members)):
            self.add(_join(path, name), f"is not a member of {shape.name}; valid members: " + ", ".join(shape.members))
        for name in shape.required_members:
            if value.get(name) is None:
                self.add(_join(path, name), "is required")
        for name, item in value.items():
            if item is not None and name in shape.members:
                self.check(shape.members[name], item, _join(path, name))

    def _string(self, shape, value, label: str) -> None:
        if not isinstance(value, str):
            self.add(label, "must be a string", value)
            return
        if shape.enum and value not in shape.enum:
            self.add(label, "must be one of " + ", ".join(shape.enum), value)
            return
        if not self._length(shape, len(value), label, "characters"):
            return
        pattern = shape.metadata.get("pattern")
        if shape.name in LOCATION_SHAPES and is_local_location(value):
            if not value.strip():
                self.add(label, "must be an s3://, https://, file:// URI or a local path", value)
        elif pattern and not _pattern(pattern).fullmatch(value):
            self.add(label, f"must match the pattern {pattern}", value)

    def _length(self, shape, length: int, label: str, unit: str) -> bool:
        """Whether the length is within the shape's bounds (a problem added when not)."""
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if low is not None and length < low:
            self.add(label, f"must have at least {_count(low, unit)}", length)
            return False
        if high is not None and length > high:
            self.add(label, f"must have at most {_count(high, unit)}", length)
            return False
        return True

    def _range(self, shape, number, label: str) -> None:
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if low is not None and number < low:
            self.add(label, f"must be at least {low}", number)
        elif high is not None and number > high:
            self.add(label, f"must be at most {high}", number)
