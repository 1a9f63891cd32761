"""The Python API: boto3's SageMaker client methods for Autopilot jobs, plus `wait` and `predict`.

    import automl
    sm = automl.client()                      # like boto3.client("sagemaker")
    sm.create_auto_ml_job(**request)          # the same request you would send to SageMaker
    automl.wait("my-job"); automl.predict("my-job", "new.csv")
"""
from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import json
import os
import time
import types
from dataclasses import replace
from pathlib import Path

import pandas as pd
from botocore import xform_name
from botocore.exceptions import ClientError

from automl import (
    artifacts,
    cleanup,
    endpoints,
    errors,
    integrity,
    responses,
    scheduler,
    sdk_helpers,
    settings,
    transform_jobs,
)
from automl.artifacts import JobOutput
from automl.contract import validate_request
from automl.dataset import create_analysis_limit_bytes, load_dataset
from automl.errors import ResourceInUse, ResourceNotFound, ValidationException, field_error, renamed_fields
from automl.forecast_plan import ForecastPlan, load_plan
from automl.inference import prediction_frame
from automl.progress import ProgressBar
from automl.spec import JobPlan, resolve
from automl.spec_v2 import check_text_problem, field_paths, resolve_v2
from automl.store import TERMINAL, JobStatus, Store, name_in_use
from runners import dask_executor, memory, runner_for

PREDICT_EXPLAIN_SECONDS = 300.0  # a permutation explainer's budget for every row of one predict call


