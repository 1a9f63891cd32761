"""The inference wire format of Autopilot's containers: request bodies -> a feature frame, answers -> bytes.

Requests: `text/csv` (rows in the training feature order, no target; a first row naming every feature is read
as a header), `application/json` (`{"instances": [...]}` or a bare list) and `application/jsonlines` (one
instance a line); an instance is a list in feature order, an object of column -> value, or SageMaker's
`{"features": [...]}` / `{"data": {...}}`. Answers carry the keys SAGEMAKER_INFERENCE_OUTPUT selects, as
`text/csv`, `application/json` (`{"predictions": [...]}`) or `application/jsonlines`.

Every value is read as text, the way the training CSV was before its column kinds were applied, so the
endpoint, batch transform and training agree: numeric columns are parsed by Arrow (correctly rounded, as the
training data was; pandas' own parser is not), and a value that is not a number there is refused by row and
column rather than scored as missing.
"""
from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from automl.channels import read_any
from automl.columns import ColumnKind
from automl.errors import ValidationException, field_error, renamed_fields
from automl.problem import ProblemType
from automl.responses import INFERENCE_KEYS

CSV = "text/csv"
JSON = "application/json"
JSONLINES = "application/jsonlines"
CONTENT_TYPES = {CSV: CSV, JSON: JSON, JSONLINES: JSONLINES, "application/x-jsonlines": JSONLINES}
DEFAULT_OUTPUT = "predicted_label"
DATA_FIELDS = [("input.DataSource.S3DataSource.S3Uri", "data"), ("input", "data")]  # predict's errors name `data`
MISSING_TEXT = frozenset(pacsv.ConvertOptions().null_values)  # what Arrow reads as missing in the training CSV


class RecordError(ValidationException):
    """One record the model cannot take. `row` counts the body's records from 1 (not a header, not blank lines),
    so a batch transform can name the record's line in its file."""

    def __init__(self, row: int, rule: str, got: object = None):
        super().__init__(field_error(f"row {row}", rule, got).message)
        self.row, self.rule, self.got = row, rule, got


def media_type(value: str | None, field: str, accepted: Mapping[str, str]) -> str:
    """The canonical type for a Content-Type or Accept value (parameters such as `; charset=utf-8` dropped)."""
    media = (value or "").split(";")[0].strip().lower()
    if media not in accepted:
        raise field_error(field, "must be one of " + ", ".join(accepted), value)
    return accepted[media]


def csv_header(first_line: bytes, features: list[str]) -> list[str] | None:
    """The first line's fields when they name every feature (any order, other columns such as the target
    allowed: what a user's own data file starts with); None when the line is a record."""
    fields = next(csv.reader([first_line.decode("utf-8", errors="replace").rstrip("\r\n")]), [])
    return fields if set(features) <= set(fields) else None


def parse_body(body: bytes, content_type: str, features: list[str],
               kinds: Mapping[str, ColumnKind] | None = None) -> pd.DataFrame:
    """The records of a request as a frame of `features`: text or missing values, numeric `kinds` as floats.

    Without `kinds` every value stays text (the model's kinds coerce it, without the checks)."""
    media = media_type(content_type, "ContentType", CONTENT_TYPES)
    if not body.strip():
        raise field_error("Body", "must hold at least one record; got an empty body")
    if media == CSV:
        table = _csv_table(body, features)
    else:
        table = _instances_table(_json_instances(body) if media == JSON else _jsonlines_instances(body), features)
    if table.num_rows == 0:
        raise field_error("Body", "must hold at least one record; got a header only")
    for name, kind in (kinds or {}).items():
        if kind is ColumnKind.NUMERIC:
            table = table.set_column(table.column_names.index(name), name, _numbers(table.column(name), name))
    return table.to_pandas()


