"""The data exploration report written during AnalyzingData, before any candidate trains: `profile.json`, a
static `report.html` and the runnable notebook, all under the job's `documentation/data_exploration/`.

`profile` (tabular) and `profile_series` (forecasting) read the data; `write_exploration` only renders a
profile, so a report can be rewritten from `profile.json` alone.
"""
from __future__ import annotations

from automl.artifacts import JobOutput, write_bytes, write_json
from automl.channels import join_uri
from automl.reports import exploration_figures as figures
from automl.reports.notebook import series_notebook, tabular_notebook
from automl.reports.page import Page
from automl.reports.profile import profile
from automl.reports.series_profile import profile_series

__all__ = ["profile", "profile_series", "write_exploration"]

HISTOGRAMS = 6
CATEGORY_PLOTS = 4


def write_exploration(output: JobOutput, profile: dict, *, data_uri: str, target: str, title: str) -> None:
    """The three files; the HTML last, so a report that opens has its profile and notebook beside it."""
    tabular = profile["kind"] == "tabular"
    write_json(join_uri(output.exploration, "profile.json"), profile)
    make = tabular_notebook if tabular else series_notebook
    write_bytes(output.exploration_notebook, make(profile, data_uri=data_uri, target=target, title=title).encode())
    page = (_tabular_page if tabular else _series_page)(profile, data_uri, title)
    write_bytes(join_uri(output.exploration, "report.html"), page.html().encode())


def _findings(page: Page, findings: list[dict]) -> None:
    page.heading("Findings")
    if not findings:
        page.paragraph("Nothing in the data needs attention before training.")
    for f in findings:
        where = f"{f['column']}: " if f.get("column") is not None else ""
        page.note(f"[{f['kind']}] {where}{f['message']} Suggestion: {f['suggestion']}")


def _tabular_page(prof: dict, data_uri: str, title: str) -> Page:
    data, target, columns = prof["dataset"], prof["target"], prof["columns"]
    sampled = (f"; statistics on a seeded sample of {data['profiled_rows']:,} rows"
               if data["profiled_rows"] < data["rows"] else "")
    page = Page(title, f"{data_uri}: {data['rows']:,} rows, {data['columns']} columns{sampled}")
    _findings(page, prof["findings"])
    page.heading("Dataset").table([{"": k.replace("_", " "), "value": v} for k, v in data.items()
                                   if not isinstance(v, list)] + [{"": "excluded columns",
                                                                   "value": ", ".join(data["excluded_columns"])}])
    page.heading("Target").paragraph(f"{target['name']}: {target['problem_type'] or 'unknown problem type'} "
                                     f"({target['problem_type_source']}), {target['distinct']:,} distinct values.")
    _image(page, figures.target_plot(target), "Target class balance" if target.get("classes") else
           "Target distribution")
    if target.get("classes"):
        page.table(target["classes"][:50], ["label", "count", "share"])
        page.paragraph(f"Imbalance ratio (largest / smallest class): {target['imbalance_ratio']:.2f}")
    elif target.get("numeric"):
        page.table([_numbers(target["name"], target["numeric"])])
    page.heading("Columns").paragraph("Kind is what the engine will treat the column as; predictive power is the "
                                      "column's held-out score alone (balanced accuracy or R2).", "muted")
    page.table([_overview(c) for c in columns])
    page.heading("Missing values")
    if not _image(page, figures.missing_plot(columns), "Share of missing values per column"):
        page.paragraph("No column has missing values.")
    numeric = [c for c in columns if c.get("numeric", {}).get("histogram")]
    if numeric:
        page.heading("Numeric columns")
        ranked = sorted(numeric, key=lambda c: -(c.get("predictive_power") or 0))[:HISTOGRAMS]
        _image(page, figures.histograms_plot([(c["name"], c["numeric"]["histogram"]) for c in ranked]),
               "Histograms of the most predictive numeric columns")
        page.table([_numbers(c["name"], c["numeric"]) for c in numeric])
    categorical = [c for c in columns if c.get("top_values") and c["kind"] == "categorical"]
    if categorical:
        page.heading("Categorical columns")
        ranked = sorted(categorical, key=lambda c: -(c.get("predictive_power") or 0))[:CATEGORY_PLOTS]
        _image(page, figures.categories_plot(ranked), "Most frequent values of the most predictive categorical "
                                                      "columns")
    _text_and_dates(page, columns)
    return page


def _overview(c: dict) -> dict:
    top = ", ".join(f"{v['value']} ({v['share']:.0%})" for v in c.get("top_values", [])[:3])
    n = c.get("numeric", {})
    return {"column": c["name"], "kind": c["kind"], "dtype": c["dtype"], "missing share": c["missing_share"],
            "distinct": c["distinct"], "predictive power": c.get("predictive_power"),
            "values": top or (f"{n['min']:.4g} .. {n['median']:.4g} .. {n['max']:.4g}" if n.get("count") else "")}


def _numbers(name: str, n: dict) -> dict:
    row = {"column": name} | {k: n.get(k) for k in ("count", "min", "p1", "p25", "median", "p75", "p99", "max",
                                                     "mean", "std", "skew")}
    if "outliers" in n:
        row["outliers (Tukey 1.5 IQR)"] = n["outliers"]["count"]
    return row


def _text_and_dates(page: Page, columns: list[dict]) -> None:
    texts = [c for c in columns if "text" in c]
    if texts:
        page.heading("Text columns").table([
            {"column": c["name"], **{f"{unit} {stat}": c["text"][unit].get(stat) for unit in ("chars", "words")
                                     for stat in ("mean", "median", "p95", "max")}} for c in texts])
    dates = [c for c in columns if "dates" in c]
    if dates:
        page.heading("Date columns").table([{"column": c["name"], "first": c["dates"].get("min"),
                                             "last": c["dates"].get("max"), "span days": c["dates"].get("span_days"),
                                             "parsed share": c["dates"].get("parsed_share")} for c in dates])


def _series_page(prof: dict, data_uri: str, title: str) -> Page:
    s = prof["series"]
    page = Page(title, f"{data_uri}: {prof['dataset']['rows']:,} rows, {s['count']:,} series")
    _findings(page, prof["findings"])
    page.heading("Series").table([{"": k.replace("_", " "), "value": v if not isinstance(v, list) else ", ".join(v)}
                                  for k, v in s.items() if not isinstance(v, dict)])
    hists = [(f"{name.replace('_', ' ')}", s[name]["histogram"]) for name in ("lengths", "zero_share_per_series")
             if s.get(name, {}).get("histogram")]
    _image(page, figures.histograms_plot(hists), "Series lengths (steps) and share of zeros per series")
    if s.get("lengths"):
        page.table([_numbers("series length", s["lengths"]), _numbers("raw rows per series", s["raw_lengths"])])
    _image(page, figures.series_plot(prof.get("examples", [])), "Recent history of a few series")
    page.heading("Covariates")
    if prof["covariates"]:
        page.table(prof["covariates"])
    else:
        page.paragraph("No covariate columns.")
    holidays = prof["holidays"]
    page.heading("Holidays").paragraph(f"Country: {holidays['country']}; {len(holidays.get('columns', []))} holiday "
                                       "covariates." if holidays["country"] else "No holiday calendar configured.")
    return page


def _image(page: Page, png: bytes | None, caption: str) -> bool:
    if png is not None:
        page.image(png, caption)
    return png is not None
