"""Job and candidate records -> the response shapes of botocore's SageMaker model (Describe, List)."""
from __future__ import annotations

import datetime as dt

from automl import spec_v2
from automl.artifacts import JobOutput
from automl.candidate import Candidate, CandidateStatus
from automl.endpoints import VARIANT, Endpoint
from automl.forecast_plan import ForecastPlan, load_plan
from automl.forecast_spec import OBJECTIVES as FORECAST_METRICS
from automl.metrics import METRICS, candidate_metrics
from automl.problem import ProblemType
from automl.spec import ACCOUNT, REGION, JobPlan
from automl.store import JobRow

MAX_PARTIAL_FAILURES = 5  # the shape's limit; the leaderboard keeps every reason
INFERENCE_KEYS = {
    ProblemType.BINARY: "predicted_label,probability,probabilities,labels",
    ProblemType.MULTICLASS: "predicted_label,probability,probabilities,labels",
    ProblemType.REGRESSION: "predicted_label",
}


def timestamp(epoch: float | None) -> dt.datetime | None:
    return None if epoch is None else dt.datetime.fromtimestamp(epoch, tz=dt.timezone.utc)


def _drop_none(value: dict) -> dict:
    return {k: v for k, v in value.items() if v is not None}


def _arn(kind: str, name: str) -> str:
    return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:{kind}/{name.lower()}"


OBJECTIVE_STATUS = {CandidateStatus.COMPLETED: "Succeeded", CandidateStatus.IN_PROGRESS: "Pending"}


def candidate(record: Candidate, plan: JobPlan | ForecastPlan) -> dict:
    name = record.name
    body = {
        "CandidateName": name,
        "ObjectiveStatus": OBJECTIVE_STATUS.get(record.status, "Failed"),
        "CandidateSteps": [
            {"CandidateStepType": "AWS::SageMaker::ProcessingJob",
             "CandidateStepArn": _arn("processing-job", name[:58] + "-fe"), "CandidateStepName": f"{name}-fe"[:64]},
            {"CandidateStepType": "AWS::SageMaker::TrainingJob", "CandidateStepArn": _arn("training-job", name),
             "CandidateStepName": name},
        ],
        "CandidateStatus": record.status.value,
        "CreationTime": timestamp(record.creation_time),
        "EndTime": timestamp(record.end_time),
        "LastModifiedTime": timestamp(record.end_time or record.creation_time),
        "FailureReason": record.failure_reason,
    }
    if record.completed and isinstance(plan, ForecastPlan):
        body |= _forecast_candidate(record, plan)
    elif record.completed:
        metric = METRICS[plan.objective]
        body["FinalAutoMLJobObjectiveMetric"] = {"Type": metric.objective_type, "MetricName": metric.name,
                                                 "Value": float(record.objective_value),
                                                 "StandardMetricName": metric.name}
        body["InferenceContainers"] = [{
            "Image": f"automl-local/{record.algorithm}", "ModelDataUrl": record.model_uri,
            "Environment": {"SAGEMAKER_INFERENCE_OUTPUT": "predicted_label",
                            "SAGEMAKER_INFERENCE_SUPPORTED": INFERENCE_KEYS[plan.problem_type]}}]
        body["CandidateProperties"] = {"CandidateMetrics": _metric_data(record, plan.problem_type)}
        if record.artifacts:
            body["CandidateProperties"]["CandidateArtifactLocations"] = dict(record.artifacts)
    return _drop_none(body)


def _metric_data(record: Candidate, problem_type: ProblemType) -> list[dict]:
    data = []
    for metric in candidate_metrics(problem_type):
        value = record.metrics.get(metric.name)
        datum = {"StandardMetricName": metric.name, "Value": float(value), "Set": "Validation"}
        if metric.name in METRICS:
            datum["MetricName"] = metric.name
        data.append(datum)
    data.append({"StandardMetricName": "InferenceLatency", "Value": float(record.inference_latency_s),
                 "Set": "Validation"})
    return data


