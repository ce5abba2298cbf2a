"""One real two-class analysis per test session, shared by the evidence, report and CLI tests.

The run is written once under pytest's session temporary folder and reused by every
module whose `run` fixture calls `demo_run`, so these tests cost one analysis in all.
(No conftest.py below tests/: a second module named conftest would shadow
tests/conftest.py for the modules that import from it.)
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from cli_runner import run_cli

MODELS = Path(__file__).resolve().parent.parent / "models"
EFFICIENTNET = MODELS / "efficientnet_lite0.onnx"
DEMO_IMAGES = MODELS / "demo_images"
CLASSES = (967, 872)
HEAD_LAYERS = ("/_fc/Gemm", "/_conv_head/Conv")


@dataclass(frozen=True)
class DemoRun:
    """Where the shared analysis wrote its outputs, and what it analysed."""

    out: Path
    model: Path
    data: Path

    @property
    def report_path(self) -> Path:
        return self.out / "report.json"

    @property
    def html_path(self) -> Path:
        return self.out / "report.html"

    def report(self) -> dict:
        """A fresh copy of the report, safe to change."""
        return json.loads(self.report_path.read_text())


def demo_run(tmp_path_factory) -> DemoRun:
    """Run `nca-onnx analyze --html` once per session as a user does (a subprocess)."""
    out = tmp_path_factory.getbasetemp() / "evidence-demo-run"
    run = DemoRun(out, EFFICIENTNET, DEMO_IMAGES)
    if run.report_path.is_file():
        return run
    shutil.rmtree(out, ignore_errors=True)
    layers = [arg for layer in HEAD_LAYERS for arg in ("--layers", layer)]
    classes = [arg for label in CLASSES for arg in ("--class", str(label))]
    result = run_cli("analyze", EFFICIENTNET, *classes, "--data", DEMO_IMAGES,
                     "--preset", "efficientnet-lite", *layers, "--out", out,
                     "--html", out / "report.html", "--quiet")
    if result.returncode != 0:
        raise RuntimeError(f"the shared analysis failed:\n{result.stderr}")
    return run


def stability_section(report: dict, top: int = 3) -> dict:
    """A made-up stability section in the documented shape, built on the report's ranking."""

    def metrics(accuracy: float, mean: float) -> dict:
        return {"accuracy": accuracy, "mean_confidence": mean, "std_confidence": 0.05}

    def neuron(row: dict) -> dict:
        return {"layer": row["layer"], "index": row["index"], "rank": row["rank"]}

    classes, diagnostic = [], []
    for section in report["results"]:
        ranked = sorted(section["neurons"], key=lambda row: row["rank"])[:top]
        rows = [{"row": 0, "masked": [], "label": "no masking", "clean": metrics(1.0, 0.93),
                 "adversarial": metrics(0.0, 0.12)}]
        cumulative = []
        for n, row in enumerate(ranked, start=1):
            rows.append({"row": n, "masked": [neuron(row)],
                         "label": f"{row['layer']}[{row['index']}]",
                         "clean": metrics(1.0 - 0.2 * n, 0.9 - 0.2 * n),
                         "adversarial": metrics(0.1 * n, 0.15)})
            cumulative.append({"row": n, "masked": [neuron(r) for r in ranked[:n]],
                               "label": f"first {n}",
                               "clean": metrics(1.0 - 0.3 * n, 0.8 - 0.2 * n),
                               "adversarial": None})
        classes.append({"class": section["class"], "clean_images": 6, "adversarial_images": 6,
                        "rows": rows, "cumulative_rows": cumulative})
        diagnostic.append({"class": section["class"], **neuron(ranked[-1]), "row": top,
                           "adversarial_accuracy": 0.1 * top,
                           "unmasked_adversarial_accuracy": 0.0,
                           "clean_accuracy": 1.0 - 0.2 * top})
    digest = "0" * 64
    return {
        "top": top, "cumulative": True, "fault": "zero-weights",
        "clean": {"path": "models/demo_images", "images": 9, "inputs_sha256": digest},
        "adversarial": {"path": "adv/adversarial.npz", "images": 9, "inputs_sha256": digest,
                        "file_sha256": digest, "manifest": "adv/manifest.json",
                        "model_sha256": digest, "eps": 0.0078125, "steps": 20,
                        "target_confidence": 0.5},
        "classes": classes,
        "diagnostic_neurons": diagnostic,
        "crosscheck": {"path": "reference", "tolerance": 1e-5, "max_abs_deviation": 2e-7,
                       "passed": True,
                       "rows": [{"class": c["class"], "kind": "cumulative", "row": top,
                                 "max_abs_deviation": 2e-7} for c in classes]},
        "warnings": [],
        "timings": {"total_s": 1.0},
    }


def with_stability(report: dict) -> dict:
    """The report with a made-up stability section, standards rebuilt, sealed again."""
    from nca_onnx.stability.section import report_with_stability

    return report_with_stability(report, stability_section(report))


def flip_bit_at(data: bytes, offset: int) -> bytes:
    """`data` with the lowest bit of the byte at `offset` flipped."""
    return data[:offset] + bytes([data[offset] ^ 1]) + data[offset + 1:]


def model_with_flipped_filter(model: Path, layer: str, index: int, target: Path) -> Path:
    """A copy of `model` in which one bit of neuron `index` of `layer` differs.

    The filter's bytes are found in the file itself, so the change is to the stored
    bytes, as a corrupted file or a tampered weight would be.
    """
    import onnx

    from nca_onnx.evidence.filters import filter_index, layer_arrays
    from nca_onnx.graph.load import load_model
    from nca_onnx.graph.neurons import find_layers

    loaded = load_model(model)
    found = next(item for item in find_layers(loaded.proto) if item.name == layer)
    weight, _, transposed_b = layer_arrays(loaded.proto, found)
    stored = weight[filter_index(weight.shape, found.op_type, found.groups, index,
                                 transposed_b)]
    needle = stored.astype(stored.dtype.newbyteorder("<")).tobytes()
    data = model.read_bytes()
    offset = data.find(needle)
    if offset < 0 or data.find(needle, offset + 1) >= 0:
        raise RuntimeError(f"the bytes of {layer}[{index}] are not stored once in {model}")
    target.write_bytes(flip_bit_at(data, offset + len(needle) // 2))
    onnx.checker.check_model(str(target))
    return target
