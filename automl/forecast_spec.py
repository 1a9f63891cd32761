"""Autopilot's rules for a shape-valid CreateAutoMLJobV2 request whose AutoMLProblemTypeConfig is
TimeSeriesForecastingJobConfig, resolved into a frozen `ForecastPlan` (automl.forecast_plan).

Each refusal is a ValidationException naming the full field path. The rules that need the data itself (a
forecast horizon of at most a quarter of the series length, enough history per item) are the worker's: here
only the header of the training data is read.
"""
from __future__ import annotations

from algorithms.forecasters import AUTOPILOT, FORECASTERS
from automl import spec
from automl.channels import read_header
from automl.columns import SPEC_PATH, check_spec_against_header
from automl.errors import field_error, renamed_fields
from automl.forecast_metrics import FORECAST_METRIC_NAMES
from automl.forecast_plan import DEFAULT_OBJECTIVE, DEFAULT_QUANTILES, MAX_HORIZON, ForecastPlan
from automl.frequency import parse_frequency

CONFIG = "AutoMLProblemTypeConfig.TimeSeriesForecastingJobConfig"
SERIES = f"{CONFIG}.TimeSeriesConfig"
FILLING = f"{CONFIG}.Transformations.Filling"
AGGREGATION = f"{CONFIG}.Transformations.Aggregation"
INPUT = "AutoMLJobInputDataConfig"
# Autopilot: "the maximum forecast horizon is the lesser of 500 time steps or 1/4 of the time steps in the
# dataset"; the quarter needs the data and is checked by the worker.
MAX_QUANTILES = 5
OBJECTIVES = FORECAST_METRIC_NAMES  # AutoMLJobObjective for TimeSeriesForecasting; all are minimized
FILL_TYPES = ("frontfill", "middlefill", "backfill", "futurefill")
FILL_METHODS = ("none", "value", "zero", "mean", "median", "min", "max")
AGGREGATIONS = ("sum", "avg", "first", "min", "max")


def resolve_forecast(request: dict) -> ForecastPlan:
    """Apply Autopilot's time-series rules to a request that already passed the CreateAutoMLJobV2 shape check."""
    config = request["AutoMLProblemTypeConfig"]["TimeSeriesForecastingJobConfig"]
    training = _training_channel(request["AutoMLJobInputDataConfig"])
    if request.get("DataSplitConfig"):
        # Autopilot backtests forecasting candidates on the last windows of each series: no random split.
        raise field_error("DataSplitConfig", "is not supported for time-series forecasting; candidates are scored "
                          "by backtesting on the end of each series")
    frequency = config["ForecastFrequency"]
    parse_frequency(frequency, f"{CONFIG}.ForecastFrequency")
    horizon = config["ForecastHorizon"]
    if not 1 <= horizon <= MAX_HORIZON:
        raise field_error(f"{CONFIG}.ForecastHorizon", f"must be from 1 to {MAX_HORIZON} time steps (and at most a "
                          "quarter of the series length, checked on the data)", horizon)
    quantiles = _quantiles(config.get("ForecastQuantiles"))
    objective = _objective(request.get("AutoMLJobObjective"))
    criteria = spec.completion_criteria(config.get("CompletionCriteria") or {}, f"{CONFIG}.CompletionCriteria")
    spec.check_model_deploy(request.get("ModelDeployConfig"))
    spec.check_compute(request.get("AutoMLComputeConfig"))
    tags = spec.parse_tags(request.get("Tags") or [])
    chosen, restricted = _algorithms(config.get("CandidateGenerationConfig") or {})
    training_bytes = spec.training_size(training)

    header = read_header(training)
    series = config["TimeSeriesConfig"]
    roles = _series_columns(series, header, training.uri_field)
    target = series["TargetAttributeName"]
    filling = _filling((config.get("Transformations") or {}).get("Filling") or {}, header, roles, target)
    aggregation = _aggregation((config.get("Transformations") or {}).get("Aggregation") or {}, target)
    holiday = _holiday(config.get("HolidayConfig") or [])
    spec_uri = config.get("FeatureSpecificationS3Uri")
    feature_spec = None
    if spec_uri:
        path = f"{CONFIG}.FeatureSpecificationS3Uri"
        feature_spec = spec.read_feature_spec(spec_uri, path)
        with renamed_fields([(SPEC_PATH, path)]):
            check_spec_against_header(feature_spec, header, roles)

    output_path = request["OutputDataConfig"]["S3OutputPath"]
    spec.check_output(output_path)
    return ForecastPlan(
        name=request["AutoMLJobName"], training=training, target=target,
        timestamp=series["TimestampAttributeName"], item_id=series["ItemIdentifierAttributeName"],
        grouping=tuple(series.get("GroupingAttributeNames") or ()), frequency=frequency, horizon=horizon,
        quantiles=quantiles, filling=filling, aggregation=aggregation, holiday_country=holiday,
        algorithms=chosen, restricted=restricted, objective=objective,
        max_candidates=criteria["MaxCandidates"],
        max_runtime_per_candidate_s=criteria["MaxRuntimePerTrainingJobInSeconds"],
        max_job_runtime_s=criteria["MaxAutoMLJobRuntimeInSeconds"], output_path=output_path,
        training_bytes=training_bytes, feature_spec=feature_spec, tags=tags)


