"""CreateAutoMLJobV2's rules: one AutoMLProblemTypeConfig member, resolved into the plan its runner reads.

- TabularJobConfig: the V1 request it stands for goes through `automl.spec.resolve` (the same candidates and
  outputs as that CreateAutoMLJob), with every error path renamed to the V2 field it came from.
- TextClassificationJobConfig: a tabular classification job whose one feature is the content column, typed as
  text (the engine's TF-IDF text pipeline), scored by Accuracy, in ENSEMBLING mode.
- TimeSeriesForecastingJobConfig: `automl.forecast_spec.resolve_forecast` -> ForecastPlan.
- ImageClassificationJobConfig, TextGenerationJobConfig: refused; they fine-tune pretrained models whose weights
  cannot be fetched here.
"""
from __future__ import annotations

from dataclasses import replace

from automl import spec
from automl.channels import read_header
from automl.columns import ColumnKind, FeatureSpec
from automl.errors import field_error, rename_path, renamed_fields
from automl.forecast_plan import ForecastPlan
from automl.forecast_spec import resolve_forecast
from automl.problem import Mode, ProblemType

PROBLEM = "AutoMLProblemTypeConfig"
TABULAR = f"{PROBLEM}.TabularJobConfig"
TEXT = f"{PROBLEM}.TextClassificationJobConfig"
# AutoMLProblemTypeConfig member -> AutoMLProblemTypeConfigName (DescribeAutoMLJobV2)
CONFIG_NAMES = {"TabularJobConfig": "Tabular", "TextClassificationJobConfig": "TextClassification",
                "TimeSeriesForecastingJobConfig": "TimeSeriesForecasting",
                "ImageClassificationJobConfig": "ImageClassification", "TextGenerationJobConfig": "TextGeneration"}
UNAVAILABLE = {
    "ImageClassificationJobConfig": "image classification fine-tunes pretrained vision models",
    "TextGenerationJobConfig": "text generation fine-tunes pretrained large language models",
}
# Autopilot's text classification objective is Accuracy, not configurable.
TEXT_OBJECTIVE = "Accuracy"
CHANNEL_MEMBERS = ("ChannelType", "ContentType", "CompressionType", "DataSource")


def _pairs(config: str, target: str) -> list[tuple[str, str]]:
    """V1 field path -> the V2 field it came from; the more specific prefixes first."""
    return [
        ("InputDataConfig[*].TargetAttributeName", f"{config}.{target}"),
        ("InputDataConfig[*].SampleWeightAttributeName", f"{config}.SampleWeightAttributeName"),
        ("InputDataConfig", "AutoMLJobInputDataConfig"),
        ("AutoMLJobConfig.CompletionCriteria", f"{config}.CompletionCriteria"),
        ("AutoMLJobConfig.CandidateGenerationConfig.FeatureSpecificationS3Uri", f"{config}.FeatureSpecificationS3Uri"),
        ("AutoMLJobConfig.CandidateGenerationConfig", f"{config}.CandidateGenerationConfig"),
        ("AutoMLJobConfig.DataSplitConfig", "DataSplitConfig"),
        ("AutoMLJobConfig.SecurityConfig", "SecurityConfig"),
        ("AutoMLJobConfig", config),
        ("ProblemType", f"{config}.ProblemType"),
        ("GenerateCandidateDefinitionsOnly", f"{config}.GenerateCandidateDefinitionsOnly"),
    ]


TABULAR_PATHS = _pairs(TABULAR, "TargetAttributeName")
TEXT_PATHS = _pairs(TEXT, "TargetLabelColumn")


def problem_config(request: dict) -> tuple[str, dict]:
    """(the one AutoMLProblemTypeConfig member set, its config)."""
    configs = {k: v for k, v in (request.get(PROBLEM) or {}).items() if v is not None}
    if len(configs) != 1:
        raise field_error(PROBLEM, "must set exactly one of " + ", ".join(CONFIG_NAMES) + " (a union)",
                          sorted(configs) or None)
    return next(iter(configs.items()))


