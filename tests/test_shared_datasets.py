"""End to end on a real dataset of ../shared/datasets (skipped, with the reason, where it is absent)."""
import json

import pandas as pd
import pytest
from sklearn.metrics import f1_score

from automl.cli import main
from tests.conftest import SHARED, request

CREDIT = SHARED / "credit_g"
pytestmark = pytest.mark.skipif(not (CREDIT / "train.csv").exists(),
                                reason=f"shared dataset credit_g not found at {CREDIT}")


def test_credit_g_through_the_api_and_predict_reproduces_the_score(sm, tmp_path):
    body = request(CREDIT / "train.csv", target="class", name="credit", output=tmp_path / "out",
                   AutoMLJobConfig={"CompletionCriteria": {"MaxAutoMLJobRuntimeInSeconds": 60}})
    body["InputDataConfig"].append({"DataSource": {"S3DataSource": {
        "S3DataType": "S3Prefix", "S3Uri": f"file://{CREDIT / 'test.csv'}"}}, "TargetAttributeName": "class",
        "ChannelType": "validation"})
    sm.create_auto_ml_job(**body)
    final = sm.wait("credit", timeout=300)
    assert final["AutoMLJobStatus"] == "Completed", final.get("FailureReason")
    best = final["BestCandidate"]["FinalAutoMLJobObjectiveMetric"]
    assert best["MetricName"] == "F1"
    test = pd.read_csv(CREDIT / "test.csv")
    predicted = sm.predict("credit", CREDIT / "test.csv")["predicted_label"]
    # The minority class ('bad') is the positive one.
    assert f1_score(test["class"], predicted, pos_label="bad") == pytest.approx(best["Value"], abs=1e-12)
    best_definition = json.loads((tmp_path / "out" / "credit" / "best_candidate" / "definition.json").read_text())
    assert best_definition["CandidateName"] == final["BestCandidate"]["CandidateName"]
    lightgbm = json.loads((tmp_path / "out" / "credit" / "candidates" / "credit-lightgbm-L1" / "definition.json"
                           ).read_text())
    assert "categorical" in lightgbm["Preprocessing"]["Columns"].values()


def test_credit_g_through_the_cli(home, tmp_path, capsys):
    code = main(["run", str(CREDIT / "train.csv"), "--target", "class", "--name", "credit-cli",
                 "--output", str(tmp_path / "out"), "--max-runtime", "30"])
    assert code == 0
    out = tmp_path / "out" / "credit-cli"
    assert {"leaderboard.csv", "describe.json", "best_candidate", "candidates"} <= {p.name for p in out.iterdir()}
    code = main(["predict", "--job", "credit-cli", "--input", str(CREDIT / "test.csv"),
                 "--output", str(tmp_path / "p.parquet")])
    predictions = pd.read_parquet(tmp_path / "p.parquet")
    truth = pd.read_csv(CREDIT / "test.csv")["class"]
    assert code == 0 and (predictions["predicted_label"] == truth).mean() > 0.7
