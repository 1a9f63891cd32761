"""Autopilot's own rules at create: each refusal names the exact field and leaves no job behind."""
import json

import numpy as np
import pytest

import automl.spec
from automl.dataset import load_dataset
from automl.errors import ResourceInUse, ValidationException
from automl.spec import resolve
from tests.conftest import request


@pytest.fixture
def train_csv(tmp_path, breast_cancer):
    path = tmp_path / "train.csv"
    breast_cancer.to_csv(path, index=False)
    return path


def refused(sm, body) -> str:
    with pytest.raises(ValidationException) as info:
        sm.create_auto_ml_job(**body)
    assert sm.list_auto_ml_jobs()["AutoMLJobSummaries"] == [], "a refused request must leave no job behind"
    return info.value.message


def validation_channel(path, **extra):
    return {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": str(path)}},
            "TargetAttributeName": "diagnosis", "ChannelType": "validation", **extra}


def test_channel_roles(sm, train_csv):
    body = request(train_csv)
    body["InputDataConfig"].append(dict(body["InputDataConfig"][0], ChannelType="training"))
    assert refused(sm, body) == "InputDataConfig[1].ChannelType: only one 'training' channel is allowed; got 2"
    body = request(train_csv)
    body["InputDataConfig"] = [validation_channel(train_csv), validation_channel(train_csv)]
    assert refused(sm, body) == "InputDataConfig[1].ChannelType: only one 'validation' channel is allowed; got 2"


def test_validation_channel_must_match_training(sm, train_csv, tmp_path, breast_cancer):
    body = request(train_csv)
    body["InputDataConfig"].append(validation_channel(train_csv, ContentType="x-application/vnd.amazon+parquet"))
    assert refused(sm, body).startswith("InputDataConfig[1].ContentType: must equal the training channel's")
    body = request(train_csv)
    body["InputDataConfig"].append(dict(validation_channel(train_csv), TargetAttributeName="mean_radius"))
    assert refused(sm, body).startswith("InputDataConfig[1].TargetAttributeName: must equal the training")
    other = tmp_path / "valid.csv"
    breast_cancer.drop(columns=["mean_area"]).to_csv(other, index=False)
    body = request(train_csv)
    body["InputDataConfig"].append(validation_channel(other))
    assert refused(sm, body).startswith("InputDataConfig[1].DataSource.S3DataSource.S3Uri: the validation header "
                                        "must equal the training header")


def test_content_type_and_augmented_manifest(sm, train_csv):
    body = request(train_csv)
    body["InputDataConfig"][0]["ContentType"] = "text/csv"
    assert refused(sm, body).startswith("InputDataConfig[0].ContentType: must be one of text/csv;header=present, "
                                        "x-application/vnd.amazon+parquet")
    body = request(train_csv)
    body["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3DataType"] = "AugmentedManifestFile"
    assert refused(sm, body).startswith("InputDataConfig[0].DataSource.S3DataSource.S3DataType: "
                                        "AugmentedManifestFile is not supported")


def test_minimum_rows_and_size_limits(sm, train_csv, tmp_path, breast_cancer, monkeypatch):
    small = tmp_path / "small.csv"
    breast_cancer.head(499).to_csv(small, index=False)
    assert refused(sm, request(small)) == ("InputDataConfig[0].DataSource.S3DataSource.S3Uri: needs at least 500 "
                                           "rows with a target value (and a valid weight); got 499")
    monkeypatch.setattr(automl.spec, "MAX_TRAINING_BYTES", 1000)
    assert refused(sm, request(train_csv)).startswith("InputDataConfig[0].DataSource.S3DataSource.S3Uri: training "
                                                      "data must be under 100 GB")
    monkeypatch.setattr(automl.spec, "MAX_TRAINING_BYTES", 10 ** 12)
    monkeypatch.setattr(automl.spec, "MAX_VALIDATION_BYTES", 1000)
    body = request(train_csv)
    body["InputDataConfig"].append(validation_channel(train_csv))
    assert refused(sm, body).startswith("InputDataConfig[1].DataSource.S3DataSource.S3Uri: validation data must be "
                                        "under 2 GB")


