"""boto3's paginators and waiters over this engine's client: botocore's own machinery (`botocore.paginate`,
`botocore.waiter`) driven by the client's methods, configured by SageMaker's paginators-1 and waiters-2 models.

Only what the client serves is offered: the List operations SageMaker paginates, and the waiters whose Describe
the client implements (SageMaker has none for AutoML jobs: `Client.wait` is that one).
"""
from __future__ import annotations

from functools import lru_cache

from botocore import xform_name
from botocore.exceptions import OperationNotPageableError
from botocore.paginate import Paginator
from botocore.waiter import NormalizedOperationMethod, Waiter, WaiterModel

from automl.contract import service_model


@lru_cache(maxsize=1)
def _loader():
    import botocore.session

    return botocore.session.get_session().get_component("data_loader")


def _model(kind: str) -> dict:
    model = service_model()
    return _loader().load_service_model(model.service_name, kind, model.api_version)


def pageable(operations: dict[str, str]) -> dict[str, str]:
    """method name -> operation name of the served operations SageMaker paginates."""
    config = _model("paginators-1")["pagination"]
    return {method: name for name, method in operations.items() if name in config}


def paginator(client, operations: dict[str, str], method: str) -> Paginator:
    name = pageable(operations).get(method)
    if name is None:
        raise OperationNotPageableError(operation_name=method)
    config = _model("paginators-1")["pagination"][name]
    return Paginator(getattr(client, method), config, service_model().operation_model(name))


def waiter_names(operations: dict[str, str]) -> list[str]:
    """The waiters (in boto3's snake_case) whose operation the client serves."""
    model = WaiterModel(_model("waiters-2"))
    return sorted(xform_name(w) for w in model.waiter_names if model.get_waiter(w).operation in operations)


def waiter(client, operations: dict[str, str], name: str) -> Waiter:
    model = WaiterModel(_model("waiters-2"))
    found = {xform_name(w): w for w in model.waiter_names}
    if name not in waiter_names(operations):
        raise ValueError(f"Waiter does not exist: {name}")
    config = model.get_waiter(found[name])
    return Waiter(found[name], config, NormalizedOperationMethod(getattr(client, xform_name(config.operation))))
