"""Whole-model cost of the three ways to measure masked confidences on EfficientNet-Lite0.

Per neuron, (a) the reference path builds a session with the filter zeroed and runs
the whole network; (b) a full forward pass with the fault injected through an input
of one prepared session, all images in one batch, as activation-patching tools do;
(c) the engine runs only the graph after the cut, K neurons per run. Each path is
timed on the first neurons of every layer in one run, and the whole-model time is
projected from the layer widths (per-layer set-up counted once per layer). The engine
is timed on one work unit per layer (64 neurons, as an analysis runs it), the reference
on 2 neurons and the patched full pass on the first --sample neurons.

Run by hand:  python benchmarks/bench_engine.py [--images 16] [--sample 8]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import onnx

from nca_onnx.analysis.checkpoint import DEFAULT_UNIT_NEURONS
from nca_onnx.data.dataset import load_dataset
from nca_onnx.data.preprocess import PRESETS
from nca_onnx.engine.confidences import split_confidences
from nca_onnx.engine.cut_engine import CutEngine
from nca_onnx.engine.reference import ReferenceEvaluator
from nca_onnx.engine.session import make_session
from nca_onnx.graph.fault import KEEP_INPUT, fault_injection_nodes
from nca_onnx.graph.load import LoadedModel, load_model
from nca_onnx.graph.neurons import Layer, fault_values, find_layers
from nca_onnx.graph.probability import PROBABILITIES, with_probabilities

REPO = Path(__file__).resolve().parents[1]
MODEL = REPO / "models" / "efficientnet_lite0.onnx"
IMAGES = REPO / "models" / "demo_images"
CPU = ["CPUExecutionProvider"]
FAULT = "zero-weights"
# The engine is timed on one work unit per layer, the way an analysis runs it.
UNIT_NEURONS = DEFAULT_UNIT_NEURONS


def _photos(model: LoadedModel, count: int) -> tuple[np.ndarray, np.ndarray]:
    """The bundled photos and their mirror images, labelled with the model's prediction."""
    dataset = load_dataset(IMAGES, [967, 872], PRESETS["efficientnet-lite"], "NCHW",
                           model.input_shape)
    inputs = np.concatenate([dataset.inputs, dataset.inputs[..., ::-1]])
    inputs = np.ascontiguousarray(np.resize(inputs, (count, *inputs.shape[1:])))
    session = make_session(with_probabilities(model.proto, model.output_name, False), CPU)
    labels = session.run([PROBABILITIES], {model.input_name: inputs})[0].argmax(axis=1)
    return inputs, labels


def _patched_model(model: LoadedModel, layer: Layer) -> onnx.ModelProto:
    """The whole model with the layer's output routed through a fault-selection input."""
    proto = with_probabilities(model.proto, model.output_name, model.output_is_probability)
    raw = f"{layer.output}__raw"
    for node in proto.graph.node:
        for index, name in enumerate(node.output):
            if name == layer.output:
                node.output[index] = raw
    nodes, inits = fault_injection_nodes(raw, layer.output, fault_values(model.proto, layer,
                                                                         FAULT),
                                         layer.channel_axis, layer.output_rank,
                                         onnx.TensorProto.FLOAT, model.opset)
    position = next(i for i, n in enumerate(proto.graph.node) if raw in n.output) + 1
    for offset, node in enumerate(nodes):
        proto.graph.node.insert(position + offset, node)
    proto.graph.initializer.extend(inits)
    proto.graph.input.append(onnx.helper.make_tensor_value_info(
        KEEP_INPUT, onnx.TensorProto.FLOAT, [1, layer.neurons]))
    return proto


def _time_reference(model, layer, neurons, inputs, labels):
    reference = ReferenceEvaluator(model, FAULT, CPU, inputs, labels)
    started = time.perf_counter()
    result = reference.evaluate(layer, neurons)
    return 0.0, (time.perf_counter() - started) / len(neurons), result