def _csv_table(body: bytes, features: list[str]) -> pa.Table:
    header = csv_header(body.split(b"\n", 1)[0], features)
    width = len(header) if header else len(features)
    positions = [str(header.index(f)) for f in features] if header else [str(i) for i in range(width)]
    invalid = []

    def first_invalid(row) -> str:
        invalid.append(row)
        return "error"

    try:
        table = pacsv.read_csv(
            io.BytesIO(body),
            read_options=pacsv.ReadOptions(column_names=[str(i) for i in range(width)], skip_rows=1 if header else 0,
                                           use_threads=False),
            parse_options=pacsv.ParseOptions(invalid_row_handler=first_invalid),
            convert_options=pacsv.ConvertOptions(column_types={p: pa.string() for p in positions},
                                                 strings_can_be_null=True, include_columns=positions))
    except pa.ArrowInvalid as exc:
        if invalid:
            row = invalid[0]
            record = row.number - (1 if header else 0) if row.number is not None else 1
            what = "the header's" if header else "the model's features"
            raise RecordError(record, f"must have {width} fields, as {what}", row.actual_columns) from None
        raise field_error("Body", f"is not valid CSV: {exc}") from None
    return table.rename_columns(features)


def _json_document(text: bytes | str, row: int | None):
    try:
        return json.loads(text)
    except ValueError as exc:
        if row is None:
            raise field_error("Body", f"is not valid JSON: {exc}") from None
        raise RecordError(row, f"is not valid JSON: {exc}") from None


def _json_instances(body: bytes) -> list:
    data = _json_document(body, None)
    if isinstance(data, dict) and isinstance(data.get("instances"), list):
        return data["instances"]
    if isinstance(data, list):
        return data
    raise field_error("Body", 'must be {"instances": [...]} or a list of instances', type(data).__name__)


def _jsonlines_instances(body: bytes) -> list:
    lines = [line for line in body.splitlines() if line.strip()]
    return [_json_document(line, row) for row, line in enumerate(lines, start=1)]


def _instances_table(instances: list, features: list[str]) -> pa.Table:
    rows = [_instance_values(instance, features, row) for row, instance in enumerate(instances, start=1)]
    columns = zip(*rows, strict=True) if rows else [[] for _ in features]
    return pa.table({name: pa.array(values, pa.string()) for name, values in zip(features, columns, strict=True)})


def _instance_values(instance, features: list[str], row: int) -> list[str | None]:
    if isinstance(instance, dict) and set(instance) == {"features"}:
        instance = instance["features"]
    elif isinstance(instance, dict) and set(instance) == {"data"} and isinstance(instance["data"], dict):
        instance = instance["data"]
    if isinstance(instance, list):
        if len(instance) != len(features):
            raise RecordError(row, f"must have {len(features)} values, one per feature", len(instance))
        values = instance
    elif isinstance(instance, dict):
        missing = [f for f in features if f not in instance]
        if missing:
            raise RecordError(row, "lacks features (send null for a missing value): " + ", ".join(missing[:20]))
        values = [instance[f] for f in features]
    else:
        raise RecordError(row, "must be a list of values or an object of column -> value", type(instance).__name__)
    return [_text(value, row) for value in values]


