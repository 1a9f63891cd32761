"""What a tabular profile means for the job, as Autopilot's data report phrases it: each finding names a column
(or none), what was seen, and what to do about it, in the engine's own terms (its row minimum, its objectives,
its category encoding)."""
from __future__ import annotations

import re

import pandas as pd

from automl.columns import ColumnKind
from automl.dataset import MIN_TRAINING_ROWS
from automl.features import MAX_ONE_HOT_LEVELS, RARE_LEVEL_MIN_COUNT

LEAKAGE_SCORE = 0.98
MOSTLY_MISSING = 0.5
IMBALANCE_RATIO = 10.0
SKEW = 1.0
ID_NAME = re.compile(r"(?i:^id$)|[_\-\s.](?i:id)$|[a-z0-9](?:Id|ID)$|(?i:^(?:uuid|guid)$)")
ID_NAME_MIN_DISTINCT_SHARE = 0.5
MISSING_MARKERS = {"?", "na", "n/a", "nan", "null", "none", "-", "", "missing", "unknown"}
ID_MIN_ROWS = 20  # fewer rows than this are unique by chance


def finding(kind: str, column: str | None, message: str, suggestion: str) -> dict:
    return {"kind": kind, "column": column, "message": message, "suggestion": suggestion}


def tabular_findings(prof: dict) -> list[dict]:
    """Findings in reading order: the data as a whole, the target, then each column."""
    found = _dataset_findings(prof) + _target_findings(prof["target"])
    ids: set[str] = set()
    for column in prof["columns"]:
        found += _column_findings(column, ids)
    found += _leakage(prof, ids)
    if "weight" in prof and prof["weight"]["invalid_rows"]:
        w = prof["weight"]
        found.append(finding("invalid_weights", w["name"], f"{w['invalid_rows']:,} rows have a missing, non-numeric "
                             "or negative sample weight.", "The engine drops these rows; fix or fill their weights "
                             "to keep them."))
    return found


def _dataset_findings(prof: dict) -> list[dict]:
    data, found = prof["dataset"], []
    if data["rows_with_target"] < MIN_TRAINING_ROWS:
        found.append(finding("too_few_rows", None, f"Only {data['rows_with_target']:,} rows have a target value; "
                             f"the engine needs at least {MIN_TRAINING_ROWS}, so the job will fail.",
                             f"Add rows (at least {MIN_TRAINING_ROWS} with a target value)."))
    if data["rows_with_missing_target"]:
        found.append(finding("missing_target", prof["target"]["name"], f"{data['rows_with_missing_target']:,} rows "
                             f"({prof['target']['missing_share']:.1%}) have no target value.",
                             "The engine drops them from training; label them or remove them from the data."))
    if data["duplicate_rows"]:
        found.append(finding("duplicate_rows", None, f"{data['duplicate_rows']:,} rows ({data['duplicate_share']:.1%}) "
                             "repeat an earlier row exactly.", "Remove duplicates unless they are real repeated "
                             "observations: copies on both sides of the validation split make its scores "
                             "optimistic."))
    return found


def _target_findings(target: dict) -> list[dict]:
    found, name = [], target["name"]
    classes = target.get("classes")
    if classes is not None and len(classes) < 2:
        found.append(finding("single_class", name, "The target has fewer than two classes; the job will fail.",
                             "Check the target column: classification needs at least two classes."))
    if classes and len(classes) >= 2 and target["imbalance_ratio"] >= IMBALANCE_RATIO:
        rare = classes[-1]
        binary = target["problem_type"] == "BinaryClassification"
        objective = "F1, AUC or BalancedAccuracy" if binary else "F1macro or BalancedAccuracy"
        found.append(finding("class_imbalance", name, f"The classes are imbalanced {target['imbalance_ratio']:.1f}:1; "
                             f"the rarest, {rare['label']!r}, is {rare['share']:.2%} of the rows.",
                             f"Choose an objective that weighs every class ({objective}) instead of Accuracy, or "
                             "give rare rows more weight with a SampleWeightAttributeName column."))
    numeric = target.get("numeric")
    if numeric and numeric.get("count") and abs(numeric["skew"]) > SKEW:
        positive = numeric["min"] >= 0
        found.append(finding("skewed_target", name, f"The target is skewed (skewness {numeric['skew']:.2f}): a few "
                             "large values dominate squared-error objectives.",
                             "Train on log1p(target) and invert the predictions, or choose the MAE objective."
                             if positive else "Choose the MAE objective, which large values sway less than MSE."))
    return found


