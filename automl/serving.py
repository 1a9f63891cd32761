"""A deployed endpoint's model, loaded once: bytes in (the request's ContentType), bytes out (its Accept).

Tabular models speak Autopilot's inference containers' formats (automl.inference: headerless CSV rows in the
training columns' order, or JSON), answering the keys SAGEMAKER_INFERENCE_OUTPUT selects (read from the
serving process's environment, default `predicted_label`). Forecasting models take the history of the series to
forecast (CSV with a header, or JSON Lines rows, the training channel's columns) and answer the forecast rows:
item and timestamp columns, `mean` and the quantiles, as CSV with a header or JSON.
"""
from __future__ import annotations

import io
import json
import os
from typing import Protocol

import pandas as pd
import sklearn

from automl import inference
from automl.endpoints import VARIANT, Endpoint
from automl.errors import field_error
from automl.estimator import load_model
from automl.forecast_model import forecast_predictor
from automl.forecast_plan import ForecastPlan, load_plan
from automl.store import Store


class ServedModel(Protocol):
    variant: str

    def invoke(self, body: bytes, content_type: str | None, accept: str | None) -> tuple[bytes, str]: ...

    def check(self) -> None:
        """Answer one request before the endpoint is InService (a model that loads but cannot predict fails)."""


class ServedTabular:
    variant = VARIANT

    def __init__(self, model_uri: str):
        self.model = load_model(model_uri)
        self.kinds = dict(self.model.model.kinds)
        self.features = list(self.kinds)
        self.keys = inference.output_keys(self.model.model.problem_type, os.environ.get("SAGEMAKER_INFERENCE_OUTPUT"))

    def invoke(self, body: bytes, content_type: str | None, accept: str | None) -> tuple[bytes, str]:
        frame = inference.parse_body(body, content_type, self.features, self.kinds)
        # The fitted estimators' parameters were checked when they were fitted; checking them again on every call
        # is a fifth of a one-row prediction.
        with sklearn.config_context(skip_parameter_validation=True):
            answer = self.model.infer(frame)
        return inference.render(answer, self.keys, accept)

    def check(self) -> None:
        row = ",".join("" for _ in self.model.feature_names_in_)  # every value missing: imputed by any pipeline
        self.invoke(row.encode(), "text/csv", "text/csv")


class ServedForecast:
    variant = VARIANT
    CONTENT_TYPES = ("text/csv", "application/jsonlines", "application/x-jsonlines")

    def __init__(self, store: Store, endpoint: Endpoint):
        self.predictor = forecast_predictor(store, endpoint.job, model_uri=endpoint.model_uri)

    def invoke(self, body: bytes, content_type: str | None, accept: str | None) -> tuple[bytes, str]:
        kind = (content_type or "text/csv").split(";")[0].strip().lower()
        if kind not in self.CONTENT_TYPES:
            raise field_error("ContentType", "a forecasting endpoint takes " + ", ".join(self.CONTENT_TYPES), kind)
        if not body.strip():
            raise field_error("Body", "is empty; send the history of the series to forecast")
        try:
            history = (pd.read_csv(io.BytesIO(body)) if kind == "text/csv"
                       else pd.read_json(io.BytesIO(body), lines=True))
        except ValueError as exc:
            raise field_error("Body", f"is not {kind} with the training channel's columns: {exc}") from None
        forecast = self.predictor.predict(history)
        out = (accept or "text/csv").split(";")[0].strip().lower()
        if out in ("text/csv", "*/*"):
            return forecast.to_csv(index=False).encode(), "text/csv"
        if out == "application/json":
            rows = json.loads(forecast.to_json(orient="records", date_format="iso"))
            return json.dumps({"predictions": rows}).encode(), "application/json"
        raise field_error("Accept", "a forecasting endpoint answers text/csv or application/json", accept)

    def check(self) -> None:
        """Its forecasts of the training history were written and backtested by the job; loading is the check."""


def load_served(store: Store, endpoint: Endpoint) -> ServedModel:
    if isinstance(load_plan(store.job(endpoint.job).plan), ForecastPlan):
        return ServedForecast(store, endpoint)
    return ServedTabular(endpoint.model_uri)

