"""The runners, one per mode, keyed by the mode they run: the worker and the API ask here instead of
choosing by name, so a new mode (forecasting) is one more entry. Each loads on first use: a training process
importing `runners.executors` must not import every runner."""
from __future__ import annotations

import importlib

from automl.problem import Mode

RUNNERS: dict[Mode, str] = {Mode.ENSEMBLING: "runners.ensembling:EnsemblingRunner",
                            Mode.HYPERPARAMETER_TUNING: "runners.tuning:TuningRunner",
                            Mode.FORECASTING: "runners.forecasting:ForecastingRunner"}


def runner_for(mode: Mode):
    """The `runners.base.Runner` subclass that runs `mode`."""
    module, name = RUNNERS[mode].split(":")
    return getattr(importlib.import_module(module), name)