def _forecast_candidate(record: Candidate, plan: ForecastPlan) -> dict:
    """A finished forecasting candidate: every forecasting metric is minimized and is both a MetricName and a
    StandardMetricName of the model; it is scored on its backtest windows (Set "Validation")."""
    metrics = record.metrics or {}
    body = {
        "FinalAutoMLJobObjectiveMetric": {"Type": "Minimize", "MetricName": plan.objective,
                                          "Value": float(record.objective_value), "StandardMetricName": plan.objective},
        # Autopilot's forecasting containers do not document their environment; these are this engine's, for a
        # forecast request: horizon, quantiles and frequency the model was trained for.
        "InferenceContainers": [{
            "Image": f"automl-local/{record.algorithm}", "ModelDataUrl": record.model_uri,
            "Environment": {"FORECAST_HORIZON": str(plan.horizon), "FORECAST_QUANTILES": ",".join(plan.quantiles),
                            "FORECAST_FREQUENCY": plan.frequency}}],
        "CandidateProperties": {"CandidateMetrics": [
            {"MetricName": name, "StandardMetricName": name, "Value": float(metrics[name]), "Set": "Validation"}
            for name in FORECAST_METRICS if metrics.get(name) is not None]},
    }
    if record.backtest_uri:
        # The shape requires Explainability beside BacktestResults: a candidate without reports names the folder
        # its explainability report belongs in (what `automl report` would write).
        body["CandidateProperties"]["CandidateArtifactLocations"] = {
            "Explainability": JobOutput(plan.job_output).explainability(record.name),
            "BacktestResults": record.backtest_uri} | (record.artifacts or {})
    return body


def partial_failures(job: JobRow, records: list[Candidate]) -> list[dict]:
    """Reports that were skipped, then the candidates whose model the job lost (Failed, or Stopped by a time
    limit; not a pruned trial, nor a candidate StopAutoMLJob ended): what went wrong in a job that still ended."""
    reasons = list((job.reports or {}).get("skipped", []))
    reasons += [r.failure_reason for r in records if r.lost and r.failure_reason]
    return [{"PartialFailureMessage": reason[:1024]} for reason in reasons[:MAX_PARTIAL_FAILURES]]


def is_v2(job: JobRow) -> bool:
    """A job created by CreateAutoMLJobV2 (its stored request has AutoMLProblemTypeConfig)."""
    return "AutoMLProblemTypeConfig" in job.request


def saved_describe(job: JobRow, records: list[Candidate]) -> dict:
    """describe.json in the output: the Describe of the operation that created the job."""
    return describe_v2(job, records) if is_v2(job) else describe(job, records)


def _criteria(plan: JobPlan | ForecastPlan) -> dict:
    return _drop_none({"MaxCandidates": plan.max_candidates,
                       "MaxRuntimePerTrainingJobInSeconds": plan.max_runtime_per_candidate_s,
                       "MaxAutoMLJobRuntimeInSeconds": plan.max_job_runtime_s})


def _progress(job: JobRow, plan: JobPlan | ForecastPlan, records: list[Candidate]) -> dict:
    """What V1 and V2 Describe share: times, status, failures and the best candidate."""
    body = {
        "CreationTime": timestamp(job.creation_time),
        "EndTime": timestamp(job.end_time),
        "LastModifiedTime": timestamp(job.last_modified_time),
        "FailureReason": job.failure_reason[:1024] if job.failure_reason else None,
        "PartialFailureReasons": partial_failures(job, records) or None,
        "AutoMLJobStatus": job.status.value,
        "AutoMLJobSecondaryStatus": job.secondary_status,
        "ModelDeployConfig": job.request.get("ModelDeployConfig"),
        "ModelDeployResult": job.deploy_result,
        "AutoMLJobArtifacts": {k: v for k, v in (job.reports or {}).items() if k.endswith("NotebookLocation")} or None,
    }
    if job.best_candidate:
        best = next((r for r in records if r.name == job.best_candidate["name"]), None)
        if best is not None:
            body["BestCandidate"] = candidate(best, plan)
    return body


