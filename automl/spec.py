"""Autopilot's own rules on a shape-valid CreateAutoMLJob request, resolved into a frozen `JobPlan`.

Nothing downstream reads the raw request: the worker, runners and Describe read the plan.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, replace

import algorithms
from automl import budget as budget_defaults
from automl import settings
from automl.channels import CONTENT_TYPES, CSV, ChannelSource, filesystem, list_objects, read_header
from automl.columns import SPEC_PATH, FeatureSpec, check_spec_against_header, parse_feature_spec
from automl.errors import field_error, renamed_fields
from automl.metrics import METRICS, TIME_SERIES_METRICS, objective_metric
from automl.problem import DEFAULT_OBJECTIVE, Mode, ProblemType

REGION = "local"
ACCOUNT = "000000000000"
MAX_TRAINING_BYTES = 100 * 1024 ** 3
MAX_VALIDATION_BYTES = 2 * 1024 ** 3
DEFAULT_VALIDATION_FRACTION = 0.2
ALGORITHMS_PATH = "AutoMLJobConfig.CandidateGenerationConfig.AlgorithmsConfig"
CRITERIA_PATH = "AutoMLJobConfig.CompletionCriteria"


def auto_mode_threshold_bytes() -> int:
    """AUTO picks ENSEMBLING below this much training data and HYPERPARAMETER_TUNING at or above it."""
    return settings.value("AUTOML_AUTO_MODE_THRESHOLD_BYTES")


def job_arn(name: str) -> str:
    return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:automl-job/{name.lower()}"


class JobLocation:
    """What every plan (tabular or forecasting) derives from its name and output path."""

    name: str
    output_path: str

    @property
    def arn(self) -> str:
        return job_arn(self.name)

    @property
    def job_output(self) -> str:
        return self.output_path.rstrip("/") + "/" + self.name


@dataclass(frozen=True)
class JobPlan(JobLocation):
    name: str
    training: ChannelSource
    validation: ChannelSource | None
    target: str
    weight: str | None
    problem_type: ProblemType | None  # None until the data has been analysed
    objective: str | None
    requested_mode: Mode
    mode: Mode
    algorithms: tuple[str, ...]
    max_candidates: int | None
    max_runtime_per_candidate_s: int
    max_job_runtime_s: int
    validation_fraction: float
    feature_spec: FeatureSpec | None
    output_path: str
    definitions_only: bool
    training_bytes: int
    validation_bytes: int = 0
    tags: tuple = field(default_factory=tuple)
    study_storage: str = ""  # the tuning mode's optuna storage URL, fixed when the job is created
    dask_scheduler: str = ""  # the Dask cluster its tasks run on (AUTOML_DASK_SCHEDULER at create), or this machine

    def with_problem(self, problem_type: ProblemType) -> JobPlan:
        """Fill the inferred problem type and default objective; check a given objective against it."""
        objective = self.objective or DEFAULT_OBJECTIVE[problem_type]
        objective_metric(objective, problem_type)
        return replace(self, problem_type=problem_type, objective=objective)

    def to_json(self) -> str:
        data = asdict(self)
        data["feature_spec"] = self.feature_spec.to_json() if self.feature_spec else None
        return json.dumps(data, default=lambda v: v.value)

    @classmethod
    def from_json(cls, text: str) -> JobPlan:
        data = json.loads(text)
        data["training"] = ChannelSource(**data["training"])
        data["validation"] = ChannelSource(**data["validation"]) if data["validation"] else None
        data["problem_type"] = ProblemType(data["problem_type"]) if data["problem_type"] else None
        data["requested_mode"], data["mode"] = Mode(data["requested_mode"]), Mode(data["mode"])
        data["algorithms"] = tuple(data["algorithms"])
        data["tags"] = tuple(tuple(t) for t in data["tags"])
        data["feature_spec"] = FeatureSpec.from_json(data["feature_spec"]) if data["feature_spec"] else None
        return cls(**data)


def resolve(request: dict) -> JobPlan:
    """Apply Autopilot's rules to a request that already passed the shape check."""
    channels = request["InputDataConfig"]
    training_i, validation_i = _channel_roles(channels)
    train_ch = channels[training_i]
    valid_ch = channels[validation_i] if validation_i is not None else None
    training = channel_source(train_ch, f"InputDataConfig[{training_i}]")
    validation = channel_source(valid_ch, f"InputDataConfig[{validation_i}]") if valid_ch is not None else None
    if valid_ch is not None:
        _check_pair(train_ch, valid_ch, validation_i)

    config = request.get("AutoMLJobConfig") or {}
    fraction = _validation_fraction(config, validation is not None)
    problem_type = ProblemType(request["ProblemType"]) if request.get("ProblemType") else None
    objective = (request.get("AutoMLJobObjective") or {}).get("MetricName")
    if objective in TIME_SERIES_METRICS:
        raise field_error("AutoMLJobObjective.MetricName", "is a time-series metric; CreateAutoMLJob trains tabular "
                          "models, whose metrics are " + ", ".join(METRICS), objective)
    if problem_type is not None:
        objective = objective or DEFAULT_OBJECTIVE[problem_type]
        objective_metric(objective, problem_type)
    criteria = completion_criteria(config.get("CompletionCriteria") or {})
    check_model_deploy(request.get("ModelDeployConfig"))
    tags = parse_tags(request.get("Tags") or [])

    training_bytes = training_size(training)
    validation_bytes = sum(o.size for o in list_objects(validation)) if validation else 0
    if validation_bytes >= MAX_VALIDATION_BYTES:
        raise field_error(validation.uri_field, "validation data must be under 2 GB", f"{validation_bytes} bytes")

    requested_mode = Mode(config.get("Mode", "AUTO"))
    mode = requested_mode
    if mode is Mode.AUTO:
        mode = Mode.ENSEMBLING if training_bytes < auto_mode_threshold_bytes() else Mode.HYPERPARAMETER_TUNING
    chosen = _algorithms(config.get("CandidateGenerationConfig") or {}, requested_mode, mode)
    weight = train_ch.get("SampleWeightAttributeName")
    if weight is not None and mode is not Mode.ENSEMBLING:
        raise field_error(f"InputDataConfig[{training_i}].SampleWeightAttributeName",
                          f"is supported only in ENSEMBLING mode; the job runs in {mode.value} mode")
    max_candidates = criteria.get("MaxCandidates")
    if max_candidates is None and mode is Mode.HYPERPARAMETER_TUNING:
        max_candidates = budget_defaults.DEFAULT_HPO_MAX_CANDIDATES

    spec_uri = (config.get("CandidateGenerationConfig") or {}).get("FeatureSpecificationS3Uri")
    feature_spec = read_feature_spec(spec_uri) if spec_uri else None
    target = train_ch["TargetAttributeName"]
    _check_header(training, validation, train_ch, training_i, feature_spec)

    output_path = request["OutputDataConfig"]["S3OutputPath"]
    check_output(output_path)
    return JobPlan(
        name=request["AutoMLJobName"], training=training, validation=validation, target=target, weight=weight,
        problem_type=problem_type, objective=objective, requested_mode=requested_mode, mode=mode,
        algorithms=chosen, max_candidates=max_candidates,
        max_runtime_per_candidate_s=criteria["MaxRuntimePerTrainingJobInSeconds"],
        max_job_runtime_s=criteria["MaxAutoMLJobRuntimeInSeconds"], validation_fraction=fraction,
        feature_spec=feature_spec, output_path=output_path,
        definitions_only=bool(request.get("GenerateCandidateDefinitionsOnly", False)),
        training_bytes=training_bytes, validation_bytes=validation_bytes, tags=tags)


