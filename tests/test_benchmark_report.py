"""The benchmark summary: wins/ties/losses, ranks and normalized scores computed right, for either metric
direction, and the plot drawn when several budgets ran."""
from benchmarks.report import plot, summarize


def row(dataset, framework, budget, problem_type, metric, value, fit_s=10.0):
    return {"dataset": dataset, "problem_type": problem_type, "framework": framework, "budget_s": budget,
            "seed": 0, "status": "ok", "metrics": {metric: value}, "fit_s": fit_s, "overshoot": fit_s / budget - 1,
            "predict_rows_per_s": 1000.0, "peak_memory_mb": 300.0}


def rows_for(budget):
    return [
        row("bin", "automl", budget, "BinaryClassification", "AUC", 0.90),
        row("bin", "peer", budget, "BinaryClassification", "AUC", 0.80),
        row("bin", "floor", budget, "BinaryClassification", "AUC", 0.70),
        row("reg", "automl", budget, "Regression", "RMSE", 12.0),     # lower is better: automl is worst here
        row("reg", "peer", budget, "Regression", "RMSE", 10.0),
        row("reg", "floor", budget, "Regression", "RMSE", 11.0),
        row("tie", "automl", budget, "MulticlassClassification", "Accuracy", 0.8000),
        row("tie", "peer", budget, "MulticlassClassification", "Accuracy", 0.80001),
        row("tie", "floor", budget, "MulticlassClassification", "Accuracy", 0.5),
    ]


def test_summary_counts_and_normalizes_with_metric_direction():
    report = summarize(rows_for(60) + [{"dataset": "bin", "problem_type": "BinaryClassification",
                                        "framework": "ghost", "budget_s": 60, "status": "unavailable",
                                        "reason": "ghost is not installed"}])
    lines = {line.split("|")[1].strip(): line for line in report.splitlines() if line.startswith("| ")}
    assert "| bin | AUC | 0.9000 | 0.7000 | 0.8000 |" in report          # columns: automl, floor, peer
    assert "| reg | RMSE | 12.0000 | 11.0000 | 10.0000 |" in report
    # automl ranks 1 (bin), 3 (reg), 1 (tie with peer): 1.67; normalized 1, 0, ~1: 0.667
    assert lines["automl"].split("|")[2:5] == [" — ", " 1.67 ", " 0.667 "]
    assert lines["peer"].split("|")[2].strip() == "1/1/1"     # ours beat it on bin, tie, lose on reg
    assert lines["floor"].split("|")[2].strip() == "2/0/1"
    assert "ghost / 60 s: unavailable: ghost is not installed" in report


def test_plot_only_for_several_budgets(tmp_path):
    assert not plot(rows_for(60), tmp_path / "one.png")
    assert plot(rows_for(60) + rows_for(300), tmp_path / "two.png")
    assert (tmp_path / "two.png").stat().st_size > 1000
