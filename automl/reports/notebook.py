"""The data exploration notebook: the report's findings as markdown, and code that recomputes its tables and
plots from the data with pandas and matplotlib alone, so a user can rerun and extend them without this engine.

Every name from the data enters code as a Python literal (`repr`) and markdown HTML-escaped: a column named
`<script>` or `'); import os` is data, never markup or code.
"""
from __future__ import annotations

import html

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

READ_DATA = '''import fsspec
import matplotlib.pyplot as plt
import pandas as pd

plt.rcParams["text.parse_math"] = False  # a "$" in a column name is text

DATA_URI = {uri!r}


def read_data(uri):
    """Every CSV or Parquet file at `uri` (one file, or a folder or S3 prefix; s3:// needs s3fs) in one frame."""
    fs, root = fsspec.core.url_to_fs(uri)
    paths = sorted(fs.find(root)) if fs.isdir(root) else [root]
    frames = []
    for path in paths:
        name = path.rsplit("/", 1)[-1]
        if name.startswith((".", "_")):
            continue
        with fs.open(path, "rb") as handle:
            if ".parquet" in name:
                frames.append(pd.read_parquet(handle))
            else:
                frames.append(pd.read_csv(handle, compression="gzip" if name.endswith(".gz") else None))
    return pd.concat(frames, ignore_index=True)


df = read_data(DATA_URI)
df.shape'''

OVERVIEW = '''overview = pd.DataFrame({"dtype": df.dtypes.astype(str), "missing_share": df.isna().mean(),
                         "distinct": df.nunique()})
duplicates = int(df.duplicated().sum())
print(f"{len(df):,} rows, {df.shape[1]} columns, {duplicates:,} duplicate rows")
overview'''

MISSING = '''missing = df.isna().mean().sort_values(ascending=False)
missing = missing[missing > 0]
if len(missing):
    missing.head(30).plot.barh(title="Missing values per column", xlim=(0, 1), figsize=(7, 5)).invert_yaxis()
    plt.show()
missing'''

CLASSES = '''TARGET = {target!r}
target_counts = df[TARGET].value_counts()
target_counts.head(20).plot.barh(title="Class balance", figsize=(6, 4)).invert_yaxis()
plt.show()
print("imbalance ratio (largest class / smallest):", target_counts.iloc[0] / target_counts.iloc[-1])
target_counts.to_frame("rows").assign(share=target_counts / target_counts.sum())'''

REGRESSION = '''TARGET = {target!r}
target_values = pd.to_numeric(df[TARGET], errors="coerce")
target_values.plot.hist(bins=30, title="Target distribution", figsize=(6, 4))
plt.show()
print("skewness:", target_values.skew())
target_summary = target_values.describe(percentiles=[0.01, 0.25, 0.5, 0.75, 0.99])
target_summary'''

NUMERIC = '''NUMERIC = {columns!r}  # the columns the engine reads as numbers
numeric = df[NUMERIC].apply(pd.to_numeric, errors="coerce")
q1, q3 = numeric.quantile(0.25), numeric.quantile(0.75)
fence = 1.5 * (q3 - q1)
outliers = ((numeric < q1 - fence) | (numeric > q3 + fence)).sum()  # Tukey's fences
numeric_summary = numeric.describe(percentiles=[0.01, 0.25, 0.5, 0.75, 0.99]).T.assign(outliers=outliers)
numeric[NUMERIC[:9]].hist(bins=30, figsize=(10, 7))
plt.show()
numeric_summary'''

CATEGORIES = '''CATEGORICAL = {columns!r}  # the columns the engine reads as categories
top_values = {{c: df[c].astype(str).value_counts().head(10) for c in CATEGORICAL}}
fig, axes = plt.subplots((len(CATEGORICAL[:4]) + 1) // 2, 2, figsize=(10, 6), squeeze=False)
for ax, column in zip(axes.flat, CATEGORICAL[:4]):
    top_values[column].plot.barh(ax=ax, title=column).invert_yaxis()
plt.show()
pd.DataFrame({{c: [len(df[c].dropna().unique())] for c in CATEGORICAL}}, index=["distinct"]).T'''

POWER = '''FEATURES = {features!r}
CLASSIFICATION = {classification!r}


def alone(column):
    """How well this column alone predicts the target on rows it was not fitted on: near 1 means leakage."""
    data = df[[column, TARGET]].dropna(subset=[TARGET]).sample(frac=1, random_state=0)
    x = data[column]
    if pd.api.types.is_numeric_dtype(x) and x.nunique() > 64:
        x = pd.qcut(x, 32, duplicates="drop")
    x, y = x.astype(str), data[TARGET] if CLASSIFICATION else pd.to_numeric(data[TARGET], errors="coerce")
    half = len(data) // 2
    fit_x, fit_y, test_x, test_y = x.iloc[:half], y.iloc[:half], x.iloc[half:], y.iloc[half:]
    if CLASSIFICATION:
        table = pd.crosstab(fit_x, fit_y)
        lift = table / table.sum()  # each value's most over-represented class: what balanced accuracy rewards
        predicted = test_x.map(lift.idxmax(axis=1)).fillna(fit_y.mode()[0])
        return float((predicted == test_y).groupby(test_y).mean().mean())  # balanced accuracy
    predicted = test_x.map(fit_y.groupby(fit_x).mean()).fillna(fit_y.mean())
    return float(1 - ((test_y - predicted) ** 2).sum() / ((test_y - test_y.mean()) ** 2).sum())


predictive_power = pd.Series({{c: alone(c) for c in FEATURES}}, name="alone").sort_values(ascending=False)
predictive_power'''


