"""The sections of the HTML report, each a view of one part of report.json."""

from __future__ import annotations

from html import escape

from nca_onnx.report import figures
from nca_onnx.report.html_parts import card, cell, figure, keyvalue, number, table

__all__ = ["class_section", "crosscheck_section", "reproducibility_section",
           "stability_section", "standards_section", "summary_section"]


def _images_by_class(report: dict) -> dict[int, tuple[int, int]]:
    counts: dict[int, list[int]] = {}
    for image in report["images"]:
        entry = counts.setdefault(image["label"], [0, 0])
        entry[0 if image["status"] == "selected" else 1] += 1
    return {label: (selected, rejected) for label, (selected, rejected) in counts.items()}


def _preprocessing_text(preprocessing: dict) -> str:
    if preprocessing.get("preset") == "none":
        return cell(f"none ({preprocessing.get('note', '')})")
    return cell(f"{preprocessing['preset']}: {preprocessing['height']}x{preprocessing['width']}"
                f" {preprocessing['resize']}, {preprocessing['channel_order']}, mean "
                f"{preprocessing['mean']}, std {preprocessing['std']} on "
                f"{preprocessing['pixel_scale']}")


def summary_section(report: dict) -> str:
    """Model, classes, data, parameters and headline counts."""
    model, parameters = report["model"], report["parameters"]
    neurons = sum(layer["neurons"] for layer in report["layers"])
    selected = sum(image["status"] == "selected" for image in report["images"])
    flagged = sum(len(section["flagged_layers"]) for section in report["results"])
    flips = sum(row["decision_flips"] > 0 for section in report["results"]
                for row in section["neurons"])
    cards = "".join([
        card(str(len(report["results"])), "classes analysed"),
        card(str(len(report["layers"])), "layers"),
        card(str(neurons), "neurons"),
        card(f"{selected} / {len(report['images'])}", "images selected"),
        card(str(flagged), "flagged layers (all classes)"),
        card(str(flips), "neurons that changed a decision"),
    ])
    per_class = _images_by_class(report)
    classes = ", ".join(f"{label} ({selected} selected, {rejected} rejected)"
                        for label, (selected, rejected) in sorted(per_class.items()))
    model_rows = keyvalue([
        ("model", f"{cell(model['path'])}<br><span class=hash>sha256 {model['sha256']}</span>"),
        ("graph", cell(f"opset {model['opset']}, IR {model['ir_version']}, producer "
                       f"{model['producer'] or 'unknown'}")),
        ("input", cell(f"{model['input']['name']} {model['input']['shape']} "
                       f"{model['input']['layout']}")),
        ("output", cell(f"{model['output']['name']}: {model['output']['num_classes']} classes, "
                        f"confidence {model['confidence_source']}")),
        ("data", cell(parameters["data"])),
        ("images per class", cell(classes)),
    ])
    parameter_rows = keyvalue([
        ("fault model", cell(parameters["fault"])),
        ("criticality threshold tau", number(parameters["tau"])),
        ("noise floor", number(parameters["noise_floor"])),
        ("min confidence", number(parameters["min_confidence"])),
        ("max images per class", cell(parameters["max_images"] or "all")),
        ("layers", cell(", ".join(parameters["layers"]) or "all")),
        ("preprocessing", _preprocessing_text(parameters["preprocessing"])),
        ("provider", cell(f"{parameters['provider']} (ran on "
                          f"{report['runtime']['execution_provider']})")),
        ("cross-check", cell(f"{parameters['crosscheck_neurons']} neurons, seed "
                             f"{parameters['seed']}")),
    ])
    return (f'<section id="summary"><h2>Summary</h2><div class="cards">{cards}</div>'
            f"<h3>Model and data</h3>{model_rows}<h3>Parameters</h3>{parameter_rows}</section>")


def _top_neurons(section: dict, top: int) -> str:
    flagged = set(section["flagged_layers"])
    ranked = sorted(section["neurons"], key=lambda row: row["rank"])[:top]
    rows = [[str(row["rank"]), cell(row["layer"]), str(row["index"]), number(row["mean"]),
             number(row["std"]), number(row["min"]), number(row["max"]),
             number(row["max_drop"]), str(row["decision_flips"]),
             str(row["anti_critical_images"])] for row in ranked]
    classes = ["flagged" if row["layer"] in flagged else "" for row in ranked]
    return table(["rank", "layer", "index", "mean", "std", "min", "max", "max drop",
                  "decision flips", "anti-critical images"], rows,
                 numeric={0, 2, 3, 4, 5, 6, 7, 8, 9}, row_classes=classes)


