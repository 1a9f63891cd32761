"""A readable summary of the candidate definitions (GenerateCandidateDefinitionsOnly), beside their JSON."""
from __future__ import annotations

import json


def _value(spec) -> str:
    if isinstance(spec, dict) and spec.get("Type") == "Categorical":
        return "one of " + ", ".join(map(str, spec["Values"]))
    if isinstance(spec, dict) and "MinValue" in spec:
        scale = " (log scale)" if spec.get("ScalingType") == "Logarithmic" else ""
        return f"{spec['Type'].lower()} {spec['MinValue']:g} .. {spec['MaxValue']:g}{scale}"
    return json.dumps(spec)


def definitions_markdown(job: str, mode: str, definitions: list[dict]) -> str:
    lines = [f"# Candidate definitions of {job} ({mode})", "",
             f"{len(definitions)} pipeline(s); nothing was trained (GenerateCandidateDefinitionsOnly).", ""]
    for defn in definitions:
        pre = defn.get("Preprocessing", {})
        lines += [f"## {defn['CandidateName']}", "", f"- algorithm: {defn['Algorithm']}",
                  f"- problem type: {defn['ProblemType']}, objective: {defn['ObjectiveMetric']}",
                  f"- preprocessing: {pre.get('Style')} style, options "
                  + ", ".join(f"{k}={v}" for k, v in (pre.get("Options") or {}).items())]
        for key, spec in (pre.get("OptionRanges") or {}).items():
            lines.append(f"  - searched: {key}: {_value(spec)}")
        lines.append("- hyperparameters: " + ", ".join(f"{k}={v}" for k, v in defn["Hyperparameters"].items()))
        for key, spec in (defn.get("HyperparameterRanges") or {}).items():
            lines.append(f"  - searched: {key}: {_value(spec)}")
        for key, value in (defn.get("Tuning") or {}).items():
            lines.append(f"- {key.lower()}: {value}")
        lines.append("")
    return "\n".join(lines)