def config_name(request: dict) -> str:
    """The AutoMLProblemTypeConfigName of a V2 request."""
    return CONFIG_NAMES[problem_config(request)[0]]


def field_paths(request: dict) -> list[tuple[str, str]]:
    """The renaming that turns a V1 error path into the V2 field of this request (none for forecasting)."""
    member = problem_config(request)[0]
    return {"TabularJobConfig": TABULAR_PATHS, "TextClassificationJobConfig": TEXT_PATHS}.get(member, [])


def resolve_v2(request: dict) -> spec.JobPlan | ForecastPlan:
    """Apply Autopilot's rules to a request that already passed the CreateAutoMLJobV2 shape check."""
    member, _ = problem_config(request)
    if member in UNAVAILABLE:
        raise field_error(f"{PROBLEM}.{member}", f"is not available in this engine: {UNAVAILABLE[member]}, and "
                          "those pretrained model weights cannot be fetched here; use TabularJobConfig, "
                          "TextClassificationJobConfig or TimeSeriesForecastingJobConfig")
    if member == "TimeSeriesForecastingJobConfig":
        return resolve_forecast(request)
    spec.check_compute(request.get("AutoMLComputeConfig"))
    if member == "TabularJobConfig":
        return _resolve_v1(tabular_as_v1(request), TABULAR_PATHS)
    return resolve_text(request)


def _channels(request: dict, target: str, weight: str | None = None) -> list[dict]:
    extra = {"TargetAttributeName": target} | ({"SampleWeightAttributeName": weight} if weight else {})
    return [{k: c[k] for k in CHANNEL_MEMBERS if k in c} | extra for c in request["AutoMLJobInputDataConfig"]]


def _drop_empty(value: dict) -> dict:
    return {k: v for k, v in value.items() if v not in (None, {}, [])}


def _v1(request: dict, channels: list[dict], job_config: dict, **members) -> dict:
    job_config = _drop_empty(job_config | {"DataSplitConfig": request.get("DataSplitConfig"),
                                           "SecurityConfig": request.get("SecurityConfig")})
    return _drop_empty({
        "AutoMLJobName": request["AutoMLJobName"], "InputDataConfig": channels,
        "OutputDataConfig": request["OutputDataConfig"], "RoleArn": request["RoleArn"],
        "AutoMLJobObjective": request.get("AutoMLJobObjective"), "AutoMLJobConfig": job_config,
        "Tags": request.get("Tags"), "ModelDeployConfig": request.get("ModelDeployConfig"), **members})


def tabular_as_v1(request: dict) -> dict:
    """The CreateAutoMLJob request a V2 TabularJobConfig request stands for."""
    config = request[PROBLEM]["TabularJobConfig"]
    generation = _drop_empty(dict(config.get("CandidateGenerationConfig") or {})
                             | {"FeatureSpecificationS3Uri": config.get("FeatureSpecificationS3Uri")})
    job_config = {"CompletionCriteria": config.get("CompletionCriteria"), "Mode": config.get("Mode"),
                  "CandidateGenerationConfig": generation}
    channels = _channels(request, config["TargetAttributeName"], config.get("SampleWeightAttributeName"))
    return _v1(request, channels, job_config, ProblemType=config.get("ProblemType"),
               GenerateCandidateDefinitionsOnly=config.get("GenerateCandidateDefinitionsOnly"))


def text_as_v1(request: dict) -> dict:
    """The tabular request a TextClassificationJobConfig runs as (its one feature is set by `resolve_text`)."""
    config = request[PROBLEM]["TextClassificationJobConfig"]
    job_config = {"CompletionCriteria": config.get("CompletionCriteria"), "Mode": Mode.ENSEMBLING.value}
    return _v1(request, _channels(request, config["TargetLabelColumn"]), job_config) | {
        "AutoMLJobObjective": {"MetricName": TEXT_OBJECTIVE}}