class Client:
    """Mirrors boto3's SageMaker client for the Autopilot operations; `.exceptions` holds the error classes."""

    exceptions = types.SimpleNamespace(
        ValidationException=ValidationException, ResourceInUse=ResourceInUse, ResourceNotFound=ResourceNotFound,
        ResourceLimitExceeded=errors.ResourceLimitExceeded, ClientError=ClientError)

    def __init__(self, home: str | Path | None = None):
        self.store = Store(Path(home) if home else None)

    def create_auto_ml_job(self, **request) -> dict:
        validate_request("CreateAutoMLJob", request)
        return self._create(request, resolve)

    def create_auto_ml_job_v2(self, **request) -> dict:
        """Tabular, text classification or time-series forecasting (see automl.spec_v2); the stored request is the
        V2 one, which is what makes the job a V2 job."""
        validate_request("CreateAutoMLJobV2", request)
        return self._create(request, resolve_v2)

    def _create(self, request: dict, resolver) -> dict:
        """The create flow of both versions: `resolver` turns the shape-valid request into its plan."""
        settings.check()  # the worker inherits this environment
        name = request["AutoMLJobName"]
        try:
            raise name_in_use(self.store.job(name).name)  # before reading any data; insert checks again
        except ResourceNotFound:
            pass
        plan = resolver(request)
        plan = replace(plan, output_path=artifacts.anchored(plan.output_path))
        endpoint = endpoints.requested_name(request)
        if endpoint is not None:
            if plan.definitions_only:
                raise field_error("ModelDeployConfig", "a GenerateCandidateDefinitionsOnly job trains no model to "
                                  "deploy; omit one of them")
            endpoints.check_free(self.store, endpoint)
        memory.max_memory_bytes()  # a malformed AUTOML_MAX_MEMORY is refused now, not in every candidate
        plan = _on_cluster(plan)
        if isinstance(plan, JobPlan):
            # Only the tabular runners prepare here: the forecasting runner (runners.forecasting) keeps the base
            # Runner.prepare, which changes nothing, so a ForecastPlan is stored as resolved.
            plan = runner_for(plan.mode).prepare(plan, self.store.root)
        scheduler.admit(self.store)
        if isinstance(plan, JobPlan) and plan.training_bytes + plan.validation_bytes <= create_analysis_limit_bytes():
            # A V2 request's data errors name its own fields (V1 requests rename nothing).
            with renamed_fields(field_paths(request) if "AutoMLProblemTypeConfig" in request else []):
                dataset = load_dataset(plan)
                if plan.problem_type is None:
                    if "AutoMLProblemTypeConfig" in request:
                        check_text_problem(request, dataset.problem_type)
                    plan = plan.with_problem(dataset.problem_type)
            del dataset  # the caller's process (a notebook, a script) must not keep the data
            memory.release()
        self.store.insert_job(name, _jsonable(request), plan.to_json())
        scheduler.kick(self.store)
        return {"AutoMLJobArn": plan.arn}

    def describe_auto_ml_job(self, AutoMLJobName: str) -> dict:
        validate_request("DescribeAutoMLJob", {"AutoMLJobName": AutoMLJobName})
        scheduler.reap(self.store)
        job = self.store.job(AutoMLJobName)
        if responses.is_v2(job):
            # SageMaker: a job created with CreateAutoMLJobV2 is described with DescribeAutoMLJobV2.
            raise field_error("AutoMLJobName", "was created with CreateAutoMLJobV2; describe it with "
                              "DescribeAutoMLJobV2", job.name)
        return responses.describe(job, self.store.candidates(AutoMLJobName))

    def describe_auto_ml_job_v2(self, AutoMLJobName: str) -> dict:
        """Any job, V2 or V1 (a V1 job reads as Tabular)."""
        validate_request("DescribeAutoMLJobV2", {"AutoMLJobName": AutoMLJobName})
        scheduler.reap(self.store)
        job = self.store.job(AutoMLJobName)
        return responses.describe_v2(job, self.store.candidates(AutoMLJobName))

    def list_auto_ml_jobs(self, **request) -> dict:
        validate_request("ListAutoMLJobs", request)
        scheduler.reap(self.store)
        jobs = [j for j in self.store.jobs()
                if ("NameContains" not in request or request["NameContains"].lower() in j.name.lower())
                and ("StatusEquals" not in request or j.status.value == request["StatusEquals"])
                and _within(j.creation_time, j.last_modified_time, request)]
        sort_by = request.get("SortBy", "Name")
        key = {"Name": lambda j: j.name.lower(), "CreationTime": lambda j: (j.creation_time, j.seq),
               "Status": lambda j: (j.status, j.name.lower())}[sort_by]
        jobs.sort(key=key, reverse=request.get("SortOrder", "Descending") == "Descending")
        page, token = _page(jobs, request, default_max=100)
        body = {"AutoMLJobSummaries": [responses.summary(j, self.store.candidates(j.name)) for j in page]}
        return body | ({"NextToken": token} if token else {})

    def list_candidates_for_auto_ml_job(self, **request) -> dict:
        validate_request("ListCandidatesForAutoMLJob", request)
        scheduler.reap(self.store)
        job = self.store.job(request["AutoMLJobName"])
        plan = load_plan(job.plan)
        records = self.store.candidates(job.name)
        if "StatusEquals" in request:
            records = [r for r in records if r.status.value == request["StatusEquals"]]
        if "CandidateNameEquals" in request:
            records = [r for r in records if r.name == request["CandidateNameEquals"]]
        descending = request.get("SortOrder", "Ascending") == "Descending"
        sort_by = request.get("SortBy")
        if sort_by == "FinalObjectiveMetricValue":
            scored = [r for r in records if r.objective_value is not None]
            scored.sort(key=lambda r: r.objective_value, reverse=descending)
            records = scored + [r for r in records if r.objective_value is None]
        elif sort_by == "Status":
            records.sort(key=lambda r: r.status.value, reverse=descending)
        elif descending:
            records.reverse()
        page, token = _page(records, request, default_max=10)
        body = {"Candidates": [responses.candidate(r, plan) for r in page]}
        return body | ({"NextToken": token} if token else {})

    def stop_auto_ml_job(self, AutoMLJobName: str) -> dict:
        validate_request("StopAutoMLJob", {"AutoMLJobName": AutoMLJobName})
        job = self.store.job(AutoMLJobName)
        if job.status is not JobStatus.IN_PROGRESS:
            raise ValidationException(f"AutoMLJobName: job {job.name!r} is {job.status.value}; only an InProgress "
                                      "job can be stopped")
        if job.queued:
            self.store.transition(job.name, JobStatus.STOPPED, "Stopped", stop_requested=1)
        else:
            self.store.transition(job.name, JobStatus.STOPPING, "Stopping", stop_requested=1)
        return {}

    def resume_auto_ml_job(self, AutoMLJobName: str) -> dict:
        """Not a SageMaker operation: restart a job whose worker died, keeping its finished candidates. With
        AUTOML_DASK_SCHEDULER set, the job moves to that cluster (a restarted scheduler has a new address)."""
        validate_request("StopAutoMLJob", {"AutoMLJobName": AutoMLJobName})
        job = self.store.job(AutoMLJobName)
        plan = load_plan(job.plan)
        moved = _on_cluster(plan)
        scheduler.resume(self.store, AutoMLJobName, moved.to_json() if moved != plan else None)
        return {"AutoMLJobArn": load_plan(self.store.job(AutoMLJobName).plan).arn}

    def join_auto_ml_job(self, AutoMLJobName: str) -> str:
        """Not a SageMaker operation: run trials for a running tuning job's study in this process, until the job
        ends; returns why this worker ended."""
        from automl.worker import join

        validate_request("StopAutoMLJob", {"AutoMLJobName": AutoMLJobName})
        return join(self.store, AutoMLJobName)

    def delete_jobs(self, names=(), *, older_than_s: float | None = None, statuses=(), outputs: bool = False,
                    dry_run: bool = False) -> list[cleanup.Deletion]:
        """Not a SageMaker operation (SageMaker keeps AutoML jobs forever): remove finished jobs (the named ones,
        or those that ended `older_than_s` ago and/or have one of `statuses`) from this store, with their tuning
        studies, logs and scratch, and with `outputs` their output folders; `dry_run` only says what would go.
        A job still running, or in use by an endpoint or a running transform job, is refused (automl.cleanup)."""
        return cleanup.delete_jobs(self.store, names, older_than_s=older_than_s, statuses=statuses, outputs=outputs,
                                   dry_run=dry_run)

    def describe_endpoint(self, EndpointName: str) -> dict:
        validate_request("DescribeEndpoint", {"EndpointName": EndpointName})
        return responses.describe_endpoint(endpoints.get(self.store, EndpointName))

    def list_endpoints(self, **request) -> dict:
        validate_request("ListEndpoints", request)
        found = [e for e in endpoints.every(self.store)
                 if ("NameContains" not in request or request["NameContains"].lower() in e.name.lower())
                 and ("StatusEquals" not in request or e.status == request["StatusEquals"])
                 and _within(e.creation_time, e.last_modified_time, request)]
        key = {"Name": lambda e: e.name.lower(), "CreationTime": lambda e: e.creation_time,
               "Status": lambda e: (e.status, e.name.lower())}[request.get("SortBy", "CreationTime")]
        found.sort(key=key, reverse=request.get("SortOrder", "Descending") == "Descending")
        page, token = _page(found, request, default_max=10)
        body = {"Endpoints": [responses.endpoint_summary(e) for e in page]}
        return body | ({"NextToken": token} if token else {})

    def delete_endpoint(self, EndpointName: str) -> dict:
        validate_request("DeleteEndpoint", {"EndpointName": EndpointName})
        endpoints.delete(self.store, EndpointName)
        return {}

    def create_transform_job(self, **request) -> dict:
        validate_request("CreateTransformJob", request)
        return transform_jobs.create(self.store, _jsonable(request))

    def describe_transform_job(self, TransformJobName: str) -> dict:
        validate_request("DescribeTransformJob", {"TransformJobName": TransformJobName})
        return transform_jobs.describe(self.store, TransformJobName)

    def call(self, operation: str, request: dict) -> dict:
        """The one map from a SageMaker operation name to the engine, shared by the CLI and the server."""
        with errors.during(operation):
            if operation not in OPERATIONS:
                raise errors.UnknownOperation(f"{operation} is not an operation of this engine; it serves: "
                                              + ", ".join(OPERATIONS))
            validate_request(operation, request)  # before the keywords: a member the shape lacks is named
        return getattr(self, OPERATIONS[operation])(**request)

    def can_paginate(self, operation_name: str) -> bool:
        return operation_name in sdk_helpers.pageable(OPERATIONS)

    def get_paginator(self, operation_name: str):
        """botocore's Paginator over this client's List method (`paginate`, PaginationConfig, `build_full_result`,
        `search`): list_auto_ml_jobs, list_candidates_for_auto_ml_job, list_endpoints."""
        return sdk_helpers.paginator(self, OPERATIONS, operation_name)

    @property
    def waiter_names(self) -> list[str]:
        return sdk_helpers.waiter_names(OPERATIONS)

    def get_waiter(self, waiter_name: str):
        """botocore's Waiter of SageMaker's waiters-2 model over this client's Describe (WaiterConfig Delay and
        MaxAttempts; WaiterError on a failure state or when out of attempts): endpoint_in_service,
        endpoint_deleted, transform_job_completed_or_stopped. An AutoML job is waited for with `wait`."""
        return sdk_helpers.waiter(self, OPERATIONS, waiter_name)

    def wait(self, name: str, timeout: float | None = None, poll_s: float = 1.0, on_poll=None,
             progress: bool = False) -> dict:
        """Block until the job reaches Completed, Failed or Stopped; return its final Describe. `progress` draws a
        tqdm bar of the job's runtime budget, its stage and candidates (see automl.progress)."""
        bar = ProgressBar(name) if progress else None
        try:
            return self._wait(name, timeout, poll_s, [h for h in (on_poll, bar) if h is not None])
        finally:
            if bar is not None:
                bar.close()

    def _wait(self, name: str, timeout: float | None, poll_s: float, hooks: list) -> dict:
        deadline = None if timeout is None else time.time() + timeout
        while True:
            answer = self._describe_any(name)
            if hooks:
                records = self.store.candidates(name)
                for hook in hooks:
                    hook(answer, records)
            if answer["AutoMLJobStatus"] in TERMINAL:
                return answer
            if deadline is not None and time.time() >= deadline:
                raise TimeoutError(f"job {name!r} is still {answer['AutoMLJobSecondaryStatus']} after {timeout} s")
            time.sleep(poll_s)

    def _describe_any(self, name: str) -> dict:
        """The Describe of the operation that created the job (V1 or V2)."""
        scheduler.reap(self.store)
        job = self.store.job(name)
        return responses.saved_describe(job, self.store.candidates(name))

    def report(self, name: str, candidate: str | None = None) -> dict:
        """Where a job's reports are (`automl report`); with `candidate`, its insights and explainability are made
        first when it has none."""
        from automl.reports.job_reports import report

        with integrity.keys_of(self.store.root):
            return report(self.store, name, candidate)

    def predict(self, name: str, data, candidate: str | None = None, explain: int = 0) -> pd.DataFrame:
        """Score a DataFrame or a data location with the job's best candidate, or any Completed `candidate` of
        it (Autopilot's inference keys); for a forecasting job, forecast the series in `data`. `explain` > 0 adds
        each row's `explanation`: its that many largest SHAP contributions (`automl.reports.explain`)."""
        if isinstance(explain, bool) or not isinstance(explain, int) or explain < 0:
            raise field_error("explain", "must be a whole number of columns, 0 for none", explain)
        with integrity.keys_of(self.store.root):
            if isinstance(load_plan(self.store.job(name).plan), ForecastPlan):
                if explain:
                    raise field_error("explain", "is not available for forecasting jobs", explain)
                from automl.forecast_model import predict_forecast  # the forecasting model package

                return predict_forecast(self.store, name, data, candidate)
            from automl.estimator import job_model  # scikit-learn's: loaded when a model is, not by every command

            model = job_model(self.store, name, candidate)
            frame = prediction_frame(data, model.model.kinds)
            answer = model.infer(frame)
            if not explain:
                return answer
            from automl.reports.explain import ExplainTimeout, top_contributions  # imports shap only when asked
            from automl.reports.job_reports import background_rows

            deadline = time.time() + PREDICT_EXPLAIN_SECONDS
            background = background_rows(JobOutput(load_plan(self.store.job(name).plan).job_output))
            try:
                explained = top_contributions(model.model, frame, explain, deadline=deadline, background=background)
            except ExplainTimeout as exc:
                raise field_error("explain", f"cannot explain these rows in {PREDICT_EXPLAIN_SECONDS:.0f} s ({exc}); "
                                  "send fewer rows at a time") from None
            return answer.join(explained)