def _channel_roles(channels: list[dict]) -> tuple[int, int | None]:
    training = [i for i, c in enumerate(channels) if c.get("ChannelType", "training") == "training"]
    validation = [i for i, c in enumerate(channels) if c.get("ChannelType") == "validation"]
    if len(training) > 1:
        raise field_error(f"InputDataConfig[{training[1]}].ChannelType", "only one 'training' channel is allowed",
                          len(training))
    if len(validation) > 1:
        raise field_error(f"InputDataConfig[{validation[1]}].ChannelType",
                          "only one 'validation' channel is allowed", len(validation))
    if not training:
        raise field_error("InputDataConfig", "needs one channel with ChannelType 'training'")
    return training[0], (validation[0] if validation else None)


# The helpers below are shared by CreateAutoMLJob (here) and CreateAutoMLJobV2 (automl.spec_v2,
# automl.forecast_spec): each takes the field path its errors name.

def channel_source(channel: dict, path: str) -> ChannelSource:
    """One input channel (`path` names it: `InputDataConfig[0]`, `AutoMLJobInputDataConfig[0]`) -> its source;
    CSV with a header or Parquet, as Autopilot reads them."""
    s3 = channel["DataSource"]["S3DataSource"]
    if s3["S3DataType"] == "AugmentedManifestFile":
        raise field_error(f"{path}.DataSource.S3DataSource.S3DataType", "AugmentedManifestFile is not supported by "
                          "Autopilot's tabular and time-series jobs; use S3Prefix or ManifestFile", s3["S3DataType"])
    content_type = channel.get("ContentType", CSV)
    if content_type not in CONTENT_TYPES:
        raise field_error(f"{path}.ContentType", "must be one of " + ", ".join(CONTENT_TYPES), content_type)
    return ChannelSource(uri=s3["S3Uri"], data_type=s3["S3DataType"],
                         compression=channel.get("CompressionType", "None"), content_type=content_type, field=path)


