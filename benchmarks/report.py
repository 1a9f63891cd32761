"""Scoring runs and summarising them: the test metrics of each run, a markdown table per dataset, wins/ties/
losses of ours against each peer, mean rank, mean normalized score, and a plot across budgets."""
from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd

from automl.metrics import LOG_LOSS, METRICS
from automl.problem import positive_class

REPORTED = {
    "BinaryClassification": ["AUC", "F1", "Accuracy", "BalancedAccuracy", "LogLoss"],
    "MulticlassClassification": ["Accuracy", "BalancedAccuracy", "F1macro", "LogLoss"],
    "Regression": ["RMSE", "MAE", "R2"],
}
MAIN = {"BinaryClassification": "AUC", "MulticlassClassification": "Accuracy", "Regression": "RMSE"}
TIE_RELATIVE = 0.001  # scores within 0.1% of each other tie


def _metric(name: str):
    return LOG_LOSS if name == "LogLoss" else METRICS[name]


def score(run_dir: Path, truth: pd.Series, train_target: pd.Series, problem_type: str) -> dict:
    """Test metrics of one finished run, computed by our metric definitions for every framework alike."""
    info = json.loads((run_dir / "run.json").read_text())
    labels = np.load(run_dir / "labels.npy", allow_pickle=True)
    if problem_type == "Regression":
        values = labels.astype(float)
        return {m: float(_metric(m).fn(truth.to_numpy(float), values, None, 1)) for m in REPORTED[problem_type]}
    classes = info["classes"]
    proba = np.load(run_dir / "proba.npy")
    index = {c: i for i, c in enumerate(classes)}
    y = truth.astype(str).map(index)
    known = y.notna().to_numpy()
    y = y[known].astype(int).to_numpy()
    proba = proba[known]
    counts = train_target.astype(str).value_counts()
    positive = index.get(str(positive_class(classes, [int(counts.get(c, 0)) for c in classes])), 1)
    scores = {}
    for name in REPORTED[problem_type]:
        try:
            scores[name] = float(_metric(name).fn(y, proba, None, positive))
        except ValueError:
            scores[name] = float("nan")
    return scores


def _better(metric: str, a: float, b: float) -> int:
    """1 if a beats b, 0 on a tie, -1 if it loses."""
    if np.isnan(a) or np.isnan(b):
        return 0 if np.isnan(a) and np.isnan(b) else (-1 if np.isnan(a) else 1)
    if abs(a - b) <= TIE_RELATIVE * max(abs(a), abs(b), 1e-12):
        return 0
    return 1 if _metric(metric).better(a, b) else -1


def summarize(rows: list[dict], ours: str = "automl") -> str:
    ok = [r for r in rows if r["status"] == "ok"]
    lines = []
    for budget in sorted({r["budget_s"] for r in ok}):
        at = [r for r in ok if r["budget_s"] == budget]
        frameworks = sorted({r["framework"] for r in at}, key=lambda f: (f != ours, f))
        table = defaultdict(dict)
        for r in at:
            table[r["dataset"]].setdefault(r["framework"], []).append(r)
        lines += [f"## Budget {budget} s", "", "| dataset | metric | " + " | ".join(frameworks) + " |",
                  "|---|---|" + "---|" * len(frameworks)]
        normalized, ranks = defaultdict(list), defaultdict(list)
        record = {f: [0, 0, 0] for f in frameworks if f != ours}
        for dataset in sorted(table):
            metric = MAIN[next(iter(table[dataset].values()))[0]["problem_type"]]
            means = {f: float(np.mean([r["metrics"][metric] for r in runs])) for f, runs in table[dataset].items()}
            cells = [f"{means[f]:.4f}" if f in means else "—" for f in frameworks]
            lines.append(f"| {dataset} | {metric} | " + " | ".join(cells) + " |")
            goodness = {f: -_metric(metric).sort_key(v) for f, v in means.items()}
            finite = [g for g in goodness.values() if np.isfinite(g)]
            best, worst = max(finite), min(finite)
            for f, v in means.items():
                g = goodness[f] if np.isfinite(goodness[f]) else worst
                normalized[f].append(1.0 if best == worst else (g - worst) / (best - worst))
                ranks[f].append(1 + sum(_better(metric, other, v) == 1 for g, other in means.items() if g != f))
            if ours in means:
                for f in record:
                    if f in means:
                        record[f][1 - _better(metric, means[ours], means[f])] += 1
        lines += ["", f"Summary at {budget} s (wins / ties / losses of {ours}; mean rank; mean normalized score "
                      "0 = worst in the run, 1 = best):", "",
                  "| framework | W/T/L of ours vs it | mean rank | mean normalized | mean fit s | max overshoot "
                  "| mean predict rows/s | mean peak MB (PSS) |", "|---|---|---|---|---|---|---|---|"]
        for f in frameworks:
            runs = [r for r in at if r["framework"] == f]
            wtl = "/".join(map(str, record[f])) if f in record else "—"
            overshoot = max(r["overshoot"] for r in runs)
            lines.append(f"| {f} | {wtl} | {np.mean(ranks[f]):.2f} | {np.mean(normalized[f]):.3f} | "
                         f"{np.mean([r['fit_s'] for r in runs]):.1f} | {overshoot:+.1%} | "
                         f"{np.mean([r['predict_rows_per_s'] for r in runs]):,.0f} | "
                         f"{np.mean([r['peak_memory_mb'] for r in runs]):,.0f} |")
        lines.append("")
    failed = [r for r in rows if r["status"] != "ok"]
    if failed:
        lines += ["## Runs that did not finish", ""] + [
            f"- {r['dataset']} / {r['framework']} / {r['budget_s']} s: {r['status']}: {r.get('reason', '')}"
            for r in failed]
    return "\n".join(lines) + "\n"


def plot(rows: list[dict], path: Path, ours: str = "automl") -> bool:
    """Mean normalized score against budget, one line per framework; only worth drawing for 2+ budgets."""
    ok = [r for r in rows if r["status"] == "ok"]
    budgets = sorted({r["budget_s"] for r in ok})
    if len(budgets) < 2:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    frame = pd.DataFrame(ok)
    series = defaultdict(dict)
    for budget in budgets:
        at = frame[frame["budget_s"] == budget]
        for _, group in at.groupby("dataset"):
            metric = MAIN[group["problem_type"].iloc[0]]
            means = group.groupby("framework")["metrics"].apply(
                lambda m, metric=metric: np.mean([x[metric] for x in m]))
            keys = {f: -_metric(metric).sort_key(v) for f, v in means.items()}
            best, worst = max(keys.values()), min(keys.values())
            for f, k in keys.items():
                series[f].setdefault(budget, []).append(1.0 if best == worst else (k - worst) / (best - worst))
    fig, ax = plt.subplots(figsize=(6, 4))
    for f, points in sorted(series.items()):
        xs = sorted(points)
        ax.plot(xs, [np.mean(points[x]) for x in xs], marker="o", label=f, linewidth=2.5 if f == ours else 1.2)
    ax.set_xlabel("budget (s)")
    ax.set_ylabel("mean normalized test score")
    ax.set_xscale("log")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return True

