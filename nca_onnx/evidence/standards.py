"""Map the results of a report to the safety activities they may support (guidance only)."""

from __future__ import annotations

import functools
import json
from importlib import resources

__all__ = ["load_mapping", "standards_section", "with_standards"]

_CONDITIONS = {
    "always": lambda report: True,
    "crosscheck_passed": lambda report: bool(report["crosscheck"].get("passed")),
    "adversarial_present": lambda report: any(
        row.get("adversarial") is not None for section in report["stability"]["classes"]
        for row in section["rows"]),
}


@functools.cache
def load_mapping() -> dict:
    """The shipped mapping (nca_onnx/evidence/standards.json): items, templates, guidance."""
    text = resources.files("nca_onnx.evidence").joinpath("standards.json").read_text("utf-8")
    return json.loads(text)


def _present(report: dict, key: str) -> bool:
    node: object = report
    for part in key.split("."):
        if not isinstance(node, dict) or node.get(part) is None:
            return False
        node = node[part]
    return not (isinstance(node, (list, dict)) and not node)


def _flagged_summary(report: dict) -> str:
    parts = []
    for section in report["results"]:
        flagged = section["flagged_layers"]
        flips = sum(layer["decision_flips"] for layer in section["layers"])
        named = f" ({', '.join(flagged[:5])}{' ...' if len(flagged) > 5 else ''})" \
            if flagged else ""
        parts.append(f"class {section['class']}: {len(flagged)} of {len(section['layers'])} "
                     f"layers flagged{named}, {flips} decision change(s) over all neurons "
                     "and images")
    return "; ".join(parts)


def _stability_facts(stability: dict) -> dict:
    def unmasked(data: str) -> str:
        parts = []
        for section in stability["classes"]:
            metrics = section["rows"][0].get(data)
            value = "not measured" if metrics is None else f"{metrics['accuracy']:.3f}"
            parts.append(f"{value} (class {section['class']})")
        return ", ".join(parts)

    return {
        "stability_top": stability["top"],
        "clean_accuracy": unmasked("clean"),
        "adversarial_accuracy": unmasked("adversarial"),
        "diagnostic_neurons": len(stability.get("diagnostic_neurons") or []),
    }


def _facts(report: dict, mapping: dict) -> dict:
    check = report["crosscheck"]
    parameters = report["parameters"]
    fault = parameters["fault"]
    facts = {
        "crosscheck_neurons": len(check["neurons"]),
        "crosscheck_deviation": f"{check['max_abs_deviation']:.2e}",
        "crosscheck_tolerance": f"{check['tolerance']:g}",
        "crosscheck_verdict": "passed" if check["passed"] else "FAILED",
        "tool": f"{report['tool']['name']} {report['tool']['version']}",
        "onnxruntime": report["runtime"]["onnxruntime"],
        "execution_provider": report["runtime"]["execution_provider"],
        "neurons": sum(layer["neurons"] for layer in report["layers"]),
        "layers": len(report["layers"]),
        "classes": ", ".join(str(section["class"]) for section in report["results"]),
        "selected_images": sum(image["status"] == "selected" for image in report["images"]),
        "flagged_summary": _flagged_summary(report),
        "fault": fault,
        "fault_definition": mapping["fault_models"].get(
            fault, "a fault model beyond METHOD.md's; see the report's method section"),
        "tau": parameters["tau"],
        "noise_floor": parameters["noise_floor"],
    }
    if _present(report, "stability"):
        facts.update(_stability_facts(report["stability"]))
    return facts


def _item(report: dict, item: dict, facts: dict) -> dict:
    entry = {key: item[key] for key in ("id", "standard", "clause", "topic", "activity")}
    if not _present(report, item["needs"]):
        status = "not-available"
        evidence = [{"key": item["needs"], "summary": item["absent"]}]
    else:
        status = "supported" if _CONDITIONS[item["supported_when"]](report) else "partial"
        evidence = [{"key": line["key"], "summary": line["template"].format(**facts)}
                    for line in item["evidence"]
                    if _present(report, line.get("needs", line["key"]))]
    return {**entry, "status": status, "evidence": evidence, "limits": item["limits"]}


def standards_section(report: dict) -> dict:
    """The `standards` section for a report: each mapped clause, its status and evidence.

    Status is `supported` (the report holds the evidence and its check passed),
    `partial` (evidence present, check failed or incomplete) or `not-available`.
    Reads the report; changes nothing.
    """
    mapping = load_mapping()
    facts = _facts(report, mapping)
    return {
        "guidance": mapping["guidance"],
        "mapping": {"name": mapping["name"], "version": mapping["version"]},
        "items": [_item(report, item, facts) for item in mapping["items"]],
    }


def with_standards(report: dict) -> dict:
    """A copy of `report` with its `standards` section (re)built; call it before `seal`."""
    return {**report, "standards": standards_section(report)}