OPERATIONS = {name: xform_name(name) for name in (
    "CreateAutoMLJob", "DescribeAutoMLJob", "ListAutoMLJobs", "ListCandidatesForAutoMLJob", "StopAutoMLJob",
    "CreateAutoMLJobV2", "DescribeAutoMLJobV2", "DescribeEndpoint", "ListEndpoints", "DeleteEndpoint",
    "CreateTransformJob", "DescribeTransformJob")}


def _named(operation: str, method):
    """The client method, its errors carrying the operation's name (botocore's ClientError.operation_name)."""
    @functools.wraps(method)
    def named(self, *args, **kwargs):
        with errors.during(operation):
            return method(self, *args, **kwargs)
    return named


for _operation, _method in OPERATIONS.items():
    setattr(Client, _method, _named(_operation, getattr(Client, _method)))


def _on_cluster(plan):
    """The plan with the Dask scheduler AUTOML_DASK_SCHEDULER names (it must answer), or as it is without one."""
    address = os.environ.get(dask_executor.SETTING, "").strip()
    if not address:
        return plan
    dask_executor.check_scheduler(address)
    return replace(plan, dask_scheduler=address)


def _jsonable(request: dict) -> dict:
    return json.loads(json.dumps(request, default=str))


def _epoch(value, field: str) -> float:
    if isinstance(value, dt.datetime):
        return value.timestamp() if value.tzinfo else value.replace(tzinfo=dt.timezone.utc).timestamp()
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return pd.Timestamp(value).timestamp()
    except ValueError:
        raise field_error(field, "must be a timestamp", value) from None


