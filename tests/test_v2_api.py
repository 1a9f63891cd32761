"""CreateAutoMLJobV2 / DescribeAutoMLJobV2: tabular and text classification jobs end to end, Autopilot's
time-series rules (each refusal names its field), the refused problem types, V1/V2 Describe across versions,
and the aws-style CLI subcommands."""
import copy
import json
import random
import time
from dataclasses import replace

import pandas as pd
import pytest

from automl.candidate import Candidate, CandidateStatus
from automl.cli import main
from automl.contract import validate_request, validate_response
from automl.errors import ValidationException
from automl.forecast_plan import ForecastPlan
from automl.forecast_spec import resolve_forecast
from automl.spec import resolve
from automl.spec_v2 import resolve_v2
from automl.store import JobStatus, Store
from tests.conftest import ROLE, request

FORECAST = "AutoMLProblemTypeConfig.TimeSeriesForecastingJobConfig"
TABULAR = "AutoMLProblemTypeConfig.TabularJobConfig"


def channel(path, **extra) -> dict:
    return {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": str(path)}}, **extra}


def v2(data, config: dict, name="v2-job", output=None, **extra) -> dict:
    body = {"AutoMLJobName": name, "AutoMLJobInputDataConfig": [channel(data)],
            "OutputDataConfig": {"S3OutputPath": str(output or data.parent / "out")},
            "AutoMLProblemTypeConfig": config, "RoleArn": ROLE}
    return body | copy.deepcopy(extra)


def tabular(target="diagnosis", **extra) -> dict:
    return {"TabularJobConfig": {"TargetAttributeName": target, **extra}}


def wait_v2(sm, name, timeout=120) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        answer = sm.describe_auto_ml_job_v2(AutoMLJobName=name)
        validate_response("DescribeAutoMLJobV2", answer)
        if answer["AutoMLJobStatus"] not in ("InProgress", "Stopping"):
            return answer
        time.sleep(0.3)
    raise AssertionError(f"{name}: still {answer['AutoMLJobSecondaryStatus']} after {timeout} s")


@pytest.fixture
def bc_csv(tmp_path, breast_cancer):
    path = tmp_path / "bc.csv"
    breast_cancer.to_csv(path, index=False)
    return path


QUICK = {"Mode": "ENSEMBLING", "CompletionCriteria": {"MaxAutoMLJobRuntimeInSeconds": 120},
         "CandidateGenerationConfig": {"AlgorithmsConfig": [{"AutoMLAlgorithms": ["linear-learner"]}]}}


def test_v2_tabular_job_completes_and_v1_describe_refuses_it(sm, home, bc_csv, tmp_path):
    body = v2(bc_csv, tabular(**QUICK), name="tab-v2", AutoMLJobObjective={"MetricName": "AUC"})
    v1 = request(bc_csv, name="tab-v1", AutoMLJobObjective={"MetricName": "AUC"}, AutoMLJobConfig={
        k: v for k, v in QUICK.items()})
    # V2 tabular is the V1 job it stands for: the same plan, its channel named by the V2 field.
    assert resolve_v2(body) == replace(resolve(v1 | {"AutoMLJobName": "tab-v2"}), training=resolve_v2(body).training)
    assert resolve_v2(body).training.field == "AutoMLJobInputDataConfig[0]"

    arn = sm.create_auto_ml_job_v2(**body)["AutoMLJobArn"]
    sm.create_auto_ml_job(**v1)  # runs beside it: DescribeAutoMLJobV2 of a V1 job below
    assert arn == "arn:aws:sagemaker:local:000000000000:automl-job/tab-v2"
    final = wait_v2(sm, "tab-v2")
    assert (final["AutoMLJobStatus"], final["AutoMLJobSecondaryStatus"]) == ("Completed", "Completed")
    assert final["AutoMLProblemTypeConfigName"] == "Tabular"
    assert final["AutoMLJobInputDataConfig"] == body["AutoMLJobInputDataConfig"]
    config = final["AutoMLProblemTypeConfig"]["TabularJobConfig"]
    assert config["TargetAttributeName"] == "diagnosis" and config["Mode"] == "ENSEMBLING"
    assert config["CompletionCriteria"] == {"MaxAutoMLJobRuntimeInSeconds": 120,
                                            "MaxRuntimePerTrainingJobInSeconds": 120}
    assert final["ResolvedAttributes"] == {
        "AutoMLJobObjective": {"MetricName": "AUC"},
        "CompletionCriteria": {"MaxAutoMLJobRuntimeInSeconds": 120, "MaxRuntimePerTrainingJobInSeconds": 120},
        "AutoMLProblemTypeResolvedAttributes": {"TabularResolvedAttributes": {"ProblemType": "BinaryClassification"}}}
    assert final["DataSplitConfig"] == {"ValidationFraction": 0.2}
    best = final["BestCandidate"]
    assert best["FinalAutoMLJobObjectiveMetric"]["MetricName"] == "AUC"
    saved = json.loads((tmp_path / "out" / "tab-v2" / "describe.json").read_text())
    assert saved["AutoMLProblemTypeConfigName"] == "Tabular"  # the worker writes the V2 Describe for a V2 job

    with pytest.raises(ValidationException, match="AutoMLJobName: was created with CreateAutoMLJobV2; describe it "
                                                  "with DescribeAutoMLJobV2"):
        sm.describe_auto_ml_job(AutoMLJobName="tab-v2")
    listed = sm.list_candidates_for_auto_ml_job(AutoMLJobName="tab-v2")
    validate_response("ListCandidatesForAutoMLJob", listed)
    assert best["CandidateName"] in {c["CandidateName"] for c in listed["Candidates"]}
    assert {"tab-v1", "tab-v2"} <= {j["AutoMLJobName"] for j in sm.list_auto_ml_jobs()["AutoMLJobSummaries"]}
    scored = sm.predict("tab-v2", pd.read_csv(bc_csv).drop(columns="diagnosis").head(5))
    assert len(scored) == 5 and "predicted_label" in scored

    old = wait_v2(sm, "tab-v1")  # DescribeAutoMLJobV2 of a V1 job: its request in the V2 shape, as Tabular
    assert old["AutoMLJobStatus"] == "Completed" and old["AutoMLProblemTypeConfigName"] == "Tabular"
    assert old["AutoMLJobInputDataConfig"] == [channel(bc_csv)]
    assert old["AutoMLProblemTypeConfig"]["TabularJobConfig"]["TargetAttributeName"] == "diagnosis"
    assert old["AutoMLProblemTypeConfig"]["TabularJobConfig"]["CandidateGenerationConfig"] == \
        QUICK["CandidateGenerationConfig"]
    assert old["BestCandidate"]["CandidateName"] == sm.describe_auto_ml_job(
        AutoMLJobName="tab-v1")["BestCandidate"]["CandidateName"]


@pytest.mark.parametrize("change, message", [
    (lambda b: b["AutoMLProblemTypeConfig"]["TabularJobConfig"].update(TargetAttributeName="nope"),
     f"{TABULAR}.TargetAttributeName: is not a column of the training data"),
    (lambda b: b["AutoMLProblemTypeConfig"]["TabularJobConfig"].update(
        CompletionCriteria={"MaxAutoMLJobRuntimeInSeconds": 60, "MaxRuntimePerTrainingJobInSeconds": 61}),
     f"{TABULAR}.CompletionCriteria.MaxRuntimePerTrainingJobInSeconds: must not exceed"),
    (lambda b: b["AutoMLProblemTypeConfig"]["TabularJobConfig"].update(
        CandidateGenerationConfig={"AlgorithmsConfig": [{"AutoMLAlgorithms": ["arima"]}]}, Mode="ENSEMBLING"),
     f"{TABULAR}.CandidateGenerationConfig.AlgorithmsConfig[0].AutoMLAlgorithms[0]: is not an algorithm"),
    (lambda b: b["AutoMLProblemTypeConfig"]["TabularJobConfig"].update(SampleWeightAttributeName="nope"),
     f"{TABULAR}.SampleWeightAttributeName: is not a column"),
    (lambda b: b["AutoMLJobInputDataConfig"].append(b["AutoMLJobInputDataConfig"][0]),
     "AutoMLJobInputDataConfig[1].ChannelType: only one 'training' channel is allowed"),
    (lambda b: (b["AutoMLJobInputDataConfig"].append(channel(b["AutoMLJobInputDataConfig"][0]["DataSource"][
        "S3DataSource"]["S3Uri"], ChannelType="validation")), b.update(DataSplitConfig={"ValidationFraction": 0.3})),
     "DataSplitConfig.ValidationFraction: must not be set when a 'validation' channel is given"),
    (lambda b: b["AutoMLProblemTypeConfig"]["TabularJobConfig"].update(ProblemType="Regression"),
     "AutoMLJobObjective.MetricName: is not valid for ProblemType Regression"),
    (lambda b: b.update(AutoMLComputeConfig={"EmrServerlessComputeConfig": {"ExecutionRoleARN": ROLE}}),
     "AutoMLComputeConfig: EMR Serverless compute is not available"),
])
def test_v2_tabular_errors_name_the_v2_fields(sm, home, bc_csv, change, message):
    body = v2(bc_csv, tabular(), AutoMLJobObjective={"MetricName": "AUC"})
    change(body)
    with pytest.raises(ValidationException) as caught:
        sm.create_auto_ml_job_v2(**body)
    assert caught.value.message.startswith(message), caught.value.message
    assert sm.list_auto_ml_jobs()["AutoMLJobSummaries"] == []


@pytest.fixture
def reviews_csv(tmp_path):
    """Product reviews in plain sentences, labelled by sentiment (600 rows: Autopilot needs 500)."""
    rng = random.Random(0)
    good = ["works perfectly and arrived on time", "great value, I would buy it again", "the battery lasts all day",
            "sturdy build and easy to set up", "my kids love it and use it every day", "excellent sound for the price"]
    bad = ["stopped working after two days", "the screen cracked in the box", "support never answered my emails",
           "much smaller than the photos suggest", "the charger gets very hot", "a waste of money, returned it"]
    openers = ["Honestly", "After a week", "To be fair", "In short", "Overall", "Well"]
    rows = [{"review": f"{rng.choice(openers)}, {rng.choice(good if label == 'positive' else bad)} "
                       f"and {rng.choice(good if label == 'positive' else bad)}.", "sentiment": label,
             "stars": rng.randint(1, 5)} for label in ["positive", "negative"] * 300]
    path = tmp_path / "reviews.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_text_classification_runs_the_text_pipeline_on_the_content_column(sm, home, reviews_csv):
    config = {"TextClassificationJobConfig": {"ContentColumn": "review", "TargetLabelColumn": "sentiment",
                                              "CompletionCriteria": {"MaxCandidates": 1,
                                                                     "MaxAutoMLJobRuntimeInSeconds": 120}}}
    body = v2(reviews_csv, config, name="reviews")
    plan = resolve_v2(body)
    assert plan.mode.value == "ENSEMBLING" and plan.objective == "Accuracy" and plan.target == "sentiment"
    assert plan.feature_spec.names == ("review",) and plan.feature_spec.types["review"].value == "text"
    with pytest.raises(ValidationException, match=r"^[^:]*: AutoMLJobObjective.MetricName: text classification is "
                                                  r"scored by Accuracy"):
        sm.create_auto_ml_job_v2(**body, AutoMLJobObjective={"MetricName": "F1"})
    bad = copy.deepcopy(body)
    bad["AutoMLProblemTypeConfig"]["TextClassificationJobConfig"]["ContentColumn"] = "body"
    with pytest.raises(ValidationException, match=r"^[^:]*: AutoMLProblemTypeConfig.TextClassificationJobConfig."
                                                  r"ContentColumn: is not a column"):
        sm.create_auto_ml_job_v2(**bad)
    bad["AutoMLProblemTypeConfig"]["TextClassificationJobConfig"].update(ContentColumn="review",
                                                                          TargetLabelColumn="label")
    with pytest.raises(ValidationException, match=r"^[^:]*: AutoMLProblemTypeConfig.TextClassificationJobConfig."
                                                  r"TargetLabelColumn: is not a column"):
        sm.create_auto_ml_job_v2(**bad)

    sm.create_auto_ml_job_v2(**body)
    final = wait_v2(sm, "reviews")
    assert final["AutoMLJobStatus"] == "Completed", final.get("FailureReason")
    assert final["AutoMLProblemTypeConfigName"] == "TextClassification"
    assert final["ResolvedAttributes"]["AutoMLJobObjective"] == {"MetricName": "Accuracy"}
    assert final["ResolvedAttributes"]["AutoMLProblemTypeResolvedAttributes"] == {
        "TabularResolvedAttributes": {"ProblemType": "BinaryClassification"}}
    metric = final["BestCandidate"]["FinalAutoMLJobObjectiveMetric"]
    assert metric["MetricName"] == "Accuracy" and metric["Value"] > 0.9
    predicted = sm.predict("reviews", pd.DataFrame({"review": ["Overall, the charger gets very hot and stopped "
                                                                "working after two days."]}))
    assert predicted["predicted_label"].tolist() == ["negative"]


@pytest.mark.parametrize("member", ["ImageClassificationJobConfig", "TextGenerationJobConfig"])
def test_image_and_text_generation_are_refused(sm, home, bc_csv, member):
    with pytest.raises(ValidationException, match=rf"^[^:]*: AutoMLProblemTypeConfig.{member}: is not available in "
                                                  r"this engine: .*pretrained model weights cannot be fetched here"):
        sm.create_auto_ml_job_v2(**v2(bc_csv, {member: {}}))


def test_problem_type_config_needs_exactly_one_member(sm, home, bc_csv):
    for config in ({}, tabular() | {"TextClassificationJobConfig": {"ContentColumn": "a", "TargetLabelColumn": "b"}}):
        with pytest.raises(ValidationException, match=r"^[^:]*: AutoMLProblemTypeConfig: must set exactly one of"):
            sm.create_auto_ml_job_v2(**v2(bc_csv, config))


# --- time-series forecasting: the rules; the forecasting runner is not part of this change -------------------

@pytest.fixture
def sales_csv(tmp_path):
    """Daily demand of two products in two stores, with a price column (related time series)."""
    stamps = pd.date_range("2024-01-01", periods=60, freq="D")
    frame = pd.concat([pd.DataFrame({"item_id": item, "store": store, "ts": stamps.strftime("%Y-%m-%d"),
                                     "demand": [(i % 7) * 3 + k for i in range(60)],
                                     "price": [9.5 + (i % 5) / 10 for i in range(60)]})
                       for k, (item, store) in enumerate([("apple", "north"), ("pear", "south")])])
    path = tmp_path / "sales.csv"
    frame.to_csv(path, index=False)
    return path


def forecast_config(**extra) -> dict:
    return {"TimeSeriesForecastingJobConfig": {
        "ForecastFrequency": "1D", "ForecastHorizon": 7,
        "TimeSeriesConfig": {"TargetAttributeName": "demand", "TimestampAttributeName": "ts",
                             "ItemIdentifierAttributeName": "item_id"}, **extra}}


def test_resolve_forecast_reads_every_field(sales_csv, tmp_path):
    config = forecast_config(
        ForecastQuantiles=["p90", "p5", "p50"],
        TimeSeriesConfig={"TargetAttributeName": "demand", "TimestampAttributeName": "ts",
                          "ItemIdentifierAttributeName": "item_id", "GroupingAttributeNames": ["store"]},
        Transformations={"Filling": {"demand": {"middlefill": "zero", "backfill": "value", "backfill_value": "2"},
                                     "price": {"futurefill": "value", "futurefill_value": "10"}},
                         "Aggregation": {"demand": "sum"}},
        HolidayConfig=[{"CountryCode": "US"}],
        CompletionCriteria={"MaxCandidates": 3, "MaxAutoMLJobRuntimeInSeconds": 600},
        CandidateGenerationConfig={"AlgorithmsConfig": [{"AutoMLAlgorithms": ["ets", "npts"]}]})
    body = v2(sales_csv, config, name="sales", AutoMLJobObjective={"MetricName": "WAPE"},
              Tags=[{"Key": "team", "Value": "demand"}])
    validate_request("CreateAutoMLJobV2", body)
    plan = resolve_forecast(body)
    assert isinstance(plan, ForecastPlan) and resolve_v2(body) == plan
    assert (plan.name, plan.target, plan.timestamp, plan.item_id, plan.grouping) == (
        "sales", "demand", "ts", "item_id", ("store",))
    assert plan.training.uri == str(sales_csv) and plan.training.field == "AutoMLJobInputDataConfig[0]"
    assert (plan.frequency, plan.horizon, plan.freq.season_length) == ("1D", 7, 7)
    assert plan.quantiles == ("p5", "p50", "p90") and plan.quantile_levels == (0.05, 0.5, 0.9)
    assert plan.filling == {"demand": {"middlefill": "zero", "backfill": "value", "backfill_value": "2"},
                            "price": {"futurefill": "value", "futurefill_value": "10"}}
    assert plan.aggregation == {"demand": "sum"} and plan.holiday_country == "US"
    assert (plan.algorithms, plan.restricted, plan.objective) == (("ets", "npts"), True, "WAPE")
    assert (plan.max_candidates, plan.max_runtime_per_candidate_s, plan.max_job_runtime_s) == (3, 600, 600)
    assert plan.output_path == str(tmp_path / "out") and plan.training_bytes == sales_csv.stat().st_size
    assert plan.tags == (("team", "demand"),) and plan.feature_spec is None and plan.mode.value == "FORECASTING"
    assert ForecastPlan.from_json(plan.to_json()) == plan

    defaults = resolve_forecast(v2(sales_csv, forecast_config()))
    assert defaults.quantiles == ("p10", "p50", "p90") and defaults.objective == "AverageWeightedQuantileLoss"
    from algorithms.forecasters import FORECASTERS
    assert sorted(defaults.algorithms) == sorted(FORECASTERS) and not defaults.restricted
    assert (defaults.max_candidates, defaults.max_job_runtime_s) == (None, 2592000)
    assert defaults.filling == {} and defaults.aggregation == {} and defaults.holiday_country is None


def _ts(**changes):
    def change(config):
        config["TimeSeriesForecastingJobConfig"].update(changes)
    return change


def _series(**changes):
    def change(config):
        config["TimeSeriesForecastingJobConfig"]["TimeSeriesConfig"].update(changes)
    return change


def _fill(filling):
    return _ts(Transformations={"Filling": filling})


@pytest.mark.parametrize("change, message", [
    (_ts(ForecastHorizon=501), f"{FORECAST}.ForecastHorizon: must be from 1 to 500"),
    (_ts(ForecastHorizon=0), f"{FORECAST}.ForecastHorizon: must be at least 1"),
    (_ts(ForecastFrequency="7D"), f"{FORECAST}.ForecastFrequency: must"),
    (_ts(ForecastQuantiles=["p10", "p10"]), f"{FORECAST}.ForecastQuantiles[1]: repeats a quantile"),
    (_ts(ForecastQuantiles=["p0"]), f"{FORECAST}.ForecastQuantiles[0]: must"),
    (_ts(ForecastQuantiles=["p1", "p2", "p3", "p4", "p5", "p6"]), f"{FORECAST}.ForecastQuantiles: must have at most"),
    (_series(TargetAttributeName="sales"), f"{FORECAST}.TimeSeriesConfig.TargetAttributeName: is not a column"),
    (_series(TimestampAttributeName="date"), f"{FORECAST}.TimeSeriesConfig.TimestampAttributeName: is not a column"),
    (_series(ItemIdentifierAttributeName="demand"),
     f"{FORECAST}.TimeSeriesConfig.ItemIdentifierAttributeName: names the column already used as the target"),
    (_series(GroupingAttributeNames=["store", "ts"]),
     f"{FORECAST}.TimeSeriesConfig.GroupingAttributeNames[1]: names the column already used as the timestamp"),
    (_series(GroupingAttributeNames=["region"]), f"{FORECAST}.TimeSeriesConfig.GroupingAttributeNames[0]: is not a"),
    (_fill({"promo": {"middlefill": "zero"}}),
     f"{FORECAST}.Transformations.Filling['promo']: is not a column of the training data"),
    (_fill({"ts": {"middlefill": "zero"}}), f"{FORECAST}.Transformations.Filling['ts']: must not fill the timestamp"),
    (_fill({"item_id": {"backfill": "zero"}}), f"{FORECAST}.Transformations.Filling['item_id']: must not fill the "
                                               "item identifier"),
    (_fill({"demand": {"middlefill": "interpolate"}}),
     f"{FORECAST}.Transformations.Filling['demand'].middlefill: must be one of none, value, zero"),
    (_fill({"demand": {"futurefill": "zero"}}),
     f"{FORECAST}.Transformations.Filling['demand'].futurefill: applies only to related time-series columns"),
    (_fill({"price": {"backfill": "mean", "backfill_value": "3"}}),
     f"{FORECAST}.Transformations.Filling['price'].backfill_value: needs backfill set to 'value'"),
    (_fill({"price": {"backfill": "value", "backfill_value": "abc"}}),
     f"{FORECAST}.Transformations.Filling['price'].backfill_value: must be a number"),
    (_fill({"price": {"frontfill": "value"}}),
     f"{FORECAST}.Transformations.Filling['price'].frontfill_value: is required when frontfill is 'value'"),
    (_ts(Transformations={"Aggregation": {"price": "avg"}}),
     f"{FORECAST}.Transformations.Aggregation['price']: aggregation applies to the target column ('demand') only"),
    (_ts(Transformations={"Aggregation": {"demand": "median"}}),
     f"{FORECAST}.Transformations.Aggregation['demand']: must be one of sum, avg, first, min, max"),
    (_ts(HolidayConfig=[{"CountryCode": "ZZ"}]), f"{FORECAST}.HolidayConfig[0].CountryCode: is not a country"),
    (_ts(HolidayConfig=[{"CountryCode": "US"}, {"CountryCode": "GB"}]), f"{FORECAST}.HolidayConfig: must have at "
                                                                        "most 1 item"),
    (_ts(CandidateGenerationConfig={"AlgorithmsConfig": [{"AutoMLAlgorithms": ["xgboost"]}]}),
     f"{FORECAST}.CandidateGenerationConfig.AlgorithmsConfig[0].AutoMLAlgorithms[0]: is not a time-series "
     "forecasting algorithm"),
    (_ts(CandidateGenerationConfig={"AlgorithmsConfig": [{"AutoMLAlgorithms": ["ets", "arima", "ets"]}]}),
     f"{FORECAST}.CandidateGenerationConfig.AlgorithmsConfig[0].AutoMLAlgorithms[2]: repeats an algorithm"),
    (_ts(CompletionCriteria={"MaxAutoMLJobRuntimeInSeconds": 100, "MaxRuntimePerTrainingJobInSeconds": 200}),
     f"{FORECAST}.CompletionCriteria.MaxRuntimePerTrainingJobInSeconds: must not exceed MaxAutoMLJobRuntime"),
])
def test_forecast_rules_name_the_field(sm, home, sales_csv, change, message):
    config = forecast_config()
    change(config)
    with pytest.raises(ValidationException) as caught:
        sm.create_auto_ml_job_v2(**v2(sales_csv, config))
    assert caught.value.message.startswith(message), caught.value.message


@pytest.mark.parametrize("extra, message", [
    ({"AutoMLJobObjective": {"MetricName": "F1"}},
     "AutoMLJobObjective.MetricName: is not a time-series forecasting metric; valid: AverageWeightedQuantileLoss, "
     "RMSE, MAPE, MASE, WAPE"),
    ({"DataSplitConfig": {"ValidationFraction": 0.2}}, "DataSplitConfig: is not supported for time-series"),
    ({"ModelDeployConfig": {"AutoGenerateEndpointName": False}},
     "ModelDeployConfig.EndpointName: is required when AutoGenerateEndpointName is false"),
    ({"Tags": [{"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}]}, "Tags[1].Key: duplicates the key of Tags[0]"),
])
def test_forecast_request_rules(sm, home, sales_csv, extra, message):
    with pytest.raises(ValidationException) as caught:
        sm.create_auto_ml_job_v2(**v2(sales_csv, forecast_config(), **extra))
    assert caught.value.message.startswith(message), caught.value.message


def test_forecast_channel_rules(sm, home, sales_csv, tmp_path):
    body = v2(sales_csv, forecast_config())
    body["AutoMLJobInputDataConfig"].append(channel(sales_csv, ChannelType="validation"))
    with pytest.raises(ValidationException, match=r"^[^:]*: AutoMLJobInputDataConfig\[1\].ChannelType: a time-series "
                                                  r"forecasting job takes no 'validation' channel"):
        sm.create_auto_ml_job_v2(**body)
    body["AutoMLJobInputDataConfig"][1] = channel(sales_csv)
    with pytest.raises(ValidationException, match=r"^[^:]*: AutoMLJobInputDataConfig\[1\]: a time-series forecasting "
                                                  r"job takes exactly one 'training' channel"):
        sm.create_auto_ml_job_v2(**body)
    body = v2(sales_csv, forecast_config())
    body["AutoMLJobInputDataConfig"][0]["ContentType"] = "application/json"
    with pytest.raises(ValidationException, match=r"^[^:]*: AutoMLJobInputDataConfig\[0\].ContentType: must be one of"):
        sm.create_auto_ml_job_v2(**body)
    spec_file = tmp_path / "features.json"
    spec_file.write_text(json.dumps({"FeatureAttributeNames": ["price", "demand"]}))
    body = v2(sales_csv, forecast_config(FeatureSpecificationS3Uri=str(spec_file)))
    with pytest.raises(ValidationException, match=rf"^[^:]*: {FORECAST}.FeatureSpecificationS3Uri:FeatureAttributeNames"
                                                  r"\[1\]: must not name the target column"):
        sm.create_auto_ml_job_v2(**body)
    spec_file.write_text(json.dumps({"FeatureAttributeNames": ["price"]}))
    assert resolve_forecast(body).feature_spec.names == ("price",)


def test_describe_v2_of_a_forecasting_job(sm, home, sales_csv, tmp_path):
    """A forecasting job's Describe and candidates, from a stored plan and candidate (no runner runs here)."""
    body = v2(sales_csv, forecast_config(ForecastQuantiles=["p50", "p90"]), name="fc")
    plan = resolve_v2(body)
    store = Store(home)
    store.insert_job("fc", body, plan.to_json())
    metrics = {"RMSE": 2.5, "MAPE": 0.12, "MASE": 0.8, "WAPE": 0.1, "AverageWeightedQuantileLoss": 0.07}
    now = time.time()
    store.put_candidate("fc", Candidate(
        name="fc-ets", algorithm="ets", status=CandidateStatus.COMPLETED, creation_time=now, end_time=now + 1,
        metrics=metrics, objective_value=0.07, model_uri=str(tmp_path / "out/fc/candidates/fc-ets/model.joblib"),
        backtest_uri=str(tmp_path / "out/fc/candidates/fc-ets/backtest"), inference_latency_s=0.01))
    store.transition("fc", JobStatus.COMPLETED, "Completed", best_candidate={"name": "fc-ets"})

    answer = sm.describe_auto_ml_job_v2(AutoMLJobName="fc")
    validate_response("DescribeAutoMLJobV2", answer)
    assert answer["AutoMLProblemTypeConfigName"] == "TimeSeriesForecasting"
    assert answer["AutoMLJobObjective"] == {"MetricName": "AverageWeightedQuantileLoss"}
    assert answer["ResolvedAttributes"] == {"AutoMLJobObjective": {"MetricName": "AverageWeightedQuantileLoss"},
                                            "CompletionCriteria": {"MaxRuntimePerTrainingJobInSeconds": 86400,
                                                                   "MaxAutoMLJobRuntimeInSeconds": 2592000}}
    assert "DataSplitConfig" not in answer
    best = answer["BestCandidate"]
    assert best["FinalAutoMLJobObjectiveMetric"] == {"Type": "Minimize", "MetricName": "AverageWeightedQuantileLoss",
                                                     "Value": 0.07, "StandardMetricName": "AverageWeightedQuantileLoss"}
    assert {m["MetricName"]: m["Value"] for m in best["CandidateProperties"]["CandidateMetrics"]} == metrics
    assert best["CandidateProperties"]["CandidateArtifactLocations"]["BacktestResults"].endswith("fc-ets/backtest")
    environment = best["InferenceContainers"][0]["Environment"]
    assert "predicted_label" not in json.dumps(environment) and environment["FORECAST_QUANTILES"] == "p50,p90"
    with pytest.raises(ValidationException, match="describe it with DescribeAutoMLJobV2"):
        sm.describe_auto_ml_job(AutoMLJobName="fc")
    listed = sm.list_candidates_for_auto_ml_job(AutoMLJobName="fc")
    validate_response("ListCandidatesForAutoMLJob", listed)
    assert [c["CandidateName"] for c in listed["Candidates"]] == ["fc-ets"]
    assert [j["AutoMLJobName"] for j in sm.list_auto_ml_jobs()["AutoMLJobSummaries"]] == ["fc"]


# --- the CLI --------------------------------------------------------------------------------------------------

def run_cli(capsys, *argv):
    code = main(list(map(str, argv)))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_create_v2_from_json_and_shorthand_then_describe(capsys, home, bc_csv, tmp_path):
    body = v2(bc_csv, tabular(GenerateCandidateDefinitionsOnly=True, Mode="ENSEMBLING"), name="cli-json")
    request_file = tmp_path / "request.json"
    request_file.write_text(json.dumps(body))
    code, out, err = run_cli(capsys, "create-auto-ml-job-v2", "--cli-input-json", f"file://{request_file}")
    assert code == 0, err
    assert json.loads(out) == {"AutoMLJobArn": "arn:aws:sagemaker:local:000000000000:automl-job/cli-json"}

    code, out, err = run_cli(
        capsys, "create-auto-ml-job-v2", "--auto-ml-job-name", "cli-short",
        "--auto-ml-job-input-data-config", f"DataSource={{S3DataSource={{S3DataType=S3Prefix,S3Uri={bc_csv}}}}}",
        "--output-data-config", f"S3OutputPath={tmp_path / 'out'}", "--role-arn", ROLE,
        "--auto-ml-problem-type-config", "TabularJobConfig={TargetAttributeName=diagnosis,Mode=ENSEMBLING,"
                                         "GenerateCandidateDefinitionsOnly=true,CompletionCriteria={MaxCandidates=3}}",
        "--auto-ml-job-objective", "MetricName=AUC", "--tags", "Key=team,Value=ml")
    assert code == 0, err
    for name in ("cli-json", "cli-short"):
        deadline = time.time() + 120
        while True:
            code, out, err = run_cli(capsys, "describe-auto-ml-job-v2", "--auto-ml-job-name", name)
            described = json.loads(out)
            if described["AutoMLJobStatus"] != "InProgress" or time.time() > deadline:
                break
            time.sleep(0.3)
        assert (described["AutoMLJobStatus"], described["AutoMLJobSecondaryStatus"]) == (
            "Completed", "CandidateDefinitionsGenerated"), described.get("FailureReason")
    config = described["AutoMLProblemTypeConfig"]["TabularJobConfig"]
    assert config["CompletionCriteria"]["MaxCandidates"] == 3 and config["GenerateCandidateDefinitionsOnly"] is True
    assert described["AutoMLJobObjective"] == {"MetricName": "AUC"}

    code, _, err = run_cli(capsys, "describe-auto-ml-job", "--auto-ml-job-name", "cli-short")
    assert code == 254 and "(ValidationException) when calling the DescribeAutoMLJob operation" in err
    code, _, err = run_cli(capsys, "create-auto-ml-job-v2", "--cli-input-json", json.dumps(
        v2(bc_csv, {"ImageClassificationJobConfig": {}}, name="img")))
    assert code == 254 and "pretrained model weights cannot be fetched here" in err


def test_cli_v2_skeletons(capsys):
    code, out, _ = run_cli(capsys, "create-auto-ml-job-v2", "--generate-cli-skeleton")
    skeleton = json.loads(out)
    assert code == 0
    assert set(skeleton) == {"AutoMLJobName", "AutoMLJobInputDataConfig", "OutputDataConfig", "AutoMLProblemTypeConfig",
                             "RoleArn", "Tags", "SecurityConfig", "AutoMLJobObjective", "ModelDeployConfig",
                             "DataSplitConfig", "AutoMLComputeConfig"}
    forecasting = skeleton["AutoMLProblemTypeConfig"]["TimeSeriesForecastingJobConfig"]
    assert forecasting["ForecastHorizon"] == 0 and forecasting["ForecastQuantiles"] == [""]
    assert set(forecasting["TimeSeriesConfig"]) == {"TargetAttributeName", "TimestampAttributeName",
                                                    "ItemIdentifierAttributeName", "GroupingAttributeNames"}
    assert skeleton["AutoMLJobInputDataConfig"][0]["DataSource"] == {"S3DataSource": {"S3DataType": "",
                                                                                      "S3Uri": ""}}
    code, out, _ = run_cli(capsys, "describe-auto-ml-job-v2", "--generate-cli-skeleton", "output")
    output = json.loads(out)
    assert code == 0 and {"AutoMLProblemTypeConfigName", "ResolvedAttributes", "BestCandidate"} <= set(output)
    assert "BacktestResults" in output["BestCandidate"]["CandidateProperties"]["CandidateArtifactLocations"]
