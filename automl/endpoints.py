"""Endpoints: a job's best model, made callable by `ModelDeployConfig` and served by `automl serve`.

An endpoint is a row of the job store naming the model file it serves. The job's worker deploys it once the job
has its best candidate (secondary status DeployingModel): the model must load (its integrity record checked)
and answer one row of its own training data before the endpoint is InService. Whichever `automl serve` runs on
this store then serves it; deleting the row is DeleteEndpoint (the model files stay with their job).
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from automl.errors import ResourceInUse, ValidationException, field_error
from automl.spec import ACCOUNT, REGION
from automl.store import Store

IN_SERVICE = "InService"
VARIANT = "AllTraffic"  # the production variant Autopilot's one-click deployment creates


@dataclass(frozen=True)
class Endpoint:
    name: str
    job: str
    candidate: str
    model_uri: str
    status: str
    creation_time: float
    last_modified_time: float
    failure_reason: str | None = None

    @property
    def arn(self) -> str:
        return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/{self.name.lower()}"


def requested_name(request: dict) -> str | None:
    """The endpoint a Create request asks for (V1 and V2 share ModelDeployConfig): its EndpointName, the job's
    name when AutoGenerateEndpointName is true, or None (no deployment)."""
    config = request.get("ModelDeployConfig") or {}
    if config.get("AutoGenerateEndpointName"):
        return request["AutoMLJobName"]
    return config.get("EndpointName")


def not_found(name: str) -> ValidationException:
    """SageMaker answers a missing endpoint with a ValidationException (the EndpointDeleted waiter relies on it)."""
    return ValidationException(f"Could not find endpoint \"{name}\".")


def check_free(store: Store, name: str, path: str = "ModelDeployConfig.EndpointName") -> None:
    existing = find(store, name)
    if existing is not None:
        raise field_error(path, f"an endpoint of that name exists (serving job {existing.job!r}); choose another "
                                "name or delete it with DeleteEndpoint", name)


def insert(store: Store, name: str, job: str, candidate: str, model_uri: str) -> Endpoint:
    now = time.time()
    with store.transaction() as db:
        row = db.execute("SELECT job FROM endpoints WHERE name_key = ?", (name.lower(),)).fetchone()
        if row is not None:
            raise ResourceInUse(f"EndpointName: an endpoint named {name!r} already exists (serving job "
                                f"{row['job']!r})")
        db.execute("INSERT INTO endpoints (name_key, name, job, candidate, model_uri, status, creation_time, "
                   "last_modified_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                   (name.lower(), name, job, candidate, model_uri, IN_SERVICE, now, now))
    return get(store, name)


def find(store: Store, name: str) -> Endpoint | None:
    with store.connect() as db:
        row = db.execute("SELECT * FROM endpoints WHERE name_key = ?", (name.lower(),)).fetchone()
    return _endpoint(row) if row is not None else None


def get(store: Store, name: str) -> Endpoint:
    endpoint = find(store, name)
    if endpoint is None:
        raise not_found(name)
    return endpoint


def every(store: Store) -> list[Endpoint]:
    with store.connect() as db:
        return [_endpoint(r) for r in db.execute("SELECT * FROM endpoints ORDER BY creation_time")]


def delete(store: Store, name: str) -> None:
    with store.transaction() as db:
        gone = db.execute("DELETE FROM endpoints WHERE name_key = ?", (name.lower(),)).rowcount
    if not gone:
        raise not_found(name)


def _endpoint(row) -> Endpoint:
    return Endpoint(name=row["name"], job=row["job"], candidate=row["candidate"], model_uri=row["model_uri"],
                    status=row["status"], creation_time=row["creation_time"],
                    last_modified_time=row["last_modified_time"], failure_reason=row["failure_reason"])