def _column_findings(column: dict, ids: set[str]) -> list[dict]:
    name, found = column["name"], []
    if column["missing_share"] > MOSTLY_MISSING:
        found.append(finding("mostly_missing", name, f"{column['missing_share']:.1%} of the values are missing.",
                             "Drop the column, or keep it if being missing itself carries meaning."))
    if column["distinct"] <= 1:
        found.append(finding("constant", name, "The column holds a single value" + (
            "" if column["distinct"] else " (or none)") + " and carries no information.", "Drop the column."))
        return found
    why = _id_like(column)
    if why:
        ids.add(name)
        found.append(finding("id_like", name, f"The column looks like an identifier ({why}).",
                             "Drop it with FeatureAttributeNames: identifiers do not generalise to new rows."))
        return found
    if column["kind"] == ColumnKind.CATEGORICAL.value and column["distinct"] > MAX_ONE_HOT_LEVELS:
        found.append(finding("high_cardinality", name, f"{column['distinct']:,} distinct categories.",
                             f"The engine groups levels seen fewer than {RARE_LEVEL_MIN_COUNT} times and linear "
                             f"models one-hot encode only the {MAX_ONE_HOT_LEVELS} most frequent; group rare "
                             "levels yourself, or declare the column text if it holds words."))
    found += _numeric_as_text(column)
    markers = [v for v in column.get("top_values", []) if v["value"].strip().lower() in MISSING_MARKERS]
    if markers:
        found.append(finding("missing_marker", name, f"{markers[0]['share']:.1%} of the values are "
                             f"{markers[0]['value']!r}, which reads as a placeholder for a missing value.",
                             "Leave such cells empty in the file: the engine then imputes them (or, in trees, "
                             "keeps them missing) instead of learning a category from them."))
    return found


def _id_like(column: dict) -> str | None:
    count = column.get("numeric", {}).get("count", 0) or sum(v["count"] for v in column.get("top_values", []))
    unique = column["distinct_share"] == 1.0 and column["distinct"] >= ID_MIN_ROWS
    if unique and column["kind"] == ColumnKind.NUMERIC.value and column.get("integral"):
        return "unique integers, in row order" if column.get("monotonic") else "a unique integer per row"
    if unique and column["kind"] == ColumnKind.CATEGORICAL.value:
        return "a unique value per row"
    if ID_NAME.search(column["name"]) and column["distinct_share"] >= ID_NAME_MIN_DISTINCT_SHARE and count:
        return f"its name, and {column['distinct_share']:.0%} of its values are distinct"
    return None


def _numeric_as_text(column: dict) -> list[dict]:
    name = column["name"]
    if column["kind"] == ColumnKind.NUMERIC.value and column["dtype"] in ("object", "string"):
        lost = column.get("unparsed", 0)
        return [finding("numeric_as_text", name, "Numbers stored as text; the engine reads them as numbers" + (
            f", and {lost:,} sampled values that are not numbers become missing." if lost else "."),
            "Store the column as numbers in the file to make this explicit.")]
    share = column.get("numeric_share", 0.0)
    if column["kind"] == ColumnKind.CATEGORICAL.value and share >= 0.9:
        others = [v["value"] for v in column.get("top_values", []) if pd.isna(pd.to_numeric(v["value"],
                                                                                            errors="coerce"))]
        return [finding("numeric_as_text", name, f"{share:.1%} of the values are numbers, but others (such as "
                        f"{', '.join(repr(o) for o in others[:3]) or 'rare ones'}) make the engine treat the column "
                        "as categorical.", "Replace the non-numeric markers with empty values, or declare the "
                        "column numeric in a FeatureSpecification file.")]
    return []


def _leakage(prof: dict, ids: set[str]) -> list[dict]:
    metric = "R2" if prof["target"]["problem_type"] == "Regression" else "balanced accuracy"
    scored = [c for c in prof["columns"] if c.get("predictive_power") is not None and c["name"] not in ids]
    return [finding("leakage", c["name"], f"This column alone predicts the target with {metric} "
                    f"{c['predictive_power']:.3f} on rows it was not fitted on.", "Check that it is known at "
                    "prediction time and is not derived from the target; if it is not, drop it or the model will "
                    "fail on real data.")
            for c in sorted(scored, key=lambda c: -c["predictive_power"]) if c["predictive_power"] >= LEAKAGE_SCORE]