def _within(created: float, modified: float, request: dict) -> bool:
    """The CreationTime/LastModifiedTime bounds a List request may set (each exclusive)."""
    bounds = {k: _epoch(request[k], k) for k in ("CreationTimeAfter", "CreationTimeBefore",
                                                  "LastModifiedTimeAfter", "LastModifiedTimeBefore") if k in request}
    return (bounds.get("CreationTimeAfter", float("-inf")) < created < bounds.get("CreationTimeBefore", float("inf"))
            and bounds.get("LastModifiedTimeAfter", float("-inf")) < modified
            < bounds.get("LastModifiedTimeBefore", float("inf")))


def _page(items: list, request: dict, default_max: int) -> tuple[list, str | None]:
    """NextToken carries the offset and a fingerprint of the filters, so a token is refused on another query."""
    query = {k: v for k, v in request.items() if k not in ("NextToken", "MaxResults")}
    fingerprint = hashlib.sha256(json.dumps(query, sort_keys=True, default=str).encode()).hexdigest()[:16]
    offset = 0
    if request.get("NextToken"):
        try:
            token = json.loads(base64.urlsafe_b64decode(request["NextToken"].encode()))
            offset, owner = int(token["offset"]), token["query"]
        except (ValueError, KeyError, TypeError):
            raise field_error("NextToken", "is not a token this operation returned") from None
        if owner != fingerprint:
            raise field_error("NextToken", "belongs to a request with other filters or sorting")
    size = request.get("MaxResults", default_max)
    page = items[offset:offset + size]
    more = offset + size < len(items)
    token = base64.urlsafe_b64encode(json.dumps({"offset": offset + size, "query": fingerprint}).encode()).decode()
    return page, token if more else None


