"""Job and candidate records -> the response shapes of botocore's SageMaker model (Describe, List)."""
from __future__ import annotations

import datetime as dt

from automl.candidate import Candidate, CandidateStatus
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


def candidate(record: Candidate, plan: JobPlan) -> dict:
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
    if record.completed:
        metric = METRICS[plan.objective]
        body["FinalAutoMLJobObjectiveMetric"] = {"Type": metric.objective_type, "MetricName": metric.name,
                                                 "Value": float(record.objective_value),
                                                 "StandardMetricName": metric.name}
        body["InferenceContainers"] = [{
            "Image": f"automl-local/{record.algorithm}", "ModelDataUrl": record.model_uri,
            "Environment": {"SAGEMAKER_INFERENCE_OUTPUT": "predicted_label",
                            "SAGEMAKER_INFERENCE_SUPPORTED": INFERENCE_KEYS[plan.problem_type]}}]
        body["CandidateProperties"] = {"CandidateMetrics": _metric_data(record, plan.problem_type)}
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


def partial_failures(records: list[Candidate]) -> list[dict]:
    failed = [r for r in records if r.status is CandidateStatus.FAILED and r.failure_reason]
    return [{"PartialFailureMessage": r.failure_reason[:1024]} for r in failed[:MAX_PARTIAL_FAILURES]]


def describe(job: JobRow, records: list[Candidate]) -> dict:
    plan = JobPlan.from_json(job.plan)
    request = job.request
    config = dict(request.get("AutoMLJobConfig") or {})
    config["Mode"] = plan.mode.value
    resolved = {"CompletionCriteria": _drop_none({
        "MaxCandidates": plan.max_candidates,
        "MaxRuntimePerTrainingJobInSeconds": plan.max_runtime_per_candidate_s,
        "MaxAutoMLJobRuntimeInSeconds": plan.max_job_runtime_s})}
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
        "CreationTime": timestamp(job.creation_time),
        "EndTime": timestamp(job.end_time),
        "LastModifiedTime": timestamp(job.last_modified_time),
        "FailureReason": job.failure_reason[:1024] if job.failure_reason else None,
        "PartialFailureReasons": partial_failures(records) or None,
        "AutoMLJobStatus": job.status.value,
        "AutoMLJobSecondaryStatus": job.secondary_status,
        "GenerateCandidateDefinitionsOnly": plan.definitions_only,
        "ResolvedAttributes": resolved,
    }
    if job.best_candidate:
        best = next((r for r in records if r.name == job.best_candidate["name"]), None)
        if best is not None:
            body["BestCandidate"] = candidate(best, plan)
    return _drop_none(body)


def summary(job: JobRow, records: list[Candidate]) -> dict:
    return _drop_none({
        "AutoMLJobName": job.name,
        "AutoMLJobArn": JobPlan.from_json(job.plan).arn,
        "AutoMLJobStatus": job.status.value,
        "AutoMLJobSecondaryStatus": job.secondary_status,
        "CreationTime": timestamp(job.creation_time),
        "EndTime": timestamp(job.end_time),
        "LastModifiedTime": timestamp(job.last_modified_time),
        "FailureReason": job.failure_reason[:1024] if job.failure_reason else None,
        "PartialFailureReasons": partial_failures(records) or None,
    })
