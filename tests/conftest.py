"""Shared fixtures: an isolated AUTOML_HOME per test, small real datasets, and a request builder."""
from __future__ import annotations

import copy
import multiprocessing
import multiprocessing.forkserver
import socket
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import automl
from algorithms.linear_learner import LinearLearner
from automl.artifacts import JobOutput
from automl.budget import Budget
from automl.contract import validate_response
from automl.dataset import load_dataset
from automl.spec import resolve
from runners import study as studies
from runners.base import RunContext
from runners.training import save_dataset
from tests.postgres import postgres_url  # noqa: F401  (the fixture, for every test module)

REPO = Path(__file__).resolve().parents[1]
BREAST_CANCER = REPO / "automl" / "data" / "breast_cancer.csv"
SHARED = REPO.parent / "shared" / "datasets"
ROLE = "arn:aws:iam::000000000000:role/automl-local"


# The suite runs on pytest-xdist's workers a module at a time (pyproject's addopts); they take modules in this
# order, the longest first (measured on 2 cores), so that no long module starts last while the others idle.
LONGEST_FIRST = ("test_jobs", "test_faults", "test_tuning", "test_dask", "test_shared_datasets", "test_cleanup",
                 "test_forecasting", "test_explain", "test_reports", "test_cli_output", "test_algorithms", "test_cli")


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.stem, len(rank)))


@pytest.fixture(autouse=True, scope="session")
def fork_server_per_preload():
    """A job's worker runs one mode, so its fork server's preload (runners.PRELOAD) is set once. This process
    runs the runners of several modes one test after another, and multiprocessing keeps the first fork server
    it started: a later test's children would then import their runner's modules each time (seconds on a busy
    machine, charged to the candidate's time limit). So a preload that asks for modules the running server
    lacks stops it, and the next task starts one with that preload."""
    server = multiprocessing.forkserver._forkserver
    original = server.set_forkserver_preload

    def set_preload(modules):
        if (server._forkserver_pid is not None and not set(modules) <= set(server._preload_modules)
                and not multiprocessing.active_children()):
            server._stop()
        original(modules)

    multiprocessing.forkserver.set_forkserver_preload = set_preload
    yield
    multiprocessing.forkserver.set_forkserver_preload = original


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


def only(*names, mode="ENSEMBLING"):
    return {"Mode": mode, "CandidateGenerationConfig": {"AlgorithmsConfig": [{"AutoMLAlgorithms": list(names)}]}}


@pytest.fixture(scope="session")
def slow_csv(tmp_path_factory):
    """Digits six times over with pixel noise: 10,782 rows on which lightgbm runs for tens of seconds."""
    from sklearn.datasets import load_digits

    frame = load_digits(as_frame=True).frame
    big = pd.concat([frame] * 6, ignore_index=True)
    big.iloc[:, :64] += np.random.default_rng(0).normal(0, 1, (len(big), 64))
    path = tmp_path_factory.mktemp("slow") / "digits6.csv"
    big.to_csv(path, index=False)
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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def s3_server():
    """A local S3-compatible server (moto) on 127.0.0.1, reached through the standard AWS settings."""
    moto_server = pytest.importorskip("moto.server")
    port = _free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3(s3_server, monkeypatch):
    import boto3

    for key, value in {"AWS_ENDPOINT_URL": s3_server, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                       "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(key, value)
    client = boto3.client("s3", endpoint_url=s3_server)
    client.create_bucket(Bucket="data")
    import fsspec
    fsspec.config.conf.clear()
    import s3fs
    s3fs.S3FileSystem.clear_instance_cache()
    return client


class Exploding(LinearLearner):
    """linear-learner whose fit raises: stands for any candidate that crashes mid-fit."""

    def fit(self, X, y, **kwargs):
        raise ValueError("singular matrix")


class Stubborn(LinearLearner):
    """linear-learner that ignores its deadline: only the executor's hard limit can end it."""

    def fit(self, X, y, **kwargs):
        time.sleep(30)
        return super().fit(X, y, **kwargs)


def run_context(tmp_path, names, per_candidate_s=60, max_candidates=None, mode="HYPERPARAMETER_TUNING"):
    """A runner's context on breast cancer in this process (patched algorithms reach the training processes,
    which receive classes by reference), recording candidates into the returned dict."""
    criteria = {} if max_candidates is None else {"MaxCandidates": max_candidates}
    body = request(BREAST_CANCER, output=tmp_path / "out", AutoMLJobConfig={
        "Mode": mode, "CompletionCriteria": criteria,
        "CandidateGenerationConfig": {"AlgorithmsConfig": [{"AutoMLAlgorithms": names}]}})
    plan = resolve(body)
    dataset = load_dataset(plan)
    plan = replace(plan.with_problem(dataset.problem_type), study_storage=studies.storage_url(tmp_path, plan.name))
    records = {}
    path = tmp_path / "scratch" / "dataset.joblib"
    save_dataset(dataset, path)
    return RunContext(plan=plan, dataset=dataset, dataset_path=path,
                      budget=Budget(time.time(), 120, per_candidate_s, plan.max_candidates),
                      output=JobOutput(plan.job_output), should_stop=lambda: False,
                      record=lambda r: records.__setitem__(r.name, r),
                      recorded=lambda: dict(records), threads=lambda: 1), records
