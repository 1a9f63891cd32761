"""ModelDeployConfig without a server: the rules at create, and a deployment that fails keeps the job's models."""
from __future__ import annotations

import pytest

from automl import endpoints
from automl.errors import ValidationException
from tests.conftest import BREAST_CANCER, only, request


def _body(tmp_path, name, deploy, **extra):
    config = only("linear-learner") | {"CompletionCriteria": {"MaxCandidates": 1}}
    return request(BREAST_CANCER, name=name, output=tmp_path / "out", ModelDeployConfig=deploy,
                   AutoMLJobConfig=config, **extra)


def test_endpoint_rules_at_create(sm, tmp_path):
    endpoints.insert(sm.store, "taken", "other-job", "other-job-c", "file:///nowhere/model.joblib")
    with pytest.raises(ValidationException) as caught:
        sm.create_auto_ml_job(**_body(tmp_path, "a", {"EndpointName": "TAKEN"}))
    assert caught.value.message == ("ModelDeployConfig.EndpointName: an endpoint of that name exists (serving job "
                                    "'other-job'); choose another name or delete it with DeleteEndpoint; got 'TAKEN'")
    with pytest.raises(ValidationException) as caught:
        sm.create_auto_ml_job(**_body(tmp_path, "b", {"AutoGenerateEndpointName": True},
                                      GenerateCandidateDefinitionsOnly=True))
    assert caught.value.message.startswith("ModelDeployConfig: a GenerateCandidateDefinitionsOnly job trains no model")
    assert sm.list_auto_ml_jobs()["AutoMLJobSummaries"] == []


def test_a_failed_deployment_keeps_the_models(sm, tmp_path):
    sm.create_auto_ml_job(**_body(tmp_path, "late", {"EndpointName": "contested"}))
    # Another job takes the name while this one trains: the deployment, not the training, fails.
    endpoints.insert(sm.store, "contested", "first", "first-c", "file:///nowhere/model.joblib")
    answer = sm.wait("late", timeout=120)
    assert (answer["AutoMLJobStatus"], answer["AutoMLJobSecondaryStatus"]) == ("Failed", "ModelDeploymentError")
    assert answer["FailureReason"] == ("deploying endpoint 'contested' failed: EndpointName: an endpoint named "
                                       "'contested' already exists (serving job 'first')")
    assert "ModelDeployResult" not in answer
    assert answer["BestCandidate"]["CandidateStatus"] == "Completed"
    assert (tmp_path / "out" / "late" / "best_candidate" / "model.joblib").exists()
    assert len(sm.predict("late", BREAST_CANCER)) == 569
    assert endpoints.get(sm.store, "contested").job == "first"
