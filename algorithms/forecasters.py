"""The forecaster registry: Autopilot's six under their API names, then this engine's extras, each loaded on
first use (`module:Class`), so listing names imports no model library.

`AUTOPILOT` is Autopilot's documented set; `EXTRAS` run only when AlgorithmsConfig does not restrict the job.
"""
from __future__ import annotations

import importlib

from algorithms.forecaster import Forecaster

AUTOPILOT: dict[str, str] = {
    "arima": "algorithms.arima:Arima",
    "ets": "algorithms.ets:Ets",
    "npts": "algorithms.npts:Npts",
    "prophet": "algorithms.prophet:Prophet",
    "deepar": "algorithms.deepar:DeepAR",
    "cnn-qr": "algorithms.cnn_qr:CnnQr",
}
EXTRAS: dict[str, str] = {
    "seasonal-naive": "algorithms.seasonal_naive:SeasonalNaive",
    "theta": "algorithms.theta:Theta",
    "mstl": "algorithms.mstl:Mstl",
    "recursive-lightgbm": "algorithms.recursive_lightgbm:RecursiveLightGBM",
}
FORECASTERS: dict[str, str] = AUTOPILOT | EXTRAS


def forecaster(name: str) -> type[Forecaster]:
    module, cls = FORECASTERS[name].split(":")
    return getattr(importlib.import_module(module), cls)
