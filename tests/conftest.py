"""Shared fixtures: an isolated AUTOML_HOME per test, small real datasets, and a request builder."""
from __future__ import annotations

import copy
import time
from pathlib import Path

import pandas as pd
import pytest

import automl
from automl.contract import validate_response

REPO = Path(__file__).resolve().parents[1]
BREAST_CANCER = REPO / "automl" / "data" / "breast_cancer.csv"
SHARED = REPO.parent / "shared" / "datasets"
ROLE = "arn:aws:iam::000000000000:role/automl-local"


@pytest.fixture
def home(tmp_path, monkeypatch):
    root = tmp_path / "home"
    monkeypatch.setenv("AUTOML_HOME", str(root))
    return root


@pytest.fixture
def sm(home):
    return automl.client()


@pytest.fixture(scope="session")
def breast_cancer() -> pd.DataFrame:
    return pd.read_csv(BREAST_CANCER)


@pytest.fixture(scope="session")
def digits_csv(tmp_path_factory) -> Path:
    """Multiclass: scikit-learn's bundled handwritten digits (1797 rows, 10 classes)."""
    from sklearn.datasets import load_digits

    frame = load_digits(as_frame=True).frame
    path = tmp_path_factory.mktemp("digits") / "digits.csv"
    frame.to_csv(path, index=False)
    return path


def request(data, target="diagnosis", name="job-1", output=None, **extra) -> dict:
    body = {
        "AutoMLJobName": name,
        "InputDataConfig": [{"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": str(data)}},
                             "TargetAttributeName": target}],
        "OutputDataConfig": {"S3OutputPath": str(output or Path(str(data)).parent / "out")},
        "RoleArn": ROLE,
    }
    for key, value in extra.items():
        body[key] = copy.deepcopy(value)
    return body


def wait_for(sm, name, predicate, timeout=120):
    """Poll Describe until `predicate(describe)` holds; returns that Describe."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        answer = sm.describe_auto_ml_job(AutoMLJobName=name)
        validate_response("DescribeAutoMLJob", answer)
        if predicate(answer):
            return answer
        time.sleep(0.2)
    raise AssertionError(f"{name}: condition not reached in {timeout} s; last {answer['AutoMLJobSecondaryStatus']}")