def _layer_table(section: dict) -> str:
    rows = [[cell(layer["layer"]), cell(layer["op_type"]), str(layer["neurons"]),
             number(layer["normalised_criticality"]), number(layer["max_criticality"]),
             str(layer["neurons_above_tau"]), str(layer["decision_flips"]),
             "yes" if layer["flagged"] else "no"] for layer in section["layers"]]
    classes = ["flagged" if layer["flagged"] else "" for layer in section["layers"]]
    return table(["layer", "op", "neurons", "normalised criticality", "max criticality",
                  "neurons above tau", "decision flips", "flagged"], rows,
                 numeric={2, 3, 4, 5, 6}, row_classes=classes)


def class_section(section: dict, top: int) -> str:
    """One analysed class: per-layer bars, per-layer spread, top neurons, layer table."""
    label = section["class"]
    flagged = section["flagged_layers"]
    flagged_text = (f'<p><span class="flagged-text">{len(flagged)} flagged layer(s)</span>: '
                    f"{cell(', '.join(flagged))}</p>") if flagged else \
        "<p>No layer is flagged for this class.</p>"
    bars = figure("layer-criticality", f"fig-layers-{label}",
                  figures.layer_criticality_svg(section, f"l{label}"),
                  "Normalised criticality of each layer in graph order; red bars are flagged "
                  "layers (a neuron dropped the confidence by 0.5 or more, or changed the "
                  "decision, on at least one image).")
    spread = figure("neuron-spread", f"fig-spread-{label}",
                    figures.neuron_spread_svg(section, f"s{label}"),
                    "Distribution of the neurons' mean criticality within each layer: box from "
                    "the first to the third quartile, line at the median, whiskers at the "
                    "minimum and maximum; red boxes are flagged layers.")
    return (f'<section id="class-{label}" class="class-section"><h2>Class {label}</h2>'
            f"<p>{section['images']} images in the test set.</p>{flagged_text}{bars}{spread}"
            f"<h3>The {min(top, len(section['neurons']))} most critical neurons</h3>"
            f"{_top_neurons(section, top)}<h3>Layers</h3>{_layer_table(section)}</section>")


def _stability_rows(rows: list[dict]) -> str:
    def metrics(values: dict | None) -> list[str]:
        if not values:
            return ["&ndash;"] * 3
        return [number(values["accuracy"]), number(values["mean_confidence"]),
                number(values["std_confidence"])]
    body = [[str(row["row"]), cell(row["label"]), *metrics(row["clean"]),
             *metrics(row.get("adversarial"))] for row in rows]
    return table(["n", "masked", "clean accuracy", "clean mean conf.", "clean std conf.",
                  "adv. accuracy", "adv. mean conf.", "adv. std conf."], body,
                 numeric={0, 2, 3, 4, 5, 6, 7})


def _stability_data(stability: dict) -> str:
    clean, adversarial = stability["clean"], stability.get("adversarial")
    pairs = [
        ("neurons", cell(f"the {stability['top']} most critical of each class, masked alone"
                         + (" and the first n together" if stability["cumulative"] else ""))),
        ("fault model", cell(stability["fault"])),
        ("clean set", cell(f"{clean['path']} ({clean['images']} inputs)")),
        ("adversarial set", cell("not measured" if adversarial is None else
                                 f"{adversarial['path']} ({adversarial['images']} inputs, eps "
                                 f"{adversarial['eps']}, at most {adversarial['steps']} "
                                 "steps)")),
    ]
    check = stability["crosscheck"]
    pairs.append(("cross-check", cell(
        f"largest |engine - reference| {check['max_abs_deviation']:.2e} (tolerance "
        f"{check['tolerance']:g}): {'passed' if check['passed'] else 'FAILED'}")))
    return keyvalue(pairs)


def _stability_class(section: dict) -> str:
    label = section["class"]
    curves = figure("stability", f"fig-stability-{label}",
                    figures.stability_svg(section, f"st{label}"),
                    "Accuracy and true-class confidence (mean, band of one standard "
                    "deviation) when the n-th most critical neuron is masked alone (left) or "
                    "the first n together (right), on the clean and adversarial sets; n = 0 "
                    "is no masking.")
    parts = [f"<h3>Class {label}</h3>", curves, "<h4>Each neuron masked alone</h4>",
             _stability_rows(section["rows"])]
    if section.get("cumulative_rows"):
        parts += ["<h4>The first n neurons masked together</h4>",
                  _stability_rows(section["cumulative_rows"])]
    return "".join(parts)