def _md(value) -> str:
    return html.escape(str(value), quote=False)


def _findings_markdown(findings: list[dict]) -> str:
    if not findings:
        return "## Findings\n\nNothing in the data needs attention before training."
    lines = ["## Findings", ""]
    for f in findings:
        where = f"`{_md(f['column'])}`: " if f.get("column") is not None else ""
        lines.append(f"- **{_md(f['kind'])}** {where}{_md(f['message'])} *Suggestion:* {_md(f['suggestion'])}")
    return "\n".join(lines)


def tabular_notebook(prof: dict, *, data_uri: str, target: str, title: str) -> str:
    data, tgt = prof["dataset"], prof["target"]
    kinds = {c["name"]: c["kind"] for c in prof["columns"]}
    numeric = [n for n, k in kinds.items() if k == "numeric"]
    categorical = [n for n, k in kinds.items() if k == "categorical"]
    classification = tgt["problem_type"] != "Regression"
    cells = [
        new_markdown_cell(f"# {_md(title)}\n\nData: `{_md(data_uri)}`, {data['rows']:,} rows and "
                          f"{data['columns']} columns. Target `{_md(target)}`, problem type "
                          f"{_md(tgt['problem_type'] or 'unknown')} ({_md(tgt['problem_type_source'])}). "
                          "Run the cells top to bottom to recompute the report's tables and plots."),
        new_markdown_cell(_findings_markdown(prof["findings"])),
        new_code_cell(READ_DATA.format(uri=data_uri)),
        new_markdown_cell("## Columns\n\nType, missing share and distinct values per column; duplicate rows."),
        new_code_cell(OVERVIEW),
        new_markdown_cell("## Target"),
        new_code_cell((CLASSES if classification else REGRESSION).format(target=target)),
        new_markdown_cell("## Missing values"),
        new_code_cell(MISSING),
    ]
    if numeric:
        cells += [new_markdown_cell("## Numeric columns\n\nQuantiles, Tukey outliers and histograms."),
                  new_code_cell(NUMERIC.format(columns=numeric))]
    if categorical:
        cells += [new_markdown_cell("## Categorical columns\n\nThe most frequent values."),
                  new_code_cell(CATEGORIES.format(columns=categorical))]
    if tgt["problem_type"] is not None:
        cells += [new_markdown_cell("## Each column alone\n\nBalanced accuracy (classification) or R2 (regression) of "
                                    "predicting the target from one column, on rows it was not fitted on. A value "
                                    "near 1 is a leakage suspect."),
                  new_code_cell(POWER.format(features=list(kinds), classification=classification))]
    return _write(cells)


SERIES_LOAD = '''TIMESTAMP, TARGET, KEYS = {timestamp!r}, {target!r}, {keys!r}
HORIZON = {horizon!r}
df[TIMESTAMP] = pd.to_datetime(df[TIMESTAMP])
df = df.sort_values([*KEYS, TIMESTAMP])
groups = df.groupby(KEYS, sort=False)
lengths = groups.size()
print(f"{{len(lengths):,}} series from {{df[TIMESTAMP].min()}} to {{df[TIMESTAMP].max()}}")
print("series shorter than the horizon:", int((lengths < HORIZON).sum()))
lengths.describe()'''

SERIES_STATS = '''target = pd.to_numeric(df[TARGET], errors="coerce")
per_series = pd.DataFrame({
    "rows": lengths,
    "missing_target": target.isna().groupby([df[k] for k in KEYS], sort=False).sum(),
    "zero_share": target.eq(0).groupby([df[k] for k in KEYS], sort=False).mean(),
    "median_step": groups[TIMESTAMP].apply(lambda s: s.diff().median()),
})
per_series["zero_share"].plot.hist(bins=20, title="Share of zeros per series (intermittency)", figsize=(6, 3))
plt.show()
per_series.describe(include="all")'''

SERIES_PLOT = '''fig, axes = plt.subplots(4, 1, figsize=(10, 8), squeeze=False)
for ax, (key, part) in zip(axes.flat, groups):
    part.tail(200).plot(x=TIMESTAMP, y=TARGET, ax=ax, title=str(key), legend=False)
plt.show()'''

COVARIATES = '''COVARIATES = {covariates!r}
covariate_missing = df[COVARIATES].isna().mean() if COVARIATES else pd.Series(dtype=float)
covariate_missing'''


def series_notebook(prof: dict, *, data_uri: str, target: str, title: str) -> str:
    s = prof["series"]
    cells = [
        new_markdown_cell(f"# {_md(title)}\n\nData: `{_md(data_uri)}`, {prof['dataset']['rows']:,} rows, "
                          f"{s['count']:,} series at frequency {_md(s['frequency'])}, forecast horizon "
                          f"{s['horizon']} steps. Run the cells top to bottom to recompute the report."),
        new_markdown_cell(_findings_markdown(prof["findings"])),
        new_code_cell(READ_DATA.format(uri=data_uri)),
        new_markdown_cell("## Series"),
        new_code_cell(SERIES_LOAD.format(timestamp=s["timestamp"], target=target, keys=s["keys"],
                                         horizon=s["horizon"])),
        new_code_cell(SERIES_STATS),
        new_markdown_cell("## A few series' recent history"),
        new_code_cell(SERIES_PLOT),
        new_markdown_cell("## Covariates"),
        new_code_cell(COVARIATES.format(covariates=[c["name"] for c in prof["covariates"]])),
    ]
    return _write(cells)


def _write(cells: list) -> str:
    notebook = new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"}})
    nbformat.validate(notebook)
    return nbformat.writes(notebook)