def _check_pair(train: dict, valid: dict, i: int) -> None:
    for member, default in (("ContentType", CSV), ("TargetAttributeName", None), ("SampleWeightAttributeName", None)):
        if valid.get(member, default) != train.get(member, default):
            raise field_error(f"InputDataConfig[{i}].{member}", "must equal the training channel's "
                              f"{member} ({train.get(member, default)!r})", valid.get(member, default))


def _validation_fraction(config: dict, has_validation_channel: bool) -> float:
    fraction = (config.get("DataSplitConfig") or {}).get("ValidationFraction")
    if fraction is None:
        return 0.0 if has_validation_channel else DEFAULT_VALIDATION_FRACTION
    path = "AutoMLJobConfig.DataSplitConfig.ValidationFraction"
    if has_validation_channel:
        raise field_error(path, "must not be set when a 'validation' channel is given", fraction)
    if not 0 < fraction < 1:
        raise field_error(path, "must be greater than 0 and less than 1", fraction)
    return float(fraction)


def training_size(training: ChannelSource) -> int:
    """The training channel's bytes, under Autopilot's 100 GB limit."""
    training_bytes = sum(o.size for o in list_objects(training))
    if training_bytes >= MAX_TRAINING_BYTES:
        raise field_error(training.uri_field, "training data must be under 100 GB", f"{training_bytes} bytes")
    return training_bytes


def completion_criteria(criteria: dict, path: str = CRITERIA_PATH) -> dict:
    """SageMaker's defaults; a default per-candidate limit never exceeds the job's own limit."""
    total = criteria.get("MaxAutoMLJobRuntimeInSeconds", budget_defaults.DEFAULT_MAX_JOB_RUNTIME_S)
    per_candidate = criteria.get("MaxRuntimePerTrainingJobInSeconds")
    if per_candidate is not None and per_candidate > total:
        raise field_error(f"{path}.MaxRuntimePerTrainingJobInSeconds", "must not exceed "
                          f"MaxAutoMLJobRuntimeInSeconds ({total})", per_candidate)
    if per_candidate is None:
        per_candidate = min(budget_defaults.DEFAULT_MAX_RUNTIME_PER_TRAINING_JOB_S, total)
    return {"MaxCandidates": criteria.get("MaxCandidates"), "MaxRuntimePerTrainingJobInSeconds": per_candidate,
            "MaxAutoMLJobRuntimeInSeconds": total}


def _algorithms(generation: dict, requested: Mode, mode: Mode) -> tuple[str, ...]:
    configs = generation.get("AlgorithmsConfig")
    if configs is None:
        return algorithms.available(mode.value)
    if requested is Mode.AUTO:
        raise field_error(ALGORITHMS_PATH, "is not allowed when Mode is AUTO; set Mode to ENSEMBLING or "
                          "HYPERPARAMETER_TUNING")
    if len(configs) != 1:
        raise field_error(ALGORITHMS_PATH, "must hold exactly one entry", len(configs))
    names = configs[0].get("AutoMLAlgorithms") or []
    if not names:
        return algorithms.available(mode.value)
    documented = algorithms.MODE_ALGORITHMS[mode.value]
    for i, name in enumerate(names):
        path = f"{ALGORITHMS_PATH}[0].AutoMLAlgorithms[{i}]"
        if name not in documented:
            raise field_error(path, f"is not an algorithm of {mode.value} mode; valid: " + ", ".join(documented), name)
        if name in names[:i]:
            raise field_error(path, "repeats an algorithm already listed", name)
        if name not in algorithms.REGISTRY:
            raise field_error(path, "is not implemented by this engine yet; implemented for "
                              f"{mode.value}: " + ", ".join(algorithms.available(mode.value)), name)
    return tuple(names)