def test_objective_must_suit_the_problem_type(sm, train_csv):
    body = request(train_csv, ProblemType="BinaryClassification", AutoMLJobObjective={"MetricName": "MSE"})
    assert refused(sm, body).startswith("AutoMLJobObjective.MetricName: is not valid for ProblemType "
                                        "BinaryClassification; valid metrics: Accuracy, BalancedAccuracy, AUC, F1")
    body = request(train_csv, AutoMLJobObjective={"MetricName": "RMSE"})  # inferred binary from the data
    assert refused(sm, body).startswith("AutoMLJobObjective.MetricName: is not valid for ProblemType Binary")
    body = request(train_csv, AutoMLJobObjective={"MetricName": "MASE"})
    assert refused(sm, body).startswith("AutoMLJobObjective.MetricName: is a time-series metric")


def test_algorithms_config_rules(sm, train_csv):
    path = "AutoMLJobConfig.CandidateGenerationConfig.AlgorithmsConfig"
    algos = {"CandidateGenerationConfig": {"AlgorithmsConfig": [{"AutoMLAlgorithms": ["xgboost"]}]}}
    assert refused(sm, request(train_csv, AutoMLJobConfig=dict(algos, Mode="AUTO"))).startswith(
        f"{path}: is not allowed when Mode is AUTO")
    assert refused(sm, request(train_csv, AutoMLJobConfig=algos)).startswith(f"{path}: is not allowed when Mode")
    body = request(train_csv, AutoMLJobConfig={"Mode": "HYPERPARAMETER_TUNING", "CandidateGenerationConfig": {
        "AlgorithmsConfig": [{"AutoMLAlgorithms": ["xgboost", "lightgbm"]}]}})
    assert refused(sm, body) == (f"{path}[0].AutoMLAlgorithms[1]: is not an algorithm of HYPERPARAMETER_TUNING "
                                 "mode; valid: linear-learner, mlp, xgboost; got 'lightgbm'")
    body = request(train_csv, AutoMLJobConfig={"Mode": "ENSEMBLING", "CandidateGenerationConfig": {
        "AlgorithmsConfig": [{"AutoMLAlgorithms": ["xgboost", "xgboost"]}]}})
    assert refused(sm, body) == f"{path}[0].AutoMLAlgorithms[1]: repeats an algorithm already listed; got 'xgboost'"
    body = request(train_csv, AutoMLJobConfig={"Mode": "ENSEMBLING", "CandidateGenerationConfig": {
        "AlgorithmsConfig": []}})
    assert refused(sm, body) == f"{path}: must hold exactly one entry; got 0"


def test_empty_algorithm_list_means_all_of_the_mode(train_csv):
    body = request(train_csv, AutoMLJobConfig={"Mode": "ENSEMBLING", "CandidateGenerationConfig": {
        "AlgorithmsConfig": [{"AutoMLAlgorithms": []}]}})
    assert resolve(body).algorithms == ("lightgbm", "linear-learner", "catboost", "xgboost", "extra-trees",
                                        "randomforest", "nn-torch", "fastai")
    body["AutoMLJobConfig"]["Mode"] = "HYPERPARAMETER_TUNING"
    assert resolve(body).algorithms == ("linear-learner", "xgboost", "mlp")


def test_auto_mode_resolves_by_training_size(train_csv, monkeypatch):
    assert resolve(request(train_csv)).mode.value == "ENSEMBLING"
    monkeypatch.setenv("AUTOML_AUTO_MODE_THRESHOLD_BYTES", "1000")
    assert resolve(request(train_csv)).mode.value == "HYPERPARAMETER_TUNING"


def test_numeric_settings_are_checked_where_the_job_is_created(sm, train_csv, monkeypatch):
    for name, bad, rule in (("AUTOML_AUTO_MODE_THRESHOLD_BYTES", "100MB", "a whole number of at least 0"),
                            ("AUTOML_CREATE_ANALYSIS_BYTES", "-1", "a whole number of at least 0"),
                            ("AUTOML_MAX_RUNNING_JOBS", "0", "a whole number of at least 1"),
                            ("AUTOML_HEARTBEAT_TIMEOUT_S", "soon", "a number of at least 1")):
        with monkeypatch.context() as patched, pytest.raises(ValidationException) as info:
            patched.setenv(name, bad)
            sm.create_auto_ml_job(**request(train_csv))
        assert info.value.message == f"{name}: must be {rule}; got {bad!r}"
    assert sm.list_auto_ml_jobs()["AutoMLJobSummaries"] == [], "nothing stored for a refused job"