def _training_channel(channels: list[dict]):
    """Autopilot's time-series jobs take one training channel: candidates are backtested on its series' ends."""
    for i, channel in enumerate(channels):
        if channel.get("ChannelType", "training") != "training":
            raise field_error(f"{INPUT}[{i}].ChannelType", "a time-series forecasting job takes no 'validation' "
                              "channel; it backtests on the end of each series", channel["ChannelType"])
    if len(channels) != 1:
        raise field_error(f"{INPUT}[1]", "a time-series forecasting job takes exactly one 'training' channel",
                          len(channels))
    return spec.channel_source(channels[0], f"{INPUT}[0]")


def _quantiles(given: list[str] | None) -> tuple[str, ...]:
    """`p1`..`p99`, at most five, each once; kept sorted by level (p9 before p10)."""
    if given is None:
        return DEFAULT_QUANTILES
    path = f"{CONFIG}.ForecastQuantiles"
    if len(given) > MAX_QUANTILES:
        raise field_error(path, f"must hold at most {MAX_QUANTILES} quantiles", len(given))
    for i, quantile in enumerate(given):
        level = quantile[1:]
        if not (quantile[:1] == "p" and level.isdigit() and level[0] != "0" and 1 <= int(level) <= 99):
            raise field_error(f"{path}[{i}]", "must be a quantile from p1 to p99", quantile)
        if quantile in given[:i]:
            raise field_error(f"{path}[{i}]", "repeats a quantile already listed", quantile)
    return tuple(sorted(given, key=lambda q: int(q[1:])))


def _objective(objective: dict | None) -> str:
    name = (objective or {}).get("MetricName", DEFAULT_OBJECTIVE)
    if name not in OBJECTIVES:
        raise field_error("AutoMLJobObjective.MetricName", "is not a time-series forecasting metric; valid: "
                          + ", ".join(OBJECTIVES), name)
    return name


def _algorithms(generation: dict) -> tuple[tuple[str, ...], bool]:
    """(forecasters to train, whether AlgorithmsConfig restricted them)."""
    configs = generation.get("AlgorithmsConfig")
    path = f"{CONFIG}.CandidateGenerationConfig.AlgorithmsConfig"
    names = (configs[0].get("AutoMLAlgorithms") or []) if configs else []
    if not names:
        return tuple(FORECASTERS), False  # every one; the runner orders them
    for i, name in enumerate(names):
        where = f"{path}[0].AutoMLAlgorithms[{i}]"
        if name not in AUTOPILOT:
            raise field_error(where, "is not a time-series forecasting algorithm; valid: " + ", ".join(AUTOPILOT),
                              name)
        if name in names[:i]:
            raise field_error(where, "repeats an algorithm already listed", name)
    return tuple(names), True


