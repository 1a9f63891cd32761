"""The one exception family of the engine, mirroring SageMaker's error codes.

    AutoMLError                      base; `.code` is SageMaker's error code
    ├── ValidationException          a request or its data breaks a rule (names the field)
    ├── ResourceInUse                a job of that name exists (names are case-insensitive)
    ├── ResourceNotFound             no job / candidate of that name
    └── ResourceLimitExceeded        too many running jobs while queueing is off

boto3 users catch `client.exceptions.ValidationException`; `automl.client().exceptions` offers the same names.
"""
from __future__ import annotations


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


def field_error(path: str, rule: str, got: object = None) -> ValidationException:
    """The one message format: `<field path>: <rule>; got <value>`."""
    message = f"{path}: {rule}" if got is None else f"{path}: {rule}; got {got!r}"
    return ValidationException(message)
