"""Fixtures of the service tests: small real inputs, a CLI baseline and a shared server."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

# Imported from the root conftest (tests/ is on sys.path).
from conftest import DEMO_IMAGES, EFFICIENTNET, PPOCR_CLS

from .server_process import ServerProcess, free_port, new_token, write_config

# The efficientnet analysis the end-to-end and restart tests compare with the CLI:
# 20 work units of about 0.2 s each on two cores.
HEAD_ARGS = ("--class", "967", "--preset", "efficientnet-lite", "--layers", "/_conv_head/Conv",
             "--crosscheck", "1")
# A tiny ppocr analysis (under a second) for load and bad-input tests.
PPOCR_CLASS = 0
PPOCR_LAYERS = ("MatMul@0", "Conv@51")


def head_parameters():
    from nca_onnx.service._proto import nca_pb2

    return nca_pb2.AnalysisParameters(classes=[967], preset="efficientnet-lite",
                                      layers=["/_conv_head/Conv"], crosscheck_neurons=1)


def ppocr_parameters():
    from nca_onnx.service._proto import nca_pb2

    return nca_pb2.AnalysisParameters(classes=[PPOCR_CLASS], min_confidence=0.0,
                                      layers=list(PPOCR_LAYERS), crosscheck_neurons=1)


def normalised(report: dict) -> dict:
    """A report without what differs between two runs of the same analysis.

    `created_utc` and `timings` change on every run, and the integrity digest covers
    them. Paths need no normalising: the service names the model and data as the
    client gave them (model_label, data_label).
    """
    return {key: value for key, value in report.items()
            if key not in ("created_utc", "timings", "integrity")}


@pytest.fixture(scope="session")
def ppocr_npz(tmp_path_factory):
    """Six random inputs for the ppocr classifier, labelled with its own predictions."""
    import onnxruntime as ort

    inputs = np.random.default_rng(7).uniform(-1, 1, (6, 3, 48, 192)).astype(np.float32)
    session = ort.InferenceSession(str(PPOCR_CLS), providers=["CPUExecutionProvider"])
    labels = session.run(None, {session.get_inputs()[0].name: inputs})[0].argmax(axis=1)
    if not (labels == PPOCR_CLASS).any():
        labels[0] = PPOCR_CLASS
    path = tmp_path_factory.mktemp("ppocr") / "lines.npz"
    np.savez(path, inputs=inputs, labels=labels)
    return path


@pytest.fixture(scope="session")
def cli_head_report(tmp_path_factory):
    """report.json and the tables of `nca-onnx analyze` for HEAD_ARGS, run as a user does."""
    out = tmp_path_factory.mktemp("cli_head")
    done = subprocess.run([sys.executable, "-m", "nca_onnx", "analyze", str(EFFICIENTNET),
                           "--data", str(DEMO_IMAGES), *HEAD_ARGS, "--out", str(out), "-q"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads((out / "report.json").read_text()), out


def make_data_root(folder, ppocr_npz):
    """A data root with real data sets, plus links that try to leave it."""
    import shutil

    root = folder / "root"
    sets = root / "sets"
    shutil.copytree(DEMO_IMAGES, sets / "photos")
    shutil.copyfile(ppocr_npz, sets / "lines.npz")
    (sets / "escape").symlink_to(DEMO_IMAGES, target_is_directory=True)
    shutil.copytree(DEMO_IMAGES, sets / "mixed")
    (sets / "mixed" / "967" / "outside.jpg").symlink_to(DEMO_IMAGES / "872" / "camera.jpg")
    return root


@pytest.fixture(scope="module")
def server(tmp_path_factory, ppocr_npz):
    """A server shared by a module's tests: tokens, a data root, small limits, 2 workers."""
    folder = tmp_path_factory.mktemp("server")
    token = new_token()
    (folder / "tokens").write_text(f"# test tokens\n{token}\n")
    port = free_port()
    config = write_config(
        folder / "server.toml", folder / "state", port, token_file=folder / "tokens",
        data_roots={"main": make_data_root(folder, ppocr_npz)}, workers=2,
        max_queued_jobs=40, rpc_threads=48,
        limits={"max_model_bytes": 20_000_000, "max_dataset_bytes": 2_000_000,
                "max_extracted_bytes": 4_000_000, "max_message_bytes": 2_000_000})
    process = ServerProcess(config, port, folder / "server.log", token)
    process.token_file = folder / "tokens"
    try:
        yield process.start()
    finally:
        process.kill()