def _time_patched(model, layer, neurons, inputs, labels):
    started = time.perf_counter()
    session = make_session(_patched_model(model, layer), CPU)
    setup_s = time.perf_counter() - started
    rows = []
    started = time.perf_counter()
    for neuron in neurons:
        keep = np.ones((1, layer.neurons), dtype=np.float32)
        keep[0, neuron] = 0
        probabilities = session.run([PROBABILITIES], {model.input_name: inputs,
                                                       KEEP_INPUT: keep})[0]
        rows.append(split_confidences(probabilities, labels)[0])
    return setup_s, (time.perf_counter() - started) / len(neurons), np.stack(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=16)
    parser.add_argument("--sample", type=int, default=8,
                        help="neurons per layer timed by the full-pass path")
    parser.add_argument("--per-layer", action="store_true", help="print each layer's costs")
    args = parser.parse_args()

    model = load_model(MODEL)
    layers = find_layers(model.proto)
    inputs, labels = _photos(model, args.images)
    engine = CutEngine(model, FAULT, CPU, inputs, labels, layers)
    totals = {"reference": 0.0, "patched": 0.0, "engine": 0.0}
    engine_wall_s = engine_run_s = engine_session_s = 0.0
    deviation = 0.0
    print(f"{MODEL.name}: {len(layers)} layers, {sum(layer.neurons for layer in layers)} neurons, "
          f"{args.images} images")

    for layer in layers:
        neurons = list(range(min(args.sample, layer.neurons)))
        _, reference_s, expected = _time_reference(model, layer, neurons[:2], inputs, labels)
        patched_setup_s, patched_s, patched = _time_patched(model, layer, neurons, inputs,
                                                             labels)
        unit = list(range(min(UNIT_NEURONS, layer.neurons)))
        before = (engine.counters.setup_s, engine.counters.runtime_s, engine.counters.session_s)
        started = time.perf_counter()
        measured = engine.evaluate(layer, unit)
        wall_s = time.perf_counter() - started
        engine_setup_s = engine.counters.setup_s - before[0]
        engine_s = (wall_s - engine_setup_s) / len(unit)
        engine_wall_s += wall_s
        engine_run_s += engine.counters.runtime_s - before[1]
        engine_session_s += engine.counters.session_s - before[2]

        deviation = max(deviation,
                        float(np.abs(measured.true_class[:len(neurons)] - patched).max()),
                        float(np.abs(measured.true_class[:2] - expected.true_class).max()))
        totals["reference"] += layer.neurons * reference_s
        totals["patched"] += patched_setup_s + layer.neurons * patched_s
        totals["engine"] += engine_setup_s + layer.neurons * engine_s
        if args.per_layer:
            print(f"  {layer.name:<36}{layer.neurons:>6} neurons  full pass "
                  f"{patched_s * 1e3:7.1f} ms  engine {engine_s * 1e3:7.1f} ms per neuron  "
                  f"K={engine.planned_neurons_per_run}")

    neurons_total = sum(layer.neurons for layer in layers)
    evaluations = neurons_total * args.images
    print(f"{'path':<36}{'projected s':>12}{'evals/s':>12}{'engine gain':>13}")
    for key, label in (("reference", "(a) reference: session + full pass"),
                       ("patched", "(b) full pass, fault injected"),
                       ("engine", "(c) engine: cut, K neurons per run")):
        print(f"{label:<36}{totals[key]:>12.1f}{evaluations / totals[key]:>12.0f}"
              f"{totals[key] / totals['engine']:>12.2f}x")
    print(f"engine over the sampled units: wall {engine_wall_s:.2f} s, onnxruntime running "
          f"its graphs {engine_run_s:.2f} s, building sessions {engine_session_s:.2f} s")
    print(f"  wall / graph runs = {engine_wall_s / engine_run_s:.3f}; wall / (graph runs + "
          f"session builds) = {engine_wall_s / (engine_run_s + engine_session_s):.3f}")
    print(f"largest |engine - other paths| on the sampled confidences: {deviation:.1e}")


if __name__ == "__main__":
    main()