def check_model_deploy(config: dict | None) -> None:
    """SageMaker's rule: exactly one of AutoGenerateEndpointName (true) and EndpointName names the endpoint; the
    endpoint itself is made when the job completes (automl.endpoints)."""
    if not config:
        return
    auto, name = config.get("AutoGenerateEndpointName"), config.get("EndpointName")
    if auto and name:
        raise field_error("ModelDeployConfig.EndpointName", "must not be set when AutoGenerateEndpointName is true",
                          name)
    if auto is False and not name:
        raise field_error("ModelDeployConfig.EndpointName", "is required when AutoGenerateEndpointName is false")


def check_compute(config: dict | None) -> None:
    """CreateAutoMLJobV2's AutoMLComputeConfig: Autopilot can hand large data to EMR Serverless; this engine always
    runs on this machine, so asking for it is refused rather than silently ignored."""
    if config:
        raise field_error("AutoMLComputeConfig", "EMR Serverless compute is not available in this engine; omit "
                          "AutoMLComputeConfig (jobs run on this machine)")


def parse_tags(tags: list[dict]) -> tuple:
    seen: dict[str, int] = {}
    for i, tag in enumerate(tags):
        if tag["Key"] in seen:
            raise field_error(f"Tags[{i}].Key", f"duplicates the key of Tags[{seen[tag['Key']]}]", tag["Key"])
        seen[tag["Key"]] = i
    return tuple((t["Key"], t.get("Value", "")) for t in tags)


def read_feature_spec(uri: str, path: str = SPEC_PATH) -> FeatureSpec:
    """The FeatureSpecification file at `uri`; its errors name `path` (the request's FeatureSpecificationS3Uri)."""
    fs, where = filesystem(uri)
    try:
        with fs.open(where, "rb") as handle:
            raw = handle.read()
    except (FileNotFoundError, OSError) as exc:
        raise field_error(path, f"could not be read: {exc}", uri) from None
    with renamed_fields([(SPEC_PATH, path)]):
        return parse_feature_spec(raw)


def _check_header(training: ChannelSource, validation: ChannelSource | None, train_ch: dict, i: int,
                  spec: FeatureSpec | None) -> None:
    header = read_header(training)
    if len(set(header)) != len(header):
        dup = next(h for h in header if header.count(h) > 1)
        raise field_error(training.uri_field, "the header repeats a column name", dup)
    target = train_ch["TargetAttributeName"]
    if target not in header:
        raise field_error(f"InputDataConfig[{i}].TargetAttributeName", "is not a column of the training data; "
                          "columns: " + ", ".join(header[:50]), target)
    weight = train_ch.get("SampleWeightAttributeName")
    if weight is not None and weight not in header:
        raise field_error(f"InputDataConfig[{i}].SampleWeightAttributeName", "is not a column of the training data",
                          weight)
    if weight == target:
        raise field_error(f"InputDataConfig[{i}].SampleWeightAttributeName", "must differ from TargetAttributeName",
                          weight)
    if validation is not None:
        other = read_header(validation)
        if other != header:
            raise field_error(validation.uri_field, f"the validation header must equal the training header {header}",
                              other)
    if spec is not None:
        reserved = {target: "target"} | ({weight: "sample weight"} if weight else {})
        check_spec_against_header(spec, header, reserved)


def check_output(uri: str) -> None:
    fs, path = filesystem(uri)
    if fs.protocol in ("file", "local") or "file" in fs.protocol:
        try:
            os.makedirs(path, exist_ok=True)
        except OSError as exc:
            raise field_error("OutputDataConfig.S3OutputPath", f"cannot be created: {exc}", uri) from None
        if not os.access(path, os.W_OK):
            raise field_error("OutputDataConfig.S3OutputPath", "is not writable", uri)
