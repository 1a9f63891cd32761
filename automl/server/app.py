"""The routes: the control plane (`POST /`, JSON 1.1), the runtime (`POST /endpoints/<name>/invocations`),
and a per-model app with SageMaker's inference container routes (`GET /ping`, `POST /invocations`).

Engine calls are blocking (SQLite, reading data, predicting): each runs in the thread pool, so the event loop
keeps answering while a create reads its data or a model predicts. Jobs themselves run in their own worker
processes, as they do without the server.
"""
from __future__ import annotations

import logging

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from automl.api import Client
from automl.errors import AutoMLError
from automl.server import pages, protocol
from automl.server.models import Models
from automl.server.protocol import MAX_BODY_BYTES, WireError
from automl.server.signing import SignedRequest, verify

log = logging.getLogger("automl.server")
DRAIN_BYTES = 64 * 1024 * 1024


async def read_body(request: Request) -> bytes:
    """The body, refused once it passes MAX_BODY_BYTES. The rest is read and dropped (up to DRAIN_BYTES) so the
    client, still sending, gets the 413 answer instead of a reset connection; nothing past the limit is kept."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size <= MAX_BODY_BYTES:
            chunks.append(chunk)
        elif size > DRAIN_BYTES:
            break
    if size > MAX_BODY_BYTES:
        raise _too_large(size)
    return b"".join(chunks)


def _too_large(size: int) -> WireError:
    return WireError("RequestEntityTooLargeException",
                     f"the request body is {size} bytes or more; the limit is {MAX_BODY_BYTES} bytes (6 MB, "
                     "SageMaker's InvokeEndpoint limit); send larger inputs as a batch transform", 413)


def _check_signature(request: Request, body: bytes, keys: dict[str, str]) -> None:
    if not keys:
        return
    verify(SignedRequest(method=request.method, raw_path=request.scope.get("raw_path", b"/").decode("latin-1"),
                         raw_query=request.scope.get("query_string", b"").decode("latin-1"),
                         headers={k.lower(): v for k, v in request.headers.items()}, body=body), keys)


def control_app(client: Client, models: Models, keys: dict[str, str]) -> Starlette:
    async def control(request: Request) -> Response:
        operation = None
        try:
            body = await read_body(request)
            _check_signature(request, body, keys)
            operation = protocol.parse_target(request.headers.get("x-amz-target"))
            payload = protocol.parse_json(body)
            answer = await run_in_threadpool(client.call, operation, payload)
            if operation == "DeleteEndpoint":
                models.drop(payload["EndpointName"])
            return protocol.json_response(answer)
        except WireError as exc:
            return protocol.error_response(exc.code, exc.message, exc.status, **exc.extra)
        except AutoMLError as exc:
            return protocol.error_response(exc.code, exc.message, protocol.status_of(exc))
        except Exception as exc:
            log.exception("%s failed", operation or "a request")
            return protocol.error_response("InternalFailure", f"{type(exc).__name__}: {exc}", 500)

    async def invoke(request: Request) -> Response:
        name = request.path_params["name"]
        try:
            body = await read_body(request)
            _check_signature(request, body, keys)
            answer, content_type, variant = await run_in_threadpool(
                models.invoke, name, body, request.headers.get("content-type"), request.headers.get("accept"))
            # The content type as given (starlette's media_type would add "; charset=utf-8" to text/csv).
            return Response(answer, headers={"Content-Type": content_type,
                                             "x-Amzn-Invoked-Production-Variant": variant})
        except WireError as exc:
            return protocol.error_response(exc.code, exc.message, exc.status, **exc.extra)
        except AutoMLError as exc:
            # SageMaker's wording when the container refuses the input: a ModelError wrapping the client error.
            message = f"Received client error (400) from primary with message \"{exc.message}\"."
            return protocol.error_response("ModelError", message, 424, OriginalStatusCode=400,
                                           OriginalMessage=exc.message)
        except Exception as exc:
            log.exception("invoking %s failed", name)
            message = f"Received server error (500) from primary with message \"{type(exc).__name__}: {exc}\"."
            return protocol.error_response("ModelError", message, 424, OriginalStatusCode=500,
                                           OriginalMessage=str(exc))

    async def ping(request: Request) -> Response:
        return Response(status_code=200)

    async def ports(request: Request) -> Response:
        """Not a SageMaker route: where each endpoint's container-style port listens."""
        return JSONResponse({"Endpoints": [{"EndpointName": name, "InvocationsUrl": url}
                                           for name, url in sorted(models.urls.items())]})

    return Starlette(routes=[
        Route("/", control, methods=["POST"]),
        Route("/endpoints/{name}/invocations", invoke, methods=["POST"]),
        Route("/ping", ping, methods=["GET"]),
        Route("/automl/endpoints", ports, methods=["GET"]),
        *pages.routes(lambda: client.store, keys),
    ])


def model_app(models: Models, name: str) -> Starlette:
    """One endpoint's model on its own port, as SageMaker's inference containers serve it."""

    async def ping(request: Request) -> Response:
        try:
            await run_in_threadpool(models.get, name)
        except (WireError, AutoMLError) as exc:
            return Response(str(getattr(exc, "message", exc)), status_code=503)
        return Response(status_code=200)

    async def invocations(request: Request) -> Response:
        try:
            body = await read_body(request)
            answer, content_type, _ = await run_in_threadpool(
                models.invoke, name, body, request.headers.get("content-type"), request.headers.get("accept"))
            return Response(answer, headers={"Content-Type": content_type})
        except WireError as exc:
            return Response(exc.message, status_code=exc.status, media_type="text/plain")
        except AutoMLError as exc:
            return Response(exc.message, status_code=400, media_type="text/plain")

    return Starlette(routes=[Route("/ping", ping, methods=["GET"]),
                             Route("/invocations", invocations, methods=["POST"])])
