"""The runners, one per mode, keyed by the mode they run: the worker and the API ask here instead of
choosing by name, so a new mode (forecasting) is one more entry. Each loads on first use: a training process
importing `runners.executors` must not import every runner."""
from __future__ import annotations

import importlib
from typing import Protocol

from automl.problem import Mode

RUNNERS: dict[Mode, str] = {Mode.ENSEMBLING: "runners.ensembling:EnsemblingRunner",
                            Mode.HYPERPARAMETER_TUNING: "runners.tuning:TuningRunner",
                            Mode.FORECASTING: "runners.forecasting:ForecastingRunner"}
# The module each mode's training processes run: the local executor's fork server imports it once.
PRELOAD: dict[Mode, tuple[str, ...]] = {Mode.ENSEMBLING: ("runners.bagging",),
                                        Mode.HYPERPARAMETER_TUNING: ("runners.tuning",),
                                        Mode.FORECASTING: ("runners.backtest",)}


def runner_for(mode: Mode):
    """The `runners.base.Runner` subclass that runs `mode`."""
    module, name = RUNNERS[mode].split(":")
    return getattr(importlib.import_module(module), name)


class Placed(Protocol):
    """What a job's plan says of where its tasks run."""

    mode: Mode
    dask_scheduler: str  # empty: this machine's processes
    definitions_only: bool  # nothing is trained


def preload_for(plan: Placed) -> tuple[str, ...]:
    """The modules the job's local fork server imports; none where the job trains nothing here."""
    return () if plan.dask_scheduler or plan.definitions_only else PRELOAD[plan.mode]
