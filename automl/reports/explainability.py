"""A candidate's explainability folder: analysis.json in SageMaker Clarify's layout, plots, report and values.

analysis.json is what Autopilot documents, `{"version": "1.0", "explanations": {"kernel_shap": {label:
{"global_shap_values": {column: mean |SHAP|}, "expected_value": base}}}}`, whatever explainer made the values
(readers look under "kernel_shap"); the explainer and units are in our own top-level "automl" member. A single
output (binary: the positive class; regression: the value) is "label0", as Clarify names an unnamed label; each
class of a multiclass model is keyed by its class name, as Clarify keys labels it was given headers for.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from automl.artifacts import write_bytes, write_json
from automl.channels import join_uri
from automl.reports.explain import Explanation
from automl.reports.page import Page, figure, png

TOP_COLUMNS = 20
WIDTH_INCHES = 9.0  # 900 px at the pages' 100 dpi


def analysis(explanation: Explanation) -> dict:
    return {"version": "1.0",
            "explanations": {"kernel_shap": {key: {"global_shap_values": importance, "expected_value": base}
                                             for key, importance, base in _per_label(explanation)}},
            "automl": {"method": explanation.method, "output": explanation.output, "explains": explanation.explains,
                       "rows": explanation.rows, "seconds": round(explanation.seconds, 3)}}


def _per_label(explanation: Explanation) -> list[tuple[str, dict, float]]:
    if explanation.values.ndim == 2:
        return [("label0", _floats(explanation.importance()), float(explanation.base_values))]
    out = []
    for k, label in enumerate(explanation.labels):
        importance = pd.Series(np.abs(explanation.values[:, :, k]).mean(axis=0), index=explanation.columns)
        out.append((str(label), _floats(importance.sort_values(ascending=False, kind="stable")),
                    float(explanation.base_values[k])))
    return out


def _floats(series: pd.Series) -> dict:
    return {str(k): float(v) for k, v in series.items()}


def shap_table(explanation: Explanation) -> pd.DataFrame:
    """One row per explained row: each column's SHAP value and the base (per class: `column [class]`)."""
    if explanation.values.ndim == 2:
        table = pd.DataFrame(explanation.values, columns=explanation.columns)
        return table.assign(base_value=explanation.base_values)
    parts = {}
    for k, label in enumerate(explanation.labels):
        parts |= {f"{c} [{label}]": explanation.values[:, j, k] for j, c in enumerate(explanation.columns)}
        parts[f"base_value [{label}]"] = np.full(explanation.rows, explanation.base_values[k])
    return pd.DataFrame(parts)


def importance_png(explanation: Explanation) -> bytes:
    top = explanation.importance().head(TOP_COLUMNS)[::-1]
    fig = figure(WIDTH_INCHES, 1.5 + 0.3 * len(top))
    ax = fig.add_subplot()
    ax.barh(range(len(top)), top.to_numpy(), color="#1f77b4")
    ax.set_yticks(range(len(top)), [str(c) for c in top.index])
    ax.set_xlabel(f"mean |SHAP| ({explanation.output}{', summed over classes' if len(explanation.labels) > 1 else ''})")
    return png(fig)


def summary_png(explanation: Explanation) -> bytes:
    """Beeswarm-like: each dot a row, placed by its SHAP value, coloured by the column's value (its rank among
    the rows: red high, blue low; grey for categories and text, which have no order)."""
    top = list(explanation.importance().head(TOP_COLUMNS).index)[::-1]
    values = explanation.values
    signed = values.ndim == 2
    if not signed:
        values = np.abs(values).sum(axis=2)
    from matplotlib import colormaps

    colours = colormaps["coolwarm"].with_extremes(bad="#9a9a9a")
    fig = figure(WIDTH_INCHES, 1.5 + 0.35 * len(top))
    ax = fig.add_subplot()
    jitter = np.random.default_rng(0).uniform(-0.3, 0.3, explanation.rows)
    for y, column in enumerate(top):
        j = explanation.columns.index(column)
        cells = explanation.frame[column]
        ordered = pd.api.types.is_numeric_dtype(cells) or pd.api.types.is_datetime64_any_dtype(cells)
        colour = cells.rank(pct=True).to_numpy(dtype=float) if ordered else np.full(len(cells), np.nan)
        ax.scatter(values[:, j], y + jitter, c=colour, cmap=colours, vmin=0, vmax=1, s=8, plotnonfinite=True)
    ax.set_yticks(range(len(top)), [str(c) for c in top])
    ax.axvline(0, color="#888", linewidth=0.8)
    ax.set_xlabel(f"SHAP value ({explanation.output})" if signed else "|SHAP| summed over classes")
    return png(fig)


def write_explainability(folder_uri: str, explanation: Explanation, *, candidate: str, source: str = "") -> None:
    """Write analysis.json, summary.png, importance.png, report.html and shap_values.csv; `source` says which
    rows were explained (e.g. "out-of-fold predictions")."""
    importance, summary = importance_png(explanation), summary_png(explanation)
    page = Page(f"Explainability: {candidate}", f"{explanation.method} on {explanation.rows} rows"
                + (f" of {source}" if source else "") + f" in {explanation.seconds:.1f} s")
    page.paragraph(f"Each SHAP value is a column's share of {explanation.explains} for one row ({explanation.output}"
                   " units); with the base value they add up to that row's output. A column's importance is the "
                   "mean of its absolute SHAP values" + (", summed over classes." if len(explanation.labels) > 1
                                                        else "."))
    page.heading("Column importance")
    page.table([{"column": c, "mean |SHAP|": float(v)} for c, v in explanation.importance().items()])
    page.image(importance, f"The {min(TOP_COLUMNS, len(explanation.columns))} most important columns")
    page.image(summary, "Every explained row's SHAP value per column, coloured by the column's value "
                        "(red high, blue low, grey unordered)")
    write_json(join_uri(folder_uri, "analysis.json"), analysis(explanation))
    write_bytes(join_uri(folder_uri, "summary.png"), summary)
    write_bytes(join_uri(folder_uri, "importance.png"), importance)
    write_bytes(join_uri(folder_uri, "report.html"), page.html().encode())
    write_bytes(join_uri(folder_uri, "shap_values.csv"), shap_table(explanation).to_csv(index=False).encode())
