"""The candidate definition notebook (`CandidateDefinitionNotebookLocation`): runnable code that fits a job's
candidates again with the public API (`automl.fit_candidate`), one cell per candidate.

The definitions are embedded in the notebook, so it runs anywhere the data can be read, also for a
GenerateCandidateDefinitionsOnly job that trained nothing. Ensembles are cells that combine the members fitted
above them with the ensemble's weights.
"""
from __future__ import annotations

import json

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

MAX_CANDIDATES = 12  # candidates given a cell of their own; the rest are listed (every definition is embedded)


def _md_text(value) -> str:
    """User text (column and candidate names) in markdown, with markdown's and HTML's special characters
    escaped so a name is shown, never rendered."""
    out = []
    for ch in str(value):
        out.append("\\" + ch if ch in "\\`*_{}[]()#+-.!|<>&" else ch)
    return "".join(out)


def _channel_uri(request: dict, channel_type: str) -> str | None:
    """The S3Uri of the request's channel of that type (V1 InputDataConfig or V2 AutoMLJobInputDataConfig)."""
    channels = request.get("InputDataConfig") or request.get("AutoMLJobInputDataConfig") or []
    for channel in channels:
        if channel.get("ChannelType", "training") == channel_type:
            return channel["DataSource"]["S3DataSource"]["S3Uri"]
    return None


def _reproducible(defn: dict) -> bool:
    return defn.get("Algorithm") != "weighted-ensemble" and not defn.get("StackedOn")


def notebook(plan, request: dict, definitions: list[dict]) -> str:
    """The notebook as .ipynb text."""
    by_name = {d["CandidateName"]: d for d in definitions}
    fitted = [d["CandidateName"] for d in definitions if _reproducible(d)][:MAX_CANDIDATES]
    combined = [d for d in definitions if d.get("Algorithm") == "weighted-ensemble"
                and set(d.get("Members") or {}) <= set(fitted)]
    problem = plan.problem_type.value if plan.problem_type else "inferred from the data"
    cells = [
        new_markdown_cell(
            f"# Candidate definitions of {_md_text(plan.name)}\n\n"
            f"Mode {plan.mode.value}, problem type {_md_text(problem)}, objective {_md_text(plan.objective)}. "
            f"{len(definitions)} candidate definition(s). Each cell below fits one again with "
            "`automl.fit_candidate`: the algorithm, hyperparameters, preprocessing and bagging the job chose, on "
            "the job's data. Run the cells top to bottom."),
        new_code_cell(
            "import json\n\nimport automl\n\n"
            f"training = {_channel_uri(request, 'training')!r}\n"
            f"validation = {_channel_uri(request, 'validation')!r}\n"
            f"target = {plan.target!r}\n"
            f"weight = {plan.weight!r}\n"
            f"definitions = {{d['CandidateName']: d for d in json.loads({json.dumps(definitions)!r})}}\n"
            "models = {}\n"
            "sorted(definitions)"),
    ]
    for name in fitted:
        defn = by_name[name]
        cells.append(new_markdown_cell(
            f"## {_md_text(name)}\n\nAlgorithm {_md_text(defn['Algorithm'])}; preprocessing style "
            f"{_md_text((defn.get('Preprocessing') or {}).get('Style'))}; hyperparameters "
            + ", ".join(f"{_md_text(k)}={_md_text(v)}" for k, v in (defn.get("Hyperparameters") or {}).items())))
        cells.append(new_code_cell(
            f"models[{name!r}] = automl.fit_candidate(definitions[{name!r}], training, target=target, "
            f"weight=weight, validation=validation)\nmodels[{name!r}].predict(training)[:5]"))
    for defn in combined:
        name = defn["CandidateName"]
        probability = plan.problem_type is not None and plan.problem_type.is_classification
        predict = "predict_proba" if probability else "predict"
        cells.append(new_markdown_cell(
            f"## {_md_text(name)}\n\nA weighted ensemble: the weighted average of its members' "
            f"{'probabilities' if probability else 'predictions'} (weights chosen by greedy ensemble selection)."))
        cells.append(new_code_cell(
            f"members = definitions[{name!r}]['Members']\n"
            f"ensemble = sum(weight * models[member].{predict}(training) for member, weight in members.items())\n"
            "ensemble[:5]"))
    rest = [d["CandidateName"] for d in definitions if d["CandidateName"] not in fitted
            and d not in combined]
    if rest:
        cells.append(new_markdown_cell(
            "## Other candidates\n\nTheir definitions are in `definitions` above; they combine candidates of "
            "other layers (stacks) or were left out to keep this notebook short: "
            + ", ".join(_md_text(n) for n in rest)))
    cells.append(new_markdown_cell(
        "## The whole job again\n\nTo run the search itself again, create a job from the same request under a "
        "new name:\n\n```python\nautoml.create_auto_ml_job(**request)\n```\n\nThe request this job was created "
        "with:\n\n```json\n" + json.dumps(request, indent=2, default=str).replace("```", "'''") + "\n```"))
    nb = new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                            "language": "python"}})
    nbformat.validate(nb)
    return nbformat.writes(nb)