def _text(value, row: int) -> str | None:
    """A JSON scalar as the training CSV would have held it (floats in their shortest exact form)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (bool, int)):
        return str(value)
    raise RecordError(row, "values must be strings, numbers, booleans or null", json.dumps(value)[:80])


def _numbers(column: pa.ChunkedArray, name: str) -> pa.ChunkedArray:
    text = pc.utf8_trim_whitespace(column)
    try:
        return pc.cast(text, pa.float64())
    except pa.ArrowInvalid:
        for row, value in enumerate(text.to_pylist(), start=1):
            if value is not None and not _is_number(value):
                raise RecordError(row, f"{name} must be a number", value) from None
        raise


def _is_number(text: str) -> bool:
    try:
        pc.cast(pa.array([text]), pa.float64())
    except pa.ArrowInvalid:
        return False
    return True


def prediction_frame(data, kinds: Mapping[str, ColumnKind]) -> pd.DataFrame:
    """What Python predict scores: a DataFrame as it is, a 2-D array in the training columns' order, or a data
    location read as a channel is. Refused, naming the argument `data`: no rows (scikit-learn's 0-samples error
    otherwise), missing columns, and a value that is no number in a column the model was trained on as numeric
    (which scoring would read as missing: the endpoint refuses it too)."""
    features = list(kinds)
    with renamed_fields(DATA_FIELDS):
        if isinstance(data, pd.DataFrame):
            frame, what = data, "the DataFrame"
        elif isinstance(data, np.ndarray):
            frame, what = _array_frame(data, features), "the array"
        elif isinstance(data, (str, os.PathLike)):
            frame, what = read_any(data), str(data)
        else:
            raise field_error("data", "must be a pandas DataFrame, a 2-D numpy array or a data location (a path or "
                              "URI)", type(data).__name__)
    if len(frame) == 0:
        raise field_error("data", f"{what} has no rows")
    missing = [f for f in features if f not in frame.columns]
    if missing:
        raise field_error("data", "lacks columns the model was trained on: " + ", ".join(missing[:20]))
    for name, kind in kinds.items():
        if kind is ColumnKind.NUMERIC:
            _check_numbers(frame[name], name)
    return frame


def _array_frame(data: np.ndarray, features: list[str]) -> pd.DataFrame:
    if data.ndim != 2 or data.shape[1] != len(features):
        shown = ", ".join(features[:20]) + (", ..." if len(features) > 20 else "")
        raise field_error("data", f"a numpy array must be 2-D with one column per feature, in the training order "
                          f"({len(features)}: {shown}); otherwise pass a DataFrame or a data location",
                          f"shape {data.shape}")
    return pd.DataFrame(data, columns=features)


def _check_numbers(column: pd.Series, name: str) -> None:
    if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        return
    parsed = pd.to_numeric(column, errors="coerce")
    text = column.astype("string").str.strip()
    bad = (parsed.isna() & column.notna() & ~text.isin(MISSING_TEXT)).to_numpy()
    if bad.any():
        rows = np.flatnonzero(bad)
        more = f" (and {len(rows) - 1} more row{'s' if len(rows) > 2 else ''})" if len(rows) > 1 else ""
        raise field_error("data", f"row {rows[0] + 1}, column {name!r}: must be a number, as the model was trained "
                          f"on it{more}", column.iloc[rows[0]])


def output_keys(problem_type: ProblemType, env_value: str | None) -> list[str]:
    """The answer's keys from SAGEMAKER_INFERENCE_OUTPUT (comma-separated; unset or empty: predicted_label)."""
    supported = INFERENCE_KEYS[problem_type].split(",")
    keys = [k.strip() for k in (env_value or DEFAULT_OUTPUT).split(",")]
    if not set(keys) <= set(supported) or len(set(keys)) != len(keys):
        raise field_error("SAGEMAKER_INFERENCE_OUTPUT", f"must list each of its keys once, from those a "
                          f"{problem_type.value} model supports: {','.join(supported)}", env_value)
    return keys


def render(answer: pd.DataFrame, keys: list[str], accept: str | None) -> tuple[bytes, str]:
    """(body, content type) of the answer's `keys`, one record per row of `answer`.

    `text/csv` (also for a missing Accept or `*/*`): no header; a list-valued key (probabilities, labels) is
    JSON in one quoted CSV field, its inner quotes doubled as CSV escapes them: `"[0.1, 0.9]"`,
    `"[""benign"", ""malignant""]"`; a CSV reader gives back the JSON text."""
    media = _answer_type(accept)
    columns = [[_python(v) for v in answer[key].tolist()] for key in keys]
    records = list(zip(*columns, strict=True))
    if media == JSON:
        body = json.dumps({"predictions": [dict(zip(keys, r, strict=True)) for r in records]}) + "\n"
    elif media == JSONLINES:
        body = "".join(json.dumps(dict(zip(keys, r, strict=True))) + "\n" for r in records)
    else:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerows([json.dumps(v) if isinstance(v, list) else v for v in r] for r in records)
        body = out.getvalue()
    return body.encode(), media


def _answer_type(accept: str | None) -> str:
    """The first type of an Accept list this codec writes; `*/*` or nothing: CSV."""
    for part in (accept or "*/*").split(","):
        media = part.split(";")[0].strip().lower()
        if media == "*/*":
            return CSV
        if media in CONTENT_TYPES:
            return CONTENT_TYPES[media]
    raise field_error("Accept", "must be one of " + ", ".join(CONTENT_TYPES) + " or */*", accept)


def _python(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_python(v) for v in value]
    return value