def test_validation_fraction_rules(sm, train_csv):
    path = "AutoMLJobConfig.DataSplitConfig.ValidationFraction"
    for value in (0, 1):
        body = request(train_csv, AutoMLJobConfig={"DataSplitConfig": {"ValidationFraction": value}})
        assert refused(sm, body) == f"{path}: must be greater than 0 and less than 1; got {value}"
    body = request(train_csv, AutoMLJobConfig={"DataSplitConfig": {"ValidationFraction": 0.3}})
    body["InputDataConfig"].append(validation_channel(train_csv))
    assert refused(sm, body) == f"{path}: must not be set when a 'validation' channel is given; got 0.3"


def test_sample_weight_rules(sm, train_csv, tmp_path, breast_cancer):
    weighted = breast_cancer.assign(w=1.0)
    weighted.loc[:9, "w"] = -1.0
    weighted.loc[10:14, "w"] = np.nan
    weighted["w"] = weighted["w"].astype(object)
    weighted.loc[15, "w"] = "heavy"
    path = tmp_path / "weighted.csv"
    weighted.to_csv(path, index=False)
    body = request(path, AutoMLJobConfig={"Mode": "HYPERPARAMETER_TUNING"})
    body["InputDataConfig"][0]["SampleWeightAttributeName"] = "w"
    assert refused(sm, body) == ("InputDataConfig[0].SampleWeightAttributeName: is supported only in ENSEMBLING "
                                 "mode; the job runs in HYPERPARAMETER_TUNING mode")
    body["AutoMLJobConfig"]["Mode"] = "ENSEMBLING"
    dataset = load_dataset(resolve(body))
    assert dataset.excluded_rows == 16
    assert len(dataset.y_train) + len(dataset.y_valid) == len(breast_cancer) - 16
    assert (dataset.w_train >= 0).all() and "w" not in dataset.features
    broken = breast_cancer.assign(w="n/a")
    broken.to_csv(path, index=False)
    assert refused(sm, body) == ("InputDataConfig[0].SampleWeightAttributeName: holds no numeric, non-negative "
                                 "weight; got 'w'")


def test_feature_specification_checked_against_data(sm, train_csv, tmp_path):
    spec = tmp_path / "features.json"
    path = "AutoMLJobConfig.CandidateGenerationConfig.FeatureSpecificationS3Uri"

    def with_spec(content):
        spec.write_text(json.dumps(content))
        return request(train_csv, AutoMLJobConfig={"CandidateGenerationConfig": {
            "FeatureSpecificationS3Uri": str(spec)}})

    assert refused(sm, with_spec({"FeatureAttributeNames": ["mean_radius", "diagnosis"]})) == (
        f"{path}:FeatureAttributeNames[1]: must not name the target column; got 'diagnosis'")
    assert refused(sm, with_spec({"FeatureAttributeNames": ["mean_radius", "nope"]})) == (
        f"{path}:FeatureAttributeNames[1]: is not a column of the training data; got 'nope'")
    assert refused(sm, with_spec({"FeatureDataTypes": {"mean_radius": "float"}})) == (
        f"{path}:FeatureDataTypes['mean_radius']: must be one of numeric, categorical, text, datetime; got 'float'")
    assert refused(sm, with_spec({"FeatureDataTypes": {"mean_radius": "datetime"}})).startswith(
        f"{path}:FeatureDataTypes['mean_radius']: is declared datetime but the column holds values that are not")
    body = with_spec({"FeatureAttributeNames": ["mean_radius", "mean_texture", "mean_area"],
                      "FeatureDataTypes": {"mean_texture": "categorical"}})
    dataset = load_dataset(resolve(body))
    assert {k: v.value for k, v in dataset.kinds.items()} == {
        "mean_radius": "numeric", "mean_texture": "categorical", "mean_area": "numeric"}