def _resolve_v1(v1: dict, paths: list[tuple[str, str]]) -> spec.JobPlan:
    with renamed_fields(paths):
        plan = spec.resolve(v1)
    # The channel sources name their field in the errors the worker raises when it reads them.
    sources = {"training": replace(plan.training, field=rename_path(plan.training.field, paths))}
    if plan.validation is not None:
        sources["validation"] = replace(plan.validation, field=rename_path(plan.validation.field, paths))
    return replace(plan, **sources)


def resolve_text(request: dict) -> spec.JobPlan:
    config = request[PROBLEM]["TextClassificationJobConfig"]
    objective = (request.get("AutoMLJobObjective") or {}).get("MetricName", TEXT_OBJECTIVE)
    if objective != TEXT_OBJECTIVE:
        raise field_error("AutoMLJobObjective.MetricName", f"text classification is scored by {TEXT_OBJECTIVE} "
                          "(Autopilot's objective for TextClassification, not configurable)", objective)
    plan = _resolve_v1(text_as_v1(request), TEXT_PATHS)
    content, target = config["ContentColumn"], config["TargetLabelColumn"]
    header = read_header(plan.training)
    if content not in header:
        raise field_error(f"{TEXT}.ContentColumn", "is not a column of the training data; columns: "
                          + ", ".join(header[:50]), content)
    if content == target:
        raise field_error(f"{TEXT}.ContentColumn", "must differ from TargetLabelColumn", content)
    return replace(plan, feature_spec=FeatureSpec(names=(content,), types={content: ColumnKind.TEXT}))


def check_text_problem(request: dict, problem_type: ProblemType) -> None:
    """A text classification job's labels must be classes: refuse a target the data reads as regression."""
    if problem_config(request)[0] == "TextClassificationJobConfig" and not problem_type.is_classification:
        raise field_error(f"{TEXT}.TargetLabelColumn", "text classification needs class labels; the column reads "
                          "as a continuous number (use TabularJobConfig with ProblemType Regression)",
                          request[PROBLEM]["TextClassificationJobConfig"]["TargetLabelColumn"])


def v1_as_v2(request: dict) -> dict:
    """A CreateAutoMLJob request read in the CreateAutoMLJobV2 shape (TabularJobConfig), for DescribeAutoMLJobV2
    of a V1 job; the inverse of `tabular_as_v1`."""
    channels = request["InputDataConfig"]
    training = next(c for c in channels if c.get("ChannelType", "training") == "training")
    config = request.get("AutoMLJobConfig") or {}
    generation = dict(config.get("CandidateGenerationConfig") or {})
    spec_uri = generation.pop("FeatureSpecificationS3Uri", None)
    tabular = _drop_empty({
        "TargetAttributeName": training["TargetAttributeName"],
        "SampleWeightAttributeName": training.get("SampleWeightAttributeName"),
        "ProblemType": request.get("ProblemType"), "Mode": config.get("Mode"),
        "CompletionCriteria": config.get("CompletionCriteria"), "FeatureSpecificationS3Uri": spec_uri,
        "CandidateGenerationConfig": generation,
        "GenerateCandidateDefinitionsOnly": request.get("GenerateCandidateDefinitionsOnly")})
    return _drop_empty({
        "AutoMLJobName": request["AutoMLJobName"],
        "AutoMLJobInputDataConfig": [{k: c[k] for k in CHANNEL_MEMBERS if k in c} for c in channels],
        "OutputDataConfig": request["OutputDataConfig"], "RoleArn": request["RoleArn"],
        PROBLEM: {"TabularJobConfig": tabular}, "AutoMLJobObjective": request.get("AutoMLJobObjective"),
        "DataSplitConfig": config.get("DataSplitConfig"), "SecurityConfig": config.get("SecurityConfig"),
        "Tags": request.get("Tags"), "ModelDeployConfig": request.get("ModelDeployConfig")})
