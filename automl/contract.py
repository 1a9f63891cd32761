"""Shape checks against botocore's SageMaker service model, for requests and for our own responses.

One walker, one message format: every error names the full field path (`InputDataConfig[1].ChannelType`).
The only departure from the model: wherever the model wants an S3 location (shapes `S3Uri`, `Url`), a local
path or `file://` URI is accepted too, because this engine runs on the user's machine.
"""
from __future__ import annotations

import datetime as dt
from functools import cache, lru_cache

import regex

from automl.errors import field_error

LOCATION_SHAPES = frozenset({"S3Uri", "Url"})


@lru_cache(maxsize=1)
def service_model():
    import botocore.session

    return botocore.session.get_session().get_service_model("sagemaker")


def input_shape(operation: str):
    return service_model().operation_model(operation).input_shape


def output_shape(operation: str):
    return service_model().operation_model(operation).output_shape


def validate_request(operation: str, request: dict) -> None:
    """Raise ValidationException for the first member of `request` that breaks the operation's input shape."""
    shape = input_shape(operation)
    if not isinstance(request, dict):
        raise field_error(operation, "the request must be an object", type(request).__name__)
    _check(shape, request, "")


def validate_response(operation: str, response: dict) -> None:
    """The same walk over our answers: Describe/List must stay inside botocore's output shapes."""
    _check(output_shape(operation), response, "")


@cache
def _pattern(text: str):
    return regex.compile(text)


def is_local_location(value: str) -> bool:
    return not value.startswith(("s3://", "https://", "http://"))


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _check(shape, value, path: str) -> None:
    kind = shape.type_name
    label = path or shape.name
    if kind == "structure":
        _check_structure(shape, value, label, path)
    elif kind == "list":
        if not isinstance(value, (list, tuple)):
            raise field_error(label, "must be a list", value)
        _check_length(shape, len(value), label, "items")
        for i, item in enumerate(value):
            _check(shape.member, item, f"{label}[{i}]")
    elif kind == "map":
        if not isinstance(value, dict):
            raise field_error(label, "must be a map of key to value", value)
        _check_length(shape, len(value), label, "entries")
        for key, item in value.items():
            _check(shape.key, key, f"{label}.{{key}}")
            _check(shape.value, item, f"{label}[{key!r}]")
    elif kind == "string":
        _check_string(shape, value, label)
    elif kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise field_error(label, "must be an integer", value)
        _check_range(shape, value, label)
    elif kind in ("float", "double"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise field_error(label, "must be a number", value)
        _check_range(shape, value, label)
    elif kind == "boolean":
        if not isinstance(value, bool):
            raise field_error(label, "must be true or false", value)
    elif kind == "timestamp" and not isinstance(value, (dt.datetime, dt.date, int, float, str)):
        raise field_error(label, "must be a timestamp", value)


def _check_structure(shape, value, label: str, path: str) -> None:
    if not isinstance(value, dict):
        raise field_error(label, "must be an object", value)
    unknown = sorted(set(value) - set(shape.members))
    if unknown:
        raise field_error(_join(path, unknown[0]), f"is not a member of {shape.name}; valid members: "
                          + ", ".join(shape.members))
    for name in shape.required_members:
        if value.get(name) is None:
            raise field_error(_join(path, name), "is required")
    for name, item in value.items():
        if item is not None:
            _check(shape.members[name], item, _join(path, name))


def _check_string(shape, value, label: str) -> None:
    if not isinstance(value, str):
        raise field_error(label, "must be a string", value)
    if shape.enum and value not in shape.enum:
        raise field_error(label, "must be one of " + ", ".join(shape.enum), value)
    _check_length(shape, len(value), label, "characters")
    pattern = shape.metadata.get("pattern")
    if shape.name in LOCATION_SHAPES and is_local_location(value):
        if not value.strip():
            raise field_error(label, "must be an s3://, https://, file:// URI or a local path", value)
        return
    if pattern and not _pattern(pattern).fullmatch(value):
        raise field_error(label, f"must match the pattern {pattern}", value)


def _check_length(shape, length: int, label: str, unit: str) -> None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and length < low:
        raise field_error(label, f"must have at least {_count(low, unit)}", length)
    if high is not None and length > high:
        raise field_error(label, f"must have at most {_count(high, unit)}", length)


def _count(n: int, unit: str) -> str:
    """Singular for one (`unit` is given in the plural): 1 character, 32 characters."""
    return f"{n} {unit[:-1] if n == 1 else unit}"


def _check_range(shape, number, label: str) -> None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and number < low:
        raise field_error(label, f"must be at least {low}", number)
    if high is not None and number > high:
        raise field_error(label, f"must be at most {high}", number)