def describe(job: JobRow, records: list[Candidate]) -> dict:
    plan = JobPlan.from_json(job.plan)
    request = job.request
    config = dict(request.get("AutoMLJobConfig") or {})
    config["Mode"] = plan.mode.value
    resolved = {"CompletionCriteria": _criteria(plan)}
    if plan.problem_type is not None:
        resolved |= {"ProblemType": plan.problem_type.value, "AutoMLJobObjective": {"MetricName": plan.objective}}
    body = {
        "AutoMLJobName": job.name,
        "AutoMLJobArn": plan.arn,
        "InputDataConfig": request["InputDataConfig"],
        "OutputDataConfig": request["OutputDataConfig"],
        "RoleArn": request["RoleArn"],
        "AutoMLJobObjective": request.get("AutoMLJobObjective"),
        "ProblemType": request.get("ProblemType"),
        "AutoMLJobConfig": config,
        "GenerateCandidateDefinitionsOnly": plan.definitions_only,
        "ResolvedAttributes": resolved,
    } | _progress(job, plan, records)
    return _drop_none(body)


def describe_v2(job: JobRow, records: list[Candidate]) -> dict:
    """DescribeAutoMLJobV2, for a V2 job or a V1 one (its request read in the V2 shape, as Tabular)."""
    plan = load_plan(job.plan)
    request = job.request if is_v2(job) else spec_v2.v1_as_v2(job.request)
    member, config = spec_v2.problem_config(request)
    config = dict(config) | {"CompletionCriteria": _criteria(plan)}  # SageMaker echoes the resolved criteria
    if member == "TabularJobConfig":
        config["Mode"] = plan.mode.value
    resolved = {"CompletionCriteria": _criteria(plan)}
    if plan.objective:
        resolved["AutoMLJobObjective"] = {"MetricName": plan.objective}
    if plan.problem_type is not None:
        resolved["AutoMLProblemTypeResolvedAttributes"] = {
            "TabularResolvedAttributes": {"ProblemType": plan.problem_type.value}}
    split = None
    if isinstance(plan, JobPlan) and plan.validation is None:
        split = {"ValidationFraction": plan.validation_fraction}
    body = {
        "AutoMLJobName": job.name,
        "AutoMLJobArn": plan.arn,
        "AutoMLJobInputDataConfig": request["AutoMLJobInputDataConfig"],
        "OutputDataConfig": request["OutputDataConfig"],
        "RoleArn": request["RoleArn"],
        "AutoMLJobObjective": {"MetricName": plan.objective} if plan.objective else request.get("AutoMLJobObjective"),
        "AutoMLProblemTypeConfig": {member: config},
        "AutoMLProblemTypeConfigName": spec_v2.CONFIG_NAMES[member],
        "ResolvedAttributes": resolved,
        "DataSplitConfig": split,
        "SecurityConfig": request.get("SecurityConfig"),
    } | _progress(job, plan, records)
    return _drop_none(body)


def describe_endpoint(endpoint: Endpoint) -> dict:
    return _drop_none({
        "EndpointName": endpoint.name, "EndpointArn": endpoint.arn, "EndpointConfigName": endpoint.name,
        "ProductionVariants": [{"VariantName": VARIANT, "CurrentWeight": 1.0, "DesiredWeight": 1.0,
                                "CurrentInstanceCount": 1, "DesiredInstanceCount": 1,
                                "DeployedImages": [{"SpecifiedImage": f"automl-local/{endpoint.candidate}"}]}],
        "EndpointStatus": endpoint.status, "FailureReason": endpoint.failure_reason,
        "CreationTime": timestamp(endpoint.creation_time), "LastModifiedTime": timestamp(endpoint.last_modified_time),
    })


def endpoint_summary(endpoint: Endpoint) -> dict:
    return {"EndpointName": endpoint.name, "EndpointArn": endpoint.arn,
            "CreationTime": timestamp(endpoint.creation_time),
            "LastModifiedTime": timestamp(endpoint.last_modified_time), "EndpointStatus": endpoint.status}


def summary(job: JobRow, records: list[Candidate]) -> dict:
    return _drop_none({
        "AutoMLJobName": job.name,
        "AutoMLJobArn": load_plan(job.plan).arn,
        "AutoMLJobStatus": job.status.value,
        "AutoMLJobSecondaryStatus": job.secondary_status,
        "CreationTime": timestamp(job.creation_time),
        "EndTime": timestamp(job.end_time),
        "LastModifiedTime": timestamp(job.last_modified_time),
        "FailureReason": job.failure_reason[:1024] if job.failure_reason else None,
        "PartialFailureReasons": partial_failures(job, records) or None,
    })
