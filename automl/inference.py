"""The request and response formats of Autopilot's inference containers, shared by endpoints and batch transform.

In: `text/csv` rows without a header, the training feature columns in order (a first row that names every
feature is taken as a header, so a user's own data file works too); `application/json` as
`{"instances": [...]}` or a bare list, each instance a list in feature order, an object of column -> value,
`{"features": [...]}` or `{"data": {...}}`; `application/jsonlines`, one instance per line.
Out: the keys SAGEMAKER_INFERENCE_OUTPUT selects (default `predicted_label`), as headerless CSV (a list-valued
key is a JSON list in one quoted field: `"[0.1, 0.9]"`), `{"predictions": [{key: value}]}` JSON, or JSON Lines.
"""
from __future__ import annotations

import csv
import io
import json

import numpy as np
import pandas as pd

from automl.columns import ColumnKind
from automl.errors import field_error
from automl.problem import ProblemType

CSV, JSON, JSONLINES = "text/csv", "application/json", "application/jsonlines"
CONTENT_TYPES = {CSV: CSV, JSON: JSON, JSONLINES: JSONLINES, "application/x-jsonlines": JSONLINES}
SUPPORTED_KEYS = {
    ProblemType.BINARY: ("predicted_label", "probability", "probabilities", "labels"),
    ProblemType.MULTICLASS: ("predicted_label", "probability", "probabilities", "labels"),
    ProblemType.REGRESSION: ("predicted_label",),
}
MISSING = frozenset({"", "NA", "N/A", "NaN", "nan", "null", "None"})


def media_type(value: str | None, field: str, default: str = CSV) -> str:
    """`text/csv; charset=utf-8` -> `text/csv`; `*/*` or nothing -> `default`; others refused by name."""
    kind = (value or "").split(";")[0].strip().lower()
    if kind in ("", "*/*"):
        return default
    if kind not in CONTENT_TYPES:
        raise field_error(field, "must be one of " + ", ".join(CONTENT_TYPES), value)
    return CONTENT_TYPES[kind]


def output_keys(problem_type: ProblemType, selected: str | None) -> list[str]:
    """SAGEMAKER_INFERENCE_OUTPUT's keys, checked against what the problem type answers."""
    supported = SUPPORTED_KEYS[problem_type]
    keys = [k.strip() for k in (selected or "predicted_label").split(",") if k.strip()]
    wrong = [k for k in keys if k not in supported]
    if wrong or not keys:
        raise field_error("SAGEMAKER_INFERENCE_OUTPUT", f"a {problem_type.value} model answers "
                          + ", ".join(supported), selected)
    return keys


def parse_body(body: bytes, content_type: str | None, kinds: dict[str, ColumnKind]) -> pd.DataFrame:
    """The records of a request as a frame of the model's feature columns (strings and missing values: the
    model coerces them to its column kinds); a malformed record is refused with its number."""
    if not body.strip():
        raise field_error("Body", "is empty; send one record per line")
    kind = media_type(content_type, "ContentType")
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise field_error("Body", f"is not UTF-8 text: {exc}") from None
    if kind == CSV:
        frame = csv_records(text.splitlines(), list(kinds))
    elif kind == JSON:
        frame = json_records(_json(text, "Body"), list(kinds))
    else:
        lines = [line for line in text.splitlines() if line.strip()]
        frame = json_records([_json(line, f"Body line {i}") for i, line in enumerate(lines, start=1)], list(kinds))
    check_numeric(frame, kinds)
    return frame


def csv_records(lines: list[str], features: list[str], first_line: int = 1) -> pd.DataFrame:
    rows = list(csv.reader(line for line in lines if line.strip()))
    if rows and set(rows[0]) >= set(features) and len(set(rows[0])) == len(rows[0]):
        header, rows = rows[0], rows[1:]
        first_line += 1
        frame = pd.DataFrame(rows, columns=header, dtype=object) if rows else pd.DataFrame(columns=header)
        if any(len(r) != len(header) for r in rows):
            bad = next(i for i, r in enumerate(rows) if len(r) != len(header))
            raise field_error("Body", f"row {first_line + bad} has {len(rows[bad])} fields; the header has "
                                      f"{len(header)}")
        return _missing(frame[features])
    for i, row in enumerate(rows):
        if len(row) != len(features):
            raise field_error("Body", f"row {first_line + i} has {len(row)} fields; the model takes {len(features)} "
                              "(its training columns without the target, in order, no header)")
    return _missing(pd.DataFrame(rows, columns=features, dtype=object))


def _missing(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.where(~frame.isin(MISSING), None)


def _json(text: str, field: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise field_error(field, f"is not valid JSON: {exc}") from None


def json_records(value, features: list[str]) -> pd.DataFrame:
    instances = value.get("instances") if isinstance(value, dict) and "instances" in value else value
    if isinstance(instances, dict):
        instances = [instances]
    if not isinstance(instances, list) or not instances:
        raise field_error("Body", 'must be {"instances": [...]} or a list of records')
    rows = []
    for i, instance in enumerate(instances, start=1):
        if isinstance(instance, dict) and set(instance) <= {"features", "data"} and instance:
            instance = instance.get("features", instance.get("data"))
        if isinstance(instance, list):
            if len(instance) != len(features):
                raise field_error("Body", f"record {i} has {len(instance)} values; the model takes {len(features)} "
                                  "(its training columns without the target, in order)")
            rows.append(dict(zip(features, instance, strict=True)))
        elif isinstance(instance, dict):
            unknown = sorted(set(instance) - set(features))
            if unknown:
                raise field_error("Body", f"record {i} has columns the model was not trained on: "
                                  + ", ".join(unknown[:10]))
            rows.append(instance)
        else:
            raise field_error("Body", f"record {i} must be a list of values or an object of column -> value",
                              instance)
    frame = pd.DataFrame(rows, columns=features, dtype=object)
    return _missing(frame.astype(object).where(frame.notna(), None).map(
        lambda v: v if v is None or isinstance(v, str) else str(v)))


def check_numeric(frame: pd.DataFrame, kinds: dict[str, ColumnKind], first_line: int = 1) -> None:
    """A value that is not a number in a numeric column is refused, not silently read as missing."""
    for name, kind in kinds.items():
        if kind is not ColumnKind.NUMERIC:
            continue
        column = frame[name]
        numbers = pd.to_numeric(column, errors="coerce")
        bad = column.notna() & numbers.isna()
        if bad.any():
            position = int(np.flatnonzero(bad.to_numpy())[0])
            raise field_error("Body", f"row {first_line + position}, column {name!r}: is not a number (the column "
                              "is numeric)", column.iloc[position])


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def render(answer: pd.DataFrame, keys: list[str], accept: str | None) -> tuple[bytes, str]:
    """The answer's `keys` in the Accept format; returns (body, content type)."""
    kind = media_type(accept, "Accept")
    records = [[_plain(v) for v in row] for row in answer[keys].itertuples(index=False, name=None)]
    if kind == CSV:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        for row in records:
            writer.writerow([json.dumps(v) if isinstance(v, list) else v for v in row])
        return out.getvalue().encode(), CSV
    objects = [dict(zip(keys, row, strict=True)) for row in records]
    if kind == JSON:
        return json.dumps({"predictions": objects}).encode(), JSON
    return "".join(json.dumps(o) + "\n" for o in objects).encode(), JSONLINES
