"""The one exception family of the engine, mirroring SageMaker's error codes.

    AutoMLError                      base; `.code` is SageMaker's error code
    ├── ValidationException          a request or its data breaks a rule (names the field)
    ├── ResourceInUse                a job of that name exists (names are case-insensitive)
    ├── ResourceNotFound             no job / candidate of that name
    ├── ResourceLimitExceeded        too many running jobs while queueing is off
    └── UnknownOperation             an operation name the engine does not serve

Each is a botocore `ClientError` carrying the `response` botocore would build from SageMaker's answer, so code
written for boto3 (`except ClientError as e: e.response["Error"]["Code"]`, `client.exceptions.ResourceNotFound`)
runs unchanged; `automl.client().exceptions` offers the same names. `.message` is the bare message (`<field
path>: <rule>`), what the engine's own code reads; str() reads like botocore's.
"""
from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from contextlib import contextmanager
from email.utils import format_datetime

from botocore.exceptions import ClientError

JSON_11 = "application/x-amz-json-1.1"


class AutoMLError(ClientError):
    code = "InternalFailure"
    status = 500  # the HTTP status SageMaker answers with

    def __init__(self, message: str, operation_name: str | None = None):
        super().__init__(error_response(self.code, message, self.status), operation_name)
        self.args = (message,)
        self.message = message

    def __str__(self) -> str:
        where = f" when calling the {self.operation_name} operation" if self.operation_name else ""
        return f"An error occurred ({self.code}){where}: {self.message}"

    def __reduce__(self):
        """Pickled whole, subclass and all (botocore's ClientError pickles as a bare ClientError): an error
        raised in a candidate's process or on a Dask worker arrives as itself."""
        return _restore, (type(self), self.__dict__)


def _restore(cls: type[AutoMLError], state: dict) -> AutoMLError:
    error = cls.__new__(cls)
    error.__dict__.update(state)
    error.args = (state["message"],)
    return error


def error_response(code: str, message: str, status: int) -> dict:
    """The dict botocore builds from a SageMaker error answer: the code and message, and the response's
    metadata (its request id, status and headers; an error answered at once took no retries)."""
    request_id = str(uuid.uuid4())
    body = json.dumps({"__type": code, "message": message}, separators=(",", ":"))
    headers = {"x-amzn-requestid": request_id, "content-type": JSON_11, "content-length": str(len(body.encode())),
               "date": format_datetime(dt.datetime.now(dt.timezone.utc), usegmt=True)}
    return {"Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"RequestId": request_id, "HTTPStatusCode": status, "HTTPHeaders": headers,
                                 "RetryAttempts": 0}}


class ValidationException(AutoMLError):
    code = "ValidationException"
    status = 400


class ResourceInUse(AutoMLError):
    code = "ResourceInUse"
    status = 400


class ResourceNotFound(AutoMLError):
    code = "ResourceNotFound"
    status = 400


class ResourceLimitExceeded(AutoMLError):
    code = "ResourceLimitExceeded"
    status = 400


class UnknownOperation(AutoMLError):
    code = "UnknownOperationException"
    status = 400


@contextmanager
def during(operation: str):
    """The errors raised inside name `operation` (botocore's `operation_name`), unless one deeper already does."""
    try:
        yield
    except AutoMLError as exc:
        exc.operation_name = exc.operation_name or operation
        raise


def field_message(path: str, rule: str, got: object = None) -> str:
    """The one message format: `<field path>: <rule>; got <value>`."""
    return f"{path}: {rule}" if got is None else f"{path}: {rule}; got {got!r}"


def field_error(path: str, rule: str, got: object = None) -> ValidationException:
    return ValidationException(field_message(path, rule, got))


@contextmanager
def renamed_fields(pairs: list[tuple[str, str]]):
    """Rewrite the field path a ValidationException starts with, for rules shared by two request shapes:
    CreateAutoMLJobV2 reuses the V1 rules, and its errors must name the V2 fields. A message listing several
    problems (one a line) has each line's path rewritten.

    `pairs` is [(old prefix, new prefix)], tried in order (put the longer, more specific prefixes first); a
    prefix ending in `[*]` matches any index there (`InputDataConfig[*].TargetAttributeName`).
    """
    try:
        yield
    except ValidationException as exc:
        message = "\n".join(rename_path(line, pairs) for line in exc.message.split("\n"))
        if message == exc.message:
            raise
        raise ValidationException(message, exc.operation_name) from None


def rename_path(message: str, pairs: list[tuple[str, str]]) -> str:
    for old, new in pairs:
        pattern = re.escape(old).replace(r"\[\*\]", r"\[(\d+)\]")
        match = re.match(pattern + r"(?=$|[.:\[ ])", message)
        if match:
            replacement = new.replace("[*]", f"[{match.group(1)}]") if match.groups() else new
            return replacement + message[match.end():]
    return message
