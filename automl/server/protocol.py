"""The wire format botocore speaks with SageMaker: JSON 1.1 for the control plane (`X-Amz-Target:
SageMaker.<Operation>`), REST-JSON for the runtime (`POST /endpoints/<name>/invocations`), and their errors.

botocore reads an error's code from `__type` (JSON 1.1) or the `x-amzn-ErrorType` header (REST-JSON), and the
message from `message`; any status of 300 or more is an error, and it retries 500s and 503s.
"""
from __future__ import annotations

import datetime as dt
import json
import uuid

from starlette.responses import Response

from automl.errors import AutoMLError

JSON_11 = "application/x-amz-json-1.1"
MAX_BODY_BYTES = 6 * 1024 * 1024  # SageMaker's InvokeEndpoint payload limit, applied to every request
TARGET_PREFIX = "SageMaker."


class WireError(Exception):
    """An error answered before or instead of the engine: a protocol, signature or runtime error."""

    def __init__(self, code: str, message: str, status: int = 400, **extra):
        super().__init__(message)
        self.code, self.message, self.status, self.extra = code, message, status, extra


def _default(value):
    if isinstance(value, dt.datetime):
        return value.timestamp()  # botocore parses JSON timestamps as epoch seconds
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON")


def dumps(value) -> bytes:
    return json.dumps(value, default=_default, separators=(",", ":")).encode()


def request_id() -> str:
    return str(uuid.uuid4())


def json_response(body: dict, status: int = 200) -> Response:
    return Response(dumps(body), status_code=status, media_type=JSON_11,
                    headers={"x-amzn-RequestId": request_id()})


def status_of(error: AutoMLError) -> int:
    """SageMaker answers every client error it models (validation, not found, in use, limit) with 400, an
    internal failure with 500: the status the error's own response metadata carries."""
    return error.status


def error_response(code: str, message: str, status: int, **extra) -> Response:
    body = {"__type": code, "message": message} | extra
    return Response(dumps(body), status_code=status, media_type=JSON_11,
                    headers={"x-amzn-RequestId": request_id(), "x-amzn-ErrorType": code})


def parse_target(target: str | None) -> str:
    if not target:
        raise WireError("UnknownOperationException", "the X-Amz-Target header is missing; it names the operation "
                                                     "as SageMaker.<Operation>")
    if not target.startswith(TARGET_PREFIX):
        raise WireError("UnknownOperationException", f"X-Amz-Target must start with {TARGET_PREFIX!r} (this server "
                                                     f"speaks the SageMaker API); got {target!r}")
    return target[len(TARGET_PREFIX):]


def parse_json(body: bytes) -> dict:
    if not body.strip():
        return {}
    try:
        value = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WireError("SerializationException", f"the request body is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise WireError("SerializationException", f"the request body must be a JSON object; got "
                                                  f"{type(value).__name__}")
    return value