_default: Client | None = None


def client(home: str | Path | None = None) -> Client:
    return Client(home)


def _shared() -> Client:
    """The module-level functions' client; rebuilt when AUTOML_HOME changes."""
    global _default
    from automl.store import home
    if _default is None or _default.store.root != home():
        _default = Client()
    return _default


def create_auto_ml_job(**request) -> dict:
    return _shared().create_auto_ml_job(**request)


def describe_auto_ml_job(AutoMLJobName: str) -> dict:
    return _shared().describe_auto_ml_job(AutoMLJobName)


def create_auto_ml_job_v2(**request) -> dict:
    return _shared().create_auto_ml_job_v2(**request)


def describe_auto_ml_job_v2(AutoMLJobName: str) -> dict:
    return _shared().describe_auto_ml_job_v2(AutoMLJobName)


def list_auto_ml_jobs(**request) -> dict:
    return _shared().list_auto_ml_jobs(**request)


def list_candidates_for_auto_ml_job(**request) -> dict:
    return _shared().list_candidates_for_auto_ml_job(**request)


def stop_auto_ml_job(AutoMLJobName: str) -> dict:
    return _shared().stop_auto_ml_job(AutoMLJobName)


def wait(name: str, timeout: float | None = None, progress: bool = False) -> dict:
    return _shared().wait(name, timeout, progress=progress)


def predict(name: str, data, candidate: str | None = None, explain: int = 0) -> pd.DataFrame:
    return _shared().predict(name, data, candidate, explain)
