"""The one exception family of the engine, mirroring SageMaker's error codes.

    AutoMLError                      base; `.code` is SageMaker's error code
    ├── ValidationException          a request or its data breaks a rule (names the field)
    ├── ResourceInUse                a job of that name exists (names are case-insensitive)
    ├── ResourceNotFound             no job / candidate of that name
    ├── ResourceLimitExceeded        too many running jobs while queueing is off
    └── UnknownOperation             an operation name the engine does not serve

boto3 users catch `client.exceptions.ValidationException`; `automl.client().exceptions` offers the same names.
"""
from __future__ import annotations

import re
from contextlib import contextmanager


class AutoMLError(Exception):
    code = "InternalFailure"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    @property
    def response(self) -> dict:
        """The error as botocore's ClientError carries it, for code that reads `e.response['Error']`."""
        return {"Error": {"Code": self.code, "Message": self.message}}


class ValidationException(AutoMLError):
    code = "ValidationException"


class ResourceInUse(AutoMLError):
    code = "ResourceInUse"


class ResourceNotFound(AutoMLError):
    code = "ResourceNotFound"


class ResourceLimitExceeded(AutoMLError):
    code = "ResourceLimitExceeded"


class UnknownOperation(AutoMLError):
    code = "UnknownOperationException"


def field_error(path: str, rule: str, got: object = None) -> ValidationException:
    """The one message format: `<field path>: <rule>; got <value>`."""
    message = f"{path}: {rule}" if got is None else f"{path}: {rule}; got {got!r}"
    return ValidationException(message)


@contextmanager
def renamed_fields(pairs: list[tuple[str, str]]):
    """Rewrite the field path a ValidationException starts with, for rules shared by two request shapes:
    CreateAutoMLJobV2 reuses the V1 rules, and its errors must name the V2 fields.

    `pairs` is [(old prefix, new prefix)], tried in order (put the longer, more specific prefixes first); a
    prefix ending in `[*]` matches any index there (`InputDataConfig[*].TargetAttributeName`).
    """
    try:
        yield
    except ValidationException as exc:
        message = rename_path(exc.message, pairs)
        if message == exc.message:
            raise
        raise ValidationException(message) from None


def rename_path(message: str, pairs: list[tuple[str, str]]) -> str:
    for old, new in pairs:
        pattern = re.escape(old).replace(r"\[\*\]", r"\[(\d+)\]")
        match = re.match(pattern + r"(?=$|[.:\[ ])", message)
        if match:
            replacement = new.replace("[*]", f"[{match.group(1)}]") if match.groups() else new
            return replacement + message[match.end():]
    return message