def _series_columns(series: dict, header: list[str], uri_field: str) -> dict[str, str]:
    """Target, timestamp, item id and grouping columns: each a column of the data, none named twice.
    Returns {column: role}."""
    named = [(f"{SERIES}.{member}", series[member], role) for member, role in (
        ("TargetAttributeName", "target"), ("TimestampAttributeName", "timestamp"),
        ("ItemIdentifierAttributeName", "item identifier"))]
    named += [(f"{SERIES}.GroupingAttributeNames[{i}]", name, "grouping")
              for i, name in enumerate(series.get("GroupingAttributeNames") or [])]
    if len(set(header)) != len(header):
        raise field_error(uri_field, "the header repeats a column name",
                          next(h for h in header if header.count(h) > 1))
    roles: dict[str, str] = {}
    for path, name, role in named:
        if name not in header:
            raise field_error(path, "is not a column of the training data; columns: " + ", ".join(header[:50]), name)
        if name in roles:
            raise field_error(path, f"names the column already used as the {roles[name]} column", name)
        roles[name] = role
    return roles


def _filling(filling: dict, header: list[str], roles: dict[str, str], target: str) -> dict:
    """Autopilot's filling methods per column: frontfill, middlefill, backfill and futurefill each `none`,
    `value` (with its `<type>_value`), `zero`, `mean`, `median`, `min` or `max`."""
    for column, methods in filling.items():
        where = f"{FILLING}[{column!r}]"
        if column not in header:
            raise field_error(where, "is not a column of the training data", column)
        if column in roles and column != target:
            raise field_error(where, f"must not fill the {roles[column]} column (only the target and related "
                              "time series are filled)", column)
        for kind, method in methods.items():
            if kind.endswith("_value"):
                base = kind.removesuffix("_value")
                if methods.get(base) != "value":
                    raise field_error(f"{where}.{kind}", f"needs {base} set to 'value'", methods.get(base))
                try:
                    float(method)
                except ValueError:
                    raise field_error(f"{where}.{kind}", "must be a number", method) from None
                continue
            if method not in FILL_METHODS:
                raise field_error(f"{where}.{kind}", "must be one of " + ", ".join(FILL_METHODS), method)
            if kind == "futurefill" and column == target:
                # Autopilot: future filling applies to related time series only; the target's future is the
                # forecast itself.
                raise field_error(f"{where}.{kind}", "applies only to related time-series columns, not the target",
                                  column)
            if method == "value" and f"{kind}_value" not in methods:
                raise field_error(f"{where}.{kind}_value", f"is required when {kind} is 'value'")
    return {column: dict(methods) for column, methods in filling.items()}


def _aggregation(aggregation: dict, target: str) -> dict:
    # Decided with the brief: Autopilot aggregates the target to the forecast frequency; other columns are taken
    # as given, so an aggregation on them is refused rather than ignored.
    for column, method in aggregation.items():
        where = f"{AGGREGATION}[{column!r}]"
        if column != target:
            raise field_error(where, f"aggregation applies to the target column ({target!r}) only", column)
        if method not in AGGREGATIONS:
            raise field_error(where, "must be one of " + ", ".join(AGGREGATIONS), method)
    return dict(aggregation)


def _holiday(config: list[dict]) -> str | None:
    if not config:
        return None
    path = f"{CONFIG}.HolidayConfig"
    if len(config) > 1:
        raise field_error(path, "must hold at most one entry", len(config))
    country = config[0].get("CountryCode")
    if country is None:
        raise field_error(f"{path}[0].CountryCode", "is required")
    import holidays  # the calendars; imported only when a job asks for them

    supported = holidays.list_supported_countries()
    if country not in supported:
        raise field_error(f"{path}[0].CountryCode", "is not a country with a holiday calendar; e.g. US, GB, DE, FR, "
                          "JP, IN, BR", country)
    return country
