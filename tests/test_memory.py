"""AUTOML_MAX_MEMORY: parsed and checked at create; a task growing past it is ended by its executor (the
candidate fails with the reason, the job's worker lives on); the planner shrinks or refuses what would not fit."""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import psutil
import pytest

from automl.errors import ValidationException
from runners import memory
from runners.executors import LocalProcessExecutor, OutcomeStatus
from tests.conftest import BREAST_CANCER, only, request


@dataclass(frozen=True)
class Grow:
    """Takes memory 100 MB at a time (touched, so it is resident), up to `mb`."""

    mb: int

    def run(self, deadline: float) -> dict:
        held = []
        for _ in range(self.mb // 100):
            held.append(np.ones(100 * 1024 ** 2 // 8))
            time.sleep(0.05)
        return {"held_mb": 100 * len(held)}


def test_the_setting_reads_bytes_units_and_shares(monkeypatch):
    monkeypatch.setenv("AUTOML_MAX_MEMORY", "1.5G")
    assert memory.max_memory_bytes() == int(1.5 * 1024 ** 3)
    monkeypatch.setenv("AUTOML_MAX_MEMORY", "512MiB")
    assert memory.max_memory_bytes() == 512 * 1024 ** 2
    monkeypatch.setenv("AUTOML_MAX_MEMORY", "50%")
    assert memory.max_memory_bytes() == int(0.5 * memory.machine_bytes())
    monkeypatch.delenv("AUTOML_MAX_MEMORY")
    assert memory.max_memory_bytes() == int(0.8 * memory.machine_bytes())
    for bad in ("lots", "0", "150%", "-3G"):
        monkeypatch.setenv("AUTOML_MAX_MEMORY", bad)
        with pytest.raises(ValidationException, match="^[^:]*: AUTOML_MAX_MEMORY: must be a number of bytes"):
            memory.max_memory_bytes()


def test_a_malformed_cap_refuses_the_job_and_stores_nothing(sm, tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOML_MAX_MEMORY", "lots")
    with pytest.raises(ValidationException, match="AUTOML_MAX_MEMORY"):
        sm.create_auto_ml_job(**request(BREAST_CANCER, name="greedy", output=tmp_path / "out"))
    assert sm.list_auto_ml_jobs()["AutoMLJobSummaries"] == []


def test_a_task_past_the_cap_is_ended_and_fails_with_the_reason(monkeypatch):
    executor = LocalProcessExecutor(lambda: False)
    executor.warm()
    executor.cap = memory.tree_bytes(psutil.Process().pid) + 600 * 1024 ** 2
    small = executor.submit(Grow(200), deadline=time.time() + 60).result()
    assert small.status is OutcomeStatus.COMPLETED and small.result == {"held_mb": 200}
    outcome = executor.submit(Grow(3000), deadline=time.time() + 60).result()
    assert outcome.status is OutcomeStatus.FAILED
    assert "more than AUTOML_MAX_MEMORY allows" in outcome.error and "this candidate's processes held" in outcome.error
    held = int(outcome.error.split("held ")[1].split(" MB")[0])
    assert 400 <= held < 3000, "ended soon after the job passed the cap, long before the task took what it asked"


def test_a_job_under_a_cap_too_small_for_any_candidate_fails_saying_so(sm, tmp_path, monkeypatch):
    """Every candidate ends at the cap; the job ends Failed with their reasons, not killed by the kernel."""
    monkeypatch.setenv("AUTOML_MAX_MEMORY", "64M")
    sm.create_auto_ml_job(**request(BREAST_CANCER, name="tight", output=tmp_path / "out",
                                    AutoMLJobConfig=only("linear-learner", "lightgbm")))
    final = sm.wait("tight", timeout=120)
    assert final["AutoMLJobStatus"] == "Failed"
    assert final["FailureReason"].startswith("no candidate finished")
    assert "more than AUTOML_MAX_MEMORY allows (64 MB)" in final["FailureReason"]
    reasons = [r["PartialFailureMessage"] for r in final["PartialFailureReasons"]]
    assert any(r.startswith("tight-linear-learner-L1: its processes reached ") for r in reasons)