def test_model_deploy_config_and_tags(sm, train_csv):
    body = request(train_csv, ModelDeployConfig={"AutoGenerateEndpointName": True, "EndpointName": "ep"})
    assert refused(sm, body) == ("ModelDeployConfig.EndpointName: must not be set when AutoGenerateEndpointName is "
                                 "true; got 'ep'")
    body = request(train_csv, Tags=[{"Key": "team", "Value": "a"}, {"Key": "env", "Value": "b"},
                                    {"Key": "team", "Value": "c"}])
    assert refused(sm, body) == "Tags[2].Key: duplicates the key of Tags[0]; got 'team'"


def test_completion_criteria_consistency(sm, train_csv):
    body = request(train_csv, AutoMLJobConfig={"CompletionCriteria": {
        "MaxRuntimePerTrainingJobInSeconds": 600, "MaxAutoMLJobRuntimeInSeconds": 300}})
    assert refused(sm, body) == ("AutoMLJobConfig.CompletionCriteria.MaxRuntimePerTrainingJobInSeconds: must not "
                                 "exceed MaxAutoMLJobRuntimeInSeconds (300); got 600")


def test_data_content_errors(sm, tmp_path, breast_cancer, train_csv):
    uri = "InputDataConfig[0].DataSource.S3DataSource.S3Uri"
    assert refused(sm, request(train_csv, target="label")).startswith(
        "InputDataConfig[0].TargetAttributeName: is not a column of the training data; columns: mean_radius")
    one_class = tmp_path / "one.csv"
    breast_cancer.assign(diagnosis="benign").to_csv(one_class, index=False)
    assert refused(sm, request(one_class)) == ("InputDataConfig[0].TargetAttributeName: the target has a single "
                                               "class; classification needs at least two; got 'benign'")
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    assert refused(sm, request(empty)) == f"{uri}: file {empty} is empty"
    corrupt = tmp_path / "corrupt.parquet"
    corrupt.write_bytes(b"PAR1 this is not parquet")
    body = request(corrupt)
    body["InputDataConfig"][0]["ContentType"] = "x-application/vnd.amazon+parquet"
    assert refused(sm, body).startswith(f"{uri}: file {corrupt} is not valid Parquet")
    ragged = tmp_path / "ragged.csv"
    ragged.write_text(breast_cancer.to_csv(index=False) + "1,2,3\n")
    assert "could not be read as CSV with a header row" in refused(sm, request(ragged))
    missing = f"{uri}: matches no data file; got '{tmp_path}/missing.csv'"
    assert refused(sm, request(tmp_path / "missing.csv")) == missing


def test_name_unique_case_insensitively(sm, train_csv):
    sm.create_auto_ml_job(**request(train_csv, name="Churn-Model", AutoMLJobConfig={
        "Mode": "ENSEMBLING", "CandidateGenerationConfig": {"AlgorithmsConfig": [
            {"AutoMLAlgorithms": ["linear-learner"]}]}}))
    with pytest.raises(ResourceInUse) as info:
        sm.create_auto_ml_job(**request(train_csv, name="churn-model"))
    assert info.value.message == ("AutoMLJobName: a job named 'Churn-Model' already exists (names are "
                                  "case-insensitive)")
    assert info.value.response["Error"]["Code"] == "ResourceInUse"
    sm.wait("churn-model", timeout=120)


def test_problem_type_and_objective_inferred(train_csv, tmp_path, breast_cancer, digits_csv):
    plan = resolve(request(train_csv))
    assert plan.problem_type is None
    assert load_dataset(plan).problem_type.value == "BinaryClassification"
    regression = tmp_path / "reg.csv"
    breast_cancer.drop(columns=["diagnosis"]).to_csv(regression, index=False)
    plan = resolve(request(regression, target="worst_area"))
    assert plan.with_problem(load_dataset(plan).problem_type).objective == "MSE"
    plan = resolve(request(digits_csv, target="target"))
    assert plan.with_problem(load_dataset(plan).problem_type).objective == "Accuracy"
    assert load_dataset(plan).problem_type.value == "MulticlassClassification"