def stability_section(report: dict) -> str:
    """Stability curves and rows per class, when the report has a stability analysis; else ''."""
    stability = report.get("stability")
    if not stability:
        return ""
    parts = ['<section id="stability"><h2>Network stability</h2>', _stability_data(stability)]
    for warning in stability.get("warnings") or []:
        parts.append(f'<p class="banner bad">Warning: {cell(warning)}</p>')
    parts += [_stability_class(section) for section in stability["classes"]]
    diagnostic = stability.get("diagnostic_neurons") or []
    parts.append("<h3>Candidates for on-line diagnosis</h3>")
    if diagnostic:
        parts.append("<p>Masking these neurons alone raised the accuracy on the adversarial "
                     "set:</p>")
        rows = [[str(item["class"]), cell(item["layer"]), str(item["index"]), str(item["rank"]),
                 number(item["adversarial_accuracy"]),
                 number(item["unmasked_adversarial_accuracy"]), number(item["clean_accuracy"])]
                for item in diagnostic]
        parts.append(table(["class", "layer", "index", "rank", "adv. accuracy masked",
                            "adv. accuracy unmasked", "clean accuracy masked"], rows,
                           numeric={0, 2, 3, 4, 5, 6}))
    elif stability.get("adversarial") is None:
        parts.append("<p>No adversarial set was measured.</p>")
    else:
        parts.append("<p>No neuron raised the accuracy on the adversarial set.</p>")
    parts.append("</section>")
    return "".join(parts)


def crosscheck_section(report: dict) -> str:
    """The engine against the reference path, per recomputed neuron."""
    check = report["crosscheck"]
    verdict = ('<p class="banner ok">passed</p>' if check["passed"]
               else '<p class="banner bad">FAILED: the engine and the reference path '
                    "disagree beyond the tolerance</p>")
    rows = [[cell(n["layer"]), str(n["index"]), cell(n["reason"]),
             f"{n['max_abs_deviation']:.2e}"] for n in check["neurons"]]
    return ('<section id="crosscheck"><h2>Cross-check by the reference path</h2>'
            f"<p>{cell(check['path'])}; compared: {cell(check['compared'])}. Largest deviation "
            f"<b>{check['max_abs_deviation']:.2e}</b> against a tolerance of "
            f"{check['tolerance']:g}.</p>{verdict}"
            + table(["layer", "index", "why chosen", "max |engine - reference|"], rows,
                    numeric={1, 3}) + "</section>")


def standards_section(report: dict) -> str:
    """The mapping of results to safety activities, with its guidance note."""
    standards = report.get("standards")
    if not standards:
        return ""
    rows = []
    for item in standards["items"]:
        evidence = "<br>".join(f"<code>{cell(e['key'])}</code>: {cell(e['summary'])}"
                               for e in item["evidence"])
        rows.append([cell(f"{item['standard']} clause {item['clause']}") + "<br>"
                     + f"<i>{cell(item['topic'])}</i>", cell(item["activity"]),
                     (f'<span class="status-{escape(item["status"])}">'
                      f"{cell(item['status'])}</span>"), evidence, cell(item["limits"])])
    return ('<section id="standards"><h2>What the evidence supports</h2>'
            f'<p class="note"><b>{cell(standards["guidance"])}</b></p>'
            + table(["standard", "activity", "status", "evidence in this report", "limits"],
                    rows) + "</section>")


def _images_table(report: dict) -> str:
    rows = [[cell(image["id"]), str(image["label"]), str(image["predicted"]),
             number(image["confidence"]), cell(image["status"]),
             cell(image["reason"]), f'<span class="hash">{image["sha256"]}</span>']
            for image in report["images"]]
    return table(["image", "label", "predicted", "confidence", "status", "reason", "sha256"],
                 rows, numeric={1, 2, 3})


def reproducibility_section(report: dict, digest_ok: bool | None) -> str:
    """Tool, runtime, digest, timings, image list with hashes and the command to verify."""
    runtime = report["runtime"]
    integrity = report.get("integrity", {})
    state = {True: "matches the content", False: "DOES NOT match the content",
             None: "absent"}[digest_ok]
    pairs = [
        ("tool", cell(f"{report['tool']['name']} {report['tool']['version']}")),
        ("schema", cell(f"{report['schema']['name']} {report['schema']['version']}")),
        ("written", cell(report["created_utc"])),
        ("runtime", cell(f"onnxruntime {runtime['onnxruntime']}, onnx {runtime['onnx']}, "
                         f"numpy {runtime['numpy']}, Python {runtime['python']}")),
        ("execution provider", cell(f"{runtime['execution_provider']} (requested "
                                    f"{', '.join(runtime['requested_providers'])})")),
        ("platform", cell(f"{runtime['platform']} ({runtime['machine']})")),
        ("report digest", (f'<span class="hash">{cell(integrity.get("digest"))}</span> '
                           f"({cell(state)})")),
        ("canonical form", cell(integrity.get("canonical_form"))),
        ("timings", cell(", ".join(f"{key} {value}" for key, value
                                   in report["timings"].items()))),
    ]
    command = (f"nca-onnx verify report.json --model {report['model']['path']} "
               f"--data {report['parameters']['data']} --sample 20")
    return ('<section id="reproducibility"><h2>Reproducibility</h2>' + keyvalue(pairs)
            + "<p>To recheck the digest, the model and image hashes and a random sample of "
            f"neurons by the reference path:</p><pre><code>{cell(command)}</code></pre>"
            f"<h3>Images ({len(report['images'])})</h3>{_images_table(report)}</section>")
